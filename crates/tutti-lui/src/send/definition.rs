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
        .dropin_texts(&scope(owner.group_name.as_deref(), owner.owner_id))
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
