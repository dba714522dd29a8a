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

use crate::domain::meta::window::Window;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The 24-hour customer-service window: free-form messages may be sent while it is open; after, only
/// templates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ServiceWindow {
    /// When it closes (or closed), in milliseconds since the epoch; null when the customer's last message
    /// is unknown.
    pub expires_at: Option<i64>,
    pub state: WindowState,
}

impl From<Window> for ServiceWindow {
    fn from(window: Window) -> ServiceWindow {
        ServiceWindow {
            expires_at: window.expires_at(),
            state: match window {
                Window::Open { .. } => WindowState::Open,
                Window::Closed { .. } => WindowState::Closed,
                Window::Unknown => WindowState::Unknown,
            },
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WindowState {
    Open,
    Closed,
    /// The customer wrote before the number was connected here, or never: Meta decides.
    Unknown,
}
