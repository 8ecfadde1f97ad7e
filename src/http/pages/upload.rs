//! Circuits from the browser: `GET /circuits/new` (the upload form) and `POST /circuits`,
//! which creates the circuit through `Service::create_circuit` exactly as `POST /api/circuits`
//! does (the same checks, the same messages) and answers 303 to its page; and the source
//! form a new version shares ([`source_form`], [`SourceDraft`], [`Upload`]).
//!
//! The form is `multipart/form-data` (the source may be a file): once the poster is known to
//! be signed in, its body is read as the API reads a JSON body — at most `server.max_body_bytes` (else 413), within
//! `server.body_timeout_s` (else 408) — then parsed by `multer`. A refused upload shows the form
//! again with everything as typed (a file's text moves into the paste box) and the reason next
//! to its field; a malformed source's message links to its line, shown highlighted under
//! the box.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

use bytes::{Buf, Bytes};
use futures_util::stream::BoxStream;
use futures_util::{Stream, StreamExt, TryStreamExt};
use maud::{Markup, html};
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::layout::{Live, error_page, page, respond};
use super::{Visitor, redirect, same_origin, visitor};
use crate::domain::{Manifest, User, Visibility};
use crate::http::Context;
use crate::http::error::{ApiError, Kind};
use crate::http::extract::{read_body, with_context};
use crate::service::circuits::UPLOAD_FORMATS;

/// Lines shown on either side of a malformed source's line.
const CONTEXT_LINES: usize = 3;

pub fn routes(ctx: Arc<Context>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let form = warp::path!("circuits" / "new")
        .and(crate::http::get_or_head())
        .and(visitor())
        .and(with_context(ctx.clone()))
        .then(new_circuit);
    let create = warp::path!("circuits")
        .and(warp::post())
        .and(same_origin())
        .and(visitor())
        .and(upload())
        .and(with_context(ctx))
        .then(create);
    form.or(create).unify()
}

/// A posted form's fields by name; a file's is its text.
pub type Fields = HashMap<String, String>;

/// A posted form's body, not read yet: it is read ([`Upload::fields`]) only once the poster
/// is known, so nobody makes the service read a body it would refuse anyway (as the API
/// authenticates before it reads a JSON body).
pub struct Upload {
    content_type: Option<String>,
    length: Option<u64>,
    body: BoxStream<'static, Result<Bytes, warp::Error>>,
}

/// The posted body, unread.
pub fn upload() -> impl Filter<Extract = (Upload,), Error = Rejection> + Clone {
    warp::header::optional::<String>("content-type")
        .and(warp::header::optional::<u64>("content-length"))
        .and(warp::body::stream())
        .map(|content_type, length, body| Upload {
            content_type,
            length,
            body: into_bytes(body),
        })
}

/// A body's chunks as `Bytes`, boxed (a warp body's chunk type cannot be named).
fn into_bytes(
    body: impl Stream<Item = Result<impl Buf, warp::Error>> + Send + 'static,
) -> BoxStream<'static, Result<Bytes, warp::Error>> {
    body.map_ok(|mut chunk| chunk.copy_to_bytes(chunk.remaining()))
        .boxed()
}

impl Upload {
    /// A `multipart/form-data` body's fields (anything else is 415), read like the API's JSON
    /// bodies (413 past `server.max_body_bytes`, 408 past `server.body_timeout_s`); a field
    /// that is not UTF-8 text is 400 `invalid_form`.
    pub async fn fields(self, ctx: &Context) -> Result<Fields, ApiError> {
        let boundary = self
            .content_type
            .and_then(|ct| multer::parse_boundary(ct).ok())
            .ok_or_else(|| {
                ApiError::new(
                    Kind::UnsupportedMediaType,
                    "unsupported_media_type",
                    "the form must be sent as multipart/form-data",
                )
            })?;
        let bytes = read_body(ctx, self.length, self.body).await?;
        parse_multipart(bytes, boundary).await
    }
}

