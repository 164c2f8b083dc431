//! The durable event log: append-only segment files in `trk/data/events/`.
//!
//! One writer thread owns the newest segment. Requests hand it their event and wait; it
//! takes every event that is waiting (up to [`MAX_BATCH`]), appends them with one write,
//! `fdatasync`s, and only then tells each request its event is durable (group commit: one
//! sync for many events). A request answers its browser only after that.
//!
//! An event's cursor (`seq`) is the log position just past its record, so the feed's
//! `after` says exactly where to go on reading; records carry a CRC, so a position that is
//! not a record's end is refused rather than read as garbage. A segment is deleted only
//! when the feed has been read past its end and its newest event is older than
//! `EventRetentionDays`. How far the feed has been read is kept in memory and saved (in
//! `fetched`) before each purge: a crash may forget it, and the events it covers are then
//! only kept longer.

mod migrate;
mod record;
mod segment_file;
mod segments;

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot};
use tutti_core::api::{AgentClass, EventKind, EventPage, TrackingEvent};

use crate::classify::flag_names;
#[cfg(test)]
use segment_file::PREFILL;
use segment_file::SegmentFile;
use segments::{Segment, scan, segment_path, sync_dir};

/// Most events one write takes.
pub const MAX_BATCH: usize = 4096;
/// Most events one feed page returns.
pub const MAX_PAGE: u32 = 10_000;

/// When the writer starts a new segment: purging deletes whole segments, so they are
/// kept small enough (and young enough) to go soon after their events are old.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub segment_bytes: u64,
    pub segment_age: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            segment_bytes: 64 << 20,
            segment_age: Duration::from_secs(86_400),
        }
    }
}

/// An event to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub job: String,
    pub kind: EventKind,
    pub link: Option<u32>,
    pub recipient: Option<u64>,
    pub at: DateTime<Utc>,
    pub agent: AgentClass,
    pub flags: u32,
    /// For an event another Tracker handed over: its cursor in that Tracker's log. The log
    /// keeps the highest one it holds and skips any it gets again (a resent batch).
    pub origin: Option<u64>,
}

/// What the writer is handed: one event whose sender waits for its cursor, or the events
/// of one pass of the hot path's event loop, which is told once they are all durable.
enum Pending {
    One {
        event: NewEvent,
        durable: oneshot::Sender<Result<i64, String>>,
    },
    Many {
        events: Vec<NewEvent>,
        durable: Box<dyn FnOnce(Result<(), String>) + Send>,
    },
}

impl Pending {
    fn events(&self) -> &[NewEvent] {
        match self {
            Pending::One { event, .. } => std::slice::from_ref(event),
            Pending::Many { events, .. } => events,
        }
    }

    /// Tells the waiting side how its events fared; `seqs` holds a cursor for each.
    fn tell(self, outcome: &Result<&[i64], String>) {
        match (self, outcome) {
            (Pending::One { durable, .. }, Ok(seqs)) => {
                let _ = durable.send(Ok(seqs.first().copied().unwrap_or(0)));
            }
            (Pending::One { durable, .. }, Err(e)) => {
                let _ = durable.send(Err(e.clone()));
            }
            (Pending::Many { durable, .. }, outcome) => {
                durable(outcome.as_ref().map(|_| ()).map_err(Clone::clone));
            }
        }
    }
}

/// What the writer and the readers share.
struct Shared {
    dir: PathBuf,
    /// Oldest first; the writer appends to the last.
    segments: Mutex<Vec<Segment>>,
    /// The highest cursor the feed has been read past.
    fetched: AtomicI64,
    /// The highest origin of the events handed over to this log.
    received: AtomicU64,
    /// Events handed to the writer and not yet durable.
    queued: AtomicUsize,
}

impl Shared {
    fn segments(&self) -> MutexGuard<'_, Vec<Segment>> {
        // A panic elsewhere cannot leave the list half-changed: every change is one push,
        // remove or field update.
        self.segments.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Why a feed page could not be read.
#[derive(Debug)]
pub enum FeedError {
    /// `after` is not a cursor this log gave out.
    BadCursor(i64),
    Io(io::Error),
}

impl std::fmt::Display for FeedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FeedError::BadCursor(c) => write!(
                f,
                "after={c} is not a cursor of this event feed: pass 0 or the `next` of an earlier page"
            ),
            FeedError::Io(e) => write!(f, "{e}"),
        }
    }
}

