//! Test harness: the application running in this process on a fresh database (`TestApp`),
//! every route a method, and fixtures. What the benches share with it — the database, `qrun
//! serve` processes, the API client — is the `testkit` crate's, re-exported here.

use std::sync::Arc;

use qrun::actors::recorder::RecorderError;
use qrun::app::{Application, Hooks};
use qrun::config::Config;
use qrun::domain::{Clock, Manifest, NewRun, Run, RunSpec, RunStatus, Visibility};
use qrun::store::{Applied, Change, Command, Store};
use serde_json::Value;
use uuid::Uuid;

pub use testkit::{
    Api, BELL, SIMULATOR, TestDb, circuit_body, http, process_alive, run_body, wait_until,
};

/// Runs an async test body on SQLite and on PostgreSQL, as two named tests.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::helpers::TestDb::sqlite()).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if let Some(db) = $crate::helpers::TestDb::postgres().await {
                        super::$name(db).await;
                    }
                }
            }
        )*
    };
}

/// The default configuration pointed at `db`, on a free port, ignoring the environment.
/// The node does not execute runs (tests of the lifecycle and the API drive transitions
/// themselves); runtime tests turn `executor.enabled` back on.
pub fn test_config(db: &TestDb) -> Config {
    let mut config = Config::load_from(None, figment::providers::Env::prefixed("QRUN_TEST_NONE__"))
        .expect("the defaults load");
    config.database.url = db.url.clone();
    config.server.bind = "127.0.0.1:0".parse().unwrap();
    config.executor.enabled = false;
    // The application migrates its fresh database, on PostgreSQL too.
    config.database.migrate = Some(qrun::config::MigrateMode::Auto);
    // Tests submit in bursts from one user; the rate limit has its own test.
    config.executor.user_submissions_per_s = 1_000_000;
    config.executor.user_submission_burst = 1_000_000;
    config
}

/// A running application on a test database.
pub struct TestApp {
    pub app: Application,
    pub db: TestDb,
}

/// Hooks that only set the clock.
pub fn clock_hooks(clock: Arc<dyn Clock>) -> Hooks {
    Hooks {
        clock: Some(clock),
        ..Hooks::default()
    }
}

/// Keeps the analytics dispatcher from delivering during a test that takes and delivers the
/// outbox itself (for `TestApp::spawn_with`'s `adjust`).
pub fn not_delivering(config: &mut Config) {
    config.analytics.flush_interval_ms = 3_600_000;
}

/// Turns execution on, claiming every 50 ms (for `TestApp::spawn_with`'s `adjust`).
pub fn executing(config: &mut Config) {
    config.executor.enabled = true;
    config.executor.claim_interval_ms = 50;
}

impl TestApp {
    /// The application on `db` with [`test_config`].
    pub async fn spawn(db: TestDb) -> TestApp {
        Self::spawn_with(db, |_| {}, Hooks::default()).await
    }

    /// The application on `db` with [`test_config`] changed by `adjust`, and `hooks` injected.
    pub async fn spawn_with(db: TestDb, adjust: impl FnOnce(&mut Config), hooks: Hooks) -> TestApp {
        let mut config = test_config(&db);
        adjust(&mut config);
        let app = Application::build(config, hooks)
            .await
            .expect("the application starts");
        TestApp { app, db }
    }

