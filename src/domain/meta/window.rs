//! WhatsApp's customer-service window: for 24 hours after the customer last wrote, a business may send
//! them free-form messages; after that, only an approved template. One type decides it everywhere (the
//! API's answers, the check before queuing, the inbox).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// How long the window stays open after the customer's last message.
pub const LENGTH_MS: i64 = 24 * 3_600_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// The customer wrote less than 24 hours ago: free-form messages may go until `expires_at`.
    Open { expires_at: i64 },
    /// The customer last wrote 24 hours or more ago: only a template may go.
    Closed { expires_at: i64 },
    /// This number has not heard from the customer (messages before it was connected here are not
    /// known): Meta decides.
    Unknown,
}

impl Window {
    /// The window at `now` (milliseconds), for a customer who last wrote at `last_inbound`.
    pub fn at(last_inbound: Option<i64>, now: i64) -> Window {
        match last_inbound {
            Some(at) if now < at + LENGTH_MS => Window::Open {
                expires_at: at + LENGTH_MS,
            },
            Some(at) => Window::Closed {
                expires_at: at + LENGTH_MS,
            },
            None => Window::Unknown,
        }
    }

    pub fn is_open(self) -> bool {
        matches!(self, Window::Open { .. })
    }

    /// When the window closes (or closed), if the customer ever wrote to this number.
    pub fn expires_at(self) -> Option<i64> {
        match self {
            Window::Open { expires_at } | Window::Closed { expires_at } => Some(expires_at),
            Window::Unknown => None,
        }
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const WROTE: i64 = 1_750_000_000_000;

    #[test]
    fn open_until_the_last_millisecond_of_the_24_hours_and_closed_from_then_on() {
        let closes = WROTE + LENGTH_MS;
        assert_eq!(
            Window::at(Some(WROTE), WROTE),
            Window::Open { expires_at: closes }
        );
        assert!(Window::at(Some(WROTE), closes - 1).is_open());
        assert_eq!(
            Window::at(Some(WROTE), closes),
            Window::Closed { expires_at: closes }
        );
        assert!(!Window::at(Some(WROTE), closes + 1).is_open());
        assert_eq!(LENGTH_MS, 86_400_000);
    }

    #[test]
    fn a_customer_who_never_wrote_has_no_known_window() {
        let window = Window::at(None, WROTE);
        assert_eq!(window, Window::Unknown);
        assert!(!window.is_open());
        assert_eq!(window.expires_at(), None);
        assert_eq!(
            serde_json::to_value(ServiceWindow::from(window)).unwrap(),
            json!({"state": "unknown", "expires_at": null})
        );
    }

    #[test]
    fn the_api_form_names_the_state_and_when_it_ends() {
        let closes = WROTE + LENGTH_MS;
        assert_eq!(
            serde_json::to_value(ServiceWindow::from(Window::at(Some(WROTE), WROTE + 1))).unwrap(),
            json!({"state": "open", "expires_at": closes})
        );
        assert_eq!(
            serde_json::to_value(ServiceWindow::from(Window::at(Some(WROTE), closes))).unwrap(),
            json!({"state": "closed", "expires_at": closes})
        );
    }

    #[test]
    fn a_message_written_later_than_now_keeps_the_window_open() {
        // Clocks differ: Meta's timestamp may be ahead of ours.
        assert!(Window::at(Some(WROTE + 5_000), WROTE).is_open());
    }
}
