//! The page shell (skip link, header, consent banner, footer, inline CSS, the page script),
//! status badges, times and durations, and HTML error pages ([`error_page`], [`not_found`]).
//! Every page goes out through [`html`], [`error_page`] or [`not_found`], with a
//! Content-Security-Policy that allows exactly this stylesheet and this script (by hash), so
//! even markup that slipped past escaping could not run.
//!
//! The stylesheet's colours are variables with a light and a dark set (`prefers-color-scheme`),
//! each meeting WCAG 2.2 AA contrast; pages use the variables, never colours of their own.

use crate::http::error::Kind;
use std::sync::LazyLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, TimeDelta, Utc};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use sha2::{Digest, Sha256};
use warp::http::{HeaderValue, StatusCode};
use warp::reply::Response;

use crate::domain::{Run, User};
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

/// What every page shows around its body: who is signed in (and the way in or out), and the
/// consent banner until the visitor has chosen.
pub struct Shell<'a> {
    pub viewer: Option<&'a User>,
    /// The `qrun_consent` cookie: `None` until the visitor chose (the banner shows).
    pub consent: Option<bool>,
    /// The path and query of this page, where the banner's and the header's forms come back to.
    pub here: &'a str,
}

/// Event streams a page follows at most (a browser keeps six connections per site open over
/// HTTP/1.1: the streams must leave room for the page's own requests).
pub const MAX_STREAMS: usize = 4;

/// How often a page refreshes when it has more live runs than streams, or live numbers.
pub const REFRESH_S: u32 = 3;

/// What a page follows live (the script's instructions on `<main>`); nothing, for a page
/// that is final as served. Without JavaScript every page is complete as served.
#[derive(Default)]
pub struct Live {
    /// SSE URLs of runs whose badges (`data-run`) change in place; each change re-renders
    /// `<main>`.
    events: Vec<String>,
    /// Re-render `<main>` every this many seconds.
    refresh_s: Option<u32>,
}

impl Live {
    /// Nothing live.
    pub fn none() -> Live {
        Live::default()
    }

    /// The event streams of `runs` that are not terminal (the first [`MAX_STREAMS`]); with
    /// more of them than that, a refresh every [`REFRESH_S`] too.
    pub fn runs<'r>(runs: impl IntoIterator<Item = &'r Run>) -> Live {
        let live: Vec<&Run> = runs
            .into_iter()
            .filter(|r| !r.status.is_terminal())
            .collect();
        Live {
            events: live
                .iter()
                .take(MAX_STREAMS)
                .map(|r| format!("/api/runs/{}/events", r.id))
                .collect(),
            refresh_s: (live.len() > MAX_STREAMS).then_some(REFRESH_S),
        }
    }

    /// A refresh every [`REFRESH_S`] (numbers that move without an event stream).
    pub fn refreshing() -> Live {
        Live {
            events: Vec::new(),
            refresh_s: Some(REFRESH_S),
        }
    }
}

/// A whole page: `title` in the tab, the header and the consent banner of `shell`, `body` in
/// `<main>`, which `live` keeps current.
pub fn page(shell: &Shell, title: &str, live: &Live, body: Markup) -> Markup {
    let chrome = html! {
        header.top {
            nav aria-label="Site" {
                a.brand href="/" { "qrun" }
                a href="/" { "Dashboard" }
                @if shell.viewer.is_some() { a href="/runs" { "My runs" } a href="/circuits" { "My circuits" } a href="/jobs" { "Jobs" } a href="/tokens" { "Tokens" } }
                @if shell.viewer.is_some_and(User::is_operator) { a href="/admin/runs" { "All runs" } }
                span.spacer {}
                @if let Some(user) = shell.viewer {
                    span.who { "Signed in as " strong { (user.handle) } }
                    form.inline method="post" action="/logout" { button.link type="submit" { "Log out" } }
                } @else {
                    a href={ "/login?next=" (encode(shell.here)) } { "Log in" }
                }
            }
        }
        @if shell.consent.is_none() { (consent_banner(shell.here)) }
    };
    let footer = html! {
        footer.bottom {
            @match shell.consent {
                Some(granted) => {
                    form.inline method="post" action="/consent" {
                        "Analytics: " strong { (if granted { "allowed" } else { "declined" }) } ". "
                        input type="hidden" name="next" value=(shell.here);
                        input type="hidden" name="choice" value=(if granted { "denied" } else { "granted" });
                        button.link type="submit" { (if granted { "Withdraw consent" } else { "Allow analytics" }) }
                    }
                }
                None => { "Analytics: not chosen (nothing is recorded)." }
            }
        }
    };
    document(title, Some((chrome, footer)), live, body)
}

