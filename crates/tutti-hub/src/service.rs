//! What the Hub's console and JSON API both do: every rule about accounts, groups, rights
//! and settings lives here, once, and every change is written to the audit log.

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use tutti_core::http_error::ApiError;
use tutti_core::password;
use tutti_core::rights::Right;
use tutti_core::settings::{EffectiveSettings, FieldError, SettingsLevel, label, resolve};
use utoipa::ToSchema;

use crate::HubState;
use crate::sessions::Principal;
use crate::store::{Account, AccountWrite, Group, StoreError, name_key};

/// Longest user or group name.
pub const MAX_NAME_LEN: usize = 64;
/// Shown instead of a stored mailer client password; sent back unchanged, it keeps it.
pub const SECRET_MASK: &str = "********";

/// Who is acting: the administrator, or an account (a group administrator).
#[derive(Debug, Clone)]
pub enum Actor {
    Admin,
    User(Box<Account>),
}

impl Actor {
    /// How the audit log names the actor.
    pub fn name(&self) -> String {
        match self {
            Actor::Admin => "admin".into(),
            Actor::User(a) => login_name(&a.user_name, a.group_name.as_deref()),
        }
    }
}

/// `user` or `user/group`.
pub fn login_name(user: &str, group: Option<&str>) -> String {
    match group {
        Some(g) => format!("{user}/{g}"),
        None => user.to_string(),
    }
}

fn store_error(e: StoreError) -> ApiError {
    match e {
        StoreError::Conflict(m) => ApiError::new(StatusCode::CONFLICT, m),
        StoreError::NotFound(m) => ApiError::not_found(m),
        other => ApiError::internal("the account registry failed", other),
    }
}

/// A refused new password (the field `new_password` of the password APIs and pages).
fn new_password_error(message: String) -> ApiError {
    ApiError::invalid(vec![FieldError {
        field: "new_password".into(),
        message,
    }])
}

/// How the settings page labels the component settings fields (templates/settings.html),
/// by their first words.
pub struct ComponentLabels {
    pub lui_url: &'static str,
    pub tracker_url: &'static str,
    pub event_transfer_seconds: &'static str,
    pub anonymous_profile_fields: &'static str,
}

pub const COMPONENT_LABELS: ComponentLabels = ComponentLabels {
    lui_url: "User Interface name for browsers",
    tracker_url: "Tracker URL",
    event_transfer_seconds: "Event transfer interval",
    anonymous_profile_fields: "Fields that make up an anonymous profile",
};

/// Why an account whose `can_change_password` is false cannot set a password of its own.
const OWN_PASSWORD_FIXED: &str =
    "this account may not change its own password; ask the administrator";

fn forbidden(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, message)
}

/// Checks a user or group name.
pub fn check_name(what: &str, name: &str) -> Result<(), String> {
    let name = name.trim();
    if name.is_empty() {
        return Err(format!("the {what} name is empty"));
    }
    if name.chars().count() > MAX_NAME_LEN {
        return Err(format!(
            "the {what} name has {} characters; at most {MAX_NAME_LEN} are allowed",
            name.chars().count()
        ));
    }
    if name.contains('/') {
        return Err(format!(
            "the {what} name contains '/', which names may not contain"
        ));
    }
    tutti_core::names::check_visible(name).map_err(|e| format!("the {what} name: {e}"))
}

/// An account as the console and the API show it: no password hash, the mailer client
/// password masked.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AccountView {
    pub id: i64,
    pub user_name: String,
    pub group_name: Option<String>,
    pub can_change_password: bool,
    pub disabled: bool,
    pub rights: Vec<Right>,
    /// The account's own settings (empty values inherit).
    pub settings: SettingsLevel,
    /// What applies, and where each value comes from.
    pub effective: EffectiveSettings,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// A group as the console and the API show it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GroupView {
    pub id: i64,
    pub name: String,
    pub members: i64,
    pub settings: SettingsLevel,
}

/// A new account (`POST /hub/api/accounts`). Absent rights: those of its creator (all for
/// the administrator; a group administrator grants only rights it holds).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountInput {
    pub user_name: String,
    /// Name of an existing group; empty or absent for none.
    #[serde(default)]
    pub group_name: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default = "yes")]
    pub can_change_password: bool,
    #[serde(default)]
    pub disabled: bool,
    #[serde(default)]
    pub rights: Option<Vec<Right>>,
    #[serde(default)]
    pub settings: Option<SettingsLevel>,
}

