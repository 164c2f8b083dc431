//! Imported events, the cursors of their sources, and who each sent message went to.

use serde::Serialize;
use sqlx::Row;
use tutti_core::api::{EventKind, EventPage};
use tutti_core::distribute::{DeliveryKind, DeliveryPage};

use super::suppressions::suppress;
use crate::database::Database;

#[derive(Clone)]
pub struct Events {
    db: Database,
}

/// A value's name as its JSON spells it (snake case).
fn wire_name<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Counts a new tracking event into the report's figures.
async fn count_tracking(
    conn: &mut sqlx::AnyConnection,
    job: &str,
    kind: &str,
    link: Option<i64>,
    recipient: Option<i64>,
    at_ms: i64,
    person: bool,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO report_counts (job_id, kind, link, hour, machine, n) VALUES ($1, $2, $3, $4, $5, 1) \
         ON CONFLICT (job_id, kind, link, hour, machine) DO UPDATE SET n = report_counts.n + 1",
    )
    .bind(job)
    .bind(kind)
    .bind(link.unwrap_or(-1))
    .bind(at_ms / 3_600_000)
    .bind(i64::from(!person))
    .execute(&mut *conn)
    .await?;
    let Some(recipient) = recipient else {
        return Ok(());
    };
    let mut reactions = vec![(kind, -1)];
    if kind == "open" || kind == "click" {
        reactions.push(("read", -1));
    }
    if let (Some(link), "click") = (link, kind) {
        reactions.push(("link", link));
    }
    for (reaction, link) in reactions {
        react(conn, job, reaction, link, recipient, person).await?;
    }
    Ok(())
}

/// Notes that `recipient` showed `reaction` (a person did, when `person`), and counts the
/// recipient once among those who showed it (and among the people who did).
async fn react(
    conn: &mut sqlx::AnyConnection,
    job: &str,
    reaction: &str,
    link: i64,
    recipient: i64,
    person: bool,
) -> sqlx::Result<()> {
    let first = sqlx::query(
        "INSERT INTO report_reactors (job_id, kind, link, recipient, people) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT DO NOTHING",
    )
    .bind(job)
    .bind(reaction)
    .bind(link)
    .bind(recipient)
    .bind(i64::from(person))
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1;
    if first {
        count_unique(conn, job, reaction, link, false).await?;
    }
    let first_as_person = if !person {
        false
    } else if first {
        true
    } else {
        // A person now showed what only a machine had shown for this recipient.
        sqlx::query(
            "UPDATE report_reactors SET people = 1 WHERE job_id = $1 AND kind = $2 AND link = $3 AND recipient = $4 AND people = 0",
        )
        .bind(job)
        .bind(reaction)
        .bind(link)
        .bind(recipient)
        .execute(&mut *conn)
        .await?
        .rows_affected()
            == 1
    };
    if first_as_person {
        count_unique(conn, job, reaction, link, true).await?;
    }
    Ok(())
}

async fn count_unique(
    conn: &mut sqlx::AnyConnection,
    job: &str,
    reaction: &str,
    link: i64,
    people: bool,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO report_uniques (job_id, kind, link, people, n) VALUES ($1, $2, $3, $4, 1) \
         ON CONFLICT (job_id, kind, link, people) DO UPDATE SET n = report_uniques.n + 1",
    )
    .bind(job)
    .bind(reaction)
    .bind(link)
    .bind(i64::from(people))
    .execute(conn)
    .await?;
    Ok(())
}

async fn set_cursor(conn: &mut sqlx::AnyConnection, source: &str, cursor: i64) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO event_cursors (source, cursor) VALUES ($1, $2) ON CONFLICT (source) DO UPDATE SET cursor = $2",
    )
    .bind(source)
    .bind(cursor)
    .execute(conn)
    .await?;
    Ok(())
}

impl Events {
    pub fn new(db: Database) -> Events {
        Events { db }
    }

    /// Where reading `source` goes on (0 at first).
    pub async fn cursor(&self, source: &str) -> sqlx::Result<i64> {
        Ok(
            sqlx::query("SELECT cursor FROM event_cursors WHERE source = $1")
                .bind(source)
                .fetch_optional(&self.db.pool)
                .await?
                .map(|r| r.try_get(0))
                .transpose()?
                .unwrap_or(0),
        )
    }

