//! The built-in Meta simulator: `POST /sandbox/graph/<version>/<phone_number_id>/messages` answers like the
//! Cloud API (a wamid, or Meta's error envelope) for the appliance's own sandbox connections. A recipient
//! number ending in one of Meta's error codes gets that error, so every failure path can be tried: errors
//! that Meta means as passing (rate limits, outages) are given to a message's first attempt only, so its
//! retry goes through; the others are given every time.

use crate::store::{Db, connections};
use parking_lot::Mutex;
use rocket::http::Status;
use rocket::request::{FromRequest, Outcome, Request};
use rocket::serde::json::Json;
use rocket::{State, post, routes};
use serde_json::{Value, json};
use std::collections::HashSet;

#[derive(Default)]
pub struct SandboxState {
    /// Messages (by `biz_opaque_callback_data`) that already had their passing error.
    passed: Mutex<HashSet<String>>,
    /// Posts the status webhooks of accepted messages (none when nobody listens for them).
    feed: Option<feed::StatusFeed>,
    /// Templates submitted to the sandbox's business accounts (`templates.rs`).
    templates: std::sync::Arc<templates::Submitted>,
    /// Files uploaded to the sandbox's media endpoint.
    uploads: media::Uploads,
}

impl SandboxState {
    pub fn with_status_feed(delays: feed::Delays, keep_count: bool) -> SandboxState {
        SandboxState {
            passed: Mutex::default(),
            feed: Some(feed::StatusFeed::start(delays, keep_count)),
            templates: std::sync::Arc::default(),
            uploads: media::Uploads::default(),
        }
    }

    fn templates_handle(&self) -> std::sync::Arc<templates::Submitted> {
        self.templates.clone()
    }

    /// Statuses whose webhook was answered 200 (only when the feed keeps count).
    pub fn acknowledged(&self) -> Vec<(String, &'static str)> {
        self.feed
            .as_ref()
            .map_or_else(Vec::new, feed::StatusFeed::acknowledged)
    }
}

const PASSING: [i64; 5] = [131000, 131016, 130429, 131056, 80007];

pub mod events;
pub mod feed;
mod media;
mod standalone;
pub mod templates;
pub use standalone::{StandaloneOptions, run_standalone};

pub fn routes() -> Vec<rocket::Route> {
    let all = routes![
        sandbox_send,
        sandbox_phone_number,
        templates::sandbox_templates,
        templates::sandbox_create_template,
        templates::sandbox_delete_template
    ];
    all.into_iter().chain(media::routes()).collect()
}

/// The sandbox's templates, two per page so that clients must follow `paging.next` as with Meta.
pub fn templates_page(after: Option<&str>, next_base: &str) -> Value {
    templates_page_with(after, next_base, &[])
}

/// The templates every sandbox business account has from the start.
pub fn standing_templates() -> Vec<Value> {
    let all = json!([
        {"name": "hello_world", "language": "en_US", "status": "APPROVED", "category": "UTILITY",
         "components": [{"type": "BODY", "text": "Hello, thank you for your message."}]},
        {"name": "order_update", "language": "en_US", "status": "APPROVED", "category": "UTILITY",
         "components": [{"type": "BODY", "text": "Hi {{1}}, your order {{2}} is on its way."}]},
        {"name": "order_update", "language": "ar", "status": "APPROVED", "category": "UTILITY",
         "components": [{"type": "BODY", "text": "مرحبًا {{1}}، طلبك {{2}} في الطريق."}]},
        {"name": "spring_sale", "language": "en_US", "status": "PAUSED", "category": "MARKETING",
         "components": [{"type": "HEADER", "format": "TEXT", "text": "Spring sale"},
                        {"type": "BODY", "text": "Hi {{1}}, 20% off until Friday."}]},
    ]);
    all.as_array().cloned().unwrap_or_default()
}

/// The sandbox's standing templates and then `submitted`, two per page.
pub fn templates_page_with(after: Option<&str>, next_base: &str, submitted: &[Value]) -> Value {
    let mut all = standing_templates();
    all.extend_from_slice(submitted);
    let start: usize = after
        .and_then(|a| a.parse().ok())
        .unwrap_or(0)
        .min(all.len());
    let end = (start + 2).min(all.len());
    let mut page =
        json!({ "data": all[start..end], "paging": {"cursors": {"after": end.to_string()}} });
    if end < all.len() {
        page["paging"]["next"] = json!(format!("{next_base}?after={end}"));
    }
    page
}

