//! Fair-share claiming (docs/DESIGN.md §10, issue 28): a claim gives each free slot to the
//! user with the fewest runs executing for their weight, oldest run first within a user, and
//! never past `scheduling.max_running_per_user`. Driven claim by claim on one node here;
//! `tests/api/cluster.rs` has the same on two nodes with executors.

use std::collections::BTreeMap;

use qrun::domain::RunStatus;
use qrun::store::{Applied, Canceller, Change, Command};
use uuid::Uuid;

use crate::helpers::*;
use crate::on_both_databases;

/// Frees a slot: the run ends (cancelled by an operator).
async fn finish(app: &TestApp, run_id: Uuid) {
    app.transition(
        run_id,
        Change::Cancel {
            by: Canceller::Operator,
        },
    )
    .await
    .expect("a running run ends");
}

fn owners(claimed: &[Applied]) -> Vec<Uuid> {
    claimed.iter().map(|a| a.run.user_id).collect()
}

async fn assert_verified(app: &TestApp) {
    let report = app.store().verify().await.unwrap();
    assert!(report.violations.is_empty(), "{:?}", report.violations);
}

/// Alice's burst of 200 does not hold Bob's one run behind it: the first slot that frees is
/// Bob's, and then Alice's queue goes on, oldest first.
async fn a_burst_does_not_hold_another_users_run_behind_it(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let alice = app.circuit_of("alice").await;
    let bob = app.circuit_of("bob").await;
    let alices = app.burst(&alice, 200).await;
    let running = app.claim("node-a", 4, 300).await;
    let started: Vec<Uuid> = running.iter().map(|a| a.run.id).collect();
    assert_eq!(
        started,
        alices[..4],
        "alone, Alice's runs start oldest first"
    );

    let bobs = app.submit(&bob, Some(false)).await.id;
    finish(&app, started[0]).await;
    let next = app.claim("node-a", 1, 300).await;
    assert_eq!(next.len(), 1);
    assert_eq!(
        next[0].run.id, bobs,
        "the free slot goes to Bob, not to Alice's 5th run"
    );

    finish(&app, started[1]).await;
    let next = app.claim("node-a", 1, 300).await;
    assert_eq!(
        next[0].run.id, alices[4],
        "then Alice's queue goes on where it was"
    );
    assert_verified(&app).await;
    app.stop().await;
}

/// One claim of several runs shares them out: with Alice's 50 and Bob's 50 waiting and none
/// executing, 8 slots are 4 and 4, each user's oldest first.
async fn one_claim_shares_its_slots_among_the_users_waiting(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let alice = app.circuit_of("alice").await;
    let bob = app.circuit_of("bob").await;
    let alices = app.burst(&alice, 50).await;
    let bobs = app.burst(&bob, 50).await;
    let claimed = app.claim("node-a", 8, 300).await;
    let mut by_user = BTreeMap::<Uuid, Vec<Uuid>>::new();
    for applied in &claimed {
        by_user
            .entry(applied.run.user_id)
            .or_default()
            .push(applied.run.id);
    }
    assert_eq!(by_user[&alice.user_id], alices[..4]);
    assert_eq!(by_user[&bob.user_id], bobs[..4]);
    assert_verified(&app).await;
    app.stop().await;
}

/// With weights 3:1 the running mix is 3:1, and stays so as runs end and slots are claimed
/// again one at a time.
async fn weights_give_users_their_share_of_the_slots(db: TestDb) {
    let app = TestApp::spawn_with(
        db,
        |config| {
            config.scheduling.weights = [("alice".to_owned(), 3.0)].into();
        },
        Default::default(),
    )
    .await;
    let alice = app.circuit_of("alice").await;
    let bob = app.circuit_of("bob").await;
    app.burst(&alice, 60).await;
    app.burst(&bob, 60).await;
    let mut running: Vec<Applied> = app.claim("node-a", 8, 300).await;
    let mix = |running: &[Applied]| {
        let alice_count = running
            .iter()
            .filter(|a| a.run.user_id == alice.user_id)
            .count();
        (alice_count, running.len() - alice_count)
    };
    assert_eq!(mix(&running), (6, 2), "{:?}", owners(&running));
    // Slots free one at a time, oldest run first; each is claimed again at once.
    for _ in 0..24 {
        let done = running.remove(0);
        finish(&app, done.run.id).await;
        running.extend(app.claim("node-a", 1, 300).await);
        assert_eq!(running.len(), 8);
        assert_eq!(mix(&running), (6, 2), "{:?}", owners(&running));
    }
    assert_verified(&app).await;
    app.stop().await;
}

