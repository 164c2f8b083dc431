//! `tutti lui move-database`: moves all of the system database from the internal SQLite to
//! an external PostgreSQL or back (reference: changing the system database), with the User
//! Interface stopped. The target gets the schema, must hold no data yet, receives every
//! table in batches, is checked row for row by count, and only then does `lui.ini` point
//! at it. The source is left untouched.

use std::path::Path;

use futures_util::TryStreamExt;
use sqlx::Row;
use tutti_core::config::{DatabaseConfig, Installation};

use crate::database::Database;

/// How a column crosses over.
#[derive(Clone, Copy)]
enum Kind {
    Int,
    Text,
    Bytes,
}

use Kind::{Bytes, Int, Text};

/// Every table, parents before children, with its columns.
const TABLES: &[(&str, &[(&str, Kind)])] = &[
    (
        "recipient_lists",
        &[
            ("id", Int),
            ("name", Text),
            ("owner_id", Int),
            ("group_name", Text),
            ("group_id", Int),
            ("columns", Text),
            ("email_column", Int),
            ("name_column", Int),
            ("source", Text),
            ("read_rows", Int),
            ("accepted", Int),
            ("rejected", Int),
            ("duplicates", Int),
            ("state", Text),
            ("failure", Text),
            ("created_ms", Int),
        ],
    ),
    (
        "jobs",
        &[
            ("id", Text),
            ("title", Text),
            ("owner_id", Int),
            ("owner_name", Text),
            ("group_name", Text),
            ("folder", Text),
            ("state", Text),
            ("archived", Int),
            ("copied_from", Text),
            ("created_ms", Int),
            ("updated_ms", Int),
            ("tested_ms", Int),
            ("authorized_ms", Int),
            ("authorized_by", Text),
            ("tracking_kind", Text),
            ("track_opens", Int),
            ("track_clicks", Int),
            ("untracked", Text),
            ("tracking_key", Text),
            ("mailer_host", Text),
            ("mailer_client", Text),
            ("mailer_password", Text),
            ("send_at_ms", Int),
            ("tests_sent", Int),
            ("recipient_list_id", Int),
            ("suppressed", Int),
            ("previous_list_id", Int),
            ("tested_digest", Text),
            ("tracking_saved_ms", Int),
            ("group_id", Int),
        ],
    ),
    (
        "job_grants",
        &[
            ("job_id", Text),
            ("account_id", Int),
            ("user_name", Text),
            ("can_edit", Int),
            ("can_send", Int),
        ],
    ),
    ("job_id_days", &[("day", Text), ("used", Int)]),
    (
        "job_messages",
        &[
            ("job_id", Text),
            ("subject", Text),
            ("from_name", Text),
            ("from_address", Text),
            ("reply_to", Text),
            ("html", Text),
            ("text", Text),
            ("charset", Text),
            ("updated_ms", Int),
            ("dropins_enabled", Int),
        ],
    ),
    (
        "job_attachments",
        &[
            ("job_id", Text),
            ("name", Text),
            ("content_type", Text),
            ("content_id", Text),
            ("data", Bytes),
        ],
    ),
    (
        "dropins",
        &[
            ("id", Int),
            ("scope", Text),
            ("name", Text),
            ("description", Text),
            ("content", Text),
            ("updated_by", Text),
            ("updated_ms", Int),
        ],
    ),
    (
        "templates",
        &[
            ("id", Int),
            ("scope", Text),
            ("name", Text),
            ("description", Text),
            ("message", Text),
            ("updated_by", Text),
            ("updated_ms", Int),
        ],
    ),
    (
        "recipients",
        &[
            ("list_id", Int),
            ("seq", Int),
            ("addr_key", Text),
            ("fields", Text),
        ],
    ),
    ("event_cursors", &[("source", Text), ("cursor", Int)]),
    (
        "sender_profiles",
        &[
            ("id", Int),
            ("scope", Text),
            ("name", Text),
            ("from_name", Text),
            ("from_address", Text),
            ("reply_to", Text),
            ("updated_by", Text),
            ("updated_ms", Int),
        ],
    ),
    (
        "saved_reports",
        &[
            ("id", Int),
            ("owner_id", Int),
            ("name", Text),
            ("jobs", Text),
            ("people_only", Int),
            ("created_ms", Int),
        ],
    ),
    (
        "db_connections",
        &[
            ("id", Int),
            ("name", Text),
            ("url", Text),
            ("created_ms", Int),
        ],
    ),
    (
        "tracking_events",
        &[
            ("source", Text),
            ("seq", Int),
            ("job_id", Text),
            ("kind", Text),
            ("link", Int),
            ("recipient", Int),
            ("at_ms", Int),
            ("agent", Text),
            ("machine", Text),
        ],
    ),
    (
        "delivery_events",
        &[
            ("source", Text),
            ("seq", Int),
            ("job_id", Text),
            ("recipient", Int),
            ("kind", Text),
            ("reply", Text),
            ("at_ms", Int),
        ],
    ),
    (
        "sent_recipients",
        &[
            ("job_id", Text),
            ("number", Int),
            ("list_id", Int),
            ("seq", Int),
            ("addr_key", Text),
        ],
    ),
    (
        "report_counts",
        &[
            ("job_id", Text),
            ("kind", Text),
            ("link", Int),
            ("hour", Int),
            ("machine", Int),
            ("n", Int),
        ],
    ),
    (
        "report_reactors",
        &[
            ("job_id", Text),
            ("kind", Text),
            ("link", Int),
            ("recipient", Int),
            ("people", Int),
        ],
    ),
    (
        "report_uniques",
        &[
            ("job_id", Text),
            ("kind", Text),
            ("link", Int),
            ("people", Int),
            ("n", Int),
        ],
    ),
    (
        "suppressions",
        &[
            ("scope", Text),
            ("addr_key", Text),
            ("reason", Text),
            ("job_id", Text),
            ("at_ms", Int),
        ],
    ),
    ("sent_job_scopes", &[("job_id", Text), ("scope", Text)]),
    (
        "test_send_counts",
        &[("account_id", Int), ("day", Int), ("addresses", Int)],
    ),
    (
        "recipient_rejects",
        &[
            ("list_id", Int),
            ("line", Int),
            ("reason", Text),
            ("raw", Text),
        ],
    ),
];

