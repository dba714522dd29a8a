//! The typed request of each API operation that takes a body, and the checks that need nothing but the
//! request and the configuration. The routes and the fuzz target (tests/fuzz, `api_bodies`) run these
//! same functions on the same bytes; what needs the store (the connection exists, the name resolves)
//! comes after, in the routes.
//!
//! Every request refuses a field it does not take (`deny_unknown_fields`): a misspelt optional field
//! would otherwise be dropped without a word. `null` is the same as leaving a field out.

use super::body;
use crate::config::Config;
use crate::domain::meta::validate;
use crate::error::{Error, Result};
use crate::outbound::targets::MetaTargets;
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

/// `POST /api/v1/connections/<id>/sandbox/inbound`: a customer writing to a sandbox number.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SimulateInbound {
    /// The customer's number in international format.
    #[schema(example = "+96550001234")]
    pub from: Option<String>,
    /// 1 to 4096 characters; default `Hello`.
    pub text: Option<String>,
    /// The customer's profile name; default `Sandbox Customer`.
    pub name: Option<String>,
}

/// `POST /api/v1/contacts/erase`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EraseContact {
    /// The customer's number in international format.
    #[schema(example = "+96550001234")]
    pub phone: Option<String>,
}

pub use crate::services::connections::{CreateConnection, DEFAULT_GRAPH_VERSION, UpdateConnection};
pub use crate::services::endpoints::{CheckedEndpoint, CreateEndpoint, UpdateEndpoint};
pub use crate::services::messages::SendMessage;

/// A simulated customer message that passed its checks.
#[derive(Debug)]
pub struct Inbound {
    /// The customer's number, E.164 digits.
    pub from: String,
    pub name: String,
    pub text: String,
}

/// Meta's limit on a text message's body, which a simulated customer keeps to as well.
const MAX_TEXT: usize = 4096;

impl SimulateInbound {
    pub fn check(self) -> Result<Inbound> {
        let from = self
            .from
            .as_deref()
            .ok_or_else(|| Error::invalid("from", "is required"))?;
        let digits = validate::normalize_phone(from).ok_or_else(|| {
            Error::invalid("from", "must be a phone number in international format")
        })?;
        let text = self.text.unwrap_or_else(|| "Hello".to_owned());
        if text.trim().is_empty() || text.chars().count() > MAX_TEXT {
            return Err(Error::invalid(
                "text",
                format!("must be 1 to {MAX_TEXT} characters"),
            ));
        }
        let name = self.name.unwrap_or_else(|| "Sandbox Customer".to_owned());
        if name.chars().count() > 256 {
            return Err(Error::invalid("name", "must be at most 256 characters"));
        }
        Ok(Inbound {
            from: digits,
            name,
            text,
        })
    }
}

impl EraseContact {
    /// The customer's number, E.164 digits.
    pub fn check(self) -> Result<String> {
        let phone = self
            .phone
            .ok_or_else(|| Error::invalid("phone", "is required"))?;
        validate::normalize_phone(&phone)
            .ok_or_else(|| Error::invalid("phone", "is not a phone number"))
    }
}

impl body::FromBody for SendMessage {
    fn from_json(value: Value) -> Result<Self> {
        SendMessage::read(&value)
    }
}

body::serde_bodies!(
    CreateConnection,
    UpdateConnection,
    CreateEndpoint,
    UpdateEndpoint,
    SimulateInbound,
    EraseContact
);

/// Every operation that takes a body, for [`check_body`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    SendMessage,
    CreateConnection,
    UpdateConnection,
    CreateEndpoint,
    UpdateEndpoint,
    SimulateInbound,
    EraseContact,
}

impl Operation {
    pub const ALL: [Operation; 7] = [
        Operation::SendMessage,
        Operation::CreateConnection,
        Operation::UpdateConnection,
        Operation::CreateEndpoint,
        Operation::UpdateEndpoint,
        Operation::SimulateInbound,
        Operation::EraseContact,
    ];
}

