//! `/api/runs…`: submit, read, list, cancel, audit timeline.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use uuid::Uuid;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::error::{ApiError, ErrorBody, respond};
use super::extract::{
    check_query_value, consent, idempotency_key, json_body, run_id, user, viewer, with_context,
};
use super::views::{
    AuditEntryView, AuditTimeline, ListRunsQuery, MemoryPageView, MemoryQuery, RunPage, RunView,
    SubmitHeaders, SubmitRun,
};
use crate::domain::{Parameters, RunStatus, User};
use crate::http::Context;
use crate::service::access::sees_submitter;
use crate::service::runs::{CircuitRef, ListQuery, MAX_MEMORY_PAGE, Submission};

pub fn routes(ctx: Arc<Context>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let submit = warp::path!("api" / "runs")
        .and(warp::post())
        .and(user(ctx.clone()))
        .and(consent())
        .and(idempotency_key())
        .and(json_body::<SubmitRun>(ctx.clone()))
        .and(with_context(ctx.clone()))
        .then(submit);
    let list = warp::path!("api" / "runs")
        .and(crate::http::get_or_head())
        .and(user(ctx.clone()))
        .and(warp::query::<BTreeMap<String, String>>())
        .and(with_context(ctx.clone()))
        .then(list);
    let get = warp::path!("api" / "runs" / String)
        .and(crate::http::get_or_head())
        .and(viewer(ctx.clone()))
        .and(with_context(ctx.clone()))
        .then(get);
    let cancel = warp::path!("api" / "runs" / String / "cancel")
        .and(warp::post())
        .and(user(ctx.clone()))
        .and(with_context(ctx.clone()))
        .then(cancel);
    let audit = warp::path!("api" / "runs" / String / "audit")
        .and(crate::http::get_or_head())
        .and(viewer(ctx.clone()))
        .and(with_context(ctx.clone()))
        .then(audit);
    let memory = warp::path!("api" / "runs" / String / "memory")
        .and(crate::http::get_or_head())
        .and(viewer(ctx.clone()))
        .and(warp::query::<BTreeMap<String, String>>())
        .and(with_context(ctx))
        .then(memory);
    submit
        .or(list)
        .unify()
        .or(get)
        .unify()
        .or(cancel)
        .unify()
        .or(audit)
        .unify()
        .or(memory)
        .unify()
}

/// `owner/name`: two non-empty parts around exactly one `/`.
pub fn parse_circuit_ref(value: &str) -> Result<CircuitRef, ApiError> {
    match value.split_once('/') {
        Some((owner, name)) if !owner.is_empty() && !name.is_empty() && !name.contains('/') => {
            Ok(CircuitRef::Name {
                owner: owner.to_owned(),
                name: name.to_owned(),
            })
        }
        _ => Err(ApiError::bad_request(
            "invalid_circuit",
            "`circuit` must be `owner/name`",
        )),
    }
}

