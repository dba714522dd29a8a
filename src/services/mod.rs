//! What the product does, in one place for every adapter: the API, the pages, Meta's webhooks and the
//! jobs call these, and these call the store and the outbound clients.

pub mod abuse;
pub mod api_keys;
pub mod backups;
pub mod billing;
pub mod connections;
pub mod contacts;
pub mod conversations;
pub mod dashboard;
pub mod deletions;
pub mod endpoints;
pub mod health;
pub mod message_log;
pub mod messages;
pub mod meta_events;
pub mod notify;
pub mod outbox;
pub mod passwords;
pub mod policy_mail;
pub mod sign_in_throttle;
pub mod templates;
pub mod two_step;
pub mod usage;

/// A text field of a request as given, without the spaces around it.
fn trimmed(value: Option<String>) -> Option<String> {
    value.map(|s| s.trim().to_owned())
}
