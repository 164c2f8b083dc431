//! File-level errors that stop an import, and the reasons a single record is rejected.

use std::fmt;

/// A problem with the file as a whole (or with the options): nothing can be imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The options contradict each other or cannot work.
    #[error("invalid import options: {0}")]
    InvalidOptions(String),
    /// The encoding label is not one `encoding_rs` knows.
    #[error("unknown encoding {0:?}: use a name like UTF-8, ISO-8859-1, windows-1252 or Shift_JIS")]
    UnknownEncoding(String),
    /// The file has no records at all (or only blank lines).
    #[error("the file is empty: it has no rows{}", if *.header { ", not even a header row" } else { "" })]
    Empty {
        /// Whether a header row was expected.
        header: bool,
    },
    /// The sample holds no complete row: the first one is longer than the sample.
    #[error("the first {0} bytes of the file hold no complete row")]
    NoRowInSample(usize),
    /// A header is required but the first row holds an address, so it is data.
    #[error(
        "line {line}: the first row should hold the column names but column {column} holds the \
         e-mail address {value:?}: add a header row, or say that the file has none"
    )]
    HeaderMissing {
        /// Line of the first row.
        line: u64,
        /// 1-based column.
        column: usize,
        /// The address found.
        value: String,
    },
    /// The header row itself could not be read.
    #[error("line {line}: the header row cannot be read: {reason}")]
    HeaderUnreadable {
        /// Line of the header row.
        line: u64,
        /// Why.
        reason: Reason,
    },
    /// A header name is empty.
    #[error("line {line}: column {column} has no name in the header row")]
    EmptyHeaderName {
        /// Line of the header row.
        line: u64,
        /// 1-based column.
        column: usize,
    },
    /// Two header names are equal (ignoring case).
    #[error(
        "line {line}: columns {first} and {second} are both named {name:?} (names are compared \
         ignoring case)"
    )]
    DuplicateHeaderName {
        /// Line of the header row.
        line: u64,
        /// The name as written in the second column.
        name: String,
        /// 1-based column of the first use.
        first: usize,
        /// 1-based column of the second use.
        second: usize,
    },
    /// A header name cannot be a column name.
    #[error(
        "line {line}: column {column} is named {name:?}, which cannot be a column name: {problem}"
    )]
    InvalidHeaderName {
        /// Line of the header row.
        line: u64,
        /// 1-based column.
        column: usize,
        /// The name as written.
        name: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The separator yields one column although another one would split the rows.
    #[error(
        "line {line}: reading with {used} as separator gives a single column, but the file \
         seems to use {suggested} as separator"
    )]
    WrongSeparator {
        /// Line of the first row.
        line: u64,
        /// The separator that was given, shown like `','`.
        used: String,
        /// The separator that fits, shown like `';'`.
        suggested: String,
    },
    /// No column holds the addresses.
    #[error("no e-mail column found: {0}")]
    NoEmailColumn(String),
    /// A column picked by name is not in the header.
    #[error("there is no column named {name:?}; the columns are {available}")]
    UnknownColumn {
        /// The name given.
        name: String,
        /// The header names, listed.
        available: String,
    },
    /// A column picked by position is past the last column.
    #[error("column {column} was picked, but the file has only {columns} column(s)")]
    ColumnOutOfRange {
        /// 1-based column picked.
        column: usize,
        /// How many columns there are.
        columns: usize,
    },
    /// Reading the input failed.
    #[error("reading the file failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Why one record was rejected; the rest of the file is still read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// The e-mail field is empty.
    EmptyAddress {
        /// 1-based column of the e-mail field.
        column: usize,
    },
    /// The e-mail field holds no valid address.
    InvalidAddress(AddressProblem),
    /// The record has more or fewer columns than the file.
    WrongColumnCount {
        /// Columns in the header (or in most rows, without header).
        expected: usize,
        /// Columns in this record.
        found: usize,
    },
    /// Quotes are not balanced or stand where they cannot.
    BrokenQuoting(QuoteProblem),
    /// The record holds bytes that are not valid in the file's encoding.
    Undecodable {
        /// The encoding's name.
        encoding: &'static str,
    },
    /// The record is longer than [`crate::Limits::max_record_bytes`].
    RecordTooLong {
        /// The limit in bytes.
        limit: usize,
    },
    /// A field is longer than [`crate::Limits::max_field_bytes`].
    FieldTooLong {
        /// 1-based column.
        column: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// The record has more than [`crate::Limits::max_columns`] columns.
    TooManyColumns {
        /// The limit.
        limit: usize,
    },
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::EmptyAddress { column } => {
                write!(f, "the e-mail field (column {column}) is empty")
            }
            Reason::InvalidAddress(p) => write!(f, "invalid e-mail address: {p}"),
            Reason::WrongColumnCount { expected, found } => {
                write!(
                    f,
                    "wrong number of columns: expected {expected}, found {found}"
                )
            }
            Reason::BrokenQuoting(p) => write!(f, "broken quoting: {p}"),
            Reason::Undecodable { encoding } => {
                write!(f, "holds bytes that are not valid {encoding} text")
            }
            Reason::RecordTooLong { limit } => {
                write!(f, "the row is longer than {limit} bytes")
            }
            Reason::FieldTooLong { column, limit } => {
                write!(f, "column {column} is longer than {limit} bytes")
            }
            Reason::TooManyColumns { limit } => {
                write!(f, "the row has more than {limit} columns")
            }
        }
    }
}

