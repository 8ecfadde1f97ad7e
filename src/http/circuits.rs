//! `/api/circuits…`: create, add versions, change visibility, read.

use std::sync::Arc;

use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::error::{ErrorBody, respond};
use super::extract::{json_body, user, viewer, with_context};
use super::views::{AddVersion, CircuitView, CreateCircuit, ManifestView, SetVisibility};
use crate::domain::{Manifest, User};
use crate::http::Context;

pub fn routes(ctx: Arc<Context>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let create = warp::path!("api" / "circuits")
        .and(warp::post())
        .and(user(ctx.clone()))
        .and(json_body::<CreateCircuit>(ctx.clone()))
        .and(with_context(ctx.clone()))
        .then(create);
    let add_version = warp::path!("api" / "circuits" / String / String / "versions")
        .and(warp::post())
        .and(user(ctx.clone()))
        .and(json_body::<AddVersion>(ctx.clone()))
        .and(with_context(ctx.clone()))
        .then(add_version);
    let visibility = warp::path!("api" / "circuits" / String / String / "visibility")
        .and(warp::put())
        .and(user(ctx.clone()))
        .and(json_body::<SetVisibility>(ctx.clone()))
        .and(with_context(ctx.clone()))
        .then(set_visibility);
    let get = warp::path!("api" / "circuits" / String / String)
        .and(crate::http::get_or_head())
        .and(viewer(ctx.clone()))
        .and(with_context(ctx))
        .then(get);
    create
        .or(add_version)
        .unify()
        .or(visibility)
        .unify()
        .or(get)
        .unify()
}

fn manifest(m: ManifestView) -> Manifest {
    Manifest {
        framework: m.framework,
        format: m.format,
    }
}

/// Create a circuit with its first version. The source is syntax-checked (400 with line:col).
#[utoipa::path(
    post, path = "/api/circuits", tag = "circuits",
    request_body = CreateCircuit,
    responses(
        (status = 201, body = CircuitView),
        (status = 400, description = "Malformed body, name, manifest or source", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 408, description = "The body did not arrive in time", body = ErrorBody),
        (status = 409, description = "Name taken", body = ErrorBody),
        (status = 413, description = "The body is larger than the server accepts", body = ErrorBody),
        (status = 415, description = "The body is not application/json", body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn create(user: User, body: CreateCircuit, ctx: Arc<Context>) -> Response {
    respond(
        async {
            let (circuit, version) = ctx
                .service
                .create_circuit(
                    &user,
                    &body.name,
                    body.visibility.into(),
                    &body.source,
                    &manifest(body.manifest),
                )
                .await?;
            Ok(warp::reply::with_status(
                warp::reply::json(&CircuitView::new(&circuit, &version, false)),
                StatusCode::CREATED,
            ))
        }
        .await,
    )
}

/// Add a version to one of your circuits.
#[utoipa::path(
    post, path = "/api/circuits/{owner}/{name}/versions", tag = "circuits",
    request_body = AddVersion,
    params(
        ("owner" = String, Path, description = "The owner's handle"),
        ("name" = String, Path, description = "The circuit's name"),
    ),
    responses(
        (status = 201, body = CircuitView),
        (status = 400, description = "Malformed body, manifest or source", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, description = "Not the circuit's owner", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 408, description = "The body did not arrive in time", body = ErrorBody),
        (status = 413, description = "The body is larger than the server accepts", body = ErrorBody),
        (status = 415, description = "The body is not application/json", body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn add_version(
    owner: String,
    name: String,
    user: User,
    body: AddVersion,
    ctx: Arc<Context>,
) -> Response {
    respond(
        async {
            let (circuit, version) = ctx
                .service
                .add_circuit_version(&user, &owner, &name, &body.source, &manifest(body.manifest))
                .await?;
            Ok(warp::reply::with_status(
                warp::reply::json(&CircuitView::new(&circuit, &version, false)),
                StatusCode::CREATED,
            ))
        }
        .await,
    )
}

/// Make one of your circuits public or private: a private circuit and its runs are 404 to
/// everyone but you from the next request on, on every node.
#[utoipa::path(
    put, path = "/api/circuits/{owner}/{name}/visibility", tag = "circuits",
    request_body = SetVisibility,
    params(
        ("owner" = String, Path, description = "The owner's handle"),
        ("name" = String, Path, description = "The circuit's name"),
    ),
    responses(
        (status = 200, description = "The circuit at its latest version, without its source", body = CircuitView),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, description = "Not the circuit's owner", body = ErrorBody),
        (status = 404, description = "No such circuit, or another user's private one", body = ErrorBody),
        (status = 408, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn set_visibility(
    owner: String,
    name: String,
    user: User,
    body: SetVisibility,
    ctx: Arc<Context>,
) -> Response {
    respond(
        async {
            ctx.service
                .set_circuit_visibility(&user, &owner, &name, body.visibility.into())
                .await?;
            let (circuit, version) = ctx.service.circuit(Some(&user), &owner, &name).await?;
            Ok(warp::reply::json(&CircuitView::new(
                &circuit, &version, false,
            )))
        }
        .await,
    )
}

/// A circuit with its latest version's source. Private circuits are 404 to all but the owner.
#[utoipa::path(
    get, path = "/api/circuits/{owner}/{name}", tag = "circuits", operation_id = "get_circuit",
    params(
        ("owner" = String, Path, description = "The owner's handle"),
        ("name" = String, Path, description = "The circuit's name"),
    ),
    responses(
        (status = 200, body = CircuitView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security((), ("bearer" = []))
)]
async fn get(owner: String, name: String, viewer: Option<User>, ctx: Arc<Context>) -> Response {
    respond(
        async {
            let (circuit, version) = ctx.service.circuit(viewer.as_ref(), &owner, &name).await?;
            Ok(warp::reply::json(&CircuitView::new(
                &circuit, &version, true,
            )))
        }
        .await,
    )
}