/// Submit a circuit for execution.
#[utoipa::path(
    post, path = "/api/runs", tag = "runs",
    request_body = SubmitRun,
    params(SubmitHeaders),
    responses(
        (status = 201, description = "The run was created", body = RunView),
        (status = 200, description = "An earlier request with this Idempotency-Key created it", body = RunView),
        (status = 400, description = "Malformed body or header, unknown backend, shots out of the backend's range", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 404, description = "No such circuit or version (or a private circuit of someone else)", body = ErrorBody),
        (status = 408, description = "The body did not arrive in time", body = ErrorBody),
        (status = 413, description = "The body is larger than the server accepts", body = ErrorBody),
        (status = 415, description = "The body is not application/json", body = ErrorBody),
        (status = 422, description = "The Idempotency-Key was used for a different submission", body = ErrorBody),
        (status = 429, description = "Submitting too fast, or too many runs in flight", body = ErrorBody),
        (status = 503, description = "The queue is full or the database is unavailable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn submit(
    user: User,
    consent: bool,
    idempotency_key: Option<String>,
    body: SubmitRun,
    ctx: Arc<Context>,
) -> Response {
    respond(
        async {
            if body.name.is_some() {
                return Err(ApiError::bad_request(
                    "invalid_body",
                    "`name` names a run in a job: submit it with POST /api/jobs",
                ));
            }
            let submission = submission(body, consent, idempotency_key)?;
            let submitted = ctx.service.submit(&user, submission).await?;
            let status = if submitted.created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            // Where the run stands is not reckoned here, on the submission's hot path (a read of
            // every waiting user's queue): `GET /api/runs/{id}` and the event stream have it.
            Ok(warp::reply::with_status(
                warp::reply::json(&RunView::new(
                    &submitted.run,
                    &submitted.circuit,
                    true,
                    None,
                )),
                status,
            ))
        }
        .await,
    )
}

/// The submission `body` makes, with the request's consent and `Idempotency-Key`, after the
/// checks that need nothing but the body ([`check_submission`], [`check_parameters`],
/// [`check_seed`]). Its `name` is the caller's (a job's).
pub fn submission(
    body: SubmitRun,
    consent: bool,
    idempotency_key: Option<String>,
) -> Result<Submission, ApiError> {
    Ok(Submission {
        circuit: check_submission(&body)?,
        parameters: check_parameters(&body)?,
        seed: check_seed(&body)?,
        version: body.version,
        backend_type: body.backend.kind,
        backend_name: body.backend.name,
        shots: body.shots,
        consent,
        idempotency_key,
        memory: body.memory,
        options: body.options.into_iter().flatten().collect(),
    })
}

/// The submission's parameters as numbers; a value that is not a number is a 400 naming it.
pub fn check_parameters(body: &SubmitRun) -> Result<Parameters, ApiError> {
    body.parameters
        .iter()
        .flatten()
        .map(|(name, value)| match value.as_f64() {
            Some(number) => Ok((name.clone(), number)),
            None => Err(ApiError::bad_request(
                "invalid_parameters",
                format!("parameter `{name}` must be a number, not {value}"),
            )),
        })
        .collect()
}

/// The submission's seed: 0 to 2^63 - 1.
pub fn check_seed(body: &SubmitRun) -> Result<Option<u64>, ApiError> {
    body.seed
        .map(|seed| {
            u64::try_from(seed).map_err(|_| {
                ApiError::bad_request(
                    "invalid_seed",
                    "`seed` is a whole number from 0 to 2^63 - 1",
                )
            })
        })
        .transpose()
}

/// The checks of a submission's body that need nothing but the body: the circuit it names
/// (exactly one of `circuit_id` and `circuit`) and a version from 1.
pub fn check_submission(body: &SubmitRun) -> Result<CircuitRef, ApiError> {
    let circuit = match (body.circuit_id, body.circuit.as_deref()) {
        (Some(id), None) => CircuitRef::Id(id),
        (None, Some(name)) => parse_circuit_ref(name)?,
        _ => {
            return Err(ApiError::bad_request(
                "invalid_body",
                "name the circuit with exactly one of `circuit_id` or `circuit`",
            ));
        }
    };
    if body.version.is_some_and(|v| v < 1) {
        return Err(ApiError::bad_request(
            "invalid_version",
            "`version` starts at 1",
        ));
    }
    Ok(circuit)
}

/// Read a run. Private circuits' runs are 404 to all but the circuit's owner.
#[utoipa::path(
    get, path = "/api/runs/{id}", tag = "runs", operation_id = "get_run",
    params(("id" = String, Path, format = Uuid, description = "Run id (a malformed one is a 404)")),
    responses(
        (status = 200, body = RunView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security((), ("bearer" = []))
)]
async fn get(id: String, viewer: Option<User>, ctx: Arc<Context>) -> Response {
    respond(
        async {
            let (run, circuit) = ctx.service.run(viewer.as_ref(), run_id(&id)?).await?;
            let show = sees_submitter(viewer.as_ref(), &run, &circuit);
            let standing = ctx.service.standing(&run).await?;
            Ok(warp::reply::json(&RunView::new(
                &run,
                &circuit,
                show,
                standing.as_ref(),
            )))
        }
        .await,
    )
}

/// Cancel a pending or running run (its submitter only).
#[utoipa::path(
    post, path = "/api/runs/{id}/cancel", tag = "runs",
    params(("id" = String, Path, format = Uuid, description = "Run id (a malformed one is a 404)")),
    responses(
        (status = 200, body = RunView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "Already terminal", body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn cancel(id: String, user: User, ctx: Arc<Context>) -> Response {
    respond(
        async {
            let (run, circuit) = ctx.service.cancel(&user, run_id(&id)?).await?;
            Ok(warp::reply::json(&RunView::new(&run, &circuit, true, None)))
        }
        .await,
    )
}

/// A run's transition timeline from the audit log.
#[utoipa::path(
    get, path = "/api/runs/{id}/audit", tag = "runs",
    params(("id" = String, Path, format = Uuid, description = "Run id (a malformed one is a 404)")),
    responses(
        (status = 200, body = AuditTimeline), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security((), ("bearer" = []))
)]
async fn audit(id: String, viewer: Option<User>, ctx: Arc<Context>) -> Response {
    respond(
        async {
            let (run, circuit, entries) =
                ctx.service.run_audit(viewer.as_ref(), run_id(&id)?).await?;
            let show = sees_submitter(viewer.as_ref(), &run, &circuit);
            Ok(warp::reply::json(&AuditTimeline {
                run_id: run.id,
                entries: entries
                    .iter()
                    .map(|e| AuditEntryView::new(e, show))
                    .collect(),
            }))
        }
        .await,
    )
}

/// Every shot's outcome of a run that asked for `"memory": true`, in shot order, a page at a
/// time.
#[utoipa::path(
    get, path = "/api/runs/{id}/memory", tag = "runs",
    params(
        ("id" = String, Path, format = Uuid, description = "Run id (a malformed one is a 404)"),
        MemoryQuery,
    ),
    responses(
        (status = 200, body = MemoryPageView),
        (status = 400, description = "A malformed or unknown query parameter", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 404, description = "No such run (or one the caller may not see), or a run that did not ask for memory", body = ErrorBody),
        (status = 409, description = "`run_not_completed`: the run has not completed (a failed or cancelled run has no memory)", body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security((), ("bearer" = []))
)]
async fn memory(
    id: String,
    viewer: Option<User>,
    params: BTreeMap<String, String>,
    ctx: Arc<Context>,
) -> Response {
    respond(
        async {
            let (mut offset, mut limit) = (0, MAX_MEMORY_PAGE);
            for (key, value) in &params {
                check_query_value(key, value)?;
                let number = |min: u64, max: u64| {
                    value
                        .parse::<u64>()
                        .ok()
                        .filter(|n| (min..=max).contains(n))
                        .ok_or_else(|| {
                            ApiError::bad_request(
                                "invalid_query",
                                format!("{key} must be a whole number from {min} to {max}"),
                            )
                        })
                };
                match key.as_str() {
                    "offset" => offset = number(0, i64::MAX as u64)?,
                    "limit" => limit = number(1, MAX_MEMORY_PAGE)?,
                    other => {
                        return Err(ApiError::bad_request(
                            "invalid_query",
                            format!("unknown query parameter `{other}`"),
                        ));
                    }
                }
            }
            let page = ctx
                .service
                .run_memory(viewer.as_ref(), run_id(&id)?, offset, limit)
                .await?;
            Ok(warp::reply::json(&MemoryPageView::from(page)))
        }
        .await,
    )
}

const DEFAULT_PAGE: u64 = 20;
const MAX_PAGE: u64 = 100;

/// The opaque `next_cursor` of a page ending at `(created_at, id)`: base64url of
/// `MICROS.UUID`.
pub fn encode_cursor(created_at: DateTime<Utc>, id: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}.{id}", created_at.timestamp_micros()))
}

/// The `(created_at, id)` of a cursor [`encode_cursor`] made; `None` for anything else.
pub fn decode_cursor(cursor: &str) -> Option<(DateTime<Utc>, Uuid)> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).ok()?).ok()?;
    let (micros, id) = text.split_once('.')?;
    Some((
        DateTime::from_timestamp_micros(micros.parse().ok()?)?,
        Uuid::parse_str(id).ok()?,
    ))
}

