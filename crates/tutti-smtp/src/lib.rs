//! Tutti's SMTP client for bulk delivery, and a scriptable SMTP sink for tests.
//!
//! No Rust crate pipelines over pooled connections with a result per recipient, so the
//! client is written here on `smtp-proto` (EHLO capabilities) and tokio-rustls. See
//! [`client::Connection::send_all`].

pub mod client;
pub mod reply;
pub mod server;
pub mod sink;

pub use client::{Connection, Outcome, Outgoing, RelayConfig, Security, SmtpError};
pub use reply::Reply;
