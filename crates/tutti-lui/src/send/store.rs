//! A job's tracking choices and its way to sending, in the `jobs` table.

use serde::{Deserialize, Serialize};
use sqlx::Row;
use tutti_core::api::TrackingType;
use tutti_core::settings::MailerConnection;
use utoipa::ToSchema;

use crate::database::{Database, now_ms};
use crate::message::store::void_approvals;

/// How a job is tracked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TrackingChoice {
    pub kind: TrackingType,
    pub opens: bool,
    pub clicks: bool,
    /// Links (as written in the message) whose clicks are not recorded.
    #[serde(default)]
    pub untracked: Vec<String>,
}

/// Where a job is on its way to sending.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Approvals {
    /// When the last test message went out (0: never since the last change).
    pub tested_ms: i64,
    /// When it was authorized (0: not since the last change).
    pub authorized_ms: i64,
    pub authorized_by: Option<String>,
    pub tests_sent: i64,
    /// The Mailer it went to.
    pub mailer_host: Option<String>,
    /// When it is to go; -1 while held until released.
    pub send_at_ms: Option<i64>,
}

pub fn kind_key(kind: TrackingType) -> &'static str {
    match kind {
        TrackingType::Personal => "personal",
        TrackingType::Anonymous => "anonymous",
        TrackingType::Unique => "unique",
        TrackingType::Blind => "blind",
    }
}

fn kind_of(key: &str) -> TrackingType {
    match key {
        "anonymous" => TrackingType::Anonymous,
        "unique" => TrackingType::Unique,
        "blind" => TrackingType::Blind,
        _ => TrackingType::Personal,
    }
}

#[derive(Clone)]
pub struct Sending {
    db: Database,
}

impl Sending {
    pub fn new(db: Database) -> Sending {
        Sending { db }
    }

    pub async fn tracking(&self, job: &str) -> sqlx::Result<TrackingChoice> {
        let r = sqlx::query(
            "SELECT tracking_kind, track_opens, track_clicks, untracked FROM jobs WHERE id = $1",
        )
        .bind(job)
        .fetch_one(&self.db.pool)
        .await?;
        let untracked: String = r.try_get(3)?;
        Ok(TrackingChoice {
            kind: kind_of(&r.try_get::<String, _>(0)?),
            opens: r.try_get::<i64, _>(1)? != 0,
            clicks: r.try_get::<i64, _>(2)? != 0,
            untracked: serde_json::from_str(&untracked).unwrap_or_default(),
        })
    }

    /// Whether the job's tracking choices were ever saved (not only the defaults).
    pub async fn tracking_saved(&self, job: &str) -> sqlx::Result<bool> {
        let saved: i64 = sqlx::query("SELECT tracking_saved_ms FROM jobs WHERE id = $1")
            .bind(job)
            .fetch_one(&self.db.pool)
            .await?
            .try_get(0)?;
        Ok(saved > 0)
    }

    /// Saves the tracking choice; the job's test send and authorization are void.
    pub async fn set_tracking(&self, job: &str, t: &TrackingChoice) -> sqlx::Result<()> {
        let untracked =
            serde_json::to_string(&t.untracked).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
        let mut tx = self.db.pool.begin().await?;
        sqlx::query(
            "UPDATE jobs SET tracking_kind = $2, track_opens = $3, track_clicks = $4, untracked = $5, tracking_saved_ms = $6 WHERE id = $1",
        )
        .bind(job)
        .bind(kind_key(t.kind))
        .bind(i64::from(t.opens))
        .bind(i64::from(t.clicks))
        .bind(untracked)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        void_approvals(&mut tx, job).await?;
        tx.commit().await
    }

    pub async fn approvals(&self, job: &str) -> sqlx::Result<Approvals> {
        let r = sqlx::query(
            "SELECT tested_ms, authorized_ms, authorized_by, tests_sent, mailer_host, send_at_ms FROM jobs WHERE id = $1",
        )
        .bind(job)
        .fetch_one(&self.db.pool)
        .await?;
        Ok(Approvals {
            tested_ms: r.try_get(0)?,
            authorized_ms: r.try_get(1)?,
            authorized_by: r.try_get(2)?,
            tests_sent: r.try_get(3)?,
            mailer_host: r.try_get(4)?,
            send_at_ms: r.try_get(5)?,
        })
    }

    /// Counts a test send of the content with `digest`; returns its number. An
    /// authorization given before is for other content: it is voided.
    pub async fn tested(&self, job: &str, digest: &str) -> sqlx::Result<i64> {
        sqlx::query(
            "UPDATE jobs SET tested_ms = $2, tests_sent = tests_sent + 1, tested_digest = $3, \
             authorized_ms = CASE WHEN tested_digest = $3 THEN authorized_ms ELSE 0 END \
             WHERE id = $1 RETURNING tests_sent",
        )
        .bind(job)
        .bind(now_ms())
        .bind(digest)
        .fetch_one(&self.db.pool)
        .await?
        .try_get(0)
    }

