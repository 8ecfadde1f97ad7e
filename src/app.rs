//! The application: everything `qrun serve` runs, buildable in a test on port 0 with a fresh
//! database ([`Application::build`], [`Application::addr`], [`Application::shutdown`]).

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use metrics_exporter_prometheus::PrometheusHandle;
use ractor::{ActorRef, ActorStatus};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::actors::dispatcher::DispatcherSettings;
use crate::actors::executor::ExecutorSettings;
use crate::actors::root::RootMsg;
use crate::actors::watchdog::WatchdogSettings;
use crate::actors::{ActorTree, RecorderHandle, TreeSettings};
use crate::config::Config;
use crate::domain::{Clock, SystemClock};
use crate::execution::Backends;
use crate::service::auth::Authenticator;
use crate::service::limits::{Counts, SubmissionLimiter};
use crate::store::Store;
use crate::store::connect::ConnectSettings;
use crate::{analytics, http, metrics};

/// What request handlers share.
pub struct AppState {
    pub config: Config,
    pub store: Store,
    pub recorder: RecorderHandle,
    pub auth: Authenticator,
    pub submissions: SubmissionLimiter,
    pub counts: Counts,
    /// `None` when `metrics.enabled = false`.
    pub metrics: Option<PrometheusHandle>,
    root: ActorRef<RootMsg>,
}

impl AppState {
    /// Whether the actor tree is running.
    pub fn actors_alive(&self) -> bool {
        self.root.get_status() == ActorStatus::Running
    }
}

/// A running qrun.
pub struct Application {
    addr: SocketAddr,
    state: Arc<AppState>,
    tree: ActorTree,
    server: JoinHandle<()>,
    shutdown: CancellationToken,
    /// Registered before the service says it is listening, so a SIGTERM or SIGINT that
    /// follows that line is always a graceful shutdown.
    signals: Signals,
}

/// Opens (and migrates) the configured database.
pub async fn open_store(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<Store> {
    let settings = ConnectSettings {
        url: config.database.url.clone(),
        max_connections: config.database.max_connections,
        connect_timeout: Duration::from_secs(config.database.connect_timeout_s),
        wait_timeout: Duration::from_millis(config.database.wait_timeout_ms),
    };
    let store = Store::connect(&settings, clock)
        .await
        .context("cannot open the database")?;
    store
        .migrate()
        .await
        .context("cannot migrate the database")?;
    Ok(store)
}

impl Application {
    /// Builds and starts the service on the wall clock.
    pub async fn build(config: Config) -> anyhow::Result<Application> {
        Self::build_with_clock(config, Arc::new(SystemClock)).await
    }

    /// Builds and starts the service with an injected clock.
    pub async fn build_with_clock(
        config: Config,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Application> {
        Self::build_with(config, clock, |_| {}).await
    }

    /// Builds and starts the service with an injected clock, letting the caller add
    /// backends to the configured ones (tests add misbehaving ones).
    pub async fn build_with(
        config: Config,
        clock: Arc<dyn Clock>,
        add_backends: impl FnOnce(&mut Backends),
    ) -> anyhow::Result<Application> {
        let store = open_store(&config, clock).await?;
        let mut backends = Backends::from_config(&config.backends).await?;
        add_backends(&mut backends);
        let node = config.executor.node();
        tracing::info!(%node, "this node");
        let settings = TreeSettings {
            max_batch: config.recorder.max_batch,
            execute: config.executor.enabled,
            executor: ExecutorSettings {
                node,
                max_concurrent_runs: config.executor.max_concurrent_runs,
                claim_interval: Duration::from_millis(config.executor.claim_interval_ms),
                lease_ttl: Duration::from_secs(config.executor.lease_ttl_s),
            },
            watchdog: WatchdogSettings {
                interval: Duration::from_secs(config.watchdog.interval_s),
                running_ttl: Duration::from_secs(config.watchdog.running_ttl_s),
            },
            dispatcher: DispatcherSettings {
                interval: Duration::from_millis(config.analytics.flush_interval_ms),
                batch_size: config.analytics.batch_size,
                hold: Duration::from_secs(2 * config.analytics.request_timeout_s),
                max_backoff: Duration::from_secs(config.analytics.max_backoff_s),
                retention: Duration::from_secs(3600 * config.analytics.retention_h),
            },
        };
        let sink = analytics::sink(&config.analytics)?;
        let tree = ActorTree::start(store.clone(), settings, backends, sink)
            .await
            .map_err(|e| anyhow::anyhow!("cannot start the actor tree: {e}"))?;
        let metrics = config.metrics.enabled.then(metrics::install);
        let listener = TcpListener::bind(config.server.bind)
            .await
            .with_context(|| format!("cannot bind {}", config.server.bind))?;
        let addr = listener.local_addr()?;
        let auth = Authenticator::new(
            store.clone(),
            chrono::TimeDelta::seconds(config.auth.token_cache_ttl_s as i64),
        );
        let submissions = SubmissionLimiter::new(
            NonZeroU32::new(config.executor.user_submissions_per_s).unwrap_or(NonZeroU32::MIN),
            NonZeroU32::new(config.executor.user_submission_burst).unwrap_or(NonZeroU32::MIN),
        );
        let state = Arc::new(AppState {
            auth,
            submissions,
            counts: Counts::default(),
            config,
            store,
            recorder: tree.recorder.clone(),
            metrics,
            root: tree.root.clone(),
        });
        let shutdown = CancellationToken::new();
        let signals = Signals::register()?;
        let server = tokio::spawn(
            warp::serve(http::service(state.clone()))
                .incoming(listener)
                .graceful(shutdown.clone().cancelled_owned())
                .run(),
        );
        tracing::info!("listening on http://{addr}");
        Ok(Application {
            addr,
            state,
            tree,
            server,
            shutdown,
            signals,
        })
    }

    /// The address the server is bound to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn state(&self) -> &Arc<AppState> {
        &self.state
    }

    /// Runs until SIGINT or SIGTERM, then shuts down gracefully.
    pub async fn run_until_stopped(mut self) -> anyhow::Result<()> {
        self.signals.received().await;
        tracing::info!("shutting down");
        self.shutdown().await;
        Ok(())
    }

    /// Runs a watchdog sweep now; how many stranded runs it recovered.
    pub async fn sweep(&self) -> anyhow::Result<u64> {
        Ok(self.tree.sweep().await?)
    }

    /// Graceful shutdown: stop accepting requests and let in-flight ones finish; stop
    /// claiming and give executing runs `executor.shutdown_grace_s` to finish (the rest are
    /// failed with internal_error); flush the analytics outbox; then stop the actors.
    pub async fn shutdown(self) {
        self.shutdown.cancel();
        let _ = self.server.await;
        let grace = Duration::from_secs(self.state.config.executor.shutdown_grace_s);
        self.tree.drain(grace).await;
        let flush = Duration::from_secs(2 * self.state.config.analytics.request_timeout_s);
        self.tree.flush_outbox(flush).await;
        self.tree.stop().await;
    }
}

/// SIGTERM and SIGINT, registered at once (tokio's `ctrl_c()` registers only when first
/// polled).
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn register() -> std::io::Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    async fn received(&mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
    }
}
