//! The distribute API's wire types: how the User Interface hands a job to the Mailer.
//!
//! A job goes over in three calls, each authenticated by the cluster secret and the
//! mailer connection's client address and password (headers [`CLIENT_HEADER`] and
//! [`PASSWORD_HEADER`]):
//! 1. `PUT /mailer/api/jobs/{job}` with a [`DistributeJob`]: checked (merge language,
//!    charset, links) and spooled; the same definition again is a no-op.
//! 2. `POST /mailer/api/jobs/{job}/recipients?first=N` with recipient rows as NDJSON
//!    (each line a JSON array of strings in `fields` order), streamed; row i of the body is
//!    recipient N+i, so a retried upload replaces rather than adds.
//! 3. `POST /mailer/api/jobs/{job}/submit` with a [`Submit`]: from then on the job is sent.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tutti_merge::{Fields, MergeError};
use tutti_message::charset::Charset;
use tutti_message::{Attachment, Composer, MessageSpec};

use crate::api::TrackingType;

pub const CLIENT_HEADER: &str = "tutti-client";
pub const PASSWORD_HEADER: &str = "tutti-client-password";

/// A file of the message, its content base64 (standard alphabet).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AttachmentDef {
    pub filename: String,
    pub content_type: String,
    pub data_base64: String,
    /// Set for an inline image the HTML shows as `cid:…`.
    #[serde(default)]
    pub content_id: Option<String>,
}

/// The message, in the merge language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MessageDef {
    pub subject: String,
    #[serde(default)]
    pub from_name: String,
    pub from_address: String,
    #[serde(default)]
    pub reply_to: String,
    #[serde(default)]
    pub html: Option<String>,
    #[serde(default)]
    pub text: Option<String>,
    /// A MIME charset name; UTF-8 when empty.
    #[serde(default)]
    pub charset: String,
    #[serde(default)]
    pub attachments: Vec<AttachmentDef>,
    /// Drop-ins by name.
    #[serde(default)]
    pub dropins: std::collections::HashMap<String, String>,
    #[serde(default = "yes")]
    pub dropins_enabled: bool,
}

fn yes() -> bool {
    true
}

/// How the job is tracked; its links are registered with the Tracker by the caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TrackingDef {
    /// The Tracker as recipients reach it, e.g. `https://t.example.com/trk`.
    pub base_url: String,
    /// The job's 32-byte signing key, base64url (the one registered with the Tracker).
    pub key: String,
    pub kind: TrackingType,
    pub opens: bool,
    pub clicks: bool,
    /// Links (as written in the message) that are not tracked.
    #[serde(default)]
    pub untracked: Vec<String>,
    /// For anonymous tracking: the column holding each recipient's profile number.
    #[serde(default)]
    pub profile_column: Option<usize>,
}

/// A job for the Mailer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DistributeJob {
    pub message: MessageDef,
    /// The recipient columns' headers (the merge field names).
    pub fields: Vec<String>,
    /// The column with the recipient's address.
    pub address_column: usize,
    /// The column with the recipient's name, for the To header.
    #[serde(default)]
    pub name_column: Option<usize>,
    pub tracking: TrackingDef,
    /// Not before this time; at once when absent.
    #[serde(default)]
    pub not_before: Option<DateTime<Utc>>,
}

/// A problem of the definition as a whole (not at a place in a text).
fn problem(source: &str, message: String) -> MergeError {
    MergeError {
        source: source.to_string(),
        line: 1,
        column: 1,
        message,
    }
}

