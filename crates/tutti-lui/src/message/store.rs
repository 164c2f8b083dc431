//! Messages and their files in the system database.

use serde::{Deserialize, Serialize};
use sqlx::Row;
use utoipa::ToSchema;

use crate::database::{Database, now_ms};

/// A job's message as its author writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MessageDraft {
    #[serde(default)]
    pub subject: String,
    #[serde(default)]
    pub from_name: String,
    #[serde(default)]
    pub from_address: String,
    #[serde(default)]
    pub reply_to: String,
    #[serde(default)]
    pub html: Option<String>,
    #[serde(default)]
    pub text: Option<String>,
    /// A MIME charset name; UTF-8 when empty.
    #[serde(default)]
    pub charset: String,
    /// Whether `{{name}}` drop-ins are replaced (when off, they stay as written).
    #[serde(default = "yes")]
    pub dropins_enabled: bool,
}

fn yes() -> bool {
    true
}

impl Default for MessageDraft {
    fn default() -> MessageDraft {
        MessageDraft {
            subject: String::new(),
            from_name: String::new(),
            from_address: String::new(),
            reply_to: String::new(),
            html: None,
            text: None,
            charset: String::new(),
            dropins_enabled: true,
        }
    }
}

/// A file of the message, without its content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AttachmentInfo {
    pub name: String,
    pub content_type: String,
    /// Set for an inline image the HTML shows as `cid:…`.
    pub content_id: Option<String>,
    pub size: i64,
}

/// A file with its content.
pub struct AttachmentData {
    pub info: AttachmentInfo,
    pub data: Vec<u8>,
}

#[derive(Clone)]
pub struct Messages {
    db: Database,
}

/// Voids the test send and the authorization of a job: its content changed.
pub async fn void_approvals(conn: &mut sqlx::AnyConnection, job: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE jobs SET tested_ms = 0, authorized_ms = 0, tested_digest = '', updated_ms = $2 WHERE id = $1")
        .bind(job)
        .bind(now_ms())
        .execute(conn)
        .await?;
    Ok(())
}

impl Messages {
    pub fn new(db: Database) -> Messages {
        Messages { db }
    }

    pub async fn get(&self, job: &str) -> sqlx::Result<Option<MessageDraft>> {
        let row = sqlx::query(
            "SELECT subject, from_name, from_address, reply_to, html, text, charset, dropins_enabled FROM job_messages WHERE job_id = $1",
        )
        .bind(job)
        .fetch_optional(&self.db.pool)
        .await?;
        row.map(|r| {
            Ok(MessageDraft {
                subject: r.try_get(0)?,
                from_name: r.try_get(1)?,
                from_address: r.try_get(2)?,
                reply_to: r.try_get(3)?,
                html: r.try_get(4)?,
                text: r.try_get(5)?,
                charset: r.try_get(6)?,
                dropins_enabled: r.try_get::<i64, _>(7)? != 0,
            })
        })
        .transpose()
    }

    /// Saves the message; the job's test send and authorization are void.
    pub async fn save(&self, job: &str, m: &MessageDraft) -> sqlx::Result<()> {
        let mut tx = self.db.pool.begin().await?;
        sqlx::query(
            "INSERT INTO job_messages (job_id, subject, from_name, from_address, reply_to, html, text, charset, updated_ms, dropins_enabled) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (job_id) DO UPDATE SET \
             subject = $2, from_name = $3, from_address = $4, reply_to = $5, html = $6, text = $7, charset = $8, updated_ms = $9, dropins_enabled = $10",
        )
        .bind(job)
        .bind(&m.subject)
        .bind(&m.from_name)
        .bind(&m.from_address)
        .bind(&m.reply_to)
        .bind(m.html.as_deref())
        .bind(m.text.as_deref())
        .bind(&m.charset)
        .bind(now_ms())
        .bind(i64::from(m.dropins_enabled))
        .execute(&mut *tx)
        .await?;
        void_approvals(&mut tx, job).await?;
        tx.commit().await
    }

    pub async fn attachments(&self, job: &str) -> sqlx::Result<Vec<AttachmentInfo>> {
        let rows = sqlx::query(
            "SELECT name, content_type, content_id, CAST(length(data) AS BIGINT) FROM job_attachments WHERE job_id = $1 ORDER BY name",
        )
        .bind(job)
        .fetch_all(&self.db.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AttachmentInfo {
                    name: r.try_get(0)?,
                    content_type: r.try_get(1)?,
                    content_id: r.try_get(2)?,
                    size: r.try_get(3)?,
                })
            })
            .collect()
    }

    /// Every file with its content, for the Mailer.
    pub async fn attachment_data(&self, job: &str) -> sqlx::Result<Vec<AttachmentData>> {
        let rows = sqlx::query(
            "SELECT name, content_type, content_id, data FROM job_attachments WHERE job_id = $1 ORDER BY name",
        )
        .bind(job)
        .fetch_all(&self.db.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let data: Vec<u8> = r.try_get(3)?;
                Ok(AttachmentData {
                    info: AttachmentInfo {
                        name: r.try_get(0)?,
                        content_type: r.try_get(1)?,
                        content_id: r.try_get(2)?,
                        size: i64::try_from(data.len()).unwrap_or(i64::MAX),
                    },
                    data,
                })
            })
            .collect()
    }

    /// Adds or replaces a file; the job's test send and authorization are void.
    pub async fn put_attachment(
        &self,
        job: &str,
        info: &AttachmentInfo,
        data: &[u8],
    ) -> sqlx::Result<()> {
        let mut tx = self.db.pool.begin().await?;
        sqlx::query(
            "INSERT INTO job_attachments (job_id, name, content_type, content_id, data) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (job_id, name) DO UPDATE SET content_type = $3, content_id = $4, data = $5",
        )
        .bind(job)
        .bind(&info.name)
        .bind(&info.content_type)
        .bind(info.content_id.as_deref())
        .bind(data)
        .execute(&mut *tx)
        .await?;
        void_approvals(&mut tx, job).await?;
        tx.commit().await
    }

    pub async fn delete_attachment(&self, job: &str, name: &str) -> sqlx::Result<bool> {
        let mut tx = self.db.pool.begin().await?;
        let done = sqlx::query("DELETE FROM job_attachments WHERE job_id = $1 AND name = $2")
            .bind(job)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        void_approvals(&mut tx, job).await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }
}
