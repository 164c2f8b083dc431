//! Importing a recipient file into a list: the file is read as a stream on a blocking
//! thread (tutti-recipients) and written in batches, one transaction each, so neither the
//! file nor the list is ever held in memory. Duplicates are left out by the UNIQUE index on
//! the normalized address; a row's number is its line in the file. The internal database
//! is written from the reading thread itself through a connection of its own (a round trip
//! to the pool per statement would cost more than the rest of the import); PostgreSQL
//! gets multi-row inserts through the pool.

use std::path::{Path, PathBuf};
use tutti_core::metrics::Counter;

use sqlx::AnyConnection;
use tokio::sync::mpsc;
use tutti_recipients::{Options, RecipientReader, Record};

use super::store::Lists;

/// Rows written per transaction.
const BATCH: usize = 1000;

/// Counts after an import.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Imported {
    pub read: i64,
    pub accepted: i64,
    pub rejected: i64,
    pub duplicates: i64,
}

/// Writes one batch; returns (accepted, rejected, duplicates).
async fn write_batch(
    conn: &mut AnyConnection,
    list: i64,
    records: &[Record],
) -> sqlx::Result<(i64, i64, i64)> {
    let mut accepted = Vec::new();
    let mut rejected = Vec::new();
    for r in records {
        match r {
            Record::Accepted {
                line, fields, key, ..
            } => accepted.push((*line, key, fields)),
            Record::Rejected { line, raw, reason } => {
                rejected.push((*line, raw, reason.to_string()));
            }
        }
    }
    let mut inserted = 0;
    // Multi-row inserts of 50 rows: sqlx looks each parameter up by name, which costs the
    // square of a statement's parameters, so larger statements get slower per row.
    for chunk in accepted.chunks(50) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| format!("($1, ${}, ${}, ${})", 3 * i + 2, 3 * i + 3, 3 * i + 4))
            .collect();
        let sql = format!(
            "INSERT INTO recipients (list_id, seq, addr_key, fields) VALUES {} ON CONFLICT DO NOTHING",
            values.join(", ")
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(list);
        for (line, key, fields) in chunk {
            let fields =
                serde_json::to_string(fields).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
            q = q
                .bind(i64::try_from(*line).unwrap_or(i64::MAX))
                .bind((*key).clone())
                .bind(fields);
        }
        inserted += q.execute(&mut *conn).await?.rows_affected();
    }
    for (line, raw, reason) in &rejected {
        sqlx::query(
            "INSERT INTO recipient_rejects (list_id, line, reason, raw) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        )
        .bind(list)
        .bind(i64::try_from(*line).unwrap_or(i64::MAX))
        .bind(reason)
        .bind((*raw).clone())
        .execute(&mut *conn)
        .await?;
    }
    let inserted = i64::try_from(inserted).unwrap_or(i64::MAX);
    let total = i64::try_from(accepted.len()).unwrap_or(i64::MAX);
    Ok((
        inserted,
        i64::try_from(rejected.len()).unwrap_or(i64::MAX),
        total - inserted,
    ))
}

/// Reads `file` into `list` with `options`; the list's counts grow batch by batch (for the
/// progress bar) and its state ends `ready`, or `failed` with the reason.
pub async fn import(
    lists: &Lists,
    list: i64,
    file: PathBuf,
    options: Options,
) -> anyhow::Result<Imported> {
    if let Some(db_file) = lists.db.sqlite_file.clone() {
        let rows_read = lists.rows_read.clone();
        return tokio::task::spawn_blocking(move || {
            import_sqlite(&db_file, list, &file, &options, &rows_read)
        })
        .await?;
    }
    import_any(lists, list, file, options).await
}

/// Rows per transaction on the internal database (one fsync each).
const SQLITE_BATCH: usize = 20_000;

/// A record made ready for the database on the reading thread.
enum Prepared {
    Accepted {
        line: i64,
        key: String,
        fields: String,
    },
    Rejected {
        line: i64,
        reason: String,
        raw: String,
    },
}

/// Records per message from the reading thread to the writing one.
const CHUNK: usize = 1000;

