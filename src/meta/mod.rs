//! Meta's Cloud API: message rules, the Graph client, error classes, the customer-service window.

pub mod errors;
pub mod graph;
pub mod targets;
pub mod validate;
pub mod window;
