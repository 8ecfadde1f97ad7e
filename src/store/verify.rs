//! `qrun verify`: checks the invariants of docs/DESIGN.md §1 over the whole database.
//!
//! For every run: its audit timeline matches its status (the actions, in the order their
//! timestamps give, strictly increasing, each the run's owner's, and those the run row has a
//! stamp for stamped with it; a hand-back adds a start and a hand-back per earlier attempt);
//! its lifecycle outbox rows are exactly its consented transitions' events, one per kind (none
//! for a run without consent; none left after a pruning); its view events ([`RUN_VIEWED`], written with the viewer's
//! consent, not the run's) describe it and follow its creation; a terminal row is complete. Audit and outbox rows of runs that do not
//! exist are violations too, and so are a user's queue whose counts are not their pending and
//! running runs', and credential changes' audit rows that name no token, session or user of
//! their actor, or an action their resource does not have. Runs are read in pages of
//! [`PAGE`], so memory stays flat.

use std::collections::HashMap;

use entity::{analytics_outbox, audit_logs, runs, user_queues};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Statement,
};
use uuid::Uuid;

use super::convert::run_from_db;
use super::records::event_id;
use super::{Result, Store};
use crate::domain::{Action, CredentialChange, RUN_VIEWED, Run, RunStatus};

const PAGE: u64 = 500;

/// What a verification found.
#[derive(Debug, Default)]
pub struct Report {
    pub runs: u64,
    /// One human line per violation.
    pub violations: Vec<String>,
}

impl Store {
    /// Checks every run; see the module docs.
    pub async fn verify(&self) -> Result<Report> {
        let mut report = Report::default();
        let mut after: Option<Uuid> = None;
        loop {
            let mut query = runs::Entity::find()
                .order_by_asc(runs::Column::Id)
                .limit(PAGE);
            if let Some(last) = after {
                query = query.filter(runs::Column::Id.gt(last));
            }
            let page = query.all(&self.db).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.id);
            let ids: Vec<Uuid> = page.iter().map(|r| r.id).collect();
            let mut audits: HashMap<Uuid, Vec<audit_logs::Model>> = HashMap::new();
            for row in audit_logs::Entity::find()
                .filter(audit_logs::Column::ResourceType.eq("run"))
                .filter(audit_logs::Column::ResourceId.is_in(ids.clone()))
                .all(&self.db)
                .await?
            {
                audits.entry(row.resource_id).or_default().push(row);
            }
            let mut outbox: HashMap<Uuid, Vec<analytics_outbox::Model>> = HashMap::new();
            for row in analytics_outbox::Entity::find()
                .filter(analytics_outbox::Column::RunId.is_in(ids))
                .all(&self.db)
                .await?
            {
                outbox.entry(row.run_id).or_default().push(row);
            }
            for row in page {
                report.runs += 1;
                let id = row.id;
                let pruned = row.outbox_pruned_at.is_some();
                let run = match run_from_db(row) {
                    Ok(run) => run,
                    Err(err) => {
                        report.violations.push(format!("run {id}: {err}"));
                        continue;
                    }
                };
                let mut found = Vec::new();
                let audit = audits.remove(&id).unwrap_or_default();
                let handed_back = audit
                    .iter()
                    .any(|r| r.action == Action::HandedBack.audit_action());
                check_audit(&run, audit, &mut found);
                let (views, lifecycle): (Vec<_>, Vec<_>) = outbox
                    .remove(&id)
                    .unwrap_or_default()
                    .into_iter()
                    .partition(|row| row.event == RUN_VIEWED);
                check_outbox(&run, pruned, handed_back, lifecycle, &mut found);
                check_views(&run, &views, &mut found);
                check_terminal(&run, &mut found);
                report
                    .violations
                    .extend(found.into_iter().map(|v| format!("run {id}: {v}")));
            }
        }
        self.check_orphans(&mut report).await?;
        self.check_queues(&mut report).await?;
        Ok(report)
    }

    /// Each user's queue ([`super::queues`]) counts exactly their pending and running runs.
    async fn check_queues(&self, report: &mut Report) -> Result<()> {
        let backend = self.db.get_database_backend();
        let sql = "SELECT user_id, \
                   SUM(CASE WHEN status = 'pending' THEN 1 ELSE 0 END) AS pending, \
                   SUM(CASE WHEN status = 'running' THEN 1 ELSE 0 END) AS running \
                   FROM runs WHERE status IN ('pending', 'running') GROUP BY user_id";
        let mut actual: HashMap<Uuid, (i64, i64)> = HashMap::new();
        for row in self
            .db
            .query_all_raw(Statement::from_string(backend, sql))
            .await?
        {
            actual.insert(
                row.try_get("", "user_id")?,
                (row.try_get("", "pending")?, row.try_get("", "running")?),
            );
        }
        for queue in user_queues::Entity::find().all(&self.db).await? {
            let counted = (queue.pending, queue.running);
            let runs = actual.remove(&queue.user_id).unwrap_or_default();
            if counted != runs {
                report.violations.push(format!(
                    "user {}: queue counts {} pending, {} running; the runs are {} and {}",
                    queue.user_id, counted.0, counted.1, runs.0, runs.1
                ));
            }
        }
        for (user, (pending, running)) in actual {
            report.violations.push(format!(
                "user {user}: no queue row for {pending} pending and {running} running runs"
            ));
        }
        Ok(())
    }

    async fn check_orphans(&self, report: &mut Report) -> Result<()> {
        let backend = self.db.get_database_backend();
        let sql = "SELECT t.id AS id, t.run_id AS run_id FROM analytics_outbox t \
                   WHERE NOT EXISTS (SELECT 1 FROM runs r WHERE r.id = t.run_id)";
        for row in self
            .db
            .query_all_raw(Statement::from_string(backend, sql))
            .await?
        {
            let id: Uuid = row.try_get("", "id")?;
            let run_id: Uuid = row.try_get("", "run_id")?;
            report
                .violations
                .push(format!("outbox row {id}: run {run_id} does not exist"));
        }
        for row in self
            .db
            .query_all_raw(Statement::from_string(backend, misplaced_audit_sql()))
            .await?
        {
            let id: Uuid = row.try_get("", "id")?;
            let action: String = row.try_get("", "action")?;
            let kind: String = row.try_get("", "resource_type")?;
            let resource: Uuid = row.try_get("", "resource_id")?;
            let known = CredentialChange::ALL
                .iter()
                .any(|c| c.audit_action() == action && c.resource_type() == kind);
            report.violations.push(if kind == "run" {
                format!("audit row {id}: run {resource} does not exist")
            } else if known {
                format!(
                    "audit row {id}: {action} names {kind} {resource}, which does not exist \
                     or is not its actor's"
                )
            } else {
                format!("audit row {id}: `{action}` is not an action on a `{kind}`")
            });
        }
        Ok(())
    }
}

