//! Jobs in the system database.

// Dynamic SQL here is made only of constant text and numbered parameters.
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use super::ids;
use super::model::{Grant, Job, JobState, Viewer};
use crate::database::{Database, now_ms};

/// Which jobs a list shows.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// Only jobs this account owns or was granted in its group; `None`: every job (the
    /// `admin` login).
    pub visible_to: Option<Viewer>,
    pub folder: Option<String>,
    pub archived: bool,
    /// Part of the id or title, any letter case.
    pub search: Option<String>,
    pub offset: i64,
    pub limit: i64,
}

/// The owner of a new job.
pub struct NewOwner<'a> {
    pub id: i64,
    pub name: &'a str,
    /// The owner's group: its id at the Hub and its name now.
    pub group_id: Option<i64>,
    pub group: Option<&'a str>,
}

/// No group has this id: an account without a group is granted nothing.
const NO_GROUP: i64 = -1;

/// The jobs the account in parameter `account` sees while in the group in parameter
/// `group` (`NO_GROUP` for none): its own and those granted to it, of that group only (an
/// owner or grantee who changes group leaves the job to the old group).
fn visible_condition(account: &str, group: &str) -> String {
    format!(
        "COALESCE(group_id, {NO_GROUP}) = {group} AND (owner_id = {account} \
         OR ({group} <> {NO_GROUP} AND id IN (SELECT job_id FROM job_grants WHERE account_id = {account})))"
    )
}

#[derive(Clone)]
pub struct Jobs {
    db: Database,
}

const COLUMNS: &str = "id, title, owner_id, owner_name, group_id, group_name, folder, state, archived, copied_from, created_ms, updated_ms";

