//! The Webhooks pages: an endpoint added with its secret shown once, a refused URL explained on the page,
//! each delivery with its attempts, replay, pause and resume, and members who may look but not change.

mod common;

use common::web::{App, app, app_with};
use rocket::http::{Method, Status};
use serde_json::json;
use std::net::TcpListener;
use std::time::{Duration, Instant};

/// An installation that may post to plain http on 127.0.0.1, where the tests' own endpoints listen, so
/// that no test names a host that would have to be resolved.
fn local_app() -> App {
    app_with(|c| c.webhooks.allow_insecure_targets = true)
}

/// A port of our own on 127.0.0.1, held for the whole test, and an endpoint URL on it.
fn local_endpoint() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/whatsapp", listener.local_addr().unwrap());
    (listener, url)
}

fn add_endpoint(app: &App, url: &str) -> (Status, String) {
    let response = app.submit(
        "/webhook-endpoints",
        "/webhook-endpoints",
        &[
            ("url", url),
            ("description", "Shop backend"),
            ("event_types", "message.received"),
            ("event_types", "message.status"),
        ],
    );
    (response.status(), response.into_string().unwrap())
}

#[test]
fn an_endpoint_is_added_with_its_secret_shown_once() {
    let app = local_app();
    app.register("Ali", "Shop", "ali@shop.test");
    let (_held, url) = local_endpoint();
    let (status, page) = add_endpoint(&app, &url);
    assert_eq!(status, Status::Ok);
    assert!(page.contains("id=\"new-secret\">whsec_"), "{page}");
    let (_, again) = app.page("/webhook-endpoints");
    assert!(again.contains(&url));
    assert!(again.contains("message.received, message.status"));
    assert!(!again.contains("whsec_"), "the secret is shown only once");
}

#[test]
fn a_url_inside_the_network_is_refused_in_words() {
    let app = app();
    app.register("Ali", "Shop", "ali@shop.test");
    for (url, reason) in [
        ("http://hooks.shop.example/x", "must use https"),
        (
            "https://169.254.169.254/latest",
            "169.254.169.254 (a link-local address) is not a public address",
        ),
        (
            "https://0xa9fea9fe/latest",
            "0xa9fea9fe is 169.254.169.254 (a link-local address), not a public address",
        ),
        (
            "https://[::ffff:a9fe:a9fe]/latest",
            "carrying 169.254.169.254, a link-local address",
        ),
        (
            "https://ops:secret@93.184.216.34/x",
            "user name or password",
        ),
    ] {
        let (status, page) = add_endpoint(&app, url);
        assert_eq!(status, Status::UnprocessableEntity, "{url}");
        assert!(page.contains("role=\"alert\""), "{page}");
        assert!(page.contains(reason), "{url}: {page}");
    }
    assert_eq!(app.count("SELECT count(*) FROM webhook_endpoints"), 0);
}

#[test]
fn deliveries_show_their_attempts_and_can_be_replayed_paused_and_resumed() {
    let app = local_app();
    app.register("Ali", "Shop", "ali@shop.test");
    // The endpoint hangs up without answering, so every attempt fails: what people must be able to see.
    let (listener, url) = local_endpoint();
    std::thread::spawn(move || {
        for connection in listener.incoming() {
            drop(connection);
        }
    });
    add_endpoint(&app, &url);
    let id: i64 = app
        .db()
        .query_row("SELECT id FROM webhook_endpoints", [], |r| r.get(0))
        .unwrap();
    let auth = app.api_key();
    let (status, connection) = app.api(
        &auth,
        Method::Post,
        "/api/v1/connections",
        json!({"kind": "sandbox", "name": "Shop number"}),
    );
    assert_eq!(status, Status::Created, "{connection}");
    let (status, _) = app.api(
        &auth,
        Method::Post,
        &format!(
            "/api/v1/connections/{}/sandbox/inbound",
            connection["id"].as_str().unwrap()
        ),
        json!({"from": "+96550001234", "text": "Is my order ready?"}),
    );
    assert_eq!(status, Status::Ok);
    let deadline = Instant::now() + Duration::from_secs(20);
    while app.count("SELECT count(*) FROM webhook_attempts") == 0 {
        assert!(Instant::now() < deadline, "no attempt was made");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (_, page) = app.page(&format!("/webhook-endpoints/{id}"));
    assert!(page.contains("message.received"), "{page}");
    assert!(page.contains("class=\"attempts\""));
    assert!(page.contains("no answer"), "{page}");

    let paused = app.submit(
        &format!("/webhook-endpoints/{id}"),
        &format!("/webhook-endpoints/{id}/pause"),
        &[],
    );
    assert_eq!(paused.status(), Status::SeeOther);
    let (_, page) = app.page(&format!("/webhook-endpoints/{id}?done=paused"));
    assert!(page.contains("id=\"paused\""));
    assert!(page.contains("The endpoint is paused."));
    app.submit(
        &format!("/webhook-endpoints/{id}"),
        &format!("/webhook-endpoints/{id}/resume"),
        &[],
    );
    let (_, page) = app.page(&format!("/webhook-endpoints/{id}"));
    assert!(!page.contains("id=\"paused\""));

    // Dead-lettered deliveries are sent again from the start of the schedule.
    app.db()
        .execute(
            "UPDATE webhook_deliveries SET status = 'failed', attempts = 10, next_attempt_at = 0",
            [],
        )
        .unwrap();
    let replayed = app.submit(
        &format!("/webhook-endpoints/{id}?status=failed"),
        &format!("/webhook-endpoints/{id}/replay-failed"),
        &[],
    );
    assert_eq!(replayed.status(), Status::SeeOther);
    assert_eq!(
        app.count("SELECT count(*) FROM webhook_deliveries WHERE status = 'failed'"),
        0
    );
    assert_eq!(
        app.count("SELECT count(*) FROM webhook_deliveries WHERE attempts = 10"),
        0
    );
}

#[test]
fn members_see_endpoints_but_cannot_change_them() {
    let app = local_app();
    app.register("Ali", "Shop", "ali@shop.test");
    let (_held, url) = local_endpoint();
    add_endpoint(&app, &url);
    let link = app.invite_and_sign_out("sara@shop.test", "member");
    let joined = app.join(&link, "Sara");
    assert_eq!(joined.status(), Status::SeeOther);
    let (status, page) = app.page("/webhook-endpoints");
    assert_eq!(status, Status::Ok);
    assert!(page.contains(&url));
    assert!(!page.contains("action=\"/webhook-endpoints\""));
    let (status, _) = add_endpoint(&app, &url);
    assert_eq!(status, Status::Forbidden);
    assert_eq!(app.count("SELECT count(*) FROM webhook_endpoints"), 1);
}
