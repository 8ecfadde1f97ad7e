//! What a transition records besides the run row: its audit row (always) and its analytics
//! outbox row (only when the run's `analytics_consent` is `true`); the one event that is not a
//! transition, a consenting browser session viewing a run's page; and the audit row of a
//! credential change ([`credential_audit`]).
//!
//! Audit metadata carries the transition's context (framework, backend, the error's class and
//! stage, who caused it: the table of docs/DESIGN.md §2); a failure's message is stored once,
//! on the run row (`runs.error_message`), which the audit row's `resource_id` refers to. Event
//! properties carry what docs/DESIGN.md §7 lists per event.
//! Neither ever holds a token, an IP address or client telemetry.

use chrono::{DateTime, SecondsFormat, Utc};
use sea_orm::sea_query::sea_value_to_json_value;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ConnectionTrait, DatabaseTransaction, DbBackend,
    EntityName, EntityTrait, IdenStatic, Iterable, Statement,
};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::Result;
use super::lifecycle::{Canceller, Change, FailCause};
use crate::domain::{Action, ChangedBy, CredentialChange, RUN_VIEWED, Run, RunStatus};

/// Namespace of the outbox's deterministic event ids: uuid v5 of `"{run_id}/{event}"`.
const OUTBOX_NAMESPACE: Uuid = Uuid::from_u128(0x5d3c_7f0e_9a41_4b8e_8f62_1c0d_2e4a_7b91);

/// The deterministic id of a run's analytics `event` ([`Action::event`]): the same (run,
/// event) always has the same id, so a receiver can deduplicate redeliveries — and a run
/// started again after a hand-back has one `run_started` event.
pub fn event_id(run_id: Uuid, event: &str) -> Uuid {
    Uuid::new_v5(&OUTBOX_NAMESPACE, format!("{run_id}/{event}").as_bytes())
}

/// The deterministic id of the view event of `run_id` in one browser `session`: uuid v5 of
/// `"{run_id}/run_viewed_shared_link/{session}"`, so a session's repeated views are one row.
pub fn view_event_id(run_id: Uuid, session: Uuid) -> Uuid {
    Uuid::new_v5(
        &OUTBOX_NAMESPACE,
        format!("{run_id}/{RUN_VIEWED}/{session}").as_bytes(),
    )
}

/// The outbox row of a browser `session` viewing `run`'s page ([`RUN_VIEWED`]). Its
/// `distinct_id` is the signed-in viewer's id, else the session's (a random id that names
/// nobody); its properties are the run's, as its lifecycle events carry them, with the status
/// it was seen in.
pub(super) fn view_event(
    run: &Run,
    session: Uuid,
    viewer: Option<Uuid>,
    now: DateTime<Utc>,
) -> entity::analytics_outbox::ActiveModel {
    let mut properties = Map::new();
    properties.insert("run_id".into(), json!(run.id));
    properties.insert("circuit_id".into(), json!(run.spec.circuit_id));
    properties.insert("framework".into(), json!(run.spec.framework));
    properties.insert("backend_class".into(), json!(run.spec.backend_type));
    properties.insert("backend_name".into(), json!(run.spec.backend_name));
    properties.insert("run_status".into(), json!(run.status.as_str()));
    properties.insert("signed_in".into(), json!(viewer.is_some()));
    entity::analytics_outbox::ActiveModel {
        id: Set(view_event_id(run.id, session)),
        run_id: Set(run.id),
        event: Set(RUN_VIEWED.to_owned()),
        distinct_id: Set(viewer.unwrap_or(session).to_string()),
        properties: Set(Value::Object(properties)),
        created_at: Set(now),
        attempts: Set(0),
        next_attempt_at: Set(now),
        delivered_at: Set(None),
        last_error: Set(None),
        parked_at: Set(None),
    }
}

