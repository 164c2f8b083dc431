//! The account registry in `hub/accountreg/accountreg.sqlite`: the administrator password,
//! groups, accounts with their rights, and the settings of every level (global, group,
//! user). Every change raises one version number, so components know when to read again.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use tutti_core::api::ComponentSettings;
use tutti_core::rights::Right;
use tutti_core::settings::SettingsLevel;

use tutti_core::sqlite::Db;

pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS admin (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    password_hash TEXT NOT NULL,
    must_change INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS groups (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL UNIQUE,
    settings TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS accounts (
    id INTEGER PRIMARY KEY,
    user_name TEXT NOT NULL,
    user_key TEXT NOT NULL,
    group_id INTEGER REFERENCES groups(id),
    group_key TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    can_change_password INTEGER NOT NULL,
    disabled INTEGER NOT NULL,
    rights TEXT NOT NULL,
    settings TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (user_key, group_key)
);";

/// Names compare without case and surrounding spaces.
pub fn name_key(name: &str) -> String {
    name.trim().to_lowercase()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub id: i64,
    pub name: String,
    pub settings: SettingsLevel,
    pub members: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: i64,
    pub user_name: String,
    pub group_id: Option<i64>,
    pub group_name: Option<String>,
    pub password_hash: String,
    pub can_change_password: bool,
    pub disabled: bool,
    pub rights: Vec<Right>,
    pub settings: SettingsLevel,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The fields of an account that are written; `password_hash: None` keeps the old one.
#[derive(Debug, Clone)]
pub struct AccountWrite {
    pub user_name: String,
    pub group_id: Option<i64>,
    pub password_hash: Option<String>,
    pub can_change_password: bool,
    pub disabled: bool,
    pub rights: Vec<Right>,
    pub settings: SettingsLevel,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    NotFound(String),
    #[error(transparent)]
    Db(#[from] rusqlite::Error),
    #[error("stored data cannot be read: {0}")]
    Corrupt(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Clone)]
pub struct Store {
    db: Db,
}

fn json<T: serde::Serialize>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> StoreResult<T> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn rights_text(rights: &[Right]) -> String {
    rights.iter().map(|r| r.key()).collect::<Vec<_>>().join(",")
}

fn rights_from(text: &str) -> Vec<Right> {
    let mut rights: Vec<Right> = text.split(',').filter_map(Right::from_key).collect();
    rights.sort();
    rights
}

/// The tables whose ids other components keep (the User Interface keys job ownership,
/// grants and libraries on them).
#[derive(Clone, Copy)]
enum IdTable {
    Groups,
    Accounts,
}

/// A new id for `table`, never given before: SQLite's plain `INTEGER PRIMARY KEY` hands
/// out `max(id) + 1`, so deleting the newest account would give its id to the next one,
/// and with it everything other components keyed on that id. The highest id ever given
/// is kept in `meta` (taking over from `max(id)` on registries written before it).
fn next_id(tx: &Transaction<'_>, table: IdTable) -> rusqlite::Result<i64> {
    let (key, max_sql) = match table {
        IdTable::Groups => ("last_group_id", "SELECT coalesce(max(id), 0) FROM groups"),
        IdTable::Accounts => (
            "last_account_id",
            "SELECT coalesce(max(id), 0) FROM accounts",
        ),
    };
    let last: i64 = tx
        .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| {
            r.get::<_, String>(0)
        })
        .optional()?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let max: i64 = tx.query_row(max_sql, [], |r| r.get(0))?;
    let id = last.max(max) + 1;
    tx.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![key, id.to_string()],
    )?;
    Ok(id)
}

fn bump(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('version', '1')
         ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1",
        [],
    )
    .map(drop)
}

const ACCOUNT_COLUMNS: &str =
    "a.id, a.user_name, a.group_id, g.name, a.password_hash, a.can_change_password, a.disabled,
     a.rights, a.settings, a.created_at, a.updated_at";

fn account_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(Account, String, [String; 2])> {
    Ok((
        Account {
            id: r.get(0)?,
            user_name: r.get(1)?,
            group_id: r.get(2)?,
            group_name: r.get(3)?,
            password_hash: r.get(4)?,
            can_change_password: r.get(5)?,
            disabled: r.get(6)?,
            rights: rights_from(&r.get::<_, String>(7)?),
            settings: SettingsLevel::default(),
            created_at: Utc::now(),
            updated_at: Utc::now(),
        },
        r.get(8)?,
        [r.get(9)?, r.get(10)?],
    ))
}

fn finish_account(
    (mut account, settings, times): (Account, String, [String; 2]),
) -> StoreResult<Account> {
    account.settings = from_json(&settings)?;
    let time = |s: &str| {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| StoreError::Corrupt(e.to_string()))
    };
    account.created_at = time(&times[0])?;
    account.updated_at = time(&times[1])?;
    Ok(account)
}

