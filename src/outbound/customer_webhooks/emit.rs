//! The events the appliance emits, built where their cause is written and in the same transaction.

use crate::domain::meta::webhook::{InboundMessage, MetaError, TemplateStatus};
use crate::error::Result;
use crate::store::AccountId;
use crate::store::connections::ConnectionId;
use crate::store::deliveries::{self, About};
use crate::store::keys::Keyring;
use rusqlite::Connection;
use serde_json::{Value, json};
use std::cell::OnceCell;

/// Writes events of one account inside a transaction. The account's endpoints are read once, when the
/// first event is recorded, and an event no endpoint asked for is not even built.
pub struct Emitter<'a> {
    conn: &'a Connection,
    keyring: &'a Keyring,
    account: AccountId,
    now: i64,
    subscribers: OnceCell<Vec<(i64, String)>>,
}

impl<'a> Emitter<'a> {
    pub fn new(conn: &'a Connection, keyring: &'a Keyring, account: AccountId, now: i64) -> Self {
        Emitter {
            conn,
            keyring,
            account,
            now,
            subscribers: OnceCell::new(),
        }
    }

    fn record(&self, kind: &str, data: impl FnOnce() -> Value, about: About) -> Result<()> {
        let subscribers = match self.subscribers.get() {
            Some(found) => found,
            None => {
                let found = deliveries::subscribers(self.conn, self.account)?;
                self.subscribers.get_or_init(|| found)
            }
        };
        let wanted: Vec<i64> = subscribers
            .iter()
            .filter(|(_, types)| types.split(',').any(|t| t == kind))
            .map(|(id, _)| *id)
            .collect();
        if wanted.is_empty() {
            return Ok(());
        }
        let body = super::body(kind, data());
        let event = deliveries::Event {
            kind,
            body: &body,
            about,
            at: self.now,
        };
        deliveries::record(self.conn, self.keyring, self.account, &event, &wanted)
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
        let data = || {
            let error = error.map(|e| {
                json!({"code": e.code, "title": e.title, "details": e.details,
                       "explanation": crate::domain::meta::errors::explain(e.code)})
            });
            json!({"message_id": message.to_string(), "connection_id": connection.get().to_string(),
                   "status": status, "wamid": wamid, "at": at, "error": error})
        };
        self.record(
            "message.status",
            data,
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
            || json!({"id": inbound.to_string(), "connection_id": connection.get().to_string(),
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
            || json!({"connection_id": connection.get().to_string(), "name": template.name,
                   "language": template.language, "status": template.status, "reason": template.reason}),
            About::default(),
        )
    }

    /// `connection.updated`: Meta said something about the number, or its sending was held.
    pub fn connection_updated(&self, connection: ConnectionId, change: Value) -> Result<()> {
        let data = || {
            let mut data = json!({"connection_id": connection.get().to_string()});
            if let (Some(data), Value::Object(change)) = (data.as_object_mut(), change) {
                data.extend(change);
            }
            data
        };
        self.record("connection.updated", data, About::default())
    }
}
