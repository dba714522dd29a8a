//! Meta's webhooks through the real server: the verification handshake, the signature over the exact
//! bytes, payloads for another number refused, each example payload of Meta's reference applied,
//! duplicates and late statuses changing nothing, template, quality and account news reaching their
//! records, a changed app secret applying at once, and bodies up to Meta's 3 MB. (The sandbox posting
//! signed statuses on its own: tests/webhooks_meta_sandbox.rs.)

mod common;

use common::api::{Api, count};
use common::meta::{Hook, SECRET, message, messages_payload, post, setup, signature};
use serde_json::{Value, json};

fn now_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Posts a payload signed as Meta signs it; the status code.
fn deliver(hook: &Hook, payload: &str) -> u16 {
    post(
        &hook.url,
        Some(&signature(SECRET, payload.as_bytes())),
        payload.as_bytes(),
    )
    .0
}

fn status_item(wamid: &str, status: &str, timestamp: i64, extra: &str) -> String {
    format!(
        r#"{{"id":"{wamid}","status":"{status}","timestamp":"{timestamp}","recipient_id":"96550001234"{extra}}}"#
    )
}

/// Sends a text through the sandbox and waits until Meta (the sandbox) accepted it; its id and wamid.
fn sent_message(api: &Api, connection: &str, to: &str) -> (String, String) {
    let (status, answer) = api.send(json!({"connection_id": connection, "to": to,
        "type": "text", "text": {"body": "Your order is ready"}}));
    assert_eq!(status, 202, "{answer}");
    let id = answer["id"].as_str().unwrap().to_owned();
    let message = api.wait_for(&id, &["sent"]);
    (id, message["wamid"].as_str().unwrap().to_owned())
}

#[test]
fn the_verify_handshake_answers_the_challenge_only_for_the_right_token() {
    let (_install, server, _, _, hook) = setup();
    let ask = |token: &str| {
        common::get(&format!(
            "{}?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token={token}",
            hook.url
        ))
    };
    let (status, body, _) = ask(&hook.verify_token);
    assert_eq!((status, body.as_str()), (200, "1158201444"));
    assert_eq!(ask("not-the-token").0, 403);
    assert_eq!(ask("").0, 403);
    let unknown = format!(
        "{}/webhooks/meta/no-such-key?hub.mode=subscribe&hub.challenge=1&hub.verify_token={}",
        server.url, hook.verify_token
    );
    assert_eq!(common::get(&unknown).0, 404);
}

#[test]
fn only_a_correct_signature_over_the_exact_bytes_is_accepted() {
    let (install, server, api, connection, hook) = setup();
    // Arabic and an emoji, escaped as \uXXXX the way Meta serialises them.
    let payload = messages_payload(
        &hook,
        &format!(
            r#""contacts":[{{"profile":{{"name":"\u0633\u0627\u0631\u0629"}},"wa_id":"96550001234"}}],"messages":[{{"from":"96550001234","id":"wamid.IN1","timestamp":"{}","type":"text","text":{{"body":"\u0645\u0631\u062d\u0628\u0627 MARKER-7731 \ud83d\ude00"}}}}]"#,
            now_seconds()
        ),
    );
    let bytes = payload.as_bytes();
    let stored = || count(&install, "SELECT count(*) FROM webhook_payloads");

    assert_eq!(post(&hook.url, None, bytes).0, 401, "no signature");
    let wrong = signature("another-secret", bytes);
    assert_eq!(post(&hook.url, Some(&wrong), bytes).0, 401, "wrong secret");
    let mut changed = bytes.to_vec();
    let at = payload.find("MARKER").unwrap();
    changed[at] = b'N';
    let right = signature(SECRET, bytes);
    assert_eq!(
        post(&hook.url, Some(&right), &changed).0,
        401,
        "one byte changed"
    );
    assert_eq!(stored(), 0, "nothing refused was stored");

    assert_eq!(post(&hook.url, Some(&right), bytes).0, 200);
    assert_eq!(stored(), 1);
    assert_eq!(count(&install, "SELECT count(*) FROM inbound_messages"), 1);
    // The customer wrote: their 24-hour window is open for the next message.
    let (status, answer) = api.send(json!({"connection_id": connection, "to": "+96550001234",
        "type": "text", "text": {"body": "Thanks!"}}));
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["customer_service_window"]["state"], "open");
    // What the customer wrote is sealed in the file, never in plain text.
    drop(server);
    let file = std::fs::read(install.db_path()).unwrap();
    assert!(!file.windows(11).any(|w| w == b"MARKER-7731"));
}

