//! The sandbox's template API as Meta's, over real HTTP against the real server: a template submitted is
//! pending, then approved by the sandbox's signed `message_template_status_update` webhook (which moves
//! the synced row), a name in the documented test range (`reject_...`) is rejected with its reason, and a
//! deleted name is gone from the list. Meta's template webhook moves the row of the connection it came
//! to and no other account's. (The same flow through the pages: tests/browser_templates.rs.)

mod common;

use common::api::{Api, PASSWORD, count};
use common::meta::{SECRET, hook, post, signature};
use common::{Install, Server};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const TOKEN: &str = "sandbox-token-of-the-test";

/// The installation's own configuration file (empty: the defaults), named on every command so that a
/// package installed on the machine (`/etc/whatsapi/config.toml`) is not read instead.
fn config(install: &Install) -> String {
    let config = install.path("config.toml");
    if !config.exists() {
        std::fs::write(&config, "").unwrap();
    }
    config.display().to_string()
}

/// An account whose owner is `email`, its API key and its sandbox number.
fn account(install: &Install, server: &Server, email: &str) -> (Api, String) {
    let config = config(install);
    let created = install.run_typing(
        &[
            "--config",
            &config,
            "account",
            "create",
            "--company",
            "Shop",
            "--name",
            "Owner",
            "--email",
            email,
            "--password-stdin",
        ],
        PASSWORD,
    );
    assert!(created.status.success(), "{}", common::stderr(&created));
    let id = String::from_utf8(created.stdout).unwrap().trim().to_owned();
    let key = install.run(&[
        "--config",
        &config,
        "apikey",
        "create",
        "--account",
        &id,
        "--name",
        "tests",
    ]);
    let api = Api {
        base: server.url.clone(),
        key: String::from_utf8(key.stdout).unwrap().trim().to_owned(),
        agent: ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into(),
    };
    let (status, connection) = api.call(
        "POST",
        "/api/v1/connections",
        Some(json!({"kind": "sandbox", "name": "Sandbox"})),
        &[],
    );
    assert_eq!(status, 201, "{connection}");
    (api, connection["id"].as_str().unwrap().to_owned())
}

/// A server whose sandbox reviews templates after `review_ms` (statuses of messages stay quiet).
fn serve(install: &Install, review_ms: u64) -> Server {
    let config = config(install);
    let mut cmd = install.command(&["--config", &config, "serve"]);
    cmd.env(
        "WHATSAPI_SANDBOX__TEMPLATE_REVIEW_AFTER_MS",
        review_ms.to_string(),
    )
    .env("WHATSAPI_SANDBOX__SENT_AFTER_MS", "86400000")
    .env("WHATSAPI_SANDBOX__DELIVERED_AFTER_MS", "86400000")
    .env("WHATSAPI_SANDBOX__READ_AFTER_MS", "86400000");
    install.serve_with(cmd)
}

/// The sandbox number's business account id, after giving it a known token and app secret.
fn known_token(api: &Api, connection: &str, token: &str) -> String {
    let (status, body) = api.call_patch(
        &format!("/api/v1/connections/{connection}"),
        json!({"access_token": token, "app_secret": SECRET}),
    );
    assert_eq!(status, 200, "{body}");
    body["waba_id"].as_str().unwrap().to_owned()
}

/// A call to the sandbox's Graph API with `token`.
fn graph(
    server: &Server,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let url = format!("{}/sandbox/graph/v25.0/{path}", server.url);
    let auth = format!("Bearer {token}");
    let mut response = match method {
        "GET" => agent.get(&url).header("Authorization", &auth).call(),
        "DELETE" => agent.delete(&url).header("Authorization", &auth).call(),
        _ => agent
            .post(&url)
            .header("Authorization", &auth)
            .send_json(body.unwrap_or(json!({}))),
    }
    .expect("request");
    (
        response.status().as_u16(),
        response.body_mut().read_json().unwrap_or(Value::Null),
    )
}

fn template(name: &str) -> Value {
    json!({"name": name, "language": "en_US", "category": "UTILITY", "components": [
        {"type": "BODY", "text": "Hi {{1}}, order {{2}} is ready.",
         "example": {"body_text": [["Sara", "A-12"]]}}]})
}

