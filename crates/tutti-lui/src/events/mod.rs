//! Events from the Tracker (opens, clicks, unsubscribes) and from the Mailers (deliveries,
//! bounces, complaints), imported exactly once; the suppression lists they feed.

pub mod api;
pub mod store;
pub mod suppression_api;
pub mod suppression_page;
pub mod suppressions;
pub mod transfer;
