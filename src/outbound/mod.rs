//! What leaves the process: calls to Meta's Graph API, events to customers' own webhook endpoints, mail,
//! Stripe's API (`stripe`), the SMS gateway of one-time codes (`sms`), and the guard every outbound
//! address passes (`ssrf`).

pub mod customer_webhooks;
pub mod graph;
pub mod mail;
pub mod sms;
pub mod ssrf;
pub mod stripe;
pub mod targets;
