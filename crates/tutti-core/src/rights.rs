//! User rights: what an account may do. Granted per account by the Hub; enforced by the
//! component that serves each action, on every API call.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Right {
    /// Create, edit, copy and delete email jobs.
    CreateJobs,
    /// Authorize and send jobs (after the required test send).
    SendJobs,
    /// Upload recipient files.
    UploadRecipients,
    /// Select recipients from database connections an administrator defined.
    DatabaseRecipients,
    /// Manage the group's drop-ins and templates.
    ManageDropinsTemplates,
    /// Manage saved recipient lists.
    ManageRecipientLists,
    /// View and download reports.
    ViewReports,
    /// Administer the accounts of the own group in the Hub.
    AdministerGroup,
}

impl Right {
    pub const ALL: [Right; 8] = [
        Right::CreateJobs,
        Right::SendJobs,
        Right::UploadRecipients,
        Right::DatabaseRecipients,
        Right::ManageDropinsTemplates,
        Right::ManageRecipientLists,
        Right::ViewReports,
        Right::AdministerGroup,
    ];

    /// The name in APIs and storage.
    pub fn key(self) -> &'static str {
        match self {
            Right::CreateJobs => "create_jobs",
            Right::SendJobs => "send_jobs",
            Right::UploadRecipients => "upload_recipients",
            Right::DatabaseRecipients => "database_recipients",
            Right::ManageDropinsTemplates => "manage_dropins_templates",
            Right::ManageRecipientLists => "manage_recipient_lists",
            Right::ViewReports => "view_reports",
            Right::AdministerGroup => "administer_group",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Right::CreateJobs => "Create jobs",
            Right::SendJobs => "Authorize and send jobs",
            Right::UploadRecipients => "Upload recipient files",
            Right::DatabaseRecipients => "Use database recipient sources",
            Right::ManageDropinsTemplates => "Manage drop-ins and templates",
            Right::ManageRecipientLists => "Manage recipient lists",
            Right::ViewReports => "View reports",
            Right::AdministerGroup => "Administer the group",
        }
    }

    pub fn from_key(key: &str) -> Option<Right> {
        Right::ALL.into_iter().find(|r| r.key() == key)
    }
}
