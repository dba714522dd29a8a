//! Meta's Cloud API: message rules, the payloads of Meta's webhooks, error classes, and the Graph client.

pub mod errors;
pub mod graph;
pub mod targets;
pub mod validate;
pub mod webhook;
