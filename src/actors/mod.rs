//! The actor tree (ractor), DESIGN §4.
//!
//! ```text
//! Root supervisor
//! └── Recorder   the only writer of run state (group commit)
//! ```
//!
//! - [`root`]: spawns its children linked and restarts one that fails, with a bounded
//!   restart budget (overriding ractor's default, which stops the parent).
//! - [`recorder`]: applies lifecycle commands through the store, batching what queued up.

pub mod recorder;
pub mod root;

pub use recorder::{RecorderHandle, RunChange};
pub use root::{ActorTree, RootSupervisor};