/// Runs an operation's body through everything the route does before it needs the store or the
/// network: parse, type, and check. Fuzzed (tests/fuzz) and, bounded, in the unit tests.
pub fn check_body(operation: Operation, bytes: &[u8], config: &Config) -> Result<()> {
    let targets = || MetaTargets::new(config);
    match operation {
        Operation::SendMessage => SendMessage::read(&body::json_object(bytes)?).map(drop),
        Operation::CreateConnection => body::parse::<CreateConnection>(bytes)?
            .check(&targets())
            .map(drop),
        Operation::UpdateConnection => body::parse::<UpdateConnection>(bytes)?
            .check(&targets())
            .map(drop),
        Operation::CreateEndpoint => body::parse::<CreateEndpoint>(bytes)?
            .check(config)
            .map(drop),
        Operation::UpdateEndpoint => body::parse::<UpdateEndpoint>(bytes)?
            .check(config)
            .map(drop),
        Operation::SimulateInbound => body::parse::<SimulateInbound>(bytes)?.check().map(drop),
        Operation::EraseContact => body::parse::<EraseContact>(bytes)?.check().map(drop),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        let mut config = Config::default();
        config.server.public_url = "https://wa.test".into();
        config
    }

    fn refused_field(operation: Operation, body: &str) -> String {
        match check_body(operation, body.as_bytes(), &config()) {
            Err(Error::Invalid { field, .. }) => field,
            other => panic!("{operation:?} {body}: {other:?}"),
        }
    }

    #[test]
    fn every_body_refuses_a_wrong_type_and_an_unknown_field_by_name() {
        use Operation::*;
        let cases = [
            (
                CreateConnection,
                r#"{"kind": "sandbox", "enforce_window": "yes"}"#,
                "enforce_window",
            ),
            (
                CreateConnection,
                r#"{"kind": "sandbox", "throughput_mps": "80"}"#,
                "throughput_mps",
            ),
            (
                CreateConnection,
                r#"{"kind": "sandbox", "name": 5}"#,
                "name",
            ),
            (
                CreateConnection,
                r#"{"kind": "sandbox", "nmae": "x"}"#,
                "nmae",
            ),
            (
                UpdateConnection,
                r#"{"enforce_window": 1}"#,
                "enforce_window",
            ),
            (
                UpdateConnection,
                r#"{"phone_number_id": "1"}"#,
                "phone_number_id",
            ),
            (
                CreateEndpoint,
                r#"{"url": "https://a.test/h", "event_types": "message.status"}"#,
                "event_types",
            ),
            (
                CreateEndpoint,
                r#"{"url": "https://a.test/h", "event_types": [1]}"#,
                "event_types[0]",
            ),
            (UpdateEndpoint, r#"{"paused": "true"}"#, "paused"),
            (
                UpdateEndpoint,
                r#"{"description": "x", "secret": "s"}"#,
                "secret",
            ),
            (
                SimulateInbound,
                r#"{"from": "+96550001234", "text": 123}"#,
                "text",
            ),
            (
                SimulateInbound,
                r#"{"from": "+96550001234", "txt": "hi"}"#,
                "txt",
            ),
            (EraseContact, r#"{"phone": 96550001234}"#, "phone"),
            (
                SendMessage,
                r#"{"connection_id": 7, "to": "+96550001234", "text": {"body": "x"}}"#,
                "connection_id",
            ),
            (
                SendMessage,
                r#"{"connection_id": "7", "to": "+96550001234", "text": {"body": "x", "preview_url": "no"}}"#,
                "text.preview_url",
            ),
            (
                SendMessage,
                r#"{"connection_id": "7", "to": "+96550001234", "text": {"body": "x"}, "txet": 1}"#,
                "txet",
            ),
        ];
        for (operation, body, field) in cases {
            assert_eq!(
                refused_field(operation, body),
                field,
                "{operation:?} {body}"
            );
        }
    }

    #[test]
    fn well_typed_bodies_pass() {
        use Operation::*;
        let config = config();
        for (operation, body) in [
            (
                CreateConnection,
                r#"{"kind": "sandbox", "name": "S", "enforce_window": true, "throughput_mps": 80}"#,
            ),
            (UpdateConnection, r#"{"name": "S", "enforce_window": null}"#),
            (
                CreateEndpoint,
                r#"{"url": "https://a.test/h", "event_types": ["message.status"]}"#,
            ),
            (UpdateEndpoint, r#"{"paused": true}"#),
            (
                SimulateInbound,
                r#"{"from": "+96550001234", "text": "hi", "name": "Sara"}"#,
            ),
            (EraseContact, r#"{"phone": "+96550001234"}"#),
            (
                SendMessage,
                r#"{"connection_id": "7", "messaging_product": "whatsapp", "to": "+96550001234", "type": "text", "text": {"body": "x"}}"#,
            ),
        ] {
            check_body(operation, body.as_bytes(), &config)
                .unwrap_or_else(|e| panic!("{operation:?} {body}: {e:?}"));
        }
    }

    /// What the fuzz target (tests/fuzz, `api_bodies`) does, bounded, on every build: mutated copies
    /// of each operation's bodies, fed to every operation, are accepted or refused, never a panic.
    #[test]
    fn mutated_bodies_never_panic() {
        let seeds: [&[u8]; 9] = [
            br#"{"connection_id": "12", "to": "+96550001234", "type": "template", "template": {"name": "order", "language": {"code": "en"}, "components": [{"type": "body", "parameters": [{"type": "text", "text": "42"}]}]}}"#,
            br#"{"connection_id": "12", "to": "+96550001234", "type": "interactive", "interactive": {"type": "list", "body": {"text": "Pick"}, "action": {"button": "Menu", "sections": [{"title": "A", "rows": [{"id": "1", "title": "One"}]}]}}, "context": {"message_id": "wamid.1"}}"#,
            br#"{"connection_id": "12", "to": "+96550001234", "type": "contacts", "contacts": [{"name": {"formatted_name": "Sara"}}]}"#,
            br#"{"kind": "cloud", "name": "Main", "phone_number_id": "1065", "waba_id": "1022", "access_token": "t", "app_secret": "s", "graph_base_url": "https://graph.facebook.com", "throughput_mps": 80, "enforce_window": true}"#,
            br#"{"name": "Main", "graph_version": "v25.0", "throughput_mps": 1000, "enforce_window": false}"#,
            br#"{"url": "https://hooks.test/whatsapp", "description": "shop", "event_types": ["message.status", "message.received"]}"#,
            br#"{"url": "http://[::ffff:10.0.0.1]:8080/x", "paused": false, "event_types": []}"#,
            br#"{"from": "+965 5000 1234", "text": "\u0645\u0631\u062d\u0628\u0627", "name": "Sara"}"#,
            br#"{"phone": "00965 (500) 01234"}"#,
        ];
        let config = config();
        crate::mutation::mutations(&seeds, 20_000, |round, body| {
            let operation = Operation::ALL[round % Operation::ALL.len()];
            let _ = check_body(operation, body, &config);
        });
    }
}
