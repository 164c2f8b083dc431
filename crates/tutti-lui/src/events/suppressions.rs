//! The suppression lists: per group (an account without a group has its own), and the
//! installation's, which holds hard bounces and complaints, applies to every group and is
//! managed by the `admin` login. Every query names its scope, so no group reads or
//! changes another's entries.

use serde::{Deserialize, Serialize};
use sqlx::Row;
use utoipa::ToSchema;

use crate::database::{Database, now_ms};
use crate::jobs::model::Actor;

/// Whose suppression list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The installation's: applies to every group.
    Installation,
    /// A group's, by its id at the Hub (never reused).
    Group(i64),
    /// An account's that belongs to no group.
    Account(i64),
}

impl Scope {
    /// The list of an account (its group's, or its own without a group).
    pub fn of_account(group_id: Option<i64>, account: i64) -> Scope {
        group_id.map_or(Scope::Account(account), Scope::Group)
    }

    /// The list an actor sees and manages: the `admin` login's is the installation's.
    pub fn of_actor(actor: &Actor) -> Scope {
        match actor {
            Actor::Admin => Scope::Installation,
            Actor::User { id, group_id, .. } => Scope::of_account(*group_id, *id),
        }
    }

    /// As stored.
    pub fn key(self) -> String {
        match self {
            Scope::Installation => INSTALLATION.into(),
            Scope::Group(id) => format!("g:{id}"),
            Scope::Account(id) => format!("u:{id}"),
        }
    }
}

/// The stored scope of the installation's list.
const INSTALLATION: &str = "all";

/// An address no job of the scope sends to any more, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Suppression {
    /// The normalized address (lower case).
    pub address: String,
    /// `unsubscribed`, `hard_bounce`, `complaint` or `added` (by hand).
    pub reason: String,
    /// The job whose message it came from ("" when added by hand).
    pub job: String,
    pub at_ms: i64,
}

/// What a listing shows: a part of the address to look for, and the page.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub search: String,
    pub offset: i64,
    pub limit: i64,
}

/// Puts the address of recipient `number` of `job` on the list of the job's scope (once);
/// with `everywhere`, on the installation's list as well.
pub(super) async fn suppress(
    conn: &mut sqlx::AnyConnection,
    job: &str,
    number: i64,
    reason: &str,
    at_ms: i64,
    everywhere: bool,
) -> sqlx::Result<()> {
    // A job sent before scopes existed has none: its events go to the installation's list.
    let job_scope = "COALESCE((SELECT scope FROM sent_job_scopes WHERE job_id = $1), 'all')";
    let installation = "'all'";
    let scopes: &[&str] = if everywhere {
        &[job_scope, installation]
    } else {
        &[job_scope]
    };
    for scope in scopes {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO suppressions (scope, addr_key, reason, job_id, at_ms) \
             SELECT {scope}, lower(addr_key), $3, job_id, $4 FROM sent_recipients WHERE job_id = $1 AND number = $2 \
             ON CONFLICT DO NOTHING"
        )))
        .bind(job)
        .bind(number)
        .bind(reason)
        .bind(at_ms)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// `LIKE` pattern of a search: its own `%` and `_` match themselves.
fn contains_pattern(search: &str) -> String {
    format!(
        "%{}%",
        search
            .to_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    )
}

fn suppression(r: &sqlx::any::AnyRow) -> sqlx::Result<Suppression> {
    Ok(Suppression {
        address: r.try_get(0)?,
        reason: r.try_get(1)?,
        job: r.try_get(2)?,
        at_ms: r.try_get(3)?,
    })
}

#[derive(Clone)]
pub struct Suppressions {
    db: Database,
}

impl Suppressions {
    pub fn new(db: Database) -> Suppressions {
        Suppressions { db }
    }

