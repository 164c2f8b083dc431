//! The system database: SQLite in `lui/database` (internal, the default) or an external
//! PostgreSQL (`DatabaseType`, `DatabaseUrl`), through one sqlx `Any` pool, so every query
//! is written once. Queries use `$1`-style parameters, which both backends understand;
//! the schema is created and upgraded by the migrations of the backend in use
//! (`migrations/sqlite`, `migrations/postgres`), which differ only where the dialects do.
//!
//! Values crossing the `Any` driver are kept to what both map the same way: 64-bit
//! integers (also for flags and times, in milliseconds), text and bytes.

use std::path::Path;
use std::time::Duration;

use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;
use sqlx::migrate::Migrator;
use tutti_core::config::DatabaseConfig;

static SQLITE: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES: Migrator = sqlx::migrate!("migrations/postgres");

#[derive(Clone)]
pub struct Database {
    pub pool: AnyPool,
    /// The internal database's file: bulk work (imports) writes it through a connection
    /// of its own, without a round trip per statement.
    pub sqlite_file: Option<std::path::PathBuf>,
}

/// A URL with its password replaced, for messages.
fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) => "(a URL that does not parse)".into(),
    }
}

impl Database {
    /// Opens the configured database and brings its schema up to date.
    pub async fn open(config: &DatabaseConfig, root: &Path) -> anyhow::Result<Database> {
        match config {
            DatabaseConfig::Internal => {
                Database::open_sqlite(&root.join("lui/database/lui.sqlite")).await
            }
            DatabaseConfig::Postgresql(url) => Database::open_postgres(url).await,
        }
    }

