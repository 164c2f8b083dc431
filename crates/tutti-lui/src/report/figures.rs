//! A job's figures, counted from the imported events.

use serde::Serialize;
use sqlx::Row;
use tutti_core::api::TrackingType;
use utoipa::ToSchema;

use crate::database::Database;

/// A count of events and of the recipients behind them; `unique` is `None` where the
/// tracking type does not tie events to recipients (anonymous, blind).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct Count {
    pub total: i64,
    pub unique: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct LinkClicks {
    /// The link's place in the message, from 0.
    pub link: i64,
    pub url: String,
    pub clicks: Count,
}

/// Opens and clicks of one hour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Hour {
    /// The hour's start, milliseconds since 1970 (UTC): pages show it in the reader's zone.
    pub start_ms: i64,
    pub opens: i64,
    pub clicks: i64,
}

/// A recipient the message did not reach, with the server's reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Bounce {
    pub recipient: i64,
    pub address: String,
    /// `hard_bounce`, `soft_bounce` or `failed`.
    pub kind: String,
    pub reply: String,
}

/// How many bounces a report lists (the download has them all).
const BOUNCES_SHOWN: i64 = 100;

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Report {
    pub job: String,
    /// `personal`, `anonymous`, `unique` or `blind`.
    pub tracking: String,
    /// Only events of people (no scanners, prefetchers, proxies, too-fast clicks).
    pub people_only: bool,
    /// Recipients handed to the Mailer.
    pub recipients: i64,
    /// Taken by the relay.
    pub sent: i64,
    /// Sent and not bounced.
    pub delivered: i64,
    /// Waiting for another try now or at some point.
    pub deferred: i64,
    pub failed: i64,
    pub hard_bounces: i64,
    pub soft_bounces: i64,
    pub complaints: i64,
    /// Opened (a click counts as an open for the unique figure: the message was read).
    pub opens: Count,
    pub clicks: Count,
    pub unsubscribes: Count,
    /// Unique openers of delivered (0 while nothing is delivered); `None` when the
    /// tracking type does not know recipients.
    pub open_rate: Option<f64>,
    pub click_rate: Option<f64>,
    /// Unique clickers of unique openers.
    pub click_to_open: Option<f64>,
    pub links: Vec<LinkClicks>,
    pub hours: Vec<Hour>,
    /// The first bounces and failures with the servers' replies (all are in bounced.csv).
    pub bounces: Vec<Bounce>,
}

/// `part` of `whole`; 0 of nothing is 0 (no opens: no clicks after one), and only an
/// unknown `part` (a tracking type that does not know recipients) is unknown.
fn ratio(part: Option<i64>, whole: i64) -> Option<f64> {
    match part {
        Some(p) if whole > 0 => Some(p as f64 / whole as f64),
        Some(_) => Some(0.0),
        None => None,
    }
}

