//! Answers of `/api/v1/connections` and `/api/v1/templates`.

use crate::config::Config;
use crate::store::connections::ConnectionInfo;
use crate::store::states::ConnectionState;
use crate::store::templates;
use serde::Serialize;
use utoipa::ToSchema;

pub use crate::services::connections::{CheckError, CheckFailed, ConnectionCheck, NumberFound};

/// A WhatsApp number on Meta's Cloud API or on the built-in sandbox. Secrets are shown only by their
/// last four characters; what Meta's dashboard needs (webhook URL, verify token) in full.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConnectionView {
    pub access_token_last4: String,
    pub app_secret_last4: String,
    pub created_at: i64,
    /// Refuse anything but templates when the customer's 24-hour window is closed.
    pub enforce_window: bool,
    pub graph_base_url: String,
    pub graph_version: String,
    pub id: String,
    /// `cloud` or `sandbox`.
    pub kind: String,
    pub meta: MetaState,
    pub name: String,
    pub phone_number_id: String,
    /// Held numbers send nothing until their problem is fixed (`state_detail` says what it is).
    pub state: ConnectionState,
    pub state_detail: String,
    /// Messages per second the sender keeps to on this number.
    pub throughput_mps: i64,
    pub updated_at: i64,
    /// The token Meta sends back when the webhook is set up.
    pub verify_token: String,
    pub waba_id: String,
    /// Where Meta's webhooks for this number go.
    pub webhook_url: String,
}

/// What Meta's webhooks last said about the number and its business account.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MetaState {
    pub account_notice: Option<String>,
    pub messaging_limit: Option<String>,
    pub quality_rating: Option<String>,
    pub updated_at: Option<i64>,
}

impl ConnectionView {
    pub fn new(connection: &ConnectionInfo, verify_token: &str, config: &Config) -> Self {
        let c = connection;
        ConnectionView {
            access_token_last4: c.access_token_last4.clone(),
            app_secret_last4: c.app_secret_last4.clone(),
            created_at: c.created_at,
            enforce_window: c.enforce_window,
            graph_base_url: c.graph_base_url.clone(),
            graph_version: c.graph_version.clone(),
            id: c.id.get().to_string(),
            kind: c.kind.clone(),
            meta: MetaState {
                account_notice: c.account_notice.clone(),
                messaging_limit: c.messaging_limit.clone(),
                quality_rating: c.quality_rating.clone(),
                updated_at: c.meta_updated_at,
            },
            name: c.name.clone(),
            phone_number_id: c.phone_number_id.clone(),
            state: c.state,
            state_detail: c.state_detail.clone(),
            throughput_mps: c.throughput_mps,
            updated_at: c.updated_at,
            verify_token: verify_token.to_owned(),
            waba_id: c.waba_id.clone(),
            webhook_url: format!(
                "{}/webhooks/meta/{}",
                config.server.public_url, c.webhook_key
            ),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConnectionList {
    pub data: Vec<ConnectionView>,
}

/// `POST /api/v1/connections/<id>/templates/sync`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TemplatesSynced {
    /// How many templates the number has.
    pub templates: usize,
}

/// A message template of a number, as Meta last listed it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TemplateView {
    pub body_params: i64,
    pub category: String,
    pub connection_id: String,
    pub header_params: i64,
    pub language: String,
    pub name: String,
    /// Meta's: `APPROVED`, `PENDING`, `REJECTED`, ...
    pub status: String,
    pub synced_at: i64,
}

impl From<templates::Template> for TemplateView {
    fn from(t: templates::Template) -> Self {
        TemplateView {
            body_params: t.body_params,
            category: t.category,
            connection_id: t.connection_id,
            header_params: t.header_params,
            language: t.language,
            name: t.name,
            status: t.status,
            synced_at: t.synced_at,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TemplateList {
    pub data: Vec<TemplateView>,
}

/// `POST /api/v1/connections/<id>/sandbox/inbound`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InboundSimulated {
    pub from: String,
    /// The time the message states, in whole seconds (as milliseconds).
    pub received_at: i64,
}