/// What Meta says about a number; the sandbox's numbers are always in good standing.
pub fn phone_number_answer(phone_number_id: &str) -> Value {
    json!({
        "verified_name": "Sandbox Business",
        "display_phone_number": format!("+1 555 {}", &phone_number_id[phone_number_id.len().saturating_sub(7)..]),
        "quality_rating": "GREEN",
        "id": phone_number_id,
    })
}

#[rocket::get("/sandbox/graph/<version>/<phone_number_id>?<fields>")]
async fn sandbox_phone_number(
    version: &str,
    phone_number_id: &str,
    fields: Option<&str>,
    call: SandboxCall<'_>,
) -> (Status, Json<Value>) {
    // Meta answers the fields asked for; the sandbox always answers these three.
    let _ = fields;
    if !connections::valid_graph_version(version) {
        return meta_error(100, 400, "Unknown path components");
    }
    if !call.authorised(phone_number_id).await {
        return meta_error(190, 401, "Invalid OAuth access token");
    }
    (Status::Ok, Json(phone_number_answer(phone_number_id)))
}

/// A call to the sandbox's Graph API: its bearer token (empty when there is none), and the store and
/// configuration it is checked and answered with.
pub struct SandboxCall<'r> {
    bearer: String,
    db: &'r Db,
    config: &'r crate::config::Config,
    /// The sandbox's own state (its uploads), when it is managed.
    sandbox: Option<&'r SandboxState>,
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for SandboxCall<'r> {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        let rocket = req.rocket();
        let (Some(db), Some(config)) = (
            rocket.state::<Db>(),
            rocket.state::<crate::config::Config>(),
        ) else {
            tracing::error!("the sandbox needs the store and the configuration managed");
            return Outcome::Error((Status::InternalServerError, ()));
        };
        let bearer = req
            .headers()
            .get_one("Authorization")
            .and_then(|h| h.strip_prefix("Bearer "))
            .unwrap_or("")
            .trim()
            .to_owned();
        let sandbox = rocket.state::<SandboxState>();
        Outcome::Success(SandboxCall {
            bearer,
            db,
            config,
            sandbox,
        })
    }
}

impl SandboxCall<'_> {
    /// Whether the bearer token is the sandbox connection's own (compared in constant time).
    async fn authorised(&self, meta_id: &str) -> bool {
        self.connection(meta_id).await.is_some()
    }

    /// The sandbox connection with this id and its secrets, if the bearer token is its own.
    async fn connection(
        &self,
        meta_id: &str,
    ) -> Option<(connections::ConnectionInfo, connections::Secrets)> {
        let (phone, keyring_db) = (meta_id.to_owned(), self.db.clone());
        let (found, secrets) = self
            .db
            .read_async(move |conn| {
                let Some(found) = connections::find_sandbox(conn, &phone)? else {
                    return Ok(None);
                };
                let secrets =
                    connections::secrets(conn, keyring_db.keyring(), found.account_id, found.id)?;
                Ok(Some((found, secrets)))
            })
            .await
            .ok()
            .flatten()?;
        crate::crypto::constant_time_eq(secrets.access_token.as_bytes(), self.bearer.as_bytes())
            .then_some((found, secrets))
    }
}

/// Meta's errors by code: HTTP status and title (Meta's own wording), for the magic recipient numbers.
const ERRORS: [(i64, u16, &str); 16] = [
    (131026, 400, "Message undeliverable"),
    (131047, 400, "Re-engagement message"),
    (131048, 400, "Spam rate limit hit"),
    (131049, 400, "Meta chose not to deliver."),
    (131050, 400, "User has stopped marketing messages"),
    (
        131056,
        400,
        "(Business Account, Consumer Account) pair rate limit hit",
    ),
    (130429, 400, "Rate limit hit"),
    (131000, 500, "Something went wrong"),
    (131016, 503, "Service unavailable"),
    (
        132001,
        404,
        "Template name does not exist in the translation",
    ),
    (131030, 400, "Recipient phone number not in allowed list"),
    (131051, 400, "Unsupported message type"),
    (80007, 400, "Rate limit issues"),
    (368, 403, "Temporarily blocked for policies violations"),
    (
        190,
        401,
        "Error validating access token: Session has expired",
    ),
    (100, 400, "Invalid parameter"),
];

