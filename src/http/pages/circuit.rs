//! `GET /{owner}/{circuit}[?version=N]`: a circuit's page — its source with line numbers (the
//! latest version, or `N` from the version picker), the form to run it (signed in), and its
//! most recent runs, newest first, with live badges, and for its owner the owner's section
//! (`circuit_owner`: visibility, a new version). A private circuit's page is 404 to everyone
//! but its owner, like its runs; so is a version it does not have.
//!
//! The run form comes before the source in the document (first at 390 px, beside it wider),
//! so the keyboard reaches it in a few stops; the source is one tab stop (a scrollable
//! region), its line numbers link to `#Ln` without being tab stops each, and "Go to line"
//! (`?line=N`, a 303 to `#LN`) reaches any line from the keyboard, without script.

use std::sync::Arc;

use maud::{Markup, html};
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::form::{Draft, run_form};
use super::layout::{Live, Shell, page, run_badge, time};
use super::{Visitor, owner, redirect, render, visitor};
use crate::domain::{Circuit, CircuitVersion, Run, User, qpy};
use crate::http::Context;
use crate::http::error::ApiError;
use crate::http::extract::with_context;
use crate::service::runs::declared_inputs;

/// Runs listed at most (one index range scan of `runs_circuit_created_idx`).
pub const RECENT: u64 = 50;

pub fn routes(ctx: Arc<Context>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    crate::http::get_or_head()
        .and(owner())
        .and(warp::path::param::<String>())
        .and(warp::path::end())
        .and(
            warp::query::<std::collections::HashMap<String, String>>()
                .or(warp::any().map(Default::default))
                .unify(),
        )
        .and(visitor())
        .and(with_context(ctx))
        .then(handle)
}

async fn handle(
    owner: String,
    name: String,
    query: std::collections::HashMap<String, String>,
    visitor: Visitor,
    ctx: Arc<Context>,
) -> Response {
    if let Some(anchor) = line_anchor(&owner, &name, &query) {
        return redirect(&anchor, &[]);
    }
    render(
        async {
            let viewer = visitor.viewer(&ctx).await?;
            // `?version=N` picks a version; anything else there is a version that does not
            // exist. No `version` is the latest (the picker's links leave it out).
            let version = match query.get("version") {
                None => None,
                Some(v) => Some(
                    v.parse::<i32>()
                        .map_err(|_| ApiError::not_found("circuit version"))?,
                ),
            };
            page_for(
                &ctx,
                &visitor,
                viewer.as_ref(),
                &owner,
                &name,
                version,
                &Draft::default(),
            )
            .await
        }
        .await,
    )
}

/// Where "Go to line" (`?line=N`, N ≥ 1) goes: the page at the same `version`, at `#LN`;
/// `None` without a (well-formed) line, which shows the page.
fn line_anchor(
    owner: &str,
    name: &str,
    query: &std::collections::HashMap<String, String>,
) -> Option<String> {
    let line = query
        .get("line")?
        .trim()
        .parse::<u32>()
        .ok()
        .filter(|n| *n > 0)?;
    let version = query
        .get("version")
        .and_then(|v| v.parse::<i32>().ok())
        .map(|v| format!("?version={v}"))
        .unwrap_or_default();
    Some(format!("/{owner}/{name}{version}#L{line}"))
}

/// The circuit page of `owner/name` at `version` (`None`: the latest) as `viewer` sees it,
/// with the run form holding `draft`. Errors: 404 for a circuit the viewer may not see or a
/// version it does not have; the database's.
pub async fn page_for(
    ctx: &Context,
    visitor: &Visitor,
    viewer: Option<&User>,
    owner: &str,
    name: &str,
    version: Option<i32>,
    draft: &Draft,
) -> Result<Markup, ApiError> {
    let (circuit, shown, latest) = ctx.service.circuit_at(viewer, owner, name, version).await?;
    let (_, runs) = ctx
        .service
        .recent_runs_of_circuit(viewer, owner, name, RECENT)
        .await?;
    let form = match viewer {
        Some(_) => Some(run_form(
            &circuit,
            &shown,
            &ctx.service.rules().backends,
            &declared_inputs(&shown).await?,
            draft,
        )),
        None => None,
    };
    Ok(circuit_page(
        &visitor.shell(viewer),
        &circuit,
        &shown,
        latest,
        form,
        &runs,
        &ctx.service.rules().frameworks,
    ))
}