/// `max_running_per_user` is a cap the claim itself keeps: Alice gets 2 of 8 free slots, no
/// more however often a node claims, and the rest go to whoever else is waiting.
async fn the_per_user_cap_holds_however_often_a_node_claims(db: TestDb) {
    let app = TestApp::spawn_with(
        db,
        |config| config.scheduling.max_running_per_user = 2,
        Default::default(),
    )
    .await;
    let alice = app.circuit_of("alice").await;
    let bob = app.circuit_of("bob").await;
    let alices = app.burst(&alice, 10).await;
    let first = app.claim("node-a", 8, 300).await;
    assert_eq!(owners(&first), [alice.user_id; 2]);
    assert!(app.claim("node-b", 8, 300).await.is_empty());
    let bobs = app.burst(&bob, 3).await;
    let second = app.claim("node-b", 8, 300).await;
    assert_eq!(
        second.iter().map(|a| a.run.id).collect::<Vec<_>>(),
        bobs[..2]
    );
    // One of Alice's ends: one more of hers may start, the next oldest.
    finish(&app, first[0].run.id).await;
    let third = app.claim("node-a", 8, 300).await;
    assert_eq!(
        third.iter().map(|a| a.run.id).collect::<Vec<_>>(),
        [alices[2]]
    );
    let counts = app.store().run_counts().await.unwrap();
    assert_eq!(counts[&RunStatus::Running], 4);
    assert_verified(&app).await;
    app.stop().await;
}

on_both_databases!(
    a_burst_does_not_hold_another_users_run_behind_it,
    one_claim_shares_its_slots_among_the_users_waiting,
    weights_give_users_their_share_of_the_slots,
    the_per_user_cap_holds_however_often_a_node_claims,
);

/// Starts a node executing `slots` runs at once with the `slow` command backend (each run
/// sleeps `sleep` seconds) beside the simulator, under `scheduling.max_running_per_user = cap`.
async fn worker(
    db: &TestDb,
    dir: &std::path::Path,
    node: &'static str,
    slots: u64,
    sleep: f64,
    cap: u64,
) -> TestApp {
    let slow = sleepy_backend(dir, "slow", sleep);
    let adjust = move |config: &mut qrun::config::Config| {
        executing(config);
        config.executor.node_id = node.into();
        config.executor.max_concurrent_runs = slots;
        config.executor.max_active_runs_per_user = 100_000;
        config.scheduling.max_running_per_user = cap;
        config.backends.push(slow);
    };
    TestApp::spawn_with(TestDb::borrowed(&db.url), adjust, Default::default()).await
}

/// `n` runs of `fixture`'s circuit on the `slow` backend, created in one transaction.
async fn slow_burst(app: &TestApp, fixture: &Fixture, n: usize) -> Vec<Uuid> {
    let commands: Vec<Command> = (0..n)
        .map(|_| {
            let mut new = fixture.new_run(10, Some(false));
            new.spec.backend_type = "command".into();
            new.spec.backend_name = "slow".into();
            Command::Create(new)
        })
        .collect();
    app.store()
        .apply(&commands)
        .await
        .into_iter()
        .map(|outcome| outcome.expect("created").run.id)
        .collect()
}

/// Every audit row of `runs`, in the order they were written. Audit ids are UUIDv7 from one
/// process (the nodes here share it), which orders them as they were made: a claim's rows are
/// made after its statement saw the ends it fills in for, so this order is causal — unlike
/// `created_at`, a transaction's start on PostgreSQL.
async fn audit_in_order(app: &TestApp, runs: &[Uuid]) -> Vec<qrun::domain::AuditEntry> {
    let mut rows = Vec::new();
    for id in runs {
        rows.extend(app.store().audit_timeline(*id).await.unwrap());
    }
    rows.sort_by_key(|row| row.id);
    rows
}

