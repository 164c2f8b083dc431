//! One event as it stands in the log: `length (u32 LE) | CRC-32 of the payload (u32 LE) |
//! payload`. The CRC finds a record cut off by a crash (or a cursor that does not point at
//! a record) instead of reading garbage as an event.
//!
//! Payload, version 1: `version | kind | agent | present (1 = link, 2 = recipient, 4 =
//! origin) | flags (u32) | at_ms (i64) | [link (u32)] | [recipient (u64)] | [origin (u64)] |
//! job length | job`, all little-endian. The origin is the event's cursor in the log of the
//! Tracker that handed it over (see `handover`).

use chrono::{DateTime, TimeZone, Utc};
use tutti_core::api::{AgentClass, EventKind};

use super::NewEvent;

const VERSION: u8 = 1;
const HEADER: usize = 8;
const HAS_LINK: u8 = 1;
const HAS_RECIPIENT: u8 = 2;
const HAS_ORIGIN: u8 = 4;
/// The shortest payload: the fixed fields and an empty job id.
const MIN_PAYLOAD: usize = 4 + 4 + 8 + 1;
/// The longest payload: fixed fields, link, recipient, origin and a 255-byte job id.
pub const MAX_PAYLOAD: usize = 4 + 4 + 8 + 4 + 8 + 8 + 1 + 255;
/// The longest record.
pub const MAX_RECORD: usize = HEADER + MAX_PAYLOAD;

fn kind_code(k: EventKind) -> u8 {
    match k {
        EventKind::Open => 0,
        EventKind::Click => 1,
        EventKind::Unsubscribe => 2,
    }
}

fn kind_of(code: u8) -> Option<EventKind> {
    Some(match code {
        0 => EventKind::Open,
        1 => EventKind::Click,
        2 => EventKind::Unsubscribe,
        _ => return None,
    })
}

fn agent_code(a: AgentClass) -> u8 {
    match a {
        AgentClass::Browser => 0,
        AgentClass::MailClient => 1,
        AgentClass::Proxy => 2,
        AgentClass::Prefetcher => 3,
        AgentClass::Scanner => 4,
        AgentClass::Unknown => 5,
    }
}

fn agent_of(code: u8) -> Option<AgentClass> {
    Some(match code {
        0 => AgentClass::Browser,
        1 => AgentClass::MailClient,
        2 => AgentClass::Proxy,
        3 => AgentClass::Prefetcher,
        4 => AgentClass::Scanner,
        5 => AgentClass::Unknown,
        _ => return None,
    })
}

/// Appends the record of `e` to `out`. Job ids are at most 64 bytes (the token format's
/// limit); a longer one is cut at 255, which no valid token can name.
pub fn encode(e: &NewEvent, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0; HEADER]);
    let job = &e.job.as_bytes()[..e.job.len().min(255)];
    let present = if e.link.is_some() { HAS_LINK } else { 0 }
        | if e.recipient.is_some() {
            HAS_RECIPIENT
        } else {
            0
        }
        | if e.origin.is_some() { HAS_ORIGIN } else { 0 };
    out.extend_from_slice(&[VERSION, kind_code(e.kind), agent_code(e.agent), present]);
    out.extend_from_slice(&e.flags.to_le_bytes());
    out.extend_from_slice(&e.at.timestamp_millis().to_le_bytes());
    if let Some(link) = e.link {
        out.extend_from_slice(&link.to_le_bytes());
    }
    if let Some(r) = e.recipient {
        out.extend_from_slice(&r.to_le_bytes());
    }
    if let Some(o) = e.origin {
        out.extend_from_slice(&o.to_le_bytes());
    }
    out.push(job.len() as u8);
    out.extend_from_slice(job);
    let payload = &out[start + HEADER..];
    let len = (payload.len() as u32).to_le_bytes();
    let crc = crc32fast::hash(payload).to_le_bytes();
    out[start..start + 4].copy_from_slice(&len);
    out[start + 4..start + 8].copy_from_slice(&crc);
}

/// What is at the start of a buffer.
#[derive(Debug, PartialEq)]
pub enum Decoded {
    /// An event, and the length of its record.
    Event(NewEvent, usize),
    /// The buffer ends inside a record (a torn tail, or a read that stopped short).
    Short,
    /// Not a record: wrong length, CRC or content.
    Bad,
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_first_chunk::<N>()?;
        self.0 = rest;
        Some(*head)
    }
}