fn account_by_id(conn: &Connection, id: i64) -> StoreResult<Account> {
    let row = conn
        .query_row(
            &format!("SELECT {ACCOUNT_COLUMNS} FROM accounts a LEFT JOIN groups g ON g.id = a.group_id WHERE a.id = ?1"),
            [id],
            account_row,
        )
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("there is no account {id}")))?;
    finish_account(row)
}

fn group_key(conn: &Connection, group_id: Option<i64>) -> StoreResult<String> {
    match group_id {
        None => Ok(String::new()),
        Some(id) => conn
            .query_row("SELECT name_key FROM groups WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()?
            .ok_or_else(|| StoreError::NotFound(format!("there is no group {id}"))),
    }
}

fn conflict_on_unique(e: rusqlite::Error, message: impl FnOnce() -> String) -> StoreError {
    match &e {
        rusqlite::Error::SqliteFailure(f, _)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE =>
        {
            StoreError::Conflict(message())
        }
        _ => StoreError::Db(e),
    }
}

impl Store {
    /// Opens the registry; see `open_store` for its first administrator password.
    pub fn open(db: Db) -> Store {
        Store { db }
    }

    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        self.db
            .call(move |conn| f(conn))
            .await
            .map_err(|e| StoreError::Corrupt(e.to_string()))?
    }

    /// Runs `f` in one transaction that also raises the version.
    async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        self.db
            .call(move |conn| {
                let tx = conn.transaction()?;
                let value = f(&tx)?;
                bump(&tx)?;
                tx.commit()?;
                Ok(value)
            })
            .await
            .map_err(|e| StoreError::Corrupt(e.to_string()))?
    }

    pub async fn version(&self) -> StoreResult<i64> {
        self.read(|conn| {
            let v: Option<String> = conn
                .query_row("SELECT value FROM meta WHERE key = 'version'", [], |r| {
                    r.get(0)
                })
                .optional()?;
            Ok(v.and_then(|v| v.parse().ok()).unwrap_or(0))
        })
        .await
    }

    /// The administrator's password hash and whether it must still be changed.
    pub async fn admin(&self) -> StoreResult<(String, bool)> {
        self.read(|conn| {
            Ok(conn.query_row(
                "SELECT password_hash, must_change FROM admin WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?)
        })
        .await
    }

    /// The administrator's password hash and whether it must still be changed, if one was
    /// ever set.
    pub async fn admin_opt(&self) -> StoreResult<Option<(String, bool)>> {
        self.read(|conn| {
            Ok(conn
                .query_row(
                    "SELECT password_hash, must_change FROM admin WHERE id = 1",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?)
        })
        .await
    }

    /// Sets a password that must be changed at the first login (the setup password).
    pub async fn set_first_admin_password(&self, hash: String) -> StoreResult<()> {
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO admin (id, password_hash, must_change) VALUES (1, ?1, 1)
                 ON CONFLICT (id) DO UPDATE SET password_hash = excluded.password_hash, must_change = 1",
                [hash],
            )?;
            Ok(())
        })
        .await
    }

    pub async fn set_admin_password(&self, hash: String, must_change: bool) -> StoreResult<()> {
        self.write(move |tx| {
            tx.execute(
                "UPDATE admin SET password_hash = ?1, must_change = ?2 WHERE id = 1",
                params![hash, must_change],
            )?;
            Ok(())
        })
        .await
    }

    pub async fn groups(&self) -> StoreResult<Vec<Group>> {
        self.read(|conn| {
            let mut stmt = conn.prepare(
                "SELECT g.id, g.name, g.settings, (SELECT count(*) FROM accounts a WHERE a.group_id = g.id)
                 FROM groups g ORDER BY g.name_key",
            )?;
            let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, i64>(3)?)))?;
            let mut groups = Vec::new();
            for row in rows {
                let (id, name, settings, members) = row?;
                groups.push(Group { id, name, settings: from_json(&settings)?, members });
            }
            Ok(groups)
        })
        .await
    }

    pub async fn group(&self, id: i64) -> StoreResult<Group> {
        self.groups()
            .await?
            .into_iter()
            .find(|g| g.id == id)
            .ok_or_else(|| StoreError::NotFound(format!("there is no group {id}")))
    }

    pub async fn group_by_name(&self, name: &str) -> StoreResult<Option<Group>> {
        let key = name_key(name);
        Ok(self
            .groups()
            .await?
            .into_iter()
            .find(|g| name_key(&g.name) == key))
    }

    pub async fn create_group(&self, name: String, settings: SettingsLevel) -> StoreResult<i64> {
        let settings = json(&settings)?;
        self.write(move |tx| {
            let key = name_key(&name);
            let id = next_id(tx, IdTable::Groups)?;
            tx.execute(
                "INSERT INTO groups (id, name, name_key, settings, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![id, name.trim(), key, settings, Utc::now().to_rfc3339()],
            )
            .map_err(|e| {
                conflict_on_unique(e, || {
                    format!(
                        "a group named \"{}\" exists already (names ignore letter case)",
                        name.trim()
                    )
                })
            })?;
            Ok(id)
        })
        .await
    }

    pub async fn update_group(
        &self,
        id: i64,
        name: String,
        settings: SettingsLevel,
    ) -> StoreResult<()> {
        let settings = json(&settings)?;
        self.write(move |tx| {
            let key = name_key(&name);
            let n = tx
                .execute(
                    "UPDATE groups SET name = ?1, name_key = ?2, settings = ?3 WHERE id = ?4",
                    params![name.trim(), key, settings, id],
                )
                .map_err(|e| {
                    conflict_on_unique(e, || {
                        format!(
                            "a group named \"{}\" exists already (names ignore letter case)",
                            name.trim()
                        )
                    })
                })?;
            if n == 0 {
                return Err(StoreError::NotFound(format!("there is no group {id}")));
            }
            // Accounts key their uniqueness on the group's name.
            tx.execute(
                "UPDATE accounts SET group_key = ?1 WHERE group_id = ?2",
                params![key, id],
            )
            .map_err(|e| {
                conflict_on_unique(e, || {
                    "renaming would make two accounts of the group equal".into()
                })
            })?;
            Ok(())
        })
        .await
    }

    pub async fn delete_group(&self, id: i64) -> StoreResult<String> {
        self.write(move |tx| {
            let name: String = tx
                .query_row("SELECT name FROM groups WHERE id = ?1", [id], |r| r.get(0))
                .optional()?
                .ok_or_else(|| StoreError::NotFound(format!("there is no group {id}")))?;
            let members: i64 = tx.query_row(
                "SELECT count(*) FROM accounts WHERE group_id = ?1",
                [id],
                |r| r.get(0),
            )?;
            if members > 0 {
                return Err(StoreError::Conflict(format!(
                    "the group \"{name}\" still has {members} account(s); move or delete them first"
                )));
            }
            tx.execute("DELETE FROM groups WHERE id = ?1", [id])?;
            Ok(name)
        })
        .await
    }

    /// Accounts whose user or group name contains `search` (any letter case), by group and
    /// name, one page; and how many match in all.
    pub async fn accounts(
        &self,
        search: String,
        group_id: Option<i64>,
        offset: i64,
        limit: i64,
    ) -> StoreResult<(Vec<Account>, i64)> {
        self.read(move |conn| {
            let pattern = format!("%{}%", name_key(&search).replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
            let filter = "(a.user_key LIKE ?1 ESCAPE '\\' OR a.group_key LIKE ?1 ESCAPE '\\') AND (?2 IS NULL OR a.group_id = ?2)";
            let total: i64 = conn.query_row(&format!("SELECT count(*) FROM accounts a WHERE {filter}"), params![pattern, group_id], |r| r.get(0))?;
            let mut stmt = conn.prepare(&format!(
                "SELECT {ACCOUNT_COLUMNS} FROM accounts a LEFT JOIN groups g ON g.id = a.group_id
                 WHERE {filter} ORDER BY a.group_key, a.user_key LIMIT ?3 OFFSET ?4"
            ))?;
            let rows = stmt.query_map(params![pattern, group_id, limit, offset], account_row)?;
            let mut accounts = Vec::new();
            for row in rows {
                accounts.push(finish_account(row?)?);
            }
            Ok((accounts, total))
        })
        .await
    }

    pub async fn account(&self, id: i64) -> StoreResult<Account> {
        self.read(move |conn| account_by_id(conn, id)).await
    }

    /// The account that logs in with this user name and group name (any letter case).
    pub async fn account_by_login(
        &self,
        user_name: &str,
        group_name: &str,
    ) -> StoreResult<Option<Account>> {
        let (user_key, group_key) = (name_key(user_name), name_key(group_name));
        self.read(move |conn| {
            let id: Option<i64> = conn
                .query_row(
                    "SELECT id FROM accounts WHERE user_key = ?1 AND group_key = ?2",
                    params![user_key, group_key],
                    |r| r.get(0),
                )
                .optional()?;
            id.map(|id| account_by_id(conn, id)).transpose()
        })
        .await
    }

    pub async fn create_account(&self, write: AccountWrite) -> StoreResult<i64> {
        let settings = json(&write.settings)?;
        self.write(move |tx| {
            let group_key = group_key(tx, write.group_id)?;
            let now = Utc::now().to_rfc3339();
            let hash = write.password_hash.clone().ok_or_else(|| StoreError::Conflict("a new account needs a password".into()))?;
            let id = next_id(tx, IdTable::Accounts)?;
            tx.execute(
                "INSERT INTO accounts (id, user_name, user_key, group_id, group_key, password_hash, can_change_password, disabled, rights, settings, created_at, updated_at)
                 VALUES (?11, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)",
                params![
                    write.user_name.trim(),
                    name_key(&write.user_name),
                    write.group_id,
                    group_key,
                    hash,
                    write.can_change_password,
                    write.disabled,
                    rights_text(&write.rights),
                    settings,
                    now,
                    id
                ],
            )
            .map_err(|e| conflict_on_unique(e, || duplicate_message(&write.user_name, &group_key)))?;
            Ok(id)
        })
        .await
    }

    pub async fn update_account(&self, id: i64, write: AccountWrite) -> StoreResult<()> {
        let settings = json(&write.settings)?;
        self.write(move |tx| {
            let group_key = group_key(tx, write.group_id)?;
            let n = tx
                .execute(
                    "UPDATE accounts SET user_name = ?1, user_key = ?2, group_id = ?3, group_key = ?4,
                       password_hash = coalesce(?5, password_hash), can_change_password = ?6, disabled = ?7,
                       rights = ?8, settings = ?9, updated_at = ?10
                     WHERE id = ?11",
                    params![
                        write.user_name.trim(),
                        name_key(&write.user_name),
                        write.group_id,
                        group_key,
                        write.password_hash,
                        write.can_change_password,
                        write.disabled,
                        rights_text(&write.rights),
                        settings,
                        Utc::now().to_rfc3339(),
                        id
                    ],
                )
                .map_err(|e| conflict_on_unique(e, || duplicate_message(&write.user_name, &group_key)))?;
            if n == 0 {
                return Err(StoreError::NotFound(format!("there is no account {id}")));
            }
            Ok(())
        })
        .await
    }

    pub async fn set_account_password(&self, id: i64, hash: String) -> StoreResult<()> {
        self.write(move |tx| {
            let n = tx.execute(
                "UPDATE accounts SET password_hash = ?1, updated_at = ?2 WHERE id = ?3",
                params![hash, Utc::now().to_rfc3339(), id],
            )?;
            if n == 0 {
                return Err(StoreError::NotFound(format!("there is no account {id}")));
            }
            Ok(())
        })
        .await
    }

    pub async fn delete_account(&self, id: i64) -> StoreResult<Account> {
        let account = self.account(id).await?;
        self.write(move |tx| {
            tx.execute("DELETE FROM accounts WHERE id = ?1", [id])?;
            Ok(())
        })
        .await?;
        Ok(account)
    }

    pub async fn global_settings(&self) -> StoreResult<SettingsLevel> {
        self.meta_json("global_settings")
            .await
            .map(Option::unwrap_or_default)
    }

    pub async fn set_global_settings(&self, settings: SettingsLevel) -> StoreResult<()> {
        self.set_meta_json("global_settings", &settings).await
    }

    pub async fn component_settings(&self) -> StoreResult<ComponentSettings> {
        self.meta_json("component_settings")
            .await
            .map(Option::unwrap_or_default)
    }

    pub async fn set_component_settings(&self, settings: ComponentSettings) -> StoreResult<()> {
        self.set_meta_json("component_settings", &settings).await
    }

    async fn meta_json<T: serde::de::DeserializeOwned + Send + 'static>(
        &self,
        key: &'static str,
    ) -> StoreResult<Option<T>> {
        self.read(move |conn| {
            let text: Option<String> = conn
                .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
                .optional()?;
            text.map(|t| from_json(&t)).transpose()
        })
        .await
    }

    async fn set_meta_json<T: serde::Serialize>(
        &self,
        key: &'static str,
        value: &T,
    ) -> StoreResult<()> {
        let text = json(value)?;
        self.write(move |tx| {
            tx.execute("INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value", params![key, text])?;
            Ok(())
        })
        .await
    }
}

