//! Drop-ins and templates in the system database, by scope (`g:group` or `u:account`).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;
use utoipa::ToSchema;

use crate::database::{Database, now_ms};
use crate::message::store::MessageDraft;

/// Whose library: a group's (by its id at the Hub, which is never given to another
/// group), or an account's without a group. Libraries written before were keyed on the
/// group's name (`g:name`); `group_ids.rs` rewrites those.
pub fn scope(group_id: Option<i64>, account: i64) -> String {
    match group_id {
        Some(g) => format!("g#{g}"),
        None => format!("u:{account}"),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Dropin {
    pub id: i64,
    pub name: String,
    pub description: String,
    /// Merge text: may hold fields, blocks and other drop-ins.
    pub content: String,
    pub updated_by: String,
    pub updated_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Template {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub message: MessageDraft,
    pub updated_by: String,
    pub updated_ms: i64,
}

/// A sender profile: who a message comes from and where replies go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SenderProfile {
    pub id: i64,
    pub name: String,
    pub from_name: String,
    pub from_address: String,
    #[serde(default)]
    pub reply_to: String,
    pub updated_by: String,
    pub updated_ms: i64,
}

#[derive(Clone)]
pub struct Library {
    db: Database,
}

fn dropin(r: &AnyRow) -> sqlx::Result<Dropin> {
    Ok(Dropin {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        description: r.try_get("description")?,
        content: r.try_get("content")?,
        updated_by: r.try_get("updated_by")?,
        updated_ms: r.try_get("updated_ms")?,
    })
}

fn template(r: &AnyRow) -> sqlx::Result<Template> {
    let message: String = r.try_get("message")?;
    Ok(Template {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        description: r.try_get("description")?,
        message: serde_json::from_str(&message).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        updated_by: r.try_get("updated_by")?,
        updated_ms: r.try_get("updated_ms")?,
    })
}

/// What a save found.
pub enum Saved {
    Done(i64),
    /// Another one of the scope has this name.
    NameTaken,
    NotFound,
}

impl Library {
    pub fn new(db: Database) -> Library {
        Library { db }
    }

    pub async fn dropins(&self, scope: &str) -> sqlx::Result<Vec<Dropin>> {
        let rows = sqlx::query(
            "SELECT id, name, description, content, updated_by, updated_ms FROM dropins WHERE scope = $1 ORDER BY name",
        )
        .bind(scope)
        .fetch_all(&self.db.pool)
        .await?;
        rows.iter().map(dropin).collect()
    }

    /// The scope's drop-ins as the merge language takes them: name → text.
    pub async fn dropin_texts(&self, scope: &str) -> sqlx::Result<HashMap<String, String>> {
        Ok(self
            .dropins(scope)
            .await?
            .into_iter()
            .map(|d| (d.name, d.content))
            .collect())
    }

    async fn name_taken(
        &self,
        table: &str,
        scope: &str,
        name: &str,
        except: i64,
    ) -> sqlx::Result<bool> {
        let sql =
            format!("SELECT count(*) FROM {table} WHERE scope = $1 AND name = $2 AND id <> $3");
        let n: i64 = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(scope)
            .bind(name)
            .bind(except)
            .fetch_one(&self.db.pool)
            .await?
            .try_get(0)?;
        Ok(n > 0)
    }

    /// Creates (`id` None) or changes a drop-in of `scope`.
    pub async fn save_dropin(
        &self,
        scope: &str,
        id: Option<i64>,
        name: &str,
        description: &str,
        content: &str,
        by: &str,
    ) -> sqlx::Result<Saved> {
        if self
            .name_taken("dropins", scope, name, id.unwrap_or(-1))
            .await?
        {
            return Ok(Saved::NameTaken);
        }
        match id {
            None => Ok(Saved::Done(
                sqlx::query(
                    "INSERT INTO dropins (scope, name, description, content, updated_by, updated_ms) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                )
                .bind(scope)
                .bind(name)
                .bind(description)
                .bind(content)
                .bind(by)
                .bind(now_ms())
                .fetch_one(&self.db.pool)
                .await?
                .try_get(0)?,
            )),
            Some(id) => {
                let done = sqlx::query(
                    "UPDATE dropins SET name = $3, description = $4, content = $5, updated_by = $6, updated_ms = $7 WHERE id = $1 AND scope = $2",
                )
                .bind(id)
                .bind(scope)
                .bind(name)
                .bind(description)
                .bind(content)
                .bind(by)
                .bind(now_ms())
                .execute(&self.db.pool)
                .await?;
                Ok(if done.rows_affected() == 1 { Saved::Done(id) } else { Saved::NotFound })
            }
        }
    }

    pub async fn delete(&self, table: Table, scope: &str, id: i64) -> sqlx::Result<bool> {
        let sql = format!("DELETE FROM {} WHERE id = $1 AND scope = $2", table.name());
        let done = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .bind(scope)
            .execute(&self.db.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// What in `scope` writes the drop-in `name` (`{{name}}`): open jobs ("job ID") and
    /// templates ("template NAME"), which would no longer check without it.
    pub async fn dropin_users(&self, scope: &str, name: &str) -> sqlx::Result<Vec<String>> {
        let pattern = format!(
            "%{{{{{}}}}}%",
            name.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        let texts = "COALESCE(m.subject, '') || COALESCE(m.from_name, '') || COALESCE(m.from_address, '') \
             || COALESCE(m.reply_to, '') || COALESCE(m.html, '') || COALESCE(m.text, '')";
        let group: Option<i64> = scope.strip_prefix("g#").and_then(|g| g.parse().ok());
        let jobs = if let Some(group) = group {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT j.id FROM jobs j JOIN job_messages m ON m.job_id = j.id \
                 WHERE j.state = 'open' AND j.group_id = $1 AND {texts} LIKE $2 ESCAPE '\\' ORDER BY j.id"
            )))
            .bind(group)
            .bind(&pattern)
            .fetch_all(&self.db.pool)
            .await?
        } else {
            let owner: i64 = scope
                .strip_prefix("u:")
                .and_then(|o| o.parse().ok())
                .unwrap_or(-1);
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT j.id FROM jobs j JOIN job_messages m ON m.job_id = j.id \
                 WHERE j.state = 'open' AND j.group_id IS NULL AND j.group_name IS NULL AND j.owner_id = $1 AND {texts} LIKE $2 ESCAPE '\\' ORDER BY j.id"
            )))
            .bind(owner)
            .bind(&pattern)
            .fetch_all(&self.db.pool)
            .await?
        };
        let templates = sqlx::query(
            "SELECT name FROM templates WHERE scope = $1 AND message LIKE $2 ESCAPE '\\' ORDER BY name",
        )
        .bind(scope)
        .bind(&pattern)
        .fetch_all(&self.db.pool)
        .await?;
        let mut users = Vec::new();
        for r in &jobs {
            users.push(format!("job {}", r.try_get::<String, _>(0)?));
        }
        for r in &templates {
            users.push(format!("template {}", r.try_get::<String, _>(0)?));
        }
        Ok(users)
    }

    pub async fn templates(&self, scope: &str) -> sqlx::Result<Vec<Template>> {
        let rows = sqlx::query(
            "SELECT id, name, description, message, updated_by, updated_ms FROM templates WHERE scope = $1 ORDER BY name",
        )
        .bind(scope)
        .fetch_all(&self.db.pool)
        .await?;
        rows.iter().map(template).collect()
    }

    pub async fn sender_profiles(&self, scope: &str) -> sqlx::Result<Vec<SenderProfile>> {
        let rows = sqlx::query(
            "SELECT id, name, from_name, from_address, reply_to, updated_by, updated_ms FROM sender_profiles WHERE scope = $1 ORDER BY name",
        )
        .bind(scope)
        .fetch_all(&self.db.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(SenderProfile {
                    id: r.try_get(0)?,
                    name: r.try_get(1)?,
                    from_name: r.try_get(2)?,
                    from_address: r.try_get(3)?,
                    reply_to: r.try_get(4)?,
                    updated_by: r.try_get(5)?,
                    updated_ms: r.try_get(6)?,
                })
            })
            .collect()
    }

    /// Saves a new sender profile of `scope`.
    pub async fn save_sender_profile(
        &self,
        scope: &str,
        p: &SenderProfile,
        by: &str,
    ) -> sqlx::Result<Saved> {
        if self
            .name_taken("sender_profiles", scope, &p.name, -1)
            .await?
        {
            return Ok(Saved::NameTaken);
        }
        Ok(Saved::Done(
            sqlx::query(
                "INSERT INTO sender_profiles (scope, name, from_name, from_address, reply_to, updated_by, updated_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            )
            .bind(scope)
            .bind(&p.name)
            .bind(&p.from_name)
            .bind(&p.from_address)
            .bind(&p.reply_to)
            .bind(by)
            .bind(now_ms())
            .fetch_one(&self.db.pool)
            .await?
            .try_get(0)?,
        ))
    }

    /// Saves a new template of `scope`.
    pub async fn save_template(
        &self,
        scope: &str,
        name: &str,
        description: &str,
        message: &MessageDraft,
        by: &str,
    ) -> sqlx::Result<Saved> {
        if self.name_taken("templates", scope, name, -1).await? {
            return Ok(Saved::NameTaken);
        }
        let message =
            serde_json::to_string(message).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
        Ok(Saved::Done(
            sqlx::query(
                "INSERT INTO templates (scope, name, description, message, updated_by, updated_ms) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            )
            .bind(scope)
            .bind(name)
            .bind(description)
            .bind(message)
            .bind(by)
            .bind(now_ms())
            .fetch_one(&self.db.pool)
            .await?
            .try_get(0)?,
        ))
    }
}

/// The kinds of library entries.
#[derive(Clone, Copy)]
pub enum Table {
    Dropins,
    Templates,
    SenderProfiles,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Table::Dropins => "dropins",
            Table::Templates => "templates",
            Table::SenderProfiles => "sender_profiles",
        }
    }
}
