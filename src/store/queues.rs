//! Each user's queue, and the fair-share claim (docs/DESIGN.md §10).
//!
//! `user_queues` keeps, per user, how many of their runs are pending and how many running. The
//! lifecycle's writer ([`super::lifecycle`]) changes the counts in the transaction of every
//! status change ([`count`]); `qrun verify` checks them against the runs. A claim reads them
//! instead of the runs: it picks among the users with work waiting (one row each), not among
//! every pending run.
//!
//! # The claim
//!
//! A claim of `n` runs gives each to the user with the fewest runs executing for their weight,
//! oldest run first within a user, ties to the user served longest ago — so while two users
//! have work waiting, neither waits behind the other's burst. One statement
//! ([`claim_statement`]), the same text for any `n`:
//!
//! 1. `queues`: the users with runs pending and fewer than `max_running_per_user` running,
//!    fewest running per weight first, at most `n` of them — locked `FOR UPDATE SKIP LOCKED`
//!    on PostgreSQL. A locked row is read as last committed (PostgreSQL re-reads a row it
//!    locks), and no other claim can take it until this transaction ends: the cap is enforced
//!    by the claim itself, across nodes, never by a count read beforehand.
//! 2. `heads`: each chosen user's oldest pending runs (at most `n` each, through
//!    `runs_user_pending_idx`), numbered within the user.
//! 3. `chosen`: the `n` heads whose user would have the fewest running per weight once they
//!    start (`(running + place - 1) / weight`), within the cap; ties to the user served longest
//!    ago (`last_claimed_at`, never first), then by `user_id`.
//! 4. The update: those runs, still pending, start.
//!
//! The counts then move in the same transaction, `last_claimed_at` with them. Rows of
//! `user_queues` are only ever waited for in `user_id` order ([`count`] sorts), and a claim
//! never waits for one (it skips locked rows), so batches on different nodes cannot deadlock on
//! them.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use entity::user_queues::{self, Column};
use entity::{runs, users};
use sea_orm::sea_query::{Alias, Condition, Expr, OnConflict, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait, JoinType,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Statement, Value,
};
use uuid::Uuid;

use super::convert::status_to_db;
use super::lifecycle::{Applied, ClaimOrder};
use super::{Result, Store};
use crate::config::SchedulingConfig;
use crate::domain::{QueueStanding, Run, RunStatus};

/// The claim, written once: `{…}` are the parts each database (and a configuration with or
/// without weights) spells its own way, `$N` the parameters (`?N` on SQLite): 1 now, 2 the
/// limit, 3 the cap, 4 the node, 5 the lease's end, and with weights 6 the weights (a JSON
/// object of handle → weight).
const CLAIM: &str = "\
WITH queues AS MATERIALIZED ({queues}),
heads AS MATERIALIZED (
  SELECT r.id, q.user_id, q.running, q.weight, q.last_claimed_at,
         ROW_NUMBER() OVER (PARTITION BY q.user_id ORDER BY r.created_at, r.id) AS place
  FROM queues q {heads}),
chosen AS MATERIALIZED (
  SELECT id FROM heads WHERE running + place <= $3
  ORDER BY (running + place - 1) / weight, last_claimed_at NULLS FIRST, user_id, place
  LIMIT $2)
UPDATE runs SET status = 'running', started_at = $1, claimed_by = $4, lease_expires_at = $5
WHERE status = 'pending' AND created_at < $1 AND {chosen}
RETURNING *";

/// The users with work waiting, fewest running first, without weights: the head of
/// `user_queues_waiting_idx`, read in its order.
const QUEUES: &str = "\
  SELECT q.user_id, q.running, q.last_claimed_at, 1.0 AS weight FROM user_queues q
  WHERE q.pending > 0 AND q.running < $3
  ORDER BY q.running, q.last_claimed_at NULLS FIRST, q.user_id
  LIMIT $2 {lock_queues}";

/// The same with weights: every waiting user's running count divided by their weight, sorted
/// (one row per user with work waiting).
const WEIGHTED_QUEUES: &str = "\
  SELECT q.user_id, q.running, q.last_claimed_at,
         COALESCE(CAST(w.value AS DOUBLE PRECISION), 1.0) AS weight
  FROM user_queues q
  JOIN users u ON u.id = q.user_id
  LEFT JOIN {weights} w ON w.key = u.handle
  WHERE q.pending > 0 AND q.running < $3
  ORDER BY CAST(q.running AS DOUBLE PRECISION) / COALESCE(CAST(w.value AS DOUBLE PRECISION), 1.0),
           q.last_claimed_at NULLS FIRST, q.user_id
  LIMIT $2 {lock_queues}";

