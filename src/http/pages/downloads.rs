//! `GET /{owner}/{circuit}/runs/{id}/counts.json` and `…/counts.csv`: a completed run's counts
//! as a file to save (`Content-Disposition: attachment`), linked from the run page. The same
//! visibility as `GET /api/runs/{id}` (the same service call): 404 for a run the viewer may not
//! see or one under another circuit's path; 409 `run_not_completed` before the run completed
//! (a failed or cancelled run has no counts). The counts are the API's `results.counts`,
//! keyed like Qiskit's `get_counts()`, in key order.
//!
//! - JSON: `{"run_id", "circuit": "owner/name", "circuit_version", "shots", "counts": {key: n}}`.
//! - CSV (RFC 4180): a header `outcome,count`, then one row per key.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::json;
use warp::http::{HeaderValue, StatusCode};
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::layout::error_page;
use super::{Visitor, owner, visitor};
use crate::domain::RunStatus;
use crate::http::Context;
use crate::http::error::{ApiError, Kind};
use crate::http::extract::{run_id, with_context};

/// A download's format, named by the path's last segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `counts.json`
    Json,
    /// `counts.csv`
    Csv,
}

impl Format {
    fn file(self) -> &'static str {
        match self {
            Format::Json => "counts.json",
            Format::Csv => "counts.csv",
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Csv => "text/csv; charset=utf-8",
        }
    }
}

pub fn routes(ctx: Arc<Context>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let format = warp::path(Format::Json.file())
        .map(|| Format::Json)
        .or(warp::path(Format::Csv.file()).map(|| Format::Csv))
        .unify();
    crate::http::get_or_head()
        .and(owner())
        .and(warp::path::param::<String>())
        .and(warp::path("runs"))
        .and(warp::path::param::<String>())
        .and(format)
        .and(warp::path::end())
        .and(visitor())
        .and(with_context(ctx))
        .then(download)
}

async fn download(
    owner: String,
    name: String,
    id: String,
    format: Format,
    visitor: Visitor,
    ctx: Arc<Context>,
) -> Response {
    let file = async {
        let viewer = visitor.viewer(&ctx).await?;
        let (run, circuit) = ctx.service.run(viewer.as_ref(), run_id(&id)?).await?;
        if circuit.owner_handle != owner || circuit.name != name {
            return Err(ApiError::not_found("run"));
        }
        let results = match (&run.results, run.status) {
            (Some(results), RunStatus::Completed) => results,
            _ => {
                return Err(ApiError::new(
                    Kind::Conflict,
                    "run_not_completed",
                    format!(
                        "the run is {}: its counts exist once it has completed",
                        run.status.as_str()
                    ),
                ));
            }
        };
        let body = match format {
            Format::Json => json!({
                "run_id": run.id,
                "circuit": format!("{owner}/{name}"),
                "circuit_version": run.spec.circuit_version,
                "shots": results.shots,
                "counts": results.counts,
            })
            .to_string(),
            Format::Csv => csv(&results.counts),
        };
        Ok(attachment(
            format,
            &format!("run-{}-{}", run.id, format.file()),
            body,
        ))
    }
    .await;
    file.unwrap_or_else(|error| error_page(&error))
}

/// The counts as CSV: `outcome,count`, then a row per key (a key is quoted when it holds a
/// comma, a quote or a line break, RFC 4180 §2).
fn csv(counts: &BTreeMap<String, u64>) -> String {
    let mut out = String::from("outcome,count\r\n");
    for (key, n) in counts {
        if key.contains([',', '"', '\r', '\n']) {
            out.push_str(&format!("\"{}\"", key.replace('"', "\"\"")));
        } else {
            out.push_str(key);
        }
        out.push_str(&format!(",{n}\r\n"));
    }
    out
}

/// A 200 file named `filename` (letters, digits, `-` and `.` only, so no quoting is needed).
fn attachment(format: Format, filename: &str, body: String) -> Response {
    let mut response = Response::new(body.into());
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(
        "content-type",
        HeaderValue::from_static(format.content_type()),
    );
    if let Ok(disposition) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\""))
    {
        headers.insert("content-disposition", disposition);
    }
    headers.insert("cache-control", HeaderValue::from_static("no-store"));
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_has_a_header_and_quotes_only_what_needs_it() {
        let counts = BTreeMap::from([
            ("00 1".to_owned(), 3),
            ("11".to_owned(), 7),
            ("a,\"b".to_owned(), 1),
        ]);
        assert_eq!(
            csv(&counts),
            "outcome,count\r\n00 1,3\r\n11,7\r\n\"a,\"\"b\",1\r\n"
        );
    }
}
