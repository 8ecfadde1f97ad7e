//! `/api/jobs…` (issue 30): submit a batch of runs as one job, read it, list one's own, replace
//! its tags.

use std::collections::BTreeMap;
use std::sync::Arc;

use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::error::{ApiError, ErrorBody, respond};
use super::extract::{
    check_query_value, consent, idempotency_key, json_body, path_id, user, with_context,
};
use super::runs::{decode_cursor, encode_cursor, submission};
use super::views::{JobPage, JobSummaryView, JobTags, JobView, SubmitHeaders, SubmitJob};
use crate::domain::User;
use crate::http::Context;
use crate::service::jobs::JobSubmission;

pub fn routes(ctx: Arc<Context>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let submit = warp::path!("api" / "jobs")
        .and(warp::post())
        .and(user(ctx.clone()))
        .and(consent())
        .and(idempotency_key())
        .and(json_body::<SubmitJob>(ctx.clone()))
        .and(with_context(ctx.clone()))
        .then(submit);
    let list = warp::path!("api" / "jobs")
        .and(crate::http::get_or_head())
        .and(user(ctx.clone()))
        .and(warp::query::<BTreeMap<String, String>>())
        .and(with_context(ctx.clone()))
        .then(list);
    let get = warp::path!("api" / "jobs" / String)
        .and(crate::http::get_or_head())
        .and(user(ctx.clone()))
        .and(with_context(ctx.clone()))
        .then(get);
    let tags = warp::path!("api" / "jobs" / String / "tags")
        .and(warp::put())
        .and(user(ctx.clone()))
        .and(json_body::<JobTags>(ctx.clone()))
        .and(with_context(ctx))
        .then(put_tags);
    submit.or(list).unify().or(get).unify().or(tags).unify()
}

/// Submit runs together as one job: every run is checked as `POST /api/runs` checks one, and
/// the job and all its runs are created in one transaction, or none of them.
#[utoipa::path(
    post, path = "/api/jobs", tag = "jobs", operation_id = "submit_job",
    request_body = SubmitJob,
    params(SubmitHeaders),
    responses(
        (status = 201, description = "The job and its runs were created", body = JobView),
        (status = 200, description = "An earlier request with this Idempotency-Key created it", body = JobView),
        (status = 400, description = "Malformed body or header; a run refused as `POST /api/runs` refuses one (its message starts `runs[i]: `); `invalid_job`: no runs, too many, bad tags, or metadata over 65536 bytes", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 404, description = "A run names no such circuit or version (or someone else's private circuit)", body = ErrorBody),
        (status = 408, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, description = "The Idempotency-Key was used for a different job", body = ErrorBody),
        (status = 429, body = ErrorBody), (status = 503, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn submit(
    user: User,
    consent: bool,
    idempotency_key: Option<String>,
    body: SubmitJob,
    ctx: Arc<Context>,
) -> Response {
    respond(
        async {
            let runs = body
                .runs
                .into_iter()
                .map(|mut run| {
                    let name = run.name.take();
                    Ok((name, submission(run, consent, None)?))
                })
                .collect::<Result<_, ApiError>>()?;
            let created = ctx
                .service
                .submit_job(
                    &user,
                    JobSubmission {
                        runs,
                        tags: body.tags,
                        metadata: body.metadata,
                        idempotency_key,
                    },
                )
                .await?;
            let status = if created.created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            Ok(warp::reply::with_status(
                warp::reply::json(&JobView::new(&created.job, &created.circuits)),
                status,
            ))
        }
        .await,
    )
}

/// One of the caller's jobs: its runs in submission order with their names, statuses and
/// results, how many are in each status, and its usage.
#[utoipa::path(
    get, path = "/api/jobs/{id}", tag = "jobs", operation_id = "get_job",
    params(("id" = String, Path, format = Uuid, description = "Job id (a malformed one, or another user's job, is a 404)")),
    responses(
        (status = 200, body = JobView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn get(id: String, user: User, ctx: Arc<Context>) -> Response {
    respond(
        async {
            let job = ctx.service.job(&user, path_id(&id, "job")?).await?;
            Ok(warp::reply::json(&JobView::new(&job.job, &job.circuits)))
        }
        .await,
    )
}

/// Replace one of the caller's jobs' tags (Qiskit's `job.update_tags`).
#[utoipa::path(
    put, path = "/api/jobs/{id}/tags", tag = "jobs", operation_id = "put_job_tags",
    request_body = JobTags,
    params(("id" = String, Path, format = Uuid, description = "Job id (a malformed one, or another user's job, is a 404)")),
    responses(
        (status = 200, body = JobView),
        (status = 400, description = "`invalid_job`: bad tags", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 408, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn put_tags(id: String, user: User, body: JobTags, ctx: Arc<Context>) -> Response {
    respond(
        async {
            let job = ctx
                .service
                .set_job_tags(&user, path_id(&id, "job")?, body.tags)
                .await?;
            Ok(warp::reply::json(&JobView::new(&job.job, &job.circuits)))
        }
        .await,
    )
}

const DEFAULT_PAGE: u64 = 20;
const MAX_PAGE: u64 = 100;

/// The caller's jobs, newest first (Qiskit's `provider.jobs(tags=…, limit=…)`).
#[utoipa::path(
    get, path = "/api/jobs", tag = "jobs", operation_id = "list_jobs",
    params(
        ("tag" = Option<String>, Query, description = "Only jobs with this tag", pattern = "^[^\\u0000]*$"),
        ("limit" = Option<u64>, Query, minimum = 1, maximum = 100, description = "Page size, 1–100 (default 20)"),
        ("cursor" = Option<String>, Query, pattern = "^[A-Za-z0-9_-]+$", description = "The `next_cursor` of the previous page"),
    ),
    responses(
        (status = 200, body = JobPage),
        (status = 400, description = "A malformed or unknown query parameter", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 503, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn list(user: User, params: BTreeMap<String, String>, ctx: Arc<Context>) -> Response {
    respond(
        async {
            let (mut tag, mut limit, mut before) = (None, DEFAULT_PAGE, None);
            for (key, value) in &params {
                check_query_value(key, value)?;
                match key.as_str() {
                    "tag" => tag = Some(value.as_str()),
                    "limit" => {
                        limit = value
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
                        before = Some(decode_cursor(value).ok_or_else(|| {
                            ApiError::bad_request(
                                "invalid_cursor",
                                "the cursor is not one this API issued",
                            )
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
            let (page, more) = ctx.service.jobs(&user, tag, before, limit).await?;
            let next_cursor = more
                .then(|| page.last().map(|j| encode_cursor(j.created_at, j.id)))
                .flatten();
            Ok(warp::reply::json(&JobPage {
                jobs: page.iter().map(JobSummaryView::from).collect(),
                next_cursor,
            }))
        }
        .await,
    )
}
