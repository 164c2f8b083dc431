//! Why a message could not be read as a report.

/// Why [`parse`](crate::parse) could not read a delivery report or complaint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// More than [`MAX_SIZE`](crate::MAX_SIZE) bytes; nothing was read.
    #[error(
        "the message is {size} bytes, more than the {} accepted (10 MiB)",
        crate::MAX_SIZE
    )]
    TooLarge { size: usize },
    /// No header block, or no `Content-Type` header: not a MIME message.
    #[error("not a MIME message: it has no header block or no Content-Type header")]
    NotMime,
    /// A MIME message of another type (an auto-reply, a read receipt, a plain-text bounce).
    #[error(
        "not a delivery report or complaint: the message is {content_type}, not multipart/report \
         with report-type delivery-status or feedback-report"
    )]
    NotAReport {
        /// The message's type, with its `report-type` when it is a `multipart/report`.
        content_type: String,
    },
    /// A `multipart/report` without the machine-readable part its report type calls for.
    #[error(
        "the multipart/report has no message/delivery-status, message/global-delivery-status \
         or message/feedback-report part"
    )]
    NoStatusPart,
    /// A field in the machine-readable part is missing or cannot be read.
    #[error("the {part} part, line {line}: {message}")]
    BadField {
        /// `delivery-status` or `feedback-report`.
        part: &'static str,
        /// The line within the (decoded) part, from 1.
        line: usize,
        message: String,
    },
    /// A delivery-status part with per-message fields only.
    #[error(
        "the delivery-status part names no recipient (no group of fields with a Final-Recipient \
         after the per-message fields)"
    )]
    NoRecipients,
}