/// The sandbox's list of the business account's templates (every page, as Meta pages it).
fn listed(server: &Server, waba: &str, token: &str) -> Vec<Value> {
    let (mut all, mut after) = (Vec::new(), "0".to_owned());
    loop {
        let path = format!("{waba}/message_templates?after={after}");
        let (status, page) = graph(server, "GET", &path, token, None);
        assert_eq!(status, 200, "{page}");
        all.extend(page["data"].as_array().unwrap().iter().cloned());
        if !page["paging"]["next"].is_string() {
            return all;
        }
        after = page["paging"]["cursors"]["after"]
            .as_str()
            .unwrap()
            .to_owned();
    }
}

fn status_in_list(server: &Server, waba: &str, name: &str) -> Option<Value> {
    listed(server, waba, TOKEN)
        .into_iter()
        .find(|t| t["name"] == name)
}

fn wait_for(what: &str, check: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The account's template row as the API lists it.
fn row(api: &Api, name: &str) -> Option<Value> {
    let (status, list) = api.call("GET", "/api/v1/templates", None, &[]);
    assert_eq!(status, 200, "{list}");
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .cloned()
}

fn sync(api: &Api, connection: &str) {
    let (status, body) = api.call(
        "POST",
        &format!("/api/v1/connections/{connection}/templates/sync"),
        None,
        &[],
    );
    assert_eq!(status, 200, "{body}");
}

#[test]
fn the_sandbox_takes_a_template_pending_approves_rejects_and_deletes_it() {
    let install = Install::new();
    let server = serve(&install, 1_500);
    let (api, connection) = account(&install, &server, "owner@shop.test");
    let waba = known_token(&api, &connection, TOKEN);

    // Another token is refused, as Meta refuses it.
    let (status, refused) = graph(
        &server,
        "POST",
        &format!("{waba}/message_templates"),
        "wrong",
        Some(template("x_1")),
    );
    assert_eq!(
        (status, refused["error"]["code"].as_i64()),
        (401, Some(190))
    );
    // Meta's rules: a name with capitals, a variable without its example.
    let (status, refused) = graph(
        &server,
        "POST",
        &format!("{waba}/message_templates"),
        TOKEN,
        Some(template("Order Ready")),
    );
    assert_eq!(
        (status, refused["error"]["code"].as_i64()),
        (400, Some(100)),
        "{refused}"
    );
    let mut no_example = template("no_example");
    no_example["components"][0]["example"] = json!({"body_text": [["Sara"]]});
    let (status, refused) = graph(
        &server,
        "POST",
        &format!("{waba}/message_templates"),
        TOKEN,
        Some(no_example),
    );
    assert_eq!(status, 400, "{refused}");
    assert!(
        refused["error"]["error_user_msg"]
            .as_str()
            .unwrap()
            .contains("example")
    );

    let (status, created) = graph(
        &server,
        "POST",
        &format!("{waba}/message_templates"),
        TOKEN,
        Some(template("order_ready")),
    );
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["status"], "PENDING");
    assert!(created["id"].as_str().is_some_and(|id| !id.is_empty()));
    let (status, rejected) = graph(
        &server,
        "POST",
        &format!("{waba}/message_templates"),
        TOKEN,
        Some(template("reject_promo")),
    );
    assert_eq!(
        (status, rejected["status"].as_str()),
        (200, Some("PENDING"))
    );
    // The same name and language twice is Meta's "already exists".
    let (status, twice) = graph(
        &server,
        "POST",
        &format!("{waba}/message_templates"),
        TOKEN,
        Some(template("order_ready")),
    );
    assert_eq!(status, 400, "{twice}");
    // So is one of the standing templates, on whichever page of the list it stands.
    for standing in ["hello_world", "spring_sale"] {
        let (status, answer) = graph(
            &server,
            "POST",
            &format!("{waba}/message_templates"),
            TOKEN,
            Some(template(standing)),
        );
        assert_eq!(status, 400, "{standing}: {answer}");
    }

    // Synced while both are pending (the review comes 1.5 s after the submission).
    sync(&api, &connection);
    assert_eq!(row(&api, "order_ready").unwrap()["status"], "PENDING");
    assert_eq!(row(&api, "reject_promo").unwrap()["status"], "PENDING");
    assert_eq!(
        status_in_list(&server, &waba, "order_ready").unwrap()["status"],
        "PENDING"
    );

    // The review arrives by the signed webhook alone: no sync after this point.
    wait_for("the approval", || {
        row(&api, "order_ready").unwrap()["status"] == "APPROVED"
    });
    wait_for("the rejection", || {
        row(&api, "reject_promo").unwrap()["status"] == "REJECTED"
    });
    assert!(
        count(&install, "SELECT count(*) FROM webhook_payloads") >= 2,
        "the reviews came as Meta's webhooks"
    );
    let reason: String = rusqlite::Connection::open(install.db_path())
        .unwrap()
        .query_row(
            "SELECT reason FROM templates WHERE name = 'reject_promo'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(reason.starts_with("INVALID_FORMAT"), "{reason}");
    let approved_reason: String = rusqlite::Connection::open(install.db_path())
        .unwrap()
        .query_row(
            "SELECT reason FROM templates WHERE name = 'order_ready'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(approved_reason, "");
    let in_list = status_in_list(&server, &waba, "reject_promo").unwrap();
    assert_eq!(in_list["status"], "REJECTED");
    assert_eq!(in_list["rejected_reason"], "INVALID_FORMAT");
    assert_eq!(
        status_in_list(&server, &waba, "order_ready").unwrap()["status"],
        "APPROVED"
    );

    // Deleted: gone from the sandbox's list; deleting it again is Meta's "not found".
    let (status, deleted) = graph(
        &server,
        "DELETE",
        &format!("{waba}/message_templates?name=order_ready"),
        TOKEN,
        None,
    );
    assert_eq!(
        (status, deleted["success"].as_bool()),
        (200, Some(true)),
        "{deleted}"
    );
    assert!(status_in_list(&server, &waba, "order_ready").is_none());
    assert!(
        status_in_list(&server, &waba, "reject_promo").is_some(),
        "only that name"
    );
    let (status, _) = graph(
        &server,
        "DELETE",
        &format!("{waba}/message_templates?name=order_ready"),
        TOKEN,
        None,
    );
    assert_eq!(status, 400);
    sync(&api, &connection);
    assert!(
        row(&api, "order_ready").is_none(),
        "a sync drops what Meta deleted"
    );
}

#[test]
fn meta_s_template_webhook_moves_only_the_row_of_the_connection_it_came_to() {
    let install = Install::new();
    // Reviews that never come during the test: the test posts Meta's webhook itself.
    let server = serve(&install, 86_400_000);
    let (shop, shop_number) = account(&install, &server, "owner@shop.test");
    let (other, other_number) = account(&install, &server, "owner@other.test");
    let shop_waba = known_token(&shop, &shop_number, TOKEN);
    let other_waba = known_token(&other, &other_number, "other-token");
    for (server_waba, token) in [(&shop_waba, TOKEN), (&other_waba, "other-token")] {
        let (status, body) = graph(
            &server,
            "POST",
            &format!("{server_waba}/message_templates"),
            token,
            Some(template("order_ready")),
        );
        assert_eq!(status, 200, "{body}");
    }
    sync(&shop, &shop_number);
    sync(&other, &other_number);
    assert_eq!(row(&shop, "order_ready").unwrap()["status"], "PENDING");
    assert_eq!(row(&other, "order_ready").unwrap()["status"], "PENDING");

    let shop_hook = hook(&shop, &shop_number);
    let review = |waba: &str, event: &str| {
        format!(
            r#"{{"object":"whatsapp_business_account","entry":[{{"id":"{waba}","time":1,"changes":[{{"field":"message_template_status_update","value":{{"event":"{event}","message_template_id":1,"message_template_name":"order_ready","message_template_language":"en_US","reason":"NONE"}}}}]}}]}}"#
        )
    };
    // Naming the other account's business account at this connection's URL is refused.
    let foreign = review(&other_waba, "REJECTED");
    let (status, _) = post(
        &shop_hook.url,
        Some(&signature(SECRET, foreign.as_bytes())),
        foreign.as_bytes(),
    );
    assert_eq!(status, 403);
    // This connection's own review moves its row (the positive marker) ...
    let own = review(&shop_waba, "APPROVED");
    let (status, _) = post(
        &shop_hook.url,
        Some(&signature(SECRET, own.as_bytes())),
        own.as_bytes(),
    );
    assert_eq!(status, 200);
    assert_eq!(row(&shop, "order_ready").unwrap()["status"], "APPROVED");
    // ... and the other account's row with the same name and language is as it was.
    assert_eq!(row(&other, "order_ready").unwrap()["status"], "PENDING");
}
