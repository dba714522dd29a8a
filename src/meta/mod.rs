//! Meta's Cloud API: message rules, the Graph client, error classes.

pub mod errors;
pub mod graph;
pub mod message;
pub mod targets;
pub mod validate;
