//! What reading one record gives: an accepted recipient or a rejection with its reason; and
//! the checks that decide between them.

use std::fmt;

use crate::address::address_key;
use crate::error::Reason;
use crate::fields::FieldSplitter;
use crate::framer::{Frame, FrameKind};
use crate::options::Limits;

/// One record of the file, judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// A recipient to import.
    Accepted {
        /// 1-based physical line where the record starts.
        line: u64,
        /// All fields, in column order, with surrounding white space removed.
        fields: Vec<String>,
        /// The address as written (trimmed).
        address: String,
        /// The address normalized for de-duplication: local part as written, domain
        /// lower-cased in IDNA ASCII form.
        key: String,
    },
    /// A record that cannot be imported; the rest of the file is still read.
    Rejected {
        /// 1-based physical line where the record starts.
        line: u64,
        /// The record as written (for a broken or overlong one: its first line, cut short).
        raw: String,
        /// Why it was rejected.
        reason: Reason,
    },
}

impl Record {
    /// The line where the record starts.
    pub fn line(&self) -> u64 {
        match self {
            Record::Accepted { line, .. } | Record::Rejected { line, .. } => *line,
        }
    }
}

impl fmt::Display for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Record::Accepted { line, address, .. } => write!(f, "line {line}: {address}"),
            Record::Rejected { line, reason, .. } => write!(f, "line {line}: {reason}"),
        }
    }
}

/// How many records were read, accepted and rejected; the caller adds each record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Records read (not counting the header row).
    pub read: u64,
    /// Records accepted.
    pub accepted: u64,
    /// Records rejected.
    pub rejected: u64,
}

impl Counts {
    /// Counts `record`.
    pub fn add(&mut self, record: &Record) {
        self.read += 1;
        match record {
            Record::Accepted { .. } => self.accepted += 1,
            Record::Rejected { .. } => self.rejected += 1,
        }
    }
}

/// What the records of a file are checked against.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub columns: usize,
    pub email: usize,
    pub encoding: &'static str,
    pub limits: Limits,
}

/// Splits a framed record and checks it.
pub(crate) fn judge(
    frame: Frame,
    text: &[u8],
    separators: &[usize],
    splitter: &mut FieldSplitter,
    layout: &Layout,
) -> Record {
    let line = frame.line;
    let reject = |reason| Record::Rejected {
        line,
        raw: String::from_utf8_lossy(text).into_owned(),
        reason,
    };
    match frame.kind {
        FrameKind::Broken(reason) => return reject(reason),
        FrameKind::Record { malformed: true } => {
            return reject(Reason::Undecodable {
                encoding: layout.encoding,
            });
        }
        FrameKind::Record { malformed: false } => {}
    }
    let limits = &layout.limits;
    if separators.len() >= limits.max_columns {
        return reject(Reason::TooManyColumns {
            limit: limits.max_columns,
        });
    }
    let mut fields = trimmed(splitter.split(text, separators), layout.columns);
    if fields.len() != layout.columns {
        return reject(Reason::WrongColumnCount {
            expected: layout.columns,
            found: fields.len(),
        });
    }
    if let Some(i) = fields.iter().position(|f| f.len() > limits.max_field_bytes) {
        return reject(Reason::FieldTooLong {
            column: i + 1,
            limit: limits.max_field_bytes,
        });
    }
    let address = std::mem::take(&mut fields[layout.email]);
    if address.is_empty() {
        return reject(Reason::EmptyAddress {
            column: layout.email + 1,
        });
    }
    match address_key(&address) {
        Ok(key) => {
            fields[layout.email].clone_from(&address);
            Record::Accepted {
                line,
                fields,
                address,
                key,
            }
        }
        Err(problem) => reject(Reason::InvalidAddress(problem)),
    }
}

/// Trims every field, then drops empty fields past the `columns` expected (spreadsheets
/// export those).
pub(crate) fn trimmed(fields: Vec<String>, columns: usize) -> Vec<String> {
    let mut fields: Vec<String> = fields
        .into_iter()
        .map(|f| {
            if f.trim().len() == f.len() {
                f
            } else {
                f.trim().to_string()
            }
        })
        .collect();
    while fields.len() > columns.max(1) && fields.last().is_some_and(String::is_empty) {
        fields.pop();
    }
    fields
}

/// Whether `field` holds a valid address.
pub(crate) fn is_address(field: &str) -> bool {
    let field = field.trim();
    !field.is_empty() && address_key(field).is_ok()
}
