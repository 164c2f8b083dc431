use super::*;
use std::os::unix::fs::FileExt;

fn event(recipient: u64, at: DateTime<Utc>) -> NewEvent {
    NewEvent {
        job: "J".into(),
        kind: EventKind::Click,
        link: Some(1),
        recipient: Some(recipient),
        at,
        agent: AgentClass::Browser,
        flags: 0,
        origin: None,
    }
}

/// Segments of about five events each, so that purging has something to choose.
fn small() -> Limits {
    Limits {
        segment_bytes: 150,
        segment_age: Duration::from_secs(86_400),
    }
}

fn old() -> DateTime<Utc> {
    Utc::now() - chrono::Duration::days(40)
}

const MONTH: Duration = Duration::from_secs(30 * 86_400);

async fn all(log: &EventLog, after: i64) -> Vec<TrackingEvent> {
    log.page(after, MAX_PAGE).await.unwrap().events
}

#[tokio::test]
async fn events_are_read_in_order_and_purged_only_when_fetched_and_old() {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open_with(dir.path(), small()).await.unwrap();
    // Ten rounds of ten at once: batches of several events, in several segments.
    let mut cursors = Vec::new();
    for round in 0..10u64 {
        let mut handles = Vec::new();
        for i in 0..10 {
            let log = log.clone();
            handles.push(tokio::spawn(async move {
                log.record(event(round * 10 + i, old())).await.unwrap()
            }));
        }
        for h in handles {
            cursors.push(h.await.unwrap());
        }
    }
    let first = log.page(0, 60).await.unwrap();
    assert_eq!(first.events.len(), 60);
    assert!(first.events.windows(2).all(|w| w[0].seq < w[1].seq));
    let mut recipients: Vec<u64> = first.events.iter().filter_map(|e| e.recipient).collect();
    let second = log.page(first.next, 60).await.unwrap();
    assert_eq!(second.events.len(), 40);
    recipients.extend(second.events.iter().filter_map(|e| e.recipient));
    recipients.sort_unstable();
    assert_eq!(recipients, (0..100).collect::<Vec<_>>(), "each event once");
    let mut given: Vec<i64> = first
        .events
        .iter()
        .chain(&second.events)
        .map(|e| e.seq)
        .collect();
    given.sort_unstable();
    cursors.sort_unstable();
    assert_eq!(
        given, cursors,
        "the feed's cursors are the ones record answered"
    );

    // Fetching after first.next says everything up to it is imported: only segments
    // wholly before it go, and nothing after it.
    assert!(log.purge(MONTH).await.unwrap() > 0);
    let rest = all(&log, 0).await;
    assert!(rest.len() >= 40 && rest.len() < 100, "{}", rest.len());
    assert_eq!(all(&log, first.next).await, second.events);
    // Nothing young goes, fetched or not.
    log.page(second.next, 10).await.unwrap();
    assert_eq!(
        log.purge(Duration::from_secs(50 * 86_400)).await.unwrap(),
        0
    );
    assert!(log.purge(MONTH).await.unwrap() > 0);
    assert_eq!(
        log.shared.segments().len(),
        1,
        "only the writer's segment is left"
    );
    assert!(all(&log, 0).await.len() < 100);
    assert_eq!(log.page(second.next, 10).await.unwrap().events.len(), 0);
}

#[tokio::test]
async fn the_feed_mark_is_saved_by_a_purge_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    {
        let log = EventLog::open_with(dir.path(), small()).await.unwrap();
        for i in 0..20 {
            log.record(event(i, old())).await.unwrap();
        }
        let page = log.page(0, 100).await.unwrap();
        log.page(page.next, 100).await.unwrap();
        assert_eq!(
            log.purge(Duration::from_secs(1000 * 86_400)).await.unwrap(),
            0
        );
    }
    let log = EventLog::open_with(dir.path(), small()).await.unwrap();
    assert!(log.purge(MONTH).await.unwrap() > 0);
}