async fn parse_multipart(bytes: Vec<u8>, boundary: String) -> Result<Fields, ApiError> {
    let body = futures_util::stream::once(async move { Ok::<_, Infallible>(Bytes::from(bytes)) });
    let mut multipart = multer::Multipart::new(body, boundary);
    let malformed =
        |e: multer::Error| ApiError::bad_request("invalid_form", format!("a malformed form: {e}"));
    let mut fields = Fields::new();
    while let Some(field) = multipart.next_field().await.map_err(malformed)? {
        let Some(name) = field.name().map(str::to_owned) else {
            continue;
        };
        let data = field.bytes().await.map_err(malformed)?;
        let text = String::from_utf8(data.to_vec()).map_err(|_| {
            ApiError::bad_request("invalid_form", format!("`{name}` must be UTF-8 text"))
        })?;
        fields.insert(name, text);
    }
    Ok(fields)
}

/// Which field a refusal is about, so its message shows next to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    Name,
    Source,
    Manifest,
    /// The form as a whole (shown above it).
    Form,
}

impl Field {
    /// The field an API error code is about.
    fn of(code: &str) -> Field {
        match code {
            "invalid_name" | "name_taken" => Field::Name,
            "invalid_source" => Field::Source,
            "invalid_manifest" => Field::Manifest,
            _ => Field::Form,
        }
    }
}

/// The source form's values as last posted (or its defaults), and why the post was refused.
#[derive(Clone, Debug, Default)]
pub struct SourceDraft {
    name: String,
    source: String,
    format: Option<String>,
    framework: Option<String>,
    visibility: Option<String>,
    problem: Option<(Field, String)>,
}

impl SourceDraft {
    /// A fresh form offering `manifest`'s format and framework (a new version's defaults).
    pub fn like(manifest: &Manifest) -> SourceDraft {
        SourceDraft {
            format: Some(manifest.format.clone()),
            framework: Some(manifest.framework.clone()),
            ..SourceDraft::default()
        }
    }

    /// The form as posted; its source is the file's text if a file was chosen, else the paste
    /// box's (a browser sends a text box's line breaks as CRLF: they are LF again here).
    pub(super) fn posted(fields: &Fields) -> SourceDraft {
        let field = |name: &str| fields.get(name).cloned();
        let source = match fields.get("file").filter(|f| !f.is_empty()) {
            Some(file) => file.clone(),
            None => field("source").unwrap_or_default().replace("\r\n", "\n"),
        };
        SourceDraft {
            name: field("name").unwrap_or_default().trim().to_owned(),
            source,
            format: field("format"),
            framework: field("framework"),
            visibility: field("visibility"),
            problem: None,
        }
    }

    /// This draft, refused for `error`.
    pub(super) fn refused(self, error: &ApiError) -> SourceDraft {
        SourceDraft {
            problem: Some((Field::of(error.code), error.message.clone())),
            ..self
        }
    }

    /// The manifest as posted (the service checks it).
    pub(super) fn manifest(&self) -> Manifest {
        Manifest {
            framework: self.framework.clone().unwrap_or_default(),
            format: self.format.clone().unwrap_or_default(),
        }
    }

    /// The source, which must not be empty.
    pub(super) fn source(&self) -> Result<&str, ApiError> {
        if self.source.trim().is_empty() {
            return Err(ApiError::bad_request(
                "invalid_source",
                "choose a source file or paste the source",
            ));
        }
        Ok(&self.source)
    }

    fn visibility(&self) -> Result<Visibility, ApiError> {
        parse_visibility(self.visibility.as_deref())
    }

    fn problem(&self, field: Field) -> Option<&str> {
        self.problem
            .as_ref()
            .filter(|(f, _)| *f == field)
            .map(|(_, message)| message.as_str())
    }
}

/// A form's `visibility`: `public` or `private` (else 400 `invalid_form`).
pub fn parse_visibility(value: Option<&str>) -> Result<Visibility, ApiError> {
    match value {
        Some("public") => Ok(Visibility::Public),
        Some("private") => Ok(Visibility::Private),
        _ => Err(ApiError::bad_request(
            "invalid_form",
            "visibility must be public or private",
        )),
    }
}

/// Which source form: a new circuit's or the next version of one.
#[derive(Clone, Copy)]
pub enum SourceForm<'a> {
    /// `POST /circuits`: a new circuit (its name and visibility too).
    NewCircuit,
    /// `POST /{owner}/{circuit}/versions`: the next version of this circuit.
    NewVersion { owner: &'a str, name: &'a str },
}

