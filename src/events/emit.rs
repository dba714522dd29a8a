//! The events the appliance emits, built where their cause is written and in the same transaction.

use crate::crypto::Key;
use crate::error::Result;
use crate::store::AccountId;
use crate::store::connections::ConnectionId;
use crate::store::deliveries::{self, About};
use crate::webhooks::meta::{InboundMessage, MetaError, TemplateStatus};
use rusqlite::Connection;
use serde_json::{Value, json};

/// Writes events of one account inside a transaction.
pub struct Emitter<'a> {
    pub conn: &'a Connection,
    pub key: &'a Key,
    pub account: AccountId,
    pub now: i64,
}

impl Emitter<'_> {
    fn record(&self, kind: &str, data: Value, about: About) -> Result<()> {
        let body = super::body(kind, data);
        deliveries::emit(
            self.conn,
            self.key,
            self.account,
            kind,
            &body,
            about,
            self.now,
        )
    }

    /// `message.status`: a message we sent moved on (sent, delivered, read, failed).
    pub fn message_status(
        &self,
        message: i64,
        connection: ConnectionId,
        status: &str,
        wamid: Option<&str>,
        at: i64,
        error: Option<&MetaError>,
    ) -> Result<()> {
        let error = error.map(|e| {
            json!({"code": e.code, "title": e.title, "details": e.details,
                   "explanation": crate::meta::errors::explain(e.code)})
        });
        self.record(
            "message.status",
            json!({"message_id": message.to_string(), "connection_id": connection.0.to_string(),
                   "status": status, "wamid": wamid, "at": at, "error": error}),
            About {
                message: Some(message),
                inbound: None,
            },
        )
    }

    /// `message.received`: a customer wrote.
    pub fn message_received(
        &self,
        inbound: i64,
        connection: ConnectionId,
        message: &InboundMessage,
    ) -> Result<()> {
        self.record(
            "message.received",
            json!({"id": inbound.to_string(), "connection_id": connection.0.to_string(),
                   "from": message.from.as_ref().map(|f| format!("+{f}")), "name": message.profile_name,
                   "type": message.kind, "at": message.at, "wamid": message.meta_id,
                   "message": message.message}),
            About {
                message: None,
                inbound: Some(inbound),
            },
        )
    }

    /// `template.status`: Meta reviewed a template.
    pub fn template_status(
        &self,
        connection: ConnectionId,
        template: &TemplateStatus,
    ) -> Result<()> {
        self.record(
            "template.status",
            json!({"connection_id": connection.0.to_string(), "name": template.name,
                   "language": template.language, "status": template.status, "reason": template.reason}),
            About::default(),
        )
    }

    /// `connection.updated`: Meta said something about the number, or its sending was held.
    pub fn connection_updated(&self, connection: ConnectionId, change: Value) -> Result<()> {
        let mut data = json!({"connection_id": connection.0.to_string()});
        if let (Some(data), Value::Object(change)) = (data.as_object_mut(), change) {
            data.extend(change);
        }
        self.record("connection.updated", data, About::default())
    }
}