#[tokio::test]
async fn the_writer_syncs_into_zero_filled_space_and_goes_on_in_it_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events");
    let mut last = 0;
    {
        let log = EventLog::open(dir.path()).await.unwrap();
        for i in 0..3 {
            last = log.record(event(i, Utc::now())).await.unwrap();
        }
    }
    let segments = segments::scan(&events).unwrap();
    assert_eq!(segments.len(), 1);
    assert_eq!(segments[0].file_len, PREFILL, "the file is filled ahead");
    assert_eq!(segments[0].end(), last as u64);
    assert!(!segments[0].torn);

    let log = EventLog::open(dir.path()).await.unwrap();
    let next = log.record(event(3, Utc::now())).await.unwrap();
    let mut one = Vec::new();
    record::encode(&event(3, Utc::now()), &mut one);
    assert_eq!(next, last + one.len() as i64, "right after the last record");
    assert_eq!(segments::scan(&events).unwrap().len(), 1);
    assert_eq!(all(&log, 0).await.len(), 4);
}

#[tokio::test]
async fn finished_segments_lose_their_zero_filled_space() {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open_with(dir.path(), small()).await.unwrap();
    for i in 0..20 {
        log.record(event(i, Utc::now())).await.unwrap();
    }
    let segments = segments::scan(&dir.path().join("events")).unwrap();
    assert!(segments.len() > 2);
    for s in &segments[..segments.len() - 1] {
        assert_eq!(fs::metadata(&s.path).unwrap().len(), s.len, "{s:?}");
    }
    assert_eq!(all(&log, 0).await.len(), 20);
}

#[tokio::test]
async fn a_record_torn_by_a_crash_is_left_behind_and_the_log_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let mut last = 0;
    {
        let log = EventLog::open(dir.path()).await.unwrap();
        for i in 0..5 {
            last = log.record(event(i, Utc::now())).await.unwrap();
        }
    }
    let newest = segments::scan(&dir.path().join("events"))
        .unwrap()
        .pop()
        .unwrap();
    let mut half = Vec::new();
    record::encode(&event(99, Utc::now()), &mut half);
    half.truncate(half.len() / 2);
    // Where the crash cut it: after the last whole record, in the zero-filled space.
    OpenOptions::new()
        .write(true)
        .open(&newest.path)
        .unwrap()
        .write_all_at(&half, newest.len)
        .unwrap();

    let log = EventLog::open(dir.path()).await.unwrap();
    assert_eq!(all(&log, 0).await.len(), 5);
    let after = log.record(event(6, Utc::now())).await.unwrap();
    assert!(
        after > last + half.len() as i64,
        "the new record starts past the torn one"
    );
    let events = all(&log, 0).await;
    assert_eq!(
        events
            .iter()
            .map(|e| e.recipient.unwrap())
            .collect::<Vec<_>>(),
        [0, 1, 2, 3, 4, 6]
    );
    assert_eq!(all(&log, last).await.len(), 1);
}

#[tokio::test]
async fn a_cursor_the_log_did_not_give_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(dir.path()).await.unwrap();
    let first = log.record(event(1, Utc::now())).await.unwrap();
    log.record(event(2, Utc::now())).await.unwrap();
    assert!(matches!(
        log.page(first - 3, 10).await,
        Err(FeedError::BadCursor(_))
    ));
    assert!(matches!(
        log.page(first + 3, 10).await,
        Err(FeedError::BadCursor(_))
    ));
    assert!(matches!(
        log.page(-1, 10).await,
        Err(FeedError::BadCursor(-1))
    ));
    // Beyond the end: a reader there would skip what is recorded up to it.
    assert!(matches!(
        log.page(1 << 40, 10).await,
        Err(FeedError::BadCursor(_))
    ));
    let end = log.page(first, 10).await.unwrap().next;
    assert!(matches!(
        log.page(end + 1, 10).await,
        Err(FeedError::BadCursor(_))
    ));
    assert!(log.page(end, 10).await.unwrap().events.is_empty());
    assert_eq!(all(&log, first).await.len(), 1);
}

