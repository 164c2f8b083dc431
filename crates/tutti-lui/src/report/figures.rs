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
    /// Unique openers of delivered; `None` when unknown.
    pub open_rate: Option<f64>,
    pub click_rate: Option<f64>,
    /// Unique clickers of unique openers.
    pub click_to_open: Option<f64>,
    pub links: Vec<LinkClicks>,
    pub hours: Vec<Hour>,
}

fn ratio(part: Option<i64>, whole: i64) -> Option<f64> {
    match part {
        Some(p) if whole > 0 => Some(p as f64 / whole as f64),
        _ => None,
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
    Ok(Report {
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
