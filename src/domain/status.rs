//! Run statuses and the lifecycle's edges.
//!
//! ```text
//!             claim (executor)            store results
//!   pending ───────────────────▶ running ───────────────▶ completed
//!      │  ▲                        │ │ │
//!      │  └─ hand back (shutdown) ─┘ │ └── any stage fails / watchdog ──▶ failed
//!      │ cancel (user)               │
//!      └──────────────▶ cancelled ◀──┘ cancel (user)
//! ```
//!
//! [`Edge::apply`] is the only definition of which transitions exist; everything that writes a
//! status (the store's guarded updates) derives its guard from it.

use std::fmt;
use std::str::FromStr;

/// Where a run is in its lifecycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RunStatus {
    Pending,
    Running,
    Completed,
    Failed,
    Cancelled,
}

impl RunStatus {
    pub const ALL: [RunStatus; 5] = [
        RunStatus::Pending,
        RunStatus::Running,
        RunStatus::Completed,
        RunStatus::Failed,
        RunStatus::Cancelled,
    ];

    /// Terminal statuses never change again.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            RunStatus::Completed | RunStatus::Failed | RunStatus::Cancelled
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Pending => "pending",
            RunStatus::Running => "running",
            RunStatus::Completed => "completed",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RunStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RunStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| format!("unknown run status `{s}`"))
    }
}

/// A lifecycle edge: what someone asks to happen to an existing run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Edge {
    /// pending → running (the executor claims the run)
    Start,
    /// running → completed (results stored)
    Complete,
    /// running → failed (a stage failed, an actor died, or the watchdog)
    Fail,
    /// pending | running → cancelled (the submitter)
    Cancel,
    /// running → pending (the executing node shutting down gives the run back before its
    /// deadline, so another node claims it at once: docs/DESIGN.md §4)
    HandBack,
}

impl Edge {
    pub const ALL: [Edge; 5] = [
        Edge::Start,
        Edge::Complete,
        Edge::Fail,
        Edge::Cancel,
        Edge::HandBack,
    ];

    /// The status this edge leads to from `from`, or `None` when the edge does not leave `from`.
    pub fn apply(self, from: RunStatus) -> Option<RunStatus> {
        use RunStatus::*;
        match (self, from) {
            (Edge::Start, Pending) => Some(Running),
            (Edge::Complete, Running) => Some(Completed),
            (Edge::Fail, Running) => Some(Failed),
            (Edge::Cancel, Pending | Running) => Some(Cancelled),
            (Edge::HandBack, Running) => Some(Pending),
            _ => None,
        }
    }

    /// The statuses this edge may leave (the guard of its compare-and-set).
    pub fn sources(self) -> Vec<RunStatus> {
        RunStatus::ALL
            .into_iter()
            .filter(|from| self.apply(*from).is_some())
            .collect()
    }

    /// The status this edge leads to.
    pub fn target(self) -> RunStatus {
        match self {
            Edge::Start => RunStatus::Running,
            Edge::Complete => RunStatus::Completed,
            Edge::Fail => RunStatus::Failed,
            Edge::Cancel => RunStatus::Cancelled,
            Edge::HandBack => RunStatus::Pending,
        }
    }

    pub fn action(self) -> Action {
        match self {
            Edge::Start => Action::Started,
            Edge::Complete => Action::Completed,
            Edge::Fail => Action::Failed,
            Edge::Cancel => Action::Cancelled,
            Edge::HandBack => Action::HandedBack,
        }
    }
}

/// What the audit log and analytics record: the creation of a run, or one of its edges.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    Requested,
    Started,
    Completed,
    Failed,
    Cancelled,
    /// Given back by a node shutting down (audited; no analytics event: docs/DESIGN.md §7).
    HandedBack,
}

impl Action {
    pub const ALL: [Action; 6] = [
        Action::Requested,
        Action::Started,
        Action::Completed,
        Action::Failed,
        Action::Cancelled,
        Action::HandedBack,
    ];