fn circuit_page(
    shell: &Shell,
    circuit: &Circuit,
    shown: &CircuitVersion,
    latest: i32,
    form: Option<Markup>,
    runs: &[Run],
    frameworks: &[String],
) -> Markup {
    let path = format!("/{}/{}", circuit.owner_handle, circuit.name);
    let body = html! {
        p.crumbs { (circuit.owner_handle) " / " (circuit.name) " · " (circuit.visibility.as_str()) }
        h1 { (circuit.owner_handle) "/" (circuit.name) }
        div.split {
            section.run-pane {
                h2 { "Run it" }
                @match form {
                    Some(form) => {
                        (form)
                        p.note { "Your analytics choice (" (consent_word(shell.consent)) ") is recorded with the run." }
                    }
                    None => {
                        p.card { a href={ "/login?next=" (path) } { "Log in" } " to run this circuit." }
                    }
                }
            }
            section.source-pane {
                div.bar {
                    h2 { "Source" }
                    (version_picker(&path, shown.version, latest))
                }
                (jump_form(&path, shown.version, latest, shown.source.lines().count()))
                p.note {
                    "Version " (shown.version)
                    @if shown.version == latest { " (latest)" } @else { " of " (latest) }
                    " · " (shown.manifest.framework) " · " code { (shown.manifest.format) }
                    " · uploaded " (time(Some(shown.created_at)))
                }
                (source(&shown.source, &shown.manifest.format, shown.version))
            }
        }
        @if shell.viewer.is_some_and(|v| v.id == circuit.owner_id) { (super::circuit_owner::section(circuit, shown, frameworks)) }
        h2 { "Recent runs" }
        @if runs.is_empty() {
            p.card { "No runs yet." }
        } @else {
            div.scroll role="region" tabindex="0" aria-label="Recent runs (scrolls sideways)" {
                table.card {
                    thead { tr { th { "run" } th { "status" } th { "version" } th { "backend" } th.num { "shots" } th { "created" } } }
                    tbody {
                        @for run in runs {
                            tr {
                                td.mono { a href={ (path) "/runs/" (run.id) } { (run.id) } }
                                td { (run_badge(run, None)) }
                                td.num { (run.spec.circuit_version) }
                                td.mono { (run.spec.backend_type) "/" (run.spec.backend_name) }
                                td.num { (run.spec.shots) }
                                td { (time(Some(run.created_at))) }
                            }
                        }
                    }
                }
            }
            @if runs.len() as u64 == RECENT {
                p.note { "The " (RECENT) " most recent runs." }
            }
        }
    };
    page(
        shell,
        &format!("{}/{}", circuit.owner_handle, circuit.name),
        &Live::runs(runs),
        body,
    )
}

/// What the banner's choice means for a run: consent only when granted.
fn consent_word(consent: Option<bool>) -> &'static str {
    match consent {
        Some(true) => "allowed",
        Some(false) => "declined",
        None => "not chosen, so declined",
    }
}

/// Every version, newest first, as a GET form (no script needed); the latest is the page
/// without `?version`.
fn version_picker(path: &str, shown: i32, latest: i32) -> Markup {
    html! {
        @if latest > 1 {
            form.picker method="get" action=(path) {
                label {
                    "Version "
                    select name="version" {
                        @for v in (1..=latest).rev() {
                            option value=(v) selected[v == shown] {
                                (v) @if v == latest { " (latest)" }
                            }
                        }
                    }
                }
                " "
                button.secondary type="submit" { "Show" }
                @if shown != latest { " " a href=(path) { "latest" } }
            }
        }
    }
}

/// "Go to line": a GET of this page with `line` (and the version shown, unless the latest),
/// which answers with a 303 to the line's anchor.
fn jump_form(path: &str, shown: i32, latest: i32, lines: usize) -> Markup {
    html! {
        form.jump method="get" action=(path) {
            @if shown != latest { input type="hidden" name="version" value=(shown); }
            label for="jump-line" { "Go to line" }
            input id="jump-line" type="number" name="line" min="1" max=(lines.max(1)) inputmode="numeric";
            button.secondary type="submit" { "Go" }
        }
    }
}

/// The source, one numbered line each; each number links to its line (`#L3`), as the
/// service's error messages name lines, without being a tab stop (the region is one, and
/// "Go to line" reaches any line). A `qpy` source (base64 of binary QPY) is named for what it
/// is, with its size in bytes, instead.
fn source(text: &str, format: &str, version: i32) -> Markup {
    if format == qpy::FORMAT {
        // Checked at upload: every stored qpy source decodes.
        let size = qpy::decode(text).map_or(0, |bytes| bytes.len());
        return html! {
            p.card {
                "QPY (Qiskit's binary circuit format), " (size) " bytes: load it with "
                code { "qiskit.qpy.load" }
            }
        };
    }
    html! {
        div.source.card role="region" tabindex="0" aria-label={ "Source of version " (version) } {
            @for (i, line) in text.lines().enumerate() {
                div.line id={ "L" (i + 1) } {
                    a.ln href={ "#L" (i + 1) } tabindex="-1" { (i + 1) }
                    code { (line) }
                }
            }
        }
    }
}
