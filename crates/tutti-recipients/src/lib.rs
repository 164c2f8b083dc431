//! Recipient files for e-mail jobs: CSV or plain text (one address per line) as users upload
//! them, read as a stream in constant memory and turned into checked rows.
//!
//! - [`sniff`] looks at the start of a file for the preview page: encoding, separator,
//!   header names, e-mail and name columns, and the first rows as they would be imported.
//! - [`RecipientReader`] reads a whole file from any [`std::io::Read`] and yields each record
//!   as [`Record::Accepted`] (with a normalized `key` to de-duplicate on) or
//!   [`Record::Rejected`] (with the line, the text and a [`Reason`]).
//! - [`ImportError`] is a problem with the file as a whole: nothing can be imported.
//!
//! De-duplication is left to the caller (a UNIQUE index on the key); so is counting, with
//! [`Counts`]. `docs/recipients.md` describes the accepted files for users.

mod address;
mod encoding;
mod error;
mod fields;
mod framer;
mod header;
mod options;
mod reader;
mod record;
mod sniff;

pub use address::{MAX_ADDRESS_BYTES, address_key};
pub use encoding::EncodingSource;
pub use error::{AddressProblem, ImportError, QuoteProblem, Reason};
pub use header::check_field_name;
pub use options::{CANDIDATE_SEPARATORS, Column, Limits, Options, SAMPLE_BYTES};
pub use reader::RecipientReader;
pub use record::{Counts, Record};
pub use sniff::{Sniffed, sniff};
