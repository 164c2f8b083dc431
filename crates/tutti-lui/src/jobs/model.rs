//! A job as the API shows it, and who is acting on it.

use serde::{Deserialize, Serialize};
use tutti_core::rights::Right;
use utoipa::ToSchema;

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Being prepared; may be changed or deleted.
    Open,
    /// Handed to the Mailer: being sent.
    Ongoing,
    /// Every recipient has a final state.
    Completed,
    /// Sending stopped for good (cancelled, or the Mailer refused it).
    Failed,
}

impl JobState {
    pub fn key(self) -> &'static str {
        match self {
            JobState::Open => "open",
            JobState::Ongoing => "ongoing",
            JobState::Completed => "completed",
            JobState::Failed => "failed",
        }
    }

    pub fn from_key(key: &str) -> Option<JobState> {
        [
            JobState::Open,
            JobState::Ongoing,
            JobState::Completed,
            JobState::Failed,
        ]
        .into_iter()
        .find(|s| s.key() == key)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Job {
    pub id: String,
    pub title: String,
    /// The owner's account id at the Hub.
    pub owner_id: i64,
    /// The owner as `user` or `user/group`.
    pub owner_name: String,
    /// The group the job is shared in: its id at the Hub (never given to another group)
    /// and its name when the job was given to its owner.
    pub group_id: Option<i64>,
    pub group_name: Option<String>,
    /// The owner's folder for it ("" for none).
    pub folder: String,
    pub state: JobState,
    pub archived: bool,
    /// The job this one was copied from.
    pub copied_from: Option<String>,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// What a member of the owner's group may do with a job besides seeing it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Grant {
    pub account_id: i64,
    /// Filled in by the User Interface.
    #[serde(default)]
    pub user_name: String,
    /// Change its message, recipients and settings.
    pub edit: bool,
    /// Test, authorize and send it (also needs the account right to send jobs).
    pub send: bool,
}

/// Who is acting.
#[derive(Debug, Clone)]
pub enum Actor {
    /// The special `admin` login: sees every job, archives and changes owners, works on
    /// no job's content.
    Admin,
    User {
        id: i64,
        name: String,
        /// The group's id at the Hub (never reused) and its name now.
        group_id: Option<i64>,
        group: Option<String>,
        rights: Vec<Right>,
    },
}

/// Whose list of jobs: an account, and the group in which its grants count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Viewer {
    pub account: i64,
    pub group_id: Option<i64>,
}

/// What an actor may do with one job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
pub struct Access {
    pub view: bool,
    pub edit: bool,
    pub send: bool,
    pub owner: bool,
    /// Archive and change the owner (the `admin` login).
    pub administer: bool,
}

impl Actor {
    /// Whose jobs a list shows; `None` for the `admin` login, which sees every job.
    pub fn viewer(&self) -> Option<Viewer> {
        match self {
            Actor::Admin => None,
            Actor::User { id, group_id, .. } => Some(Viewer {
                account: *id,
                group_id: *group_id,
            }),
        }
    }

    pub fn has(&self, right: Right) -> bool {
        match self {
            Actor::Admin => false,
            Actor::User { rights, .. } => rights.contains(&right),
        }
    }

    /// The actor's access to `job`, given the grant the job's owner gave them (if any).
    pub fn access(&self, job: &Job, grant: Option<&Grant>) -> Access {
        match self {
            Actor::Admin => Access {
                view: true,
                administer: true,
                ..Access::default()
            },
            // An owner who moved to another group leaves the job to the old group: it waits
            // for the `admin` login to give it to someone, as a deleted owner's job does.
            Actor::User { id, group_id, .. }
                if *id == job.owner_id && *group_id == job.group_id =>
            {
                Access {
                    view: true,
                    edit: self.has(Right::CreateJobs),
                    send: self.has(Right::SendJobs),
                    owner: true,
                    administer: false,
                }
            }
            // A grant counts only while the account is in the job's group: one that moved
            // to another group keeps no access.
            Actor::User { group_id, .. } => match grant {
                Some(g) if group_id.is_some() && *group_id == job.group_id => Access {
                    view: true,
                    edit: g.edit && self.has(Right::CreateJobs),
                    send: g.send && self.has(Right::SendJobs),
                    owner: false,
                    administer: false,
                },
                _ => Access::default(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(owner: i64) -> Job {
        Job {
            id: "261129A".into(),
            title: "t".into(),
            owner_id: owner,
            owner_name: "o".into(),
            group_id: Some(1),
            group_name: Some("Sales".into()),
            folder: String::new(),
            state: JobState::Open,
            archived: false,
            copied_from: None,
            created_ms: 0,
            updated_ms: 0,
        }
    }

    fn user(id: i64, rights: &[Right]) -> Actor {
        Actor::User {
            id,
            name: "u".into(),
            group_id: Some(1),
            group: Some("Sales".into()),
            rights: rights.to_vec(),
        }
    }

    #[test]
    fn owners_grants_and_rights_decide_access() {
        let all = Right::ALL;
        let owner = user(1, &all).access(&job(1), None);
        assert!(owner.view && owner.edit && owner.send && owner.owner && !owner.administer);
        // An owner without the send right cannot send their own job.
        let no_send = user(1, &[Right::CreateJobs]).access(&job(1), None);
        assert!(no_send.edit && !no_send.send);
        // Someone else sees nothing without a grant.
        assert_eq!(user(2, &all).access(&job(1), None), Access::default());
        let grant = Grant {
            account_id: 2,
            user_name: "b".into(),
            edit: true,
            send: false,
        };
        let granted = user(2, &all).access(&job(1), Some(&grant));
        assert!(granted.view && granted.edit && !granted.send && !granted.owner);
        // A grant does not lift a missing account right.
        let weak = user(2, &[]).access(&job(1), Some(&grant));
        assert!(weak.view && !weak.edit);
        let admin = Actor::Admin.access(&job(1), None);
        assert!(admin.view && admin.administer && !admin.edit && !admin.send);
        // A grantee who moved to another group keeps nothing of the grant.
        let Actor::User { rights, .. } = user(2, &all) else {
            unreachable!()
        };
        let moved = Actor::User {
            id: 2,
            name: "b".into(),
            group_id: Some(9),
            group: Some("Sales".into()),
            rights,
        };
        assert_eq!(moved.access(&job(1), Some(&grant)), Access::default());
        // So does an owner.
        let Actor::User { rights, .. } = user(1, &all) else {
            unreachable!()
        };
        let moved_owner = Actor::User {
            id: 1,
            name: "a".into(),
            group_id: Some(9),
            group: Some("Ops".into()),
            rights,
        };
        assert_eq!(moved_owner.access(&job(1), None), Access::default());
    }
}