/// The source form: a file or pasted text, format and framework, and (for a new circuit) a
/// name and visibility; each refusal next to its field.
pub fn source_form(form: SourceForm, draft: &SourceDraft, frameworks: &[String]) -> Markup {
    let (action, submit) = match form {
        SourceForm::NewCircuit => ("/circuits".to_owned(), "Upload"),
        SourceForm::NewVersion { owner, name } => {
            (format!("/{owner}/{name}/versions"), "Add the version")
        }
    };
    let named = matches!(form, SourceForm::NewCircuit);
    let format = draft.format.as_deref().unwrap_or(UPLOAD_FORMATS[0]);
    let framework = draft
        .framework
        .as_deref()
        .or(frameworks.first().map(String::as_str));
    let visibility = draft.visibility.as_deref().unwrap_or("private");
    html! {
        form.run.upload method="post" action=(action) enctype="multipart/form-data" id="source-form" {
            @if let Some(problem) = draft.problem(Field::Form) {
                p.problem id="form-error" role="alert" { (problem) }
            }
            @if named {
                label {
                    span { "Name" }
                    input type="text" name="name" required maxlength="100" autocomplete="off"
                        value=(draft.name)
                        aria-describedby={ "name-help" @if draft.problem(Field::Name).is_some() { " name-error" } }
                        aria-invalid=[draft.problem(Field::Name).map(|_| "true")];
                    span.note id="name-help" { "a–z, 0–9, -, _ and ., starting with a letter or digit" }
                }
                @if let Some(problem) = draft.problem(Field::Name) {
                    p.problem id="name-error" role="alert" { (problem) }
                }
            }
            label {
                span { "Source file" }
                input type="file" name="file" accept=".qasm,.py,.txt,text/plain";
            }
            label {
                span { "or paste the source" }
                textarea name="source" rows="12" spellcheck="false" autocomplete="off"
                    aria-describedby=[draft.problem(Field::Source).map(|_| "source-error")]
                    aria-invalid=[draft.problem(Field::Source).map(|_| "true")] { (draft.source) }
            }
            @if let Some(problem) = draft.problem(Field::Source) {
                (source_problem(problem, &draft.source))
            }
            label {
                span { "Format" }
                select name="format" {
                    @for f in UPLOAD_FORMATS {
                        option value=(f) selected[f == format] { (f) }
                    }
                }
            }
            label {
                span { "Framework" }
                select name="framework" {
                    @for f in frameworks {
                        option value=(f) selected[Some(f.as_str()) == framework] { (f) }
                    }
                }
            }
            @if let Some(problem) = draft.problem(Field::Manifest) {
                p.problem id="manifest-error" role="alert" { (problem) }
            }
            @if named {
                label {
                    span { "Visibility" }
                    select name="visibility" {
                        @for v in ["private", "public"] {
                            option value=(v) selected[v == visibility] { (v) }
                        }
                    }
                }
            }
            button type="submit" { (submit) }
        }
    }
}

/// A source's refusal: its message, its position linking to the line, and the lines around
/// it with that one marked.
fn source_problem(message: &str, source: &str) -> Markup {
    let position = position(message);
    html! {
        p.problem id="source-error" role="alert" {
            @match position {
                Some((line, col, rest)) => {
                    a href={ "#L" (line) } { "Line " (line) ", column " (col) } ": " (rest)
                }
                None => { (message) }
            }
        }
        @if let Some((line, _, _)) = position {
            // One tab stop, as a circuit page's source: a long line scrolls it sideways, and a
            // scrolling region must be reachable by keyboard (WCAG 2.1.1).
            div.source.card role="region" tabindex="0" aria-label="The source around the error" {
                @for (i, text) in source.lines().enumerate()
                    .skip(line.saturating_sub(CONTEXT_LINES + 1))
                    .take(2 * CONTEXT_LINES + 1) {
                    @let n = i + 1;
                    div.line.bad[n == line] id={ "L" (n) } {
                        span.ln { (n) }
                        code { (text) }
                    }
                }
            }
        }
    }
}

/// The `line:col: ` a source check's message starts with, and the rest.
fn position(message: &str) -> Option<(usize, usize, &str)> {
    let (line, rest) = message.split_once(':')?;
    let (col, rest) = rest.split_once(": ")?;
    Some((line.parse().ok()?, col.parse().ok()?, rest))
}

