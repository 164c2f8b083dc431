//! What the caller tells the importer about a file, and the limits it enforces.

use crate::error::ImportError;

/// The separators tried, in this order of preference, when none is given.
pub const CANDIDATE_SEPARATORS: [char; 4] = [',', ';', '\t', '|'];

/// How many bytes of the start of a file [`crate::sniff`] should be given (or the whole file
/// if it is shorter). A sample this long or longer is taken to be cut off: its last record,
/// if not ended by a line break, is left out of the preview.
pub const SAMPLE_BYTES: usize = 64 * 1024;

/// A column picked by the user: by position or by its name in the header row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Column {
    /// 0-based position.
    Index(usize),
    /// A header name, matched case-insensitively (surrounding spaces ignored).
    Name(String),
}

/// Bounds that keep a malicious or broken file from taking unbounded memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The longest record, in bytes after decoding to UTF-8: one line, or several lines joined
    /// by a quoted field. A longer one is rejected; reading goes on at the next line.
    pub max_record_bytes: usize,
    /// The longest field, in bytes after decoding to UTF-8.
    pub max_field_bytes: usize,
    /// The most columns a record may have.
    pub max_columns: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_record_bytes: 64 * 1024,
            max_field_bytes: 16 * 1024,
            max_columns: 500,
        }
    }
}

/// How to read a recipient file. `None` means "detect it" wherever it is allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The field separator; `None` detects one of `,` `;` TAB `|` from the sample. A
    /// non-ASCII character is matched after decoding, so `¦` works in Latin-1 and UTF-8 files.
    pub separator: Option<char>,
    /// The quote character (ASCII), `"` by default; `None` turns quoting off.
    pub quote: Option<char>,
    /// Whether the first row holds the column names (merge field names).
    pub header: bool,
    /// An encoding label such as `UTF-8`, `ISO-8859-1`, `windows-1252` or `Shift_JIS`; `None`
    /// detects it: a byte order mark, else UTF-8 if the sample is valid UTF-8, else a guess.
    pub encoding: Option<String>,
    /// The column that holds the e-mail address; `None` detects it.
    pub email_column: Option<Column>,
    /// The column that holds the recipient's name; `None` looks for a header named like
    /// `name`, and there may be none.
    pub name_column: Option<Column>,
    /// How many records [`crate::sniff`] parses for the preview.
    pub preview_rows: usize,
    /// Size bounds.
    pub limits: Limits,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            separator: None,
            quote: Some('"'),
            header: true,
            encoding: None,
            email_column: None,
            name_column: None,
            preview_rows: 10,
            limits: Limits::default(),
        }
    }
}

impl Options {
    /// Checks the choices that cannot work whatever the file holds.
    pub(crate) fn validate(&self) -> Result<(), ImportError> {
        let bad = |what: String| Err(ImportError::InvalidOptions(what));
        if let Some(q) = self.quote {
            if !q.is_ascii() || q.is_ascii_control() || q.is_ascii_alphanumeric() {
                return bad(format!(
                    "the quote character {q:?} must be an ASCII punctuation character"
                ));
            }
            if self.separator == Some(q) {
                return bad(format!(
                    "the separator and the quote character are both {q:?}"
                ));
            }
        }
        if let Some(s) = self.separator
            && (s == '\r' || s == '\n' || s == '\u{feff}' || s.is_alphanumeric())
        {
            return bad(format!("{s:?} cannot be a separator"));
        }
        let l = &self.limits;
        if l.max_record_bytes < 16 || l.max_field_bytes == 0 || l.max_columns == 0 {
            return bad("the limits are too small to read any record".into());
        }
        Ok(())
    }
}

/// Shows a separator or quote the way users read it: `','`, `TAB`.
pub(crate) fn show_char(c: char) -> String {
    match c {
        '\t' => "TAB".to_string(),
        ' ' => "SPACE".to_string(),
        c => format!("'{c}'"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn invalid(options: Options) -> String {
        options.validate().unwrap_err().to_string()
    }

    #[test]
    fn impossible_options_are_refused() {
        assert!(Options::default().validate().is_ok());
        assert!(
            Options {
                separator: Some('¦'),
                quote: None,
                ..Options::default()
            }
            .validate()
            .is_ok()
        );
        assert_eq!(
            invalid(Options {
                quote: Some('«'),
                ..Options::default()
            }),
            "invalid import options: the quote character '«' must be an ASCII punctuation character"
        );
        assert_eq!(
            invalid(Options {
                separator: Some('\n'),
                ..Options::default()
            }),
            "invalid import options: '\\n' cannot be a separator"
        );
        assert_eq!(
            invalid(Options {
                separator: Some('x'),
                ..Options::default()
            }),
            "invalid import options: 'x' cannot be a separator"
        );
        let limits = Limits {
            max_columns: 0,
            ..Limits::default()
        };
        assert_eq!(
            invalid(Options {
                limits,
                ..Options::default()
            }),
            "invalid import options: the limits are too small to read any record"
        );
    }

    #[test]
    fn separators_are_shown_readably() {
        assert_eq!(show_char('\t'), "TAB");
        assert_eq!(show_char(';'), "';'");
    }
}
