//! `run_memory`: a completed run's shots, every shot's count key (`key_width` characters)
//! concatenated in shot order.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "run_memory")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub run_id: Uuid,
    pub key_width: i32,
    pub shots: i64,
    #[sea_orm(column_type = "Text")]
    pub memory: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