#[derive(Clone)]
pub struct EventLog {
    /// Unbounded: whoever hands events over waits for them to be durable before it makes
    /// more (a request for its answer, an event loop's connections for theirs), so what
    /// waits here is bounded by the requests in progress, and an event loop never blocks.
    queue: mpsc::UnboundedSender<Pending>,
    shared: Arc<Shared>,
}

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// The newest segment, open for appending.
struct Writer {
    shared: Arc<Shared>,
    limits: Limits,
    file: SegmentFile,
    base: u64,
    first_ms: i64,
    /// After a failed write the file may end in a partial batch: go on in a new segment
    /// that starts past anything that write could have left.
    restart_at: Option<u64>,
    buf: Vec<u8>,
}

impl Writer {
    fn open(shared: Arc<Shared>, limits: Limits) -> io::Result<Writer> {
        let last = shared.segments().last().cloned();
        let (file, base, first_ms) = match last {
            // A whole newest segment goes on; one that ends in a torn record is left as
            // it is, and the log goes on after it.
            Some(s) if !s.torn => (
                SegmentFile::open(&s.path, s.len, s.file_len)?,
                s.base,
                s.first_ms,
            ),
            last => {
                let base = last.map_or(0, |s| s.base + s.file_len);
                (new_segment(&shared, base)?, base, i64::MIN)
            }
        };
        Ok(Writer {
            shared,
            limits,
            file,
            base,
            first_ms,
            restart_at: None,
            buf: Vec::with_capacity(64 * 1024),
        })
    }

    fn rotate(&mut self, base: u64) -> io::Result<()> {
        // The finished segment loses its zero-filled space. Should that not reach the
        // disk before a crash, reading stops at the zeros all the same.
        if self.restart_at.is_none() {
            match self.file.trim() {
                Ok(()) => {
                    if let Some(s) = self.shared.segments().last_mut() {
                        s.file_len = self.file.filled();
                    }
                }
                Err(e) => tracing::warn!("cannot trim the finished event log segment: {e}"),
            }
        }
        self.file = new_segment(&self.shared, base)?;
        self.base = base;
        self.first_ms = i64::MIN;
        Ok(())
    }

    /// Appends the batch durably; the cursor of each event, in order.
    fn append<'a>(
        &mut self,
        batch: impl Iterator<Item = &'a NewEvent> + Clone,
    ) -> io::Result<Vec<i64>> {
        let now = now_ms();
        if let Some(at) = self.restart_at {
            self.rotate(at)?;
            self.restart_at = None;
        }
        let len = self.file.len();
        let too_old = len > 0
            && now.saturating_sub(self.first_ms)
                >= i64::try_from(self.limits.segment_age.as_millis()).unwrap_or(i64::MAX);
        if len >= self.limits.segment_bytes || too_old {
            self.rotate(self.base + len)?;
        }
        let len = self.file.len();
        self.buf.clear();
        let mut seqs = Vec::new();
        let mut newest = i64::MIN;
        let mut received = self.shared.received.load(Ordering::Acquire);
        let first_at = batch.clone().next().map(|e| e.at.timestamp_millis());
        for event in batch {
            if let Some(origin) = event.origin {
                if origin <= received {
                    // Handed over before: already in the log.
                    seqs.push(0);
                    continue;
                }
                received = origin;
            }
            record::encode(event, &mut self.buf);
            seqs.push(cursor(self.base + len + self.buf.len() as u64));
            newest = newest.max(event.at.timestamp_millis());
        }
        if self.buf.is_empty() {
            return Ok(seqs);
        }
        if let Err(e) = self.file.append(&self.buf) {
            self.restart_at = Some(self.base + self.file.written_up_to(self.buf.len()));
            return Err(e);
        }
        self.shared.received.store(received, Ordering::Release);
        if self.first_ms == i64::MIN {
            self.first_ms = first_at.unwrap_or(now);
        }
        if let Some(s) = self.shared.segments().last_mut() {
            s.len = self.file.len();
            s.file_len = self.file.filled();
            s.first_ms = self.first_ms;
            s.newest_ms = s.newest_ms.max(newest);
        }
        Ok(seqs)
    }
}

