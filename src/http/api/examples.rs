//! One example per route of the OpenAPI document, built from the same types the routes answer with, so
//! an example cannot show a field the route does not give. A test checks each against its schema.

use super::requests::SendMessage;
use super::schema::connections::{
    ConnectionCheck, ConnectionList, ConnectionView, InboundSimulated, MetaState, NumberFound,
    TemplateList, TemplateView, TemplatesSynced,
};
use super::schema::contacts::ContactErased;
use super::schema::conversations::{
    ConversationDetail, ConversationList, ConversationSeen, ConversationView, Direction,
    InboundItem, OutboundItem, ThreadItem,
};
use super::schema::endpoints::{
    Attempt, Delivery, DeliveryDetail, DeliveryList, EndpointCreated, EndpointList, EndpointView,
    Replayed,
};
use super::schema::messages::{
    MessageAccepted, MessageDetail, MessageList, MessageView, StatusEvent, Timestamps,
};
use super::schema::{ServiceWindow, WindowState};
use crate::domain::meta::message::{Content, Message, MessageType, Text};
use crate::store::states::{ConnectionState, DeliveryStatus, MessageStatus};
use serde::Serialize;
use serde_json::Value;

const CONNECTION: &str = "7392017443880812033";
const MESSAGE: &str = "7392017992011231232";
const ENDPOINT: &str = "7392018120031178752";
const CONTACT: &str = "7392018301122846720";
/// 2026-01-15 09:30 UTC, in milliseconds.
const AT: i64 = 1_768_469_400_000;
const DAY: i64 = 86_400_000;

fn json(value: impl Serialize) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

fn text(body: &str) -> Value {
    json(Text {
        body: body.to_owned(),
        preview_url: None,
        more: Default::default(),
    })
}

pub fn send_message() -> Value {
    json(SendMessage {
        connection_id: CONNECTION.to_owned(),
        message: Message {
            messaging_product: None,
            recipient_type: None,
            to: "+96550001234".to_owned(),
            kind: Some(MessageType::Text),
            context: None,
            content: Content::Text(Text {
                body: "Your order has shipped".to_owned(),
                preview_url: Some(false),
                more: Default::default(),
            }),
            recipient: "96550001234".to_owned(),
        },
    })
}

fn window() -> ServiceWindow {
    ServiceWindow {
        expires_at: Some(AT + DAY),
        state: WindowState::Open,
    }
}

pub fn message_accepted() -> Value {
    json(MessageAccepted {
        connection_id: CONNECTION.to_owned(),
        created_at: AT,
        customer_service_window: window(),
        id: MESSAGE.to_owned(),
        status: MessageStatus::Queued,
        to: "+96550001234".to_owned(),
        kind: "text".to_owned(),
    })
}

fn message_view() -> MessageView {
    MessageView {
        attempts: 1,
        connection_id: CONNECTION.to_owned(),
        error: None,
        id: MESSAGE.to_owned(),
        message: text("Your order has shipped"),
        status: MessageStatus::Delivered,
        timestamps: Timestamps {
            created: AT,
            delivered: Some(AT + 2_400),
            failed: None,
            read: None,
            sent: Some(AT + 900),
        },
        to: "+96550001234".to_owned(),
        kind: "text".to_owned(),
        wamid: Some("wamid.HBgLOTY1NTAwMDEyMzQVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA".to_owned()),
    }
}

pub fn message_detail() -> Value {
    let events = ["sent", "delivered"]
        .into_iter()
        .zip([AT + 900, AT + 2_400])
        .map(|(status, at)| StatusEvent {
            at,
            error_code: None,
            status: status.to_owned(),
        })
        .collect();
    json(MessageDetail::new(message_view(), events))
}

pub fn message_list() -> Value {
    json(MessageList {
        data: vec![message_view()],
        next_cursor: None,
    })
}

pub fn create_connection() -> Value {
    json(CreateConnectionExample {
        kind: "sandbox",
        name: "Shop (sandbox)",
    })
}

/// The fields a request example gives (the request types read JSON, they do not write it; the test of
/// the examples holds these to the request's schema, which refuses unknown fields).
#[derive(Serialize)]
struct CreateConnectionExample {
    kind: &'static str,
    name: &'static str,
}

pub fn update_connection() -> Value {
    json(UpdateConnectionExample {
        name: "Shop",
        enforce_window: true,
    })
}