/// A change to an account (`PUT /hub/api/accounts/{id}`): every absent field stays as it
/// is, so a program can send only what it changes.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountChange {
    #[serde(default)]
    pub user_name: Option<String>,
    /// Name of an existing group; `null` or empty takes the account out of its group;
    /// absent keeps it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub group_name: Option<Option<String>>,
    /// Absent or empty keeps the password.
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub can_change_password: Option<bool>,
    #[serde(default)]
    pub disabled: Option<bool>,
    #[serde(default)]
    pub rights: Option<Vec<Right>>,
    /// The account's own settings, all of them (a value left out inherits).
    #[serde(default)]
    pub settings: Option<SettingsLevel>,
}

/// A field that is there, even as `null` (`Some(None)`); absent ones stay `None` by
/// `#[serde(default)]`.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

impl From<AccountInput> for AccountChange {
    fn from(input: AccountInput) -> AccountChange {
        AccountChange {
            user_name: Some(input.user_name),
            group_name: Some(input.group_name),
            password: input.password,
            can_change_password: Some(input.can_change_password),
            disabled: Some(input.disabled),
            rights: input.rights,
            settings: input.settings,
        }
    }
}

/// The rights of a new account when none are given: its creator's (all for the
/// administrator).
pub fn default_rights(actor: &Actor) -> Vec<Right> {
    match actor {
        Actor::Admin => Right::ALL.to_vec(),
        Actor::User(me) => Right::ALL
            .into_iter()
            .filter(|r| me.rights.contains(r))
            .collect(),
    }
}

/// What a group administrator may not do even in its own group: grant rights it lacks,
/// change its own rights or disable itself, set its own password when its account may not,
/// let an account that may not change its password do so, change an account that holds rights it lacks
/// (a new password would let it log in as that account), or set where a user's jobs go
/// and where their links point (the mailer connection and tracking URL: a Mailer is
/// handed the ClusterSecret, the recipients and the message). The administrator may.
fn group_admin_limits(
    actor: &Actor,
    old: Option<&Account>,
    new: &AccountWrite,
) -> Result<(), ApiError> {
    let Actor::User(me) = actor else {
        return Ok(());
    };
    let lacking = |rights: &[Right]| -> Vec<&'static str> {
        rights
            .iter()
            .filter(|r| !me.rights.contains(r))
            .map(|r| r.key())
            .collect()
    };
    let sorted = |rights: &[Right]| {
        let mut r = rights.to_vec();
        r.sort();
        r.dedup();
        r
    };
    if let Some(old) = old {
        if old.id == me.id {
            if sorted(&old.rights) != sorted(&new.rights) {
                return Err(forbidden(
                    "you cannot change your own rights; ask the administrator",
                ));
            }
            if new.disabled {
                return Err(forbidden("you cannot disable your own account"));
            }
            // The account API must not be a way around the rule that change_own_password
            // keeps.
            if !old.can_change_password && new.password_hash.is_some() {
                return Err(forbidden(OWN_PASSWORD_FIXED));
            }
        }
        if !old.can_change_password && new.can_change_password {
            return Err(forbidden(
                "only the administrator may let an account change its own password again",
            ));
        }
        let more = lacking(&old.rights);
        if !more.is_empty() {
            return Err(forbidden(format!(
                "this account has rights you do not hold ({}); only the administrator may change it",
                more.join(", ")
            )));
        }
    }
    let before: &[Right] = old.map_or(&[], |o| &o.rights);
    let granted: Vec<Right> = new
        .rights
        .iter()
        .filter(|r| !before.contains(r))
        .copied()
        .collect();
    let missing = lacking(&granted);
    if !missing.is_empty() {
        return Err(forbidden(format!(
            "a group administrator grants only rights it holds itself; you do not hold {}",
            missing.join(", ")
        )));
    }
    let was = old.map(|o| o.settings.clone()).unwrap_or_default();
    if new.settings.mailer != was.mailer || new.settings.tracking != was.tracking {
        return Err(forbidden(format!(
            "only the administrator may set or change a user's {} or {}; keep them as they are",
            label::MAILER_CONNECTION,
            label::TRACKING_URL
        )));
    }
    Ok(())
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupInput {
    pub name: String,
    #[serde(default)]
    pub settings: Option<SettingsLevel>,
}

/// One page of accounts.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AccountPage {
    pub accounts: Vec<AccountView>,
    pub total: i64,
    pub offset: i64,
    pub limit: i64,
}

pub fn mask(mut level: SettingsLevel) -> SettingsLevel {
    if let Some(m) = &mut level.mailer {
        m.client_password = SECRET_MASK.into();
    }
    level
}

fn mask_effective(mut e: EffectiveSettings) -> EffectiveSettings {
    if let Some(m) = &mut e.mailer {
        m.value.client_password = SECRET_MASK.into();
    }
    e
}

/// A mailer client password sent back masked keeps the stored one.
fn keep_secret(mut new: SettingsLevel, old: &SettingsLevel) -> SettingsLevel {
    if let (Some(n), Some(o)) = (&mut new.mailer, &old.mailer)
        && n.client_password == SECRET_MASK
    {
        n.client_password = o.client_password.clone();
    }
    new
}