/// What is wrong with the quotes of a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuoteProblem {
    /// A quoted field is never closed before the end of the file.
    Unterminated {
        /// Line where the quote opens.
        line: u64,
        /// 1-based column of the field.
        column: usize,
    },
    /// A quoted field runs on past the record size limit: most likely its closing quote is
    /// missing.
    Unclosed {
        /// Line where the quote opens.
        line: u64,
        /// 1-based column of the field.
        column: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// Text follows the closing quote of a field.
    TextAfterQuote {
        /// Line of the closing quote.
        line: u64,
        /// 1-based column of the field.
        column: usize,
    },
}

impl fmt::Display for QuoteProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QuoteProblem::Unterminated { line, column } => write!(
                f,
                "the quote that opens column {column} on line {line} is never closed"
            ),
            QuoteProblem::Unclosed {
                line,
                column,
                limit,
            } => write!(
                f,
                "the quote that opens column {column} on line {line} is not closed within \
                 {limit} bytes"
            ),
            QuoteProblem::TextAfterQuote { line, column } => write!(
                f,
                "text follows the closing quote of column {column} on line {line} (a quote \
                 inside a quoted field must be doubled)"
            ),
        }
    }
}

/// Why an e-mail address is not valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddressProblem {
    /// No `@`.
    NoAt,
    /// More than one `@` outside a quoted local part.
    SeveralAt,
    /// White space inside the address.
    Spaces,
    /// Written as `Name <address>`.
    DisplayName,
    /// Nothing before the `@`.
    EmptyLocalPart,
    /// Nothing after the `@`.
    EmptyDomain,
    /// The part before the `@` is longer than 64 bytes.
    LocalPartTooLong,
    /// The whole address is longer than 254 bytes.
    TooLong {
        /// Its length in bytes.
        length: usize,
    },
    /// The domain has no dot, like `localhost`.
    NoDotInDomain,
    /// An IP address in brackets instead of a domain.
    DomainLiteral,
    /// A character that cannot stand in the local part.
    BadLocalCharacter(char),
    /// The local part's dots or quotes are misplaced.
    BadLocalPart,
    /// The domain is not a valid host name.
    BadDomain(String),
}

impl fmt::Display for AddressProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddressProblem::NoAt => write!(f, "no '@'"),
            AddressProblem::SeveralAt => write!(f, "more than one '@'"),
            AddressProblem::Spaces => write!(f, "contains spaces"),
            AddressProblem::DisplayName => write!(
                f,
                "written as 'Name <address>': the e-mail column must hold the address alone"
            ),
            AddressProblem::EmptyLocalPart => write!(f, "nothing before the '@'"),
            AddressProblem::EmptyDomain => write!(f, "nothing after the '@'"),
            AddressProblem::LocalPartTooLong => {
                write!(f, "the part before the '@' is longer than 64 characters")
            }
            AddressProblem::TooLong { length } => {
                write!(f, "too long: {length} bytes, at most 254 are allowed")
            }
            AddressProblem::NoDotInDomain => {
                write!(f, "bad domain: it has no dot (like example.com)")
            }
            AddressProblem::DomainLiteral => {
                write!(f, "bad domain: IP addresses in brackets are not accepted")
            }
            AddressProblem::BadLocalCharacter(c) => {
                write!(f, "the character {c:?} is not allowed before the '@'")
            }
            AddressProblem::BadLocalPart => write!(
                f,
                "the part before the '@' is malformed (a dot at its start or end, two dots in a \
                 row, or an unbalanced quote)"
            ),
            AddressProblem::BadDomain(why) => write!(f, "bad domain: {why}"),
        }
    }
}