/// Reads and judges the file on its own thread, sending chunks of prepared records; the
/// first error ends it.
fn read_file(
    file: PathBuf,
    options: Options,
    out: std::sync::mpsc::SyncSender<Result<Vec<Prepared>, String>>,
) {
    let reader = std::fs::File::open(&file)
        .map_err(|e| format!("cannot read the upload: {e}"))
        .and_then(|f| {
            RecipientReader::new(std::io::BufReader::with_capacity(1 << 16, f), &options)
                .map_err(|e| e.to_string())
        });
    let reader = match reader {
        Ok(r) => r,
        Err(e) => {
            let _ = out.send(Err(e));
            return;
        }
    };
    let mut chunk = Vec::with_capacity(CHUNK);
    for record in reader {
        let line = |l: u64| i64::try_from(l).unwrap_or(i64::MAX);
        chunk.push(match record {
            Ok(Record::Accepted {
                line: l,
                fields,
                key,
                ..
            }) => Prepared::Accepted {
                line: line(l),
                key,
                fields: serde_json::to_string(&fields).unwrap_or_default(),
            },
            Ok(Record::Rejected {
                line: l,
                raw,
                reason,
            }) => Prepared::Rejected {
                line: line(l),
                reason: reason.to_string(),
                raw,
            },
            Err(e) => {
                let _ = out.send(Err(e.to_string()));
                return;
            }
        });
        if chunk.len() == CHUNK
            && out
                .send(Ok(std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK))))
                .is_err()
        {
            return;
        }
    }
    if !chunk.is_empty() {
        let _ = out.send(Ok(chunk));
    }
}

/// The internal database: one thread reads and judges the file, this one writes it
/// through its own connection with prepared statements, in large transactions (the two
/// keep both cores busy; a round trip to the pool per statement would cost more than the
/// rest of the import).
fn import_sqlite(
    db_file: &Path,
    list: i64,
    file: &Path,
    options: &Options,
    rows_read: &Counter,
) -> anyhow::Result<Imported> {
    let mut conn = rusqlite::Connection::open(db_file)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    // A larger page cache keeps the address index's upper levels in memory (bounded: the
    // import's memory does not grow with the file).
    conn.pragma_update(None, "cache_size", -16_384)?;
    let (send, chunks) = std::sync::mpsc::sync_channel(8);
    let (file, options) = (file.to_path_buf(), options.clone());
    let reader = std::thread::spawn(move || read_file(file, options, send));
    let mut total = Imported::default();
    let mut rows_read_before = 0;
    let mut failure = None;
    let mut chunks = chunks.into_iter().peekable();
    while chunks.peek().is_some() && failure.is_none() {
        let tx = conn.transaction()?;
        {
            let mut row = tx.prepare_cached(
                "INSERT INTO recipients (list_id, seq, addr_key, fields) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
            )?;
            let mut reject = tx.prepare_cached(
                "INSERT INTO recipient_rejects (list_id, line, reason, raw) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
            )?;
            let mut written = 0;
            while written < SQLITE_BATCH {
                let Some(chunk) = chunks.next() else { break };
                let chunk = match chunk {
                    Ok(c) => c,
                    Err(e) => {
                        failure = Some(e);
                        break;
                    }
                };
                written += chunk.len();
                for record in chunk {
                    total.read += 1;
                    match record {
                        Prepared::Accepted { line, key, fields } => {
                            if row.execute(rusqlite::params![list, line, key, fields])? == 1 {
                                total.accepted += 1;
                            } else {
                                total.duplicates += 1;
                            }
                        }
                        Prepared::Rejected { line, reason, raw } => {
                            total.rejected += 1;
                            reject.execute(rusqlite::params![list, line, reason, raw])?;
                        }
                    }
                }
            }
        }
        tx.execute(
            "UPDATE recipient_lists SET read_rows = ?2, accepted = ?3, rejected = ?4, duplicates = ?5 WHERE id = ?1",
            rusqlite::params![list, total.read, total.accepted, total.rejected, total.duplicates],
        )?;
        tx.commit()?;
        rows_read.inc_by(u64::try_from(total.read).unwrap_or(0) - rows_read_before);
        rows_read_before = u64::try_from(total.read).unwrap_or(0);
    }
    drop(chunks);
    if reader.join().is_err() {
        failure.get_or_insert_with(|| "reading the file failed".into());
    }
    let (state, reason) = final_state(failure, &total);
    conn.execute(
        "UPDATE recipient_lists SET state = ?2, failure = ?3 WHERE id = ?1",
        rusqlite::params![list, state, reason],
    )?;
    Ok(total)
}