/// Counts a job's report. `links` are the message's link targets in order.
pub async fn report(
    db: &Database,
    job: &str,
    tracking: TrackingType,
    people_only: bool,
    links: &[String],
) -> sqlx::Result<Report> {
    let pool = &db.pool;
    let recipients: i64 = sqlx::query("SELECT count(*) FROM sent_recipients WHERE job_id = $1")
        .bind(job)
        .fetch_one(pool)
        .await?
        .try_get(0)?;
    // Recipients by reaction (and delivery result), counted over short index ranges.
    // Delivery results are counted over all recipients; reactions of people or of all.
    let reactor_rows = sqlx::query(
        "SELECT kind, link, n FROM report_uniques WHERE job_id = $1 \
         AND people = CASE WHEN kind LIKE 'delivery:%' THEN 0 ELSE $2 END",
    )
    .bind(job)
    .bind(i64::from(people_only))
    .fetch_all(pool)
    .await?;
    let mut reactors = std::collections::HashMap::new();
    for r in &reactor_rows {
        reactors.insert(
            (r.try_get::<String, _>(0)?, r.try_get::<i64, _>(1)?),
            r.try_get::<i64, _>(2)?,
        );
    }
    let who = |kind: &str| reactors.get(&(kind.to_string(), -1)).copied().unwrap_or(0);
    // Events by kind, link and hour.
    let machine = if people_only { " AND machine = 0" } else { "" };
    let count_rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT kind, link, hour, CAST(sum(n) AS BIGINT) FROM report_counts \
         WHERE job_id = $1{machine} GROUP BY kind, link, hour"
    )))
    .bind(job)
    .fetch_all(pool)
    .await?;
    let mut totals = std::collections::HashMap::<String, i64>::new();
    let mut link_totals = std::collections::HashMap::<i64, i64>::new();
    let mut by_hour = std::collections::BTreeMap::<i64, (i64, i64)>::new();
    for r in &count_rows {
        let kind: String = r.try_get(0)?;
        let link: i64 = r.try_get(1)?;
        let hour: i64 = r.try_get(2)?;
        let n: i64 = r.try_get(3)?;
        *totals.entry(kind.clone()).or_default() += n;
        if kind == "click" && link >= 0 {
            *link_totals.entry(link).or_default() += n;
        }
        let slot = by_hour.entry(hour).or_default();
        match kind.as_str() {
            "open" => slot.0 += n,
            "click" => slot.1 += n,
            _ => {}
        }
    }
    let total = |kind: &str| totals.get(kind).copied().unwrap_or(0);
    let known = matches!(tracking, TrackingType::Personal | TrackingType::Unique);
    let unique = |n: i64| known.then_some(n);
    let (openers, clickers) = (who("read"), who("click"));
    let d = |kind: &str| who(&format!("delivery:{kind}"));
    let hard = d("hard_bounce");
    let sent = d("sent");
    let delivered = (sent - hard).max(0);
    let links = links
        .iter()
        .enumerate()
        .map(|(i, url)| {
            let link = i64::try_from(i).unwrap_or(i64::MAX);
            LinkClicks {
                link,
                url: url.clone(),
                clicks: Count {
                    total: link_totals.get(&link).copied().unwrap_or(0),
                    unique: unique(
                        reactors
                            .get(&("link".to_string(), link))
                            .copied()
                            .unwrap_or(0),
                    ),
                },
            }
        })
        .collect();
    let hours: Vec<Hour> = by_hour
        .into_iter()
        .filter(|(_, (opens, clicks))| opens + clicks > 0)
        .map(|(hour, (opens, clicks))| Hour {
            start_ms: hour * 3_600_000,
            opens,
            clicks,
        })
        .collect();
    let (open_total, click_total, unsubscribe_total) =
        (total("open"), total("click"), total("unsubscribe"));
    let unsubscribers = who("unsubscribe");
    let bounce_rows = sqlx::query(
        "SELECT d.recipient, s.addr_key, d.kind, d.reply FROM delivery_events d \
         LEFT JOIN sent_recipients s ON s.job_id = d.job_id AND s.number = d.recipient \
         WHERE d.job_id = $1 AND d.kind IN ('hard_bounce', 'soft_bounce', 'failed') \
         ORDER BY d.at_ms, d.seq LIMIT $2",
    )
    .bind(job)
    .bind(BOUNCES_SHOWN)
    .fetch_all(pool)
    .await?;
    let bounces = bounce_rows
        .iter()
        .map(|r| {
            Ok(Bounce {
                recipient: r.try_get(0)?,
                address: r.try_get::<Option<String>, _>(1)?.unwrap_or_default(),
                kind: r.try_get(2)?,
                reply: r.try_get(3)?,
            })
        })
        .collect::<sqlx::Result<Vec<_>>>()?;
    Ok(Report {
        bounces,
        job: job.to_string(),
        tracking: crate::send::store::kind_key(tracking).to_string(),
        people_only,
        recipients,
        sent,
        delivered,
        deferred: d("deferred"),
        failed: d("failed"),
        hard_bounces: hard,
        soft_bounces: d("soft_bounce"),
        complaints: d("complaint"),
        opens: Count {
            total: open_total,
            unique: unique(openers),
        },
        clicks: Count {
            total: click_total,
            unique: unique(clickers),
        },
        unsubscribes: Count {
            total: unsubscribe_total,
            unique: unique(unsubscribers),
        },
        open_rate: ratio(unique(openers), delivered),
        click_rate: ratio(unique(clickers), delivered),
        click_to_open: ratio(unique(clickers), openers).filter(|_| known),
        links,
        hours,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::{HashMap, HashSet};

    use chrono::{TimeZone, Utc};
    use proptest::prelude::*;
    use tutti_core::api::{AgentClass, EventKind, EventPage, TrackingEvent};
    use tutti_core::distribute::{DeliveryEvent, DeliveryKind, DeliveryPage};

    use super::*;
    use crate::database::testing;
    use crate::events::store::Events;

    #[test]
    fn a_rate_of_nothing_is_zero_and_only_an_unknown_count_is_unknown() {
        assert_eq!(ratio(Some(1), 4), Some(0.25));
        assert_eq!(
            ratio(Some(0), 0),
            Some(0.0),
            "no opens: a click-to-open of 0"
        );
        assert_eq!(ratio(None, 4), None);
    }

    /// (kind 0 open / 1 click / 2 unsubscribe, link, recipient, hour, machine)
    type Raw = (u8, u32, u64, i64, bool);

    fn event(seq: i64, (kind, link, recipient, hour, machine): Raw) -> TrackingEvent {
        let kind = [EventKind::Open, EventKind::Click, EventKind::Unsubscribe][usize::from(kind)];
        TrackingEvent {
            seq,
            job: "J".into(),
            kind,
            link: (kind == EventKind::Click).then_some(link),
            recipient: Some(recipient),
            at: Utc.timestamp_millis_opt(hour * 3_600_000 + 1000).unwrap(),
            agent: AgentClass::Browser,
            machine: if machine {
                vec!["proxy".into()]
            } else {
                vec![]
            },
        }
    }

    /// The report's figures counted straight from the raw events, independently.
    fn expected(raw: &[Raw], people_only: bool) -> (i64, i64, i64, i64, i64, Vec<(i64, i64)>) {
        let seen: Vec<&Raw> = raw.iter().filter(|e| !(people_only && e.4)).collect();
        let count = |k: u8| seen.iter().filter(|e| e.0 == k).count() as i64;
        let unique = |f: &dyn Fn(&&&Raw) -> bool| {
            seen.iter()
                .filter(f)
                .map(|e| e.2)
                .collect::<HashSet<_>>()
                .len() as i64
        };
        let openers = unique(&|e| e.0 <= 1);
        let clickers = unique(&|e| e.0 == 1);
        let mut links: HashMap<u32, (i64, HashSet<u64>)> = HashMap::new();
        for e in seen.iter().filter(|e| e.0 == 1) {
            let l = links.entry(e.1).or_default();
            l.0 += 1;
            l.1.insert(e.2);
        }
        let links = (0..3)
            .map(|l| links.get(&l).map_or((0, 0), |(t, u)| (*t, u.len() as i64)))
            .collect();
        (count(0), count(1), count(2), openers, clickers, links)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(8))]
        #[test]
        fn figures_equal_counts_of_the_raw_events(
            raw in proptest::collection::vec((0u8..3, 0u32..3, 0u64..20, 0i64..4, any::<bool>()), 0..80),
            replay in 0usize..80,
        ) {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                for t in testing::both().await {
                    let events = Events::new(t.db.clone());
                    let all: Vec<TrackingEvent> =
                        raw.iter().enumerate().map(|(i, r)| event(i as i64 + 1, *r)).collect();
                    // Pages as the Tracker hands them out, one of them read twice.
                    let cut = replay.min(all.len());
                    let first = EventPage { events: all[..cut].to_vec(), next: cut as i64 };
                    let second = EventPage { events: all.clone(), next: all.len() as i64 };
                    events.store_tracking("trk", &first).await.unwrap();
                    events.store_tracking("trk", &second).await.unwrap();
                    let sent = DeliveryPage {
                        events: (0..20)
                            .map(|r| DeliveryEvent {
                                seq: r + 1,
                                job: "J".into(),
                                recipient: r as u64,
                                kind: if r == 3 { DeliveryKind::HardBounce } else { DeliveryKind::Sent },
                                reply: String::new(),
                                at: Utc::now(),
                            })
                            .collect(),
                        next: 20,
                    };
                    events.store_delivery("m", &sent).await.unwrap();
                    let links = ["a".to_string(), "b".into(), "c".into()];
                    for people_only in [false, true] {
                        let r = report(&t.db, "J", TrackingType::Personal, people_only, &links).await.unwrap();
                        let (opens, clicks, unsubscribes, openers, clickers, per_link) =
                            expected(&raw, people_only);
                        assert_eq!((r.opens.total, r.clicks.total, r.unsubscribes.total), (opens, clicks, unsubscribes));
                        assert_eq!((r.opens.unique, r.clicks.unique), (Some(openers), Some(clickers)));
                        let got: Vec<(i64, i64)> = r.links.iter().map(|l| (l.clicks.total, l.clicks.unique.unwrap())).collect();
                        assert_eq!(got, per_link);
                        assert_eq!((r.sent, r.hard_bounces, r.delivered), (19, 1, 18));
                        assert_eq!(r.bounces.len(), 1);
                        assert_eq!((r.bounces[0].recipient, r.bounces[0].kind.as_str()), (3, "hard_bounce"));
                        let hourly: i64 = r.hours.iter().map(|h| h.opens + h.clicks).sum();
                        assert_eq!(hourly, opens + clicks);
                    }
                    let blind = report(&t.db, "J", TrackingType::Blind, false, &links).await.unwrap();
                    assert_eq!(blind.opens.unique, None, "blind tracking cannot know who");
                    assert_eq!(blind.open_rate, None);
                }
            });
        }
    }
}
