//! The answers of `/api/v1`, one module per resource: what each route returns, as types. The same types
//! are serialised by the routes and described by the OpenAPI document (`super::openapi`), so the
//! document cannot say one thing while a route answers another.
//!
//! Fields are declared in alphabetical order: the answers were built as `serde_json` maps, which keep
//! keys sorted, and stay byte-for-byte as they were.

pub mod connections;
pub mod contacts;
pub mod conversations;
pub mod endpoints;
pub mod errors;
pub mod messages;
pub mod states;

pub use crate::domain::meta::window::{ServiceWindow, WindowState};