/// The audit row of a credential change (docs/DESIGN.md §2): `change` on the token, session or
/// user `resource_id`, whose owner is `owner`, made by `by`. Its metadata is `{"by"}` and
/// `details` (a token's `name`, a session's `token_id` and `expires_at`): never a secret, a hash,
/// an IP address or anything else about the client.
pub(super) fn credential_audit(
    change: CredentialChange,
    resource_id: Uuid,
    owner: Uuid,
    by: ChangedBy,
    details: Map<String, Value>,
    now: DateTime<Utc>,
) -> entity::audit_logs::ActiveModel {
    let mut metadata = details;
    metadata.insert("by".into(), json!(by.as_str()));
    entity::audit_logs::ActiveModel {
        id: Set(Uuid::now_v7()),
        actor_user_id: Set(owner),
        action: Set(change.audit_action().to_owned()),
        resource_type: Set(change.resource_type().to_owned()),
        resource_id: Set(resource_id),
        metadata: Set(Value::Object(metadata)),
        created_at: Set(now),
    }
}

/// The audit rows and outbox rows of a transaction's commands, collected as the commands are
/// applied and inserted together — a few multi-row statements instead of two per command —
/// before the transaction commits, so each transition still commits with its rows.
#[derive(Default)]
pub(super) struct Records {
    audit: Vec<entity::audit_logs::ActiveModel>,
    outbox: Vec<entity::analytics_outbox::ActiveModel>,
}

/// The row counts of SQLite's multi-row INSERTs, largest first: n rows are inserted as the
/// fewest statements of these sizes. Few sizes keep few distinct statements, each prepared once
/// per connection (a statement per row count would be prepared again for almost every batch).
/// Measured end to end on PostgreSQL before it got [`insert_set`] (BENCHMARKS.md): one row per
/// statement 700 runs/s; up to 64 rows ~1,400; up to 256 rows no better.
const ROWS_PER_INSERT: [usize; 4] = [64, 16, 4, 1];

impl Records {
    /// The audit row and, with consent, the outbox row of `action` on `run`. `change` is the
    /// transition's own data; creation and claims (`Requested`, `Started`) have none.
    pub(super) fn add(
        &mut self,
        run: &Run,
        action: Action,
        from: Option<RunStatus>,
        change: Option<&Change>,
        now: DateTime<Utc>,
    ) {
        self.audit.push(entity::audit_logs::ActiveModel {
            id: Set(Uuid::now_v7()),
            actor_user_id: Set(run.user_id),
            action: Set(action.audit_action().to_owned()),
            resource_type: Set("run".to_owned()),
            resource_id: Set(run.id),
            metadata: Set(audit_metadata(run, from, change)),
            created_at: Set(now),
        });
        if let Some(event) = action.event()
            && run.consented()
        {
            self.outbox.push(entity::analytics_outbox::ActiveModel {
                id: Set(event_id(run.id, event)),
                run_id: Set(run.id),
                event: Set(event.to_owned()),
                distinct_id: Set(run.user_id.to_string()),
                properties: Set(event_properties(run, action, from)),
                created_at: Set(now),
                attempts: Set(0),
                next_attempt_at: Set(now),
                delivered_at: Set(None),
                last_error: Set(None),
                parked_at: Set(None),
            });
        }
    }

    /// The rows of `run`'s creation; its audit row carries the submission's `traceparent` and
    /// `trace_id` when there is one.
    pub(super) fn add_requested(
        &mut self,
        run: &Run,
        traceparent: Option<&str>,
        now: DateTime<Utc>,
    ) {
        self.add(run, Action::Requested, None, None, now);
        if let Some(traceparent) = traceparent
            && let Some(row) = self.audit.last_mut()
            && let sea_orm::ActiveValue::Set(Value::Object(metadata)) = &mut row.metadata
        {
            // 00-TRACE_ID-SPAN_ID-FLAGS (W3C Trace Context).
            if let Some(trace_id) = traceparent.split('-').nth(1) {
                metadata.insert("trace_id".into(), json!(trace_id));
            }
            metadata.insert("traceparent".into(), json!(traceparent));
        }
    }

