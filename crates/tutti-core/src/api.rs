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
