//! The schema this binary finds, and changing it on purpose (docs/DESIGN.md §2, §11).
//!
//! Only `qrun migrate` — and `qrun serve` with `database.migrate = "auto"` — changes the schema
//! ([`Store::migrate`]). Every command first reads where the schema stands ([`Store::schema`]):
//! the migrations this binary knows, applied or pending, and those applied that it does not
//! know (a newer binary's). It works with the schema when every pending migration is a
//! contract and every unknown one an expansion (the `migration` crate's docs: expand and
//! contract); otherwise it says why, naming the migrations ([`Mismatch`]).

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use migration::{Migrator, MigratorTrait, is_contract, seaql_migrations};
use sea_orm::{ConnectionTrait, DbBackend, EntityName, EntityTrait, Statement};

use super::{Result, Store, StoreError};

/// The key of the PostgreSQL advisory lock that serialises migrations across nodes:
/// `'qrun'` as a big-endian integer, arbitrary but fixed.
pub const MIGRATION_LOCK: i64 = 0x7172_756e;

/// Where one migration stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum State {
    /// Known to this binary and applied (then).
    Applied(Option<DateTime<Utc>>),
    /// Known to this binary, not applied.
    Pending,
    /// Applied (then) by a binary that knew it; this one does not.
    Unknown(Option<DateTime<Utc>>),
}

/// The schema as this binary sees it: every migration it knows, in order, then the unknown
/// ones applied, by name.
#[derive(Clone, Debug)]
pub struct Schema {
    pub migrations: Vec<(String, State)>,
}

/// Why this binary cannot work with the schema it found.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Mismatch {
    /// Migrations this binary needs are not applied.
    #[error(
        "the database schema is behind this qrun: {} not applied ({}): run `qrun migrate`",
        count(.0.len()),
        .0.join(", ")
    )]
    Behind(Vec<String>),
    /// Migrations this binary does not know took away what it uses.
    #[error(
        "the database schema is newer than this qrun, which does not know {} ({}), made for \
         a newer qrun: use a qrun that knows them",
        contractions(.0.len()),
        .0.join(", ")
    )]
    Newer(Vec<String>),
}

fn count(n: usize) -> String {
    match n {
        1 => "1 migration".into(),
        n => format!("{n} migrations"),
    }
}

fn contractions(n: usize) -> String {
    match n {
        1 => "the contract migration".into(),
        n => format!("{n} contract migrations"),
    }
}

impl Schema {
    /// The migrations applied that this binary does not know.
    pub fn unknown(&self) -> Vec<&str> {
        self.named(|state| matches!(state, State::Unknown(_)))
    }

    /// The migrations this binary knows that are not applied.
    pub fn pending(&self) -> Vec<&str> {
        self.named(|state| *state == State::Pending)
    }

    fn named(&self, which: impl Fn(&State) -> bool) -> Vec<&str> {
        self.migrations
            .iter()
            .filter(|(_, state)| which(state))
            .map(|(name, _)| name.as_str())
            .collect()
    }

    /// Whether this binary works with the schema: every pending migration a contract, every
    /// unknown one an expansion. Pending expansions come first in what it says.
    pub fn check(&self) -> std::result::Result<(), Mismatch> {
        let needed: Vec<String> = self
            .pending()
            .into_iter()
            .filter(|name| !is_contract(name))
            .map(str::to_owned)
            .collect();
        if !needed.is_empty() {
            return Err(Mismatch::Behind(needed));
        }
        let broken: Vec<String> = self
            .unknown()
            .into_iter()
            .filter(|name| is_contract(name))
            .map(str::to_owned)
            .collect();
        if !broken.is_empty() {
            return Err(Mismatch::Newer(broken));
        }
        Ok(())
    }
}

impl fmt::Display for Schema {
    /// One line per migration: `applied  NAME  AT`, `pending  NAME`, or `unknown  NAME  AT`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = |at: &Option<DateTime<Utc>>| {
            at.map_or("-".to_owned(), |at| {
                at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
            })
        };
        for (name, state) in &self.migrations {
            match state {
                State::Applied(when) => writeln!(f, "applied  {name}  {}", at(when))?,
                State::Pending => writeln!(f, "pending  {name}")?,
                State::Unknown(when) => writeln!(
                    f,
                    "unknown  {name}  {}  (applied by a newer qrun)",
                    at(when)
                )?,
            }
        }
        Ok(())
    }
}

impl Store {
    /// Where the schema stands ([`Schema`]); reads only (an empty database has every migration
    /// pending).
    pub async fn schema(&self) -> Result<Schema> {
        read_schema(&self.db).await
    }

