//! From a finished message to a job on its way: tracking choices, the test send, the
//! authorization, and handing the job to the Tracker and the Mailer.

pub mod api;
pub mod definition;
pub mod store;
pub mod test_quota;
