//! The durable event log in `trk/data/events.sqlite`.
//!
//! One writer thread owns the write connection. Requests hand it their event and wait; it
//! takes every event that is waiting (up to [`MAX_BATCH`]), writes them in one transaction,
//! commits with `synchronous=FULL` (fsync), and only then tells each request its event is
//! durable (group commit: one fsync for many events). A request answers its browser only
//! after that.
//!
//! The User Interface reads the log by cursor (`seq`); an event is deleted only when the
//! feed has been read past it and it is older than `EventRetentionDays`. Reading never
//! writes: how far the feed has been read is kept in memory and saved by the writer with
//! its next transaction, so a busy feed cannot hold the write lock away from clicks (a
//! crash may forget the last mark; the events it covers are then only kept longer).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::{mpsc, oneshot};
use tutti_core::api::{AgentClass, EventKind, EventPage, TrackingEvent};
use tutti_core::sqlite::Db;

use crate::classify::flag_names;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    job       TEXT NOT NULL,
    kind      TEXT NOT NULL,
    link      INTEGER,
    recipient INTEGER,
    at_ms     INTEGER NOT NULL,
    agent     TEXT NOT NULL,
    flags     INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);";

/// Most events one transaction takes.
pub const MAX_BATCH: usize = 4096;
/// How many events may wait for the writer before requests wait to hand theirs over.
const QUEUE: usize = 65_536;
/// Most events one feed page returns.
pub const MAX_PAGE: u32 = 10_000;

/// An event to record.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub job: String,
    pub kind: EventKind,
    pub link: Option<u32>,
    pub recipient: Option<u64>,
    pub at: DateTime<Utc>,
    pub agent: AgentClass,
    pub flags: u32,
}

struct Pending {
    event: NewEvent,
    durable: oneshot::Sender<Result<i64, String>>,
}

/// What the writer thread is asked to do.
enum Work {
    Record(Pending),
    /// Delete fetched events older than the cutoff (ms since the epoch); answers how many.
    Purge {
        cutoff_ms: i64,
        done: oneshot::Sender<rusqlite::Result<usize>>,
    },
}

#[derive(Clone)]
pub struct EventLog {
    queue: mpsc::Sender<Work>,
    reader: Db,
    /// The highest cursor the feed has been read past.
    fetched: Arc<AtomicI64>,
}

fn kind_text(k: EventKind) -> &'static str {
    match k {
        EventKind::Open => "open",
        EventKind::Click => "click",
        EventKind::Unsubscribe => "unsubscribe",
    }
}

fn agent_text(a: AgentClass) -> String {
    serde_json::to_value(a)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_else(|| "unknown".into())
}

fn open_writer(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.execute_batch(SCHEMA)?;
    Ok(conn)
}

fn save_fetched(tx: &rusqlite::Transaction, fetched: i64) -> rusqlite::Result<usize> {
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('fetched', ?1) ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)",
        [fetched],
    )
}

/// Writes one batch in one transaction; the sequence numbers in order.
fn write_batch(
    conn: &mut Connection,
    batch: &[Pending],
    fetched: i64,
) -> rusqlite::Result<Vec<i64>> {
    let tx = conn.transaction()?;
    save_fetched(&tx, fetched)?;
    let mut seqs = Vec::with_capacity(batch.len());
    {
        let mut insert = tx.prepare_cached(
            "INSERT INTO events (job, kind, link, recipient, at_ms, agent, flags) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        for p in batch {
            let e = &p.event;
            // Recipient keys are u64; SQLite stores their bits as i64.
            insert.execute(params![
                e.job,
                kind_text(e.kind),
                e.link,
                e.recipient.map(|r| r as i64),
                e.at.timestamp_millis(),
                agent_text(e.agent),
                e.flags
            ])?;
            seqs.push(tx.last_insert_rowid());
        }
    }
    tx.commit()?;
    Ok(seqs)
}