    /// Stores a page of Tracker events and the cursor after it, in one transaction: a
    /// page is imported whole or not at all, and never twice.
    pub async fn store_tracking(&self, source: &str, page: &EventPage) -> sqlx::Result<()> {
        let mut tx = self.db.pool.begin().await?;
        for e in &page.events {
            let at = e.at.timestamp_millis();
            let kind = wire_name(&e.kind);
            let link = e.link.map(i64::from);
            let recipient = e.recipient.and_then(|r| i64::try_from(r).ok());
            let new = sqlx::query(
                "INSERT INTO tracking_events (source, seq, job_id, kind, link, recipient, at_ms, agent, machine) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
            )
            .bind(source)
            .bind(e.seq)
            .bind(&e.job)
            .bind(&kind)
            .bind(link)
            .bind(recipient)
            .bind(at)
            .bind(wire_name(&e.agent))
            .bind(e.machine.join(","))
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            // An event seen before (a page read again) is counted once.
            if new {
                let person = e.machine.is_empty();
                count_tracking(&mut tx, &e.job, &kind, link, recipient, at, person).await?;
            }
            if let (EventKind::Unsubscribe, Some(r)) = (e.kind, e.recipient) {
                let number = i64::try_from(r).unwrap_or(-1);
                // An unsubscribe holds for the job's group only.
                suppress(&mut tx, &e.job, number, "unsubscribed", at, false).await?;
            }
        }
        set_cursor(&mut tx, source, page.next).await?;
        tx.commit().await
    }

    /// Stores a page of a Mailer's delivery events and the cursor after it, likewise.
    pub async fn store_delivery(&self, source: &str, page: &DeliveryPage) -> sqlx::Result<()> {
        let mut tx = self.db.pool.begin().await?;
        for e in &page.events {
            let at = e.at.timestamp_millis();
            let number = i64::try_from(e.recipient).unwrap_or(-1);
            let kind = wire_name(&e.kind);
            sqlx::query(
                "INSERT INTO delivery_events (source, seq, job_id, recipient, kind, reply, at_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
            )
            .bind(source)
            .bind(e.seq)
            .bind(&e.job)
            .bind(number)
            .bind(&kind)
            .bind(&e.reply)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            react(
                &mut tx,
                &e.job,
                &format!("delivery:{kind}"),
                -1,
                number,
                true,
            )
            .await?;
            let reason = match e.kind {
                DeliveryKind::HardBounce => Some("hard_bounce"),
                DeliveryKind::Complaint => Some("complaint"),
                _ => None,
            };
            // An address that does not exist, or a person who reported spam, is left out by
            // every group: the installation's list, and the job's group's, which shows it.
            if let Some(reason) = reason {
                suppress(&mut tx, &e.job, number, reason, at, true).await?;
            }
        }
        set_cursor(&mut tx, source, page.next).await?;
        tx.commit().await
    }