impl HubState {
    /// What applies to `account`, unmasked (for components).
    pub async fn effective(&self, account: &Account) -> Result<EffectiveSettings, ApiError> {
        let global = self.store.global_settings().await.map_err(store_error)?;
        let group = match account.group_id {
            Some(id) => Some(self.store.group(id).await.map_err(store_error)?.settings),
            None => None,
        };
        Ok(resolve(&global, group.as_ref(), &account.settings))
    }

    pub async fn account_view(&self, account: Account) -> Result<AccountView, ApiError> {
        let effective = mask_effective(self.effective(&account).await?);
        Ok(AccountView {
            id: account.id,
            user_name: account.user_name,
            group_name: account.group_name,
            can_change_password: account.can_change_password,
            disabled: account.disabled,
            rights: account.rights,
            settings: mask(account.settings),
            effective,
            created_at: account.created_at,
            updated_at: account.updated_at,
        })
    }

    pub(crate) async fn audit(
        &self,
        actor: &Actor,
        action: &str,
        target: &str,
        details: &str,
    ) -> Result<(), ApiError> {
        self.audit
            .record(&actor.name(), action, target, details)
            .await
            .map_err(|e| ApiError::internal("cannot write the audit log", e))
    }

    /// The group an actor may manage accounts of: `None` = all (the administrator).
    fn managed_group(actor: &Actor) -> Result<Option<Option<i64>>, ApiError> {
        match actor {
            Actor::Admin => Ok(None),
            Actor::User(a)
                if a.rights.contains(&Right::AdministerGroup) && a.group_id.is_some() =>
            {
                Ok(Some(a.group_id))
            }
            Actor::User(_) => Err(forbidden(
                "your account lacks the right \"Administer the group\"",
            )),
        }
    }

    fn admin_only(actor: &Actor) -> Result<(), ApiError> {
        match actor {
            Actor::Admin => Ok(()),
            Actor::User(_) => Err(forbidden("only the administrator may do this")),
        }
    }

    pub async fn list_accounts(
        &self,
        actor: &Actor,
        search: String,
        offset: i64,
        limit: i64,
    ) -> Result<AccountPage, ApiError> {
        let scope = Self::managed_group(actor)?;
        let (offset, limit) = (offset.max(0), limit.clamp(1, 500));
        let group = scope.flatten();
        let (accounts, total) = self
            .store
            .accounts(search, group, offset, limit)
            .await
            .map_err(store_error)?;
        let mut views = Vec::with_capacity(accounts.len());
        for a in accounts {
            views.push(self.account_view(a).await?);
        }
        Ok(AccountPage {
            accounts: views,
            total,
            offset,
            limit,
        })
    }

    pub async fn get_account(&self, actor: &Actor, id: i64) -> Result<AccountView, ApiError> {
        let account = self.store.account(id).await.map_err(store_error)?;
        self.may_manage(actor, &account)?;
        self.account_view(account).await
    }

    fn may_manage(&self, actor: &Actor, account: &Account) -> Result<(), ApiError> {
        match Self::managed_group(actor)? {
            None => Ok(()),
            Some(group) if group == account.group_id => Ok(()),
            Some(_) => Err(forbidden("this account is not in your group")),
        }
    }

    async fn resolve_group(&self, name: Option<&str>) -> Result<Option<Group>, ApiError> {
        match name.map(str::trim).filter(|n| !n.is_empty()) {
            None => Ok(None),
            Some(n) => match self.store.group_by_name(n).await.map_err(store_error)? {
                Some(g) => Ok(Some(g)),
                None => Err(ApiError::invalid(vec![FieldError {
                    field: "group_name".into(),
                    message: format!("Group: there is no group \"{n}\"; create it first"),
                }])),
            },
        }
    }

