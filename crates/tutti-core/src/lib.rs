//! What every Tutti component shares: the installation root and its configuration, the
//! wire types and clients of the component APIs, cluster-secret authentication, logging
//! and the frame every component runs in.

pub mod api;
pub mod auth;
pub mod backup;
pub mod branding;
pub mod browser_headers;
pub mod client;
pub mod client_address;
pub mod component;
pub mod config;
pub mod distribute;
pub mod fast_route;
pub mod hostport;
pub mod hot_http;
pub mod http_error;
pub mod logging;
pub mod login_limits;
pub mod metrics;
pub mod names;
pub mod openapi;
pub mod password;
pub mod properties;
pub mod remote_admin;
pub mod rights;
pub mod root;
pub mod runtime;
pub mod secret;
pub mod sessions;
pub mod settings;
pub mod sqlite;
pub mod token;
pub mod web;

pub use component::Component;
pub use hostport::HostPort;
pub use secret::ClusterSecret;