    /// Inserts the rows collected (after the run rows they refer to). An outbox row whose
    /// event is already there is that event (its id is the run's and the event's), kept once:
    /// a run claimed again after a hand-back starts again, and its `run_started` stays one
    /// event.
    pub(super) async fn insert(self, txn: &DatabaseTransaction) -> Result<()> {
        insert_all(txn, self.audit).await?;
        insert_new(txn, self.outbox).await
    }
}

/// Inserts `rows`: on PostgreSQL as one statement ([`insert_set`]), on SQLite in statements
/// of the sizes [`ROWS_PER_INSERT`] allows.
pub(super) async fn insert_all<A>(txn: &DatabaseTransaction, rows: Vec<A>) -> Result<()>
where
    A: ActiveModelTrait + Send,
{
    insert_rows(txn, rows, false).await
}

/// As [`insert_all`], skipping the rows whose primary key is already there (`ON CONFLICT DO
/// NOTHING`).
async fn insert_new<A>(txn: &DatabaseTransaction, rows: Vec<A>) -> Result<()>
where
    A: ActiveModelTrait + Send,
{
    insert_rows(txn, rows, true).await
}

async fn insert_rows<A>(txn: &DatabaseTransaction, rows: Vec<A>, skip_existing: bool) -> Result<()>
where
    A: ActiveModelTrait + Send,
{
    if rows.is_empty() {
        return Ok(());
    }
    if txn.get_database_backend() == DbBackend::Postgres {
        return insert_set(txn, &rows, skip_existing).await;
    }
    let mut rows = rows.into_iter();
    for size in ROWS_PER_INSERT {
        while rows.len() >= size {
            let chunk: Vec<A> = rows.by_ref().take(size).collect();
            let insert = A::Entity::insert_many(chunk);
            if skip_existing {
                insert
                    .on_conflict_do_nothing()
                    .exec_without_returning(txn)
                    .await?;
            } else {
                insert.exec_without_returning(txn).await?;
            }
        }
    }
    Ok(())
}

/// Inserts `rows` into their table as one statement whose text is the same for any number of
/// rows, so each connection prepares it once (PostgreSQL):
///
/// ```sql
/// INSERT INTO audit_logs SELECT * FROM jsonb_populate_recordset(NULL::audit_logs, $1)
/// ```
///
/// `$1` is a JSON array of objects keyed by column name; PostgreSQL converts each value to its
/// column's type (a timestamp is written with microseconds, PostgreSQL's precision, truncated
/// as a bound timestamp is). A column not set is NULL.
async fn insert_set<A>(txn: &DatabaseTransaction, rows: &[A], skip_existing: bool) -> Result<()>
where
    A: ActiveModelTrait,
{
    let table = A::Entity::default().table_name().to_owned();
    let rows: Vec<Value> = rows
        .iter()
        .map(|row| {
            let mut object = Map::new();
            for column in <A::Entity as EntityTrait>::Column::iter() {
                if let Some(value) = row.get(column).into_value() {
                    object.insert(column.as_str().to_owned(), json_of(&value));
                }
            }
            Value::Object(object)
        })
        .collect();
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        format!(
            "INSERT INTO {table} SELECT * FROM jsonb_populate_recordset(NULL::{table}, $1){}",
            if skip_existing {
                " ON CONFLICT DO NOTHING"
            } else {
                ""
            }
        ),
        [Value::Array(rows).into()],
    ))
    .await?;
    Ok(())
}

/// A column value as PostgreSQL's JSON input of it.
fn json_of(value: &sea_orm::Value) -> Value {
    match value {
        sea_orm::Value::ChronoDateTimeUtc(Some(at)) => {
            Value::String(at.to_rfc3339_opts(SecondsFormat::Micros, true))
        }
        other => sea_value_to_json_value(other),
    }
}

