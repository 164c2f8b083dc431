//! A job's message: subject, sender, reply-to, HTML and text in the merge language, the
//! charset, attachments and inline images; checked as the Mailer will compile it.

pub mod api;
pub mod store;
