//! What a circuit's owner does from its page: [`section`] (shown to the owner only) holds the
//! visibility form, `POST /{owner}/{circuit}/visibility` (`Service::set_circuit_visibility`,
//! as `PUT /api/circuits/{owner}/{name}/visibility`), and the new-version form,
//! `POST /{owner}/{circuit}/versions` (`Service::add_circuit_version`, as `POST
//! /api/circuits/{owner}/{name}/versions`). Both answer 303 to the circuit page; a refused
//! version shows its form again as typed with the reason (a malformed source's at its line);
//! 401, 403 (another's circuit) and 404 (one the visitor may not see) are the API's.

use std::sync::Arc;

use maud::{Markup, html};
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::layout::error_page;
use super::upload::{
    SourceDraft, SourceForm, Upload, parse_visibility, refused_page, source_form, upload,
};
use super::{Form, Visitor, form, owner, redirect, same_origin, visitor};
use crate::domain::{Circuit, CircuitVersion, Visibility};
use crate::http::Context;
use crate::http::error::{ApiError, Kind};
use crate::http::extract::with_context;

pub fn routes(ctx: Arc<Context>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let visibility = warp::post()
        .and(owner())
        .and(warp::path::param::<String>())
        .and(warp::path("visibility"))
        .and(warp::path::end())
        .and(same_origin())
        .and(visitor())
        .and(form())
        .and(with_context(ctx.clone()))
        .then(set_visibility);
    let version = warp::post()
        .and(owner())
        .and(warp::path::param::<String>())
        .and(warp::path("versions"))
        .and(warp::path::end())
        .and(same_origin())
        .and(visitor())
        .and(upload())
        .and(with_context(ctx))
        .then(add_version);
    visibility.or(version).unify()
}

/// The owner's part of a circuit page: make it public or private, add a version (offering
/// `shown`'s format and framework).
pub fn section(circuit: &Circuit, shown: &CircuitVersion, frameworks: &[String]) -> Markup {
    let path = format!("/{}/{}", circuit.owner_handle, circuit.name);
    let other = match circuit.visibility {
        Visibility::Public => Visibility::Private,
        Visibility::Private => Visibility::Public,
    };
    html! {
        section.owner id="owner" {
            h2 { "Your circuit" }
            form.inline method="post" action={ (path) "/visibility" } id="visibility-form" {
                "It is " strong { (circuit.visibility.as_str()) }
                @if circuit.visibility == Visibility::Private { ": only you see it and its runs. " }
                @else { ": anyone sees it and its runs. " }
                input type="hidden" name="visibility" value=(other.as_str());
                button.secondary type="submit" { "Make it " (other.as_str()) }
            }
            details id="new-version" {
                summary { "Upload a new version" }
                (source_form(
                    SourceForm::NewVersion { owner: &circuit.owner_handle, name: &circuit.name },
                    &SourceDraft::like(&shown.manifest),
                    frameworks,
                ))
            }
        }
    }
}

async fn set_visibility(
    owner: String,
    name: String,
    allowed: Result<(), ApiError>,
    visitor: Visitor,
    form: Form,
    ctx: Arc<Context>,
) -> Response {
    let changed = async {
        let user = visitor.poster(&ctx, allowed).await?;
        let visibility = parse_visibility(form.get("visibility").map(String::as_str))?;
        Ok::<_, ApiError>(
            ctx.service
                .set_circuit_visibility(&user, &owner, &name, visibility)
                .await?,
        )
    }
    .await;
    match changed {
        Ok(circuit) => redirect(&format!("/{}/{}", circuit.owner_handle, circuit.name), &[]),
        Err(error) => error_page(&error),
    }
}

async fn add_version(
    owner: String,
    name: String,
    allowed: Result<(), ApiError>,
    visitor: Visitor,
    upload: Upload,
    ctx: Arc<Context>,
) -> Response {
    let user = match visitor.poster(&ctx, allowed).await {
        Ok(user) => user,
        Err(error) => return error_page(&error),
    };
    let upload = upload.fields(&ctx).await;
    let draft = upload.as_ref().map(SourceDraft::posted).unwrap_or_default();
    let added = async {
        upload?;
        Ok::<_, ApiError>(
            ctx.service
                .add_circuit_version(&user, &owner, &name, draft.source()?, &draft.manifest())
                .await?,
        )
    }
    .await;
    match added {
        Ok((circuit, _)) => redirect(&format!("/{}/{}", circuit.owner_handle, circuit.name), &[]),
        Err(error) if matches!(error.kind, Kind::Forbidden | Kind::NotFound) => error_page(&error),
        Err(error) => refused_page(
            &visitor,
            &user,
            SourceForm::NewVersion {
                owner: &owner,
                name: &name,
            },
            &draft.refused(&error),
            &ctx.service.rules().frameworks,
            &error,
        ),
    }
}
