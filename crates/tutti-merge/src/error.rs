//! Errors that point at the place in the user's text where they are.

use std::fmt;

/// One problem in a template: where (which text, line and column, both from 1, columns
/// in characters) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeError {
    /// The text the problem is in: "subject", "HTML body", `drop-in "footer"`, …
    pub source: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for MergeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}, line {}, column {}: {}",
            self.source, self.line, self.column, self.message
        )
    }
}

impl std::error::Error for MergeError {}

/// All the problems of one compilation, in the order of the text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
pub struct MergeErrors(pub Vec<MergeError>);
