//! `analytics_outbox`: consented analytics events waiting for (or done with) delivery.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "analytics_outbox")]
pub struct Model {
    /// Deterministic per (run, event): receivers deduplicate on it.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub run_id: Uuid,
    pub event: String,
    pub distinct_id: String,
    pub properties: Json,
    pub created_at: DateTimeUtc,
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    pub delivered_at: Option<DateTimeUtc>,
    pub last_error: Option<String>,
    /// Set when the sink rejected the event for good (a 4xx): kept for inspection, not retried.
    pub parked_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
