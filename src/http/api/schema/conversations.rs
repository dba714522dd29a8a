//! Answers of `/api/v1/conversations`: the inbox.

use super::ServiceWindow;
use serde::Serialize;
use utoipa::ToSchema;

pub use crate::services::conversations::{Direction, InboundItem, OutboundItem, ThreadItem};

/// One customer of one number.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConversationView {
    pub connection_id: String,
    pub customer_service_window: ServiceWindow,
    pub id: String,
    pub last_inbound_at: i64,
    pub last_message_at: i64,
    /// The customer's WhatsApp profile name.
    pub name: Option<String>,
    /// `+` and digits, or the username id Meta gave instead of a number.
    pub phone: String,
    /// The customer's messages nobody has seen yet.
    pub unread_count: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConversationList {
    pub data: Vec<ConversationView>,
    pub next_cursor: Option<String>,
}

/// `GET /api/v1/conversations/<id>`: the conversation and a page of its messages, newest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConversationDetail {
    pub contact: ConversationView,
    pub customer_service_window: ServiceWindow,
    pub messages: Vec<ThreadItem>,
    pub next_cursor: Option<String>,
}

/// `POST /api/v1/conversations/<id>/seen`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConversationSeen {
    pub id: String,
    /// How many messages were marked.
    pub marked_seen: usize,
    /// Always 0.
    pub unread_count: i64,
}
