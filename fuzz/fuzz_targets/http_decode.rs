//! Fuzz target `http_decode`: the pure parts of the service's request decoding.
//!
//! The first byte picks a decoder, the rest is its input:
//!
//! - 0, 1, 2: a JSON body through `http::extract::parse_json` as each type the API accepts
//!   (`SubmitRun`, `CreateCircuit`, `AddVersion`), then the pure checks the service applies
//!   to it (`http::runs::check_submission`; `domain::circuit::validate_circuit_name`);
//! - 3: a query string as `GET /api/runs` reads it (serde_urlencoded into a map, as
//!   `warp::query` does) through `http::runs::parse_list_query`;
//! - 4: a pagination cursor (`decode_cursor`, and the encode/decode round trip) and a run id
//!   from a path (`run_id`);
//! - 5: the `X-Analytics-Consent`, `Idempotency-Key` and `Authorization: Bearer` header values
//!   (NUL-separated) through `parse_consent`, `parse_idempotency_key` and `bearer_token`.
//!
//! Beyond "no panic": every refusal is a 4xx with the documented code, and what is accepted
//! satisfies the documented format.
//!
//! Run with `scripts/fuzz.sh` (or `cargo +nightly fuzz run --features http http_decode`).

#![no_main]

use std::collections::BTreeMap;

use chrono::DateTime;
use libfuzzer_sys::fuzz_target;
use qrun::http::error::ApiError;
use qrun::http::extract::{
    bearer_token, parse_consent, parse_idempotency_key, parse_json, run_id,
};
use qrun::http::runs::{check_submission, decode_cursor, encode_cursor, parse_list_query};
use qrun::http::views::{AddVersion, CreateCircuit, SubmitRun};
use qrun::service::runs::{CircuitRef, MAX_IDEMPOTENCY_KEY};
use uuid::Uuid;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, input)) = data.split_first() else {
        return;
    };
    match selector % 6 {
        0 => submit_run(input),
        1 => create_circuit(input),
        2 => add_version(input),
        3 => list_query(input),
        4 => cursor(input),
        _ => headers(input),
    }
});

/// A 400 with one of `codes`.
fn refused(err: &ApiError, codes: &[&str]) {
    assert_eq!(err.status.as_u16(), 400, "{err:?}");
    assert!(codes.contains(&err.code), "{err:?}");
}

fn body<T: serde::de::DeserializeOwned>(input: &[u8]) -> Option<T> {
    match parse_json::<T>(input) {
        Ok(body) => Some(body),
        Err(err) => {
            refused(&err, &["invalid_json", "invalid_body"]);
            None
        }
    }
}

fn submit_run(input: &[u8]) {
    let Some(submit) = body::<SubmitRun>(input) else {
        return;
    };
    match check_submission(&submit) {
        Ok(CircuitRef::Id(id)) => assert_eq!(submit.circuit_id, Some(id)),
        Ok(CircuitRef::Name { owner, name }) => {
            assert!(!owner.is_empty() && !name.is_empty() && !name.contains('/'));
            assert_eq!(
                submit.circuit.as_deref(),
                Some(format!("{owner}/{name}").as_str())
            );
        }
        Err(err) => refused(
            &err,
            &["invalid_body", "invalid_circuit", "invalid_version"],
        ),
    }
    if check_submission(&submit).is_ok() {
        assert!(submit.version.is_none_or(|v| v >= 1));
    }
}

fn create_circuit(input: &[u8]) {
    if let Some(create) = body::<CreateCircuit>(input)
        && qrun::domain::circuit::validate_circuit_name(&create.name).is_ok()
    {
        assert!(
            !create.name.is_empty() && !create.name.contains('/'),
            "{create:?}"
        );
    }
}

fn add_version(input: &[u8]) {
    let _ = body::<AddVersion>(input);
}

fn list_query(input: &[u8]) {
    let Ok(params) = serde_urlencoded::from_bytes::<BTreeMap<String, String>>(input) else {
        return;
    };
    match parse_list_query(&params) {
        Ok(query) => {
            assert!((1..=100).contains(&query.limit));
            if let Some(limit) = params.get("limit") {
                assert_eq!(limit.parse::<u64>().ok(), Some(query.limit));
            }
            assert_eq!(query.status.is_some(), params.contains_key("status"));
            assert_eq!(query.before.is_some(), params.contains_key("cursor"));
        }
        Err(err) => refused(
            &err,
            &["invalid_query", "invalid_circuit", "invalid_cursor"],
        ),
    }
}

fn cursor(input: &[u8]) {
    // Structured: micros and a UUID must round-trip through a cursor.
    if let (Some(micros), Some(id)) = (input.get(..8), input.get(8..24)) {
        let micros = i64::from_le_bytes(micros.try_into().unwrap());
        let id = Uuid::from_slice(id).unwrap();
        if let Some(at) = DateTime::from_timestamp_micros(micros) {
            assert_eq!(decode_cursor(&encode_cursor(at, id)), Some((at, id)));
        }
    }
    // Raw: any text; what decodes must decode the same once re-encoded.
    let text = String::from_utf8_lossy(input);
    if let Some((at, id)) = decode_cursor(&text) {
        assert_eq!(decode_cursor(&encode_cursor(at, id)), Some((at, id)));
    }
    match run_id(&text) {
        Ok(id) => assert_eq!(Uuid::parse_str(&text).ok(), Some(id)),
        Err(err) => assert_eq!((err.status.as_u16(), err.code), (404, "not_found")),
    }
}

fn headers(input: &[u8]) {
    let mut parts = input
        .split(|&b| b == 0)
        .map(|part| std::str::from_utf8(part).ok());
    let (consent, key, authorization) = (
        parts.next().flatten(),
        parts.next().flatten(),
        parts.next().flatten(),
    );
    match parse_consent(consent) {
        Ok(granted) => {
            let value = consent.map(|v| v.trim().to_ascii_lowercase());
            assert_eq!(granted, value.as_deref() == Some("granted"));
        }
        Err(err) => refused(&err, &["invalid_consent"]),
    }
    match parse_idempotency_key(key.map(str::to_owned)) {
        Ok(None) => assert!(key.is_none()),
        Ok(Some(accepted)) => {
            assert_eq!(Some(accepted.as_str()), key);
            assert!((1..=MAX_IDEMPOTENCY_KEY).contains(&accepted.len()));
            assert!(accepted.bytes().all(|b| b.is_ascii_graphic()));
        }
        Err(err) => refused(&err, &["invalid_idempotency_key"]),
    }
    if let Some(header) = authorization {
        match bearer_token(header) {
            Ok(token) => {
                assert!(!token.is_empty() && token == token.trim());
                assert!(header.starts_with("Bearer ") || header.starts_with("bearer "));
            }
            Err(err) => assert_eq!((err.status.as_u16(), err.code), (401, "unauthorized")),
        }
    }
}