    /// Checks a new account (`old` is `None`) or a change to one: absent fields keep `old`'s
    /// values. Returns what to store.
    async fn account_write(
        &self,
        actor: &Actor,
        input: AccountChange,
        old: Option<&Account>,
    ) -> Result<AccountWrite, ApiError> {
        let mut errors = Vec::new();
        let user_name = input
            .user_name
            .or_else(|| old.map(|o| o.user_name.clone()))
            .unwrap_or_default();
        if let Err(e) = check_name("user", &user_name) {
            errors.push(FieldError {
                field: "user_name".into(),
                message: e,
            });
        }
        let group_id = match input.group_name {
            Some(name) => self.resolve_group(name.as_deref()).await?.map(|g| g.id),
            None => old.and_then(|o| o.group_id),
        };
        if group_id.is_none() && name_key(&user_name) == "admin" {
            errors.push(FieldError {
                field: "user_name".into(),
                message: "\"admin\" without a group is the administrator's login in the User Interface; choose another name or a group".into(),
            });
        }
        let password = input.password.filter(|p| !p.is_empty());
        let hash = match (&password, old) {
            (Some(p), _) => match password::check_new_password(p) {
                Ok(()) => Some(password::hash_blocking(p.clone()).await?),
                Err(e) => {
                    errors.push(FieldError {
                        field: "password".into(),
                        message: format!("Password: {e}"),
                    });
                    None
                }
            },
            (None, Some(_)) => None,
            (None, None) => {
                errors.push(FieldError {
                    field: "password".into(),
                    message: "Password: a new account needs a password".into(),
                });
                None
            }
        };
        let settings = match input.settings {
            None => old.map(|o| o.settings.clone()).unwrap_or_default(),
            Some(s) => {
                let s = old
                    .map(|o| keep_secret(s.clone(), &o.settings))
                    .unwrap_or(s);
                match s.validated() {
                    Ok(s) => s,
                    Err(e) => {
                        errors.extend(e.into_iter().map(|f| FieldError {
                            field: format!("settings.{}", f.field),
                            message: f.message,
                        }));
                        SettingsLevel::default()
                    }
                }
            }
        };
        if !errors.is_empty() {
            return Err(ApiError::invalid(errors));
        }
        if let Some(scope) = Self::managed_group(actor)?
            && scope != group_id
        {
            return Err(forbidden(
                "a group administrator manages accounts of the own group only",
            ));
        }
        let mut rights = input
            .rights
            .unwrap_or_else(|| old.map_or_else(|| default_rights(actor), |o| o.rights.clone()));
        rights.sort();
        rights.dedup();
        let write = AccountWrite {
            user_name: user_name.trim().to_string(),
            group_id,
            password_hash: hash,
            can_change_password: input
                .can_change_password
                .or(old.map(|o| o.can_change_password))
                .unwrap_or(true),
            disabled: input.disabled.or(old.map(|o| o.disabled)).unwrap_or(false),
            rights,
            settings,
        };
        group_admin_limits(actor, old, &write)?;
        Ok(write)
    }

    pub async fn create_account(
        &self,
        actor: &Actor,
        input: AccountInput,
    ) -> Result<AccountView, ApiError> {
        let write = self.account_write(actor, input.into(), None).await?;
        let id = self
            .store
            .create_account(write)
            .await
            .map_err(store_error)?;
        let account = self.store.account(id).await.map_err(store_error)?;
        let name = login_name(&account.user_name, account.group_name.as_deref());
        let rights: Vec<&str> = account.rights.iter().map(|r| r.key()).collect();
        self.audit(
            actor,
            "account.create",
            &name,
            &format!("rights: {}", rights.join(", ")),
        )
        .await?;
        self.account_view(account).await
    }

    pub async fn update_account(
        &self,
        actor: &Actor,
        id: i64,
        input: AccountChange,
    ) -> Result<AccountView, ApiError> {
        let old = self.store.account(id).await.map_err(store_error)?;
        self.may_manage(actor, &old)?;
        let write = self.account_write(actor, input, Some(&old)).await?;
        let password_changed = write.password_hash.is_some();
        self.store
            .update_account(id, write)
            .await
            .map_err(store_error)?;
        let new = self.store.account(id).await.map_err(store_error)?;
        if password_changed || new.disabled {
            self.sessions
                .end_all(&Principal::User { account_id: id }, None)
                .await
                .map_err(|e| ApiError::internal("sessions", e))?;
        }
        let details = describe_changes(&old, &new, password_changed);
        self.audit(
            actor,
            "account.update",
            &login_name(&new.user_name, new.group_name.as_deref()),
            &details,
        )
        .await?;
        self.account_view(new).await
    }

    pub async fn delete_account(&self, actor: &Actor, id: i64) -> Result<(), ApiError> {
        let account = self.store.account(id).await.map_err(store_error)?;
        self.may_manage(actor, &account)?;
        if let Actor::User(me) = actor
            && me.id == id
        {
            return Err(forbidden("you cannot delete your own account"));
        }
        if let Actor::User(me) = actor
            && account.rights.iter().any(|r| !me.rights.contains(r))
        {
            return Err(forbidden(
                "this account has rights you do not hold; only the administrator may delete it",
            ));
        }
        self.store.delete_account(id).await.map_err(store_error)?;
        self.sessions
            .end_all(&Principal::User { account_id: id }, None)
            .await
            .map_err(|e| ApiError::internal("sessions", e))?;
        self.audit(
            actor,
            "account.delete",
            &login_name(&account.user_name, account.group_name.as_deref()),
            "",
        )
        .await
    }

