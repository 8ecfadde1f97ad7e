//! `circuit_versions`: immutable source of one version of a circuit.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "circuit_versions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub circuit_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub version: i32,
    pub source: String,
    /// `{"framework": "qiskit", "format": "openqasm2"}`
    pub manifest: Json,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