fn purge(conn: &mut Connection, cutoff_ms: i64, fetched: i64) -> rusqlite::Result<usize> {
    let tx = conn.transaction()?;
    save_fetched(&tx, fetched)?;
    let fetched: i64 = tx.query_row("SELECT value FROM meta WHERE key = 'fetched'", [], |r| {
        r.get(0)
    })?;
    let deleted = tx.execute(
        "DELETE FROM events WHERE seq <= ?1 AND at_ms < ?2",
        params![fetched, cutoff_ms],
    )?;
    tx.commit()?;
    Ok(deleted)
}

fn run_writer(mut conn: Connection, mut queue: mpsc::Receiver<Work>, fetched: Arc<AtomicI64>) {
    let mut next = queue.blocking_recv();
    while let Some(work) = next.take() {
        let first = match work {
            Work::Record(p) => p,
            Work::Purge { cutoff_ms, done } => {
                let _ = done.send(purge(&mut conn, cutoff_ms, fetched.load(Ordering::Acquire)));
                next = queue.blocking_recv();
                continue;
            }
        };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(Work::Record(p)) => batch.push(p),
                // A purge waits for the batch before it.
                Ok(purge) => {
                    next = Some(purge);
                    break;
                }
                Err(_) => break,
            }
        }
        match write_batch(&mut conn, &batch, fetched.load(Ordering::Acquire)) {
            Ok(seqs) => {
                for (p, seq) in batch.into_iter().zip(seqs) {
                    let _ = p.durable.send(Ok(seq));
                }
            }
            Err(e) => {
                tracing::error!("cannot write {} tracking events: {e}", batch.len());
                for p in batch {
                    let _ = p.durable.send(Err(e.to_string()));
                }
            }
        }
        if next.is_none() {
            next = queue.blocking_recv();
        }
    }
}

impl EventLog {
    pub async fn open(path: &Path) -> anyhow::Result<EventLog> {
        let conn = open_writer(path)
            .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", path.display()))?;
        let saved: Option<i64> = conn
            .query_row("SELECT value FROM meta WHERE key = 'fetched'", [], |r| {
                r.get(0)
            })
            .optional()?;
        let fetched = Arc::new(AtomicI64::new(saved.unwrap_or(0)));
        let reader = Db::open(path, &[SCHEMA]).await?;
        let (queue, rx) = mpsc::channel(QUEUE);
        let writer_fetched = fetched.clone();
        std::thread::Builder::new()
            .name("trk-event-writer".into())
            .spawn(move || run_writer(conn, rx, writer_fetched))?;
        Ok(EventLog {
            queue,
            reader,
            fetched,
        })
    }

    /// Records an event; returns once it is on disk, with its sequence number.
    pub async fn record(&self, event: NewEvent) -> Result<i64, String> {
        let (durable, done) = oneshot::channel();
        self.queue
            .send(Work::Record(Pending { event, durable }))
            .await
            .map_err(|_| "the event writer has stopped".to_string())?;
        done.await
            .map_err(|_| "the event writer has stopped".to_string())?
    }

