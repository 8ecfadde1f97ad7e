//! qrun's schema migrations, one source for SQLite and PostgreSQL.
//!
//! Dialect differences are handled inside each migration (see `m20261128_000001_initial`).

pub use sea_orm_migration::prelude::*;

mod m20261128_000001_initial;
mod m20261128_000002_terminal_runs_immutable;
mod m20261201_000003_run_parameters_and_seed;
mod m20261201_000004_runs_completed_idx;
mod m20261206_000005_user_queues;
mod m20261206_000006_credentials;
mod m20261210_000007_run_memory;
mod m20261210_000008_jobs;

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
        ]
    }
}
