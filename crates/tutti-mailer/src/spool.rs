//! The spool (`mailer/spool/spool.sqlite`): jobs, their recipients with a state each, and
//! the delivery event feed. A job is here, fsynced, before the Mailer says it has it; a
//! recipient's state is written in batches, one transaction per batch.
//!
//! Recipient states (column `state`): 0 queued → 1 in flight (written before its message
//! goes out) → 2 sent, 3 deferred (tried again at `next_at_ms`), 4 failed; 5 bounced later;
//! 6 held for its destination domain's rate until the send slot booked at `next_at_ms`.
//! After a crash, recipients found in flight are queued again and counted as possible
//! duplicates: the relay may have taken their message just before the crash.
//!
//! Queued recipients always have `next_at_ms = 0`, so the index on (job, state,
//! next_at_ms) hands out queued ones in `seq` order and due ones by time, without a sort.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use tutti_core::distribute::{
    DeliveryEvent, DeliveryKind, DeliveryPage, DistributeJob, JobProgress, JobState,
};
use tutti_core::sqlite::Db;

use crate::return_path::ReturnPathKey;

pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS jobs (
    id          TEXT PRIMARY KEY,
    definition  TEXT NOT NULL,
    state       TEXT NOT NULL,
    total       INTEGER NOT NULL DEFAULT 0,
    salt        BLOB NOT NULL,
    duplicates  INTEGER NOT NULL DEFAULT 0,
    created_ms  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS recipients (
    job        TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    data       TEXT NOT NULL,
    state      INTEGER NOT NULL DEFAULT 0,
    attempts   INTEGER NOT NULL DEFAULT 0,
    next_at_ms INTEGER NOT NULL DEFAULT 0,
    first_ms   INTEGER NOT NULL DEFAULT 0,
    reply      TEXT,
    PRIMARY KEY (job, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS recipients_by_state ON recipients (job, state, next_at_ms);
CREATE TABLE IF NOT EXISTS events (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    job       TEXT NOT NULL,
    recipient INTEGER NOT NULL,
    kind      TEXT NOT NULL,
    reply     TEXT NOT NULL,
    at_ms     INTEGER NOT NULL
);";

/// Columns added since [`SCHEMA`]; `PRAGMA user_version` says whether a spool has them.
/// `handle` names a job in its signed return paths ([`crate::return_path`]);
/// `unsigned_return_paths` is 1 for a job that was spooled by a Tutti that did not sign
/// them: its messages went out with `bounce+JOB-N`, and reports to those stay good.
const SIGNED_RETURN_PATHS: &str = "
ALTER TABLE jobs ADD COLUMN handle TEXT NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN unsigned_return_paths INTEGER NOT NULL DEFAULT 0;
CREATE INDEX jobs_by_handle ON jobs (handle);
PRAGMA user_version = 1;";

/// A recipient taken for sending.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub seq: u64,
    pub fields: Vec<String>,
    pub attempts: u32,
    /// When it was first tried (ms), for the retry limit.
    pub first_ms: i64,
    /// It was held for its domain's rate and its send slot has come: it goes at once.
    pub booked: bool,
}

/// What became of one recipient.
#[derive(Debug, Clone)]
pub struct Fate {
    pub seq: u64,
    pub kind: DeliveryKind,
    pub reply: String,
    /// For a deferral: when to try again (ms).
    pub next_at_ms: i64,
}

#[derive(Clone)]
pub struct Spool {
    db: Db,
    /// For the handles of new jobs.
    key: ReturnPathKey,
    /// The counts last read per job, and when: counting a large job's recipients takes
    /// milliseconds on the one connection, and every open progress bar asks each second,
    /// so counts are read at most once a second while a job is sent. A change of state
    /// (submit, pause, bounce…) drops them at once.
    counted: Arc<Mutex<HashMap<String, (Instant, JobProgress)>>>,
}

pub(crate) fn kind_text(kind: DeliveryKind) -> &'static str {
    match kind {
        DeliveryKind::Sent => "sent",
        DeliveryKind::Deferred => "deferred",
        DeliveryKind::Failed => "failed",
        DeliveryKind::HardBounce => "hard_bounce",
        DeliveryKind::SoftBounce => "soft_bounce",
        DeliveryKind::Complaint => "complaint",
    }
}

fn kind_of(text: &str) -> DeliveryKind {
    match text {
        "sent" => DeliveryKind::Sent,
        "deferred" => DeliveryKind::Deferred,
        "hard_bounce" => DeliveryKind::HardBounce,
        "soft_bounce" => DeliveryKind::SoftBounce,
        "complaint" => DeliveryKind::Complaint,
        _ => DeliveryKind::Failed,
    }
}

fn state_text(state: JobState) -> &'static str {
    match state {
        JobState::Receiving => "receiving",
        JobState::Sending => "sending",
        JobState::Paused => "paused",
        JobState::Completed => "completed",
        JobState::Cancelled => "cancelled",
    }
}