#[derive(Serialize)]
struct UpdateConnectionExample {
    name: &'static str,
    enforce_window: bool,
}

fn connection_view() -> ConnectionView {
    ConnectionView {
        access_token_last4: "x9Qa".to_owned(),
        app_secret_last4: "3f1c".to_owned(),
        created_at: AT,
        enforce_window: false,
        graph_base_url: "https://graph.facebook.com".to_owned(),
        graph_version: "v25.0".to_owned(),
        id: CONNECTION.to_owned(),
        kind: "cloud".to_owned(),
        meta: MetaState {
            account_notice: None,
            messaging_limit: Some("TIER_1K".to_owned()),
            quality_rating: Some("GREEN".to_owned()),
            updated_at: Some(AT),
        },
        name: "Shop".to_owned(),
        phone_number_id: "106540352242922".to_owned(),
        state: ConnectionState::Active,
        state_detail: String::new(),
        throughput_mps: 80,
        updated_at: AT,
        verify_token: "5d1e0c5a9b7f4e21a0c3d8b6f2e9a417".to_owned(),
        waba_id: "102290129340398".to_owned(),
        webhook_url: "https://wa.example.com/webhooks/meta/k3J8sQ2pV7".to_owned(),
    }
}

pub fn connection() -> Value {
    json(connection_view())
}

pub fn connection_list() -> Value {
    json(ConnectionList {
        data: vec![connection_view()],
    })
}

pub fn connection_check() -> Value {
    json(ConnectionCheck::Reached(NumberFound {
        display_phone_number: Some("+965 5000 1234".to_owned()),
        ok: true,
        quality_rating: Some("GREEN".to_owned()),
        verified_name: Some("Shop".to_owned()),
    }))
}

pub fn templates_synced() -> Value {
    json(TemplatesSynced { templates: 12 })
}

pub fn template_list() -> Value {
    json(TemplateList {
        data: vec![TemplateView {
            body_params: 1,
            category: "UTILITY".to_owned(),
            connection_id: CONNECTION.to_owned(),
            header_params: 0,
            language: "en_US".to_owned(),
            name: "order_shipped".to_owned(),
            status: "APPROVED".to_owned(),
            synced_at: AT,
        }],
    })
}

pub fn simulate_inbound() -> Value {
    json(SimulateInboundExample {
        from: "+96550001234",
        text: "Where is my order?",
    })
}

#[derive(Serialize)]
struct SimulateInboundExample {
    from: &'static str,
    text: &'static str,
}

pub fn inbound_simulated() -> Value {
    json(InboundSimulated {
        from: "+96550001234".to_owned(),
        received_at: AT,
    })
}

fn endpoint_view() -> EndpointView {
    EndpointView {
        created_at: AT,
        description: "Order system".to_owned(),
        event_types: vec!["message.status".to_owned(), "message.received".to_owned()],
        id: ENDPOINT.to_owned(),
        pause_reason: String::new(),
        paused: false,
        paused_at: None,
        updated_at: AT,
        url: "https://hooks.example.com/whatsapp".to_owned(),
    }
}

pub fn create_endpoint() -> Value {
    json(EndpointExample {
        url: "https://hooks.example.com/whatsapp",
        description: "Order system",
        event_types: &["message.status", "message.received"],
    })
}

#[derive(Serialize)]
struct EndpointExample {
    url: &'static str,
    description: &'static str,
    event_types: &'static [&'static str],
}

pub fn update_endpoint() -> Value {
    json(PauseExample { paused: true })
}

#[derive(Serialize)]
struct PauseExample {
    paused: bool,
}

pub fn endpoint() -> Value {
    json(endpoint_view())
}

pub fn endpoint_list() -> Value {
    json(EndpointList {
        data: vec![endpoint_view()],
    })
}

pub fn endpoint_created() -> Value {
    let view = endpoint_view();
    json(EndpointCreated {
        created_at: view.created_at,
        description: view.description,
        event_types: view.event_types,
        id: view.id,
        pause_reason: view.pause_reason,
        paused: view.paused,
        paused_at: view.paused_at,
        secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned(),
        updated_at: view.updated_at,
        url: view.url,
    })
}

fn delivery() -> Delivery {
    Delivery {
        attempts: 1,
        created_at: AT,
        delivered_at: Some(AT + 120),
        event_id: "7392019022931173376".to_owned(),
        event_type: "message.status".to_owned(),
        id: "7392019023010865152".to_owned(),
        last_attempt_at: Some(AT + 80),
        last_code: Some(200),
        last_error: None,
        next_attempt_at: None,
        status: DeliveryStatus::Delivered,
    }
}

