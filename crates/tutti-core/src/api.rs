//! Wire types of the component APIs: what one component sends another. Every request and
//! answer between components is one of these, so the contract can be read in one place.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::component::Component;
use crate::hostport::Scheme;

/// The version of this build, announced to the Hub and shown in health answers.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// `GET /{component}/health`, unauthenticated.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Health {
    pub component: Component,
    pub instance_id: String,
    pub version: String,
    pub status: String,
}

/// `GET /{component}/api/ping`, authenticated: proves the caller's cluster secret is right.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Ping {
    pub component: Component,
    pub instance_id: String,
}

/// `POST /hub/api/components`: a component tells the Hub where it is.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Announce {
    pub component: Component,
    pub instance_id: String,
    pub version: String,
    pub scheme: Scheme,
    /// The host name the Hub should use; `None`: the address the announcement came from.
    pub host: Option<String>,
    pub port: u16,
    pub started_at: DateTime<Utc>,
}

/// One component in `GET /hub/api/components`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ComponentEntry {
    pub component: Component,
    pub title: String,
    pub instance_id: String,
    /// Base URL of the component, e.g. `http://127.0.0.3:8080/lui`.
    pub url: String,
    pub version: String,
    pub started_at: DateTime<Utc>,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// Whether its health endpoint answered, as itself, just now.
    pub answering: bool,
    /// Why not, when it did not.
    pub problem: Option<String>,
}

/// `GET /hub/api/components`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ComponentList {
    pub hub_instance_id: String,
    pub components: Vec<ComponentEntry>,
}

/// The body of every error answer of a component API.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErrorBody {
    pub error: String,
}

/// `POST /hub/api/registry/login`: a component asks the Hub whether a login is right.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct LoginRequest {
    pub user_name: String,
    /// Empty or absent for an account without a group.
    #[serde(default)]
    pub group_name: Option<String>,
    pub password: String,
    /// The address the person logs in from, for the Hub's per-address login limits.
    #[serde(default)]
    pub client_address: Option<String>,
}

/// An account as the components see it: who, which rights, which settings apply.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct AccountInfo {
    pub id: i64,
    pub user_name: String,
    pub group_name: Option<String>,
    pub rights: Vec<crate::rights::Right>,
    pub can_change_password: bool,
    pub settings: crate::settings::EffectiveSettings,
    /// Changes whenever the account's password changes (a digest of the Hub's password
    /// hash), so a component that caches logins knows to forget a cached password.
    pub password_stamp: String,
}

/// `GET /hub/api/registry/version`: grows with every change to accounts, groups or
/// settings, so components know when to read again.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct RegistryVersion {
    pub version: i64,
}

/// Installation-wide settings of the components (the Hub's "Global Component Settings").
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct ComponentSettings {
    /// The URL under which browsers reach the User Interface, e.g. `https://mail.example.com`
    /// (empty: the address the User Interface announced).
    #[serde(default)]
    pub lui_url: Option<String>,
    /// The URL of the Tracker's API as the User Interface reaches it, for the components
    /// view (empty: the address the Tracker announced).
    #[serde(default)]
    pub tracker_url: Option<String>,
    /// How often the User Interface fetches tracking events and delivery results, in seconds.
    pub event_transfer_seconds: u32,
    /// Which recipient fields a personal tracking profile keeps; absent: every field.
    #[serde(default)]
    pub personal_profile_fields: Option<Vec<String>>,
    /// Which recipient fields make up an anonymous profile (never the address or a name).
    #[serde(default)]
    pub anonymous_profile_fields: Vec<String>,
}

impl Default for ComponentSettings {
    fn default() -> Self {
        ComponentSettings {
            lui_url: None,
            tracker_url: None,
            event_transfer_seconds: 5,
            personal_profile_fields: None,
            anonymous_profile_fields: Vec::new(),
        }
    }
}

/// `GET /hub/api/registry/mailer-connections`: every Mailer the accounts hand jobs to, and
/// at which level each is set (no passwords).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct MailerConnectionUse {
    pub host: String,
    pub client_address: String,
    /// `global default`, `group Sales`, `user anna/Sales`.
    pub set_at: Vec<String>,
}