fn job(row: &AnyRow) -> sqlx::Result<Job> {
    let state: String = row.try_get("state")?;
    Ok(Job {
        id: row.try_get("id")?,
        title: row.try_get("title")?,
        owner_id: row.try_get("owner_id")?,
        owner_name: row.try_get("owner_name")?,
        group_id: row.try_get("group_id")?,
        group_name: row.try_get("group_name")?,
        folder: row.try_get("folder")?,
        state: JobState::from_key(&state).ok_or_else(|| {
            sqlx::Error::Decode(format!("job state \"{state}\" is not known").into())
        })?,
        archived: row.try_get::<i64, _>("archived")? != 0,
        copied_from: row.try_get("copied_from")?,
        created_ms: row.try_get("created_ms")?,
        updated_ms: row.try_get("updated_ms")?,
    })
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

/// A value bound to a query put together at run time.
enum Value {
    Int(i64),
    Text(String),
}

/// `%` and `_` taken literally in a LIKE pattern (escape character `\`).
fn like_pattern(text: &str) -> String {
    let escaped = text
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

impl Jobs {
    pub fn new(db: Database) -> Jobs {
        Jobs { db }
    }

    /// Creates an open job with the next id of today.
    pub async fn create(
        &self,
        prefix: &str,
        owner: &NewOwner<'_>,
        title: &str,
        folder: &str,
        copied_from: Option<&str>,
    ) -> sqlx::Result<Job> {
        let day = format!("{prefix}{}", ids::day(chrono::Local::now().date_naive()));
        let mut tx = self.db.pool.begin().await?;
        // One statement takes the day's next number, also under concurrent creation.
        let used: i64 = sqlx::query(
            "INSERT INTO job_id_days (day, used) VALUES ($1, 1) \
             ON CONFLICT (day) DO UPDATE SET used = job_id_days.used + 1 RETURNING used",
        )
        .bind(&day)
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
        let id = format!(
            "{day}{}",
            ids::letters(u64::try_from(used - 1).unwrap_or(0))
        );
        let now = now_ms();
        sqlx::query(
            "INSERT INTO jobs (id, title, owner_id, owner_name, group_name, folder, state, archived, copied_from, created_ms, updated_ms, group_id) \
             VALUES ($1, $2, $3, $4, $5, $6, 'open', 0, $7, $8, $8, $9)",
        )
        .bind(&id)
        .bind(title)
        .bind(owner.id)
        .bind(owner.name)
        .bind(owner.group)
        .bind(folder)
        .bind(copied_from)
        .bind(now)
        .bind(owner.group_id)
        .execute(&mut *tx)
        .await?;
        if let Some(source) = copied_from {
            // A copy has the source's message, files, tracking and recipients (lists do
            // not change once imported, so both jobs may send to the same one); never its
            // test, authorization or sending.
            sqlx::query(
                "INSERT INTO job_messages (job_id, subject, from_name, from_address, reply_to, html, text, charset, updated_ms, dropins_enabled) \
                 SELECT $1, subject, from_name, from_address, reply_to, html, text, charset, $3, dropins_enabled FROM job_messages WHERE job_id = $2",
            )
            .bind(&id)
            .bind(source)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            for sql in [
                "INSERT INTO job_attachments (job_id, name, content_type, content_id, data) \
                 SELECT $1, name, content_type, content_id, data FROM job_attachments WHERE job_id = $2",
                "UPDATE jobs SET (tracking_kind, track_opens, track_clicks, untracked, recipient_list_id, tracking_saved_ms) = \
                 (SELECT tracking_kind, track_opens, track_clicks, untracked, recipient_list_id, tracking_saved_ms FROM jobs WHERE id = $2) \
                 WHERE id = $1",
            ] {
                sqlx::query(sql)
                    .bind(&id)
                    .bind(source)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(Job {
            id,
            title: title.to_string(),
            owner_id: owner.id,
            owner_name: owner.name.to_string(),
            group_id: owner.group_id,
            group_name: owner.group.map(str::to_string),
            folder: folder.to_string(),
            state: JobState::Open,
            archived: false,
            copied_from: copied_from.map(str::to_string),
            created_ms: now,
            updated_ms: now,
        })
    }

    pub async fn get(&self, id: &str) -> sqlx::Result<Option<Job>> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM jobs WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.db.pool)
        .await?
        .map(|r| job(&r))
        .transpose()
    }

    /// A page of jobs, newest first, and how many match in all.
    pub async fn list(&self, f: &ListFilter) -> sqlx::Result<(Vec<Job>, i64)> {
        let mut conditions = vec!["archived = $1".to_string()];
        let mut n = 1;
        let mut next = || {
            n += 1;
            n
        };
        let visible = f.visible_to.map(|v| (next(), next(), v));
        if let Some((p, g, _)) = visible {
            conditions.push(format!(
                "({})",
                visible_condition(&format!("${p}"), &format!("${g}"))
            ));
        }
        let folder = f.folder.as_ref().map(|folder| (next(), folder));
        if let Some((p, _)) = folder {
            conditions.push(format!("folder = ${p}"));
        }
        let search = f.search.as_ref().map(|s| (next(), like_pattern(s)));
        if let Some((p, _)) = &search {
            conditions.push(format!(
                "(lower(id) LIKE ${p} ESCAPE '\\' OR lower(title) LIKE ${p} ESCAPE '\\')"
            ));
        }
        let (limit_p, offset_p) = (next(), next());
        let filter = conditions.join(" AND ");
        let mut values = vec![Value::Int(i64::from(f.archived))];
        if let Some((_, _, v)) = visible {
            values.push(Value::Int(v.account));
            values.push(Value::Int(v.group_id.unwrap_or(NO_GROUP)));
        }
        if let Some((_, folder)) = folder {
            values.push(Value::Text(folder.clone()));
        }
        if let Some((_, pattern)) = &search {
            values.push(Value::Text(pattern.clone()));
        }
        let bind_filters = |mut q: AnyQuery<'static>| {
            for v in &values {
                q = match v {
                    Value::Int(i) => q.bind(*i),
                    Value::Text(t) => q.bind(t.clone()),
                };
            }
            q
        };
        let count_sql = format!("SELECT count(*) FROM jobs WHERE {filter}");
        let total: i64 = bind_filters(sqlx::query(AssertSqlSafe(count_sql)))
            .fetch_one(&self.db.pool)
            .await?
            .try_get(0)?;
        let page_sql = format!(
            "SELECT {COLUMNS} FROM jobs WHERE {filter} ORDER BY created_ms DESC, id DESC LIMIT ${limit_p} OFFSET ${offset_p}"
        );
        let rows = bind_filters(sqlx::query(AssertSqlSafe(page_sql)))
            .bind(f.limit)
            .bind(f.offset)
            .fetch_all(&self.db.pool)
            .await?;
        let jobs = rows.iter().map(job).collect::<sqlx::Result<Vec<_>>>()?;
        Ok((jobs, total))
    }

    /// The folders an account's visible jobs are in, with their counts.
    pub async fn folders(&self, visible_to: Option<Viewer>) -> sqlx::Result<Vec<(String, i64)>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT folder, count(*) FROM jobs WHERE archived = 0 AND ($1 < 0 OR {}) \
             GROUP BY folder ORDER BY folder",
            visible_condition("$1", "$2")
        )))
        .bind(visible_to.map_or(-1, |v| v.account))
        .bind(visible_to.and_then(|v| v.group_id).unwrap_or(NO_GROUP))
        .fetch_all(&self.db.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    /// Changes title and folder.
    pub async fn update(&self, id: &str, title: &str, folder: &str) -> sqlx::Result<bool> {
        let done =
            sqlx::query("UPDATE jobs SET title = $2, folder = $3, updated_ms = $4 WHERE id = $1")
                .bind(id)
                .bind(title)
                .bind(folder)
                .bind(now_ms())
                .execute(&self.db.pool)
                .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Deletes a job if it is still open; `false` when it is not (or is gone).
    pub async fn delete_open(&self, id: &str) -> sqlx::Result<bool> {
        let mut tx = self.db.pool.begin().await?;
        sqlx::query("DELETE FROM job_grants WHERE job_id = $1 AND job_id IN (SELECT id FROM jobs WHERE id = $1 AND state = 'open')")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM jobs WHERE id = $1 AND state = 'open'")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn set_archived(&self, id: &str, archived: bool) -> sqlx::Result<bool> {
        let done = sqlx::query("UPDATE jobs SET archived = $2, updated_ms = $3 WHERE id = $1")
            .bind(id)
            .bind(i64::from(archived))
            .bind(now_ms())
            .execute(&self.db.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Gives a job to another account; grants to the new owner are dropped (they own it).
    pub async fn set_owner(&self, id: &str, owner: &NewOwner<'_>) -> sqlx::Result<bool> {
        let mut tx = self.db.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE jobs SET owner_id = $2, owner_name = $3, group_name = $4, updated_ms = $5, group_id = $6 WHERE id = $1",
        )
        .bind(id)
        .bind(owner.id)
        .bind(owner.name)
        .bind(owner.group)
        .bind(now_ms())
        .bind(owner.group_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM job_grants WHERE job_id = $1 AND account_id = $2")
            .bind(id)
            .bind(owner.id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn grants(&self, id: &str) -> sqlx::Result<Vec<Grant>> {
        let rows = sqlx::query(
            "SELECT account_id, user_name, can_edit, can_send FROM job_grants WHERE job_id = $1 ORDER BY user_name",
        )
        .bind(id)
        .fetch_all(&self.db.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Grant {
                    account_id: r.try_get(0)?,
                    user_name: r.try_get(1)?,
                    edit: r.try_get::<i64, _>(2)? != 0,
                    send: r.try_get::<i64, _>(3)? != 0,
                })
            })
            .collect()
    }

    pub async fn grant_of(&self, id: &str, account: i64) -> sqlx::Result<Option<Grant>> {
        Ok(self
            .grants(id)
            .await?
            .into_iter()
            .find(|g| g.account_id == account))
    }

    /// Replaces a job's grants.
    pub async fn set_grants(&self, id: &str, grants: &[Grant]) -> sqlx::Result<()> {
        let mut tx = self.db.pool.begin().await?;
        sqlx::query("DELETE FROM job_grants WHERE job_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        for g in grants {
            sqlx::query(
                "INSERT INTO job_grants (job_id, account_id, user_name, can_edit, can_send) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(id)
            .bind(g.account_id)
            .bind(&g.user_name)
            .bind(i64::from(g.edit))
            .bind(i64::from(g.send))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::database::testing;

    fn owner(id: i64) -> NewOwner<'static> {
        NewOwner {
            id,
            name: if id == 1 { "anna/Sales" } else { "ben/Sales" },
            group_id: Some(1),
            group: Some("Sales"),
        }
    }

    #[tokio::test]
    async fn ids_count_up_per_day_and_prefix_and_lists_page_and_filter() {
        for t in testing::both().await {
            let jobs = Jobs::new(t.db.clone());
            let a = jobs
                .create("", &owner(1), "Spring sale", "News", None)
                .await
                .unwrap();
            let b = jobs
                .create("", &owner(1), "Summer 100%_off", "", None)
                .await
                .unwrap();
            let c = jobs
                .create("X-", &owner(2), "Ben's", "", None)
                .await
                .unwrap();
            let today = ids::day(chrono::Local::now().date_naive());
            assert_eq!(a.id, format!("{today}A"));
            assert_eq!(b.id, format!("{today}B"));
            assert_eq!(c.id, format!("X-{today}A"));
            assert_eq!(jobs.get(&a.id).await.unwrap().unwrap(), a);

            let mine = ListFilter {
                visible_to: Some(Viewer {
                    account: 1,
                    group_id: Some(1),
                }),
                limit: 10,
                ..ListFilter::default()
            };
            let (list, total) = jobs.list(&mine).await.unwrap();
            assert_eq!(total, 2);
            assert_eq!(
                list.iter().map(|j| &j.id).collect::<Vec<_>>(),
                [&b.id, &a.id]
            );
            // Paging, folder, search with LIKE's special characters taken literally.
            let page = ListFilter {
                offset: 1,
                limit: 1,
                ..mine.clone()
            };
            assert_eq!(jobs.list(&page).await.unwrap().0[0].id, a.id);
            let news = ListFilter {
                folder: Some("News".into()),
                ..mine.clone()
            };
            assert_eq!(jobs.list(&news).await.unwrap().1, 1);
            let search = ListFilter {
                search: Some("100%_".into()),
                ..mine.clone()
            };
            assert_eq!(jobs.list(&search).await.unwrap().0[0].id, b.id);
            let nothing = ListFilter {
                search: Some("10%x".into()),
                ..mine.clone()
            };
            assert_eq!(jobs.list(&nothing).await.unwrap().1, 0);
            // Everything, for the admin login.
            let all = ListFilter {
                limit: 10,
                ..ListFilter::default()
            };
            assert_eq!(jobs.list(&all).await.unwrap().1, 3);

            // A grant makes Ben's list show Anna's job; grants are replaced as a whole.
            let grant = Grant {
                account_id: 2,
                user_name: "ben".into(),
                edit: true,
                send: false,
            };
            jobs.set_grants(&a.id, std::slice::from_ref(&grant))
                .await
                .unwrap();
            let bens = ListFilter {
                visible_to: Some(Viewer {
                    account: 2,
                    group_id: Some(1),
                }),
                limit: 10,
                ..ListFilter::default()
            };
            assert_eq!(jobs.list(&bens).await.unwrap().1, 2);
            assert_eq!(jobs.grant_of(&a.id, 2).await.unwrap(), Some(grant));
            assert_eq!(
                jobs.folders(bens.visible_to).await.unwrap(),
                vec![(String::new(), 1), ("News".to_string(), 1)]
            );

            // Owner change drops the new owner's grant; archive hides from the live list.
            assert!(jobs.set_owner(&a.id, &owner(2)).await.unwrap());
            assert!(jobs.grants(&a.id).await.unwrap().is_empty());
            assert!(jobs.set_archived(&a.id, true).await.unwrap());
            assert_eq!(jobs.list(&bens).await.unwrap().1, 1);

            // Only open jobs can be deleted.
            sqlx::query("UPDATE jobs SET state = 'ongoing' WHERE id = $1")
                .bind(&b.id)
                .execute(&t.db.pool)
                .await
                .unwrap();
            assert!(!jobs.delete_open(&b.id).await.unwrap());
            assert!(jobs.delete_open(&c.id).await.unwrap());
            assert!(jobs.get(&c.id).await.unwrap().is_none());
        }
    }

    #[tokio::test]
    async fn concurrent_creation_never_hands_out_an_id_twice() {
        for t in testing::both().await {
            let jobs = Jobs::new(t.db.clone());
            let mut tasks = Vec::new();
            for _ in 0..20 {
                let jobs = jobs.clone();
                tasks.push(tokio::spawn(async move {
                    jobs.create("", &owner(1), "t", "", None).await.unwrap().id
                }));
            }
            let mut ids = std::collections::HashSet::new();
            for t in tasks {
                assert!(ids.insert(t.await.unwrap()));
            }
            assert_eq!(ids.len(), 20);
        }
    }
}