    /// Remembers who recipient numbers `first..` of a job are (the rows as handed to the
    /// Mailer), so its events can be traced back to addresses.
    pub async fn record_sent(
        &self,
        job: &str,
        list: i64,
        first: i64,
        rows: &[(i64, String)],
    ) -> sqlx::Result<()> {
        let mut tx = self.db.pool.begin().await?;
        for (chunk_start, chunk) in rows.chunks(50).enumerate() {
            let values: Vec<String> = (0..chunk.len())
                .map(|i| format!("($1, ${}, $2, ${}, ${})", 3 * i + 3, 3 * i + 4, 3 * i + 5))
                .collect();
            let sql = format!(
                "INSERT INTO sent_recipients (job_id, number, list_id, seq, addr_key) VALUES {} \
                 ON CONFLICT (job_id, number) DO UPDATE SET list_id = excluded.list_id, seq = excluded.seq, addr_key = excluded.addr_key",
                values.join(", ")
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(job).bind(list);
            for (i, (seq, key)) in chunk.iter().enumerate() {
                let number = first + i64::try_from(chunk_start * 50 + i).unwrap_or(0);
                q = q.bind(number).bind(*seq).bind(key.clone());
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await
    }

    /// A job's tracking events by kind, and its recipients by delivery result, from the
    /// figures kept as events arrive.
    pub async fn counts(&self, job: &str) -> sqlx::Result<Vec<(String, i64)>> {
        let rows = sqlx::query(
            "SELECT kind, CAST(sum(n) AS BIGINT) FROM report_counts WHERE job_id = $1 GROUP BY kind \
             UNION ALL SELECT substr(kind, 10), n FROM report_uniques \
             WHERE job_id = $1 AND kind LIKE 'delivery:%' AND people = 0",
        )
        .bind(job)
        .fetch_all(&self.db.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::Utc;
    use tutti_core::distribute::DeliveryEvent;

    use super::super::suppressions::{Filter, Scope, Suppressions};
    use super::*;
    use crate::database::testing;

    fn delivery(seq: i64, recipient: u64, kind: DeliveryKind) -> DeliveryEvent {
        DeliveryEvent {
            seq,
            job: "J1".into(),
            recipient,
            kind,
            reply: "550 5.1.1 gone".into(),
            at: Utc::now(),
        }
    }

    #[tokio::test]
    async fn pages_are_stored_once_with_their_cursor_and_bounces_suppress() {
        for t in testing::both().await {
            let events = Events::new(t.db.clone());
            Suppressions::new(t.db.clone())
                .set_job_scope("J1", Scope::Group(4))
                .await
                .unwrap();
            events
                .record_sent(
                    "J1",
                    7,
                    0,
                    &[(2, "a@example.org".into()), (5, "B@example.org".into())],
                )
                .await
                .unwrap();
            let page = DeliveryPage {
                events: vec![
                    delivery(1, 0, DeliveryKind::Sent),
                    delivery(2, 1, DeliveryKind::Sent),
                    delivery(3, 1, DeliveryKind::HardBounce),
                ],
                next: 3,
            };
            assert_eq!(events.cursor("mailer:m").await.unwrap(), 0);
            events.store_delivery("mailer:m", &page).await.unwrap();
            // The same page again (a retry after a lost answer) changes nothing.
            events.store_delivery("mailer:m", &page).await.unwrap();
            assert_eq!(events.cursor("mailer:m").await.unwrap(), 3);
            let mut counts = events.counts("J1").await.unwrap();
            counts.sort();
            assert_eq!(counts, vec![("hard_bounce".into(), 1), ("sent".into(), 2)]);
            // A hard bounce goes to the installation's list and to the job's group's.
            let lists = Suppressions::new(t.db.clone());
            let everything = Filter {
                limit: 10,
                ..Filter::default()
            };
            for scope in [Scope::Installation, Scope::Group(4)] {
                let (list, total) = lists.list(scope, &everything).await.unwrap();
                assert_eq!(total, 1, "{scope:?}");
                assert_eq!(
                    (
                        list[0].address.as_str(),
                        list[0].reason.as_str(),
                        list[0].job.as_str()
                    ),
                    ("b@example.org", "hard_bounce", "J1"),
                    "listed by its key, which folds the case"
                );
            }
            assert_eq!(lists.list(Scope::Group(5), &everything).await.unwrap().1, 0);
        }
    }

    fn unsubscribe(seq: i64, job: &str, recipient: u64) -> tutti_core::api::TrackingEvent {
        serde_json::from_value(serde_json::json!({
            "seq": seq, "job": job, "kind": "unsubscribe", "link": null, "recipient": recipient,
            "at": Utc::now(), "agent": "browser", "machine": [],
        }))
        .unwrap()
    }

    #[tokio::test]
    async fn an_unsubscribe_suppresses_in_the_jobs_group_only() {
        for t in testing::both().await {
            let events = Events::new(t.db.clone());
            let lists = Suppressions::new(t.db.clone());
            lists.set_job_scope("JA", Scope::Group(1)).await.unwrap();
            events
                .record_sent("JA", 1, 0, &[(0, "x@example.org".into())])
                .await
                .unwrap();
            // A job sent before scopes existed: its unsubscribes go to the installation's list.
            events
                .record_sent("OLD", 2, 0, &[(0, "y@example.org".into())])
                .await
                .unwrap();
            let page = EventPage {
                events: vec![unsubscribe(1, "JA", 0), unsubscribe(2, "OLD", 0)],
                next: 2,
            };
            events.store_tracking("trk", &page).await.unwrap();
            let everything = Filter {
                limit: 10,
                ..Filter::default()
            };
            let addresses = |(list, _): (Vec<super::super::suppressions::Suppression>, i64)| {
                list.into_iter().map(|s| s.address).collect::<Vec<_>>()
            };
            assert_eq!(
                addresses(lists.list(Scope::Group(1), &everything).await.unwrap()),
                ["x@example.org"]
            );
            assert_eq!(
                addresses(lists.list(Scope::Installation, &everything).await.unwrap()),
                ["y@example.org"]
            );
            assert!(addresses(lists.list(Scope::Group(2), &everything).await.unwrap()).is_empty());
        }
    }
}