    /// Applies this binary's pending migrations, all in one write transaction, and returns their
    /// names (none when the schema is current). Refuses ([`StoreError::Schema`]) a schema this
    /// binary cannot work with once migrated: one that holds contract migrations it does not
    /// know. Nodes starting together on a fresh database migrate one after another (the later
    /// ones find nothing left to do) instead of racing to create the same tables: on
    /// PostgreSQL the transaction first takes a transaction-level advisory lock
    /// ([`MIGRATION_LOCK`]); on SQLite it is `BEGIN IMMEDIATE`, which another process waits for
    /// (at the busy timeout). With `dry_run`, says what it would apply and changes nothing.
    pub async fn migrate(&self, dry_run: bool) -> Result<Vec<String>> {
        let txn = self.begin_write().await?;
        if self.is_postgres() {
            txn.execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT pg_advisory_xact_lock($1)",
                [MIGRATION_LOCK.into()],
            ))
            .await?;
        }
        let schema = read_schema(&txn).await?;
        if let Err(Mismatch::Newer(names)) = schema.check() {
            return Err(StoreError::Schema(Mismatch::Newer(names)));
        }
        let pending: Vec<String> = schema.pending().into_iter().map(str::to_owned).collect();
        if dry_run || pending.is_empty() {
            return Ok(pending);
        }
        if !schema.unknown().is_empty() {
            // Migrations of another line of releases: this binary's would land on a schema
            // nobody has tried them on.
            return Err(StoreError::Schema(Mismatch::Newer(
                schema.unknown().into_iter().map(str::to_owned).collect(),
            )));
        }
        Migrator::up(&txn, None).await?;
        txn.commit().await?;
        Ok(pending)
    }
}

/// [`Store::schema`] on `db` (a connection or a transaction).
async fn read_schema(db: &impl ConnectionTrait) -> Result<Schema> {
    let backend = db.get_database_backend();
    let table = seaql_migrations::Entity.table_name();
    // Whether the table exists, without creating it (sea-orm-migration's own reads create it).
    let exists = match backend {
        DbBackend::Postgres => format!("SELECT to_regclass('{table}') IS NOT NULL AS present"),
        _ => format!(
            "SELECT COUNT(*) > 0 AS present FROM sqlite_master WHERE type = 'table' AND name = \
             '{table}'"
        ),
    };
    let present = db
        .query_one_raw(Statement::from_string(backend, exists))
        .await?
        .map(|row| row.try_get::<bool>("", "present"))
        .transpose()?
        .unwrap_or(false);
    let mut applied: BTreeMap<String, Option<DateTime<Utc>>> = BTreeMap::new();
    if present {
        for row in seaql_migrations::Entity::find().all(db).await? {
            applied.insert(row.version, DateTime::from_timestamp(row.applied_at, 0));
        }
    }
    let mut migrations = Vec::new();
    for migration in Migrator::migrations() {
        let name = migration.name().to_owned();
        let state = match applied.remove(&name) {
            Some(at) => State::Applied(at),
            None => State::Pending,
        };
        migrations.push((name, state));
    }
    migrations.extend(
        applied
            .into_iter()
            .map(|(name, at)| (name, State::Unknown(at))),
    );
    Ok(Schema { migrations })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(migrations: &[(&str, State)]) -> Schema {
        Schema {
            migrations: migrations
                .iter()
                .map(|(name, state)| ((*name).to_owned(), state.clone()))
                .collect(),
        }
    }

    #[test]
    fn a_binary_works_when_pending_ones_are_contractions_and_unknown_ones_expansions() {
        let applied = State::Applied(None);
        let unknown = State::Unknown(None);
        let ok = [
            schema(&[("m1", applied.clone())]),
            schema(&[("m1", applied.clone()), ("m2_contract", State::Pending)]),
            schema(&[("m1", applied.clone()), ("m9_add", unknown.clone())]),
        ];
        for schema in ok {
            assert_eq!(schema.check(), Ok(()), "{schema}");
        }
        let behind = schema(&[("m1", State::Pending), ("m2_contract", State::Pending)]);
        assert_eq!(behind.check(), Err(Mismatch::Behind(vec!["m1".into()])));
        assert_eq!(
            behind.check().unwrap_err().to_string(),
            "the database schema is behind this qrun: 1 migration not applied (m1): run \
             `qrun migrate`"
        );
        let newer = schema(&[
            ("m1", applied),
            ("m8_add", unknown.clone()),
            ("m9_drop_contract", unknown),
        ]);
        assert_eq!(
            newer.check(),
            Err(Mismatch::Newer(vec!["m9_drop_contract".into()]))
        );
        assert_eq!(
            newer.check().unwrap_err().to_string(),
            "the database schema is newer than this qrun, which does not know the contract \
             migration (m9_drop_contract), made for a newer qrun: use a qrun that knows them"
        );
    }
}
