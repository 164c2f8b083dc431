//! Reports: what became of a job's messages and what their recipients did, from the
//! imported events; people apart from machines; numbers a tracking type cannot know are
//! `null`, not zero.

pub mod api;
pub mod downloads;
pub mod figures;
pub mod saved;