/// The seed's cookie-consent banner: two buttons of one form (`POST /consent`), no script.
fn consent_banner(here: &str) -> Markup {
    html! {
        aside.consent id="consent" {
            p {
                strong { "Analytics?" } " With your consent, qrun records analytics events about "
                "the runs you submit from these pages and the run pages you open (once per run "
                "per browser session). Without it, none are recorded. You can change your mind "
                "at the bottom of every page."
            }
            form method="post" action="/consent" {
                input type="hidden" name="next" value=(here);
                button type="submit" name="choice" value="granted" { "Allow analytics" }
                " "
                button.secondary type="submit" name="choice" value="denied" { "Decline" }
            }
        }
    }
}

/// A path as a query value (`next=`).
fn encode(path: &str) -> String {
    path.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The header of an error page, which does not know the viewer: the way back to the pages
/// everyone has.
fn plain_header() -> Markup {
    html! {
        header.top {
            nav aria-label="Site" {
                a.brand href="/" { "qrun" }
                a href="/" { "Dashboard" }
                a href="/runs" { "My runs" }
                span.spacer {}
                a href="/login" { "Log in" }
            }
        }
    }
}

/// The document: head, the skip link, the header and footer (an error page has the plain
/// header and no footer), `<main>` (the skip link's target) and the script, which localizes
/// times on every page and keeps a live page current.
fn document(title: &str, chrome: Option<(Markup, Markup)>, live: &Live, body: Markup) -> Markup {
    let events = (!live.events.is_empty()).then(|| live.events.join(" "));
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
                a.skip href="#page" { "Skip to content" }
                @match &chrome {
                    Some((header, _)) => (header),
                    None => (plain_header()),
                }
                main id="page" tabindex="-1" data-events=[events] data-refresh=[live.refresh_s] { (body) }
                @if let Some((_, footer)) = &chrome { (footer) }
                script { (PreEscaped(SCRIPT)) }
            }
        }
    }
}

/// A 200 page with the security headers.
pub fn html(markup: Markup) -> Response {
    respond(StatusCode::OK, markup)
}

/// An error as a small HTML page with the error's status, the site's navigation and the way
/// on; the message is the API's (a 5xx says nothing internal). A 401 links to the login form
/// and drops a stale cookie.
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
        p { a href="/" { "Go to the dashboard" } }
    };
    let mut response = respond(status, document(title, None, &Live::none(), body));
    if unauthorized {
        response
            .headers_mut()
            .insert("set-cookie", HeaderValue::from_static(CLEAR_COOKIE));
    }
    response
}

/// The 404 page for `shell`'s viewer, with the site's navigation: every unknown page, and any
/// page this viewer may not know exists (so the answer never says whether it does).
pub fn not_found(shell: &Shell) -> Response {
    let body = html! {
        h1 { "404 Not Found" }
        p { "There is no page at " code { (shell.here) } "." }
        ul {
            li { a href="/" { "The dashboard" } }
            @if shell.viewer.is_some() {
                li { a href="/runs" { "Your runs" } }
            } @else {
                li { a href={ "/login?next=" (encode(shell.here)) } { "Log in" } " to see your runs and private circuits" }
            }
        }
    };
    respond(
        StatusCode::NOT_FOUND,
        page(shell, "Not found", &Live::none(), body),
    )
}

/// Deletes the `qrun_token` cookie.
pub const CLEAR_COOKIE: &str = "qrun_token=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict";

/// A page with `status` and the security headers.
pub fn respond(status: StatusCode, markup: Markup) -> Response {
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

/// A run's colour-coded status badge, which the live script changes in place (`data-run`) when the run's event
/// stream reports a new status.
pub fn run_badge(run: &Run, id: Option<&str>) -> Markup {
    html! {
        span id=[id] class={ "badge s-" (run.status.as_str()) } data-run=(run.id) { (run.status.as_str()) }
    }
}

/// A time in UTC, machine-readable in `datetime`; "—" when absent. The page script rewrites
/// the text in the viewer's time zone (the UTC text stays in `title`); without script the UTC
/// text stays.
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
