//! Recipients from a database query: connections an administrator defines (PostgreSQL,
//! MySQL/MariaDB or SQLite), a single SELECT run read-only, its rows streamed into a list
//! with the same address checks and de-duplication as an uploaded file.

use std::collections::HashSet;

use futures_util::TryStreamExt;
use serde::{Deserialize, Serialize};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{Column, Row};
use utoipa::ToSchema;

use tutti_recipients::{Reason, Record};

use super::import::{Imported, finish, store_records};
use super::store::Lists;
use crate::database::{Database, now_ms};

/// A connection as users see it (the URL stays with the administrator).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Connection {
    pub id: i64,
    pub name: String,
    /// `postgresql`, `mysql` or `sqlite`.
    pub kind: String,
    /// The URL with its password hidden (shown to the `admin` login only).
    pub url: Option<String>,
}

/// What kind of database a URL names, when Tutti can query it.
pub fn kind_of(url: &str) -> Option<&'static str> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Some("postgresql")
    } else if url.starts_with("mysql://") || url.starts_with("mariadb://") {
        Some("mysql")
    } else if url.starts_with("sqlite:") {
        Some("sqlite")
    } else {
        None
    }
}

fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

#[derive(Clone)]
pub struct Connections {
    db: Database,
}

impl Connections {
    pub fn new(db: Database) -> Connections {
        Connections { db }
    }

