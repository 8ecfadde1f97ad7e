//! The run form and `POST /{owner}/{circuit}/runs`, which submits it: a backend, a number of
//! shots, the circuit version shown, and a value for each `input` the version declares. The
//! submission goes through `Service::submit` exactly as `POST /api/runs` does, stamped with the
//! consent banner's choice as the API stamps `X-Analytics-Consent`, and answers 303 to the new
//! run's page. A refused submission (400, 409, 422, 429, 503) shows the circuit page again
//! with the form as it was and the reason; 401, 403 and 404 are the API's error pages (a
//! private circuit is 404 to everyone but its owner, exactly like one that does not exist).
//!
//! Each rendering of the form carries a fresh idempotency key, so a form posted twice (a
//! double click, a resubmitted page) makes one run.

use std::collections::BTreeMap;
use std::sync::Arc;

use maud::{Markup, html};
use uuid::Uuid;
use warp::http::HeaderValue;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::layout::error_page;
use super::{Form, Visitor, circuit, form, owner, redirect, same_origin, visitor};
use crate::domain::{Circuit, CircuitVersion, Run};
use crate::http::Context;
use crate::http::error::{ApiError, Kind};
use crate::http::extract::{parse_idempotency_key, with_context};
use crate::service::rules::BackendRules;
use crate::service::runs::{CircuitRef, DeclaredInput, Submission};

/// The shots a new form offers.
const DEFAULT_SHOTS: u64 = 1024;

/// The prefix of a parameter's field name: `param.theta`.
const PARAM: &str = "param.";

pub fn routes(ctx: Arc<Context>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::post()
        .and(owner())
        .and(warp::path::param::<String>())
        .and(warp::path("runs"))
        .and(warp::path::end())
        .and(same_origin())
        .and(visitor())
        .and(form())
        .and(with_context(ctx))
        .then(submit)
}

/// The form's values as last posted (or its defaults), and why the post was refused.
#[derive(Default)]
pub struct Draft {
    /// `type/name`.
    backend: Option<String>,
    shots: Option<String>,
    parameters: BTreeMap<String, String>,
    problem: Option<String>,
}

impl Draft {
    fn posted(form: &Form, problem: String) -> Draft {
        Draft {
            backend: form.get("backend").cloned(),
            shots: form.get("shots").cloned(),
            parameters: form
                .iter()
                .filter_map(|(k, v)| Some((k.strip_prefix(PARAM)?.to_owned(), v.clone())))
                .collect(),
            problem: Some(problem),
        }
    }
}

/// The run form for `version` of `circuit`: every configured backend (those that do not run
/// the version's format are shown, disabled), shots, and the declared inputs.
pub fn run_form(
    circuit: &Circuit,
    version: &CircuitVersion,
    backends: &[BackendRules],
    inputs: &[DeclaredInput],
    draft: &Draft,
) -> Markup {
    let format = &version.manifest.format;
    let runs = |b: &BackendRules| b.formats.contains(format);
    let chosen = draft.backend.clone().or_else(|| {
        backends
            .iter()
            .find(|b| runs(b))
            .map(|b| format!("{}/{}", b.kind, b.name))
    });
    let max_shots = backends
        .iter()
        .filter(|b| runs(b))
        .map(|b| b.max_shots)
        .max()
        .unwrap_or(1);
    let shots = draft
        .shots
        .clone()
        .unwrap_or_else(|| DEFAULT_SHOTS.min(max_shots).to_string());
    html! {
        form.run method="post" action={ "/" (circuit.owner_handle) "/" (circuit.name) "/runs" } id="run-form" {
            input type="hidden" name="version" value=(version.version);
            input type="hidden" name="key" value=(Uuid::new_v4());
            @if let Some(problem) = &draft.problem {
                p.problem id="form-error" role="alert" { (problem) }
            }
            label {
                span { "Backend" }
                select name="backend" required {
                    @for b in backends {
                        @let value = format!("{}/{}", b.kind, b.name);
                        option value=(value) selected[chosen.as_deref() == Some(value.as_str())] disabled[!runs(b)] {
                            (value)
                            @if !runs(b) { " (runs " (b.formats.join(", ")) " only)" }
                        }
                    }
                }
            }
            label {
                span { "Shots" }
                input type="number" name="shots" min="1" max=(max_shots) value=(shots) required;
            }
            (parameter_fields(inputs, &draft.parameters))
            button type="submit" { "Run version " (version.version) }
        }
    }
}

// OpenQASM 3 `input` parameters (docs/DESIGN.md §12): one field per input the version declares
// (`service::runs::declared_inputs`), posted as `param.NAME`; the service checks them against
// the declarations as it does the API's `"parameters"`.

