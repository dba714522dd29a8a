//! Answers of `/api/v1/messages`.

use crate::store::states::MessageStatus;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

pub use crate::services::messages::{MessageAccepted, MessageError, MessageView, Timestamps};

/// `GET /api/v1/messages/<id>`: the message and what Meta reported about it, in order.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MessageDetail {
    pub attempts: i64,
    pub connection_id: String,
    pub error: Option<MessageError>,
    pub id: String,
    #[schema(value_type = Object)]
    pub message: Value,
    pub status: MessageStatus,
    pub status_events: Vec<StatusEvent>,
    pub timestamps: Timestamps,
    pub to: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub wamid: Option<String>,
}

impl MessageDetail {
    pub fn new(view: MessageView, status_events: Vec<StatusEvent>) -> Self {
        MessageDetail {
            attempts: view.attempts,
            connection_id: view.connection_id,
            error: view.error,
            id: view.id,
            message: view.message,
            status: view.status,
            status_events,
            timestamps: view.timestamps,
            to: view.to,
            kind: view.kind,
            wamid: view.wamid,
        }
    }
}

/// A status Meta reported (duplicates stored once).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StatusEvent {
    pub at: i64,
    pub error_code: Option<i64>,
    pub status: String,
}

/// A page of messages, newest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MessageList {
    pub data: Vec<MessageView>,
    /// Give as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}
