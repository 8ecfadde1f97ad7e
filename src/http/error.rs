//! Every error response: `{"error": {"code", "message"}}` with its status, decided here and
//! nowhere else. A 5xx body says nothing internal; the cause goes to the log.

use std::convert::Infallible;

use serde::Serialize;
use utoipa::ToSchema;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Rejection, Reply};

use crate::service::ServiceError;

/// An error as the API reports it: its [`Kind`] (which decides the status), a stable code and
/// a sentence.
#[derive(Clone, Debug)]
pub struct ApiError {
    pub kind: Kind,
    pub code: &'static str,
    pub message: String,
    /// Seconds, for 429 and 503.
    pub retry_after: Option<u64>,
}

/// What kind of refusal an error is; [`ApiError::status`] maps each to its one status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    RequestTimeout,
    Conflict,
    PayloadTooLarge,
    UnsupportedMediaType,
    Unprocessable,
    TooManyRequests,
    Internal,
    Unavailable,
}

/// The error body.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable: `invalid_json`, `unauthorized`, `not_found`, …
    pub code: String,
    /// A sentence for a person.
    pub message: String,
}

impl ApiError {
    pub fn new(kind: Kind, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            kind,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Kind::BadRequest, code, message)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(Kind::NotFound, "not_found", format!("{what} not found"))
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(Kind::Unauthorized, "unauthorized", message)
    }

    /// No route has this path (for any method).
    pub fn route_not_found() -> Self {
        Self::new(Kind::NotFound, "route_not_found", "no such route")
    }

    /// A 5xx body says nothing internal: the cause is logged where it is known.
    fn internal() -> Self {
        Self::new(
            Kind::Internal,
            "internal",
            "something went wrong on our side; it has been logged",
        )
    }

    /// With a `Retry-After` of `seconds`.
    fn retry_after(self, seconds: u64) -> Self {
        ApiError {
            retry_after: Some(seconds),
            ..self
        }
    }

    /// The body: `{"error": {"code", "message"}}`.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message.clone(),
            },
        }
    }

    /// The HTTP status: decided here, for every error the service answers.
    pub fn status(&self) -> StatusCode {
        match self.kind {
            Kind::BadRequest => StatusCode::BAD_REQUEST,
            Kind::Unauthorized => StatusCode::UNAUTHORIZED,
            Kind::Forbidden => StatusCode::FORBIDDEN,
            Kind::NotFound => StatusCode::NOT_FOUND,
            Kind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Kind::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Kind::Conflict => StatusCode::CONFLICT,
            Kind::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Kind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Kind::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
            Kind::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            Kind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Kind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(err: ServiceError) -> Self {
        match err {
            ServiceError::Invalid { code, message } => ApiError::bad_request(code, message),
            ServiceError::NotFound(what) => ApiError::not_found(what),
            ServiceError::Forbidden(message) => {
                ApiError::new(Kind::Forbidden, "forbidden", message)
            }
            ServiceError::Conflict { code, message } => {
                ApiError::new(Kind::Conflict, code, message)
            }
            ServiceError::Unprocessable { code, message } => {
                ApiError::new(Kind::Unprocessable, code, message)
            }
            ServiceError::Unavailable(message) => {
                ApiError::new(Kind::Unavailable, "unavailable", message).retry_after(2)
            }
            ServiceError::Overloaded {
                message,
                retry_after,
            } => ApiError::new(Kind::Unavailable, "overloaded", message).retry_after(retry_after),
            ServiceError::TooMany {
                code,
                message,
                retry_after,
            } => ApiError::new(Kind::TooManyRequests, code, message).retry_after(retry_after),
            ServiceError::Internal(cause) => {
                tracing::error!(error = ?cause, "internal error");
                ApiError::internal()
            }
        }
    }
}

impl Reply for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut response =
            warp::reply::with_status(warp::reply::json(&self.body()), status).into_response();
        let headers = response.headers_mut();
        if let Some(seconds) = self.retry_after {
            headers.insert("retry-after", seconds.into());
        }
        if self.kind == Kind::Unauthorized {
            headers.insert(
                "www-authenticate",
                warp::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

/// A handler's result as a response.
pub fn respond<T: Reply>(result: Result<T, ApiError>) -> Response {
    match result {
        Ok(reply) => reply.into_response(),
        Err(error) => error.into_response(),
    }
}

/// An [`ApiError`] travelling as a rejection out of an extracting filter.
#[derive(Debug)]
pub struct Problem(pub ApiError);

impl warp::reject::Reject for Problem {}

pub fn reject(error: ApiError) -> Rejection {
    warp::reject::custom(Problem(error))
}

/// Turns every rejection into an error body; the single `recover` of the service.
pub async fn recover(rejection: Rejection) -> Result<Response, Infallible> {
    let error = if let Some(Problem(e)) = rejection.find::<Problem>() {
        e.clone()
    } else if rejection.is_not_found() {
        ApiError::route_not_found()
    } else if let Some(e) = rejection.find::<warp::reject::InvalidHeader>() {
        ApiError::bad_request("invalid_header", e.to_string())
    } else if let Some(e) = rejection.find::<warp::reject::MissingHeader>() {
        ApiError::bad_request("missing_header", e.to_string())
    } else if let Some(e) = rejection.find::<warp::reject::InvalidQuery>() {
        ApiError::bad_request("invalid_query", e.to_string())
    } else if rejection.find::<warp::reject::PayloadTooLarge>().is_some() {
        ApiError::new(
            Kind::PayloadTooLarge,
            "payload_too_large",
            "the request body is too large",
        )
    } else if rejection.find::<warp::reject::MethodNotAllowed>().is_some() {
        // Last among the client errors: warp also reports a sibling route's method mismatch
        // when the matching route refused a header, and the header is the real problem.
        ApiError::new(
            Kind::MethodNotAllowed,
            "method_not_allowed",
            "this route does not accept that method",
        )
    } else {
        tracing::error!(?rejection, "unhandled rejection");
        ApiError::internal()
    };
    Ok(error.into_response())
}