    pub async fn list(&self, with_urls: bool) -> sqlx::Result<Vec<Connection>> {
        let rows = sqlx::query("SELECT id, name, url FROM db_connections ORDER BY name")
            .fetch_all(&self.db.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let url: String = r.try_get(2)?;
                Ok(Connection {
                    id: r.try_get(0)?,
                    name: r.try_get(1)?,
                    kind: kind_of(&url).unwrap_or("unknown").to_string(),
                    url: with_urls.then(|| redacted(&url)),
                })
            })
            .collect()
    }

    /// The URL of a connection.
    pub async fn url(&self, id: i64) -> sqlx::Result<Option<String>> {
        sqlx::query("SELECT url FROM db_connections WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.db.pool)
            .await?
            .map(|r| r.try_get(0))
            .transpose()
    }

    /// Adds a connection; `Ok(None)` when the name is taken.
    pub async fn add(&self, name: &str, url: &str) -> sqlx::Result<Option<i64>> {
        let taken: i64 = sqlx::query("SELECT count(*) FROM db_connections WHERE name = $1")
            .bind(name)
            .fetch_one(&self.db.pool)
            .await?
            .try_get(0)?;
        if taken > 0 {
            return Ok(None);
        }
        sqlx::query(
            "INSERT INTO db_connections (name, url, created_ms) VALUES ($1, $2, $3) RETURNING id",
        )
        .bind(name)
        .bind(url)
        .bind(now_ms())
        .fetch_one(&self.db.pool)
        .await?
        .try_get(0)
        .map(Some)
    }

    pub async fn remove(&self, id: i64) -> sqlx::Result<bool> {
        let done = sqlx::query("DELETE FROM db_connections WHERE id = $1")
            .bind(id)
            .execute(&self.db.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}

/// Opens a pool of one to the database of `url` (SQLite read-only).
pub async fn open(url: &str) -> anyhow::Result<sqlx::AnyPool> {
    sqlx::any::install_default_drivers();
    let url = match kind_of(url) {
        Some("sqlite") if !url.contains("mode=") => {
            format!("{url}{}mode=ro", if url.contains('?') { '&' } else { '?' })
        }
        Some("mysql") => url.replacen("mariadb://", "mysql://", 1),
        Some(_) => url.to_string(),
        None => anyhow::bail!("a connection is a postgres://, mysql:// or sqlite: URL"),
    };
    let pool = AnyPoolOptions::new()
        .max_connections(1)
        .after_connect(|conn, _| Box::pin(async move { session_read_only(conn).await }))
        .acquire_timeout(std::time::Duration::from_secs(5))
        .connect(&url)
        .await
        .map_err(|e| anyhow::anyhow!("cannot connect to {}: {e}", redacted(&url)))?;
    Ok(pool)
}

/// One query for recipients: a single SELECT (or WITH … SELECT).
pub fn check_query(sql: &str) -> Result<String, String> {
    let sql = sql.trim().trim_end_matches(';').trim();
    let lower = sql.to_ascii_lowercase();
    if !(lower.starts_with("select") || lower.starts_with("with")) {
        return Err("the query must be one SELECT (or WITH … SELECT)".into());
    }
    if sql.contains(';') {
        return Err("the query must be one statement: no ; inside".into());
    }
    if sql.len() > 20_000 {
        return Err("the query is longer than 20,000 characters".into());
    }
    Ok(sql.to_string())
}

/// PostgreSQL has types the driver cannot hand over (timestamps, numeric, uuid, json,
/// arrays, ...): there the query runs wrapped so that each row comes as one text, a JSON
/// array of [column, value as text] pairs in the query's column order (`json`, unlike
/// `jsonb`, keeps the order and repeated names). Other databases' rows are read directly.
fn as_text_rows(conn: &sqlx::AnyConnection, sql: &str) -> Option<String> {
    conn.backend_name().eq_ignore_ascii_case("postgresql").then(|| {
        format!(
            "SELECT (SELECT json_agg(json_build_array(key, value)) FROM json_each_text(row_to_json(q)))::text FROM ({sql}) AS q"
        )
    })
}

/// The columns and cells of a row the wrapper of [`as_text_rows`] made.
fn text_row(row: &AnyRow) -> Result<(Vec<String>, Vec<String>), String> {
    let text: Option<String> = row.try_get(0).map_err(|e| e.to_string())?;
    let pairs: Vec<(String, Option<String>)> = match text {
        Some(t) => {
            serde_json::from_str(&t).map_err(|e| format!("a row that does not read: {e}"))?
        }
        None => Vec::new(),
    };
    Ok(pairs
        .into_iter()
        .map(|(column, value)| (column, value.unwrap_or_default()))
        .unzip())
}

/// What the database said, without the driver's wrapping (PostgreSQL's "at line N" is a
/// line of its own source code, not of the query).
fn database_message(e: &sqlx::Error) -> String {
    match e.as_database_error() {
        Some(d) => d.message().to_string(),
        None => e.to_string(),
    }
}

/// A cell as text, whatever its type (NULL: empty).
fn cell(row: &AnyRow, i: usize) -> String {
    if let Ok(v) = row.try_get::<Option<String>, _>(i) {
        return v.unwrap_or_default();
    }
    if let Ok(v) = row.try_get::<Option<i64>, _>(i) {
        return v.map(|v| v.to_string()).unwrap_or_default();
    }
    if let Ok(v) = row.try_get::<Option<f64>, _>(i) {
        return v.map(|v| v.to_string()).unwrap_or_default();
    }
    if let Ok(v) = row.try_get::<Option<f32>, _>(i) {
        return v.map(|v| v.to_string()).unwrap_or_default();
    }
    if let Ok(v) = row.try_get::<Option<bool>, _>(i) {
        return v.map(|v| v.to_string()).unwrap_or_default();
    }
    String::new()
}

/// The columns a query gives, its e-mail column (named `email_column`, else the first
/// named like an address) and its name column.
pub struct Shape {
    pub columns: Vec<String>,
    pub email: usize,
    pub name: Option<usize>,
}

/// Runs the query once for its first row's shape.
pub async fn shape(
    pool: &sqlx::AnyPool,
    sql: &str,
    email_column: Option<&str>,
    name_column: Option<&str>,
) -> Result<Shape, String> {
    let mut tx = pool.begin().await.map_err(|e| database_message(&e))?;
    read_only(&mut tx).await.map_err(|e| database_message(&e))?;
    let first = format!("SELECT * FROM ({sql}) AS q LIMIT 1");
    let wrapped = as_text_rows(&tx, &first);
    let row = sqlx::query(sqlx::AssertSqlSafe(wrapped.clone().unwrap_or(first)))
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| format!("the query failed: {}", database_message(&e)))?
        .ok_or("the query gives no rows")?;
    let columns: Vec<String> = if wrapped.is_some() {
        text_row(&row)?.0
    } else {
        row.columns().iter().map(|c| c.name().to_string()).collect()
    };
    let mut seen = HashSet::new();
    for c in &columns {
        if c.trim().is_empty() || !seen.insert(c.to_lowercase()) {
            return Err(format!(
                "every column needs a name of its own (use AS): \"{c}\" is empty or twice"
            ));
        }
    }
    let find = |wanted: &str| columns.iter().position(|c| c.eq_ignore_ascii_case(wanted));
    let email = match email_column {
        Some(w) => find(w).ok_or_else(|| format!("the query has no column \"{w}\""))?,
        None => columns
            .iter()
            .position(|c| {
                let c = c.to_ascii_lowercase().replace(['-', '_', ' '], "");
                ["email", "mail", "emailaddress", "address"].contains(&c.as_str())
            })
            .ok_or("no column is named like an e-mail address: say which one it is")?,
    };
    let name = match name_column {
        Some(w) => Some(find(w).ok_or_else(|| format!("the query has no column \"{w}\""))?),
        None => find("name"),
    };
    Ok(Shape {
        columns,
        email,
        name,
    })
}

/// Makes the transaction just begun read-only (SQLite connections are opened read-only;
/// MySQL's are made read-only by [`session_read_only`]).
async fn read_only(conn: &mut sqlx::AnyConnection) -> sqlx::Result<()> {
    if conn.backend_name().eq_ignore_ascii_case("postgresql") {
        sqlx::query("SET TRANSACTION READ ONLY")
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// MySQL sets a transaction's access mode before it begins: every transaction of each new
/// connection is read-only.
async fn session_read_only(conn: &mut sqlx::AnyConnection) -> sqlx::Result<()> {
    if conn.backend_name().eq_ignore_ascii_case("mysql") {
        sqlx::query("SET SESSION TRANSACTION READ ONLY")
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Streams the query's rows into `list` (its numbers are the rows' places, from 1); the
/// list ends `ready`, or `failed` with the reason.
pub async fn fill(lists: &Lists, list: i64, pool: sqlx::AnyPool, sql: String, email: usize) {
    let result = async {
        let mut tx = pool.begin().await?;
        read_only(&mut tx).await?;
        let wrapped = as_text_rows(&tx, &sql);
        let text_rows = wrapped.is_some();
        let mut rows = sqlx::query(sqlx::AssertSqlSafe(wrapped.unwrap_or(sql))).fetch(&mut *tx);
        let mut number = 0u64;
        let mut batch = Vec::new();
        let mut total = Imported::default();
        loop {
            let row = rows.try_next().await?;
            let done = row.is_none();
            if let Some(row) = row {
                number += 1;
                let fields: Vec<String> = if text_rows {
                    text_row(&row).map_err(anyhow::Error::msg)?.1
                } else {
                    (0..row.columns().len()).map(|i| cell(&row, i)).collect()
                };
                let address = fields
                    .get(email)
                    .map(|a| a.trim().to_string())
                    .unwrap_or_default();
                batch.push(match tutti_recipients::address_key(&address) {
                    Ok(key) => Record::Accepted {
                        line: number,
                        fields,
                        address,
                        key,
                    },
                    Err(problem) => Record::Rejected {
                        line: number,
                        raw: fields.join(", "),
                        reason: Reason::InvalidAddress(problem),
                    },
                });
            }
            if batch.len() >= 1000 || (done && !batch.is_empty()) {
                store_records(lists, list, &std::mem::take(&mut batch), &mut total).await?;
            }
            if done {
                return Ok::<i64, anyhow::Error>(total.accepted);
            }
        }
    }
    .await;
    let failure = match result {
        Ok(0) => Some("the query gives no valid recipient".to_string()),
        Ok(_) => None,
        Err(e) => Some(format!(
            "the query failed: {}",
            e.downcast_ref::<sqlx::Error>()
                .map_or_else(|| e.to_string(), database_message)
        )),
    };
    if let Err(e) = finish(lists, list, failure).await {
        tracing::error!("recipient list {list}: {e}");
    }
    pool.close().await;
}
