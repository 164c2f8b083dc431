//! Who a console or API session of the Hub belongs to (stored with
//! [`tutti_core::sessions::SessionStore`] in `hub/hubreg`).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Principal {
    Admin,
    User { account_id: i64 },
}