fn state_of(text: &str) -> JobState {
    match text {
        "receiving" => JobState::Receiving,
        "paused" => JobState::Paused,
        "completed" => JobState::Completed,
        "cancelled" => JobState::Cancelled,
        _ => JobState::Sending,
    }
}

/// A spooled job.
#[derive(Debug, Clone)]
pub struct SpooledJob {
    pub definition: DistributeJob,
    /// Secret per-job salt for unique tracking ids (never leaves the Mailer).
    pub salt: Vec<u8>,
}

/// Why a definition was not taken.
#[derive(Debug, thiserror::Error)]
pub enum DefineError {
    #[error(
        "job {0} is already defined differently; a job's definition cannot change once its recipients are being sent"
    )]
    Conflict(String),
    #[error(transparent)]
    Db(#[from] anyhow::Error),
}

/// Brings a spool written by an earlier version up to date; old spools stay readable.
fn migrate(conn: &mut Connection, key: &ReturnPathKey) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version < 1 {
        tx.execute_batch(SIGNED_RETURN_PATHS)?;
    }
    // A job without a handle was spooled by a Tutti that did not sign return paths (before
    // the upgrade, or by an older version run again since): its return paths were unsigned.
    let unsigned: Vec<String> = tx
        .prepare("SELECT id FROM jobs WHERE handle = ''")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for id in unsigned {
        tx.execute(
            "UPDATE jobs SET handle = ?2, unsigned_return_paths = 1 WHERE id = ?1",
            params![id, key.handle(&id)],
        )?;
    }
    tx.commit()
}

impl Spool {
    pub async fn open(path: &Path, key: ReturnPathKey) -> anyhow::Result<Spool> {
        let db = Db::open(path, &[SCHEMA]).await?;
        let handles = key.clone();
        db.run(move |conn| migrate(conn, &handles)).await?;
        // Recipients left in flight by a crash go again, counted as possible duplicates.
        db.run(|conn| {
            let tx = conn.transaction()?;
            tx.execute(
                "UPDATE jobs SET duplicates = duplicates + (SELECT count(*) FROM recipients r WHERE r.job = jobs.id AND r.state = 1)",
                [],
            )?;
            tx.execute("UPDATE recipients SET state = 0, next_at_ms = 0 WHERE state = 1", [])?;
            tx.commit()
        })
        .await?;
        Ok(Spool {
            db,
            key,
            counted: Arc::default(),
        })
    }