fn parameter_fields(inputs: &[DeclaredInput], values: &BTreeMap<String, String>) -> Markup {
    html! {
        @for input in inputs {
            label {
                span { "Parameter " code { (input.name) } " " span.note { (input.ty) } }
                input type="text" inputmode="decimal" name={ (PARAM) (input.name) } required
                    value=[values.get(&input.name)];
            }
        }
    }
}

/// The `param.NAME` fields as numbers; the first that is not one is the error.
fn parameters(form: &Form) -> Result<BTreeMap<String, f64>, String> {
    form.iter()
        .filter_map(|(key, value)| Some((key.strip_prefix(PARAM)?, value)))
        .map(|(name, value)| match value.trim().parse::<f64>() {
            Ok(number) if number.is_finite() => Ok((name.to_owned(), number)),
            _ => Err(format!("parameter `{name}` must be a number")),
        })
        .collect()
}

/// "Run again": the run form's post with `run`'s version, backend, shots and parameters.
pub fn run_again(circuit: &Circuit, run: &Run) -> Markup {
    html! {
        form.inline method="post" action={ "/" (circuit.owner_handle) "/" (circuit.name) "/runs" } {
            input type="hidden" name="version" value=(run.spec.circuit_version);
            input type="hidden" name="backend" value={ (run.spec.backend_type) "/" (run.spec.backend_name) };
            input type="hidden" name="shots" value=(run.spec.shots);
            @for (name, value) in &run.spec.parameters {
                input type="hidden" name={ (PARAM) (name) } value=(value);
            }
            input type="hidden" name="key" value=(Uuid::new_v4());
            button type="submit" { "Run again" }
        }
    }
}

/// A posted form as a submission of `owner/name`.
fn submission(owner: &str, name: &str, form: &Form, consent: bool) -> Result<Submission, String> {
    let version = match form.get("version").map(|v| v.trim()) {
        None | Some("") => None,
        Some(v) => Some(
            v.parse::<i32>()
                .ok()
                .filter(|v| *v >= 1)
                .ok_or("the version must be a number from 1")?,
        ),
    };
    let (backend_type, backend_name) = form
        .get("backend")
        .and_then(|b| b.split_once('/'))
        .ok_or("choose a backend")?;
    let shots = form
        .get("shots")
        .and_then(|s| s.trim().parse::<u64>().ok())
        .ok_or("shots must be a whole number")?;
    let idempotency_key = parse_idempotency_key(form.get("key").cloned())
        .map_err(|_| "the form is damaged; reload the page".to_owned())?;
    Ok(Submission {
        circuit: CircuitRef::Name {
            owner: owner.to_owned(),
            name: name.to_owned(),
        },
        version,
        backend_type: backend_type.to_owned(),
        backend_name: backend_name.to_owned(),
        shots,
        parameters: parameters(form)?,
        // A fresh sample each time, "Run again" included (the API takes a seed).
        seed: None,
        consent,
        idempotency_key,
        // Per-shot memory and run options are the API's (a run page shows counts).
        memory: false,
        options: Default::default(),
    })
}