    /// The number the next test send will have.
    pub async fn next_test(&self, job: &str) -> sqlx::Result<i64> {
        Ok(self.approvals(job).await?.tests_sent + 1)
    }

    /// The digest of what the last test send was made of ("" when none counts).
    pub async fn tested_digest(&self, job: &str) -> sqlx::Result<String> {
        sqlx::query("SELECT tested_digest FROM jobs WHERE id = $1")
            .bind(job)
            .fetch_one(&self.db.pool)
            .await?
            .try_get(0)
    }

    /// Voids the test and the authorization: something the job is made of changed.
    pub async fn void(&self, job: &str) -> sqlx::Result<()> {
        let mut conn = self.db.pool.acquire().await?;
        void_approvals(&mut conn, job).await
    }

    pub async fn authorize(&self, job: &str, by: &str) -> sqlx::Result<()> {
        sqlx::query("UPDATE jobs SET authorized_ms = $2, authorized_by = $3 WHERE id = $1")
            .bind(job)
            .bind(now_ms())
            .bind(by)
            .execute(&self.db.pool)
            .await?;
        Ok(())
    }

    /// The job's tracking key, made on first use.
    pub async fn tracking_key(&self, job: &str) -> anyhow::Result<String> {
        let existing: Option<String> = sqlx::query("SELECT tracking_key FROM jobs WHERE id = $1")
            .bind(job)
            .fetch_one(&self.db.pool)
            .await?
            .try_get(0)?;
        if let Some(k) = existing {
            return Ok(k);
        }
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(|e| anyhow::anyhow!("random: {e}"))?;
        let key = tutti_core::token::JobKey(key).to_base64();
        sqlx::query("UPDATE jobs SET tracking_key = $2 WHERE id = $1 AND tracking_key IS NULL")
            .bind(job)
            .bind(&key)
            .execute(&self.db.pool)
            .await?;
        Ok(sqlx::query("SELECT tracking_key FROM jobs WHERE id = $1")
            .bind(job)
            .fetch_one(&self.db.pool)
            .await?
            .try_get::<Option<String>, _>(0)?
            .unwrap_or(key))
    }

    /// Marks the job held until released.
    pub async fn hold(&self, job: &str) -> sqlx::Result<()> {
        sqlx::query("UPDATE jobs SET send_at_ms = -1 WHERE id = $1")
            .bind(job)
            .execute(&self.db.pool)
            .await?;
        Ok(())
    }

    /// The job went to `mailer` (to go at `at_ms`): it is ongoing.
    pub async fn handed_over(
        &self,
        job: &str,
        mailer: &MailerConnection,
        at_ms: i64,
        suppressed: i64,
    ) -> sqlx::Result<()> {
        sqlx::query(
            "UPDATE jobs SET state = 'ongoing', mailer_host = $2, mailer_client = $3, mailer_password = $4, \
             send_at_ms = $5, updated_ms = $6, suppressed = $7 WHERE id = $1",
        )
        .bind(job)
        .bind(&mailer.host)
        .bind(&mailer.client_address)
        .bind(&mailer.client_password)
        .bind(at_ms)
        .bind(now_ms())
        .bind(suppressed)
        .execute(&self.db.pool)
        .await?;
        Ok(())
    }

    /// Every Mailer connection jobs went through, once each: where events come from.
    pub async fn mailers(&self) -> sqlx::Result<Vec<MailerConnection>> {
        let rows = sqlx::query(
            "SELECT DISTINCT mailer_host, mailer_client, mailer_password FROM jobs WHERE mailer_host IS NOT NULL",
        )
        .fetch_all(&self.db.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(MailerConnection {
                    host: r.try_get(0)?,
                    client_address: r.try_get::<Option<String>, _>(1)?.unwrap_or_default(),
                    client_password: r.try_get::<Option<String>, _>(2)?.unwrap_or_default(),
                })
            })
            .collect()
    }

    /// The Mailer connection a sent job went through.
    pub async fn mailer_of(&self, job: &str) -> sqlx::Result<Option<MailerConnection>> {
        let r = sqlx::query(
            "SELECT mailer_host, mailer_client, mailer_password FROM jobs WHERE id = $1",
        )
        .bind(job)
        .fetch_one(&self.db.pool)
        .await?;
        let host: Option<String> = r.try_get(0)?;
        Ok(host.map(|host| MailerConnection {
            host,
            client_address: r
                .try_get::<Option<String>, _>(1)
                .ok()
                .flatten()
                .unwrap_or_default(),
            client_password: r
                .try_get::<Option<String>, _>(2)
                .ok()
                .flatten()
                .unwrap_or_default(),
        }))
    }

    pub async fn finish(&self, job: &str, completed: bool) -> sqlx::Result<()> {
        sqlx::query(
            "UPDATE jobs SET state = $2, updated_ms = $3 WHERE id = $1 AND state = 'ongoing'",
        )
        .bind(job)
        .bind(if completed { "completed" } else { "failed" })
        .bind(now_ms())
        .execute(&self.db.pool)
        .await?;
        Ok(())
    }
}