    pub async fn list_groups(&self, actor: &Actor) -> Result<Vec<GroupView>, ApiError> {
        let scope = Self::managed_group(actor)?;
        let groups = self.store.groups().await.map_err(store_error)?;
        Ok(groups
            .into_iter()
            .filter(|g| scope.is_none_or(|s| s == Some(g.id)))
            .map(|g| GroupView {
                id: g.id,
                name: g.name,
                members: g.members,
                settings: mask(g.settings),
            })
            .collect())
    }

    async fn group_input(
        &self,
        input: GroupInput,
        old: Option<&Group>,
    ) -> Result<(String, SettingsLevel), ApiError> {
        let mut errors = Vec::new();
        if let Err(e) = check_name("group", &input.name) {
            errors.push(FieldError {
                field: "name".into(),
                message: e,
            });
        }
        let settings = match input.settings {
            None => old.map(|g| g.settings.clone()).unwrap_or_default(),
            Some(s) => {
                let s = old
                    .map(|o| keep_secret(s.clone(), &o.settings))
                    .unwrap_or(s);
                s.validated().unwrap_or_else(|e| {
                    errors.extend(e.into_iter().map(|f| FieldError {
                        field: format!("settings.{}", f.field),
                        message: f.message,
                    }));
                    SettingsLevel::default()
                })
            }
        };
        if errors.is_empty() {
            Ok((input.name.trim().to_string(), settings))
        } else {
            Err(ApiError::invalid(errors))
        }
    }

    pub async fn create_group(
        &self,
        actor: &Actor,
        input: GroupInput,
    ) -> Result<GroupView, ApiError> {
        Self::admin_only(actor)?;
        let (name, settings) = self.group_input(input, None).await?;
        let id = self
            .store
            .create_group(name.clone(), settings)
            .await
            .map_err(store_error)?;
        self.audit(actor, "group.create", &name, "").await?;
        let g = self.store.group(id).await.map_err(store_error)?;
        Ok(GroupView {
            id: g.id,
            name: g.name,
            members: g.members,
            settings: mask(g.settings),
        })
    }

    pub async fn update_group(
        &self,
        actor: &Actor,
        id: i64,
        input: GroupInput,
    ) -> Result<GroupView, ApiError> {
        Self::admin_only(actor)?;
        let old = self.store.group(id).await.map_err(store_error)?;
        let (name, settings) = self.group_input(input, Some(&old)).await?;
        self.store
            .update_group(id, name.clone(), settings)
            .await
            .map_err(store_error)?;
        let details = if old.name != name {
            format!("renamed from {}", old.name)
        } else {
            "settings changed".into()
        };
        self.audit(actor, "group.update", &name, &details).await?;
        let g = self.store.group(id).await.map_err(store_error)?;
        Ok(GroupView {
            id: g.id,
            name: g.name,
            members: g.members,
            settings: mask(g.settings),
        })
    }

    pub async fn delete_group(&self, actor: &Actor, id: i64) -> Result<(), ApiError> {
        Self::admin_only(actor)?;
        let name = self.store.delete_group(id).await.map_err(store_error)?;
        self.audit(actor, "group.delete", &name, "").await
    }

    pub async fn global_settings(&self, actor: &Actor) -> Result<SettingsLevel, ApiError> {
        Self::admin_only(actor)?;
        Ok(mask(
            self.store.global_settings().await.map_err(store_error)?,
        ))
    }

    /// Sets the global defaults. A mailer connection, tracking URL or sender that accounts
    /// rely on (no user or group value) cannot be emptied.
    pub async fn set_global_settings(
        &self,
        actor: &Actor,
        new: SettingsLevel,
    ) -> Result<SettingsLevel, ApiError> {
        Self::admin_only(actor)?;
        let old = self.store.global_settings().await.map_err(store_error)?;
        let new = keep_secret(new, &old)
            .validated()
            .map_err(ApiError::invalid)?;
        let reliance = self.reliance().await?;
        let mut errors = Vec::new();
        let mut check = |field: &str, label: &str, had: bool, has: bool, count: usize| {
            if had && !has && count > 0 {
                errors.push(FieldError {
                    field: field.into(),
                    message: format!("{label}: {count} account(s) rely on the global value (neither they nor their group set one); it cannot be left empty"),
                });
            }
        };
        check(
            "mailer",
            label::MAILER_CONNECTION,
            old.mailer.is_some(),
            new.mailer.is_some(),
            reliance.mailer,
        );
        check(
            "tracking",
            label::TRACKING_URL,
            old.tracking.is_some(),
            new.tracking.is_some(),
            reliance.tracking,
        );
        check(
            "sender_from",
            label::FROM_ADDRESS,
            old.sender_from.is_some(),
            new.sender_from.is_some(),
            reliance.sender_from,
        );
        // The charsets are not checked: an empty list means every charset, which takes
        // nothing away from anyone.
        if !errors.is_empty() {
            return Err(ApiError::invalid(errors));
        }
        self.store
            .set_global_settings(new.clone())
            .await
            .map_err(store_error)?;
        self.audit(
            actor,
            "settings.global",
            "global",
            &changed_setting_names(&old, &new),
        )
        .await?;
        Ok(mask(new))
    }

