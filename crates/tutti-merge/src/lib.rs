//! Tutti's merge language, as in the reference (see `docs/merge-language.md`):
//!
//! - `&NAME;` inserts the recipient's field NAME (case-insensitive); `&*TO;` the address.
//!   Only known fields are replaced; an unknown name is an error unless it is an HTML
//!   entity such as `&amp;`, which stays as it is.
//! - Lines `.BB condition`, `.ELSE`, `.EB` (column 1, any case, nestable) choose text per
//!   recipient; `.*` lines are comments.
//! - `{{name}}` inserts a drop-in (itself merge text); `{{*Name}}` a system drop-in, whose
//!   value is fixed for the job or filled per recipient by the caller (a *slot*).
//!
//! A template is compiled once per job ([`compile`]), which finds every error with its
//! line and column; each recipient then only fills the compiled form in ([`Template::render`]).

mod condition;
mod error;
mod fields;
mod template;

use std::collections::HashMap;

pub use condition::{Condition, ConditionError};
pub use error::{MergeError, MergeErrors};
pub use fields::{ADDRESS, Fields, is_merge_name};
pub use template::{
    Budget, MAX_DROPIN_EXPANSIONS, MAX_EXPANDED_BYTES, MAX_RENDERED_BYTES, SLOT_CLOSE, SLOT_OPEN,
    Template, TooLarge, compile, compile_within, slot_marker,
};

/// A recipient's field values by column. A column past the end reads as empty.
pub trait FieldValues {
    fn field(&self, column: usize) -> &str;
}

/// A recipient as a template sees it: fields, and the per-recipient values of slots.
pub trait Recipient: FieldValues {
    /// Appends the value of `slot` for this recipient.
    fn slot(&self, slot: usize, out: &mut String);
}

impl FieldValues for [&str] {
    fn field(&self, column: usize) -> &str {
        self.get(column).copied().unwrap_or("")
    }
}

impl FieldValues for [String] {
    fn field(&self, column: usize) -> &str {
        self.get(column).map_or("", String::as_str)
    }
}

/// What a system drop-in (`{{*Name}}`) stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SystemDropIn {
    /// The same text for every recipient (`{{*FromAddress}}`).
    Text(String),
    /// Filled per recipient by the caller through [`Recipient::slot`] (`{{*UnsubscribeURL}}`).
    Slot(usize),
}

/// Everything a template may refer to.
#[derive(Debug, Clone, Default)]
pub struct Env {
    pub fields: Fields,
    /// Drop-ins by exact name; their content is merge text itself.
    pub dropins: HashMap<String, String>,
    /// System drop-ins by exact name, with the `*`.
    pub system: HashMap<String, SystemDropIn>,
    /// When off, `{{…}}` is left as it is, system drop-ins too (as in the reference).
    pub dropins_enabled: bool,
}

/// How field values are written into the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escape {
    /// As they are (plain-text bodies, URLs that are encoded later).
    None,
    /// `&`, `<`, `>`, `"` and `'` as HTML entities, so that recipient data can neither
    /// break the markup nor add any.
    Html,
    /// Line breaks become spaces (subject, sender, reply-to: a value cannot add a header).
    SingleLine,
}

/// How a text is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Whether `.BB`/`.ELSE`/`.EB`/`.*` lines are directives (bodies) or text (one-line
    /// fields such as the subject).
    pub directives: bool,
    pub escape: Escape,
}

impl Options {
    /// For an HTML body.
    pub const HTML: Options = Options {
        directives: true,
        escape: Escape::Html,
    };
    /// For a plain-text body.
    pub const TEXT: Options = Options {
        directives: true,
        escape: Escape::None,
    };
    /// For a header: subject, sender name or address, reply-to.
    pub const HEADER: Options = Options {
        directives: false,
        escape: Escape::SingleLine,
    };
}