    /// A client of its API.
    pub fn api(&self) -> Api {
        Api::new(&self.origin())
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.app.addr())
    }

    /// The site's own origin, as a browser names it in `Origin`.
    pub fn origin(&self) -> String {
        format!("http://{}", self.app.addr())
    }

    /// A GET of the page at `path` with an optional `Authorization: Bearer` token and
    /// `qrun_token` cookie (a session's secret: [`TestApp::session`]); its status and HTML
    /// (every page answer is HTML, errors included).
    pub async fn page(
        &self,
        path: &str,
        bearer: Option<&str>,
        cookie: Option<&str>,
    ) -> (u16, String) {
        let mut request = http().get(self.url(path));
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        if let Some(token) = cookie {
            request = request.header("cookie", format!("qrun_token={token}"));
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(content_type, "text/html; charset=utf-8", "{path}");
        (status, response.text().await.unwrap())
    }

    /// Signs a browser in with `token` (`POST /login`, as the form at `/login` does); the
    /// secret of the session made, which the `qrun_token` cookie then holds.
    pub async fn session(&self, token: &str) -> String {
        let browser = self.browser().signed_in(token).await;
        browser.cookie("qrun_token").expect("a session cookie")
    }

    /// A browser on the pages, holding no cookie yet.
    pub fn browser(&self) -> Browser<'_> {
        Browser {
            app: self,
            cookies: std::sync::Mutex::new(std::collections::BTreeMap::new()),
        }
    }

    /// A user and their token, made the way `qrun user create` makes them.
    pub async fn user(&self, handle: &str) -> (qrun::domain::User, String) {
        self.store().create_user(handle).await.expect("a user")
    }

    /// A user holding the operator role (as `qrun user grant HANDLE operator` makes one) and
    /// their token.
    pub async fn operator(&self, handle: &str) -> (qrun::domain::User, String) {
        let (user, token) = self.user(handle).await;
        let granted = self
            .store()
            .set_role(user.id, qrun::domain::Role::Operator, true);
        assert_eq!(granted.await.expect("granted"), Some(true));
        let user = self.store().user(user.id).await.unwrap().expect("the user");
        (user, token)
    }

    /// `POST /api/circuits` of the Bell circuit as `token`; the created circuit's JSON.
    pub async fn create_circuit(&self, token: &str, name: &str, visibility: &str) -> Value {
        self.upload(token, name, visibility, BELL).await
    }

    /// `POST /api/circuits` of an OpenQASM 2 `source` (framework qiskit) as `token`; asserts
    /// 201; the created circuit's JSON.
    pub async fn upload(&self, token: &str, name: &str, visibility: &str, source: &str) -> Value {
        self.upload_as(token, name, visibility, source, "openqasm2")
            .await
    }

    /// `POST /api/circuits` of `source` in `format` (framework qiskit) as `token`; asserts
    /// 201; the created circuit's JSON.
    pub async fn upload_as(
        &self,
        token: &str,
        name: &str,
        visibility: &str,
        source: &str,
        format: &str,
    ) -> Value {
        let body = circuit_body(name, visibility, format, source);
        let uploaded = self.api().upload(token, &body).await;
        uploaded.unwrap_or_else(|e| panic!("{e}"))
    }

    /// `POST /api/runs` of `circuit` (`owner/name`) on `backend` (type, name) with `shots` as
    /// `token`; asserts 201; the run's id.
    pub async fn submit_run(
        &self,
        token: &str,
        circuit: &str,
        backend: (&str, &str),
        shots: u64,
    ) -> Uuid {
        let body = run_body(circuit, backend, shots);
        let run = self.api().submit(token, &body, &[]).await;
        let run = run.unwrap_or_else(|e| panic!("{e}"));
        run["id"].as_str().expect("an id").parse().expect("a uuid")
    }

    /// `GET /api/runs/{id}` anonymously (the test circuits are public); the run's JSON.
    pub async fn run_json(&self, id: impl std::fmt::Display) -> Value {
        self.get_json(&format!("/api/runs/{id}")).await
    }

    /// `GET path` anonymously; the answer's JSON.
    pub async fn get_json(&self, path: &str) -> Value {
        let json = self.api().get_json(path).await;
        json.unwrap_or_else(|e| panic!("{e}"))
    }

    /// Waits (at most a minute) until the API shows run `id` in a status `done` accepts;
    /// the run's JSON.
    pub async fn wait_run(
        &self,
        id: impl std::fmt::Display,
        what: &str,
        done: impl Fn(RunStatus) -> bool,
    ) -> Value {
        let id = id.to_string();
        wait_until(
            std::time::Duration::from_secs(60),
            &format!("run {id} {what}"),
            || async {
                self.run_json(&id).await["status"]
                    .as_str()
                    .and_then(|s| s.parse::<RunStatus>().ok())
                    .is_some_and(&done)
            },
        )
        .await;
        self.run_json(&id).await
    }

    /// Waits until the API shows run `id` as `status`; the run's JSON.
    pub async fn wait_status(&self, id: impl std::fmt::Display, status: RunStatus) -> Value {
        self.wait_run(id, status.as_str(), |s| s == status).await
    }

    /// Waits until run `id` is terminal; the run's JSON.
    pub async fn wait_terminal(&self, id: impl std::fmt::Display) -> Value {
        self.wait_run(id, "terminal", RunStatus::is_terminal).await
    }

    /// `POST /api/runs` of `circuit_id` (the simulator, 100 shots) as `token`, with optional
    /// extra headers.
    pub async fn submit_http(
        &self,
        token: &str,
        circuit_id: &str,
        headers: &[(&str, &str)],
    ) -> reqwest::Response {
        let body = testkit::run_body_by_id(circuit_id, SIMULATOR, 100);
        let response = self.api().post_run(token, &body, headers).await;
        response.expect("POST /api/runs")
    }

    pub fn store(&self) -> &Store {
        self.app.service().store()
    }

    /// Runs in the database, whatever their status (a refusal must create none).
    pub async fn runs_created(&self) -> u64 {
        self.store().run_counts().await.unwrap().values().sum()
    }

    pub fn recorder(&self) -> &qrun::actors::RecorderHandle {
        self.app.service().recorder()
    }

    pub async fn apply(&self, command: Command) -> Result<Applied, RecorderError> {
        self.recorder().apply(command).await
    }

    pub async fn transition(&self, run_id: Uuid, change: Change) -> Result<Applied, RecorderError> {
        self.apply(Command::Transition { run_id, change }).await
    }

    /// Starts pending runs the only way a run starts: claimed (oldest first, up to `limit`)
    /// by `node`, with a lease of `lease_s` seconds (negative: already expired).
    pub async fn claim(&self, node: &str, limit: u64, lease_s: i64) -> Vec<Applied> {
        self.recorder()
            .claim(node, limit, chrono::TimeDelta::seconds(lease_s))
            .await
            .expect("the claim commits")
    }

    /// Starts run `id`, which must be the only pending run (tests start runs one at a time).
    pub async fn start_run(&self, id: Uuid) -> Applied {
        let mut claimed = self.claim("test-node", 1, 300).await;
        assert_eq!(claimed.len(), 1, "run {id} was not claimable");
        let applied = claimed.pop().unwrap();
        assert_eq!(applied.run.id, id, "another run was pending");
        applied
    }

    /// A user with a public circuit (one version).
    pub async fn circuit(&self) -> Fixture {
        let handle = format!("u{}", &Uuid::new_v4().simple().to_string()[..12]);
        self.circuit_of(&handle).await
    }

    /// The user `handle` (created) with a public circuit (one version).
    pub async fn circuit_of(&self, handle: &str) -> Fixture {
        let (user, token) = self.store().create_user(handle).await.expect("a user");
        let manifest = Manifest {
            framework: "qiskit".into(),
            format: "openqasm2".into(),
        };
        let (circuit, version) = self
            .store()
            .create_circuit(user.id, "bell", Visibility::Public, BELL, &manifest)
            .await
            .expect("a circuit");
        Fixture {
            user_id: user.id,
            token,
            circuit_id: circuit.id,
            version: version.version,
        }
    }

    /// `n` pending runs of `fixture`'s circuit (10 shots, no consent), created in one
    /// transaction; their ids, oldest first.
    pub async fn burst(&self, fixture: &Fixture, n: usize) -> Vec<Uuid> {
        let commands: Vec<Command> = (0..n)
            .map(|_| Command::Create(fixture.new_run(10, Some(false))))
            .collect();
        self.store()
            .apply(&commands)
            .await
            .into_iter()
            .map(|outcome| outcome.expect("created").run.id)
            .collect()
    }

    /// A pending run of `fixture`'s circuit with the given consent.
    pub async fn submit(&self, fixture: &Fixture, consent: Option<bool>) -> Run {
        let new = fixture.new_run(100, consent);
        self.apply(Command::Create(new)).await.expect("created").run
    }

    pub async fn stop(self) {
        self.app.shutdown().await;
    }

    /// Stops the application and keeps its database (to run the CLI on it, or restart).
    pub async fn into_db(self) -> TestDb {
        self.app.shutdown().await;
        self.db
    }
}

