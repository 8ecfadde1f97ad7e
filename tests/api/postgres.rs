//! qrun's PostgreSQL connections as sockets: every one has `TCP_NODELAY`. Without it, a
//! statement larger than the socket's send buffer (a run's results of thousands of outcomes,
//! a circuit upload) goes out in two writes and Nagle's algorithm holds the second until the
//! server's delayed ACK, ~40 ms — and the Recorder's whole batch with it (sqlx 0.9.0 lost the
//! option, launchbadge/sqlx#4335; 0.9.1 sets it again). Checked on the sockets themselves, not
//! by timing (BENCHMARKS.md "The trap" has the figures).

use std::os::fd::{AsRawFd, BorrowedFd};

use nix::sys::socket::{SockaddrStorage, getpeername, getsockopt, sockopt};

use crate::helpers::{TestApp, TestDb};

/// The TCP sockets of this process connected to `port`, with whether each has `TCP_NODELAY`.
fn sockets_to(port: u16) -> Vec<(i32, bool)> {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|fd| {
            std::fs::read_link(format!("/proc/self/fd/{fd}"))
                .is_ok_and(|target| target.to_string_lossy().starts_with("socket:"))
        })
        .filter_map(|fd| {
            // SAFETY: the descriptor is open (listed just now) and only looked at; a test
            // closing it meanwhile makes the calls fail, and it is skipped.
            let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
            let peer: SockaddrStorage = getpeername(borrowed.as_raw_fd()).ok()?;
            let peer_port = peer
                .as_sockaddr_in()
                .map(|a| a.port())
                .or_else(|| peer.as_sockaddr_in6().map(|a| a.port()))?;
            if peer_port != port {
                return None;
            }
            Some((fd, getsockopt(&borrowed, sockopt::TcpNoDelay).ok()?))
        })
        .collect()
}

#[tokio::test]
async fn every_connection_to_postgresql_has_tcp_nodelay() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let port = url_port(&db.url);
    let app = TestApp::spawn(db).await;
    // The pool's connections are open once the application answers.
    let sockets = sockets_to(port);
    assert!(
        !sockets.is_empty(),
        "no socket to PostgreSQL's port {port} found: the check would pass vacuously"
    );
    let without: Vec<i32> = sockets
        .iter()
        .filter(|(_, nodelay)| !nodelay)
        .map(|(fd, _)| *fd)
        .collect();
    assert!(
        without.is_empty(),
        "sockets to PostgreSQL without TCP_NODELAY (descriptors {without:?} of {sockets:?})"
    );
    app.stop().await;
}

/// The port of a `postgres://…` URL (5432 when it names none).
fn url_port(url: &str) -> u16 {
    let authority = url
        .split_once("://")
        .map_or(url, |(_, rest)| rest)
        .split(['/', '?'])
        .next()
        .unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    host.rsplit_once(':')
        .and_then(|(_, port)| port.parse().ok())
        .unwrap_or(5432)
}
