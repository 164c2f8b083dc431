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
    let one = |sql: &'static str| sqlx::query(sql).bind(job);
    let recipients: i64 = one("SELECT count(*) FROM sent_recipients WHERE job_id = $1")
        .fetch_one(pool)
        .await?
        .try_get(0)?;
    // Delivery: recipients by their kinds of events.
    let rows = one(
        "SELECT kind, count(DISTINCT recipient) FROM delivery_events WHERE job_id = $1 GROUP BY kind",
    )
    .fetch_all(pool)
    .await?;
    let mut delivery = std::collections::HashMap::new();
    for r in &rows {
        delivery.insert(r.try_get::<String, _>(0)?, r.try_get::<i64, _>(1)?);
    }
    let d = |k: &str| delivery.get(k).copied().unwrap_or(0);
    let known = matches!(tracking, TrackingType::Personal | TrackingType::Unique);
    let people = if people_only { " AND machine = ''" } else { "" };
    let count = |kinds: &str| {
        format!(
            "SELECT count(*), count(DISTINCT recipient) FROM tracking_events WHERE job_id = $1 AND kind IN {kinds}{people}"
        )
    };
    let counted = |sql: String| async move {
        let r = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(job)
            .fetch_one(pool)
            .await?;
        Ok::<_, sqlx::Error>((r.try_get::<i64, _>(0)?, r.try_get::<i64, _>(1)?))
    };
    let (open_total, _) = counted(count("('open')")).await?;
    let (_, openers) = counted(count("('open', 'click')")).await?;
    let (click_total, clickers) = counted(count("('click')")).await?;
    let (unsubscribe_total, unsubscribers) = counted(count("('unsubscribe')")).await?;
    let unique = |n: i64| known.then_some(n);
    let hard = d("hard_bounce");
    let sent = d("sent");
    let delivered = (sent - hard).max(0);
    let link_rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT link, count(*), count(DISTINCT recipient) FROM tracking_events \
         WHERE job_id = $1 AND kind = 'click' AND link IS NOT NULL{people} GROUP BY link ORDER BY link"
    )))
    .bind(job)
    .fetch_all(pool)
    .await?;
    let mut clicks_by_link = std::collections::HashMap::new();
    for r in &link_rows {
        clicks_by_link.insert(
            r.try_get::<i64, _>(0)?,
            (r.try_get::<i64, _>(1)?, r.try_get::<i64, _>(2)?),
        );
    }
    let links = links
        .iter()
        .enumerate()
        .map(|(i, url)| {
            let link = i64::try_from(i).unwrap_or(i64::MAX);
            let (total, distinct) = clicks_by_link.get(&link).copied().unwrap_or((0, 0));
            LinkClicks {
                link,
                url: url.clone(),
                clicks: Count {
                    total,
                    unique: unique(distinct),
                },
            }
        })
        .collect();
    let hour_rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT at_ms / 3600000, kind, count(*) FROM tracking_events \
         WHERE job_id = $1 AND kind IN ('open', 'click'){people} GROUP BY at_ms / 3600000, kind ORDER BY 1"
    )))
    .bind(job)
    .fetch_all(pool)
    .await?;
    let mut hours: Vec<Hour> = Vec::new();
    for r in &hour_rows {
        let start_ms = r.try_get::<i64, _>(0)? * 3_600_000;
        let kind: String = r.try_get(1)?;
        let n: i64 = r.try_get(2)?;
        if hours.last().is_none_or(|h| h.start_ms != start_ms) {
            hours.push(Hour {
                start_ms,
                opens: 0,
                clicks: 0,
            });
        }
        if let Some(h) = hours.last_mut() {
            if kind == "open" {
                h.opens += n;
            } else {
                h.clicks += n;
            }
        }
    }
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
