//! Rows written before groups were keyed on their ids: jobs and recipient lists that name
//! their group only by name, and libraries keyed `g:name`. A group's name can change and
//! be given to a new group, so such rows belong to no group until the Hub says which group
//! has that name now; then they are given that group's id, once.

use sqlx::Row;
use tutti_core::api::GroupRef;

use crate::database::Database;

/// The tables whose libraries are keyed by scope.
const LIBRARY_TABLES: [&str; 3] = ["dropins", "templates", "sender_profiles"];
/// The tables that name a group beside its id.
const GROUP_TABLES: [&str; 2] = ["jobs", "recipient_lists"];

/// Legacy group names and scopes still in the database.
async fn legacy(db: &Database) -> sqlx::Result<(Vec<String>, Vec<String>)> {
    let mut names = Vec::new();
    for table in GROUP_TABLES {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT DISTINCT group_name FROM {table} WHERE group_id IS NULL AND group_name IS NOT NULL"
        )))
        .fetch_all(&db.pool)
        .await?;
        for r in rows {
            names.push(r.try_get::<String, _>(0)?);
        }
    }
    let mut scopes = Vec::new();
    for table in LIBRARY_TABLES {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT DISTINCT scope FROM {table} WHERE scope LIKE 'g:%'"
        )))
        .fetch_all(&db.pool)
        .await?;
        for r in rows {
            scopes.push(r.try_get::<String, _>(0)?);
        }
    }
    names.sort();
    names.dedup();
    scopes.sort();
    scopes.dedup();
    Ok((names, scopes))
}

/// Whether there is anything left to key (cheap: no call to the Hub when not).
pub async fn pending(db: &Database) -> sqlx::Result<bool> {
    let (names, scopes) = legacy(db).await?;
    Ok(!names.is_empty() || !scopes.is_empty())
}

/// The group id given to rows of a group that no longer existed when they were keyed: no
/// group has it, so only the `admin` login sees such jobs (and can give them away).
const GONE_GROUP: i64 = -2;
/// What the scope of a library entry of such a group becomes: no account's or group's.
const GONE_SCOPE: &str = "gone:";

/// Gives legacy rows the id of the group that has their group's name now (in any letter
/// case, as the Hub compares names), once: rows of a group that no longer exists are
/// marked as belonging to none, so that a group given that name later never gets them.
pub async fn key_legacy_rows(db: &Database, groups: &[GroupRef]) -> sqlx::Result<u64> {
    let (names, scopes) = legacy(db).await?;
    let id_of = |name: &str| {
        let key = name.trim().to_lowercase();
        groups
            .iter()
            .find(|g| g.name.trim().to_lowercase() == key)
            .map(|g| g.id)
    };
    let mut changed = 0;
    let mut tx = db.pool.begin().await?;
    for name in &names {
        let id = id_of(name).unwrap_or(GONE_GROUP);
        for table in GROUP_TABLES {
            changed += sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE {table} SET group_id = $1 WHERE group_id IS NULL AND group_name = $2"
            )))
            .bind(id)
            .bind(name)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
    }
    for scope in &scopes {
        let gone = format!("{GONE_SCOPE}{scope}");
        let new = match scope.strip_prefix("g:").and_then(id_of) {
            Some(id) => crate::library::store::scope(Some(id), 0),
            None => gone.clone(),
        };
        for table in LIBRARY_TABLES {
            // A name the group has used since keeps the group's entry; the old one is set
            // aside rather than lost.
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE {table} SET scope = $1 WHERE scope = $2 \
                 AND name IN (SELECT name FROM {table} WHERE scope = $3)"
            )))
            .bind(&gone)
            .bind(scope)
            .bind(&new)
            .execute(&mut *tx)
            .await?;
            changed += sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE {table} SET scope = $1 WHERE scope = $2"
            )))
            .bind(&new)
            .bind(scope)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
    }
    tx.commit().await?;
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::database::testing;

    #[tokio::test]
    async fn legacy_rows_go_to_the_group_that_has_the_name_now_and_others_to_none() {
        for t in testing::both().await {
            for (id, group) in [("260101A", "Sales"), ("260101B", "Gone")] {
                sqlx::query(
                    "INSERT INTO jobs (id, title, owner_id, owner_name, group_name, folder, state, archived, created_ms, updated_ms) \
                     VALUES ($1, 't', 1, 'o', $2, '', 'open', 0, 0, 0)",
                )
                .bind(id)
                .bind(group)
                .execute(&t.db.pool)
                .await
                .unwrap();
            }
            for scope in ["g:sales", "g:gone"] {
                sqlx::query(
                    "INSERT INTO dropins (scope, name, description, content, updated_by, updated_ms) \
                     VALUES ($1, 'footer', '', 'x', 'o', 0)",
                )
                .bind(scope)
                .execute(&t.db.pool)
                .await
                .unwrap();
            }
            assert!(pending(&t.db).await.unwrap());
            let groups = [GroupRef {
                id: 7,
                name: "SALES".into(),
            }];
            assert_eq!(key_legacy_rows(&t.db, &groups).await.unwrap(), 4);
            let ids: Vec<(String, Option<i64>)> =
                sqlx::query("SELECT id, group_id FROM jobs ORDER BY id")
                    .fetch_all(&t.db.pool)
                    .await
                    .unwrap()
                    .iter()
                    .map(|r| (r.try_get(0).unwrap(), r.try_get(1).unwrap()))
                    .collect();
            assert_eq!(
                ids,
                [
                    ("260101A".to_string(), Some(7)),
                    ("260101B".to_string(), Some(GONE_GROUP))
                ]
            );
            let scopes: Vec<String> = sqlx::query("SELECT scope FROM dropins ORDER BY scope")
                .fetch_all(&t.db.pool)
                .await
                .unwrap()
                .iter()
                .map(|r| r.try_get(0).unwrap())
                .collect();
            assert_eq!(scopes, ["g#7", "gone:g:gone"]);
            // Once done, nothing is left, also when a group is given the old name later.
            assert!(!pending(&t.db).await.unwrap());
            let later = [GroupRef {
                id: 8,
                name: "Gone".into(),
            }];
            assert_eq!(key_legacy_rows(&t.db, &later).await.unwrap(), 0);
        }
    }
}