/// A browser's side of the pages: the cookies it holds, kept from each answer's `Set-Cookie` as
/// a browser keeps them (`qrun_token`, a session's secret; `qrun_consent`; `qrun_session`, the
/// analytics' browser session), sent with every request;
/// its form posts name the site's own `Origin` unless told otherwise; redirects are not followed.
pub struct Browser<'a> {
    app: &'a TestApp,
    cookies: std::sync::Mutex<std::collections::BTreeMap<String, String>>,
}

/// A page's answer to a [`Browser`].
#[derive(Debug)]
pub struct PageAnswer {
    pub status: u16,
    /// `Location`, for a redirect.
    pub location: Option<String>,
    pub html: String,
}

impl Browser<'_> {
    /// Holds `name=value`, as if a page had set it.
    pub fn with_cookie(self, name: &str, value: &str) -> Self {
        self.cookies
            .lock()
            .unwrap()
            .insert(name.to_owned(), value.to_owned());
        self
    }

    /// Signed in with the API token `token`, as the form at `/login` signs in: `POST /login`
    /// makes a browser session, whose secret (never the token) the `qrun_token` cookie holds.
    pub async fn signed_in(self, token: &str) -> Self {
        let answer = self
            .post("/login", &[("token", token), ("next", "/")])
            .await;
        assert_eq!(answer.status, 303, "signing in: {}", answer.html);
        let session = self.cookie("qrun_token").expect("a session cookie");
        assert!(
            session.starts_with("qrun_s_") && session != token,
            "the cookie holds a session, not the token"
        );
        self
    }

    /// The value of a cookie it holds.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.lock().unwrap().get(name).cloned()
    }

    /// A GET of `path`.
    pub async fn get(&self, path: &str) -> PageAnswer {
        self.send(reqwest::Method::GET, path, None, None).await
    }

    /// A form post to `path` from the site's own pages.
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> PageAnswer {
        let origin = self.app.origin();
        self.post_from(&origin, path, form).await
    }

    /// A form post to `path` from a page of `origin`.
    pub async fn post_from(&self, origin: &str, path: &str, form: &[(&str, &str)]) -> PageAnswer {
        let body: String = form
            .iter()
            .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let body = ("application/x-www-form-urlencoded".to_owned(), body);
        self.send(reqwest::Method::POST, path, Some(origin), Some(body))
            .await
    }

    /// A `multipart/form-data` post of `fields` ([`multipart`]) to `path` from a page of
    /// `origin`.
    pub async fn upload_from(
        &self,
        origin: &str,
        path: &str,
        fields: &[(&str, &str)],
    ) -> PageAnswer {
        self.send(
            reqwest::Method::POST,
            path,
            Some(origin),
            Some(multipart(fields)),
        )
        .await
    }

    /// A `multipart/form-data` post to `path` from the site's own pages ([`Browser::upload_from`]).
    pub async fn upload(&self, path: &str, fields: &[(&str, &str)]) -> PageAnswer {
        let origin = self.app.origin();
        self.upload_from(&origin, path, fields).await
    }

    /// `body` is its content type and content.
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        origin: Option<&str>,
        body: Option<(String, String)>,
    ) -> PageAnswer {
        let cookies: Vec<String> = self
            .cookies
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let mut request = no_redirects().request(method.clone(), self.app.url(path));
        if !cookies.is_empty() {
            request = request.header("cookie", cookies.join("; "));
        }
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        if let Some((content_type, body)) = body {
            request = request.header("content-type", content_type).body(body);
        }
        let response = request.send().await.expect("the page answers");
        for set in response.headers().get_all("set-cookie") {
            let set = set.to_str().unwrap();
            let (pair, attributes) = set.split_once(';').unwrap_or((set, ""));
            let (name, value) = pair.split_once('=').unwrap();
            let mut cookies = self.cookies.lock().unwrap();
            if attributes.contains("Max-Age=0") {
                cookies.remove(name);
            } else {
                cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned());
        PageAnswer {
            status,
            location,
            html: response.text().await.unwrap(),
        }
    }
}

