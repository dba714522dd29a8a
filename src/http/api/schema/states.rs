//! The states the API's answers carry (a message's status, a delivery's status, a connection's state),
//! described for the OpenAPI document as string enums of their one string form each. The types are the
//! store's own (`store::states`), so an answer can hold no other string; the description lives here, with
//! the rest of the document, rather than in the store.

use crate::store::states::{ConnectionState, DeliveryStatus, MessageStatus};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};

macro_rules! state_schema {
    ($($state:ty: $description:literal;)+) => {$(
        impl PartialSchema for $state {
            fn schema() -> RefOr<Schema> {
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(<$state>::NAMES.iter().copied()))
                    .description(Some($description))
                    .into()
            }
        }

        impl ToSchema for $state {}
    )+};
}

state_schema! {
    MessageStatus: "Where an outgoing message stands: `queued` (in the outbox), `sending` (being handed to Meta), `sent` (Meta accepted it), `delivered`, `read`, or `failed` (final).";
    DeliveryStatus: "Where a delivery to a webhook endpoint stands: `pending` (waiting for an attempt or a retry), `delivering` (being posted now), `delivered`, or `failed` (after the last retry; it can be replayed).";
    ConnectionState: "Whether the number's queue is sent: `active`, or `held` (Meta refused the credentials; nothing is sent until they are changed).";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_state_is_documented_as_the_enum_of_its_string_forms() {
        fn listed<S: ToSchema>() -> Vec<String> {
            let schema = serde_json::to_value(S::schema()).unwrap();
            assert_eq!(schema["type"], "string", "{schema}");
            serde_json::from_value(schema["enum"].clone()).unwrap()
        }
        let names = |all: &[&str]| all.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();
        assert_eq!(listed::<MessageStatus>(), names(MessageStatus::NAMES));
        assert_eq!(listed::<DeliveryStatus>(), names(DeliveryStatus::NAMES));
        assert_eq!(listed::<ConnectionState>(), names(ConnectionState::NAMES));
        assert_eq!(MessageStatus::name(), "MessageStatus");
    }
}