/// Rows per insert statement (well under every backend's parameter limit).
const ROWS_PER_INSERT: usize = 200;

/// One value on its way.
enum Value {
    Int(Option<i64>),
    Text(Option<String>),
    Bytes(Option<Vec<u8>>),
}

async fn count(db: &Database, table: &str) -> anyhow::Result<i64> {
    Ok(
        sqlx::query(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
            .fetch_one(&db.pool)
            .await?
            .try_get(0)?,
    )
}

async fn insert(
    target: &Database,
    table: &str,
    columns: &[(&str, Kind)],
    rows: Vec<Vec<Value>>,
) -> anyhow::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = columns.iter().map(|(n, _)| *n).collect();
    let width = columns.len();
    let tuples: Vec<String> = (0..rows.len())
        .map(|r| {
            let params: Vec<String> = (1..=width).map(|c| format!("${}", r * width + c)).collect();
            format!("({})", params.join(", "))
        })
        .collect();
    let sql = format!(
        "INSERT INTO {table} ({}) VALUES {}",
        names.join(", "),
        tuples.join(", ")
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for row in rows {
        for v in row {
            q = match v {
                Value::Int(i) => q.bind(i),
                Value::Text(t) => q.bind(t),
                Value::Bytes(b) => q.bind(b),
            };
        }
    }
    q.execute(&target.pool).await?;
    Ok(())
}

/// Copies one table; returns its row count.
async fn copy_table(
    source: &Database,
    target: &Database,
    table: &str,
    columns: &[(&str, Kind)],
) -> anyhow::Result<i64> {
    let names: Vec<&str> = columns.iter().map(|(n, _)| *n).collect();
    let sql = format!("SELECT {} FROM {table}", names.join(", "));
    let query = sqlx::query(sqlx::AssertSqlSafe(sql));
    let mut rows = query.fetch(&source.pool);
    let mut batch = Vec::with_capacity(ROWS_PER_INSERT);
    let mut copied = 0i64;
    while let Some(row) = rows.try_next().await? {
        let mut values = Vec::with_capacity(columns.len());
        for (i, (_, kind)) in columns.iter().enumerate() {
            values.push(match kind {
                Int => Value::Int(row.try_get(i)?),
                Text => Value::Text(row.try_get(i)?),
                Bytes => Value::Bytes(row.try_get(i)?),
            });
        }
        batch.push(values);
        copied += 1;
        if batch.len() == ROWS_PER_INSERT {
            insert(target, table, columns, std::mem::take(&mut batch)).await?;
        }
    }
    insert(target, table, columns, batch).await?;
    Ok(copied)
}

/// What a move did.
pub struct Moved {
    pub tables: Vec<(&'static str, i64)>,
    pub from: String,
    pub to: String,
}

fn describe(config: &DatabaseConfig) -> String {
    match config {
        DatabaseConfig::Internal => "the internal database (lui/database)".into(),
        DatabaseConfig::Postgresql(url) => match url::Url::parse(url) {
            Ok(u) => format!(
                "PostgreSQL {}{}",
                u.host_str().unwrap_or_default(),
                u.path()
            ),
            Err(_) => "PostgreSQL".into(),
        },
    }
}

/// Moves the system database of the installation at `root` to `to` (`internal`, or a
/// `postgres://` URL) and points `lui.ini` at it.
pub async fn move_database(root: &Path, to: &str) -> anyhow::Result<Moved> {
    let installation = Installation::load(root).map_err(|e| anyhow::anyhow!("{e}"))?;
    let lui = installation
        .lui
        .ok_or_else(|| anyhow::anyhow!("{} runs no User Interface (server.ini)", root.display()))?;
    let target_config = if to.eq_ignore_ascii_case("internal") {
        DatabaseConfig::Internal
    } else if to.starts_with("postgres://") || to.starts_with("postgresql://") {
        DatabaseConfig::Postgresql(to.to_string())
    } else {
        anyhow::bail!("--to is \"internal\" or postgres://user:password@host:port/database");
    };
    if target_config == lui.database {
        anyhow::bail!("the system database is already {}", describe(&lui.database));
    }
    // A running User Interface would go on writing into the source.
    let port = installation.server.port;
    let address = match installation.server.bind_address {
        a if a.is_unspecified() => std::net::IpAddr::from([127, 0, 0, 1]),
        a => a,
    };
    let probe = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(2))
        .build()?
        .get(format!(
            "http://{}/lui/health",
            std::net::SocketAddr::new(address, port)
        ))
        .send()
        .await;
    if probe.is_ok_and(|r| r.status().is_success()) {
        anyhow::bail!(
            "the User Interface answers on port {port}: stop it (tutti serve) before moving its database"
        );
    }
    let source = Database::open(&lui.database, root).await?;
    let target = Database::open(&target_config, root).await?;
    for (table, _) in TABLES {
        if count(&target, table).await? > 0 {
            anyhow::bail!(
                "{} already holds data (table {table}): move into an empty database",
                describe(&target_config)
            );
        }
    }
    let mut tables = Vec::new();
    for (table, columns) in TABLES {
        let copied = copy_table(&source, &target, table, columns).await?;
        let landed = count(&target, table).await?;
        if landed != copied {
            anyhow::bail!("table {table}: {copied} rows read but {landed} arrived");
        }
        tables.push((*table, copied));
    }
    if let DatabaseConfig::Postgresql(_) = target_config {
        // New rows must get ids after the copied ones.
        for table in [
            "recipient_lists",
            "dropins",
            "templates",
            "sender_profiles",
            "saved_reports",
            "db_connections",
        ] {
            let sql = format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE((SELECT max(id) FROM {table}), 0) + 1, false)"
            );
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&target.pool)
                .await?;
        }
    }
    let ini = root.join("lui/lui.ini");
    let mut text = std::fs::read_to_string(&ini)?;
    let (kind, url) = match &target_config {
        DatabaseConfig::Internal => ("internal", ""),
        DatabaseConfig::Postgresql(url) => ("postgresql", url.as_str()),
    };
    text = tutti_core::properties::set_in_text(&text, "DatabaseType", kind)
        .map_err(|e| anyhow::anyhow!("{}, line {}: {}", ini.display(), e.line, e.message))?;
    text = tutti_core::properties::set_in_text(&text, "DatabaseUrl", url)
        .map_err(|e| anyhow::anyhow!("{}, line {}: {}", ini.display(), e.line, e.message))?;
    std::fs::write(&ini, text)?;
    Ok(Moved {
        tables,
        from: describe(&lui.database),
        to: describe(&target_config),
    })
}