/// A `multipart/form-data` body of `fields`, as a form with a file input sends it: the field
/// `file` is a file (`circuit.qasm`), the others text. Its content type and content.
pub fn multipart(fields: &[(&str, &str)]) -> (String, String) {
    const BOUNDARY: &str = "----qrun-test-boundary-7MA4YWxkTrZu0gW";
    let mut body = String::new();
    for (name, value) in fields {
        let filename = if *name == "file" {
            "; filename=\"circuit.qasm\"\r\nContent-Type: text/plain"
        } else {
            ""
        };
        body.push_str(&format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"{filename}\r\n\r\n{value}\r\n"
        ));
    }
    body.push_str(&format!("--{BOUNDARY}--\r\n"));
    (format!("multipart/form-data; boundary={BOUNDARY}"), body)
}

/// A form value, `application/x-www-form-urlencoded`.
fn form_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                (b as char).to_string()
            }
            b' ' => "+".to_owned(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

thread_local! {
    /// The same, answering redirects itself (a page's 303 is the answer under test).
    static NO_REDIRECTS: reqwest::Client = {
        let _ = http(); // installs the TLS provider reqwest needs
        reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a client")
    };
}

/// An HTTP client for tests that does not follow redirects.
pub fn no_redirects() -> reqwest::Client {
    NO_REDIRECTS.with(reqwest::Client::clone)
}

pub struct Fixture {
    pub user_id: Uuid,
    #[allow(dead_code)]
    pub token: String,
    pub circuit_id: Uuid,
    pub version: i32,
}

impl Fixture {
    /// A run of the fixture's circuit on the state-vector simulator.
    pub fn new_run(&self, shots: u64, consent: Option<bool>) -> NewRun {
        NewRun {
            traceparent: None,
            user_id: self.user_id,
            idempotency_key: None,
            spec: RunSpec {
                circuit_id: self.circuit_id,
                circuit_version: self.version,
                backend_type: "simulator".into(),
                backend_name: "statevector".into(),
                framework: "qiskit".into(),
                shots,
                analytics_consent: consent,
                parameters: Default::default(),
                seed: None,
                memory: false,
                options: Default::default(),
            },
        }
    }
}

/// A command backend for tests: reads the job, writes its pid to `pid_file`, sleeps
/// `seconds`, then answers with every shot on outcome "00" (a key of [`BELL`]'s two
/// classical bits: counts must fit the circuit). Unsandboxed: tests follow its host pid and
/// it writes to the host's `dir`.
pub fn sleepy_backend(
    dir: &std::path::Path,
    name: &str,
    seconds: f64,
) -> qrun::config::BackendConfig {
    open_to_programs(dir);
    let script = dir.join(format!("{name}.sh"));
    let pid_file = dir.join(format!("{name}.pids"));
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\ninput=$(cat)\necho $$ >> '{}'\nshots=$(echo \"$input\" | sed -n 's/.*\"shots\": *\\([0-9]*\\).*/\\1/p')\nsleep {seconds}\nprintf '{{\"counts\": {{\"00\": %s}}}}' \"$shots\"\n",
            pid_file.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    qrun::config::BackendConfig::Command {
        name: name.into(),
        program: script,
        args: vec![],
        formats: vec!["openqasm2".into()],
        timeout_s: 600,
        max_shots: 100_000,
        max_source_bytes: 1 << 20,
        max_output_bytes: 1 << 20,
        max_qubits: None,
        native_gates: Vec::new(),
        options: Vec::new(),
        warm: 0,
        sandbox: qrun::config::SandboxConfig {
            enabled: false,
            ..Default::default()
        },
    }
}

/// Opens `dir` to a command backend's program: a root service runs it as `nobody`, who
/// must enter the directory, run the scripts in it and write its files there (mode 0777,
/// `/tmp`'s without the sticky bit; test directories only).
pub fn open_to_programs(dir: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777)).unwrap();
}
