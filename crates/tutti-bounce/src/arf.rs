//! Feedback-loop complaints: the `message/feedback-report` part (ARF, RFC 5965).

use crate::address::{normalize, strip_type};
use crate::error::ParseError;
use crate::fields::{Group, groups};
use crate::original::OriginalHeaders;

/// A complaint about a message, sent by a mailbox provider's feedback loop when its user
/// pressed "this is spam" (or reported fraud, a virus, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Complaint {
    /// `Feedback-Type`, lowercased: `abuse`, `fraud`, `virus`, `other`, `not-spam`, …
    pub feedback_type: String,
    /// `User-Agent`: the software that wrote the report.
    pub user_agent: Option<String>,
    /// `Version` of the report format (`1`; Yahoo and AOL write `0.1`).
    pub version: Option<String>,
    /// `Original-Rcpt-To`: the complaining recipient (many providers leave it out or redact it).
    pub original_rcpt_to: Option<String>,
    /// `Original-Mail-From`: the envelope sender of the message complained about.
    pub original_mail_from: Option<String>,
    /// `Reporting-MTA`, without its `dns;` type.
    pub reporting_mta: Option<String>,
    /// `Arrival-Date` (or the older `Received-Date`) as written.
    pub arrival_date: Option<String>,
    /// `Source-IP`: the address the complained-about message came from.
    pub source_ip: Option<String>,
    /// From the returned original message or its headers part, when present.
    pub original: OriginalHeaders,
}

/// Reads the text of a feedback-report part. Its fields are one group; should blank lines
/// split them, the groups are read as one.
pub(crate) fn parse(text: &str, original: OriginalHeaders) -> Result<Complaint, ParseError> {
    let groups = groups(text);
    let report = Group {
        line: groups.first().map_or(1, |g| g.line),
        fields: groups.into_iter().flat_map(|g| g.fields).collect(),
    };
    let feedback_type = match report.get("Feedback-Type") {
        None => {
            return Err(ParseError::BadField {
                part: "feedback-report",
                line: report.line,
                message: "the report has no Feedback-Type field".into(),
            });
        }
        Some(field) => match field.value.split_whitespace().next() {
            Some(kind) => kind.to_ascii_lowercase(),
            None => {
                return Err(ParseError::BadField {
                    part: "feedback-report",
                    line: field.line,
                    message: "Feedback-Type is empty".into(),
                });
            }
        },
    };
    let text = |name: &str| report.value(name).map(str::to_string);
    Ok(Complaint {
        feedback_type,
        user_agent: text("User-Agent"),
        version: text("Version"),
        original_rcpt_to: report.value("Original-Rcpt-To").and_then(normalize),
        original_mail_from: report.value("Original-Mail-From").and_then(normalize),
        reporting_mta: report
            .value("Reporting-MTA")
            .map(|v| strip_type(v).1)
            .filter(|v| !v.is_empty())
            .map(str::to_string),
        arrival_date: text("Arrival-Date").or_else(|| text("Received-Date")),
        source_ip: text("Source-IP"),
        original,
    })
}
