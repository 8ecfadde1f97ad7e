//! The application: everything `qrun serve` runs, buildable in a test on port 0 with a fresh
//! database ([`Application::build`], [`Application::addr`], [`Application::shutdown`]).
//!
//! The wiring, and the top of the one-way dependency chain `app → http → service → store /
//! actors`: it reads the configuration, opens the store, starts the actor tree, builds the
//! [`Service`] and the HTTP [`http::Context`], and serves.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::actors::{ActorTree, TreeSettings};
use crate::config::{Config, MigrateMode};
use crate::domain::Clock;
use crate::execution::{Backend, Backends};
use crate::service::{Rules, Service};
use crate::store::Store;
use crate::{analytics, http, metrics};

/// What a caller may inject into [`Application::build`]; `Hooks::default()` is production.
#[derive(Default)]
pub struct Hooks {
    /// The clock every timestamp comes from, the database's included (tests move it by
    /// hand); when `None`, the database's clock for judged stamps (`store::time`) and the
    /// wall clock for the rest.
    pub clock: Option<Arc<dyn Clock>>,
    /// Backends added to the configured ones as `(type, name, backend)` (tests add
    /// misbehaving ones).
    pub backends: Vec<(String, String, Arc<dyn Backend>)>,
}

/// A running qrun.
pub struct Application {
    addr: SocketAddr,
    config: Config,
    service: Arc<Service>,
    tree: ActorTree,
    /// The backends the executor runs on: closed last at shutdown (their warm programs).
    backends: Backends,
    server: JoinHandle<()>,
    /// Fired first at shutdown: `/readyz` fails, event streams end (`http::Context::stopping`).
    stopping: CancellationToken,
    /// Stop accepting connections; in-flight requests finish.
    shutdown: CancellationToken,
    /// The deadline: close the connections still open.
    abandon: CancellationToken,
    /// Registered before the service says it is listening, so a SIGTERM or SIGINT that
    /// follows that line is always a graceful shutdown.
    signals: Signals,
}

/// Opens the configured database and checks that this binary works with its schema (docs/
/// DESIGN.md §2: expand and contract), never changing it; `clock` as [`Hooks::clock`]. A
/// schema that is newer but compatible is worked with, and said so in the log.
pub async fn open_store(config: &Config, clock: Option<Arc<dyn Clock>>) -> anyhow::Result<Store> {
    let store = connect(config, clock).await?;
    check_schema(&store).await?;
    Ok(store)
}

/// [`open_store`] for `qrun serve`: first applies pending migrations when
/// `database.migrate` is `auto` (the default for SQLite).
async fn open_serving_store(
    config: &Config,
    clock: Option<Arc<dyn Clock>>,
) -> anyhow::Result<Store> {
    let store = connect(config, clock).await?;
    if config.database.migrate() == MigrateMode::Auto {
        let applied = store
            .migrate(false)
            .await
            .context("cannot migrate the database")?;
        if !applied.is_empty() {
            tracing::info!(migrations = %applied.join(", "), "applied migrations (database.migrate = \"auto\")");
        }
    }
    check_schema(&store).await?;
    Ok(store)
}

async fn connect(config: &Config, clock: Option<Arc<dyn Clock>>) -> anyhow::Result<Store> {
    Ok(Store::connect(&config.database, clock)
        .await
        .context("cannot open the database")?
        .with_scheduling(config.scheduling.clone()))
}

/// Whether this binary works with `store`'s schema (an error saying why not); a warning naming
/// the expansions it does not know.
async fn check_schema(store: &Store) -> anyhow::Result<()> {
    let schema = store
        .schema()
        .await
        .context("cannot read the database schema")?;
    schema.check()?;
    let unknown = schema.unknown();
    if !unknown.is_empty() {
        tracing::warn!(
            migrations = %unknown.join(", "),
            "the database schema has migrations this qrun does not know; they only add (expand), \
             so it works with them"
        );
    }
    Ok(())
}

