//! The event log of earlier versions, `trk/data/events.sqlite`: its events that the User
//! Interface has not fetched start the new log, after every cursor the old one gave out,
//! so the import goes on exactly once across the upgrade.

use std::path::Path;

use chrono::{TimeZone, Utc};
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use tutti_core::api::{AgentClass, EventKind};

use super::NewEvent;

/// The old log's events after its fetched mark, and the first position the new log may
/// use (past the old log's highest cursor).
pub fn read_old(path: &Path) -> anyhow::Result<(u64, Vec<NewEvent>)> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let fetched: i64 = conn
        .query_row("SELECT value FROM meta WHERE key = 'fetched'", [], |r| {
            r.get(0)
        })
        .optional()?
        .unwrap_or(0);
    let highest: i64 =
        conn.query_row("SELECT coalesce(max(seq), 0) FROM events", [], |r| r.get(0))?;
    let mut stmt = conn.prepare(
        "SELECT job, kind, link, recipient, at_ms, agent, flags FROM events WHERE seq > ?1 ORDER BY seq",
    )?;
    let rows = stmt.query_map([fetched], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, Option<u32>>(2)?,
            r.get::<_, Option<i64>>(3)?,
            r.get::<_, i64>(4)?,
            r.get::<_, String>(5)?,
            r.get::<_, u32>(6)?,
        ))
    })?;
    let mut events = Vec::new();
    for row in rows {
        let (job, kind, link, recipient, at_ms, agent, flags) = row?;
        events.push(NewEvent {
            job,
            kind: serde_json::from_value::<EventKind>(serde_json::Value::String(kind))?,
            link,
            // Recipient keys are u64; the old log stored their bits as i64.
            recipient: recipient.map(|r| r as u64),
            at: Utc.timestamp_millis_opt(at_ms).single().unwrap_or_default(),
            agent: serde_json::from_value::<AgentClass>(serde_json::Value::String(agent))
                .unwrap_or(AgentClass::Unknown),
            flags,
            origin: None,
        });
    }
    Ok((u64::try_from(highest).unwrap_or(0), events))
}