/// Reads the record at the start of `buf`.
pub fn decode(buf: &[u8]) -> Decoded {
    let Some((header, rest)) = buf.split_first_chunk::<HEADER>() else {
        return Decoded::Short;
    };
    let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
    let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    if !(MIN_PAYLOAD..=MAX_PAYLOAD).contains(&len) {
        return Decoded::Bad;
    }
    let Some(payload) = rest.get(..len) else {
        return Decoded::Short;
    };
    if crc32fast::hash(payload) != crc {
        return Decoded::Bad;
    }
    match payload_event(payload) {
        Some(e) => Decoded::Event(e, HEADER + len),
        None => Decoded::Bad,
    }
}

fn payload_event(payload: &[u8]) -> Option<NewEvent> {
    let mut r = Reader(payload);
    let [version, kind, agent, present] = r.take::<4>()?;
    if version != VERSION || present & !(HAS_LINK | HAS_RECIPIENT | HAS_ORIGIN) != 0 {
        return None;
    }
    let flags = u32::from_le_bytes(r.take::<4>()?);
    let at_ms = i64::from_le_bytes(r.take::<8>()?);
    let link = if present & HAS_LINK != 0 {
        Some(u32::from_le_bytes(r.take::<4>()?))
    } else {
        None
    };
    let recipient = if present & HAS_RECIPIENT != 0 {
        Some(u64::from_le_bytes(r.take::<8>()?))
    } else {
        None
    };
    let origin = if present & HAS_ORIGIN != 0 {
        Some(u64::from_le_bytes(r.take::<8>()?))
    } else {
        None
    };
    let [job_len] = r.take::<1>()?;
    if r.0.len() != usize::from(job_len) {
        return None;
    }
    let job = std::str::from_utf8(r.0).ok()?.to_string();
    let at: DateTime<Utc> = Utc.timestamp_millis_opt(at_ms).single()?;
    Some(NewEvent {
        job,
        kind: kind_of(kind)?,
        link,
        recipient,
        at,
        agent: agent_of(agent)?,
        flags,
        origin,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn kinds() -> impl Strategy<Value = EventKind> {
        prop_oneof![
            Just(EventKind::Open),
            Just(EventKind::Click),
            Just(EventKind::Unsubscribe)
        ]
    }

    fn agents() -> impl Strategy<Value = AgentClass> {
        (0u8..6).prop_map(|c| agent_of(c).unwrap())
    }

    fn events() -> impl Strategy<Value = NewEvent> {
        (
            "[A-Za-z0-9_-]{1,64}",
            kinds(),
            proptest::option::of(any::<u32>()),
            proptest::option::of(any::<u64>()),
            -8_000_000_000_000i64..8_000_000_000_000,
            agents(),
            any::<u32>(),
            proptest::option::of(any::<u64>()),
        )
            .prop_map(
                |(job, kind, link, recipient, at_ms, agent, flags, origin)| NewEvent {
                    job,
                    kind,
                    link,
                    recipient,
                    at: Utc.timestamp_millis_opt(at_ms).unwrap(),
                    agent,
                    flags,
                    origin,
                },
            )
    }

    proptest! {
        #[test]
        fn records_round_trip(list in proptest::collection::vec(events(), 1..20)) {
            let mut buf = Vec::new();
            for e in &list {
                encode(e, &mut buf);
            }
            let mut at = 0;
            for e in &list {
                match decode(&buf[at..]) {
                    Decoded::Event(back, len) => {
                        prop_assert_eq!(&back, e);
                        at += len;
                    }
                    other => prop_assert!(false, "{other:?}"),
                }
            }
            prop_assert_eq!(at, buf.len());
        }

        #[test]
        fn a_cut_record_is_short_and_a_changed_one_is_bad(e in events(), cut in 0usize..100, flip in 0usize..400, bit in 0u8..8) {
            let mut buf = Vec::new();
            encode(&e, &mut buf);
            let cut = cut % buf.len();
            prop_assert_eq!(decode(&buf[..cut]), Decoded::Short);
            let flip = flip % buf.len();
            buf[flip] ^= 1 << bit;
            prop_assert!(!matches!(decode(&buf), Decoded::Event(ref back, _) if back == &e));
        }

        #[test]
        fn any_bytes_decode_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = decode(&bytes);
        }
    }
}