/// A user's pending runs oldest first, claimable at `$1` (the `heads` of one queue), after
/// the columns selected. Time moves forward: a run is claimable after its creation and, if
/// it was handed back, after its hand-back (its `lease_expires_at`, docs/DESIGN.md §4).
const HEAD: &str = "FROM runs \
    WHERE user_id = q.user_id AND status = 'pending' AND created_at < $1 \
    AND (lease_expires_at IS NULL OR lease_expires_at < $1) \
    ORDER BY created_at LIMIT $2";

/// The claim's statement for `backend` (see the module's documentation).
///
/// PostgreSQL takes each queue's head with `LATERAL` (its pending runs locked `FOR UPDATE SKIP
/// LOCKED`) and updates the chosen runs through the primary key, as one array (`= ANY(ARRAY(…))`:
/// joined or as `IN (…)`, the generic plan of the prepared statement may scan `runs`). SQLite
/// has no `LATERAL`, no row locks and no arrays, and needs none: its one writer serialises
/// claims, and a correlated `IN (…)` takes each head through the same index.
pub(super) fn claim_statement(
    backend: DbBackend,
    order: &ClaimOrder,
    scheduling: &SchedulingConfig,
    now: DateTime<Utc>,
) -> Statement {
    let head = HEAD;
    let weighted = !scheduling.weights.is_empty();
    let queues = if weighted { WEIGHTED_QUEUES } else { QUEUES };
    let sql = CLAIM.replace("{queues}", queues);
    let sql = if backend == DbBackend::Postgres {
        sql.replace("{weights}", "jsonb_each_text(CAST($6 AS jsonb))")
            .replace("{lock_queues}", "FOR UPDATE OF q SKIP LOCKED")
            .replace(
                "{heads}",
                &format!(
                    "CROSS JOIN LATERAL (SELECT id, created_at {head} FOR UPDATE SKIP LOCKED) r"
                ),
            )
            .replace("{chosen}", "id = ANY(ARRAY(SELECT id FROM chosen))")
    } else {
        sql.replace("{weights}", "json_each($6)")
            .replace("{lock_queues}", "")
            .replace(
                "{heads}",
                &format!("JOIN runs r ON r.id IN (SELECT id {head})"),
            )
            .replace("{chosen}", "id IN (SELECT id FROM chosen)")
            .replace('$', "?")
    };
    let cap = scheduling
        .max_running_per_user()
        .map_or(i64::MAX, |cap| i64::try_from(cap).unwrap_or(i64::MAX));
    let mut values: Vec<Value> = vec![
        now.into(),
        i64::try_from(order.limit).unwrap_or(i64::MAX).into(),
        cap.into(),
        order.node.clone().into(),
        (now + order.lease).into(),
    ];
    if weighted {
        let weights = serde_json::to_string(&scheduling.weights).expect("a map of numbers");
        values.push(weights.into());
    }
    Statement::from_sql_and_values(backend, sql, values)
}

/// How one user's queue moves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Moves {
    pending: i64,
    running: i64,
}

/// Moves the queues' counts by what `applied` did (a creation adds a pending run; a
/// transition takes the run from its old status's count to its new one's), in `txn`; with
/// `claimed_at`, the users that got a run were served then. One upsert, its rows in `user_id`
/// order (the order every transaction waits for them in).
pub(super) async fn count<'a>(
    txn: &DatabaseTransaction,
    applied: impl IntoIterator<Item = &'a Applied>,
    claimed_at: Option<DateTime<Utc>>,
) -> Result<()> {
    let mut moves = BTreeMap::<Uuid, Moves>::new();
    let mut tally = |user: Uuid, status: RunStatus, by: i64| {
        let entry = moves.entry(user).or_default();
        match status {
            RunStatus::Pending => entry.pending += by,
            RunStatus::Running => entry.running += by,
            RunStatus::Completed | RunStatus::Failed | RunStatus::Cancelled => {}
        }
    };
    for applied in applied {
        let user = applied.run.user_id;
        match applied.from {
            Some(from) => tally(user, from, -1),
            None if applied.created => {}
            None => continue, // an idempotent replay: nothing changed
        }
        tally(user, applied.run.status, 1);
    }
    moves.retain(|_, m| *m != Moves::default());
    if moves.is_empty() {
        return Ok(());
    }
    let mut upsert = Query::insert();
    upsert.into_table(user_queues::Entity).columns([
        Column::UserId,
        Column::Pending,
        Column::Running,
        Column::LastClaimedAt,
    ]);
    for (user, m) in &moves {
        let served = claimed_at.filter(|_| m.running > 0);
        upsert.values_panic([
            (*user).into(),
            m.pending.into(),
            m.running.into(),
            served.into(),
        ]);
    }
    use sea_orm::sea_query::ExprTrait;
    let existing = |column: Column| Expr::col((user_queues::Entity, column));
    let excluded = |column: Column| Expr::col((Alias::new("excluded"), column));
    upsert.on_conflict(
        OnConflict::column(Column::UserId)
            .values([
                (
                    Column::Pending,
                    existing(Column::Pending).add(excluded(Column::Pending)),
                ),
                (
                    Column::Running,
                    existing(Column::Running).add(excluded(Column::Running)),
                ),
                (
                    Column::LastClaimedAt,
                    Expr::cust("COALESCE(excluded.last_claimed_at, user_queues.last_claimed_at)"),
                ),
            ])
            .to_owned(),
    );
    txn.execute(&upsert).await?;
    Ok(())
}

