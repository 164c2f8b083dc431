//! Recipients: uploaded files read into lists (tutti-recipients), saved lists, downloads of
//! accepted and rejected rows.

pub mod api;
pub mod import;
pub mod query;
pub mod store;