/// On one node and on two, with every slot busy with Alice's burst, Bob's run starts at the
/// next free slot: between Bob's submission and his run's start, Alice's runs take no more
/// than one turn of the slots (in-flight claims), where oldest-first would have started her
/// whole queue first.
async fn a_burst_does_not_hold_another_users_run_on_one_or_two_nodes(db: TestDb) {
    for nodes in [1, 2] {
        let dir = tempfile::tempdir().unwrap();
        let a = worker(&db, dir.path(), "node-a", 4, 0.3, 0).await;
        let b = if nodes == 2 {
            Some(worker(&db, dir.path(), "node-b", 4, 0.3, 0).await)
        } else {
            None
        };
        let slots = 4 * nodes;
        let alice = a.circuit().await;
        let bob = a.circuit().await;
        let alices = slow_burst(&a, &alice, 1_000).await;
        wait_until(
            std::time::Duration::from_secs(60),
            "every slot busy with Alice's runs",
            || async { a.store().run_counts().await.unwrap()[&RunStatus::Running] == slots as u64 },
        )
        .await;
        let bobs = slow_burst(&a, &bob, 1).await[0];
        a.wait_status(bobs, RunStatus::Completed).await;
        let mut everyone = alices.clone();
        everyone.push(bobs);
        let rows = audit_in_order(&a, &everyone).await;
        let position = |run: Uuid, action: &str| {
            rows.iter()
                .position(|r| r.resource_id == run && r.action == action)
                .unwrap()
        };
        let (asked, started) = (
            position(bobs, "run.requested"),
            position(bobs, "run.started"),
        );
        let alice_before_bob = rows[asked..started]
            .iter()
            .filter(|r| r.action == "run.started")
            .count();
        assert!(
            alice_before_bob <= slots,
            "{nodes} node(s): {alice_before_bob} of Alice's runs started while Bob's waited"
        );
        a.stop().await;
        if let Some(b) = b {
            b.stop().await;
        }
    }
}

/// `max_running_per_user` holds across two nodes of 16 slots each, at every moment of the
/// audit timeline (not by sampling), and is reached: Alice's runs fill her 3 while Bob's use
/// the rest.
async fn the_per_user_cap_holds_across_two_nodes(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let a = worker(&db, dir.path(), "node-a", 16, 0.05, 3).await;
    let b = worker(&db, dir.path(), "node-b", 16, 0.05, 3).await;
    let alice = a.circuit().await;
    let bob = a.circuit().await;
    let mut runs = slow_burst(&a, &alice, 60).await;
    runs.extend(slow_burst(&a, &bob, 30).await);
    wait_until(
        std::time::Duration::from_secs(120),
        "every run completed",
        || async {
            a.store().run_counts().await.unwrap()[&RunStatus::Completed] == runs.len() as u64
        },
    )
    .await;
    let rows = audit_in_order(&a, &runs).await;
    let mut running = BTreeMap::<Uuid, i64>::new();
    let mut most = BTreeMap::<Uuid, i64>::new();
    for row in &rows {
        let by = match row.action.as_str() {
            "run.started" => 1,
            "run.completed" | "run.failed" | "run.cancelled" => -1,
            _ => 0,
        };
        let now = running.entry(row.actor_user_id).or_default();
        *now += by;
        let peak = most.entry(row.actor_user_id).or_default();
        *peak = (*peak).max(*now);
    }
    assert_eq!(
        most[&alice.user_id], 3,
        "Alice's runs reach the cap, never more"
    );
    assert_eq!(most[&bob.user_id], 3, "and so do Bob's");
    let report = a.store().verify().await.unwrap();
    assert!(report.violations.is_empty(), "{:?}", report.violations);
    a.stop().await;
    b.stop().await;
}

on_both_databases!(
    a_burst_does_not_hold_another_users_run_on_one_or_two_nodes,
    the_per_user_cap_holds_across_two_nodes,
);