/// Completed runs of a backend whose execution times make its estimate.
pub const RECENT: u64 = 20;

/// A `user_queues` row with its user's handle: id, pending, running, last claimed, handle.
type QueueRow = (Uuid, i64, i64, Option<DateTime<Utc>>, String);

/// A run's `started_at` and `completed_at`.
type Span = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// One user's queue, as the standing of a run is reckoned against it.
struct Queue {
    user_id: Uuid,
    pending: u64,
    running: u64,
    last_claimed_at: Option<DateTime<Utc>>,
    weight: f64,
}

impl Queue {
    /// The claims' order between users of equal share: served longest ago (never first),
    /// then by id.
    fn served_before(&self, other: &Queue) -> bool {
        match (self.last_claimed_at, other.last_claimed_at) {
            (None, Some(_)) => true,
            (Some(_), None) => false,
            (a, b) if a != b => a < b,
            _ => self.user_id < other.user_id,
        }
    }
}

impl Store {
    /// Where `run` stands if it is pending ([`QueueStanding`]): the runs the claims will start
    /// before it, as the queues are now — its user's older pending runs, and for every other user with work
    /// waiting, their runs whose share (`(running + place - 1) / weight`) is below this run's
    /// (or equal, for a user the claims serve first; within `max_running_per_user`) — and an
    /// estimate of its start: the database's now, plus the mean execution time of its
    /// backend's last [`RECENT`] completed runs for every turn of the executing slots the runs
    /// ahead take (`ahead / running` turns). Read from `user_queues` (a row per user with work
    /// waiting) and the index of the user's own queue, never by counting every pending run.
    pub async fn queue_standing(&self, run: &Run) -> Result<Option<QueueStanding>> {
        if run.status != RunStatus::Pending {
            return Ok(None);
        }
        let older = runs::Entity::find()
            .filter(runs::Column::UserId.eq(run.user_id))
            .filter(runs::Column::Status.eq(status_to_db(RunStatus::Pending)))
            .filter(
                Condition::any()
                    .add(runs::Column::CreatedAt.lt(run.created_at))
                    .add(
                        Condition::all()
                            .add(runs::Column::CreatedAt.eq(run.created_at))
                            .add(runs::Column::Id.lt(run.id)),
                    ),
            )
            .count(&self.db)
            .await?;
        let rows: Vec<QueueRow> = user_queues::Entity::find()
            .select_only()
            .column(Column::UserId)
            .column(Column::Pending)
            .column(Column::Running)
            .column(Column::LastClaimedAt)
            .column(users::Column::Handle)
            .join(
                JoinType::InnerJoin,
                user_queues::Entity::belongs_to(users::Entity)
                    .from(Column::UserId)
                    .to(users::Column::Id)
                    .into(),
            )
            .filter(
                Condition::any()
                    .add(Column::Pending.gt(0))
                    .add(Column::Running.gt(0)),
            )
            .into_tuple()
            .all(&self.db)
            .await?;
        let cap = self.scheduling.max_running_per_user().unwrap_or(u64::MAX);
        let queues: Vec<Queue> = rows
            .into_iter()
            .map(
                |(user_id, pending, running, last_claimed_at, handle)| Queue {
                    user_id,
                    pending: pending.max(0) as u64,
                    running: running.max(0) as u64,
                    last_claimed_at,
                    weight: self.scheduling.weights.get(&handle).copied().unwrap_or(1.0),
                },
            )
            .collect();
        let running: u64 = queues.iter().map(|q| q.running).sum();
        let Some(own) = queues
            .iter()
            .find(|q| q.user_id == run.user_id && q.pending > 0)
        else {
            // `run` was read pending, and since then it (and every run of its user's queue)
            // started or ended.
            return Ok(None);
        };
        // This run's share when it starts: its user's running and older pending runs.
        let share = (own.running + older) as f64 / own.weight;
        let mut ahead = older;
        for other in queues.iter().filter(|q| q.user_id != run.user_id) {
            // Its runs at places 1, 2, … have shares (running + place - 1) / weight; count
            // those below `share` (and equal to it, when `other` is served first).
            let room = other.pending.min(cap.saturating_sub(other.running));
            let x = share * other.weight - other.running as f64;
            let mut before = if x > 0.0 { x.ceil() as u64 } else { 0 };
            if x >= 0.0 && x.fract() == 0.0 && other.served_before(own) {
                before += 1;
            }
            ahead += before.min(room);
        }
        let recent: Vec<Span> = runs::Entity::find()
            .select_only()
            .column(runs::Column::StartedAt)
            .column(runs::Column::CompletedAt)
            .filter(runs::Column::Status.eq(status_to_db(RunStatus::Completed)))
            .filter(runs::Column::BackendType.eq(run.spec.backend_type.clone()))
            .filter(runs::Column::BackendName.eq(run.spec.backend_name.clone()))
            .order_by_desc(runs::Column::CompletedAt)
            .limit(RECENT)
            .into_tuple()
            .all(&self.db)
            .await?;
        let times: Vec<TimeDelta> = recent
            .into_iter()
            .filter_map(|(started, completed)| Some(completed? - started?))
            .collect();
        let now = self.now().await?;
        let estimated_start_at = (!times.is_empty()).then(|| {
            let mean = times.iter().copied().sum::<TimeDelta>() / times.len() as i32;
            let turns = ahead as f64 / running.max(1) as f64;
            now + TimeDelta::milliseconds((mean.as_seconds_f64() * turns * 1000.0).round() as i64)
        });
        Ok(Some(QueueStanding {
            position: ahead + 1,
            estimated_start_at,
        }))
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;

    fn order(limit: u64) -> ClaimOrder {
        ClaimOrder {
            node: "n1".into(),
            limit,
            lease: TimeDelta::seconds(30),
        }
    }

    /// A prepared statement is cached by its text: a claim's must not depend on its limit, its
    /// cap or the weights' values (only on whether there are any).
    #[test]
    fn the_claims_text_does_not_depend_on_its_values() {
        let now = Utc::now();
        let weighted = |cap, weight| SchedulingConfig {
            max_running_per_user: cap,
            weights: [("alice".to_owned(), weight)].into(),
        };
        for backend in [DbBackend::Postgres, DbBackend::Sqlite] {
            let one = claim_statement(backend, &order(1), &SchedulingConfig::default(), now);
            let many = claim_statement(backend, &order(500), &weighted(0, 1.0).clone(), now);
            let other = claim_statement(backend, &order(500), &weighted(4, 3.0), now);
            assert_ne!(one.sql, many.sql, "{backend:?}: weights or none");
            assert_eq!(many.sql, other.sql, "{backend:?}");
            let capped = SchedulingConfig {
                max_running_per_user: 7,
                ..Default::default()
            };
            assert_eq!(
                one.sql,
                claim_statement(backend, &order(9), &capped, now).sql
            );
        }
    }

    /// One description, each database's spelling: the locks, `LATERAL` and the id array on
    /// PostgreSQL only; SQLite's parameters numbered `?N`.
    #[test]
    fn the_claim_is_rendered_for_each_database() {
        let now = Utc::now();
        let scheduling = SchedulingConfig::default();
        let pg = claim_statement(DbBackend::Postgres, &order(8), &scheduling, now).sql;
        let lite = claim_statement(DbBackend::Sqlite, &order(8), &scheduling, now).sql;
        for sql in [&pg, &lite] {
            assert!(!sql.contains('{'), "a part left unrendered: {sql}");
            assert!(sql.starts_with("WITH queues AS MATERIALIZED ("), "{sql}");
            assert!(sql.ends_with("RETURNING *"), "{sql}");
        }
        assert_eq!(pg.matches("SKIP LOCKED").count(), 2, "{pg}");
        assert!(pg.contains("CROSS JOIN LATERAL ("), "{pg}");
        assert!(
            pg.contains("id = ANY(ARRAY(SELECT id FROM chosen))"),
            "{pg}"
        );
        assert!(
            !lite.contains("FOR UPDATE") && !lite.contains('$'),
            "{lite}"
        );
        assert!(lite.contains("JOIN runs r ON r.id IN (SELECT"), "{lite}");
        assert!(lite.contains("created_at < ?1"), "{lite}");
    }
}