impl Application {
    /// Builds and starts the service: opens the database (migrating it if `database.migrate` is
    /// `auto`, else refusing a schema it cannot work with), starts the actor tree,
    /// binds `server.bind` and serves (or, on a worker-only node, `server.ops_bind`: the
    /// operational routes only).
    pub async fn build(config: Config, hooks: Hooks) -> anyhow::Result<Application> {
        let store = open_serving_store(&config, hooks.clock).await?;
        let mut backends = Backends::from_config(&config.backends).await?;
        for (kind, name, backend) in hooks.backends {
            backends.insert(&kind, &name, backend);
        }
        let node = config.executor.node();
        tracing::info!(%node, "this node");
        let settings = TreeSettings {
            recorder: config.recorder.clone(),
            executor: config.executor.clone(),
            node,
            watchdog: config.watchdog.clone(),
            analytics: config.analytics.clone(),
        };
        if config.executor.enabled {
            // On this thread, which lives as long as the service: warm programs die with it.
            backends.warm_up();
        }
        let sink = analytics::sink(&config.analytics)?;
        let tree = ActorTree::start(store.clone(), settings, backends.clone(), sink)
            .await
            .map_err(|e| anyhow::anyhow!("cannot start the actor tree: {e}"))?;
        let metrics = config.metrics.enabled.then(|| {
            let handle = metrics::install();
            let backends: Vec<String> = config
                .backends
                .iter()
                .map(|b| format!("{}/{}", b.kind(), b.name()))
                .collect();
            metrics::register(&config.executor.frameworks, &backends);
            metrics::executor_slots(if config.executor.enabled {
                config.executor.max_concurrent_runs
            } else {
                0
            });
            handle
        });
        let bind = if config.server.enabled {
            config.server.bind
        } else {
            config.server.ops_bind
        };
        let listener = TcpListener::bind(bind)
            .await
            .with_context(|| format!("cannot bind {bind}"))?;
        let addr = listener.local_addr()?;
        let service = Arc::new(Service::new(
            store,
            tree.recorder.clone(),
            tree.root.get_cell(),
            tree.history.clone(),
            Rules::from_config(&config),
        ));
        let stopping = CancellationToken::new();
        let context = Arc::new(http::Context::new(
            service.clone(),
            metrics,
            &config.server,
            stopping.clone(),
        ));
        let shutdown = CancellationToken::new();
        let abandon = CancellationToken::new();
        let signals = Signals::register()?;
        let server = if config.server.enabled {
            tracing::info!("listening on http://{addr}");
            let filter = http::service(context);
            tokio::spawn(http::serve::serve(
                listener,
                filter,
                config.server.clone(),
                shutdown.clone(),
                abandon.clone(),
            ))
        } else {
            tracing::info!("listening on http://{addr} (worker only: /metrics, /healthz, /readyz)");
            let filter = http::ops_service(context);
            tokio::spawn(http::serve::serve(
                listener,
                filter,
                config.server.clone(),
                shutdown.clone(),
                abandon.clone(),
            ))
        };
        Ok(Application {
            addr,
            config,
            service,
            tree,
            backends,
            server,
            stopping,
            shutdown,
            abandon,
            signals,
        })
    }

    /// The address the server is bound to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The rules, as the HTTP layer calls them (tests and the command line too).
    pub fn service(&self) -> &Arc<Service> {
        &self.service
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

    /// Samples the dashboard's history now, as the HistorySampler does every
    /// `service::history::SAMPLE_EVERY`.
    pub async fn sample_history(&self) -> anyhow::Result<()> {
        Ok(self.tree.sample_history().await?)
    }

    /// Graceful shutdown, all of it within `server.shutdown_grace_s` (docs/DESIGN.md §4):
    ///
    /// 1. `/readyz` fails and open event streams end with a `shutdown` event; the executor
    ///    stops claiming. The listener stays open meanwhile, so a load balancer that has not
    ///    yet seen `/readyz` fail still gets answers.
    /// 2. Executing runs may finish until [`hand_back_at`] before the deadline; the rest are
    ///    stopped and handed back (running → pending) for another node to claim at once.
    /// 3. The listener closes; in-flight requests finish by the deadline, and the connections
    ///    still open then are closed.
    /// 4. The analytics outbox's due events are delivered with what time is left (at most
    ///    twice `analytics.request_timeout_s`); the actors stop; the backends' warm programs
    ///    are killed.
    pub async fn shutdown(self) {
        let grace = self.config.server.shutdown_grace();
        let deadline = tokio::time::Instant::now() + grace;
        self.stopping.cancel();
        let hand_back = hand_back_at(grace);
        if !self.tree.drain(hand_back, grace).await {
            tracing::warn!(
                "runs still executing at the shutdown deadline; their leases will expire and \
                 the watchdog fail them"
            );
        }
        self.shutdown.cancel();
        let mut server = self.server;
        if tokio::time::timeout_at(deadline, &mut server)
            .await
            .is_err()
        {
            self.abandon.cancel();
            let _ = server.await;
        }
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let flush = left.min(2 * self.config.analytics.request_timeout());
        if !flush.is_zero() {
            self.tree.flush_outbox(flush).await;
        }
        self.tree.stop().await;
        let backends = self.backends;
        let _ = tokio::task::spawn_blocking(move || backends.close()).await;
    }
}

/// When, from the shutdown signal, the runs still executing are stopped and handed back: a
/// second before the deadline, or half the grace if it is under two seconds, so that handing
/// them back (stopping their work, one transaction) ends by the deadline.
fn hand_back_at(grace: Duration) -> Duration {
    grace.saturating_sub(HAND_BACK_RESERVE.min(grace / 2))
}

/// What [`hand_back_at`] keeps of the grace for handing runs back.
const HAND_BACK_RESERVE: Duration = Duration::from_secs(1);

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
