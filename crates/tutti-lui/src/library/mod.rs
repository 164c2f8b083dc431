//! A group's library: drop-ins (named texts merged into messages as `{{name}}`) and
//! message templates, shared by the group's members (an account without a group keeps
//! its own).

pub mod api;
pub mod store;