/// The caller's own runs, newest first.
#[utoipa::path(
    get, path = "/api/runs", tag = "runs",
    params(ListRunsQuery),
    responses(
        (status = 200, body = RunPage),
        (status = 400, description = "A malformed or unknown query parameter", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 503, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn list(user: User, params: BTreeMap<String, String>, ctx: Arc<Context>) -> Response {
    respond(
        async {
            let query = parse_list_query(&params)?;
            let (page, more) = ctx.service.list_runs(&user, query).await?;
            let next_cursor = more
                .then(|| page.last().map(|(r, _)| encode_cursor(r.created_at, r.id)))
                .flatten();
            let runs = page
                .iter()
                .map(|(run, circuit)| RunView::new(run, circuit, true, None))
                .collect();
            Ok(warp::reply::json(&RunPage { runs, next_cursor }))
        }
        .await,
    )
}

/// The query of `GET /api/runs` (already split into keys and values): every key known, every
/// value well-formed.
pub fn parse_list_query(params: &BTreeMap<String, String>) -> Result<ListQuery, ApiError> {
    let mut query = ListQuery {
        status: None,
        circuit: None,
        backend: None,
        ended_since: None,
        before: None,
        limit: DEFAULT_PAGE,
    };
    for (key, value) in params {
        check_query_value(key, value)?;
        match key.as_str() {
            "status" => {
                query.status =
                    Some(value.parse::<RunStatus>().map_err(|e| {
                        ApiError::bad_request("invalid_query", format!("status: {e}"))
                    })?)
            }
            "circuit" => query.circuit = Some(parse_circuit_ref(value)?),
            "circuit_id" => {
                query.circuit = Some(CircuitRef::Id(Uuid::parse_str(value).map_err(|_| {
                    ApiError::bad_request("invalid_query", "circuit_id must be a UUID")
                })?))
            }
            "limit" => {
                query.limit = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=MAX_PAGE).contains(n))
                    .ok_or_else(|| {
                        ApiError::bad_request(
                            "invalid_query",
                            format!("limit must be 1–{MAX_PAGE}"),
                        )
                    })?
            }
            "cursor" => {
                query.before = Some(decode_cursor(value).ok_or_else(|| {
                    ApiError::bad_request("invalid_cursor", "the cursor is not one this API issued")
                })?)
            }
            other => {
                return Err(ApiError::bad_request(
                    "invalid_query",
                    format!("unknown query parameter `{other}`"),
                ));
            }
        }
    }
    Ok(query)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::extract::parse_json;

    /// `check_submission` of a JSON body: the circuit, or the error code.
    fn submission(json: &str) -> Result<CircuitRef, &'static str> {
        let body: SubmitRun = parse_json(json.as_bytes()).map_err(|e| e.code)?;
        check_submission(&body).map_err(|e| e.code)
    }

    #[test]
    fn submissions_name_exactly_one_circuit_and_a_version_from_1() {
        let backend = r#""backend": {"type": "simulator", "name": "statevector"}"#;
        let id = "018f3c1e-7b2a-7cde-8f00-0123456789ab";
        assert!(matches!(
            submission(&format!(r#"{{"circuit": "alice/bell", {backend}, "shots": 1}}"#)),
            Ok(CircuitRef::Name { owner, name }) if owner == "alice" && name == "bell"
        ));
        assert!(matches!(
            submission(&format!(r#"{{"circuit_id": "{id}", "version": 1, {backend}, "shots": 1}}"#)),
            Ok(CircuitRef::Id(got)) if got.to_string() == id
        ));
        for (body, code) in [
            (format!(r#"{{{backend}, "shots": 1}}"#), "invalid_body"),
            (
                format!(r#"{{"circuit_id": "{id}", "circuit": "a/b", {backend}, "shots": 1}}"#),
                "invalid_body",
            ),
            (
                format!(r#"{{"circuit": "a/b/c", {backend}, "shots": 1}}"#),
                "invalid_circuit",
            ),
            (
                format!(r#"{{"circuit": "/b", {backend}, "shots": 1}}"#),
                "invalid_circuit",
            ),
            (
                format!(r#"{{"circuit": "a/", {backend}, "shots": 1}}"#),
                "invalid_circuit",
            ),
            (
                format!(r#"{{"circuit": "ab", {backend}, "shots": 1}}"#),
                "invalid_circuit",
            ),
            (
                format!(r#"{{"circuit": "a/b", "version": 0, {backend}, "shots": 1}}"#),
                "invalid_version",
            ),
            (
                format!(r#"{{"circuit": "a/b", "version": -2147483648, {backend}, "shots": 1}}"#),
                "invalid_version",
            ),
        ] {
            assert_eq!(submission(&body).unwrap_err(), code, "{body}");
        }
    }

    #[test]
    fn hostile_submission_bodies_are_refused_with_the_right_code() {
        let backend = r#""backend": {"type": "simulator", "name": "statevector"}"#;
        for (body, code) in [
            (format!(r#"{{"circuit": "a/b", {backend}, "shots": -1}}"#), "invalid_body"),
            (
                format!(r#"{{"circuit": "a/b", {backend}, "shots": 18446744073709551616}}"#),
                "invalid_body",
            ),
            (format!(r#"{{"circuit": "a/b", {backend}, "shots": 1e400}}"#), "invalid_json"),
            (
                format!(r#"{{"circuit": "a/b", "version": 2147483648, {backend}, "shots": 1}}"#),
                "invalid_body",
            ),
            (
                format!(r#"{{"circuit": "a/b", {backend}, "shots": 1, "extra": null}}"#),
                "invalid_body",
            ),
            (
                r#"{"circuit": "a/b", "backend": {"type": "simulator", "name": "s", "x": 1}, "shots": 1}"#
                    .to_owned(),
                "invalid_body",
            ),
            (format!(r#"{{"circuit": "\ud800/b", {backend}, "shots": 1}}"#), "invalid_json"),
            // A string is expected: refused at the first `[`, however deep the nesting goes.
            (format!(r#"{{"circuit": {}, {backend}, "shots": 1}}"#, "[".repeat(10_000)), "invalid_body"),
            (format!(r#"{{"circuit_id": "nope", {backend}, "shots": 1}}"#), "invalid_body"),
        ] {
            assert_eq!(submission(&body).unwrap_err(), code, "{}", &body[..body.len().min(80)]);
        }
    }

    fn query(pairs: &[(&str, &str)]) -> Result<ListQuery, &'static str> {
        let params = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        parse_list_query(&params).map_err(|e| e.code)
    }

    #[test]
    fn list_queries_accept_only_known_well_formed_parameters() {
        let at = DateTime::from_timestamp_micros(1_764_000_000_123_456).unwrap();
        let id = Uuid::now_v7();
        let cursor = encode_cursor(at, id);
        let full = query(&[
            ("status", "completed"),
            ("circuit", "alice/bell"),
            ("limit", "100"),
            ("cursor", &cursor),
        ])
        .unwrap();
        assert_eq!(full.status, Some(RunStatus::Completed));
        assert!(matches!(full.circuit, Some(CircuitRef::Name { .. })));
        assert_eq!((full.limit, full.before), (100, Some((at, id))));
        assert_eq!(query(&[]).unwrap().limit, DEFAULT_PAGE);
        for (pairs, code) in [
            (&[("limit", "0")][..], "invalid_query"),
            (&[("limit", "101")], "invalid_query"),
            (&[("limit", "-1")], "invalid_query"),
            (&[("limit", "18446744073709551616")], "invalid_query"),
            (&[("status", "Completed")], "invalid_query"),
            (&[("circuit_id", "nope")], "invalid_query"),
            (&[("circuit", "a/b/c")], "invalid_circuit"),
            (&[("cursor", "!!!")], "invalid_cursor"),
            (&[("page", "2")], "invalid_query"),
            (&[("", "")], "invalid_query"),
        ] {
            assert_eq!(query(pairs).err(), Some(code), "{pairs:?}");
        }
    }

    #[test]
    fn cursors_at_the_edges_of_time_decode_or_are_refused_without_panicking() {
        let id = "018f3c1e-7b2a-7cde-8f00-0123456789ab";
        let cursor = |text: &str| URL_SAFE_NO_PAD.encode(text);
        // Beyond chrono's range (about ±262 000 years): refused, not a panic.
        for micros in [i64::MIN, i64::MAX] {
            assert_eq!(decode_cursor(&cursor(&format!("{micros}.{id}"))), None);
        }
        // Inside it, down to the first and last representable microsecond: round trips.
        for micros in [
            DateTime::<Utc>::MIN_UTC.timestamp_micros(),
            DateTime::<Utc>::MAX_UTC.timestamp_micros(),
            0,
            -1,
        ] {
            let (at, got) = decode_cursor(&cursor(&format!("{micros}.{id}"))).unwrap();
            assert_eq!(
                (at.timestamp_micros(), got.to_string()),
                (micros, id.to_owned())
            );
            assert_eq!(decode_cursor(&encode_cursor(at, got)), Some((at, got)));
        }
        // Other spellings of the same values decode to them (they are not canonical, but
        // they name a real position, so the page they give is right).
        for text in [
            format!("+1764000000123456.{id}"),
            format!("1764000000123456.{{{id}}}"),
            format!("1764000000123456.urn:uuid:{id}"),
        ] {
            assert!(decode_cursor(&cursor(&text)).is_some(), "{text}");
        }
        for bad in [
            cursor("1764000000123456"),
            cursor(&format!(".{id}")),
            cursor(&format!("1.5.{id}")),
            cursor(&format!("9223372036854775808.{id}")),
            format!("{}=", cursor(&format!("1.{id}"))),
            URL_SAFE_NO_PAD.encode([0xff, b'.', 0xfe]),
        ] {
            assert_eq!(decode_cursor(&bad), None, "{bad}");
        }
    }

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let at = DateTime::from_timestamp_micros(1_764_000_000_123_456).unwrap();
        let id = Uuid::now_v7();
        assert_eq!(decode_cursor(&encode_cursor(at, id)), Some((at, id)));
        for bad in ["", "x", "!!!", &URL_SAFE_NO_PAD.encode("12.notauuid")] {
            assert_eq!(decode_cursor(bad), None, "{bad}");
        }
    }
}