#[test]
fn a_payload_naming_another_connection_s_number_is_refused() {
    let (install, _server, api, first, hook) = setup();
    let (status, other) = api.call(
        "POST",
        "/api/v1/connections",
        Some(json!({"kind": "sandbox", "name": "Second number"})),
        &[],
    );
    assert_eq!(status, 201, "{other}");
    let foreign = Hook {
        phone_number_id: other["phone_number_id"].as_str().unwrap().to_owned(),
        url: hook.url.clone(),
        verify_token: String::new(),
        waba_id: hook.waba_id.clone(),
        connection: first.clone(),
    };
    let payload = messages_payload(
        &foreign,
        r#""messages":[{"from":"96550001234","id":"wamid.IN2","timestamp":"1760659226","type":"text","text":{"body":"hi"}}]"#,
    );
    assert_eq!(deliver(&hook, &payload), 403);
    assert_eq!(count(&install, "SELECT count(*) FROM webhook_payloads"), 0);
    assert_eq!(count(&install, "SELECT count(*) FROM inbound_messages"), 0);
}

#[test]
fn meta_s_example_payloads_are_applied() {
    let (install, _server, api, connection, hook) = setup();
    // A: inbound text; D: inbound image with a caption.
    let inbound_text = messages_payload(
        &hook,
        r#""contacts":[{"profile":{"name":"Sheena Nelson"},"wa_id":"16505551234","user_id":"US.13491208655302741918"}],"messages":[{"from":"16505551234","from_user_id":"US.13491208655302741918","id":"wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=","timestamp":"1749416383","type":"text","text":{"body":"Does it come in another color?"}}]"#,
    );
    let inbound_image = messages_payload(
        &hook,
        r#""contacts":[{"profile":{"name":"Sheena Nelson"},"wa_id":"16505551234"}],"messages":[{"from":"16505551234","id":"wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQ0RTNBN0UwMkYxMjM0NTY3ODkA","timestamp":"1749416500","type":"image","image":{"caption":"this one","mime_type":"image/jpeg","sha256":"81d3bd8a8db4868c9520ed47186e8b7c5789e61ff79f7f834be6950b808a90d3","id":"1037543291543636"}}]"#,
    );
    assert_eq!(deliver(&hook, &inbound_text), 200);
    assert_eq!(deliver(&hook, &inbound_image), 200);
    assert_eq!(
        count(
            &install,
            "SELECT count(*) FROM inbound_messages WHERE type IN ('text', 'image')"
        ),
        2
    );
    assert_eq!(count(&install, "SELECT count(*) FROM contacts"), 1);

    // B: delivered, matched by wamid.
    let (delivered_id, wamid) = sent_message(&api, &connection, "+96550001234");
    let delivered = messages_payload(
        &hook,
        &format!(
            r#""statuses":[{}]"#,
            status_item(
                &wamid,
                "delivered",
                1760659226,
                r#","conversation":{"id":"ffeaa1cbc54959bae5d514606232decf","origin":{"type":"service"}},"pricing":{"billable":false,"pricing_model":"PMP","category":"service","type":"free_customer_service"}"#
            )
        ),
    );
    assert_eq!(deliver(&hook, &delivered), 200);
    let after = message(&api, &delivered_id);
    assert_eq!(after["status"], "delivered");
    assert_eq!(after["timestamps"]["delivered"], 1760659226000_i64);

    // C: failed with Meta's error, matched by our id in biz_opaque_callback_data alone.
    let (failed_id, _) = sent_message(&api, &connection, "+96550001235");
    let failed = messages_payload(
        &hook,
        &format!(
            r#""statuses":[{}]"#,
            status_item(
                "wamid.UNKNOWN-TO-US",
                "failed",
                1760660000,
                &format!(
                    r#","biz_opaque_callback_data":"{failed_id}","errors":[{{"code":131047,"title":"Re-engagement message","message":"Re-engagement message","error_data":{{"details":"Message failed to send because more than 24 hours have passed since the customer last replied to this number."}},"href":"https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"}}]"#
                )
            )
        ),
    );
    assert_eq!(deliver(&hook, &failed), 200);
    let after = message(&api, &failed_id);
    assert_eq!(after["status"], "failed");
    assert_eq!(after["error"]["code"], 131047);
    assert_eq!(after["error"]["title"], "Re-engagement message");
    assert!(
        after["error"]["details"]
            .as_str()
            .unwrap()
            .contains("24 hours")
    );
}

