//! The inbox through the API on a running server: conversations the most recent first with unread
//! counts, a conversation's messages in both directions, the 24-hour window, and nothing of another
//! account's.

mod common;

use common::Install;
use common::api::{Api, account};
use hmac::{KeyInit, Mac};
use serde_json::{Value, json};

/// A customer writing to the sandbox number, through the same webhook path as Meta's.
fn customer_writes(api: &Api, connection: &str, from: &str, name: &str, text: &str) {
    let (status, body) = api.call(
        "POST",
        &format!("/api/v1/connections/{connection}/sandbox/inbound"),
        Some(json!({"from": from, "name": name, "text": text})),
        &[],
    );
    assert_eq!(status, 200, "{body}");
}

fn list(api: &Api, query: &str) -> Value {
    let (status, body) = api.call("GET", &format!("/api/v1/conversations{query}"), None, &[]);
    assert_eq!(status, 200, "{body}");
    body
}

fn conversation(api: &Api, id: &str) -> Value {
    let (status, body) = api.call("GET", &format!("/api/v1/conversations/{id}"), None, &[]);
    assert_eq!(status, 200, "{body}");
    body
}

fn phones(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["phone"].as_str().unwrap().to_owned())
        .collect()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[test]
fn conversations_come_newest_first_with_unread_counts_until_seen() {
    let install = Install::new();
    let server = install.serve();
    let (api, connection) = account(&install, &server, "owner@shop.test");
    assert_eq!(list(&api, "")["data"], json!([]));

    customer_writes(
        &api,
        &connection,
        "+96550001234",
        "Sara",
        "Is my order ready?",
    );
    customer_writes(&api, &connection, "+96550005678", "Omar", "Hello");
    let page = list(&api, "");
    assert_eq!(phones(&page), ["+96550005678", "+96550001234"]);
    let omar = &page["data"][0];
    assert_eq!(omar["name"], "Omar");
    assert_eq!(omar["unread_count"], 1);
    assert_eq!(omar["connection_id"], connection.as_str());
    assert_eq!(omar["customer_service_window"]["state"], "open");
    let expires = omar["customer_service_window"]["expires_at"]
        .as_i64()
        .unwrap();
    let day = 24 * 3_600_000;
    assert!((now_ms() + day - 5_000..=now_ms() + day).contains(&expires));

    // Meta states times in whole seconds: the next second makes Sara's conversation the newest again.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    customer_writes(&api, &connection, "+96550001234", "Sara", "Hello?");
    let page = list(&api, "");
    assert_eq!(phones(&page), ["+96550001234", "+96550005678"]);
    assert_eq!(page["data"][0]["unread_count"], 2);

    // One at a time, following the cursor.
    let first = list(&api, "?limit=1");
    assert_eq!(phones(&first), ["+96550001234"]);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = list(&api, &format!("?limit=1&cursor={cursor}"));
    assert_eq!(phones(&second), ["+96550005678"]);
    let cursor = second["next_cursor"].as_str().unwrap();
    assert_eq!(
        list(&api, &format!("?limit=1&cursor={cursor}"))["data"],
        json!([])
    );
    assert_eq!(
        api.call("GET", "/api/v1/conversations?cursor=soon", None, &[])
            .0,
        400
    );

    // A reply goes to the same number, and shows in the conversation with what the customer wrote.
    let sara = page["data"][0]["id"].as_str().unwrap().to_owned();
    let (status, sent) = api.send(json!({"connection_id": connection, "to": "+96550001234",
        "type": "text", "text": {"body": "Yes, it is ready."}}));
    assert_eq!(status, 202, "{sent}");
    api.send(json!({"connection_id": connection, "to": "+96550005678",
        "type": "text", "text": {"body": "Not for Sara"}}));
    let thread = conversation(&api, &sara);
    assert_eq!(thread["contact"]["phone"], "+96550001234");
    assert_eq!(thread["customer_service_window"]["state"], "open");
    let messages = thread["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 3, "{thread}");
    assert_eq!(messages[0]["direction"], "outbound");
    assert_eq!(messages[0]["id"], sent["id"]);
    assert_eq!(messages[0]["message"]["body"], "Yes, it is ready.");
    assert_eq!(messages[1]["direction"], "inbound");
    assert_eq!(messages[1]["type"], "text");
    assert_eq!(messages[1]["message"]["text"]["body"], "Hello?");
    assert_eq!(messages[2]["message"]["text"]["body"], "Is my order ready?");
    assert!(messages[2]["seen_at"].is_null());
    // The thread pages too.
    let (_, older) = api.call(
        "GET",
        &format!("/api/v1/conversations/{sara}?limit=2"),
        None,
        &[],
    );
    let cursor = older["next_cursor"].as_str().unwrap();
    let (_, rest) = api.call(
        "GET",
        &format!("/api/v1/conversations/{sara}?limit=2&cursor={cursor}"),
        None,
        &[],
    );
    assert_eq!(rest["messages"].as_array().unwrap().len(), 1);
    assert_eq!(
        rest["messages"][0]["message"]["text"]["body"],
        "Is my order ready?"
    );

    let (status, seen) = api.call(
        "POST",
        &format!("/api/v1/conversations/{sara}/seen"),
        None,
        &[],
    );
    assert_eq!(status, 200, "{seen}");
    assert_eq!(seen["marked_seen"], 2);
    let page = list(&api, "");
    // Writing to Omar last moved his conversation to the top.
    assert_ne!(page["data"][0]["id"], sara.as_str());
    assert_eq!(page["data"][0]["unread_count"], 1, "Omar's is still unread");
    assert_eq!(page["data"][1]["id"], sara.as_str());
    assert_eq!(page["data"][1]["unread_count"], 0);
    assert!(conversation(&api, &sara)["messages"][1]["seen_at"].is_i64());
}

#[test]
fn another_account_s_conversation_is_not_found() {
    let install = Install::new();
    let server = install.serve();
    let (owner, connection) = account(&install, &server, "owner@shop.test");
    customer_writes(&owner, &connection, "+96550001234", "Sara", "Hi");
    let id = list(&owner, "")["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let (other, _) = account(&install, &server, "owner@other.test");
    assert_eq!(list(&other, "")["data"], json!([]));
    let (status, body) = other.call("GET", &format!("/api/v1/conversations/{id}"), None, &[]);
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "not_found");
    let (status, _) = other.call(
        "POST",
        &format!("/api/v1/conversations/{id}/seen"),
        None,
        &[],
    );
    assert_eq!(status, 404);
    assert_eq!(
        other
            .call("GET", "/api/v1/conversations/not-an-id", None, &[])
            .0,
        404
    );
    // Nothing was marked on the owner's side.
    assert_eq!(list(&owner, "")["data"][0]["unread_count"], 1);
}

const SECRET: &str = "the-app-secret";

fn sign(body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[test]
fn an_old_message_leaves_the_window_closed_and_media_keeps_its_meta_item() {
    let install = Install::new();
    let server = install.serve();
    let (api, connection) = account(&install, &server, "owner@shop.test");
    let (status, hook) = api.call_patch(
        &format!("/api/v1/connections/{connection}"),
        json!({"app_secret": SECRET}),
    );
    assert_eq!(status, 200, "{hook}");
    // Two days ago: the window closed a day ago.
    let sent_at = now_ms() / 1000 - 2 * 86_400;
    let payload = format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"id":"{}","changes":[{{"field":"messages","value":{{"messaging_product":"whatsapp","metadata":{{"display_phone_number":"15550783881","phone_number_id":"{}"}},"contacts":[{{"profile":{{"name":"Sheena"}},"wa_id":"16505551234"}}],"messages":[{{"from":"16505551234","id":"wamid.OLD1","timestamp":"{sent_at}","type":"image","image":{{"caption":"this one","mime_type":"image/jpeg","sha256":"81d3","id":"1037543291543636"}}}}]}}}}]}}]}}"#,
        hook["waba_id"].as_str().unwrap(),
        hook["phone_number_id"].as_str().unwrap()
    );
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let response = agent
        .post(hook["webhook_url"].as_str().unwrap())
        .header("Content-Type", "application/json")
        .header("X-Hub-Signature-256", &sign(payload.as_bytes()))
        .send(payload.as_bytes())
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);

    let page = list(&api, "");
    let id = page["data"][0]["id"].as_str().unwrap();
    assert_eq!(page["data"][0]["name"], "Sheena");
    let thread = conversation(&api, id);
    let window = &thread["customer_service_window"];
    assert_eq!(window["state"], "closed");
    assert_eq!(window["expires_at"], (sent_at + 86_400) * 1000);
    let image = &thread["messages"][0];
    assert_eq!(image["type"], "image");
    assert_eq!(image["at"], sent_at * 1000);
    assert_eq!(image["message"]["image"]["id"], "1037543291543636");
    assert_eq!(image["message"]["image"]["caption"], "this one");
}