/// The audit rows that name nothing they may: a run's row whose run does not exist; a
/// credential change (docs/DESIGN.md §2) whose action is not one of its resource type's, or
/// whose token, session or user does not exist or is not its actor's (a `user.*` row's actor
/// is the user); a row of any other resource type.
fn misplaced_audit_sql() -> String {
    let actions = |kind: &str| {
        CredentialChange::ALL
            .iter()
            .filter(|c| c.resource_type() == kind)
            .map(|c| format!("'{}'", c.audit_action()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let owned = |kind: &str, exists: &str| {
        format!(
            "(t.resource_type = '{kind}' AND (t.action NOT IN ({}) OR NOT EXISTS ({exists})))",
            actions(kind)
        )
    };
    [
        "(t.resource_type = 'run' AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.id = t.resource_id))"
            .to_owned(),
        owned(
            "token",
            "SELECT 1 FROM api_tokens k WHERE k.id = t.resource_id AND k.user_id = t.actor_user_id",
        ),
        owned(
            "session",
            "SELECT 1 FROM sessions s WHERE s.id = t.resource_id AND s.user_id = t.actor_user_id",
        ),
        owned(
            "user",
            "SELECT 1 FROM users u WHERE u.id = t.resource_id AND u.id = t.actor_user_id",
        ),
        "t.resource_type NOT IN ('run', 'token', 'session', 'user')".to_owned(),
    ]
    .into_iter()
    .fold(
        "SELECT t.id AS id, t.action AS action, t.resource_type AS resource_type, \
         t.resource_id AS resource_id FROM audit_logs t WHERE FALSE"
            .to_owned(),
        |sql, condition| format!("{sql} OR {condition}"),
    )
}

fn check_audit(run: &Run, mut rows: Vec<audit_logs::Model>, found: &mut Vec<String>) {
    rows.sort_by_key(|r| (r.created_at, r.id));
    let actual: Vec<&str> = rows.iter().map(|r| r.action.as_str()).collect();
    let handed_back = rows
        .iter()
        .filter(|r| r.action == Action::HandedBack.audit_action())
        .count();
    let expected: Vec<&str> = Action::timeline(run.status, run.started_at.is_some(), handed_back)
        .into_iter()
        .map(Action::audit_action)
        .collect();
    if actual != expected {
        found.push(format!(
            "{} run has audit timeline {actual:?}, expected {expected:?}",
            run.status
        ));
        return;
    }
    if rows.windows(2).any(|w| w[0].created_at >= w[1].created_at) {
        found.push(format!(
            "audit timeline {actual:?} does not move forward: {:?}",
            rows.iter().map(|r| r.created_at).collect::<Vec<_>>()
        ));
    }
    // The rows the run's own stamps tell: its creation; its current attempt's start (the last
    // start, unless a hand-back follows it); a pending run's last hand-back (its lease's end);
    // its ending. An earlier attempt's rows have no stamp on the run, only their order.
    let position = |action: Action| rows.iter().rposition(|r| r.action == action.audit_action());
    let last_hand_back = position(Action::HandedBack);
    let current_start = position(Action::Started).filter(|s| last_hand_back.is_none_or(|h| h < *s));
    for (i, row) in rows.iter().enumerate() {
        if row.actor_user_id != run.user_id {
            found.push(format!(
                "audit {} names actor {}, not the run's owner",
                row.action, row.actor_user_id
            ));
        }
        let stamp = match Action::from_audit_action(&row.action) {
            Some(Action::Requested) => Some(run.created_at),
            Some(Action::Started) if current_start == Some(i) => run.started_at,
            Some(Action::Started) => continue,
            Some(Action::HandedBack)
                if last_hand_back == Some(i) && run.status == RunStatus::Pending =>
            {
                run.lease_expires_at
            }
            Some(Action::HandedBack) => continue,
            _ => run.completed_at,
        };
        if stamp != Some(row.created_at) {
            found.push(format!(
                "audit {} at {} does not match the run's timestamp {stamp:?}",
                row.action, row.created_at
            ));
        }
    }
}

/// `handed_back`: whether the run was ever handed back (its audit timeline says), so it has
/// started even if it is pending now.
fn check_outbox(
    run: &Run,
    pruned: bool,
    handed_back: bool,
    rows: Vec<analytics_outbox::Model>,
    found: &mut Vec<String>,
) {
    if !run.consented() {
        if !rows.is_empty() {
            found.push(format!(
                "{} analytics event(s) for a run without consent ({:?})",
                rows.len(),
                run.spec.analytics_consent
            ));
        }
        return;
    }
    if pruned {
        if !rows.is_empty() {
            found.push(format!(
                "{} analytics event(s) left after pruning",
                rows.len()
            ));
        }
        return;
    }
    // One event per kind of transition: a start after a hand-back is the same `run_started`.
    let mut expected: Vec<Uuid> = Action::timeline(run.status, run.started_at.is_some(), 0)
        .into_iter()
        .chain(handed_back.then_some(Action::Started))
        .filter_map(Action::event)
        .map(|event| event_id(run.id, event))
        .collect();
    let mut actual: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    expected.sort();
    expected.dedup();
    actual.sort();
    if actual != expected {
        let events: Vec<&str> = rows.iter().map(|r| r.event.as_str()).collect();
        found.push(format!(
            "consented {} run has analytics events {events:?}, not one per transition",
            run.status
        ));
    }
}

/// A view event names the run it is filed under and was recorded after the run existed. Its
/// id cannot be re-derived (the browser session is not stored), and the run's consent does not
/// govern it (the viewer's did).
fn check_views(run: &Run, rows: &[analytics_outbox::Model], found: &mut Vec<String>) {
    for row in rows {
        if row.properties.get("run_id") != Some(&serde_json::json!(run.id)) {
            found.push(format!(
                "{RUN_VIEWED} event {} does not name the run it is filed under",
                row.id
            ));
        }
        if row.created_at < run.created_at {
            found.push(format!(
                "{RUN_VIEWED} event {} at {} precedes the run's creation",
                row.id, row.created_at
            ));
        }
    }
}

fn check_terminal(run: &Run, found: &mut Vec<String>) {
    let stamps: Vec<_> = [Some(run.created_at), run.started_at, run.completed_at]
        .into_iter()
        .flatten()
        .collect();
    if stamps.windows(2).any(|w| w[0] >= w[1]) {
        found.push(format!(
            "timestamps do not increase: created {}, started {:?}, completed {:?}",
            run.created_at, run.started_at, run.completed_at
        ));
    }
    if run.status.is_terminal() != run.completed_at.is_some() {
        found.push(format!(
            "{} run with completed_at {:?}",
            run.status, run.completed_at
        ));
    }
    match (run.status, &run.results) {
        (RunStatus::Completed, Some(results)) => {
            let sum: u64 = results.counts.values().sum();
            if sum != run.spec.shots || results.shots != run.spec.shots {
                found.push(format!(
                    "results count {sum} shots (reported {}), the run asked for {}",
                    results.shots, run.spec.shots
                ));
            }
            if results.unique_states != results.counts.len() as u64 {
                found.push(format!(
                    "unique_states {} but {} distinct outcomes",
                    results.unique_states,
                    results.counts.len()
                ));
            }
        }
        (RunStatus::Completed, None) => found.push("completed run without results".into()),
        (_, Some(_)) => found.push(format!("{} run with results", run.status)),
        (_, None) => {}
    }
    let has_error =
        run.error_class.is_some() || run.error_stage.is_some() || run.error_message.is_some();
    let error_complete =
        run.error_class.is_some() && run.error_stage.is_some() && run.error_message.is_some();
    if run.status == RunStatus::Failed && !error_complete {
        found.push("failed run without error class, stage and message".into());
    }
    if run.status != RunStatus::Failed && has_error {
        found.push(format!("{} run with error fields", run.status));
    }
}