    /// Stores a definition. The same definition again changes nothing (`Ok(false)`); a
    /// different one is taken only while the job is still receiving.
    pub async fn define(&self, id: &str, job: &DistributeJob) -> Result<bool, DefineError> {
        let text = serde_json::to_string(job).map_err(|e| DefineError::Db(e.into()))?;
        let salt =
            tutti_core::secret::random_bytes::<16>().map_err(|e| DefineError::Db(e.into()))?;
        let id_owned = id.to_string();
        let handle = self.key.handle(id);
        let outcome = self
            .db
            .run(move |conn| {
                let tx = conn.transaction()?;
                let existing: Option<(String, String)> = tx
                    .query_row("SELECT definition, state FROM jobs WHERE id = ?1", [&id_owned], |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })
                    .optional()?;
                let result = match existing {
                    Some((old, _)) if old == text => Some(false),
                    Some((_, state)) if state != "receiving" => None,
                    Some(_) => {
                        tx.execute("UPDATE jobs SET definition = ?2 WHERE id = ?1", params![id_owned, text])?;
                        Some(true)
                    }
                    None => {
                        tx.execute(
                            "INSERT INTO jobs (id, definition, state, salt, created_ms, handle) VALUES (?1, ?2, 'receiving', ?3, ?4, ?5)",
                            params![id_owned, text, salt.to_vec(), Utc::now().timestamp_millis(), handle],
                        )?;
                        Some(true)
                    }
                };
                tx.commit()?;
                Ok(result)
            })
            .await?;
        outcome.ok_or_else(|| DefineError::Conflict(id.to_string()))
    }

    pub async fn job(&self, id: &str) -> anyhow::Result<Option<SpooledJob>> {
        let id = id.to_string();
        let row: Option<(String, Vec<u8>)> = self
            .db
            .run(move |conn| {
                conn.query_row(
                    "SELECT definition, salt FROM jobs WHERE id = ?1",
                    [id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
            })
            .await?;
        row.map(|(definition, salt)| {
            Ok(SpooledJob {
                definition: serde_json::from_str(&definition)?,
                salt,
            })
        })
        .transpose()
    }

    /// The jobs whose return paths carry `handle` (almost always one or none).
    pub async fn jobs_with_handle(&self, handle: &str) -> anyhow::Result<Vec<String>> {
        let handle = handle.to_string();
        self.db
            .run(move |conn| {
                conn.prepare_cached("SELECT id FROM jobs WHERE handle = ?1")?
                    .query_map([handle], |r| r.get(0))?
                    .collect()
            })
            .await
    }

    /// Whether `job` is in the spool and went out with unsigned return paths (it was
    /// spooled before they were signed), so that reports to those are taken for it.
    pub async fn takes_unsigned_return_paths(&self, job: &str) -> anyhow::Result<bool> {
        let job = job.to_string();
        self.db
            .run(move |conn| {
                conn.query_row(
                    "SELECT unsigned_return_paths FROM jobs WHERE id = ?1",
                    [job],
                    |r| r.get(0),
                )
                .optional()
                .map(|flag: Option<bool>| flag.unwrap_or(false))
            })
            .await
    }

    /// Jobs that are being sent, oldest first.
    pub async fn sending_jobs(&self) -> anyhow::Result<Vec<String>> {
        self.db
            .run(|conn| {
                let mut stmt = conn
                    .prepare("SELECT id FROM jobs WHERE state = 'sending' ORDER BY created_ms")?;
                stmt.query_map([], |r| r.get(0))?
                    .collect::<rusqlite::Result<Vec<String>>>()
            })
            .await
    }

    /// Stores recipient rows `first`, `first + 1`, … (replacing what an earlier attempt
    /// stored under those numbers), while the job is receiving.
    pub async fn add_recipients(
        &self,
        job: &str,
        first: u64,
        rows: Vec<Vec<String>>,
    ) -> anyhow::Result<()> {
        let job = job.to_string();
        self.db
            .call(move |conn| -> anyhow::Result<()> {
                let tx = conn.transaction()?;
                let state: Option<String> = tx
                    .query_row("SELECT state FROM jobs WHERE id = ?1", [&job], |r| r.get(0))
                    .optional()?;
                match state.as_deref() {
                    None => anyhow::bail!("job {job} is not defined"),
                    Some("receiving") => {}
                    Some(_) => {
                        anyhow::bail!("job {job} has been submitted; its recipients cannot change")
                    }
                }
                {
                    let mut insert = tx.prepare_cached(
                        "INSERT OR REPLACE INTO recipients (job, seq, data) VALUES (?1, ?2, ?3)",
                    )?;
                    for (i, row) in rows.iter().enumerate() {
                        let seq = i64::try_from(first + i as u64)?;
                        insert.execute(params![job, seq, serde_json::to_string(row)?])?;
                    }
                }
                tx.commit()?;
                Ok(())
            })
            .await?
    }

    /// Ends the upload: the job has exactly `count` recipients (0 … count-1) and is sent
    /// from now on. Submitting again is a no-op.
    pub async fn submit(&self, job: &str, count: u64) -> anyhow::Result<Result<(), String>> {
        let done = self.submit_now(job, count).await;
        self.forget(job);
        done
    }

    async fn submit_now(&self, job: &str, count: u64) -> anyhow::Result<Result<(), String>> {
        let job = job.to_string();
        self.db
            .call(move |conn| -> anyhow::Result<Result<(), String>> {
                let tx = conn.transaction()?;
                let row: Option<(String, i64)> = tx
                    .query_row("SELECT state, total FROM jobs WHERE id = ?1", [&job], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()?;
                let Some((state, total)) = row else {
                    return Ok(Err(format!("job {job} is not defined")));
                };
                let count_i = i64::try_from(count)?;
                if state != "receiving" {
                    return Ok(if total == count_i {
                        Ok(())
                    } else {
                        Err(format!("job {job} was submitted with {total} recipients"))
                    });
                }
                let (n, max): (i64, Option<i64>) = tx.query_row(
                    "SELECT count(*), max(seq) FROM recipients WHERE job = ?1",
                    [&job],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?;
                if n != count_i || max.unwrap_or(-1) != count_i - 1 {
                    return Ok(Err(format!(
                        "job {job} has {n} recipients stored, numbered up to {}, but {count} were announced",
                        max.unwrap_or(-1)
                    )));
                }
                tx.execute("UPDATE jobs SET state = 'sending', total = ?2 WHERE id = ?1", params![job, count_i])?;
                tx.commit()?;
                Ok(Ok(()))
            })
            .await?
    }

    pub async fn set_state(
        &self,
        job: &str,
        from: &[JobState],
        to: JobState,
    ) -> anyhow::Result<bool> {
        let done = self.set_state_now(job, from, to).await;
        self.forget(job);
        done
    }

    async fn set_state_now(
        &self,
        job: &str,
        from: &[JobState],
        to: JobState,
    ) -> anyhow::Result<bool> {
        let job = job.to_string();
        let from: Vec<&'static str> = from.iter().map(|s| state_text(*s)).collect();
        self.db
            .run(move |conn| {
                let current: Option<String> = conn
                    .query_row("SELECT state FROM jobs WHERE id = ?1", [&job], |r| r.get(0))
                    .optional()?;
                match current {
                    Some(c) if from.contains(&c.as_str()) => {
                        conn.execute(
                            "UPDATE jobs SET state = ?2 WHERE id = ?1",
                            params![job, state_text(to)],
                        )?;
                        Ok(true)
                    }
                    _ => Ok(false),
                }
            })
            .await
    }

    /// Takes up to `limit` recipients that are due and marks them in flight, durably,
    /// before any of their messages goes out.
    pub async fn claim(
        &self,
        job: &str,
        limit: usize,
        now_ms: i64,
    ) -> anyhow::Result<Vec<Claimed>> {
        let job = job.to_string();
        self.db
            .call(move |conn| -> anyhow::Result<Vec<Claimed>> {
                let tx = conn.transaction()?;
                let claimed = {
                    // Held recipients whose slot has come, then deferred ones that are due,
                    // then queued ones in order.
                    let mut due = tx.prepare_cached(
                        "SELECT seq, data, attempts, first_ms, state FROM recipients WHERE job = ?1 AND state = ?2 AND next_at_ms <= ?3 ORDER BY next_at_ms LIMIT ?4",
                    )?;
                    let mut queued = tx.prepare_cached(
                        // Without INDEXED BY the planner walks the primary key past every
                        // recipient already sent: each claim would cost the job's size.
                        "SELECT seq, data, attempts, first_ms, state FROM recipients INDEXED BY recipients_by_state WHERE job = ?1 AND state = 0 AND next_at_ms = 0 ORDER BY seq LIMIT ?2",
                    )?;
                    let row = |r: &rusqlite::Row<'_>| {
                        Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, u32>(2)?, r.get::<_, i64>(3)?, r.get::<_, i64>(4)?))
                    };
                    let mut rows = Vec::with_capacity(limit);
                    for state in [6, 3] {
                        let left = i64::try_from(limit - rows.len())?;
                        rows.extend(due.query_map(params![job, state, now_ms, left], row)?.collect::<rusqlite::Result<Vec<_>>>()?);
                    }
                    let left = i64::try_from(limit - rows.len())?;
                    if left > 0 {
                        rows.extend(queued.query_map(params![job, left], row)?.collect::<rusqlite::Result<Vec<_>>>()?);
                    }
                    let mut mark = tx.prepare_cached(
                        "UPDATE recipients SET state = 1, attempts = attempts + 1, first_ms = CASE WHEN first_ms = 0 THEN ?3 ELSE first_ms END WHERE job = ?1 AND seq = ?2",
                    )?;
                    let mut claimed = Vec::with_capacity(rows.len());
                    for (seq, data, attempts, first_ms, state) in rows {
                        mark.execute(params![job, seq, now_ms])?;
                        claimed.push(Claimed {
                            seq: u64::try_from(seq)?,
                            fields: serde_json::from_str(&data)?,
                            attempts: attempts + 1,
                            first_ms: if first_ms == 0 { now_ms } else { first_ms },
                            booked: state == 6,
                        });
                    }
                    claimed
                };
                tx.commit()?;
                Ok(claimed)
            })
            .await?
    }

    /// Puts claimed recipients back as they were (the relay could not be reached: not
    /// their fault, so the try does not count).
    pub async fn unclaim(&self, job: &str, seqs: Vec<u64>) -> anyhow::Result<()> {
        let job = job.to_string();
        self.db
            .call(move |conn| -> anyhow::Result<()> {
                let tx = conn.transaction()?;
                {
                    let mut stmt = tx.prepare_cached(
                        "UPDATE recipients SET state = CASE WHEN attempts > 1 THEN 3 ELSE 0 END, next_at_ms = 0, attempts = attempts - 1 WHERE job = ?1 AND seq = ?2 AND state = 1",
                    )?;
                    for seq in seqs {
                        stmt.execute(params![job, i64::try_from(seq)?])?;
                    }
                }
                tx.commit()?;
                Ok(())
            })
            .await?
    }

    /// Holds claimed recipients until the send slots booked for them (ms): their domain's
    /// rate is used up. Like [`Spool::unclaim`], the try does not count.
    pub async fn hold(&self, job: &str, slots: Vec<(u64, i64)>) -> anyhow::Result<()> {
        let job = job.to_string();
        self.db
            .call(move |conn| -> anyhow::Result<()> {
                let tx = conn.transaction()?;
                {
                    let mut stmt = tx.prepare_cached(
                        "UPDATE recipients SET state = 6, next_at_ms = ?3, attempts = attempts - 1, first_ms = CASE WHEN attempts = 1 THEN 0 ELSE first_ms END WHERE job = ?1 AND seq = ?2 AND state = 1",
                    )?;
                    for (seq, at_ms) in slots {
                        stmt.execute(params![job, i64::try_from(seq)?, at_ms])?;
                    }
                }
                tx.commit()?;
                Ok(())
            })
            .await?
    }

    /// Records the fates of a batch, with their events, in one transaction; completes the
    /// job when nobody is left to send.
    pub async fn record(&self, job: &str, fates: Vec<Fate>) -> anyhow::Result<()> {
        let job = job.to_string();
        let now = Utc::now().timestamp_millis();
        self.db
            .call(move |conn| -> anyhow::Result<()> {
                let tx = conn.transaction()?;
                {
                    let mut update = tx.prepare_cached(
                        "UPDATE recipients SET state = ?3, next_at_ms = ?4, reply = ?5 WHERE job = ?1 AND seq = ?2",
                    )?;
                    let mut event = tx.prepare_cached(
                        "INSERT INTO events (job, recipient, kind, reply, at_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
                    )?;
                    for f in &fates {
                        let state: i64 = match f.kind {
                            DeliveryKind::Sent => 2,
                            DeliveryKind::Deferred => 3,
                            DeliveryKind::Failed => 4,
                            _ => 5,
                        };
                        let seq = i64::try_from(f.seq)?;
                        update.execute(params![job, seq, state, f.next_at_ms, f.reply])?;
                        event.execute(params![job, seq, kind_text(f.kind), f.reply, now])?;
                    }
                }
                // EXISTS stops at the first one (a count would read them all, every batch).
                let open: bool = tx.query_row(
                    "SELECT EXISTS (SELECT 1 FROM recipients WHERE job = ?1 AND state IN (0, 1, 3, 6))",
                    [&job],
                    |r| r.get(0),
                )?;
                if !open {
                    tx.execute("UPDATE jobs SET state = 'completed' WHERE id = ?1 AND state = 'sending'", [&job])?;
                }
                tx.commit()?;
                Ok(())
            })
            .await?
    }

    /// Recipients of every job that are not done: waiting, being sent, deferred or held.
    pub async fn unfinished(&self) -> anyhow::Result<i64> {
        self.db
            .call(|conn| -> anyhow::Result<i64> {
                Ok(conn.query_row(
                    "SELECT count(*) FROM recipients WHERE state IN (0, 1, 3, 6)",
                    [],
                    |r| r.get(0),
                )?)
            })
            .await?
    }

    /// The counts of a job's recipients by state.
    pub async fn progress(&self, job: &str) -> anyhow::Result<Option<JobProgress>> {
        let cached = self
            .counts()
            .get(job)
            .filter(|(at, _)| at.elapsed() < Duration::from_secs(1))
            .map(|(_, p)| p.clone());
        if let Some(p) = cached {
            return Ok(Some(p));
        }
        let counted = self.count(job).await?;
        if let Some(p) = &counted {
            self.counts()
                .insert(job.to_string(), (Instant::now(), p.clone()));
        }
        Ok(counted)
    }

    fn counts(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, JobProgress)>> {
        self.counted.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Drops the cached counts of a job whose state changed.
    fn forget(&self, job: &str) {
        self.counts().remove(job);
    }

    async fn count(&self, job: &str) -> anyhow::Result<Option<JobProgress>> {
        let id = job.to_string();
        let row = self
            .db
            .run(move |conn| {
                let head: Option<(String, i64, i64)> = conn
                    .query_row(
                        "SELECT state, total, duplicates FROM jobs WHERE id = ?1",
                        [&id],
                        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                    )
                    .optional()?;
                let Some(head) = head else { return Ok(None) };
                let mut stmt = conn.prepare_cached(
                    "SELECT state, count(*) FROM recipients WHERE job = ?1 GROUP BY state",
                )?;
                let counts = stmt
                    .query_map([&id], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                Ok(Some((head, counts)))
            })
            .await?;
        Ok(row.map(|((state, total, duplicates), counts)| {
            let count = |states: &[i64]| -> u64 {
                counts
                    .iter()
                    .filter(|(s, _)| states.contains(s))
                    .map(|(_, n)| u64::try_from(*n).unwrap_or(0))
                    .sum()
            };
            JobProgress {
                job: job.to_string(),
                state: state_of(&state),
                total: u64::try_from(total).unwrap_or(0),
                queued: count(&[0, 1, 6]),
                sent: count(&[2]),
                deferred: count(&[3]),
                failed: count(&[4]),
                bounced: count(&[5]),
                possible_duplicates: u64::try_from(duplicates).unwrap_or(0),
                rate: 0.0,
                waiting: None,
                to_outbox: false,
            }
        }))
    }

    /// Records a bounce or complaint for a recipient (a bounce also changes its state);
    /// `Ok(false)` when the job has no such recipient.
    pub async fn record_report(
        &self,
        job: &str,
        seq: u64,
        kind: DeliveryKind,
        reply: String,
    ) -> anyhow::Result<bool> {
        let done = self.record_report_now(job, seq, kind, reply).await;
        self.forget(job);
        done
    }

    async fn record_report_now(
        &self,
        job: &str,
        seq: u64,
        kind: DeliveryKind,
        reply: String,
    ) -> anyhow::Result<bool> {
        let job = job.to_string();
        let seq = i64::try_from(seq)?;
        let now = Utc::now().timestamp_millis();
        self.db
            .run(move |conn| {
                let tx = conn.transaction()?;
                let exists: Option<i64> = tx
                    .query_row("SELECT state FROM recipients WHERE job = ?1 AND seq = ?2", params![job, seq], |r| r.get(0))
                    .optional()?;
                if exists.is_none() {
                    return Ok(false);
                }
                if kind != DeliveryKind::Complaint {
                    tx.execute(
                        "UPDATE recipients SET state = 5, reply = ?3 WHERE job = ?1 AND seq = ?2",
                        params![job, seq, reply],
                    )?;
                }
                tx.execute(
                    "INSERT INTO events (job, recipient, kind, reply, at_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![job, seq, kind_text(kind), reply, now],
                )?;
                tx.commit()?;
                Ok(true)
            })
            .await
    }

    /// Delivery events after `after`, at most `limit`.
    pub async fn events(&self, after: i64, limit: u32) -> anyhow::Result<Option<DeliveryPage>> {
        let limit = limit.clamp(1, 10_000);
        let rows = self
            .db
            .run(move |conn| {
                // The highest seq ever given (AUTOINCREMENT keeps it); a cursor past it was
                // never given out, and an empty page would skip what is recorded up to it.
                let last: i64 = conn.query_row(
                    "SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0)",
                    [],
                    |r| r.get(0),
                )?;
                if !(0..=last).contains(&after) {
                    return Ok(None);
                }
                let mut stmt = conn.prepare_cached(
                    "SELECT seq, job, recipient, kind, reply, at_ms FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2",
                )?;
                stmt
                    .query_map(params![after, limit], |r| {
                        Ok((
                            r.get::<_, i64>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, i64>(2)?,
                            r.get::<_, String>(3)?,
                            r.get::<_, String>(4)?,
                            r.get::<_, i64>(5)?,
                        ))
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()
                    .map(Some)
            })
            .await?;
        let Some(rows) = rows else {
            return Ok(None);
        };
        let events: Vec<DeliveryEvent> = rows
            .into_iter()
            .map(|(seq, job, recipient, kind, reply, at_ms)| DeliveryEvent {
                seq,
                job,
                recipient: u64::try_from(recipient).unwrap_or(0),
                kind: kind_of(&kind),
                reply,
                at: Utc.timestamp_millis_opt(at_ms).single().unwrap_or_default(),
            })
            .collect();
        let next = events.last().map_or(after, |e| e.seq);
        Ok(Some(DeliveryPage { events, next }))
    }
}
