//! Meta's Cloud API as a contract: the rules of a message, the payloads of Meta's webhooks, its error
//! classes. The calls to Meta are in `outbound::graph`.

pub mod errors;
pub mod message;
pub mod validate;
pub mod webhook;
pub mod window;