    /// How many accounts take each setting from the global level.
    pub async fn reliance(&self) -> Result<Reliance, ApiError> {
        let groups = self.store.groups().await.map_err(store_error)?;
        let (accounts, _) = self
            .store
            .accounts(String::new(), None, 0, i64::MAX)
            .await
            .map_err(store_error)?;
        let mut r = Reliance::default();
        for a in accounts {
            let group = a
                .group_id
                .and_then(|id| groups.iter().find(|g| g.id == id))
                .map(|g| &g.settings);
            let eff = resolve(&SettingsLevel::default(), group, &a.settings);
            r.mailer += usize::from(eff.mailer.is_none());
            r.tracking += usize::from(eff.tracking.is_none());
            r.sender_from += usize::from(eff.sender_from.is_none());
            r.charsets += usize::from(eff.charsets.is_none());
        }
        Ok(r)
    }

    pub async fn set_component_settings(
        &self,
        actor: &Actor,
        new: tutti_core::api::ComponentSettings,
    ) -> Result<tutti_core::api::ComponentSettings, ApiError> {
        Self::admin_only(actor)?;
        let old = self.store.component_settings().await.map_err(store_error)?;
        let mut errors = Vec::new();
        for (field, label, url) in [
            ("lui_url", COMPONENT_LABELS.lui_url, &new.lui_url),
            (
                "tracker_url",
                COMPONENT_LABELS.tracker_url,
                &new.tracker_url,
            ),
        ] {
            if let Some(u) = url.as_deref().filter(|u| !u.is_empty())
                && u.parse::<tutti_core::HostPort>().is_err()
            {
                errors.push(FieldError {
                    field: field.into(),
                    message: format!(
                        "{label}: \"{u}\" is not a URL of the form http[s]://host[:port]"
                    ),
                });
            }
        }
        if !(1..=3600).contains(&new.event_transfer_seconds) {
            errors.push(FieldError {
                field: "event_transfer_seconds".into(),
                message: format!(
                    "{}: expected 1 to 3600 seconds",
                    COMPONENT_LABELS.event_transfer_seconds
                ),
            });
        }
        let personal = [
            "email",
            "e-mail",
            "name",
            "first_name",
            "last_name",
            "firstname",
            "lastname",
        ];
        for f in &new.anonymous_profile_fields {
            if personal.contains(&name_key(f).as_str()) {
                errors.push(FieldError {
                    field: "anonymous_profile_fields".into(),
                    message: format!(
                        "{}: \"{f}\" identifies a person and cannot be part of an anonymous profile",
                        COMPONENT_LABELS.anonymous_profile_fields
                    ),
                });
            }
        }
        if !errors.is_empty() {
            return Err(ApiError::invalid(errors));
        }
        self.store
            .set_component_settings(new.clone())
            .await
            .map_err(store_error)?;
        self.audit(
            actor,
            "settings.components",
            "global",
            &component_changes(&old, &new),
        )
        .await?;
        Ok(new)
    }

    /// A user changes their own password; only when the account allows it. Other sessions
    /// of the account end.
    pub async fn change_own_password(
        &self,
        account: &Account,
        old: &str,
        new: &str,
        keep_session: &str,
    ) -> Result<(), ApiError> {
        if !account.can_change_password {
            return Err(forbidden(OWN_PASSWORD_FIXED));
        }
        if !password::verify_blocking(old.to_string(), account.password_hash.clone()).await? {
            return Err(forbidden("the current password is wrong"));
        }
        password::check_new_password(new)
            .map_err(|e| new_password_error(format!("New password: {e}")))?;
        let hash = password::hash_blocking(new.to_string()).await?;
        self.store
            .set_account_password(account.id, hash)
            .await
            .map_err(store_error)?;
        self.sessions
            .end_all(
                &Principal::User {
                    account_id: account.id,
                },
                Some(keep_session),
            )
            .await
            .map_err(|e| ApiError::internal("sessions", e))?;
        let actor = Actor::User(Box::new(account.clone()));
        self.audit(
            &actor,
            "account.password",
            &actor.name(),
            "changed by the user",
        )
        .await
    }

