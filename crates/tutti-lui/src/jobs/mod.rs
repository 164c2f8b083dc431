//! Email jobs: ids, storage, who may do what, and their API.

pub mod api;
pub mod ids;
pub mod model;
pub mod store;
