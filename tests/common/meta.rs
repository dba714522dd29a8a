//! Meta's side of a connection's webhook, as the Meta webhook tests (tests/webhooks_meta.rs,
//! tests/webhooks_meta_sandbox.rs) see it: a server whose built-in sandbox posts statuses after given
//! delays or stays quiet, a connection with a known app secret and its webhook details, Meta's envelope
//! around a `messages` value, and posts signed as Meta signs them.

use super::api::{Api, account};
use super::{Install, Server};
use hmac::{KeyInit, Mac};
use serde_json::{Value, json};

pub const SECRET: &str = "the-app-secret";

/// A server whose built-in sandbox posts statuses after these delays (ms).
pub fn serve(install: &Install, delays: [u64; 3]) -> Server {
    let mut cmd = install.command(&["serve"]);
    cmd.env("WHATSAPI_SANDBOX__SENT_AFTER_MS", delays[0].to_string())
        .env(
            "WHATSAPI_SANDBOX__DELIVERED_AFTER_MS",
            delays[1].to_string(),
        )
        .env("WHATSAPI_SANDBOX__READ_AFTER_MS", delays[2].to_string());
    install.serve_with(cmd)
}

/// A server whose sandbox stays quiet, an account with a sandbox connection, and its webhook.
pub fn setup() -> (Install, Server, Api, String, Hook) {
    let install = Install::new();
    let server = serve(&install, QUIET);
    let (api, connection) = account(&install, &server, "owner@shop.test");
    let hook = hook(&api, &connection);
    (install, server, api, connection, hook)
}

/// Sandbox statuses that never come during a test, so the test's own payloads are the only ones.
pub const QUIET: [u64; 3] = [86_400_000; 3];

pub struct Hook {
    pub url: String,
    pub verify_token: String,
    pub phone_number_id: String,
    pub waba_id: String,
    pub connection: String,
}

/// Gives the connection a known app secret and returns its webhook details.
pub fn hook(api: &Api, connection: &str) -> Hook {
    let (status, body) = api.call_patch(
        &format!("/api/v1/connections/{connection}"),
        json!({"app_secret": SECRET}),
    );
    assert_eq!(status, 200, "{body}");
    Hook {
        url: body["webhook_url"].as_str().unwrap().to_owned(),
        verify_token: body["verify_token"].as_str().unwrap().to_owned(),
        phone_number_id: body["phone_number_id"].as_str().unwrap().to_owned(),
        waba_id: body["waba_id"].as_str().unwrap().to_owned(),
        connection: connection.to_owned(),
    }
}

pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

pub fn post(url: &str, signature: Option<&str>, body: &[u8]) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut request = agent.post(url).header("Content-Type", "application/json");
    if let Some(signature) = signature {
        request = request.header("X-Hub-Signature-256", signature);
    }
    let mut response = request.send(body).expect("request");
    (
        response.status().as_u16(),
        response.body_mut().read_to_string().unwrap_or_default(),
    )
}

/// Meta's envelope around one `messages` value for this connection's number.
pub fn messages_payload(hook: &Hook, value: &str) -> String {
    format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"id":"{}","changes":[{{"field":"messages","value":{{"messaging_product":"whatsapp","metadata":{{"display_phone_number":"15550783881","phone_number_id":"{}"}},{value}}}}}]}}]}}"#,
        hook.waba_id, hook.phone_number_id
    )
}

pub fn message(api: &Api, id: &str) -> Value {
    let (status, body) = api.call("GET", &format!("/api/v1/messages/{id}"), None, &[]);
    assert_eq!(status, 200, "{body}");
    body
}
