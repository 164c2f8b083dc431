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
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: String,
    /// For refused input: each bad field, with its key and what is wrong with it. Absent
    /// when the error is not about particular fields.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldError>,
}

/// A problem with one field of an input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FieldError {
    /// The field's key in the API's JSON, e.g. `settings.tracking.host`.
    pub field: String,
    /// What is wrong, naming the field as the Hub's pages label it, e.g.
    /// `Tracker host: "trk/x" has a path (/x); give only the host name`.
    pub message: String,
}

/// `POST /hub/api/registry/login`: a component asks the Hub whether a login is right.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct LoginRequest {
    pub user_name: String,
    /// Empty or absent for an account without a group.
    #[serde(default)]
    pub group_name: Option<String>,
    pub password: String,
    /// The address the person logs in from (behind the component's TrustedProxies, the one
    /// they name), for the Hub's login limits; absent: the calling component's address.
    #[serde(default)]
    pub client_address: Option<String>,
}

/// An account as the components see it: who, which rights, which settings apply.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct AccountInfo {
    pub id: i64,
    pub user_name: String,
    /// The group's id, never given to another group: what components key a group's
    /// things on (its name can change, and be given to a new group). Absent only in
    /// answers cached from earlier versions.
    #[serde(default)]
    pub group_id: Option<i64>,
    pub group_name: Option<String>,
    pub rights: Vec<crate::rights::Right>,
    pub can_change_password: bool,
    pub settings: crate::settings::EffectiveSettings,
    /// Changes whenever the account's password changes (a digest of the Hub's password
    /// hash), so a component that caches logins knows to forget a cached password.
    pub password_stamp: String,
}

/// A group as `GET /hub/api/registry/groups` lists them: its id, never given to another
/// group, and its name now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GroupRef {
    pub id: i64,
    pub name: String,
}

/// A member of a group, as `GET /hub/api/registry/groups/{name}/members` lists them
/// (enabled accounts only): whom a job's owner can let work on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GroupMember {
    pub id: i64,
    pub user_name: String,
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

/// What the Tracker keeps of each recipient's events (reference section 13).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TrackingType {
    /// Events tied to the recipient (the token's key is the recipient's number in the job).
    Personal,
    /// Events tied to an anonymous profile (the key names a profile without personal fields).
    Anonymous,
    /// Events tied to a random per-recipient id that leads to no person.
    Unique,
    /// Counts only: no key is stored.
    Blind,
}

/// One link of a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LinkSpec {
    /// The target, e.g. `https://shop.example/sale`; for a link with merge fields, the
    /// unmerged template (each recipient's merged target travels in their token).
    pub url: String,
    /// Whether clicks on this link are recorded (it redirects either way).
    pub tracked: bool,
    /// Whether the target contains merge fields.
    #[serde(default)]
    pub merged: bool,
}

/// `PUT /trk/api/jobs/{job}`: a job's key, tracking type and link table. Links are numbered
/// by their place in `links`, from 0.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobRegistration {
    /// The job's 32-byte signing key, base64url.
    pub key: String,
    pub tracking: TrackingType,
    /// Whether opens are recorded.
    pub opens: bool,
    pub links: Vec<LinkSpec>,
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    Open,
    Click,
    Unsubscribe,
}

/// Who (or what) made a request, as far as its user agent tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AgentClass {
    Browser,
    MailClient,
    /// A privacy or image proxy that fetches for the reader (Apple Mail Privacy
    /// Protection, Google's image proxy).
    Proxy,
    /// A link previewer or prefetcher (chat apps, Office, search previews).
    Prefetcher,
    /// A security scanner or a script.
    Scanner,
    Unknown,
}

/// One recorded event, from `GET /trk/api/events`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TrackingEvent {
    /// The feed's cursor: events come in this order.
    pub seq: i64,
    pub job: String,
    pub kind: EventKind,
    /// The link's index (clicks).
    pub link: Option<u32>,
    /// The recipient key, as the job's tracking type allows (none for blind tracking).
    pub recipient: Option<u64>,
    pub at: DateTime<Utc>,
    pub agent: AgentClass,
    /// Why the event looks like machine traffic: `head`, `no_user_agent`, `proxy`,
    /// `prefetcher`, `scanner`, `too_fast`. Empty: a person.
    pub machine: Vec<String>,
}

/// `GET /trk/api/events?after=CURSOR&limit=N`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EventPage {
    pub events: Vec<TrackingEvent>,
    /// Pass as `after` to get the next events.
    pub next: i64,
}
