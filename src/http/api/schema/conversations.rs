//! Answers of `/api/v1/conversations`: the inbox.

use super::ServiceWindow;
use super::messages::{MessageError, MessageView, Timestamps};
use crate::store::states::MessageStatus;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

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

/// A message of a conversation, in either direction.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(untagged)]
pub enum ThreadItem {
    Inbound(InboundItem),
    Outbound(Box<OutboundItem>),
}

impl ThreadItem {
    pub fn cursor(&self) -> &str {
        match self {
            ThreadItem::Inbound(item) => &item.cursor,
            ThreadItem::Outbound(item) => &item.cursor,
        }
    }
}

/// Direction of a message in a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Inbound,
    Outbound,
}

/// A message from the customer, with Meta's type and item as received.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InboundItem {
    /// Meta's time for the message.
    pub at: i64,
    /// Where the next page starts, when this is the page's last item.
    pub cursor: String,
    /// `inbound`.
    pub direction: Direction,
    pub id: String,
    /// Meta's object of the message's type.
    #[schema(value_type = Object)]
    pub message: Value,
    pub received_at: i64,
    pub seen_at: Option<i64>,
    #[serde(rename = "type")]
    pub kind: String,
    pub wamid: String,
}

/// A message to the customer: the message as `GET /api/v1/messages/<id>` shows it, and where it sits.
/// (Written out rather than flattened, to keep the keys in order.)
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OutboundItem {
    /// When it was queued.
    pub at: i64,
    pub attempts: i64,
    pub connection_id: String,
    pub cursor: String,
    /// `outbound`.
    pub direction: Direction,
    pub error: Option<MessageError>,
    pub id: String,
    #[schema(value_type = Object)]
    pub message: Value,
    pub status: MessageStatus,
    pub timestamps: Timestamps,
    pub to: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub wamid: Option<String>,
}

impl OutboundItem {
    pub fn new(view: MessageView, at: i64, cursor: String) -> Self {
        OutboundItem {
            at,
            attempts: view.attempts,
            connection_id: view.connection_id,
            cursor,
            direction: Direction::Outbound,
            error: view.error,
            id: view.id,
            message: view.message,
            status: view.status,
            timestamps: view.timestamps,
            to: view.to,
            kind: view.kind,
            wamid: view.wamid,
        }
    }
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