    /// Changes the administrator password (the console's forced first change, or later).
    pub async fn change_admin_password(
        &self,
        old: &str,
        new: &str,
        keep_session: Option<&str>,
    ) -> Result<(), ApiError> {
        let (hash, _) = self.store.admin().await.map_err(store_error)?;
        if !password::verify_blocking(old.to_string(), hash).await? {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "the current password is wrong",
            ));
        }
        password::check_new_password(new)
            .map_err(|e| new_password_error(format!("New password: {e}")))?;
        if new == crate::LEGACY_ADMIN_PASSWORD || new == old {
            return Err(new_password_error(
                "New password: choose a password other than the current one (and other than \"admin\")".into(),
            ));
        }
        let hash = password::hash_blocking(new.to_string()).await?;
        self.store
            .set_admin_password(hash, false)
            .await
            .map_err(store_error)?;
        crate::setup_password::remove(&self.ctx.root);
        self.sessions
            .end_all(&Principal::Admin, keep_session)
            .await
            .map_err(|e| ApiError::internal("sessions", e))?;
        self.audit(&Actor::Admin, "admin.password", "admin", "")
            .await
    }
}

/// How many accounts take each setting from the global level.
#[derive(Debug, Clone, Copy, Default, Serialize, ToSchema)]
pub struct Reliance {
    pub mailer: usize,
    pub tracking: usize,
    pub sender_from: usize,
    pub charsets: usize,
}

fn describe_changes(old: &Account, new: &Account, password_changed: bool) -> String {
    let mut parts = Vec::new();
    if old.user_name != new.user_name || old.group_name != new.group_name {
        parts.push(format!(
            "renamed from {}",
            login_name(&old.user_name, old.group_name.as_deref())
        ));
    }
    if password_changed {
        parts.push("password replaced".into());
    }
    if old.disabled != new.disabled {
        parts.push(if new.disabled {
            "disabled".into()
        } else {
            "enabled".into()
        });
    }
    if old.can_change_password != new.can_change_password {
        parts.push(format!(
            "may change own password: {}",
            new.can_change_password
        ));
    }
    if old.rights != new.rights {
        let keys: Vec<&str> = new.rights.iter().map(|r| r.key()).collect();
        parts.push(format!("rights: {}", keys.join(", ")));
    }
    if old.settings != new.settings {
        parts.push(format!(
            "settings: {}",
            changed_setting_names(&old.settings, &new.settings)
        ));
    }
    parts.join("; ")
}

/// What changed in the component settings, old and new value of each: they hold no
/// secrets.
fn component_changes(
    old: &tutti_core::api::ComponentSettings,
    new: &tutti_core::api::ComponentSettings,
) -> String {
    fn text(v: Option<&String>) -> String {
        v.filter(|s| !s.is_empty())
            .map_or_else(|| "(none)".into(), Clone::clone)
    }
    fn list(v: Option<&Vec<String>>) -> String {
        v.map_or_else(|| "(every field)".into(), |l| format!("[{}]", l.join(", ")))
    }
    let mut parts = Vec::new();
    let mut note = |name: &str, was: String, is: String| {
        if was != is {
            parts.push(format!("{name}: {was} → {is}"));
        }
    };
    note(
        "lui_url",
        text(old.lui_url.as_ref()),
        text(new.lui_url.as_ref()),
    );
    note(
        "tracker_url",
        text(old.tracker_url.as_ref()),
        text(new.tracker_url.as_ref()),
    );
    note(
        "event_transfer_seconds",
        old.event_transfer_seconds.to_string(),
        new.event_transfer_seconds.to_string(),
    );
    note(
        "personal_profile_fields",
        list(old.personal_profile_fields.as_ref()),
        list(new.personal_profile_fields.as_ref()),
    );
    note(
        "anonymous_profile_fields",
        list(Some(&old.anonymous_profile_fields)),
        list(Some(&new.anonymous_profile_fields)),
    );
    if parts.is_empty() {
        "no change".into()
    } else {
        parts.join("; ")
    }
}