    pub async fn open_sqlite(file: &Path) -> anyhow::Result<Database> {
        sqlx::any::install_default_drivers();
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let url = format!("sqlite://{}?mode=rwc", file.display());
        let pool = AnyPoolOptions::new()
            .max_connections(4)
            .after_connect(|conn, _| {
                Box::pin(async move {
                    use sqlx::Executor;
                    // An answered change survives kill -9 and power loss; readers do not
                    // wait for the writer.
                    for pragma in [
                        "PRAGMA journal_mode = WAL",
                        "PRAGMA synchronous = FULL",
                        "PRAGMA foreign_keys = ON",
                        "PRAGMA busy_timeout = 10000",
                    ] {
                        conn.execute(pragma).await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await
            .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", file.display()))?;
        SQLITE
            .run(&pool)
            .await
            .map_err(|e| anyhow::anyhow!("{}: migrating the schema: {e}", file.display()))?;
        Ok(Database {
            pool,
            sqlite_file: Some(file.to_path_buf()),
        })
    }

    pub async fn open_postgres(url: &str) -> anyhow::Result<Database> {
        sqlx::any::install_default_drivers();
        let pool = AnyPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "cannot connect to the PostgreSQL database {} (DatabaseUrl in lui/lui.ini): {e}",
                    redacted(url)
                )
            })?;
        POSTGRES
            .run(&pool)
            .await
            .map_err(|e| anyhow::anyhow!("{}: migrating the schema: {e}", redacted(url)))?;
        Ok(Database {
            pool,
            sqlite_file: None,
        })
    }
}

/// Milliseconds since 1970, as stored.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[cfg(test)]
pub mod testing {
    //! Test databases: every storage test runs on SQLite and on PostgreSQL.
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::testing::PgDatabase;

    /// A database that exists for one test (dropped with it).
    pub struct TestDb {
        pub db: Database,
        _dir: Option<tempfile::TempDir>,
        _pg: Option<PgDatabase>,
    }

    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open_sqlite(&dir.path().join("lui.sqlite"))
            .await
            .unwrap();
        TestDb {
            db,
            _dir: Some(dir),
            _pg: None,
        }
    }

    pub async fn postgres() -> Option<TestDb> {
        let pg = PgDatabase::create().await?;
        let db = Database::open_postgres(&pg.url).await.unwrap();
        Some(TestDb {
            db,
            _dir: None,
            _pg: Some(pg),
        })
    }

    /// Both databases, to run one test body on each.
    pub async fn both() -> Vec<TestDb> {
        let mut all = vec![sqlite().await];
        all.extend(postgres().await);
        all
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use sqlx::Row;

    use super::testing;

    /// The suppression list as it was before migration 0016 (no scopes).
    async fn unscoped_suppressions(pool: &sqlx::AnyPool) {
        for statement in [
            "DROP TABLE sent_job_scopes",
            "DROP TABLE suppressions",
            "CREATE TABLE suppressions (addr_key TEXT PRIMARY KEY, reason TEXT NOT NULL, \
             job_id TEXT NOT NULL, at_ms BIGINT NOT NULL)",
        ] {
            sqlx::query(statement).execute(pool).await.unwrap();
        }
    }

    /// Runs migration 0011 again over keys written as before it (the case of the local part
    /// kept), as on a database that was at 0010.
    #[tokio::test]
    async fn migration_0011_folds_the_case_of_old_address_keys() {
        for t in testing::both().await {
            let pool = &t.db.pool;
            let script = if t.db.sqlite_file.is_some() {
                include_str!("../migrations/sqlite/0011_address_case.sql")
            } else {
                include_str!("../migrations/postgres/0011_address_case.sql")
            };
            unscoped_suppressions(pool).await;
            for (key, at) in [
                ("Carla@example.org", 2),
                ("carla@example.org", 5),
                ("DAN@example.org", 1),
            ] {
                sqlx::query("INSERT INTO suppressions (addr_key, reason, job_id, at_ms) VALUES ($1, 'unsubscribe', 'J', $2)")
                    .bind(key)
                    .bind(at)
                    .execute(pool)
                    .await
                    .unwrap();
            }
            // List 1 holds Ann twice (two spellings, imported apart) and Bob once; list 2
            // holds ann@ already in lower case after a mixed-case row.
            for (list, seq, key) in [
                (1, 0, "Ann@example.org"),
                (1, 1, "ANN@example.org"),
                (1, 2, "Bob@example.org"),
                (2, 0, "Ann@example.org"),
                (2, 1, "ann@example.org"),
            ] {
                sqlx::query("INSERT INTO recipients (list_id, seq, addr_key, fields) VALUES ($1, $2, $3, '[]')")
                    .bind(list)
                    .bind(seq)
                    .bind(key)
                    .execute(pool)
                    .await
                    .unwrap();
            }
            sqlx::query("INSERT INTO sent_recipients (job_id, number, list_id, seq, addr_key) VALUES ('J', 0, 1, 2, 'Bob@example.org')")
                .execute(pool)
                .await
                .unwrap();

            sqlx::raw_sql(script).execute(pool).await.unwrap();

            let rows = sqlx::query("SELECT addr_key, at_ms FROM suppressions ORDER BY addr_key")
                .fetch_all(pool)
                .await
                .unwrap();
            let suppressed: Vec<(String, i64)> =
                rows.iter().map(|r| (r.get(0), r.get(1))).collect();
            assert_eq!(
                suppressed,
                [
                    ("carla@example.org".to_string(), 2),
                    ("dan@example.org".to_string(), 1)
                ],
                "one per person, the earliest kept"
            );
            let rows =
                sqlx::query("SELECT list_id, seq, addr_key FROM recipients ORDER BY list_id, seq")
                    .fetch_all(pool)
                    .await
                    .unwrap();
            let keys: Vec<(i64, i64, String)> = rows
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2)))
                .collect();
            assert_eq!(
                keys,
                [
                    (1, 0, "ann@example.org".to_string()),
                    (1, 1, "ANN@example.org".to_string()),
                    (1, 2, "bob@example.org".to_string()),
                    (2, 0, "Ann@example.org".to_string()),
                    (2, 1, "ann@example.org".to_string()),
                ],
                "the first spelling takes the folded key unless a row has it already"
            );
            let sent: String = sqlx::query("SELECT addr_key FROM sent_recipients")
                .fetch_one(pool)
                .await
                .unwrap()
                .get(0);
            assert_eq!(sent, "bob@example.org");
        }
    }

    /// Migration 0016 over entries made before suppressions had scopes: they all go to the
    /// installation's list, which every group's jobs leave out.
    #[tokio::test]
    async fn migration_0016_puts_old_suppressions_on_the_installations_list() {
        for t in testing::both().await {
            let pool = &t.db.pool;
            let script = if t.db.sqlite_file.is_some() {
                include_str!("../migrations/sqlite/0016_suppression_scopes.sql")
            } else {
                include_str!("../migrations/postgres/0016_suppression_scopes.sql")
            };
            unscoped_suppressions(pool).await;
            sqlx::query("DROP INDEX suppressions_by_time")
                .execute(pool)
                .await
                .ok();
            sqlx::query("INSERT INTO suppressions (addr_key, reason, job_id, at_ms) VALUES ('a@example.org', 'unsubscribed', 'J', 3)")
                .execute(pool)
                .await
                .unwrap();
            sqlx::raw_sql(script).execute(pool).await.unwrap();
            let rows = sqlx::query("SELECT scope, addr_key, reason, at_ms FROM suppressions")
                .fetch_all(pool)
                .await
                .unwrap();
            let got: Vec<(String, String, String, i64)> = rows
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
                .collect();
            assert_eq!(
                got,
                [(
                    "all".to_string(),
                    "a@example.org".to_string(),
                    "unsubscribed".to_string(),
                    3
                )]
            );
        }
    }
}
