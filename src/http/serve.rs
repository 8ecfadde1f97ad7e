//! Serving connections: hyper's HTTP/1 and HTTP/2 with the bounds warp's own server lacks.
//!
//! - The request head must arrive within `server.header_read_timeout_s` (hyper's
//!   `header_read_timeout`, which needs a timer to take effect); a connection that dawdles is
//!   closed.
//! - At most `server.max_connections` connections are open at once (never more than the
//!   process's open-file limit allows, less a reserve for the database and the sandbox). At
//!   the cap, the oldest connection still waiting for its first request head is closed to make
//!   room; only when every connection is busy with a request is the new one refused. So a
//!   flood of slow or idle sockets cannot keep `/healthz` or `/metrics` out.
//! - An accept that fails for want of file descriptors waits a moment and is logged once per
//!   burst, not once per attempt; a client dropping its connection is not an error.
//! - Each request conforms before it is routed: one `Host`, unreserved characters decoded
//!   ([`super::conform`]).
//! - Graceful shutdown: stop accepting, let connections finish their requests; at the node's
//!   deadline, close those still open.
//! - Each request gets its id, span and access line ([`super::access`]), around its
//!   conformance check, so a refused request is logged too.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::conform::Conform;
use crate::config::ServerConfig;
use warp::Filter;

/// File descriptors kept for everything but connections: the database pool, log files, the
/// sandbox's pipes and cgroup files.
const RESERVED_FDS: u64 = 128;

/// A connection's bookkeeping: whether a request arrived on it yet, and how to close it.
struct Open {
    served: Arc<AtomicBool>,
    close: CancellationToken,
}

/// Serves `filter` on `listener` until `shutdown` fires, then drains the open connections
/// until `abandon` fires, which closes those still open; within `limits`'
/// `header_read_timeout_s` (a request head's longest arrival) and `max_connections` (open at
/// once, before the open-file limit lowers it).
pub async fn serve<F>(
    listener: TcpListener,
    filter: F,
    limits: ServerConfig,
    shutdown: CancellationToken,
    abandon: CancellationToken,
) where
    F: Filter + Clone + Send + Sync + 'static,
    F::Extract: warp::Reply,
{
    let cap = connection_cap(limits.max_connections);
    let open: Arc<Mutex<BTreeMap<u64, Open>>> = Arc::default();
    let next = AtomicU64::new(0);
    let graceful = GracefulShutdown::new();
    let mut starved = false;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = shutdown.cancelled() => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => {
                starved = false;
                stream
            }
            Err(err) => {
                // EMFILE / ENFILE / ENOMEM: wait for a descriptor; anything else is the
                // client's (a reset before accept) and the next accept is fine.
                if !starved {
                    tracing::warn!(error = %err, "cannot accept connections (open files?); retrying");
                    starved = true;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        if !make_room(&open, cap) {
            tracing::debug!("at the connection cap with every connection busy; refused one");
            continue;
        }
        let id = next.fetch_add(1, Ordering::Relaxed);
        let served = Arc::new(AtomicBool::new(false));
        let close = CancellationToken::new();
        lock(&open).insert(
            id,
            Open {
                served: served.clone(),
                close: close.clone(),
            },
        );
        let service = MarkServed {
            inner: super::access::Access::new(Conform {
                inner: warp::service(filter.clone()),
            }),
            served,
        };
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout());
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), TowerToHyperService::new(service))
            .into_owned();
        let connection = graceful.watch(connection);
        let open = open.clone();
        tokio::spawn(async move {
            tokio::select! {
                result = connection => {
                    if let Err(err) = result {
                        tracing::debug!(error = %err, "connection ended");
                    }
                }
                () = close.cancelled() => {}
            }
            lock(&open).remove(&id);
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = abandon.cancelled() => {
            let open = std::mem::take(&mut *lock(&open));
            tracing::info!(connections = open.len(), "shutdown deadline: closing the connections still open");
            for connection in open.into_values() {
                connection.close.cancel();
            }
        }
    }
}

/// Whether a new connection may be served: below the cap, or once the oldest connection that
/// has not sent a request yet is closed.
fn make_room(open: &Mutex<BTreeMap<u64, Open>>, cap: u64) -> bool {
    let mut open = lock(open);
    if (open.len() as u64) < cap {
        return true;
    }
    let idle = open
        .iter()
        .find(|(_, o)| !o.served.load(Ordering::Relaxed))
        .map(|(id, _)| *id);
    match idle.and_then(|id| open.remove(&id)) {
        Some(evicted) => {
            evicted.close.cancel();
            true
        }
        None => false,
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// `max_connections`, lowered to what the open-file limit (`RLIMIT_NOFILE`) leaves after
/// [`RESERVED_FDS`].
fn connection_cap(max_connections: u64) -> u64 {
    let files = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .map(|(soft, _)| soft)
        .unwrap_or(u64::MAX);
    max_connections
        .min(files.saturating_sub(RESERVED_FDS))
        .max(1)
}

/// A connection's service: marks `served` when a request arrives on it.
#[derive(Clone)]
struct MarkServed<S> {
    inner: S,
    served: Arc<AtomicBool>,
}

impl<S, R> tower_service::Service<R> for MarkServed<S>
where
    S: tower_service::Service<R>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        self.served.store(true, Ordering::Relaxed);
        self.inner.call(request)
    }
}
