//! Recipient lists in the system database: a list per upload (private to its job, or saved
//! under a name for reuse), its rows in file order, de-duplicated on the normalized address
//! by a UNIQUE index, and the rejected rows with line and reason.

use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;
use tutti_core::metrics::Counter;
use utoipa::ToSchema;

use crate::database::{Database, now_ms};
use crate::events::suppressions::Scope;
use crate::message::store::void_approvals;

/// A recipient list without its rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ListInfo {
    pub id: i64,
    /// Set for a saved list; `None` for a job's own upload.
    pub name: Option<String>,
    pub owner_id: i64,
    pub group_name: Option<String>,
    /// The column names: the merge fields.
    pub columns: Vec<String>,
    pub email_column: usize,
    pub name_column: Option<usize>,
    /// Where the rows came from (a file name, a query, another job's reaction).
    pub source: String,
    /// Records read from the source.
    pub read_rows: i64,
    /// Rows kept (valid and not a duplicate).
    pub accepted: i64,
    /// Rows refused, each with line and reason.
    pub rejected: i64,
    /// Valid rows left out because their address came earlier in the list.
    pub duplicates: i64,
    /// `importing`, `ready` or `failed`.
    pub state: String,
    /// Why the import failed.
    pub failure: Option<String>,
    pub created_ms: i64,
}

/// A rejected row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Rejected {
    pub line: i64,
    pub reason: String,
    pub raw: String,
}

/// Who of an earlier job's recipients a reaction list takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reaction {
    /// Opened (or clicked: a click shows it was read).
    Openers,
    Clickers,
    /// Got it and neither opened nor clicked, as far as the Tracker saw.
    NonOpeners,
    NonClickers,
}

/// What a new list is.
pub struct NewList<'a> {
    pub name: Option<&'a str>,
    pub owner_id: i64,
    /// The owner's group: its id at the Hub (what a saved list is shared by) and its name.
    pub group_id: Option<i64>,
    pub group_name: Option<&'a str>,
    pub columns: &'a [String],
    pub email_column: usize,
    pub name_column: Option<usize>,
    pub source: &'a str,
}

#[derive(Clone)]
pub struct Lists {
    pub(crate) db: Database,
    /// Rows read by imports, uploads and queries alike (`tutti_lui_recipient_rows_total`).
    pub(crate) rows_read: Counter,
}

const COLUMNS: &str = "id, name, owner_id, group_name, columns, email_column, name_column, source, read_rows, accepted, rejected, duplicates, state, failure, created_ms";

fn list(row: &AnyRow) -> sqlx::Result<ListInfo> {
    let columns: String = row.try_get("columns")?;
    let index = |v: i64| usize::try_from(v).unwrap_or(0);
    Ok(ListInfo {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        owner_id: row.try_get("owner_id")?,
        group_name: row.try_get("group_name")?,
        columns: serde_json::from_str(&columns).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        email_column: index(row.try_get("email_column")?),
        name_column: row.try_get::<Option<i64>, _>("name_column")?.map(index),
        source: row.try_get("source")?,
        read_rows: row.try_get("read_rows")?,
        accepted: row.try_get("accepted")?,
        rejected: row.try_get("rejected")?,
        duplicates: row.try_get("duplicates")?,
        state: row.try_get("state")?,
        failure: row.try_get("failure")?,
        created_ms: row.try_get("created_ms")?,
    })
}

/// A `(seq, fields)` row: its number and its fields, stored as a JSON array.
fn numbered_row(r: &AnyRow) -> sqlx::Result<(i64, Vec<String>)> {
    let fields: String = r.try_get(1)?;
    Ok((
        r.try_get(0)?,
        serde_json::from_str(&fields).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
    ))
}

impl Lists {
    pub fn new(db: Database, rows_read: Counter) -> Lists {
        Lists { db, rows_read }
    }

