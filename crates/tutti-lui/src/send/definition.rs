//! A job as the Mailer gets it: its message, files, recipient columns and tracking, put
//! together from the system database. The check of the message pages and the Mailer's
//! acceptance compile the same definition.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use tutti_core::distribute::{AttachmentDef, DistributeJob, MessageDef, TrackingDef};
use tutti_core::http_error::ApiError;
use tutti_core::token::JobKey;

use crate::LuiState;
use crate::library::store::scope;
use crate::message::api::Problem;

fn db_error(e: sqlx::Error) -> ApiError {
    ApiError::internal("the system database", e)
}

/// Where the tracking URLs point and the key that signs them; placeholders for a check.
pub struct Tracking {
    pub base_url: String,
    pub key: String,
}

impl Tracking {
    pub fn for_check() -> Tracking {
        Tracking {
            base_url: "http://tracker.invalid/trk".into(),
            key: JobKey([0; 32]).to_base64(),
        }
    }
}

/// The job's definition; `Err` lists what is missing before it can be one.
pub async fn definition(
    state: &LuiState,
    job: &str,
    tracking: Tracking,
) -> Result<Result<DistributeJob, Vec<Problem>>, ApiError> {
    let message = state
        .messages
        .get(job)
        .await
        .map_err(db_error)?
        .unwrap_or_default();
    let attachments = state
        .messages
        .attachment_data(job)
        .await
        .map_err(db_error)?
        .into_iter()
        .map(|a| AttachmentDef {
            filename: a.info.name,
            content_type: a.info.content_type,
            data_base64: STANDARD.encode(&a.data),
            content_id: a.info.content_id,
        })
        .collect();
    let list = state.lists.of_job(job).await.map_err(db_error)?;
    let Some(list) = list.filter(|l| l.state == "ready") else {
        return Ok(Err(vec![Problem {
            source: "recipients".into(),
            line: 1,
            column: 1,
            message: "the job has no recipients yet (or they are still being imported): upload a file or choose a saved list".into(),
        }]));
    };
    let choice = state.sending.tracking(job).await.map_err(db_error)?;
    // The drop-ins of the job's owner's group, as they are now.
    let owner = state
        .jobs
        .get(job)
        .await
        .map_err(db_error)?
        .ok_or_else(|| ApiError::not_found(format!("there is no job {job}")))?;
    let dropins = state
        .library
        .dropin_texts(&scope(owner.group_id, owner.owner_id))
        .await
        .map_err(db_error)?;
    Ok(Ok(DistributeJob {
        message: MessageDef {
            subject: message.subject,
            from_name: message.from_name,
            from_address: message.from_address,
            reply_to: message.reply_to,
            html: message.html,
            text: message.text,
            charset: message.charset,
            attachments,
            dropins,
            dropins_enabled: message.dropins_enabled,
        },
        fields: list.columns,
        address_column: list.email_column,
        name_column: list.name_column,
        tracking: TrackingDef {
            base_url: tracking.base_url,
            key: tracking.key,
            kind: choice.kind,
            opens: choice.opens,
            clicks: choice.clicks,
            untracked: choice.untracked,
            profile_column: None,
        },
        not_before: None,
    }))
}

/// A digest of everything the job's messages are made of: the message, the group's
/// drop-ins as they are now, its files, the recipient list and the tracking choices. A test
/// send records it; authorizing and sending check that the job is still what was tested,
/// so that a drop-in edited in the library (or anything else the job takes at send time)
/// cannot go out untested. The Tracker's address and key are left out: they differ
/// between a test and the send, and are not content.
pub fn content_digest(def: &DistributeJob, list_id: i64) -> String {
    use sha2::{Digest, Sha256};
    let mut plain = def.clone();
    plain.tracking.base_url.clear();
    plain.tracking.key.clear();
    plain.not_before = None;
    let dropins = std::mem::take(&mut plain.message.dropins);
    let mut hasher = Sha256::new();
    // A definition always serialises; were it not to, the empty text still differs from
    // every real digest's input and changes nothing else.
    hasher.update(serde_json::to_vec(&plain).unwrap_or_default());
    hasher.update(list_id.to_be_bytes());
    // Every drop-in of the group, not only those the message seems to name: the compiler
    // also finds names across character references (an href's `&#123;&#123;`), so only
    // the whole library is sure to hold every drop-in the message uses. Editing any of the
    // group's drop-ins voids a test more often, never less.
    if def.message.dropins_enabled {
        let sorted: std::collections::BTreeMap<&String, &String> = dropins.iter().collect();
        for (name, content) in sorted {
            for part in [name, content] {
                hasher.update((part.len() as u64).to_be_bytes());
                hasher.update(part.as_bytes());
            }
        }
    }
    let digest = hasher.finalize();
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tutti_core::api::TrackingType;

    fn job(html: &str, dropins: &[(&str, &str)]) -> DistributeJob {
        DistributeJob {
            message: MessageDef {
                subject: "Hi".into(),
                from_name: String::new(),
                from_address: "a@shop.example".into(),
                reply_to: String::new(),
                html: Some(html.into()),
                text: None,
                charset: String::new(),
                attachments: Vec::new(),
                dropins: dropins
                    .iter()
                    .map(|(n, c)| (n.to_string(), c.to_string()))
                    .collect(),
                dropins_enabled: true,
            },
            fields: vec!["email".into()],
            address_column: 0,
            name_column: None,
            tracking: TrackingDef {
                base_url: "http://t/trk".into(),
                key: "k".into(),
                kind: TrackingType::Personal,
                opens: true,
                clicks: true,
                untracked: Vec::new(),
                profile_column: None,
            },
            not_before: None,
        }
    }

    #[test]
    fn the_digest_follows_the_groups_drop_ins_and_what_the_message_is() {
        let base = job(
            "<p>{{ head }}</p>",
            &[("head", "{{foot}}"), ("foot", "1"), ("other", "x")],
        );
        let d = content_digest(&base, 7);
        // The Tracker's address and key are not content.
        let mut moved = base.clone();
        moved.tracking.base_url = "https://elsewhere/trk".into();
        moved.tracking.key = "other".into();
        assert_eq!(content_digest(&moved, 7), d);
        // Any drop-in of the group counts, in whatever order they come.
        let unrelated = job(
            "<p>{{ head }}</p>",
            &[("head", "{{foot}}"), ("foot", "1"), ("other", "y")],
        );
        assert_ne!(content_digest(&unrelated, 7), d);
        let reordered = job(
            "<p>{{ head }}</p>",
            &[("other", "x"), ("foot", "1"), ("head", "{{foot}}")],
        );
        assert_eq!(content_digest(&reordered, 7), d);
        let nested = job(
            "<p>{{ head }}</p>",
            &[("head", "{{foot}}"), ("foot", "2"), ("other", "x")],
        );
        assert_ne!(content_digest(&nested, 7), d);
        assert_ne!(content_digest(&base, 8), d, "another recipient list");
        let mut untracked = base.clone();
        untracked.tracking.clicks = false;
        assert_ne!(content_digest(&untracked, 7), d);
    }
}
