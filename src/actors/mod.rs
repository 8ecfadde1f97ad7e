//! The actor tree (ractor), docs/DESIGN.md §4.
//!
//! ```text
//! Root supervisor
//! ├── Recorder     the only writer of run state: lifecycle commands, claims, leases
//! ├── Executor     claims pending runs; supervises one RunActor per running run
//! │   ├── (task)   wake-ups from other nodes: LISTEN qrun_runs_pending / _cancelled
//! │   └── RunActor ×N   prepare → execute (off the handler) → store
//! ├── Watchdog     fails runs stranded in running; stranded/live gauges
//! ├── Dispatcher   delivers the analytics outbox to the sink; prunes; depth gauge
//! └── HistorySampler feeds the dashboard's per-minute history (queue depth, endings)
//! ```
//!
//! - [`root`]: spawns its children linked and restarts one that fails, with a bounded
//!   restart budget (overriding ractor's default, which stops the parent).
//! - [`recorder`]: applies lifecycle commands through the store, batching what queued up.
//! - [`executor`], [`run_actor`]: claiming and executing runs; [`wakeups`]: other nodes'
//!   submissions and cancels into the executor's mailbox (PostgreSQL `LISTEN`).
//! - [`periodic`]: the one periodic actor; the Watchdog, the Dispatcher and the HistorySampler are
//!   its work.
//! - [`watchdog`]: recovering stranded runs.
//! - [`dispatcher`]: analytics delivery.
//! - [`history`]: the dashboard's history, sampled on every node whether or not anyone looks.

pub mod dispatcher;
pub mod executor;
pub mod history;
pub mod periodic;
pub mod recorder;
pub mod root;
pub mod run_actor;
pub mod wakeups;
pub mod watchdog;

pub use recorder::{RecorderHandle, StatusChange};
pub use root::{ActorTree, RootSupervisor, TreeSettings};