/// Positions are u64; the feed's cursors are JSON integers (i64), which a log would
/// need 8 EiB to outgrow.
fn cursor(position: u64) -> i64 {
    i64::try_from(position).unwrap_or(i64::MAX)
}

/// Creates the segment starting at `base`, makes its name durable and lists it.
fn new_segment(shared: &Shared, base: u64) -> io::Result<SegmentFile> {
    let path = segment_path(&shared.dir, base);
    let file = match SegmentFile::create(&path) {
        // An earlier attempt created the file and then failed (to open it or to sync the
        // directory): nothing is in it, so it is this segment. Refusing it would stop the
        // writer for good, every retry failing on the same name.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && fs::metadata(&path)?.len() == 0 => {
            SegmentFile::open(&path, 0, 0)?
        }
        file => file?,
    };
    sync_dir(&shared.dir)?;
    shared.segments().push(Segment {
        base,
        len: 0,
        newest_ms: i64::MIN,
        first_ms: i64::MIN,
        file_len: 0,
        torn: false,
        max_origin: 0,
        path,
    });
    Ok(file)
}

fn run_writer(mut writer: Writer, mut queue: mpsc::UnboundedReceiver<Pending>) {
    let shared = writer.shared.clone();
    while let Some(first) = queue.blocking_recv() {
        let mut events = first.events().len();
        let mut batch = vec![first];
        while events < MAX_BATCH {
            match queue.try_recv() {
                Ok(p) => {
                    events += p.events().len();
                    batch.push(p);
                }
                Err(_) => break,
            }
        }
        let written = writer.append(batch.iter().flat_map(Pending::events));
        // Written or failed, they wait no more.
        shared.queued.fetch_sub(events, Ordering::Relaxed);
        match written {
            Ok(seqs) => {
                let mut at = 0;
                for p in batch {
                    let n = p.events().len();
                    p.tell(&Ok(&seqs[at..at + n]));
                    at += n;
                }
            }
            Err(e) => {
                tracing::error!("cannot write {events} tracking events: {e}");
                let e = Err(e.to_string());
                for p in batch {
                    p.tell(&e);
                }
            }
        }
    }
}

/// Reads up to `limit` events after position `after`.
fn read_page(shared: &Shared, after: u64, limit: usize) -> Result<Vec<(u64, NewEvent)>, FeedError> {
    let segments: Vec<Segment> = {
        let all = shared.segments();
        // A cursor past the end was never given out; answering it an empty page would let
        // the reader skip the events written up to there, and mark them as fetched.
        if after > all.last().map_or(0, Segment::end) {
            return Err(FeedError::BadCursor(cursor(after)));
        }
        all.iter().filter(|s| s.end() > after).cloned().collect()
    };
    let mut out = Vec::new();
    for s in segments {
        let start = after.saturating_sub(s.base);
        let want = (s.len - start).min(((limit - out.len()) * record::MAX_RECORD) as u64);
        let mut file = match File::open(&s.path) {
            Ok(f) => f,
            // Purged since the list was read: its events were all fetched.
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(FeedError::Io(e)),
        };
        file.seek(SeekFrom::Start(start)).map_err(FeedError::Io)?;
        let mut bytes = vec![0; usize::try_from(want).unwrap_or(usize::MAX)];
        file.read_exact(&mut bytes).map_err(FeedError::Io)?;
        let mut at = 0;
        while out.len() < limit {
            match record::decode(&bytes[at..]) {
                record::Decoded::Event(e, n) => {
                    at += n;
                    out.push((s.base + start + at as u64, e));
                }
                record::Decoded::Short => break,
                record::Decoded::Bad if at == 0 && start > 0 => {
                    return Err(FeedError::BadCursor(cursor(after)));
                }
                record::Decoded::Bad => {
                    return Err(FeedError::Io(io::Error::other(format!(
                        "{}: damaged record at byte {}",
                        s.path.display(),
                        start + at as u64
                    ))));
                }
            }
        }
        if out.len() >= limit {
            break;
        }
    }
    Ok(out)
}

fn event_json(seq: u64, e: NewEvent) -> TrackingEvent {
    TrackingEvent {
        seq: cursor(seq),
        job: e.job,
        kind: e.kind,
        link: e.link,
        recipient: e.recipient,
        at: e.at,
        agent: e.agent,
        machine: flag_names(e.flags),
    }
}

