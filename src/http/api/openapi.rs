//! The OpenAPI 3.1 document of `/api/v1`, generated from the routes' own request and answer types and
//! served at `GET /api/v1/openapi.json` (no key needed: it describes, it does not disclose). The API
//! reference page of the web interface is rendered from the same document.

use super::{connections, contacts, conversations, endpoints, messages, usage};
use rocket::serde::json::Json;
use rocket::{get, routes};
use std::sync::OnceLock;
use utoipa::openapi::OpenApi as Document;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

pub fn routes() -> Vec<rocket::Route> {
    routes![openapi_json]
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "WhatsAPI Pro",
        description = "Send and follow WhatsApp messages through Meta's Cloud API, from one self-hosted server. \
            Every request carries an API key, `Authorization: Bearer wapi_...` (created on the API keys page). \
            Bodies are JSON (`Content-Type: application/json`); ids travel as strings; times are milliseconds \
            since 1970-01-01 UTC. Every error is `{\"error\": {\"code\", \"message\", \"details\"}}` with a stable `code`.",
    ),
    paths(
        messages::send_message,
        messages::list_messages,
        messages::get_message,
        conversations::list_conversations,
        conversations::get_conversation,
        conversations::mark_conversation_seen,
        connections::create_connection,
        connections::list_connections,
        connections::get_connection,
        connections::update_connection,
        connections::delete_connection,
        connections::check_connection,
        connections::sync_templates,
        connections::list_templates,
        connections::simulate_inbound,
        endpoints::create_endpoint,
        endpoints::list_endpoints,
        endpoints::get_endpoint,
        endpoints::update_endpoint,
        endpoints::delete_endpoint,
        endpoints::list_deliveries,
        endpoints::get_delivery,
        endpoints::replay_delivery,
        endpoints::replay_failed,
        contacts::erase_contact,
        usage::get_usage,
    ),
    components(schemas(super::schema::errors::ErrorBody)),
    modifiers(&BearerKey),
    security(("api_key" = [])),
    tags(
        (name = "messages", description = "Sending messages and following their delivery."),
        (name = "conversations", description = "The inbox: customers' messages and replies."),
        (name = "connections", description = "WhatsApp numbers and their templates."),
        (name = "webhook-endpoints", description = "Where the account's events are posted."),
        (name = "contacts", description = "Customers' data."),
        (name = "usage", description = "What the account sent, received and called, per day."),
    ),
)]
struct ApiDoc;

/// `Authorization: Bearer wapi_...` on every route.
struct BearerKey;

impl Modify for BearerKey {
    fn modify(&self, openapi: &mut Document) {
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("wapi_<id>_<secret>")
            .description(Some("An API key of the account, from the API keys page."))
            .build();
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme("api_key", SecurityScheme::Http(scheme));
    }
}

/// The document, built once.
pub fn document() -> &'static Document {
    static DOCUMENT: OnceLock<Document> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let mut doc = ApiDoc::openapi();
        doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
        doc
    })
}

/// The document as JSON, built once: what the API reference page walks.
pub fn document_json() -> &'static serde_json::Value {
    static JSON: OnceLock<serde_json::Value> = OnceLock::new();
    JSON.get_or_init(|| serde_json::to_value(document()).unwrap_or_default())
}

#[get("/api/v1/openapi.json")]
fn openapi_json() -> Json<&'static Document> {
    Json(document())
}
