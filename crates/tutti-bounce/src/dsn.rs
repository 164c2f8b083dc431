//! Delivery status notifications: the `message/delivery-status` part (RFC 3464) or its
//! UTF-8 form `message/global-delivery-status` (RFC 6533).

use crate::address::{strip_type, typed_address};
use crate::error::ParseError;
use crate::fields::{Field, Group, groups, quote};
use crate::original::OriginalHeaders;
use crate::severity::{Action, Severity, StatusCode};

const PART: &str = "delivery-status";

/// A delivery status notification: what happened to the message for each recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryReport {
    /// The MTA that wrote the report (`Reporting-MTA`, without its `dns;` type).
    pub reporting_mta: Option<String>,
    /// `Original-Envelope-Id`: the `ENVID` given with `MAIL FROM`.
    pub original_envelope_id: Option<String>,
    /// One entry per recipient group, in the report's order; never empty.
    pub recipients: Vec<RecipientStatus>,
    /// From the returned original message or its headers part, when present.
    pub original: OriginalHeaders,
}

/// What happened to the message for one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientStatus {
    /// `Final-Recipient`: the address only (type and `<>` dropped), domain lowercased.
    pub final_recipient: String,
    /// `Original-Recipient` (the `ORCPT` given with `RCPT TO`), as `final_recipient`.
    pub original_recipient: Option<String>,
    pub action: Action,
    /// `Status` as given, such as `5.1.1`: class 2, 4 or 5, a dot, 1–3 digits, a dot,
    /// 1–3 digits.
    pub status: String,
    /// What this means for the address: see the crate documentation.
    pub severity: Severity,
    /// `Diagnostic-Code` without its type (`smtp;`): the remote server's reply, unfolded.
    pub diagnostic: Option<String>,
    /// `Remote-MTA`, without its `dns;` type.
    pub remote_mta: Option<String>,
    /// `Last-Attempt-Date` as written.
    pub last_attempt: Option<String>,
}

/// Reads the text of a delivery-status part.
///
/// The first group of fields is the per-message group; each following group is a
/// recipient. Sloppy reports whose first group already holds a `Final-Recipient` have that
/// group read as both.
pub(crate) fn parse(text: &str, original: OriginalHeaders) -> Result<DeliveryReport, ParseError> {
    let groups = groups(text);
    let Some(first) = groups.first() else {
        return Err(ParseError::NoRecipients);
    };
    let skip = usize::from(first.get("Final-Recipient").is_none());
    let recipients = groups[skip..]
        .iter()
        .map(recipient)
        .collect::<Result<Vec<_>, _>>()?;
    if recipients.is_empty() {
        return Err(ParseError::NoRecipients);
    }
    Ok(DeliveryReport {
        reporting_mta: first.value("Reporting-MTA").and_then(typed_text),
        original_envelope_id: first.value("Original-Envelope-Id").map(str::to_string),
        recipients,
        original,
    })
}

fn recipient(group: &Group) -> Result<RecipientStatus, ParseError> {
    let final_field = required(group, "Final-Recipient")?;
    let final_recipient = typed_address(&final_field.value)
        .ok_or_else(|| bad(final_field, "Final-Recipient", "has no address"))?;

    let action_field = required(group, "Action")?;
    let action = Action::from_field(&action_field.value).ok_or_else(|| {
        bad(
            action_field,
            "Action",
            "is not one of failed, delayed, delivered, relayed, expanded",
        )
    })?;

    let status_field = required(group, "Status")?;
    // The code is the first word: some MTAs add a comment ("5.1.1 (bad mailbox)").
    let status = status_field.value.split_whitespace().next().unwrap_or("");
    let code = StatusCode::parse(status)
        .ok_or_else(|| bad(status_field, "Status", "is not a status code like 5.1.1"))?;

    Ok(RecipientStatus {
        final_recipient,
        original_recipient: group.value("Original-Recipient").and_then(typed_address),
        action,
        status: status.to_string(),
        severity: code.severity(action),
        diagnostic: group.value("Diagnostic-Code").and_then(typed_text),
        remote_mta: group.value("Remote-MTA").and_then(typed_text),
        last_attempt: group.value("Last-Attempt-Date").map(str::to_string),
    })
}

/// The field called `name`, or the error that the recipient group starting at its first
/// line has none.
fn required<'g>(group: &'g Group, name: &str) -> Result<&'g Field, ParseError> {
    group.get(name).ok_or_else(|| ParseError::BadField {
        part: PART,
        line: group.line,
        message: format!("the recipient group starting on this line has no {name} field"),
    })
}

fn bad(field: &Field, name: &str, problem: &str) -> ParseError {
    ParseError::BadField {
        part: PART,
        line: field.line,
        message: format!("{name} {} {problem}", quote(&field.value, 60)),
    }
}

/// `dns; mx.example` → `mx.example`, `smtp; 550 …` → `550 …`; `None` when nothing is left.
fn typed_text(value: &str) -> Option<String> {
    let (_, text) = strip_type(value);
    (!text.is_empty()).then(|| text.to_string())
}
