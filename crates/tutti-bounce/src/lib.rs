//! Bounces and complaints, read from the messages that report them. The Mailer's bounce
//! listener hands each message that reaches a VERP return path to [`parse`], and records
//! hard bounces, soft bounces and complaints per recipient.
//!
//! # What is read
//!
//! A message must be a `multipart/report` (RFC 6522) with
//!
//! - `report-type=delivery-status`: a delivery status notification (DSN, RFC 3464), whose
//!   `message/delivery-status` part, or `message/global-delivery-status` part (RFC 6533,
//!   UTF-8 addresses), gives a [`DeliveryReport`]: per-message fields (`Reporting-MTA`,
//!   `Original-Envelope-Id`), then one group of fields per recipient, groups separated by
//!   blank lines. Each recipient needs `Final-Recipient`, `Action` and `Status`.
//! - `report-type=feedback-report`: an abuse report from a feedback loop (ARF, RFC 5965),
//!   whose `message/feedback-report` part gives a [`Complaint`]. It needs `Feedback-Type`.
//!
//! A `multipart/report` without `report-type` is taken for what its machine-readable part
//! is. Anything else is [`ParseError::NotAReport`] (auto-replies, read receipts, plain-text
//! bounces), or [`ParseError::NotMime`] without a `Content-Type` at all.
//!
//! Where real MTAs are sloppy, this is lenient: field names in any case; folded lines
//! joined (each fold becomes one space); CRLF or LF; a first group that already holds a
//! `Final-Recipient` is read as both per-message and recipient fields; `Action` and
//! `Status` are read from their first word (`delivered (to mailbox)`, `5.1.1 (bad
//! mailbox)`); lines that are not fields are skipped. A recipient group without a
//! required field, or with an unknown action or a status that is not a code like `5.1.1`,
//! is an error ([`ParseError::BadField`]) that names the line in the part (after its
//! transfer encoding is undone).
//!
//! Addresses (`Final-Recipient`, `Original-Recipient`, `Original-Rcpt-To`, ...) lose their
//! type (`rfc822;`, `utf-8;` whose `\x{..}` escapes are decoded) and angle brackets, and
//! have their domain lowercased, the local part kept: `rfc822; <Bob@Example.COM>` gives
//! `Bob@example.com`. `Reporting-MTA`, `Remote-MTA` and `Diagnostic-Code` lose their type
//! (`dns;`, `smtp;`, `X-Postfix;`), so the diagnostic is the server's reply itself.
//!
//! The third part, when it is the original message or its headers (`text/rfc822-headers`,
//! `message/rfc822`, `message/global`, `message/global-headers`), gives the
//! [`OriginalHeaders`]: `Message-ID`, `X-Tutti-Job`, `To` and `Return-Path`, the first
//! occurrence of each.
//!
//! # Trust
//!
//! Anyone can write a report, so nothing in it proves which message it is about: a
//! `Message-ID`, `To` or `X-Tutti-Job` is copied from a message or made up. A caller that
//! changes a recipient's state must tell the recipient by something it can check itself,
//! such as the Mailer's signed return path, found where the report was sent (the envelope
//! recipient) or in [`Report::return_paths`].
//!
//! # Severity
//!
//! Each recipient of a DSN gets a [`Severity`] from its `Action` and `Status` only (never
//! from the diagnostic text, whose wording varies by server and language). Hard means
//! "this address does not take mail: stop sending to it", so it is kept for what says so:
//!
//! | Action                          | Status                        | Severity |
//! |---------------------------------|-------------------------------|----------|
//! | failed                          | 5.x.x                         | Hard     |
//! | failed                          | 5.2.2, 5.2.3, 5.3.1, 5.3.4    | Soft     |
//! | failed                          | 4.x.x (or a contradictory 2.x.x) | Soft  |
//! | delayed                         | any                           | Soft     |
//! | delivered, relayed, expanded    | any                           | None     |
//!
//! The permanent failures counted as soft speak of room or size, not of the address:
//! 5.2.2 mailbox full (Gmail, Yahoo and Outlook send it for a full mailbox, which is
//! emptied again), 5.2.3 message longer than the mailbox accepts, 5.3.1 mail system full
//! and 5.3.4 message too big for the system. The address stays good and a later or smaller
//! message gets through, so the caller should count them as soft bounces (and give up on
//! an address after repeated soft bounces, as for any soft bounce). 5.2.0 and 5.2.1
//! (mailbox unavailable or disabled) and the policy statuses 5.7.x stay hard: the first say
//! the mailbox is not usable, and the second will refuse every later message from the same
//! sender too.
//!
//! # Limits
//!
//! Input longer than [`MAX_SIZE`] (10 MiB) is refused unread ([`ParseError::TooLarge`]).
//! Any other input gives a report or an error, never a panic, in time linear in its
//! length: header blocks, boundaries and transfer encodings are read by mail-parser one
//! level deep (returned messages are not parsed, only their header block is read), fields
//! line by line. A `Content-Type` value longer than 1 KiB is not read (a part with one is
//! skipped; on the message itself it is [`ParseError::NotAReport`]), nor is a boundary
//! longer than 200 characters (no report then): real ones are far shorter, mail-parser
//! reads long `Content-Type` values in quadratic time, and looking for a boundary costs its
//! length at every `--` in the message.

mod address;
mod arf;
mod dsn;
mod error;
mod fields;
mod mime;
mod original;
mod severity;

pub use arf::Complaint;
pub use dsn::{DeliveryReport, RecipientStatus};
pub use error::ParseError;
pub use original::OriginalHeaders;
pub use severity::{Action, Severity};

/// The largest message [`parse`] reads: 10 MiB. Reports are small; a big one carries the
/// whole original, which is not needed.
pub const MAX_SIZE: usize = 10 * 1024 * 1024;

/// What a report says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// A delivery status notification (bounce, delay or success notice).
    Delivery(DeliveryReport),
    /// A feedback-loop complaint.
    Complaint(Complaint),
}

impl Report {
    /// The envelope senders of the message reported on, as the report gives them: an ARF
    /// complaint's `Original-Mail-From`, then the returned message's `Return-Path` (the
    /// address that a feedback loop, which writes to its own address, still carries).
    pub fn return_paths(&self) -> impl Iterator<Item = &str> {
        let (mail_from, original) = match self {
            Report::Delivery(d) => (None, &d.original),
            Report::Complaint(c) => (c.original_mail_from.as_deref(), &c.original),
        };
        mail_from.into_iter().chain(original.return_path.as_deref())
    }
}

/// Reads a delivery status notification or an ARF complaint from a raw message (headers
/// and body, as received over SMTP).
pub fn parse(raw: &[u8]) -> Result<Report, ParseError> {
    if raw.len() > MAX_SIZE {
        return Err(ParseError::TooLarge { size: raw.len() });
    }
    let located = mime::locate(raw)?;
    match located.kind {
        mime::Kind::Delivery => dsn::parse(&located.text, located.original).map(Report::Delivery),
        mime::Kind::Complaint => arf::parse(&located.text, located.original).map(Report::Complaint),
    }
}
