//! qrun's schema migrations, one source for SQLite and PostgreSQL.
//!
//! Dialect differences are handled inside each migration (see `m20261128_000001_initial`).
//!
//! # Expand and contract (docs/DESIGN.md §2)
//!
//! Several nodes are upgraded one at a time, so binaries of two releases share one schema for
//! a while. Every migration is one of two kinds, told by its name:
//!
//! - an **expand** migration (any name not ending in `_contract`) only adds: tables, nullable
//!   or defaulted columns, indexes, looser checks. A binary that does not know it works with
//!   it applied; a binary that knows it needs it applied.
//! - a **contract** migration (its name ends in [`CONTRACT_SUFFIX`]) takes away what binaries
//!   of the release before no longer use. A binary that knows it works before and after it is
//!   applied; a binary that does not know it cannot work once it is.
//!
//! So a binary works with a schema when every migration it knows that is not applied is a
//! contract, and every applied migration it does not know is an expansion ([`is_contract`];
//! `qrun`'s `store::schema` decides). A release never carries both kinds: its expansions are
//! applied before its nodes are replaced, its contractions after.

pub use sea_orm_migration::prelude::*;
pub use sea_orm_migration::seaql_migrations;

/// The end of a contract migration's name.
pub const CONTRACT_SUFFIX: &str = "_contract";

/// Whether the migration named `name` is a contract migration (see the crate's docs).
pub fn is_contract(name: &str) -> bool {
    name.ends_with(CONTRACT_SUFFIX)
}

mod m20261128_000001_initial;
mod m20261128_000002_terminal_runs_immutable;
mod m20261201_000003_run_parameters_and_seed;
mod m20261201_000004_runs_completed_idx;
mod m20261206_000005_user_queues;
mod m20261206_000006_credentials;
mod m20261210_000007_run_memory;
mod m20261210_000008_jobs;
mod m20261212_000009_run_options;
mod m20261212_000010_operator_role;
mod m20261213_000011_job_metadata;

pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261128_000001_initial::Migration),
            Box::new(m20261128_000002_terminal_runs_immutable::Migration),
            Box::new(m20261201_000003_run_parameters_and_seed::Migration),
            Box::new(m20261201_000004_runs_completed_idx::Migration),
            Box::new(m20261206_000005_user_queues::Migration),
            Box::new(m20261206_000006_credentials::Migration),
            Box::new(m20261210_000007_run_memory::Migration),
            Box::new(m20261210_000008_jobs::Migration),
            Box::new(m20261212_000009_run_options::Migration),
            Box::new(m20261212_000010_operator_role::Migration),
            Box::new(m20261213_000011_job_metadata::Migration),
        ]
    }
}
