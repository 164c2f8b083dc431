//! The log's segment files in `trk/data/events/`: each is named by the log position of
//! its first byte (20 digits, `.log`), so a cursor — a position — tells which file and
//! where in it to read. The writer's file has zero-filled space after its last record
//! (see `PREFILL`). A crash can leave the newest file with a record cut off at its end
//! (its request was never answered). Opening the log reads each file up to its last
//! whole record and never changes a torn file: the writer goes on in a new one.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use super::record::{Decoded, decode};

/// One segment file and what the log knows of it.
#[derive(Debug, Clone)]
pub struct Segment {
    /// The log position of its first byte.
    pub base: u64,
    /// Bytes in it that are durable (written and synced).
    pub len: u64,
    /// The time of its newest event (ms since the epoch); `i64::MIN` if it has none.
    pub newest_ms: i64,
    /// The time of its first event; `i64::MIN` if it has none.
    pub first_ms: i64,
    /// Bytes in the file: records, then zeros or a torn record.
    pub file_len: u64,
    /// Whether the file ends in a record a crash cut off (rather than in zeros or nothing).
    pub torn: bool,
    /// The highest origin (cursor in a predecessor's log) of an event handed over; 0: none.
    pub max_origin: u64,
    pub path: PathBuf,
}

impl Segment {
    pub fn end(&self) -> u64 {
        self.base + self.len
    }
}

pub fn segment_path(dir: &Path, base: u64) -> PathBuf {
    dir.join(format!("{base:020}.log"))
}

/// Makes a directory entry durable (a new or removed segment file).
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Reads every segment in `dir`, oldest first. A record cut off at the end of the newest
/// one is a crash's (reported as such); a bad record anywhere else is damage, reported,
/// and ends the readable part of its segment.
pub fn scan(dir: &Path) -> io::Result<Vec<Segment>> {
    let mut bases = Vec::new();
    for entry in fs::read_dir(dir)? {
        let name = entry?.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(base) = name
            .strip_suffix(".log")
            .and_then(|n| n.parse::<u64>().ok())
        {
            bases.push(base);
        }
    }
    bases.sort_unstable();
    let mut segments = Vec::with_capacity(bases.len());
    for (i, &base) in bases.iter().enumerate() {
        let path = segment_path(dir, base);
        let mut bytes = Vec::new();
        File::open(&path)?.read_to_end(&mut bytes)?;
        let (mut len, mut first_ms, mut newest_ms) = (0usize, i64::MIN, i64::MIN);
        let mut max_origin = 0;
        let mut torn = false;
        loop {
            match decode(&bytes[len..]) {
                Decoded::Event(e, n) => {
                    let at = e.at.timestamp_millis();
                    if first_ms == i64::MIN {
                        first_ms = at;
                    }
                    newest_ms = newest_ms.max(at);
                    max_origin = max_origin.max(e.origin.unwrap_or(0));
                    len += n;
                }
                // The end of the records: nothing or the zero-filled space after them.
                _ if bytes[len..].iter().all(|&b| b == 0) => break,
                _ => {
                    torn = true;
                    if i + 1 == bases.len() {
                        tracing::warn!(
                            "{}: the last {} bytes are an event record a crash left unfinished (its request was never answered); they are not read",
                            path.display(),
                            bytes.len() - len
                        );
                    } else {
                        tracing::error!(
                            "{}: the record at byte {len} is damaged; the {} bytes after it are not read",
                            path.display(),
                            bytes.len() - len
                        );
                    }
                    break;
                }
            }
        }
        segments.push(Segment {
            base,
            len: len as u64,
            newest_ms,
            first_ms,
            file_len: bytes.len() as u64,
            torn,
            max_origin,
            path,
        });
    }
    Ok(segments)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::NewEvent;
    use crate::events::record::encode;
    use chrono::{TimeZone, Utc};
    use proptest::prelude::*;
    use tutti_core::api::{AgentClass, EventKind};

    fn event(recipient: u64) -> NewEvent {
        NewEvent {
            job: "J".into(),
            kind: EventKind::Open,
            link: None,
            recipient: Some(recipient),
            at: Utc.timestamp_millis_opt(1_700_000_000_000).unwrap(),
            agent: AgentClass::MailClient,
            flags: 0,
            origin: None,
        }
    }

    /// What a crash can leave after the last whole record: nothing, part of a record, or
    /// bytes of anything.
    fn crash_tails() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            Just(Vec::new()),
            (1usize..40).prop_map(|cut| {
                let mut one = Vec::new();
                encode(&event(7), &mut one);
                one.truncate(cut.min(one.len() - 1));
                one
            }),
            proptest::collection::vec(any::<u8>(), 1..64),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn a_segment_is_read_up_to_its_zeros_or_its_torn_tail(
            count in 0u64..20,
            tail in crash_tails(),
            zeros in 0usize..5000,
        ) {
            let dir = tempfile::tempdir().unwrap();
            let mut bytes = Vec::new();
            for i in 0..count {
                encode(&event(i), &mut bytes);
            }
            let records = bytes.len() as u64;
            bytes.extend_from_slice(&tail);
            bytes.resize(bytes.len() + zeros, 0);
            fs::write(segment_path(dir.path(), 0), &bytes).unwrap();
            let found = scan(dir.path()).unwrap();
            prop_assert_eq!(found.len(), 1);
            let s = &found[0];
            prop_assert_eq!(s.len, records, "every whole record and nothing after");
            prop_assert_eq!(s.file_len, bytes.len() as u64);
            prop_assert_eq!(s.torn, tail.iter().any(|&b| b != 0));
        }
    }
}