/// Writes the first segment of a log that replaces an earlier version's SQLite log.
fn import_old_log(dir: &Path, old: &Path) -> anyhow::Result<()> {
    let (base, events) = migrate::read_old(old)?;
    let mut bytes = Vec::new();
    for e in &events {
        record::encode(e, &mut bytes);
    }
    let path = segment_path(dir, base);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)?;
    file.write_all(&bytes)?;
    file.sync_all()?;
    sync_dir(dir)?;
    let done = old.with_extension("sqlite.imported");
    fs::rename(old, &done)?;
    tracing::info!(
        "moved {} unfetched events from {} into the event log; the old file is now {}",
        events.len(),
        old.display(),
        done.display()
    );
    Ok(())
}

impl EventLog {
    /// Opens (or creates) the log in `data/events/`, taking over `data/events.sqlite` of
    /// an earlier version if there is one.
    pub async fn open(data: &Path) -> anyhow::Result<EventLog> {
        EventLog::open_with(data, Limits::default()).await
    }

    pub async fn open_with(data: &Path, limits: Limits) -> anyhow::Result<EventLog> {
        let dir = data.join("events");
        let old = data.join("events.sqlite");
        let context =
            |e: io::Error| anyhow::anyhow!("cannot open the event log {}: {e}", dir.display());
        fs::create_dir_all(&dir).map_err(context)?;
        let mut found = scan(&dir).map_err(context)?;
        if found.is_empty() && old.exists() {
            import_old_log(&dir, &old)
                .map_err(|e| anyhow::anyhow!("cannot take over {}: {e}", old.display()))?;
            found = scan(&dir).map_err(context)?;
        }
        let fetched = read_mark(&dir.join(FETCHED)).unwrap_or(0);
        // Purging may have deleted the segments with the highest origin: the mark saved
        // before each purge covers them.
        let received = found
            .iter()
            .map(|s| s.max_origin)
            .chain(read_mark(&dir.join(RECEIVED)))
            .max()
            .unwrap_or(0);
        let shared = Arc::new(Shared {
            dir: dir.clone(),
            segments: Mutex::new(found),
            fetched: AtomicI64::new(fetched),
            received: AtomicU64::new(received),
            queued: AtomicUsize::new(0),
        });
        let writer = Writer::open(shared.clone(), limits).map_err(context)?;
        tracing::info!(
            "event log {} ({} segment files), writing {}",
            dir.display(),
            shared.segments().len(),
            if writer.file.direct() {
                "with O_DIRECT"
            } else {
                "through the page cache (the file system refuses O_DIRECT)"
            }
        );
        let (queue, rx) = mpsc::unbounded_channel();
        std::thread::Builder::new()
            .name("trk-event-writer".into())
            .spawn(move || run_writer(writer, rx))?;
        Ok(EventLog { queue, shared })
    }

    /// How many events wait for the writer.
    pub fn queued(&self) -> usize {
        self.shared.queued.load(Ordering::Relaxed)
    }

    /// Hands `pending` to the writer, counting its events as queued.
    /// If the writer has stopped, `pending` is told so at once.
    fn enqueue(&self, pending: Pending) {
        let n = pending.events().len();
        self.shared.queued.fetch_add(n, Ordering::Relaxed);
        if let Err(mpsc::error::SendError(pending)) = self.queue.send(pending) {
            self.shared.queued.fetch_sub(n, Ordering::Relaxed);
            pending.tell(&Err("the event writer has stopped".to_string()));
        }
    }

    /// Records an event; returns once it is on disk, with its cursor.
    pub async fn record(&self, event: NewEvent) -> Result<i64, String> {
        let (durable, done) = oneshot::channel();
        self.enqueue(Pending::One { event, durable });
        done.await
            .map_err(|_| "the event writer has stopped".to_string())?
    }

    /// Records the events of one pass of an event loop, without waiting: `durable` is
    /// called once they are all on disk, or with the reason they are not.
    pub fn record_many(
        &self,
        events: Vec<NewEvent>,
        durable: impl FnOnce(Result<(), String>) + Send + 'static,
    ) {
        self.enqueue(Pending::Many {
            events,
            durable: Box::new(durable),
        });
    }