fn duplicate_message(user_name: &str, group_key: &str) -> String {
    if group_key.is_empty() {
        format!(
            "an account \"{}\" without a group exists already (names ignore letter case)",
            user_name.trim()
        )
    } else {
        format!(
            "the group already has an account \"{}\" (names ignore letter case)",
            user_name.trim()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn store(dir: &std::path::Path) -> Store {
        let db = Db::open(&dir.join("accountreg.sqlite"), &[SCHEMA])
            .await
            .unwrap();
        let s = Store::open(db);
        if s.admin_opt().await.unwrap().is_none() {
            s.set_first_admin_password("hash-of-admin".into())
                .await
                .unwrap();
        }
        s
    }

    fn write(user: &str, group_id: Option<i64>) -> AccountWrite {
        AccountWrite {
            user_name: user.into(),
            group_id,
            password_hash: Some("h".into()),
            can_change_password: true,
            disabled: false,
            rights: Right::ALL.to_vec(),
            settings: SettingsLevel::default(),
        }
    }

    #[tokio::test]
    async fn user_and_group_are_unique_as_a_pair_in_any_letter_case() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path()).await;
        let sales = s
            .create_group("Sales".into(), SettingsLevel::default())
            .await
            .unwrap();
        let ops = s
            .create_group("Ops".into(), SettingsLevel::default())
            .await
            .unwrap();
        assert!(matches!(
            s.create_group("SALES ".into(), SettingsLevel::default())
                .await,
            Err(StoreError::Conflict(_))
        ));
        s.create_account(write("Anna", Some(sales))).await.unwrap();
        s.create_account(write("anna", Some(ops))).await.unwrap();
        s.create_account(write("ANNA", None)).await.unwrap();
        let dup = s
            .create_account(write("aNNa", Some(sales)))
            .await
            .unwrap_err();
        assert!(dup.to_string().contains("already has an account"), "{dup}");
        assert!(matches!(
            s.create_account(write("anna ", None)).await,
            Err(StoreError::Conflict(_))
        ));
        let found = s.account_by_login("ANNA", "sales").await.unwrap().unwrap();
        assert_eq!(
            (found.user_name.as_str(), found.group_name.as_deref()),
            ("Anna", Some("Sales"))
        );
        let (page, total) = s.accounts("ann".into(), None, 0, 2).await.unwrap();
        assert_eq!((page.len(), total), (2, 3));
    }

    #[tokio::test]
    async fn every_change_raises_the_version_and_groups_with_members_stay() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path()).await;
        let v0 = s.version().await.unwrap();
        let g = s
            .create_group("Team".into(), SettingsLevel::default())
            .await
            .unwrap();
        let a = s.create_account(write("bob", Some(g))).await.unwrap();
        assert_eq!(s.version().await.unwrap(), v0 + 2);
        let err = s.delete_group(g).await.unwrap_err();
        assert!(err.to_string().contains("still has 1 account"), "{err}");
        s.delete_account(a).await.unwrap();
        s.delete_group(g).await.unwrap();
        assert_eq!(s.version().await.unwrap(), v0 + 4);
    }

    #[tokio::test]
    async fn ids_of_deleted_accounts_and_groups_are_never_given_again() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path()).await;
        let g1 = s
            .create_group("One".into(), SettingsLevel::default())
            .await
            .unwrap();
        let a1 = s.create_account(write("ann", Some(g1))).await.unwrap();
        s.delete_account(a1).await.unwrap();
        s.delete_group(g1).await.unwrap();
        // The newest rows were deleted: max(id) + 1 would give their ids again.
        let g2 = s
            .create_group("Two".into(), SettingsLevel::default())
            .await
            .unwrap();
        let a2 = s.create_account(write("bob", Some(g2))).await.unwrap();
        assert!(g2 > g1 && a2 > a1, "{g1} {g2} {a1} {a2}");
        drop(s);
        // Also after a restart, with every account deleted.
        let s = store(dir.path()).await;
        s.delete_account(a2).await.unwrap();
        let a3 = s.create_account(write("cy", None)).await.unwrap();
        assert!(a3 > a2, "{a2} {a3}");
    }

    #[tokio::test]
    async fn admin_password_starts_as_default_and_changes() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path()).await;
        assert_eq!(
            s.admin().await.unwrap(),
            ("hash-of-admin".to_string(), true)
        );
        s.set_admin_password("new".into(), false).await.unwrap();
        drop(s);
        let s = store(dir.path()).await;
        assert_eq!(
            s.admin().await.unwrap(),
            ("new".to_string(), false),
            "kept across reopen; the default is not written again"
        );
    }
}