    /// Makes an empty list in state `importing`.
    pub async fn create(&self, l: &NewList<'_>) -> sqlx::Result<i64> {
        let columns =
            serde_json::to_string(l.columns).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
        sqlx::query(
            "INSERT INTO recipient_lists (name, owner_id, group_name, columns, email_column, name_column, source, state, created_ms, group_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'importing', $8, $9) RETURNING id",
        )
        .bind(l.name)
        .bind(l.owner_id)
        .bind(l.group_name)
        .bind(columns)
        .bind(i64::try_from(l.email_column).unwrap_or(0))
        .bind(l.name_column.and_then(|n| i64::try_from(n).ok()))
        .bind(l.source)
        .bind(now_ms())
        .bind(l.group_id)
        .fetch_one(&self.db.pool)
        .await?
        .try_get(0)
    }

    pub async fn get(&self, id: i64) -> sqlx::Result<Option<ListInfo>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM recipient_lists WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.db.pool)
        .await?
        .map(|r| list(&r))
        .transpose()
    }

    /// Fills `list` with the recipients of the sent job `source` that reacted (or did not)
    /// as `reaction` says, from the events imported so far; marks it ready (or failed when
    /// nobody qualifies). Returns how many.
    pub async fn fill_from_reaction(
        &self,
        list: i64,
        source: &str,
        reaction: Reaction,
        people_only: bool,
    ) -> sqlx::Result<i64> {
        let kinds = match reaction {
            Reaction::Openers | Reaction::NonOpeners => "('open', 'click')",
            Reaction::Clickers | Reaction::NonClickers => "('click')",
        };
        let exists = if matches!(reaction, Reaction::Openers | Reaction::Clickers) {
            "EXISTS"
        } else {
            "NOT EXISTS"
        };
        let machine = if people_only {
            "AND e.machine = ''"
        } else {
            ""
        };
        // A click implies the message was opened, even when its images were not shown.
        let sql = format!(
            "INSERT INTO recipients (list_id, seq, addr_key, fields) \
             SELECT $1, r.seq, r.addr_key, r.fields FROM sent_recipients s \
             JOIN recipients r ON r.list_id = s.list_id AND r.seq = s.seq \
             WHERE s.job_id = $2 AND {exists} (SELECT 1 FROM tracking_events e WHERE e.job_id = s.job_id \
             AND e.recipient = s.number AND e.kind IN {kinds} {machine}) \
             ON CONFLICT DO NOTHING"
        );
        let mut tx = self.db.pool.begin().await?;
        let added = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(list)
            .bind(source)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let added = i64::try_from(added).unwrap_or(i64::MAX);
        sqlx::query(
            "UPDATE recipient_lists SET read_rows = $2, accepted = $2, state = $3, failure = $4 WHERE id = $1",
        )
        .bind(list)
        .bind(added)
        .bind(if added > 0 { "ready" } else { "failed" })
        .bind((added == 0).then(|| format!("nobody of job {source} qualifies (yet): events arrive as recipients react")))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(added)
    }

    /// The list a job sends to.
    pub async fn of_job(&self, job: &str) -> sqlx::Result<Option<ListInfo>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM recipient_lists WHERE id = (SELECT recipient_list_id FROM jobs WHERE id = $1)"
        )))
        .bind(job)
        .fetch_optional(&self.db.pool)
        .await?
        .map(|r| list(&r))
        .transpose()
    }

    /// The list the job sent to before its current one, if it was imported whole.
    pub async fn previous_of_job(&self, job: &str) -> sqlx::Result<Option<ListInfo>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM recipient_lists WHERE state = 'ready' AND id = (SELECT previous_list_id FROM jobs WHERE id = $1)"
        )))
        .bind(job)
        .fetch_optional(&self.db.pool)
        .await?
        .map(|r| list(&r))
        .transpose()
    }

    /// The saved lists of a group, by its id (or of an account without a group).
    pub async fn saved(&self, owner_id: i64, group_id: Option<i64>) -> sqlx::Result<Vec<ListInfo>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM recipient_lists WHERE name IS NOT NULL AND state = 'ready' \
             AND ((group_id IS NOT NULL AND group_id = $1) \
                  OR ($1 IS NULL AND group_id IS NULL AND group_name IS NULL AND owner_id = $2)) ORDER BY name"
        )))
        .bind(group_id)
        .bind(owner_id)
        .fetch_all(&self.db.pool)
        .await?;
        rows.iter().map(list).collect()
    }

    /// Makes `list` the job's recipients, keeping the one it replaces as the previous;
    /// the job's test send and authorization are void.
    pub async fn use_for_job(&self, job: &str, list: i64) -> sqlx::Result<()> {
        let mut tx = self.db.pool.begin().await?;
        // Both sides of SET read the row as it was.
        sqlx::query(
            "UPDATE jobs SET recipient_list_id = $2, previous_list_id = \
             CASE WHEN recipient_list_id IS NOT NULL AND recipient_list_id <> $2 THEN recipient_list_id ELSE previous_list_id END \
             WHERE id = $1",
        )
            .bind(job)
            .bind(list)
            .execute(&mut *tx)
            .await?;
        void_approvals(&mut tx, job).await?;
        tx.commit().await
    }

    /// Rows after `after` (a row number), in order, at most `limit`.
    pub async fn rows(
        &self,
        list: i64,
        after: i64,
        limit: i64,
    ) -> sqlx::Result<Vec<(i64, Vec<String>)>> {
        let rows = sqlx::query(
            "SELECT seq, fields FROM recipients WHERE list_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        )
        .bind(list)
        .bind(after)
        .bind(limit)
        .fetch_all(&self.db.pool)
        .await?;
        rows.iter().map(numbered_row).collect()
    }

    /// Rows after `after` for sending, in order: (seq, fields, address key, suppressed for
    /// `scope`).
    /// The key is lower-cased to compare: a list imported before keys were folded may hold
    /// an address in a second spelling whose key kept its case (migration 0011).
    pub async fn rows_for_send(
        &self,
        list: i64,
        scope: Scope,
        after: i64,
        limit: i64,
    ) -> sqlx::Result<Vec<(i64, String, String, bool)>> {
        // Suppressed: on the scope's list or on the installation's.
        let rows = sqlx::query(
            "SELECT r.seq, r.fields, r.addr_key, \
             EXISTS (SELECT 1 FROM suppressions s WHERE s.scope IN ($4, 'all') AND s.addr_key = lower(r.addr_key)) \
             FROM recipients r WHERE r.list_id = $1 AND r.seq > $2 ORDER BY r.seq LIMIT $3",
        )
        .bind(list)
        .bind(after)
        .bind(limit)
        .bind(scope.key())
        .fetch_all(&self.db.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let suppressed: bool = r
                    .try_get::<i64, _>(3)
                    .map(|v| v != 0)
                    .or_else(|_| r.try_get(3))?;
                Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, suppressed))
            })
            .collect()
    }

    /// The `index`-th row (from 0) in order.
    pub async fn row_at(&self, list: i64, index: i64) -> sqlx::Result<Option<(i64, Vec<String>)>> {
        let row = sqlx::query(
            "SELECT seq, fields FROM recipients WHERE list_id = $1 ORDER BY seq LIMIT 1 OFFSET $2",
        )
        .bind(list)
        .bind(index)
        .fetch_optional(&self.db.pool)
        .await?;
        row.as_ref().map(numbered_row).transpose()
    }

    pub async fn rejected(
        &self,
        list: i64,
        after_line: i64,
        limit: i64,
    ) -> sqlx::Result<Vec<Rejected>> {
        let rows = sqlx::query(
            "SELECT line, reason, raw FROM recipient_rejects WHERE list_id = $1 AND line > $2 ORDER BY line LIMIT $3",
        )
        .bind(list)
        .bind(after_line)
        .bind(limit)
        .fetch_all(&self.db.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Rejected {
                    line: r.try_get(0)?,
                    reason: r.try_get(1)?,
                    raw: r.try_get(2)?,
                })
            })
            .collect()
    }
}
