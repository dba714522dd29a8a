//! What the product does, in one place for every adapter: the API, the pages, Meta's webhooks and the
//! jobs call these, and these call the store and the outbound clients.

pub mod api_keys;
pub mod deletions;
pub mod messages;
pub mod meta_events;
pub mod notify;
pub mod outbox;
pub mod passwords;
pub mod policy_mail;
pub mod sign_in_throttle;
pub mod templates;