pub fn delivery_list() -> Value {
    json(DeliveryList {
        data: vec![delivery()],
    })
}

pub fn delivery_detail() -> Value {
    let d = delivery();
    json(DeliveryDetail {
        attempts: vec![Attempt {
            at: AT + 80,
            code: Some(200),
            duration_ms: 41,
            error: None,
        }],
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
    })
}

pub fn replayed() -> Value {
    json(Replayed { queued: 1 })
}

fn conversation_view() -> ConversationView {
    ConversationView {
        connection_id: CONNECTION.to_owned(),
        customer_service_window: window(),
        id: CONTACT.to_owned(),
        last_inbound_at: AT,
        last_message_at: AT + 60_000,
        name: Some("Sara".to_owned()),
        phone: "+96550001234".to_owned(),
        unread_count: 1,
    }
}

pub fn conversation_list() -> Value {
    json(ConversationList {
        data: vec![conversation_view()],
        next_cursor: None,
    })
}

pub fn conversation_detail() -> Value {
    let mut outbound = message_view();
    outbound.timestamps.created = AT + 60_000;
    json(ConversationDetail {
        contact: conversation_view(),
        customer_service_window: window(),
        messages: vec![
            ThreadItem::Outbound(Box::new(OutboundItem::new(
                outbound,
                AT + 60_000,
                format!("{}_{MESSAGE}", AT + 60_000),
            ))),
            ThreadItem::Inbound(InboundItem {
                at: AT,
                cursor: format!("{AT}_7392017870021189632"),
                direction: Direction::Inbound,
                id: "7392017870021189632".to_owned(),
                message: text("Where is my order?"),
                received_at: AT + 400,
                seen_at: None,
                kind: "text".to_owned(),
                wamid: "wamid.HBgLOTY1NTAwMDEyMzQVAgASGBQzQUIxMjM0NTY3ODkwQUJDREVGAA==".to_owned(),
            }),
        ],
        next_cursor: None,
    })
}

pub fn conversation_seen() -> Value {
    json(ConversationSeen {
        id: CONTACT.to_owned(),
        marked_seen: 1,
        unread_count: 0,
    })
}

pub fn erase_contact() -> Value {
    json(EraseExample {
        phone: "+96550001234",
    })
}

#[derive(Serialize)]
struct EraseExample {
    phone: &'static str,
}

pub fn contact_erased() -> Value {
    json(ContactErased {
        deleted: [("contacts", 1), ("inbound_messages", 2), ("messages", 3)]
            .into_iter()
            .map(|(table, n)| (table.to_owned(), n))
            .collect(),
        erased: true,
        phone: "+96550001234".to_owned(),
    })
}

pub fn usage_report() -> Value {
    use crate::services::usage::{
        ApiCallCount, FailureCount, GroupBy, OtherCounts, PricingCount, UsageReport, UsageRow,
    };
    let day = |key: &str, sent: u64, failed: u64| UsageRow {
        key: key.to_owned(),
        accepted: sent + failed,
        sent,
        delivered: sent,
        read: sent / 2,
        failed,
        inbound: 3,
        api_calls: sent + failed + 4,
    };
    let (first, second) = (day("2026-12-01", 40, 2), day("2026-12-02", 30, 0));
    json(UsageReport {
        from: "2026-12-01".into(),
        to: "2026-12-02".into(),
        group_by: GroupBy::Day,
        totals: UsageRow {
            key: "total".into(),
            accepted: 72,
            sent: 70,
            delivered: 70,
            read: 35,
            failed: 2,
            inbound: 6,
            api_calls: 80,
        },
        rows: vec![first, second],
        failures: vec![FailureCount {
            code: 131026,
            count: 2,
            meaning: crate::domain::meta::errors::explain(131026).map(str::to_owned),
        }],
        api_calls: vec![ApiCallCount {
            key_id: "3".into(),
            route: "POST /api/v1/messages".into(),
            class: "2xx".into(),
            count: 80,
        }],
        pricing: vec![PricingCount {
            category: "utility".into(),
            delivered: 70,
        }],
        other: OtherCounts {
            webhooks_delivered: 150,
            webhooks_retried: 1,
            webhooks_failed: 0,
            sign_ins: 4,
            failed_sign_ins: 1,
        },
    })
}