/// Writes a batch of judged records and the list's counts in one transaction.
pub async fn store_records(
    lists: &Lists,
    list: i64,
    records: &[Record],
    total: &mut Imported,
) -> anyhow::Result<()> {
    let mut tx = lists.db.pool.begin().await?;
    let (accepted, rejected, duplicates) = write_batch(&mut tx, list, records).await?;
    total.read += i64::try_from(records.len()).unwrap_or(i64::MAX);
    total.accepted += accepted;
    total.rejected += rejected;
    total.duplicates += duplicates;
    sqlx::query(
        "UPDATE recipient_lists SET read_rows = $2, accepted = $3, rejected = $4, duplicates = $5 WHERE id = $1",
    )
    .bind(list)
    .bind(total.read)
    .bind(total.accepted)
    .bind(total.rejected)
    .bind(total.duplicates)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    lists.rows_read.inc_by(records.len() as u64);
    Ok(())
}

/// Ends an import: `ready`, or `failed` with the reason.
pub async fn finish(lists: &Lists, list: i64, failure: Option<String>) -> anyhow::Result<()> {
    sqlx::query("UPDATE recipient_lists SET state = $2, failure = $3 WHERE id = $1")
        .bind(list)
        .bind(if failure.is_some() { "failed" } else { "ready" })
        .bind(failure)
        .execute(&lists.db.pool)
        .await?;
    Ok(())
}

/// How an import ends: `ready`, or `failed` and why.
fn final_state(failure: Option<String>, total: &Imported) -> (&'static str, Option<String>) {
    match failure {
        Some(e) => ("failed", Some(e)),
        None if total.accepted == 0 => (
            "failed",
            Some("the file has no valid recipient: every row was rejected or a duplicate".into()),
        ),
        None => ("ready", None),
    }
}

/// PostgreSQL: the reader's batches go through the pool, a multi-row insert each.
async fn import_any(
    lists: &Lists,
    list: i64,
    file: PathBuf,
    options: Options,
) -> anyhow::Result<Imported> {
    let (tx, mut rx) = mpsc::channel::<Result<Vec<Record>, String>>(4);
    let reader = tokio::task::spawn_blocking(move || {
        let input = match std::fs::File::open(&file) {
            Ok(f) => std::io::BufReader::with_capacity(1 << 16, f),
            Err(e) => {
                let _ = tx.blocking_send(Err(format!("cannot read the upload: {e}")));
                return;
            }
        };
        let reader = match RecipientReader::new(input, &options) {
            Ok(r) => r,
            Err(e) => {
                let _ = tx.blocking_send(Err(e.to_string()));
                return;
            }
        };
        let mut batch = Vec::with_capacity(BATCH);
        for record in reader {
            match record {
                Ok(r) => batch.push(r),
                Err(e) => {
                    let _ = tx.blocking_send(Err(e.to_string()));
                    return;
                }
            }
            if batch.len() == BATCH {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                if tx.blocking_send(Ok(full)).is_err() {
                    return;
                }
            }
        }
        if !batch.is_empty() {
            let _ = tx.blocking_send(Ok(batch));
        }
    });
    let mut total = Imported::default();
    let mut failure = None;
    while let Some(batch) = rx.recv().await {
        match batch {
            Ok(records) => store_records(lists, list, &records, &mut total).await?,
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    reader.await?;
    let failure = final_state(failure, &total).1;
    finish(lists, list, failure).await?;
    Ok(total)
}
