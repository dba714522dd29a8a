//! The sandbox's message templates, as Meta's template API answers them: `GET` lists the sandbox's
//! standing examples and the ones submitted to this business account, `POST` takes a new one as
//! `PENDING` and reviews it after `[sandbox] template_review_after_ms` (posting Meta's signed
//! `message_template_status_update` webhook to the connection, as Meta does), and `DELETE ?name=`
//! removes a name in every language. A name starting with `reject_` is the documented test range for a
//! rejection (`INVALID_FORMAT`); every other well-formed template is approved.

use super::{SandboxCall, SandboxState, meta_error};
use crate::store::connections;
use parking_lot::Mutex;
use rocket::http::Status;
use rocket::serde::json::Json;
use rocket::{State, delete, get, post};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;
use zeroize::Zeroizing;

/// Names starting with this are rejected by the sandbox's review.
pub const REJECT_PREFIX: &str = "reject_";

/// Templates submitted to the sandbox, by business account id.
#[derive(Default)]
pub struct Submitted {
    by_account: Mutex<HashMap<String, Vec<Value>>>,
}

impl Submitted {
    fn list(&self, waba_id: &str) -> Vec<Value> {
        self.by_account
            .lock()
            .get(waba_id)
            .cloned()
            .unwrap_or_default()
    }

    fn set_status(&self, waba_id: &str, id: &str, status: &str, reason: &str) {
        if let Some(all) = self.by_account.lock().get_mut(waba_id)
            && let Some(template) = all.iter_mut().find(|t| t["id"] == id)
        {
            template["status"] = json!(status);
            template["rejected_reason"] = json!(reason);
        }
    }
}

#[get("/sandbox/graph/<version>/<waba_id>/message_templates?<after>")]
pub async fn sandbox_templates(
    version: &str,
    waba_id: &str,
    after: Option<&str>,
    call: SandboxCall<'_>,
    state: &State<SandboxState>,
) -> (Status, Json<Value>) {
    if !connections::valid_graph_version(version) {
        return meta_error(100, 400, "Unknown path components");
    }
    if !call.authorised(waba_id).await {
        return meta_error(190, 401, "Invalid OAuth access token");
    }
    let next_base = format!(
        "{}/sandbox/graph/{version}/{waba_id}/message_templates",
        call.config.server.public_url
    );
    let submitted = state.templates.list(waba_id);
    (
        Status::Ok,
        Json(super::templates_page_with(after, &next_base, &submitted)),
    )
}

/// Meta's refusal of a template (code 100 with its subcode and the words Meta shows a person).
fn refused(subcode: i64, title: &str, message: &str) -> (Status, Json<Value>) {
    let (status, Json(mut body)) = meta_error(100, 400, "Invalid parameter");
    body["error"]["error_subcode"] = json!(subcode);
    body["error"]["error_user_title"] = json!(title);
    body["error"]["error_user_msg"] = json!(message);
    body["error"]["error_data"]["details"] = json!(format!("{message} (sandbox)"));
    (status, Json(body))
}

/// What Meta checks of a submitted template before it takes it for review; the refusal, if any.
fn check(template: &Value, existing: &[Value]) -> Option<(Status, Json<Value>)> {
    let name = template["name"].as_str().unwrap_or_default();
    let language = template["language"].as_str().unwrap_or_default();
    let valid_name = !name.is_empty()
        && name.len() <= 512
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !valid_name {
        return Some(refused(
            2388023,
            "Invalid template name",
            "The name may have only lowercase letters, digits and underscores.",
        ));
    }
    if !matches!(
        template["category"].as_str(),
        Some("MARKETING" | "UTILITY" | "AUTHENTICATION")
    ) {
        return Some(refused(
            2388032,
            "Invalid category",
            "The category must be MARKETING, UTILITY or AUTHENTICATION.",
        ));
    }
    if language.is_empty() {
        return Some(refused(
            2388026,
            "Invalid language",
            "The language is missing.",
        ));
    }
    let components = template["components"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let body = components.iter().find(|c| {
        c["type"]
            .as_str()
            .is_some_and(|t| t.eq_ignore_ascii_case("BODY"))
    });
    let Some(body) = body else {
        return Some(refused(
            2388043,
            "Missing body",
            "A template needs a BODY component.",
        ));
    };
    let variables = crate::store::templates::placeholders(body["text"].as_str().unwrap_or(""));
    let examples = body["example"]["body_text"][0]
        .as_array()
        .map_or(0, Vec::len) as i64;
    if variables > 0 && examples != variables {
        return Some(refused(
            2388043,
            "Missing example",
            "Each variable of the body needs an example value.",
        ));
    }
    if existing
        .iter()
        .any(|t| t["name"] == name && t["language"] == language && t["status"] != "DELETED")
    {
        return Some(refused(
            2388024,
            "Content in this language already exists",
            "There is already a template with this name in this language.",
        ));
    }
    None
}

#[post(
    "/sandbox/graph/<version>/<waba_id>/message_templates",
    format = "json",
    data = "<template>"
)]
pub async fn sandbox_create_template(
    version: &str,
    waba_id: &str,
    template: Json<Value>,
    call: SandboxCall<'_>,
    state: &State<SandboxState>,
) -> (Status, Json<Value>) {
    if !connections::valid_graph_version(version) {
        return meta_error(100, 400, "Unknown path components");
    }
    let Some((connection, secrets)) = call.connection(waba_id).await else {
        return meta_error(190, 401, "Invalid OAuth access token");
    };
    if connection.waba_id != waba_id {
        return meta_error(100, 400, "Unknown path components");
    }
    let template = template.into_inner();
    let mut existing = super::standing_templates();
    existing.extend(state.templates.list(waba_id));
    if let Some(refusal) = check(&template, &existing) {
        return refusal;
    }
    let id = format!(
        "{}",
        u64::from_be_bytes(crate::crypto::random_bytes::<8>().unwrap_or_default()) >> 12
    );
    let name = template["name"].as_str().unwrap_or_default().to_owned();
    let category = template["category"].as_str().unwrap_or_default().to_owned();
    let stored = json!({
        "id": id, "name": name, "language": template["language"], "status": "PENDING",
        "category": category, "components": template["components"],
    });
    state
        .templates
        .by_account
        .lock()
        .entry(waba_id.to_owned())
        .or_default()
        .push(stored.clone());
    let rejected = name.starts_with(REJECT_PREFIX);
    let review = Review {
        url: format!(
            "{}/webhooks/meta/{}",
            call.config.server.public_url, connection.webhook_key
        ),
        secret: secrets.app_secret,
        waba_id: waba_id.to_owned(),
        template: stored,
        status: if rejected { "REJECTED" } else { "APPROVED" },
        reason: if rejected { "INVALID_FORMAT" } else { "NONE" },
    };
    let delay = Duration::from_millis(call.config.sandbox.template_review_after_ms);
    let templates = state.inner().templates_handle();
    let started = std::thread::Builder::new()
        .name("sandbox-template-review".into())
        .spawn(move || review.post_after(delay, &templates));
    if let Err(e) = started {
        tracing::error!(error = %e, "the sandbox could not start a template's review");
    }
    (
        Status::Ok,
        Json(json!({"id": id, "status": "PENDING", "category": category})),
    )
}