#[tokio::test]
async fn the_unfetched_events_of_an_old_sqlite_log_start_the_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let old_path = dir.path().join("events.sqlite");
    let conn = rusqlite::Connection::open(&old_path).unwrap();
    conn.execute_batch(
        "CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, job TEXT NOT NULL, kind TEXT NOT NULL, link INTEGER, recipient INTEGER, at_ms INTEGER NOT NULL, agent TEXT NOT NULL, flags INTEGER NOT NULL);
         CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
         INSERT INTO meta VALUES ('fetched', 3);",
    )
    .unwrap();
    for i in 1..=5i64 {
        conn.execute(
            "INSERT INTO events (job, kind, link, recipient, at_ms, agent, flags) VALUES ('OLD', 'click', 0, ?1, 1700000000000, 'mail_client', 0)",
            [-i],
        )
        .unwrap();
    }
    drop(conn);
    let log = EventLog::open(dir.path()).await.unwrap();
    // The User Interface's cursor is 3: it gets events 4 and 5, once, past every old cursor.
    let page = log.page(3, 100).await.unwrap();
    assert_eq!(page.events.len(), 2);
    assert!(page.events.iter().all(|e| e.seq > 5 && e.job == "OLD"));
    assert_eq!(page.events[0].recipient, Some((-4i64) as u64));
    assert_eq!(page.events[0].agent, AgentClass::MailClient);
    assert!(!old_path.exists());
    assert!(dir.path().join("events.sqlite.imported").exists());
    // New events follow them.
    let seq = log.record(event(7, Utc::now())).await.unwrap();
    assert!(seq > page.next);
    assert_eq!(all(&log, page.next).await.len(), 1);
}

#[tokio::test]
async fn events_handed_over_twice_are_kept_once_also_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let handed = |from: u64, to: u64| -> Vec<NewEvent> {
        (from..=to)
            .map(|i| NewEvent {
                origin: Some(i * 40),
                ..event(i, Utc::now())
            })
            .collect()
    };
    {
        let log = EventLog::open(dir.path()).await.unwrap();
        assert_eq!(log.receive(handed(1, 5)).await.unwrap(), 200);
        log.record(event(99, Utc::now())).await.unwrap();
        // A batch sent again after its answer was lost, overlapping the next one.
        assert_eq!(log.receive(handed(3, 8)).await.unwrap(), 320);
    }
    let log = EventLog::open(dir.path()).await.unwrap();
    assert_eq!(log.receive(handed(1, 8)).await.unwrap(), 320);
    let mut recipients: Vec<u64> = all(&log, 0)
        .await
        .iter()
        .filter_map(|e| e.recipient)
        .collect();
    recipients.sort_unstable();
    assert_eq!(recipients, [1, 2, 3, 4, 5, 6, 7, 8, 99]);
}

#[test]
fn a_segment_file_a_failed_rotation_left_empty_is_taken_over_and_one_with_records_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let shared = Shared {
        dir: dir.path().to_path_buf(),
        segments: Mutex::new(Vec::new()),
        fetched: AtomicI64::new(0),
        received: AtomicU64::new(0),
        queued: AtomicUsize::new(0),
    };
    File::create_new(segment_path(dir.path(), 4096)).unwrap();
    let mut file = new_segment(&shared, 4096).unwrap();
    file.append(b"records").unwrap();
    assert_eq!(shared.segments().len(), 1);
    assert_eq!(shared.segments()[0].base, 4096);

    let kept = segment_path(dir.path(), 8192);
    fs::write(&kept, b"someone's records").unwrap();
    assert!(new_segment(&shared, 8192).is_err());
    assert_eq!(fs::read(&kept).unwrap(), b"someone's records");
    assert_eq!(shared.segments().len(), 1);
}

#[tokio::test]
async fn the_events_of_a_pass_are_written_in_order_and_then_reported_durable() {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open_with(dir.path(), small()).await.unwrap();
    log.record(event(0, old())).await.unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let passes = log.clone();
    // As an event loop does: from a plain thread, two passes one after the other.
    std::thread::spawn(move || {
        for pass in 0..2u64 {
            let tx = tx.clone();
            let events = (1..=3).map(|i| event(pass * 3 + i, old())).collect();
            passes.record_many(events, move |written| {
                tx.send((pass, written)).unwrap();
            });
        }
    })
    .join()
    .unwrap();
    assert_eq!(rx.recv().unwrap(), (0, Ok(())));
    assert_eq!(rx.recv().unwrap(), (1, Ok(())));
    assert_eq!(log.queued(), 0);
    let recipients: Vec<u64> = all(&log, 0)
        .await
        .iter()
        .filter_map(|e| e.recipient)
        .collect();
    assert_eq!(recipients, [0, 1, 2, 3, 4, 5, 6]);
}
