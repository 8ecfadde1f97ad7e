//! A client of one node's HTTP API: each route the harnesses use, as a method.
//!
//! Each route has a method answering whatever the node answered (`post_*`: a test of a
//! refusal reads it) and, where a harness needs the created thing, one that expects success
//! and returns its JSON or an error carrying the status and body.

use std::fmt::Display;

use reqwest::Response;
use serde_json::{Value, json};

use crate::Error;

/// A client of the node at `base` (`http://ADDR`).
#[derive(Clone)]
pub struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    /// The node at `base`, through this thread's shared client ([`http`]).
    pub fn new(base: &str) -> Api {
        Api::with_client(base, http())
    }

    /// The node at `base`, through `http` (a bench's own pool).
    pub fn with_client(base: &str, http: reqwest::Client) -> Api {
        Api {
            base: base.to_owned(),
            http,
        }
    }

    /// `http://ADDR`.
    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// `POST /api/circuits` of `body` ([`circuit_body`]) as `token`.
    pub async fn post_circuit(&self, token: &str, body: &Value) -> Result<Response, Error> {
        let request = self.http.post(self.url("/api/circuits")).bearer_auth(token);
        Ok(request.json(body).send().await?)
    }

    /// [`post_circuit`](Api::post_circuit), expecting 201: the created circuit's JSON.
    pub async fn upload(&self, token: &str, body: &Value) -> Result<Value, Error> {
        let response = self.post_circuit(token, body).await?;
        expect(
            response,
            201,
            &format!("POST /api/circuits {}", body["name"]),
        )
        .await
    }

    /// `POST /api/runs` of `body` ([`run_body`], [`run_body_by_id`]) as `token`, with
    /// `headers` besides.
    pub async fn post_run(
        &self,
        token: &str,
        body: &Value,
        headers: &[(&str, &str)],
    ) -> Result<Response, Error> {
        let mut request = self
            .http
            .post(self.url("/api/runs"))
            .bearer_auth(token)
            .json(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        Ok(request.send().await?)
    }

    /// [`post_run`](Api::post_run), expecting 201: the run's JSON.
    pub async fn submit(
        &self,
        token: &str,
        body: &Value,
        headers: &[(&str, &str)],
    ) -> Result<Value, Error> {
        let response = self.post_run(token, body, headers).await?;
        expect(response, 201, &format!("POST /api/runs {body}")).await
    }

    /// `POST /api/runs/{id}/cancel` as `token`.
    pub async fn post_cancel(&self, token: &str, id: impl Display) -> Result<Response, Error> {
        let url = self.url(&format!("/api/runs/{id}/cancel"));
        Ok(self.http.post(url).bearer_auth(token).send().await?)
    }

    /// `GET /api/runs/{id}` anonymously, expecting 200: the run's JSON.
    pub async fn run(&self, id: impl Display) -> Result<Value, Error> {
        let path = format!("/api/runs/{id}");
        let response = self.http.get(self.url(&path)).send().await?;
        expect(response, 200, &format!("GET {path}")).await
    }

    /// `GET path` anonymously: the answer's JSON, whatever its status.
    pub async fn get_json(&self, path: &str) -> Result<Value, Error> {
        let response = self
            .http
            .get(self.url(path))
            .send()
            .await
            .map_err(|e| format!("GET {path}: {e}"))?;
        Ok(response
            .json()
            .await
            .map_err(|e| format!("GET {path}: not JSON: {e}"))?)
    }

    /// `GET /metrics`: the scrape's text.
    pub async fn metrics(&self) -> Result<String, Error> {
        Ok(self
            .http
            .get(self.url("/metrics"))
            .send()
            .await?
            .text()
            .await?)
    }
}

/// A circuit named `name` of `source` in `format` (framework qiskit), as `POST /api/circuits`
/// takes it.
pub fn circuit_body(name: &str, visibility: &str, format: &str, source: &str) -> Value {
    json!({
        "name": name,
        "visibility": visibility,
        "source": source,
        "manifest": {"framework": "qiskit", "format": format},
    })
}

/// A run of `circuit` (`owner/name`) on `backend` (type, name) with `shots`, as `POST
/// /api/runs` takes it; add `parameters` and the like to the value.
pub fn run_body(circuit: &str, backend: (&str, &str), shots: u64) -> Value {
    json!({
        "circuit": circuit,
        "backend": {"type": backend.0, "name": backend.1},
        "shots": shots,
    })
}

/// [`run_body`] with the circuit named by its id.
pub fn run_body_by_id(circuit_id: &str, backend: (&str, &str), shots: u64) -> Value {
    json!({
        "circuit_id": circuit_id,
        "backend": {"type": backend.0, "name": backend.1},
        "shots": shots,
    })
}

/// `response`'s JSON if its status is `status`; otherwise an error naming `what`, the status
/// and the body.
async fn expect(response: Response, status: u16, what: &str) -> Result<Value, Error> {
    if response.status() != status {
        let got = response.status();
        let body = response.text().await.unwrap_or_default();
        return Err(format!("{what}: {got}, not {status}: {body}").into());
    }
    Ok(response.json().await?)
}

thread_local! {
    /// One client per thread: building one loads the system's CA store, which in a debug
    /// build costs far more than the requests themselves. Each test runs on its own
    /// runtime's threads, so a client never outlives the runtime its connections live on.
    static CLIENT: reqwest::Client = {
        // reqwest is built without a default TLS provider; the service installs ring at start.
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .expect("a client")
    };
}

/// An HTTP client for tests (this thread's; cheap to call).
pub fn http() -> reqwest::Client {
    CLIENT.with(reqwest::Client::clone)
}
