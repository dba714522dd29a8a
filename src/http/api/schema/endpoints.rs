//! Answers of `/api/v1/webhook-endpoints`: where an account's events go and what was delivered.

use crate::store::deliveries::{AttemptView, DeliveryView};
use crate::store::endpoints::Endpoint;
use crate::store::states::DeliveryStatus;
use serde::Serialize;
use utoipa::ToSchema;

/// A webhook endpoint. Its signing secret is shown once, when it is created.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EndpointView {
    pub created_at: i64,
    pub description: String,
    /// Which events it receives.
    pub event_types: Vec<String>,
    pub id: String,
    pub pause_reason: String,
    pub paused: bool,
    pub paused_at: Option<i64>,
    pub updated_at: i64,
    pub url: String,
}

impl From<&Endpoint> for EndpointView {
    fn from(endpoint: &Endpoint) -> Self {
        EndpointView {
            created_at: endpoint.created_at,
            description: endpoint.description.clone(),
            event_types: endpoint.event_types.clone(),
            id: endpoint.id.get().to_string(),
            pause_reason: endpoint.pause_reason.clone(),
            paused: endpoint.paused_at.is_some(),
            paused_at: endpoint.paused_at,
            updated_at: endpoint.updated_at,
            url: endpoint.url.clone(),
        }
    }
}

/// `POST /api/v1/webhook-endpoints`: the endpoint and, this once, its secret.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EndpointCreated {
    pub created_at: i64,
    pub description: String,
    pub event_types: Vec<String>,
    pub id: String,
    pub pause_reason: String,
    pub paused: bool,
    pub paused_at: Option<i64>,
    /// The Standard Webhooks signing secret (`whsec_...`); not shown again.
    pub secret: String,
    pub updated_at: i64,
    pub url: String,
}

impl EndpointCreated {
    pub fn new(endpoint: &Endpoint, secret: String) -> Self {
        let view = EndpointView::from(endpoint);
        EndpointCreated {
            created_at: view.created_at,
            description: view.description,
            event_types: view.event_types,
            id: view.id,
            pause_reason: view.pause_reason,
            paused: view.paused,
            paused_at: view.paused_at,
            secret,
            updated_at: view.updated_at,
            url: view.url,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EndpointList {
    pub data: Vec<EndpointView>,
}

/// One event's delivery to an endpoint.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Delivery {
    pub attempts: i64,
    pub created_at: i64,
    pub delivered_at: Option<i64>,
    pub event_id: String,
    pub event_type: String,
    pub id: String,
    pub last_attempt_at: Option<i64>,
    /// The HTTP status of the last attempt.
    pub last_code: Option<i64>,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<i64>,
    pub status: DeliveryStatus,
}

impl From<DeliveryView> for Delivery {
    fn from(d: DeliveryView) -> Self {
        Delivery {
            attempts: d.attempts,
            created_at: d.created_at,
            delivered_at: d.delivered_at,
            event_id: d.event_id,
            event_type: d.event_type,
            id: d.id,
            last_attempt_at: d.last_attempt_at,
            last_code: d.last_code,
            last_error: d.last_error,
            next_attempt_at: d.next_attempt_at,
            status: d.status,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeliveryList {
    pub data: Vec<Delivery>,
}

/// One attempt to deliver.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Attempt {
    pub at: i64,
    /// The endpoint's HTTP status, if it answered.
    pub code: Option<i64>,
    pub duration_ms: i64,
    pub error: Option<String>,
}

impl From<AttemptView> for Attempt {
    fn from(a: AttemptView) -> Self {
        Attempt {
            at: a.at,
            code: a.code,
            duration_ms: a.duration_ms,
            error: a.error,
        }
    }
}

/// `GET /api/v1/webhook-endpoints/<id>/deliveries/<delivery>`: the delivery and each attempt.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeliveryDetail {
    pub attempts: Vec<Attempt>,
    pub created_at: i64,
    pub delivered_at: Option<i64>,
    pub event_id: String,
    pub event_type: String,
    pub id: String,
    pub last_attempt_at: Option<i64>,
    pub last_code: Option<i64>,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<i64>,
    pub status: DeliveryStatus,
}

impl DeliveryDetail {
    pub fn new(d: DeliveryView, attempts: Vec<AttemptView>) -> Self {
        DeliveryDetail {
            attempts: attempts.into_iter().map(Attempt::from).collect(),
            created_at: d.created_at,
            delivered_at: d.delivered_at,
            event_id: d.event_id,
            event_type: d.event_type,
            id: d.id,
            last_attempt_at: d.last_attempt_at,
            last_code: d.last_code,
            last_error: d.last_error,
            next_attempt_at: d.next_attempt_at,
            status: d.status,
        }
    }
}

/// How many deliveries were queued again.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Replayed {
    pub queued: usize,
}