    /// The `audit_logs.action` value.
    pub fn audit_action(self) -> &'static str {
        match self {
            Action::Requested => "run.requested",
            Action::Started => "run.started",
            Action::Completed => "run.completed",
            Action::Failed => "run.failed",
            Action::Cancelled => "run.cancelled",
            Action::HandedBack => "run.handed_back",
        }
    }

    /// The analytics event name; `None` for a hand-back, which is the service's business, not
    /// the user's (the run's next start is the same `run_started` event, with the same id).
    pub fn event(self) -> Option<&'static str> {
        match self {
            Action::Requested => Some("run_requested"),
            Action::Started => Some("run_started"),
            Action::Completed => Some("run_completed"),
            Action::Failed => Some("run_failed"),
            Action::Cancelled => Some("run_cancelled"),
            Action::HandedBack => None,
        }
    }

    pub fn from_audit_action(s: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.audit_action() == s)
    }

    pub fn from_event(s: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.event() == Some(s))
    }

    /// The audit actions a run in `status` must have, in order, after `handed_back`
    /// hand-backs: requested, then a start and a hand-back for each, then its current
    /// attempt's. A cancelled run has one of two endings, depending on whether its current
    /// attempt had started; `started` tells which.
    pub fn timeline(status: RunStatus, started: bool, handed_back: usize) -> Vec<Action> {
        use Action::*;
        let mut timeline = vec![Requested];
        for _ in 0..handed_back {
            timeline.extend([Started, HandedBack]);
        }
        timeline.extend(match status {
            RunStatus::Pending => vec![],
            RunStatus::Running => vec![Started],
            RunStatus::Completed => vec![Started, Completed],
            RunStatus::Failed => vec![Started, Failed],
            RunStatus::Cancelled if started => vec![Started, Cancelled],
            RunStatus::Cancelled => vec![Cancelled],
        });
        timeline
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The edge table of docs/DESIGN.md §1, written out independently of `Edge::apply`.
    const TABLE: [(RunStatus, RunStatus); 6] = [
        (RunStatus::Pending, RunStatus::Running),
        (RunStatus::Running, RunStatus::Completed),
        (RunStatus::Running, RunStatus::Failed),
        (RunStatus::Pending, RunStatus::Cancelled),
        (RunStatus::Running, RunStatus::Cancelled),
        (RunStatus::Running, RunStatus::Pending),
    ];

    fn status() -> impl Strategy<Value = RunStatus> {
        proptest::sample::select(RunStatus::ALL.to_vec())
    }

    fn edge() -> impl Strategy<Value = Edge> {
        proptest::sample::select(Edge::ALL.to_vec())
    }

    proptest! {
        #[test]
        fn no_edge_leaves_a_terminal_status(from in status(), e in edge()) {
            if from.is_terminal() {
                prop_assert_eq!(e.apply(from), None);
            }
        }

        #[test]
        fn an_edge_is_accepted_iff_it_is_in_the_table(from in status(), e in edge()) {
            let in_table = TABLE.contains(&(from, e.target()));
            prop_assert_eq!(e.apply(from).is_some(), in_table);
            if let Some(to) = e.apply(from) {
                prop_assert_eq!(to, e.target());
            }
        }

        #[test]
        fn any_walk_ends_within_two_edges_of_its_last_hand_back_and_stays_terminal(
            edges in proptest::collection::vec(edge(), 0..12)
        ) {
            let mut status = RunStatus::Pending;
            let mut since_hand_back = 0;
            let mut taken = Vec::new();
            for e in edges {
                if let Some(next) = e.apply(status) {
                    prop_assert!(!status.is_terminal());
                    status = next;
                    since_hand_back = if e == Edge::HandBack { 0 } else { since_hand_back + 1 };
                    taken.push(e.action());
                }
            }
            prop_assert!(since_hand_back <= 2);
            // The walk's actions are the timeline `Action::timeline` expects of where it ended.
            let handed_back = taken.iter().filter(|a| **a == Action::HandedBack).count();
            let started = taken.last() != Some(&Action::Cancelled)
                || taken.len() >= 2 && taken[taken.len() - 2] == Action::Started;
            let mut expected = Action::timeline(status, started, handed_back);
            expected.remove(0);
            prop_assert_eq!(taken, expected);
        }
    }

    #[test]
    fn every_table_row_is_reachable_by_exactly_one_edge() {
        for (from, to) in TABLE {
            let edges: Vec<_> = Edge::ALL
                .into_iter()
                .filter(|e| e.apply(from) == Some(to))
                .collect();
            assert_eq!(edges.len(), 1, "{from} → {to}: {edges:?}");
        }
    }

    #[test]
    fn names_round_trip() {
        for s in RunStatus::ALL {
            assert_eq!(s.as_str().parse::<RunStatus>(), Ok(s));
        }
        for a in Action::ALL {
            assert_eq!(Action::from_audit_action(a.audit_action()), Some(a));
            if let Some(event) = a.event() {
                assert_eq!(Action::from_event(event), Some(a));
            }
        }
    }

    #[test]
    fn timelines_end_in_the_status_action() {
        for e in Edge::ALL {
            for from in e.sources() {
                let started = from == RunStatus::Running;
                let handed_back = usize::from(e == Edge::HandBack);
                let timeline = Action::timeline(e.target(), started, handed_back);
                assert_eq!(timeline.last(), Some(&e.action()), "{e:?} from {from}");
            }
        }
    }
}
