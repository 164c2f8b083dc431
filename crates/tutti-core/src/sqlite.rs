//! A SQLite database file used from async code: one connection, WAL, synchronous FULL (an
//! answered change survives `kill -9` and power loss), every call on the blocking pool.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

#[derive(Clone)]
pub struct Db {
    conn: Arc<Mutex<Connection>>,
}

impl Db {
    /// Opens (or creates) `path` and runs `schema` (idempotent DDL).
    pub async fn open(path: &Path, schema: &[&str]) -> anyhow::Result<Db> {
        let path = path.to_path_buf();
        let schema = schema.concat();
        let conn = tokio::task::spawn_blocking(move || -> anyhow::Result<Connection> {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let conn = Connection::open(&path)
                .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", path.display()))?;
            conn.pragma_update(None, "journal_mode", "WAL")?;
            conn.pragma_update(None, "synchronous", "FULL")?;
            conn.pragma_update(None, "foreign_keys", "ON")?;
            conn.busy_timeout(std::time::Duration::from_secs(5))?;
            conn.execute_batch(&schema)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            Ok(conn)
        })
        .await??;
        Ok(Db {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Runs `f` with the connection on the blocking pool.
    pub async fn call<T: Send + 'static, E: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, E> + Send + 'static,
    ) -> anyhow::Result<Result<T, E>> {
        let conn = self.conn.clone();
        Ok(tokio::task::spawn_blocking(move || {
            let mut conn = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            f(&mut conn)
        })
        .await?)
    }

    /// Like `call`, for closures whose only errors are SQLite's.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        Ok(self.call(f).await??)
    }
}