    /// Appends events another Tracker hands over (each with its origin, in order), skipping
    /// those it already holds; returns once they are durable, with the highest origin held.
    pub async fn receive(&self, events: Vec<NewEvent>) -> Result<u64, String> {
        let mut waiting = Vec::with_capacity(events.len());
        for event in events {
            let (durable, done) = oneshot::channel();
            self.enqueue(Pending::One { event, durable });
            waiting.push(done);
        }
        for done in waiting {
            done.await
                .map_err(|_| "the event writer has stopped".to_string())??;
        }
        Ok(self.shared.received.load(Ordering::Acquire))
    }

    /// Events after `after`, at most `limit`. Reading past a cursor tells the log that the
    /// reader has everything up to it.
    pub async fn page(&self, after: i64, limit: u32) -> Result<EventPage, FeedError> {
        let position = u64::try_from(after).map_err(|_| FeedError::BadCursor(after))?;
        let limit = limit.clamp(1, MAX_PAGE) as usize;
        let shared = self.shared.clone();
        let read = tokio::task::spawn_blocking(move || read_page(&shared, position, limit))
            .await
            .map_err(|e| FeedError::Io(io::Error::other(e)))??;
        // Only a cursor the log gave out marks events as fetched.
        self.shared.fetched.fetch_max(after, Ordering::AcqRel);
        let events: Vec<TrackingEvent> = read
            .into_iter()
            .map(|(seq, e)| event_json(seq, e))
            .collect();
        let next = events.last().map_or(after, |e| e.seq);
        Ok(EventPage { events, next })
    }

    /// Deletes the segments the feed has been read past whose events are all older than
    /// `retention`; how many events they held is not counted, so it answers how many
    /// segments went.
    pub async fn purge(&self, retention: Duration) -> anyhow::Result<usize> {
        let cutoff_ms = (Utc::now() - chrono::Duration::from_std(retention)?).timestamp_millis();
        let shared = self.shared.clone();
        tokio::task::spawn_blocking(move || purge(&shared, cutoff_ms)).await?
    }
}

/// The log position after the last record of the segments in `dir` (0 without any).
pub fn segments_end(dir: &Path) -> io::Result<u64> {
    Ok(scan(dir)?.last().map_or(0, Segment::end))
}

/// The files that keep how far the feed has been read, and the highest origin received.
const FETCHED: &str = "fetched";
const RECEIVED: &str = "received";

pub(crate) fn read_mark<T: std::str::FromStr>(path: &Path) -> Option<T> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Replaces the mark file `name` in `dir` with `value`, durably.
pub(crate) fn save_mark(dir: &Path, name: &str, value: impl std::fmt::Display) -> io::Result<()> {
    let temporary = dir.join(format!("{name}.new"));
    fs::write(&temporary, value.to_string())?;
    File::open(&temporary)?.sync_all()?;
    fs::rename(&temporary, dir.join(name))
}

fn purge(shared: &Shared, cutoff_ms: i64) -> anyhow::Result<usize> {
    let fetched = shared.fetched.load(Ordering::Acquire);
    save_mark(&shared.dir, FETCHED, fetched)?;
    save_mark(
        &shared.dir,
        RECEIVED,
        shared.received.load(Ordering::Acquire),
    )?;
    let fetched = u64::try_from(fetched).unwrap_or(0);
    let mut segments = shared.segments();
    let newest = segments.len().saturating_sub(1);
    let mut gone = Vec::new();
    let mut failure = None;
    // The newest segment is the writer's: never deleted.
    for (i, s) in segments.iter().enumerate().take(newest) {
        if s.end() <= fetched && s.newest_ms < cutoff_ms {
            match fs::remove_file(&s.path) {
                Ok(()) => gone.push(i),
                Err(e) if e.kind() == io::ErrorKind::NotFound => gone.push(i),
                Err(e) => {
                    failure = Some(anyhow::anyhow!("cannot delete {}: {e}", s.path.display()));
                    break;
                }
            }
        }
    }
    for i in gone.iter().rev() {
        segments.remove(*i);
    }
    drop(segments);
    sync_dir(&shared.dir)?;
    match failure {
        Some(e) => Err(e),
        None => Ok(gone.len()),
    }
}

#[cfg(test)]
mod tests;
