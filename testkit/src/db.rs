//! A fresh, empty database for one test or one bench.

use std::path::{Path, PathBuf};

use sea_orm::ConnectionTrait;
use uuid::Uuid;

use crate::Error;

/// Environment variable naming the PostgreSQL server for tests, e.g.
/// `postgres://postgres@127.0.0.1:5432/test` (a user allowed to create databases).
/// `scripts/test` sets it.
pub const POSTGRES_ENV: &str = "QRUN_TEST_POSTGRES_URL";

/// A fresh, empty database: a SQLite file in a temporary directory, or a new database on a
/// PostgreSQL server, dropped (with its directory) when this value is.
pub struct TestDb {
    pub url: String,
    /// The SQLite file's directory, and where a test or bench puts what a node reads beside
    /// its database (configuration files, command backends' scripts); none when borrowed.
    dir: Option<tempfile::TempDir>,
    /// The server's URL and the database's name, for a PostgreSQL database this value drops.
    postgres: Option<(String, String)>,
}

impl TestDb {
    /// A SQLite database in a fresh temporary directory.
    pub fn sqlite() -> TestDb {
        let dir = directory().expect("a temporary directory");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("qrun.db").display());
        TestDb {
            url,
            dir: Some(dir),
            postgres: None,
        }
    }

    /// A new database on the test PostgreSQL server ([`POSTGRES_ENV`]), or `None` (said
    /// loudly) when no server is configured. In CI (`CI` set) a missing server fails the test
    /// instead.
    pub async fn postgres() -> Option<TestDb> {
        let Ok(server) = std::env::var(POSTGRES_ENV) else {
            if std::env::var_os("CI").is_some() {
                panic!("{POSTGRES_ENV} is not set: PostgreSQL tests must run in CI");
            }
            eprintln!(
                "\n*** SKIPPED on PostgreSQL: {POSTGRES_ENV} is not set (e.g. \
                 postgres://postgres@127.0.0.1:5432/test). These tests must run in CI. ***\n"
            );
            return None;
        };
        let name = format!("qrun_t_{}", Uuid::new_v4().simple());
        Some(
            TestDb::postgres_named(&server, &name)
                .await
                .unwrap_or_else(|e| panic!("{e}")),
        )
    }

    /// A new database `name` on the PostgreSQL server at `server` (a URL naming a database
    /// that exists, which this one is made beside); one of that name already there is
    /// dropped first.
    pub async fn postgres_named(server: &str, name: &str) -> Result<TestDb, Error> {
        let admin = sea_orm::Database::connect(server)
            .await
            .map_err(|e| format!("cannot reach PostgreSQL at {server}: {e}"))?;
        for sql in [
            format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            format!("CREATE DATABASE {name}"),
        ] {
            admin
                .execute_unprepared(&sql)
                .await
                .map_err(|e| format!("{sql}: {e}"))?;
        }
        let _ = admin.close().await;
        let (prefix, _) = server
            .rsplit_once('/')
            .ok_or_else(|| format!("no database in {server}"))?;
        Ok(TestDb {
            url: format!("{prefix}/{name}"),
            dir: Some(directory()?),
            postgres: Some((server.to_owned(), name.to_owned())),
        })
    }

    /// Another handle on an existing test database; it cleans up nothing.
    pub fn borrowed(url: &str) -> TestDb {
        TestDb {
            url: url.to_owned(),
            dir: None,
            postgres: None,
        }
    }

    /// The database's temporary directory (see the field); a borrowed handle has none.
    pub fn dir(&self) -> &Path {
        self.dir
            .as_ref()
            .expect("a borrowed database has no directory")
            .path()
    }

    /// The SQLite file, for a SQLite database this value made.
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        match (&self.postgres, &self.dir) {
            (None, Some(dir)) => Some(dir.path().join("qrun.db")),
            _ => None,
        }
    }

    /// The server's URL and the database's name, for a PostgreSQL database this value made.
    pub fn postgres_database(&self) -> Option<(&str, &str)> {
        self.postgres
            .as_ref()
            .map(|(server, name)| (server.as_str(), name.as_str()))
    }
}

/// A temporary directory others may enter and read: a root service runs command backends'
/// programs as `nobody`, and they may live here.
fn directory() -> Result<tempfile::TempDir, Error> {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir()?;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))?;
    Ok(dir)
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((server, name)) = self.postgres.take() {
            // Best effort, off the caller's runtime; scripts/test also sweeps leftovers.
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(async move {
                    if let Ok(admin) = sea_orm::Database::connect(server.as_str()).await {
                        let _ = admin
                            .execute_unprepared(&format!(
                                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                            ))
                            .await;
                        let _ = admin.close().await;
                    }
                });
            })
            .join()
            .ok();
        }
    }
}