async fn submit(
    owner: String,
    name: String,
    allowed: Result<(), ApiError>,
    visitor: Visitor,
    form: Form,
    ctx: Arc<Context>,
) -> Response {
    let user = match allowed {
        Ok(()) => visitor.user(&ctx).await,
        Err(error) => Err(error),
    };
    let user = match user {
        Ok(user) => user,
        Err(error) => return error_page(&error),
    };
    let submitted = async {
        let submission = submission(&owner, &name, &form, visitor.consented())
            .map_err(|message| ApiError::bad_request("invalid_form", message))?;
        Ok::<_, ApiError>(ctx.service.submit(&user, submission).await?)
    }
    .await;
    let error = match submitted {
        Ok(s) => {
            let page = format!(
                "/{}/{}/runs/{}",
                s.circuit.owner_handle, s.circuit.name, s.run.id
            );
            return redirect(&page, &[]);
        }
        Err(error) => error,
    };
    if matches!(
        error.kind,
        Kind::Unauthorized | Kind::Forbidden | Kind::NotFound
    ) {
        return error_page(&error);
    }
    // Shown again as it was posted, with the reason, under the refusal's status.
    let version = form.get("version").and_then(|v| v.trim().parse().ok());
    let draft = Draft::posted(&form, error.message.clone());
    match circuit::page_for(&ctx, &visitor, Some(&user), &owner, &name, version, &draft).await {
        Ok(markup) => {
            let mut response = super::layout::respond(error.status(), markup);
            if let Some(seconds) = error.retry_after
                && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
            {
                response.headers_mut().insert("retry-after", value);
            }
            response
        }
        Err(error) => error_page(&error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Manifest;
    use chrono::Utc;

    fn fields(pairs: &[(&str, &str)]) -> Form {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_posted_form_is_a_submission_or_says_what_is_wrong() {
        let key = Uuid::new_v4().to_string();
        let good = submission(
            "alice",
            "bell",
            &fields(&[
                ("version", "2"),
                ("backend", "simulator/statevector"),
                ("shots", " 100 "),
                ("key", &key),
                ("param.theta", "0.5"),
            ]),
            true,
        )
        .unwrap();
        assert_eq!(
            (
                good.version,
                good.backend_type.as_str(),
                good.backend_name.as_str()
            ),
            (Some(2), "simulator", "statevector")
        );
        assert_eq!((good.shots, good.consent), (100, true));
        assert_eq!(good.idempotency_key.as_deref(), Some(key.as_str()));
        assert_eq!(good.parameters, BTreeMap::from([("theta".to_owned(), 0.5)]));
        let latest = submission(
            "a",
            "b",
            &fields(&[("backend", "s/n"), ("shots", "1")]),
            false,
        )
        .unwrap();
        assert_eq!((latest.version, latest.idempotency_key), (None, None));

        for (pairs, message) in [
            (
                &[("backend", "s/n"), ("shots", "1"), ("version", "0")][..],
                "the version must be a number from 1",
            ),
            (
                &[("backend", "statevector"), ("shots", "1")],
                "choose a backend",
            ),
            (&[("shots", "1")], "choose a backend"),
            (
                &[("backend", "s/n"), ("shots", "-1")],
                "shots must be a whole number",
            ),
            (&[("backend", "s/n")], "shots must be a whole number"),
            (
                &[("backend", "s/n"), ("shots", "1"), ("key", "a b")],
                "the form is damaged; reload the page",
            ),
            (
                &[("backend", "s/n"), ("shots", "1"), ("param.theta", "NaN")],
                "parameter `theta` must be a number",
            ),
            (
                &[("backend", "s/n"), ("shots", "1"), ("param.theta", "pi")],
                "parameter `theta` must be a number",
            ),
        ] {
            assert_eq!(
                submission("a", "b", &fields(pairs), false).err().as_deref(),
                Some(message),
                "{pairs:?}"
            );
        }
    }

    #[test]
    fn the_form_offers_every_backend_and_a_field_per_declared_input() {
        let circuit = Circuit {
            id: Uuid::now_v7(),
            owner_id: Uuid::now_v7(),
            owner_handle: "alice".into(),
            name: "bell".into(),
            visibility: crate::domain::Visibility::Public,
            created_at: Utc::now(),
        };
        let version = CircuitVersion {
            circuit_id: circuit.id,
            version: 3,
            source: String::new(),
            manifest: Manifest {
                framework: "qiskit".into(),
                format: "openqasm2".into(),
            },
            created_at: Utc::now(),
        };
        let backend = |kind: &str, name: &str, formats: &[&str], max_shots| BackendRules {
            kind: kind.into(),
            name: name.into(),
            max_shots,
            formats: formats.iter().map(|f| f.to_string()).collect(),
            max_qubits: None,
            methods: Vec::new(),
            limits: None,
            native_gates: Vec::new(),
            options: Vec::new(),
        };
        let backends = [
            backend("command", "aer", &["python"], 10),
            backend(
                "simulator",
                "statevector",
                &["openqasm2", "openqasm3"],
                100_000,
            ),
        ];
        let inputs = [DeclaredInput {
            name: "theta".into(),
            ty: "angle".into(),
        }];
        let html =
            run_form(&circuit, &version, &backends, &inputs, &Draft::default()).into_string();
        assert!(html.contains(r#"action="/alice/bell/runs""#), "{html}");
        assert!(html.contains(r#"name="version" value="3""#), "{html}");
        assert!(
            html.contains(
                r#"<option value="command/aer" disabled>command/aer (runs python only)</option>"#
            ),
            "{html}"
        );
        assert!(
            html.contains(r#"<option value="simulator/statevector" selected>"#),
            "{html}"
        );
        assert!(html.contains(r#"max="100000" value="1024""#), "{html}");
        assert!(html.contains(r#"name="param.theta" required"#), "{html}");
        assert!(!html.contains("form-error"));

        let draft = Draft::posted(
            &fields(&[
                ("backend", "command/aer"),
                ("shots", "7"),
                ("param.theta", "x"),
            ]),
            "no <good>".into(),
        );
        let html = run_form(&circuit, &version, &backends, &inputs, &draft).into_string();
        assert!(
            html.contains(r#"role="alert">no &lt;good&gt;</p>"#),
            "{html}"
        );
        assert!(
            html.contains(r#"<option value="command/aer" selected disabled>"#),
            "{html}"
        );
        assert!(
            html.contains(r#"value="7""#) && html.contains(r#"value="x""#),
            "{html}"
        );
    }
}
