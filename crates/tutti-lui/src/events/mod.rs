//! Events from the Tracker (opens, clicks, unsubscribes) and from the Mailers (deliveries,
//! bounces, complaints), imported exactly once; the suppression list they feed.

pub mod api;
pub mod store;
pub mod transfer;