impl DistributeJob {
    /// Compiles the message for these recipient fields, as the Mailer will write it: the
    /// User Interface's check and the Mailer's acceptance are this one function. Every
    /// problem is reported with its place.
    pub fn composer(&self, id: &str) -> Result<Composer, Vec<MergeError>> {
        let mut problems = Vec::new();
        let m = &self.message;
        let charset = if m.charset.trim().is_empty() {
            Some(Charset::UTF_8)
        } else {
            Charset::from_name(&m.charset)
        };
        if charset.is_none() {
            problems.push(problem(
                "charset",
                format!(
                    "\"{}\" is not a charset Tutti writes; choose one of {}",
                    m.charset,
                    tutti_message::charset::NAMES.join(", ")
                ),
            ));
        }
        if self.address_column >= self.fields.len() {
            problems.push(problem(
                "recipients",
                format!(
                    "the address column {} is not one of the {} columns",
                    self.address_column,
                    self.fields.len()
                ),
            ));
        }
        let mut attachments = Vec::new();
        for a in &m.attachments {
            match STANDARD.decode(a.data_base64.as_bytes()) {
                Ok(data) => attachments.push(Attachment {
                    filename: a.filename.clone(),
                    content_type: a.content_type.clone(),
                    data,
                    content_id: a.content_id.clone(),
                }),
                Err(e) => problems.push(problem(
                    &format!("attachment \"{}\"", a.filename),
                    format!("its content is not base64: {e}"),
                )),
            }
        }
        let fields = Fields::new(&self.fields, Some(self.address_column));
        let spec = MessageSpec {
            job: id.to_string(),
            subject: m.subject.clone(),
            from_name: m.from_name.clone(),
            from_address: m.from_address.clone(),
            reply_to: m.reply_to.clone(),
            html: m.html.clone(),
            text: m.text.clone(),
            charset: charset.unwrap_or(Charset::UTF_8),
            attachments,
            dropins: m.dropins.clone(),
            dropins_enabled: m.dropins_enabled,
            track_opens: self.tracking.opens,
            track_clicks: self.tracking.clicks,
            untracked: self.tracking.untracked.clone(),
        };
        match Composer::new(&spec, &fields) {
            Ok(composer) if problems.is_empty() => Ok(composer),
            Ok(_) => Err(problems),
            Err(p) => {
                problems.extend(p);
                Err(problems)
            }
        }
    }
}

/// The end of the upload: how many recipients the job has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Submit {
    pub recipients: u64,
}

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Defined; recipients are being uploaded.
    Receiving,
    /// Being sent (or waiting for its time, or for a relay).
    Sending,
    Paused,
    /// Every recipient has a final state.
    Completed,
    Cancelled,
}

/// A job's progress, for the progress bar.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobProgress {
    pub job: String,
    pub state: JobState,
    pub total: u64,
    /// Not yet tried, or being tried now.
    pub queued: u64,
    /// Taken by the relay.
    pub sent: u64,
    /// Waiting for another try after a temporary failure.
    pub deferred: u64,
    /// Will not be delivered (permanent failure, or retries used up).
    pub failed: u64,
    /// Bounced after the relay took them.
    pub bounced: u64,
    /// Messages that may have gone out twice because the Mailer stopped while sending them.
    pub possible_duplicates: u64,
    /// Messages per second over the last ten seconds.
    pub rate: f64,
    /// Why sending waits, when it does (a relay that cannot be reached, the schedule).
    pub waiting: Option<String>,
    /// The Mailer has no SMTP relay: what `sent` counts was written into its outbox
    /// (`mailer/outbox`), not delivered to anyone.
    #[serde(default)]
    pub to_outbox: bool,
}

/// What happened to a recipient at the Mailer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryKind {
    Sent,
    Deferred,
    Failed,
    HardBounce,
    SoftBounce,
    Complaint,
}

/// One delivery event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeliveryEvent {
    pub seq: i64,
    pub job: String,
    /// The recipient's number in the job (from 0).
    pub recipient: u64,
    pub kind: DeliveryKind,
    /// The server's reply (or the reason).
    pub reply: String,
    pub at: DateTime<Utc>,
}

/// A page of the delivery event feed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeliveryPage {
    pub events: Vec<DeliveryEvent>,
    pub next: i64,
}
