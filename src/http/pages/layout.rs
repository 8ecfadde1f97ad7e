//! The page shell (inline CSS, the live-update script), status badges, times and durations,
//! and HTML error pages. Every page goes out through [`html`] or [`error_page`], with a
//! Content-Security-Policy that allows exactly this stylesheet and this script (by hash), so
//! even markup that slipped past escaping could not run.

use crate::http::error::Kind;
use std::sync::LazyLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, TimeDelta, Utc};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use sha2::{Digest, Sha256};
use warp::http::{HeaderValue, StatusCode};
use warp::reply::Response;

use crate::domain::RunStatus;
use crate::http::error::ApiError;

const CSS: &str = include_str!("page.css");
const SCRIPT: &str = include_str!("live.js");

/// `Content-Security-Policy` of every page: no external anything; the one stylesheet and the
/// one script, each pinned by its SHA-256; only same-origin connections (the SSE stream, the
/// page's own refresh) and forms.
static CSP: LazyLock<String> = LazyLock::new(|| {
    let hash = |text: &str| STANDARD.encode(Sha256::digest(text.as_bytes()));
    format!(
        "default-src 'none'; style-src 'sha256-{}'; script-src 'sha256-{}'; \
         connect-src 'self'; img-src data:; form-action 'self'; base-uri 'none'; \
         frame-ancestors 'none'",
        hash(CSS),
        hash(SCRIPT)
    )
});

/// A whole page: `title` in the tab, `body` in `<main>`; `events` (a run's SSE URL) turns the
/// live-update script on.
pub fn page(title: &str, events: Option<&str>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · qrun" }
                style { (PreEscaped(CSS)) }
            }
            body {
                main id="page" data-events=[events] { (body) }
                @if events.is_some() {
                    script { (PreEscaped(SCRIPT)) }
                }
            }
        }
    }
}

/// A 200 page with the security headers.
pub fn html(markup: Markup) -> Response {
    respond(StatusCode::OK, markup)
}

/// An error as a small HTML page with the error's status; the message is the API's (a 5xx
/// says nothing internal). A 401 links to the login form and drops a stale cookie.
pub fn error_page(error: &ApiError) -> Response {
    let status = error.status();
    let unauthorized = error.kind == Kind::Unauthorized;
    let title = status.canonical_reason().unwrap_or("Error");
    let body = html! {
        h1 { (status.as_u16()) " " (title) }
        p { (error.message) }
        @if unauthorized {
            p { a href="/login" { "Log in with your API token" } }
        }
    };
    let mut response = respond(status, page(title, None, body));
    if unauthorized {
        response
            .headers_mut()
            .insert("set-cookie", HeaderValue::from_static(CLEAR_COOKIE));
    }
    response
}

/// Deletes the `qrun_token` cookie.
pub const CLEAR_COOKIE: &str = "qrun_token=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict";

fn respond(status: StatusCode, markup: Markup) -> Response {
    let mut response = warp::http::Response::new(markup.into_string().into());
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        "content-type",
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    // Pages can show private runs: never cached by a shared cache or kept by the browser.
    headers.insert("cache-control", HeaderValue::from_static("no-store"));
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    headers.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    if let Ok(csp) = HeaderValue::from_str(&CSP) {
        headers.insert("content-security-policy", csp);
    }
    response
}

/// The colour-coded status badge; `id="status"` is what the live script updates.
pub fn badge(status: RunStatus, id: Option<&str>) -> Markup {
    html! {
        span id=[id] class={ "badge s-" (status.as_str()) } { (status.as_str()) }
    }
}

/// A time in UTC, machine-readable in `datetime`; "—" when absent.
pub fn time(at: Option<DateTime<Utc>>) -> Markup {
    match at {
        Some(at) => html! {
            time datetime=(at.to_rfc3339()) { (at.format("%Y-%m-%d %H:%M:%S%.3f UTC")) }
        },
        None => html! { "—" },
    }
}

/// The span from `from` to `to` in words ("—" when either end is missing).
pub fn duration(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> String {
    match (from, to) {
        (Some(from), Some(to)) => human(to - from),
        _ => "—".to_owned(),
    }
}

/// A span given in seconds (an execution time), in words.
pub fn seconds(span: f64) -> String {
    if span > 0.0 && span < 1e-3 {
        return format!("{:.3} ms", span * 1e3);
    }
    human(TimeDelta::microseconds((span * 1e6) as i64))
}

fn human(span: TimeDelta) -> String {
    let ms = span.num_milliseconds().max(0);
    match ms {
        0 => "< 1 ms".to_owned(),
        1..1_000 => format!("{ms} ms"),
        1_000..60_000 => format!("{:.1} s", ms as f64 / 1e3),
        60_000..3_600_000 => format!("{} min {} s", ms / 60_000, ms % 60_000 / 1_000),
        _ => format!("{} h {} min", ms / 3_600_000, ms % 3_600_000 / 60_000),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_well() {
        for (ms, text) in [
            (0, "< 1 ms"),
            (-5, "< 1 ms"),
            (42, "42 ms"),
            (2_345, "2.3 s"),
            (125_000, "2 min 5 s"),
            (7_260_000, "2 h 1 min"),
        ] {
            assert_eq!(human(TimeDelta::milliseconds(ms)), text);
        }
        assert_eq!(duration(None, Some(Utc::now())), "—");
        assert_eq!(seconds(0.0004), "0.400 ms");
        assert_eq!(seconds(2.1226), "2.1 s");
    }

    #[test]
    fn the_policy_pins_the_inline_style_and_script() {
        assert!(CSP.contains("style-src 'sha256-"));
        assert!(CSP.contains("script-src 'sha256-"));
        assert!(!CSP.contains("unsafe-inline"));
    }
}
