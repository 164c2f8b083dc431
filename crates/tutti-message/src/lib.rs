//! The message of a Tutti job.
//!
//! A job's message is prepared once ([`Composer::new`]): its texts are compiled with the
//! merge language, checked against the chosen charset, its links found and replaced by
//! per-recipient slots, its attachments encoded. Per recipient, [`Composer::compose`]
//! only fills in and writes the MIME message.

pub mod charset;
pub mod compose;
pub mod encode;
pub mod links;
pub use compose::{
    Attachment, Composer, Envelope, Link, MessageSpec, Rendered, TrackingUrls, Written,
    check_content_type,
};