/// The page of a refused source form, under the refusal's status.
pub fn refused_page(
    visitor: &Visitor,
    viewer: &User,
    form: SourceForm,
    draft: &SourceDraft,
    frameworks: &[String],
    error: &ApiError,
) -> Response {
    respond(
        error.status(),
        source_page(visitor, viewer, form, draft, frameworks),
    )
}

fn source_page(
    visitor: &Visitor,
    viewer: &User,
    form: SourceForm,
    draft: &SourceDraft,
    frameworks: &[String],
) -> Markup {
    let title = match form {
        SourceForm::NewCircuit => "Upload a circuit".to_owned(),
        SourceForm::NewVersion { owner, name } => format!("New version of {owner}/{name}"),
    };
    let body = html! {
        @if let SourceForm::NewVersion { owner, name } = form {
            p.crumbs { a href={ "/" (owner) "/" (name) } { (owner) "/" (name) } }
        } @else {
            p.crumbs { a href="/circuits" { "My circuits" } }
        }
        h1 { (title) }
        (source_form(form, draft, frameworks))
    };
    page(&visitor.shell(Some(viewer)), &title, &Live::none(), body)
}

async fn new_circuit(visitor: Visitor, ctx: Arc<Context>) -> Response {
    match visitor.user(&ctx).await {
        Ok(user) => super::layout::html(source_page(
            &visitor,
            &user,
            SourceForm::NewCircuit,
            &SourceDraft::default(),
            &ctx.service.rules().frameworks,
        )),
        Err(error) => error_page(&error),
    }
}

async fn create(
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
    let created = async {
        upload?;
        let (circuit, _) = ctx
            .service
            .create_circuit(
                &user,
                &draft.name,
                draft.visibility()?,
                draft.source()?,
                &draft.manifest(),
            )
            .await?;
        Ok::<_, ApiError>(circuit)
    }
    .await;
    match created {
        Ok(circuit) => redirect(&format!("/{}/{}", circuit.owner_handle, circuit.name), &[]),
        Err(error) => refused_page(
            &visitor,
            &user,
            SourceForm::NewCircuit,
            &draft.refused(&error),
            &ctx.service.rules().frameworks,
            &error,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_message_names_its_line_and_column() {
        assert_eq!(
            position("4:3: hardware qubits are not supported"),
            Some((4, 3, "hardware qubits are not supported"))
        );
        assert_eq!(position("the source is empty"), None);
        assert_eq!(position("a:b: c"), None);
    }

    #[test]
    fn a_refused_source_links_to_its_marked_line_and_keeps_what_was_typed() {
        let source = (1..=10).map(|i| format!("line {i}\n")).collect::<String>();
        let draft = SourceDraft {
            source: source.clone(),
            ..SourceDraft::default()
        }
        .refused(&ApiError::bad_request(
            "invalid_source",
            "6:2: unknown <gate>",
        ));
        let html = source_form(SourceForm::NewCircuit, &draft, &["qiskit".into()]).into_string();
        assert!(
            html.contains(r##"<a href="#L6">Line 6, column 2</a>: unknown &lt;gate&gt;"##),
            "{html}"
        );
        assert!(html.contains(r#"<div class="line bad" id="L6">"#), "{html}");
        // Three lines either side, no more.
        assert!(html.contains(r#"id="L3""#) && html.contains(r#"id="L9""#));
        assert!(!html.contains(r#"id="L2""#) && !html.contains(r#"id="L10""#));
        assert!(
            html.contains(&format!(
                r#"aria-describedby="source-error" aria-invalid="true">{source}</textarea>"#
            )),
            "{html}"
        );
        assert!(!html.contains("name-error"));
    }

    #[test]
    fn a_file_wins_over_the_paste_box_whose_line_breaks_become_lf() {
        let fields = |pairs: &[(&str, &str)]| -> Fields {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let pasted = SourceDraft::posted(&fields(&[("source", "a\r\nb\r\n"), ("file", "")]));
        assert_eq!(pasted.source, "a\nb\n");
        let filed = SourceDraft::posted(&fields(&[("source", "pasted"), ("file", "x\r\ny")]));
        assert_eq!(filed.source, "x\r\ny");
        assert_eq!(
            SourceDraft::default().source().unwrap_err().message,
            "choose a source file or paste the source"
        );
    }
}