#[delete("/sandbox/graph/<version>/<waba_id>/message_templates?<name>")]
pub async fn sandbox_delete_template(
    version: &str,
    waba_id: &str,
    name: Option<&str>,
    call: SandboxCall<'_>,
    state: &State<SandboxState>,
) -> (Status, Json<Value>) {
    if !connections::valid_graph_version(version) {
        return meta_error(100, 400, "Unknown path components");
    }
    if !call.authorised(waba_id).await {
        return meta_error(190, 401, "Invalid OAuth access token");
    }
    let Some(name) = name.filter(|n| !n.is_empty()) else {
        return meta_error(100, 400, "The parameter name is required");
    };
    let mut all = state.templates.by_account.lock();
    let list = all.entry(waba_id.to_owned()).or_default();
    let before = list.len();
    list.retain(|t| t["name"] != name);
    if list.len() == before {
        return refused(
            2593002,
            "Template not found",
            "There is no template with this name.",
        );
    }
    (Status::Ok, Json(json!({"success": true})))
}

/// A review to post: where, signed with what, and its outcome.
struct Review {
    url: String,
    secret: Zeroizing<String>,
    waba_id: String,
    template: Value,
    status: &'static str,
    reason: &'static str,
}

impl Review {
    /// Meta's `message_template_status_update`, serialised as Meta does.
    fn payload(&self) -> Vec<u8> {
        let mut value = json!({
            "event": self.status,
            "message_template_id": self.template["id"].as_str().and_then(|id| id.parse::<u64>().ok()),
            "message_template_name": self.template["name"],
            "message_template_language": self.template["language"],
            "message_template_category": self.template["category"],
            "reason": self.reason,
        });
        if self.status == "REJECTED" {
            value["rejection_info"] = json!({
                "reason": self.reason,
                "recommendation": "The sandbox rejects every template whose name starts with reject_.",
            });
        }
        let payload = json!({"object": "whatsapp_business_account", "entry": [{
            "id": self.waba_id, "time": crate::store::now_ms() / 1000,
            "changes": [{"field": "message_template_status_update", "value": value}],
        }]});
        super::events::meta_bytes(&payload)
    }

    /// Waits, records the outcome in the sandbox's list, and posts the webhook (retried a few times, as
    /// Meta retries, while the receiver does not answer 200).
    fn post_after(self, delay: Duration, templates: &std::sync::Arc<Submitted>) {
        std::thread::sleep(delay);
        let id = self.template["id"].as_str().unwrap_or_default();
        let reason = if self.status == "REJECTED" {
            self.reason
        } else {
            ""
        };
        templates.set_status(&self.waba_id, id, self.status, reason);
        let body = self.payload();
        let signature = crate::domain::meta::webhook::sign(self.secret.as_bytes(), &body);
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        for attempt in 0..6u32 {
            let answered = agent
                .post(&self.url)
                .header("Content-Type", "application/json")
                .header("X-Hub-Signature-256", &signature)
                .send(&body[..]);
            if matches!(answered, Ok(ref r) if r.status() == 200) {
                return;
            }
            std::thread::sleep(Duration::from_secs(1 << attempt));
        }
        tracing::warn!(
            template = self.template["name"].as_str().unwrap_or_default(),
            "the sandbox gave up posting a template's review"
        );
    }
}