fn audit_metadata(run: &Run, from: Option<RunStatus>, change: Option<&Change>) -> Value {
    let mut m = Map::new();
    m.insert("framework".into(), json!(run.spec.framework));
    m.insert("backend_type".into(), json!(run.spec.backend_type));
    m.insert("backend_name".into(), json!(run.spec.backend_name));
    m.insert("from".into(), json!(from.map(RunStatus::as_str)));
    m.insert("to".into(), json!(run.status.as_str()));
    match change {
        None if run.status == RunStatus::Running => {
            m.insert("node".into(), json!(run.claimed_by));
            m.insert("lease_expires_at".into(), json!(run.lease_expires_at));
            m.insert("by".into(), json!("executor"));
        }
        None => {
            m.insert("shots".into(), json!(run.spec.shots));
            m.insert("circuit_version".into(), json!(run.spec.circuit_version));
            m.insert("parameters".into(), json!(run.spec.parameters));
            m.insert("seed".into(), json!(run.spec.seed));
            m.insert("by".into(), json!("user"));
        }
        Some(Change::Complete { results, .. }) => {
            m.insert("shots".into(), json!(results.shots));
            m.insert("execution_time".into(), json!(results.execution_time));
            m.insert("unique_states".into(), json!(results.unique_states));
            m.insert("by".into(), json!("executor"));
        }
        Some(Change::Fail { failure, cause }) => {
            m.insert("error_class".into(), json!(failure.class.as_str()));
            m.insert("stage".into(), json!(failure.stage.as_str()));
            m.insert("by".into(), json!(cause.as_str()));
            if let FailCause::Watchdog { started_before, .. } = cause {
                let reason = match run.started_at {
                    Some(started) if started < *started_before => "running_ttl_exceeded",
                    _ => "lease_expired",
                };
                m.insert("reason".into(), json!(reason));
                m.insert("node".into(), json!(run.claimed_by));
            }
        }
        Some(Change::Cancel { by }) => {
            m.insert("by".into(), json!(by.as_str()));
            match by {
                Canceller::User(user) => {
                    m.insert("cancelled_by".into(), json!(user));
                }
                Canceller::OperatorWithReason { operator, reason } => {
                    if let Some(operator) = operator {
                        m.insert("cancelled_by".into(), json!(operator));
                    }
                    m.insert("reason".into(), json!(reason));
                }
                Canceller::Operator => {}
            }
        }
        Some(Change::HandBack { node }) => {
            m.insert("by".into(), json!("executor"));
            m.insert("node".into(), json!(node));
            m.insert("reason".into(), json!("shutdown"));
        }
    }
    Value::Object(m)
}

fn event_properties(run: &Run, action: Action, from: Option<RunStatus>) -> Value {
    let mut p = Map::new();
    p.insert("run_id".into(), json!(run.id));
    p.insert("circuit_id".into(), json!(run.spec.circuit_id));
    p.insert("framework".into(), json!(run.spec.framework));
    p.insert("backend_class".into(), json!(run.spec.backend_type));
    p.insert("backend_name".into(), json!(run.spec.backend_name));
    match action {
        Action::Requested | Action::Started => {
            p.insert("shots".into(), json!(run.spec.shots));
        }
        Action::Completed => {
            if let Some(results) = &run.results {
                p.insert("execution_time".into(), json!(results.execution_time));
                p.insert("shots".into(), json!(results.shots));
                p.insert("unique_states".into(), json!(results.unique_states));
            }
        }
        Action::Failed => {
            p.insert(
                "error_class".into(),
                json!(run.error_class.map(|c| c.as_str())),
            );
            p.insert("stage".into(), json!(run.error_stage.map(|s| s.as_str())));
        }
        Action::Cancelled => {
            p.insert("from".into(), json!(from.map(RunStatus::as_str)));
        }
        // No event (`Action::event`).
        Action::HandedBack => {}
    }
    Value::Object(p)
}