    /// Events after `after`, at most `limit`. Reading past a cursor tells the log that the
    /// reader has everything up to it.
    pub async fn page(&self, after: i64, limit: u32) -> anyhow::Result<EventPage> {
        let limit = limit.clamp(1, MAX_PAGE);
        self.fetched.fetch_max(after, Ordering::AcqRel);
        let rows = self
            .reader
            .run(move |conn| {
                let mut stmt = conn.prepare_cached(
                    "SELECT seq, job, kind, link, recipient, at_ms, agent, flags FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2",
                )?;
                let rows = stmt.query_map(params![after, limit], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, Option<u32>>(3)?,
                        r.get::<_, Option<i64>>(4)?,
                        r.get::<_, i64>(5)?,
                        r.get::<_, String>(6)?,
                        r.get::<_, u32>(7)?,
                    ))
                })?;
                rows.collect::<rusqlite::Result<Vec<_>>>()
            })
            .await?;
        let mut events = Vec::with_capacity(rows.len());
        for (seq, job, kind, link, recipient, at_ms, agent, flags) in rows {
            events.push(TrackingEvent {
                seq,
                job,
                kind: serde_json::from_value(serde_json::Value::String(kind))?,
                link,
                recipient: recipient.map(|r| r as u64),
                at: Utc.timestamp_millis_opt(at_ms).single().unwrap_or_default(),
                agent: serde_json::from_value(serde_json::Value::String(agent))?,
                machine: flag_names(flags),
            });
        }
        let next = events.last().map_or(after, |e| e.seq);
        Ok(EventPage { events, next })
    }

    /// Deletes events the feed has been read past that are older than `retention`.
    pub async fn purge(&self, retention: Duration) -> anyhow::Result<usize> {
        let cutoff_ms = (Utc::now() - chrono::Duration::from_std(retention)?).timestamp_millis();
        let (done, deleted) = oneshot::channel();
        self.queue
            .send(Work::Purge { cutoff_ms, done })
            .await
            .map_err(|_| anyhow::anyhow!("the event writer has stopped"))?;
        Ok(deleted
            .await
            .map_err(|_| anyhow::anyhow!("the event writer has stopped"))??)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(recipient: u64, at: DateTime<Utc>) -> NewEvent {
        NewEvent {
            job: "J".into(),
            kind: EventKind::Click,
            link: Some(1),
            recipient: Some(recipient),
            at,
            agent: AgentClass::Browser,
            flags: 0,
        }
    }

    #[tokio::test]
    async fn events_are_read_in_order_and_purged_only_when_fetched_and_old() {
        let dir = tempfile::tempdir().unwrap();
        let log = EventLog::open(&dir.path().join("events.sqlite"))
            .await
            .unwrap();
        let old = Utc::now() - chrono::Duration::days(40);
        let mut handles = Vec::new();
        for i in 0..100u64 {
            let log = log.clone();
            handles.push(tokio::spawn(async move {
                log.record(event(i, old)).await.unwrap()
            }));
        }
        for h in handles {
            h.await.unwrap();
        }
        let first = log.page(0, 60).await.unwrap();
        assert_eq!(first.events.len(), 60);
        assert!(first.events.windows(2).all(|w| w[0].seq < w[1].seq));
        let second = log.page(first.next, 60).await.unwrap();
        assert_eq!(second.events.len(), 40);
        // Fetching after first.next says everything up to it is imported: only those go.
        let purged = log.purge(Duration::from_secs(30 * 86_400)).await.unwrap();
        assert_eq!(purged, 60);
        assert_eq!(log.page(second.next, 60).await.unwrap().events.len(), 0);
        assert_eq!(
            log.purge(Duration::from_secs(30 * 86_400)).await.unwrap(),
            40
        );
        let recipient = u64::MAX - 1;
        log.record(event(recipient, Utc::now())).await.unwrap();
        assert_eq!(
            log.page(second.next, 10).await.unwrap().events[0].recipient,
            Some(recipient),
            "u64 keys survive"
        );
    }

    #[tokio::test]
    async fn the_feed_mark_is_saved_with_the_next_write_and_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.sqlite");
        let old = Utc::now() - chrono::Duration::days(40);
        {
            let log = EventLog::open(&path).await.unwrap();
            for i in 0..10 {
                log.record(event(i, old)).await.unwrap();
            }
            let page = log.page(0, 5).await.unwrap();
            log.page(page.next, 5).await.unwrap();
            // This write carries the mark to disk.
            log.record(event(99, Utc::now())).await.unwrap();
        }
        let log = EventLog::open(&path).await.unwrap();
        assert_eq!(
            log.purge(Duration::from_secs(30 * 86_400)).await.unwrap(),
            5
        );
    }
}