fn changed_setting_names(old: &SettingsLevel, new: &SettingsLevel) -> String {
    let mut names = Vec::new();
    if old.mailer != new.mailer {
        names.push("mailer connection");
    }
    if old.tracking != new.tracking {
        names.push("tracking URL");
    }
    if old.sender_from != new.sender_from {
        names.push("sender");
    }
    if old.sender_reply_to != new.sender_reply_to {
        names.push("reply-to");
    }
    if old.charsets != new.charsets {
        names.push("charsets");
    }
    if names.is_empty() {
        "no change".into()
    } else {
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tutti_core::settings::MailerConnection;

    fn account(id: i64, rights: &[Right]) -> Account {
        Account {
            id,
            user_name: format!("user{id}"),
            group_id: Some(1),
            group_name: Some("Sales".into()),
            password_hash: String::new(),
            can_change_password: true,
            disabled: false,
            rights: rights.to_vec(),
            settings: SettingsLevel::default(),
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
        }
    }

    fn write(of: &Account) -> AccountWrite {
        AccountWrite {
            user_name: of.user_name.clone(),
            group_id: of.group_id,
            password_hash: None,
            can_change_password: of.can_change_password,
            disabled: of.disabled,
            rights: of.rights.clone(),
            settings: of.settings.clone(),
        }
    }

    const GA: [Right; 2] = [Right::AdministerGroup, Right::CreateJobs];

    #[test]
    fn a_group_administrator_grants_only_rights_it_holds() {
        let me = account(1, &GA);
        let actor = Actor::User(Box::new(me.clone()));
        assert_eq!(
            default_rights(&actor),
            vec![Right::CreateJobs, Right::AdministerGroup]
        );
        let new = account(2, &[Right::CreateJobs]);
        assert!(group_admin_limits(&actor, None, &write(&new)).is_ok());
        let e = group_admin_limits(&actor, None, &write(&account(2, &Right::ALL))).unwrap_err();
        assert_eq!(e.status, StatusCode::FORBIDDEN);
        assert!(e.message.contains("send_jobs"), "{e:?}");
        // Taking away a right it holds, from an account it covers, is fine.
        let other = account(2, &GA);
        let mut less = write(&other);
        less.rights = vec![Right::CreateJobs];
        assert!(group_admin_limits(&actor, Some(&other), &less).is_ok());
        // The administrator is not limited.
        assert!(group_admin_limits(&Actor::Admin, None, &write(&account(2, &Right::ALL))).is_ok());
    }

    #[test]
    fn a_group_administrator_cannot_raise_itself_or_touch_a_stronger_account() {
        let me = account(1, &GA);
        let actor = Actor::User(Box::new(me.clone()));
        let mut more = write(&me);
        more.rights.push(Right::SendJobs);
        assert!(
            group_admin_limits(&actor, Some(&me), &more)
                .unwrap_err()
                .message
                .contains("your own rights")
        );
        let mut fewer = write(&me);
        fewer.rights = vec![Right::CreateJobs];
        assert!(group_admin_limits(&actor, Some(&me), &fewer).is_err());
        let mut off = write(&me);
        off.disabled = true;
        assert!(group_admin_limits(&actor, Some(&me), &off).is_err());
        assert!(group_admin_limits(&actor, Some(&me), &write(&me)).is_ok());
        let stronger = account(2, &Right::ALL);
        let mut pw = write(&stronger);
        pw.password_hash = Some("new".into());
        assert!(
            group_admin_limits(&actor, Some(&stronger), &pw)
                .unwrap_err()
                .message
                .contains("send_jobs")
        );
    }

    #[test]
    fn a_group_administrator_cannot_point_users_at_a_mailer_or_tracker() {
        let actor = Actor::User(Box::new(account(1, &GA)));
        let mut other = account(2, &[Right::CreateJobs]);
        let mut w = write(&other);
        w.settings.mailer = Some(MailerConnection {
            host: "evil.example.com:25".into(),
            client_address: "x@example.com".into(),
            client_password: "pw".into(),
        });
        assert!(group_admin_limits(&actor, Some(&other), &w).is_err());
        assert!(group_admin_limits(&actor, None, &w).is_err());
        // The administrator's value sent back unchanged is no change; senders are free.
        other.settings.mailer = w.settings.mailer.clone();
        w.settings.sender_from = Some("anna@example.com".into());
        assert!(group_admin_limits(&actor, Some(&other), &w).is_ok());
    }

    #[test]
    fn component_settings_audit_names_each_change_with_old_and_new_value() {
        use tutti_core::api::ComponentSettings;
        let old = ComponentSettings::default();
        assert_eq!(component_changes(&old, &old), "no change");
        let new = ComponentSettings {
            lui_url: Some("https://mail.example.com".into()),
            event_transfer_seconds: 30,
            anonymous_profile_fields: vec!["zip".into()],
            ..ComponentSettings::default()
        };
        assert_eq!(
            component_changes(&old, &new),
            "lui_url: (none) → https://mail.example.com; event_transfer_seconds: 5 → 30; anonymous_profile_fields: [] → [zip]"
        );
    }

    #[test]
    fn a_change_leaves_absent_fields_alone_and_null_group_means_none() {
        let c: AccountChange = crate::body::parse(br#"{"rights": []}"#).unwrap();
        assert_eq!(
            (c.user_name, c.group_name, c.disabled, c.can_change_password),
            (None, None, None, None)
        );
        let c: AccountChange = crate::body::parse(br#"{"group_name": null}"#).unwrap();
        assert_eq!(c.group_name, Some(None));
        let c: AccountChange = crate::body::parse(br#"{"group_name": "Ops"}"#).unwrap();
        assert_eq!(c.group_name, Some(Some("Ops".into())));
    }
}