    /// Notes whose list a job's unsubscribes, bounces and complaints go to, before it is
    /// handed over (so that no event can arrive before it).
    pub async fn set_job_scope(&self, job: &str, scope: Scope) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO sent_job_scopes (job_id, scope) VALUES ($1, $2) \
             ON CONFLICT (job_id) DO UPDATE SET scope = excluded.scope",
        )
        .bind(job)
        .bind(scope.key())
        .execute(&self.db.pool)
        .await?;
        Ok(())
    }

    /// How many of a list's addresses a job of `scope` leaves out (its own list and the
    /// installation's).
    pub async fn suppressed_in_list(&self, list: i64, scope: Scope) -> sqlx::Result<i64> {
        sqlx::query(
            "SELECT count(*) FROM recipients r WHERE r.list_id = $1 AND EXISTS \
             (SELECT 1 FROM suppressions s WHERE s.scope IN ($2, 'all') AND s.addr_key = lower(r.addr_key))",
        )
        .bind(list)
        .bind(scope.key())
        .fetch_one(&self.db.pool)
        .await?
        .try_get(0)
    }

    /// One scope's entries that contain `filter.search`, newest first, and how many there
    /// are in all.
    pub async fn list(
        &self,
        scope: Scope,
        filter: &Filter,
    ) -> sqlx::Result<(Vec<Suppression>, i64)> {
        let pattern = contains_pattern(&filter.search);
        let total: i64 = sqlx::query(
            "SELECT count(*) FROM suppressions WHERE scope = $1 AND addr_key LIKE $2 ESCAPE '\\'",
        )
        .bind(scope.key())
        .bind(&pattern)
        .fetch_one(&self.db.pool)
        .await?
        .try_get(0)?;
        let rows = sqlx::query(
            "SELECT addr_key, reason, job_id, at_ms FROM suppressions \
             WHERE scope = $1 AND addr_key LIKE $2 ESCAPE '\\' \
             ORDER BY at_ms DESC, addr_key LIMIT $3 OFFSET $4",
        )
        .bind(scope.key())
        .bind(&pattern)
        .bind(filter.limit)
        .bind(filter.offset)
        .fetch_all(&self.db.pool)
        .await?;
        let list = rows.iter().map(suppression).collect::<sqlx::Result<_>>()?;
        Ok((list, total))
    }

    /// Up to `limit` entries of a scope after address `after`, in address order (downloads).
    pub async fn after(
        &self,
        scope: Scope,
        search: &str,
        after: &str,
        limit: i64,
    ) -> sqlx::Result<Vec<Suppression>> {
        let rows = sqlx::query(
            "SELECT addr_key, reason, job_id, at_ms FROM suppressions \
             WHERE scope = $1 AND addr_key LIKE $2 ESCAPE '\\' AND addr_key > $3 \
             ORDER BY addr_key LIMIT $4",
        )
        .bind(scope.key())
        .bind(contains_pattern(search))
        .bind(after)
        .bind(limit)
        .fetch_all(&self.db.pool)
        .await?;
        rows.iter().map(suppression).collect()
    }

    /// Puts an address on a scope's list by hand; false when it is there already.
    pub async fn add(&self, scope: Scope, address: &str) -> sqlx::Result<bool> {
        let done = sqlx::query(
            "INSERT INTO suppressions (scope, addr_key, reason, job_id, at_ms) \
             VALUES ($1, $2, 'added', '', $3) ON CONFLICT DO NOTHING",
        )
        .bind(scope.key())
        .bind(address)
        .bind(now_ms())
        .execute(&self.db.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Takes an address off a scope's list; false when it is not on it.
    pub async fn remove(&self, scope: Scope, address: &str) -> sqlx::Result<bool> {
        let done = sqlx::query("DELETE FROM suppressions WHERE scope = $1 AND addr_key = $2")
            .bind(scope.key())
            .bind(address)
            .execute(&self.db.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::database::testing;

    fn all(limit: i64) -> Filter {
        Filter {
            limit,
            ..Filter::default()
        }
    }

    #[test]
    fn scopes_are_keyed_by_ids() {
        assert_eq!(Scope::of_account(Some(7), 3).key(), "g:7");
        assert_eq!(Scope::of_account(None, 3).key(), "u:3");
        assert_eq!(Scope::of_actor(&Actor::Admin).key(), "all");
        assert_eq!(contains_pattern("A_b%"), "%a\\_b\\%%");
    }

    #[tokio::test]
    async fn no_scope_reads_or_changes_another_scopes_entries() {
        for t in testing::both().await {
            let s = Suppressions::new(t.db.clone());
            let (a, b) = (Scope::Group(1), Scope::Group(2));
            assert!(s.add(a, "x@example.org").await.unwrap());
            assert!(!s.add(a, "x@example.org").await.unwrap(), "once");
            assert!(s.add(a, "y_1@example.org").await.unwrap());
            assert_eq!(s.list(b, &all(10)).await.unwrap().1, 0);
            assert!(!s.remove(b, "x@example.org").await.unwrap());
            assert!(
                !s.remove(Scope::Installation, "x@example.org")
                    .await
                    .unwrap()
            );
            assert_eq!(s.list(a, &all(10)).await.unwrap().1, 2);
            let found = Filter {
                search: "Y_".into(),
                limit: 10,
                offset: 0,
            };
            let (rows, total) = s.list(a, &found).await.unwrap();
            assert_eq!((rows[0].address.as_str(), total), ("y_1@example.org", 1));
            let page = s.after(a, "", "x@example.org", 10).await.unwrap();
            assert_eq!(page.len(), 1, "after x comes y only");
            assert!(s.remove(a, "x@example.org").await.unwrap());
            assert_eq!(s.list(a, &all(10)).await.unwrap().1, 1);
        }
    }
}
