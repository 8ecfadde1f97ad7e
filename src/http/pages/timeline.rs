//! The run page's timeline: each audit row as a sentence a person reads ("Claimed by a
//! worker", "Completed in 1.2 s"), its time, and a line of detail from its metadata — never
//! raw `key=value`. The rows are [`AuditEntryView`]s, so what a viewer may not see (the node,
//! who cancelled) was already dropped; each `<li>` keeps its action in `data-action`.

use maud::{Markup, html};
use serde_json::Value;

use super::layout::{duration, seconds, time};
use crate::http::views::AuditEntryView;

/// The timeline, oldest first.
pub fn timeline(entries: &[AuditEntryView]) -> Markup {
    html! {
        ol.timeline.card {
            @for (i, entry) in entries.iter().enumerate() {
                @let previous = i.checked_sub(1).map(|p| entries[p].created_at);
                @let (what, detail) = describe(entry, previous);
                li data-action=(entry.action) {
                    span.what { (what) } " · " (time(Some(entry.created_at)))
                    @if let Some(detail) = detail { div.meta { (detail) } }
                }
            }
        }
    }
}

/// The sentence and the detail of one row; `previous` is the time of the row before it.
fn describe(
    entry: &AuditEntryView,
    previous: Option<chrono::DateTime<chrono::Utc>>,
) -> (String, Option<String>) {
    let text = |key: &str| entry.metadata.get(key).and_then(Value::as_str);
    let number = |key: &str| entry.metadata.get(key).and_then(Value::as_f64);
    let since_previous = duration(previous, Some(entry.created_at));
    let node = text("node").map(|n| format!(" ({n})")).unwrap_or_default();
    match entry.action.as_str() {
        "run.requested" => {
            let backend = match (text("backend_type"), text("backend_name")) {
                (Some(t), Some(n)) => format!(" on {t}/{n}"),
                _ => String::new(),
            };
            let shots = number("shots")
                .map(|s| format!("{s} shots"))
                .unwrap_or_default();
            let version = number("circuit_version")
                .map(|v| format!(", circuit version {v}"))
                .unwrap_or_default();
            (
                "Requested".to_owned(),
                Some(format!("{shots}{backend}{version}")),
            )
        }
        "run.started" => (
            format!("Claimed by a worker{node}"),
            Some(format!("after {since_previous} in the queue")),
        ),
        "run.completed" => {
            let took = number("execution_time")
                .map(seconds)
                .unwrap_or(since_previous);
            let detail = match (number("unique_states"), number("shots")) {
                (Some(states), Some(shots)) => {
                    Some(format!("{states} distinct outcomes over {shots} shots"))
                }
                _ => None,
            };
            (format!("Completed in {took}"), detail)
        }
        "run.failed" => {
            let class = text("error_class").unwrap_or("an error");
            let stage = text("stage")
                .map(|s| format!(" while it was at the {s} stage"))
                .unwrap_or_default();
            let who = match (text("by"), text("reason")) {
                (Some("watchdog"), Some("running_ttl_exceeded")) => {
                    format!("the watchdog stopped it: it ran past its time limit{node}")
                }
                (Some("watchdog"), _) => {
                    format!(
                        "the watchdog recovered it: its worker stopped renewing its lease{node}"
                    )
                }
                (Some("supervisor"), _) => "its worker's supervisor reported it".to_owned(),
                _ => "reported by its worker".to_owned(),
            };
            (format!("Failed with {class}{stage}"), Some(who))
        }
        "run.cancelled" => {
            let by = match text("by") {
                Some("operator") => " by an operator",
                Some("user") => " by its submitter",
                _ => "",
            };
            (format!("Cancelled{by}"), None)
        }
        "run.handed_back" => (
            "Handed back to the queue".to_owned(),
            Some(format!("its worker{node} was shutting down")),
        ),
        other => (other.to_owned(), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeDelta, Utc};
    use serde_json::json;
    use uuid::Uuid;

    fn entry(action: &str, metadata: Value) -> AuditEntryView {
        AuditEntryView {
            id: Uuid::now_v7(),
            action: action.to_owned(),
            actor_user_id: None,
            metadata,
            created_at: Utc::now(),
        }
    }

    #[test]
    fn rows_read_as_sentences() {
        let before = Some(Utc::now() - TimeDelta::milliseconds(2_500));
        let cases = [
            (
                entry(
                    "run.requested",
                    json!({"shots": 100, "backend_type": "simulator", "backend_name": "statevector", "circuit_version": 2}),
                ),
                "Requested",
                Some("100 shots on simulator/statevector, circuit version 2"),
            ),
            (
                entry("run.started", json!({"node": "n1", "by": "executor"})),
                "Claimed by a worker (n1)",
                Some("after 2.5 s in the queue"),
            ),
            (
                entry(
                    "run.completed",
                    json!({"execution_time": 1.2, "unique_states": 2, "shots": 100}),
                ),
                "Completed in 1.2 s",
                Some("2 distinct outcomes over 100 shots"),
            ),
            (
                entry(
                    "run.failed",
                    json!({"error_class": "timeout", "stage": "execute", "by": "watchdog", "reason": "lease_expired"}),
                ),
                "Failed with timeout while it was at the execute stage",
                Some("the watchdog recovered it: its worker stopped renewing its lease"),
            ),
            (
                entry("run.cancelled", json!({"by": "operator"})),
                "Cancelled by an operator",
                None,
            ),
        ];
        for (entry, what, detail) in cases {
            let (w, d) = describe(&entry, before);
            assert_eq!(w, what, "{}", entry.action);
            assert_eq!(d.as_deref(), detail, "{}", entry.action);
        }
    }
}
