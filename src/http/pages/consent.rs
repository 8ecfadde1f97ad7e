//! The seed's consent banner, without JavaScript: its buttons post `POST /consent`
//! (`choice=granted|denied`, `next=` the page to return to), which sets the `qrun_consent`
//! cookie and answers 303 back. Absent, the cookie means denied.
//!
//! What consent changes, and nothing else:
//! - a run submitted from the run form is stamped with it exactly as the API stamps
//!   `X-Analytics-Consent` (so its lifecycle events are captured, or not);
//! - with consent, opening a run's page records the seed's `run_viewed_shared_link` event
//!   through the analytics outbox, once per run per browser session. The session is a random
//!   id in the `qrun_session` cookie (HttpOnly, a session cookie: it ends with the browser
//!   session), made at the first consented view; declining drops it.

use std::sync::Arc;

use uuid::Uuid;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::layout::error_page;
use super::{Form, form, local_path, redirect, same_origin};
use crate::http::Context;
use crate::http::error::ApiError;
use crate::http::extract::with_context;

/// The banner's choice: `granted` or `denied`.
pub const CONSENT_COOKIE: &str = "qrun_consent";

/// A browser session's id, for deduplicating its views of a run.
pub const SESSION_COOKIE: &str = "qrun_session";

/// How long the banner's choice is kept: a year, then the banner asks again.
const CONSENT_MAX_AGE_S: u64 = 365 * 24 * 3600;

pub fn routes(ctx: Arc<Context>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("consent")
        .and(warp::post())
        .and(same_origin())
        .and(form())
        .and(with_context(ctx))
        .map(choose)
}

fn choose(allowed: Result<(), ApiError>, form: Form, ctx: Arc<Context>) -> Response {
    if let Err(error) = allowed {
        return error_page(&error);
    }
    let granted = match form.get("choice").map(String::as_str) {
        Some("granted") => true,
        Some("denied") => false,
        _ => {
            return error_page(&ApiError::bad_request(
                "invalid_consent",
                "choose `granted` or `denied`",
            ));
        }
    };
    let value = if granted { "granted" } else { "denied" };
    let mut cookies = vec![cookie(
        &ctx,
        CONSENT_COOKIE,
        value,
        &format!("; Max-Age={CONSENT_MAX_AGE_S}"),
    )];
    if !granted {
        cookies.push(cookie(&ctx, SESSION_COOKIE, "", "; Max-Age=0"));
    }
    redirect(&local_path(&form, "/"), &cookies)
}

/// A new browser session's id and the cookie that keeps it (no `Max-Age`: it ends with the
/// browser session).
pub fn new_session(ctx: &Context) -> (Uuid, String) {
    let session = Uuid::new_v4();
    (
        session,
        cookie(ctx, SESSION_COOKIE, &session.to_string(), ""),
    )
}

/// `name=value` for the whole site: HttpOnly (no script reads it), SameSite=Strict, Secure
/// unless the service listens on loopback only; `extra` adds attributes.
fn cookie(ctx: &Context, name: &str, value: &str, extra: &str) -> String {
    let secure = if ctx.secure_cookies { "; Secure" } else { "" };
    format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict{extra}{secure}")
}