/// The reserved test range: `+1 555 0199` followed by one of Meta's error codes above. 555-0100 to
/// 555-0199 are reserved for fiction in the North American numbering plan, so no customer's number is
/// mistaken for a simulation.
pub const MAGIC_PREFIX: &str = "15550199";

/// The error a recipient number (digits, without `+`) asks for, if it is `MAGIC_PREFIX` and a code.
pub fn magic_error(recipient: &str) -> Option<(i64, u16, &'static str)> {
    let code = recipient.strip_prefix(MAGIC_PREFIX)?;
    ERRORS
        .into_iter()
        .find(|(known, _, _)| known.to_string() == code)
}

fn meta_error(code: i64, status: u16, title: &str) -> (Status, Json<Value>) {
    let body = json!({"error": {
        "message": format!("(#{code}) {title}"),
        "type": "OAuthException",
        "code": code,
        "error_data": {"messaging_product": "whatsapp", "details": format!("{title} (sandbox)")},
        "fbtrace_id": hex::encode(crate::crypto::random_bytes::<8>().unwrap_or_default()),
    }});
    (
        Status::from_code(status).unwrap_or(Status::BadRequest),
        Json(body),
    )
}

#[post(
    "/sandbox/graph/<version>/<phone_number_id>/messages",
    format = "json",
    data = "<body>"
)]
async fn sandbox_send(
    version: &str,
    phone_number_id: &str,
    body: Json<Value>,
    call: SandboxCall<'_>,
    state: &State<SandboxState>,
) -> (Status, Json<Value>) {
    if !connections::valid_graph_version(version) {
        return meta_error(100, 400, "Unknown path components");
    }
    let Some((connection, secrets)) = call.connection(phone_number_id).await else {
        return meta_error(190, 401, "Invalid OAuth access token");
    };
    let target = std::sync::Arc::new(feed::Target {
        url: format!(
            "{}/webhooks/meta/{}",
            call.config.server.public_url, connection.webhook_key
        ),
        secret: secrets.app_secret,
        waba_id: connection.waba_id,
        phone_number_id: connection.phone_number_id,
    });
    answer(&body, state, Some(target))
}

/// Meta's answer to a send: its error for a magic number, else a wamid, and then (when there is a
/// target) the message's status webhooks.
fn answer(
    body: &Value,
    state: &SandboxState,
    target: Option<std::sync::Arc<feed::Target>>,
) -> (Status, Json<Value>) {
    let Some(to) = body.get("to").and_then(Value::as_str) else {
        return meta_error(100, 400, "The parameter to is required");
    };
    if let Some((code, status, title)) = magic_error(to.trim_start_matches('+')) {
        let message = body
            .get("biz_opaque_callback_data")
            .and_then(Value::as_str)
            .unwrap_or(to)
            .to_owned();
        let first_attempt = state.passed.lock().insert(message);
        if !PASSING.contains(&code) || first_attempt {
            return meta_error(code, status, title);
        }
    }
    let wamid = format!(
        "wamid.SBX{}",
        hex::encode(crate::crypto::random_bytes::<16>().unwrap_or_default()).to_uppercase()
    );
    if let (Some(feed), Some(target)) = (&state.feed, target) {
        feed.accepted(feed::Accepted {
            target,
            wamid: wamid.clone(),
            recipient: to.trim_start_matches('+').to_owned(),
            callback: body
                .get("biz_opaque_callback_data")
                .and_then(Value::as_str)
                .map(str::to_owned),
        });
    }
    let answer = json!({
        "messaging_product": "whatsapp",
        "contacts": [{"input": to, "wa_id": to.trim_start_matches('+')}],
        "messages": [{"id": wamid}],
    });
    (Status::Ok, Json(answer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_numbers_pick_their_error() {
        assert_eq!(magic_error("15550199131026").map(|e| e.0), Some(131026));
        assert_eq!(magic_error("15550199131049").map(|e| e.0), Some(131049));
        assert_eq!(magic_error("15550199131050").map(|e| e.0), Some(131050));
        assert_eq!(magic_error("15550199190").map(|e| e.0), Some(190));
        assert_eq!(magic_error("15550199100").map(|e| e.0), Some(100));
        // Numbers that merely end in a code are real numbers: delivered.
        assert_eq!(magic_error("96550131026"), None);
        assert_eq!(magic_error("9655000190"), None);
        assert_eq!(magic_error("15550199131026999"), None);
        assert_eq!(magic_error("96550001234"), None);
    }
}
