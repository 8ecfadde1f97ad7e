//! What the audit log and the analytics outbox hold, as read back.

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

/// The analytics event of a person viewing a run's page (the seed's `run_viewed_shared_link`).
/// Not a transition: it has no audit row, and it is written with the *viewer's* consent (the
/// page's consent banner), whatever the run's own `analytics_consent` — once per run per
/// browser session.
pub const RUN_VIEWED: &str = "run_viewed_shared_link";

/// One audit row: of a run's timeline, or of a credential change.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditEntry {
    pub id: Uuid,
    /// The run's owner; for a credential change, the credential's owner.
    pub actor_user_id: Uuid,
    /// `run.requested`, `run.started`, …; `token.revoked`, `user.disabled`, …
    pub action: String,
    /// `run`, `token`, `session` or `user`.
    pub resource_type: String,
    pub resource_id: Uuid,
    pub metadata: Value,
    pub created_at: DateTime<Utc>,
}

/// One analytics event in the outbox.
#[derive(Clone, Debug, PartialEq)]
pub struct OutboxEvent {
    /// Deterministic per (run, event), or per (run, browser session) for [`RUN_VIEWED`].
    pub id: Uuid,
    pub run_id: Uuid,
    pub event: String,
    pub distinct_id: String,
    pub properties: Value,
    pub created_at: DateTime<Utc>,
    pub attempts: i32,
    pub delivered_at: Option<DateTime<Utc>>,
    /// Set when the sink refused the event for good.
    pub parked_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}