#[test]
fn duplicates_and_late_statuses_never_move_a_message_back() {
    let (install, _server, api, connection, hook) = setup();
    let (id, wamid) = sent_message(&api, &connection, "+96550001234");
    let read = messages_payload(
        &hook,
        &format!(
            r#""statuses":[{}]"#,
            status_item(&wamid, "read", 1760659300, "")
        ),
    );
    let late_delivered = messages_payload(
        &hook,
        &format!(
            r#""statuses":[{}]"#,
            status_item(&wamid, "delivered", 1760659200, "")
        ),
    );
    let late_failed = messages_payload(
        &hook,
        &format!(
            r#""statuses":[{}]"#,
            status_item(
                &wamid,
                "failed",
                1760659400,
                r#","errors":[{"code":131026,"title":"Message undeliverable"}]"#
            )
        ),
    );
    for payload in [&read, &read, &late_delivered, &read, &late_failed] {
        assert_eq!(deliver(&hook, payload), 200);
    }
    let after = message(&api, &id);
    assert_eq!(after["status"], "read");
    assert_eq!(after["error"], Value::Null);
    assert_eq!(after["timestamps"]["read"], 1760659300000_i64);
    assert_eq!(after["timestamps"]["delivered"], 1760659200000_i64);
    let reported: Vec<&str> = after["status_events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        reported,
        ["delivered", "read", "failed"],
        "each stored once"
    );
    assert_eq!(count(&install, "SELECT count(*) FROM webhook_payloads"), 5);
}

#[test]
fn template_quality_and_account_updates_reach_their_records() {
    let (_install, _server, api, connection, hook) = setup();
    let (status, synced) = api.call(
        "POST",
        &format!("/api/v1/connections/{connection}/templates/sync"),
        None,
        &[],
    );
    assert_eq!(status, 200, "{synced}");
    let field = |field: &str, value: &str| {
        format!(
            r#"{{"object":"whatsapp_business_account","entry":[{{"id":"{}","time":1760659226,"changes":[{{"field":"{field}","value":{value}}}]}}]}}"#,
            hook.waba_id
        )
    };
    let rejected = field(
        "message_template_status_update",
        r#"{"event":"REJECTED","message_template_id":594425479261596,"message_template_name":"order_update","message_template_language":"en_US","reason":"INVALID_FORMAT"}"#,
    );
    let quality = field(
        "phone_number_quality_update",
        r#"{"display_phone_number":"15550783881","event":"FLAGGED","current_limit":"TIER_1K"}"#,
    );
    let restricted = field(
        "account_update",
        r#"{"event":"ACCOUNT_RESTRICTION","restriction_info":[{"restriction_type":"RESTRICTED_BIZ_INITIATED_MESSAGING","expiration":1760745626}]}"#,
    );
    let unknown = field(
        "security",
        r#"{"display_phone_number":"15550783881","event":"PIN_CHANGED"}"#,
    );
    for payload in [&rejected, &quality, &restricted, &unknown] {
        assert_eq!(deliver(&hook, payload), 200, "{payload}");
    }
    let (_, templates) = api.call("GET", "/api/v1/templates", None, &[]);
    let order_update = templates["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "order_update" && t["language"] == "en_US")
        .unwrap();
    assert_eq!(order_update["status"], "REJECTED");
    let (_, connection) = api.call(
        "GET",
        &format!("/api/v1/connections/{}", hook.connection),
        None,
        &[],
    );
    assert_eq!(connection["meta"]["quality_rating"], "FLAGGED");
    assert_eq!(connection["meta"]["messaging_limit"], "TIER_1K");
    assert!(
        connection["meta"]["account_notice"]
            .as_str()
            .unwrap()
            .contains("RESTRICTED_BIZ_INITIATED_MESSAGING")
    );
    // Another business account's template news is not this connection's.
    let foreign = rejected.replace(&hook.waba_id, "999999999999999");
    assert_eq!(deliver(&hook, &foreign), 403);
}

#[test]
fn a_changed_app_secret_applies_at_once() {
    let (_install, _server, api, connection, hook) = setup();
    let payload = messages_payload(&hook, r#""statuses":[]"#);
    assert_eq!(deliver(&hook, &payload), 200);
    let (status, _) = api.call_patch(
        &format!("/api/v1/connections/{connection}"),
        json!({"app_secret": "a-new-app-secret"}),
    );
    assert_eq!(status, 200);
    assert_eq!(
        deliver(&hook, &payload),
        401,
        "the old secret no longer works"
    );
    let signed = signature("a-new-app-secret", payload.as_bytes());
    assert_eq!(post(&hook.url, Some(&signed), payload.as_bytes()).0, 200);
}

#[test]
fn bodies_up_to_meta_s_3_mb_are_taken_and_larger_ones_refused() {
    let (install, _server, _, _, hook) = setup();
    // Meta's payloads carry fields the appliance does not read; one of ~3 MB stands for a full batch.
    let padded = |bytes: usize| {
        messages_payload(
            &hook,
            &format!(r#""statuses":[],"padding":"{}""#, "x".repeat(bytes)),
        )
    };
    assert_eq!(deliver(&hook, &padded(3_000_000)), 200);
    let (status, _) = post(&hook.url, Some("sha256=00"), padded(4_000_000).as_bytes());
    assert_eq!(status, 413);
    assert_eq!(count(&install, "SELECT count(*) FROM webhook_payloads"), 1);
}
