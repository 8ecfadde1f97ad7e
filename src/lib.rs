//! qrun: the run-lifecycle service of a quantum-circuit hosting platform.
//!
//! A submitted circuit becomes a durable run (`pending → running → completed | failed |
//! cancelled`); every transition writes its audit row, and with consent its analytics event,
//! in the same transaction as the state change. See README.md for the architecture.
//!
//! Layout:
//! - [`domain`]: statuses, edges, error classes, the run: plain Rust.
//! - [`store`]: the database; the only module that knows sea-orm, and the only writer of run
//!   state (`store::lifecycle`).
//! - [`actors`]: the ractor tree; the Recorder is the single entry point for lifecycle writes.
//! - [`service`]: the rules (visibility, submission, cancel): no HTTP, no SQL.
//! - [`http`]: the warp routes; the only module that knows warp.
//! - [`config`]: layered configuration.
//! - [`metrics`]: Prometheus metric names and where they are recorded.
//! - [`telemetry`]: the log subscriber (`RUST_LOG`, text or JSON) and optional OpenTelemetry
//!   traces.
//! - [`app`]: wiring it together; [`cli`]: the command line.
//! - `cache`: the bounded cache of things that never change (rows, parsed programs).

pub mod actors;
pub mod analytics;
pub mod app;
mod cache;
pub mod cli;
pub mod config;
pub mod domain;
pub mod execution;
pub mod http;
pub mod metrics;
pub mod service;
pub mod store;
pub mod telemetry;
