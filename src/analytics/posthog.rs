//! PostHog's batch capture API: `POST {host}/batch/` with
//! `{"api_key", "batch": [{"event", "distinct_id", "properties", "timestamp", "uuid"}]}`.
//! Every event carries `$process_person_profile: false` (no person profiles for server-side
//! reliability events) and its deterministic uuid, so PostHog drops redeliveries.

use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use serde::Serialize;
use serde_json::Value;

use super::{Delivery, Sink};
use crate::domain::OutboxEvent;

pub struct PostHog {
    client: reqwest::Client,
    url: String,
    api_key: String,
}

#[derive(Serialize)]
struct Batch<'a> {
    api_key: &'a str,
    batch: Vec<Event<'a>>,
}

#[derive(Serialize)]
struct Event<'a> {
    event: &'a str,
    distinct_id: &'a str,
    properties: Value,
    timestamp: String,
    uuid: uuid::Uuid,
}

impl PostHog {
    pub fn new(host: &str, api_key: &str, timeout: Duration) -> anyhow::Result<PostHog> {
        // reqwest is built without a default TLS provider; use ring (already in the tree).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .user_agent(concat!("qrun/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(PostHog {
            client,
            url: format!("{}/batch/", host.trim_end_matches('/')),
            api_key: api_key.to_owned(),
        })
    }

    fn body<'a>(&'a self, events: &'a [OutboxEvent]) -> Batch<'a> {
        Batch {
            api_key: &self.api_key,
            batch: events
                .iter()
                .map(|e| {
                    let mut properties = e.properties.clone();
                    if let Value::Object(map) = &mut properties {
                        map.insert("$process_person_profile".into(), Value::Bool(false));
                    }
                    Event {
                        event: &e.event,
                        distinct_id: &e.distinct_id,
                        properties,
                        timestamp: e.created_at.to_rfc3339(),
                        uuid: e.id,
                    }
                })
                .collect(),
        }
    }
}

/// `Retry-After` in seconds (the HTTP-date form is treated as absent).
fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    response
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

impl Sink for PostHog {
    fn send<'a>(&'a self, events: &'a [OutboxEvent]) -> BoxFuture<'a, Delivery> {
        async move {
            let response = match self
                .client
                .post(&self.url)
                .json(&self.body(events))
                .send()
                .await
            {
                Ok(response) => response,
                Err(err) => {
                    return Delivery::Retry {
                        after: None,
                        error: format!("request failed: {err}"),
                    };
                }
            };
            let status = response.status();
            if status.is_success() {
                return Delivery::Delivered;
            }
            let after = retry_after(&response);
            let text: String = response
                .text()
                .await
                .unwrap_or_default()
                .chars()
                .take(500)
                .collect();
            let error = format!("PostHog answered {status}: {text}");
            if status.as_u16() == 429 || status.is_server_error() || status.as_u16() == 408 {
                Delivery::Retry { after, error }
            } else {
                Delivery::Rejected { error }
            }
        }
        .boxed()
    }
}
