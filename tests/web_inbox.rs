//! The inbox pages: conversations with unread counts and the 24-hour window, a thread that is marked seen
//! when opened, a reply box that queues through the API's path (text inside the window, an approved
//! template outside it), media fetched from Meta (here the sandbox) on demand, and nothing of another
//! account's.

mod common;

use common::api::{Api, account};
use common::web::{App, app, csrf_in, encode};
use common::{Install, Server};
use hmac::{KeyInit, Mac};
use rocket::http::{ContentType, Header, Status};
use serde_json::{Value, json};
use std::cell::RefCell;
use std::collections::BTreeMap;

/// A signed-in account with a sandbox number and an API key: the app, the number's id and the key.
fn shop() -> (App, String, Header<'static>) {
    let app = app();
    app.register("Ali", "Shop", "ali@shop.test");
    let (connection, auth) = number(&app);
    (app, connection, auth)
}

/// A sandbox number and an API key for the signed-in account.
fn number(app: &App) -> (String, Header<'static>) {
    let auth = app.api_key();
    let connection: Value = app
        .client
        .post("/api/v1/connections")
        .header(auth.clone())
        .header(ContentType::JSON)
        .body(json!({"kind": "sandbox", "name": "Shop number"}).to_string())
        .dispatch()
        .into_json()
        .unwrap();
    (connection["id"].as_str().unwrap().to_owned(), auth)
}

fn customer_writes(app: &App, auth: &Header<'static>, connection: &str, from: &str, name: &str) {
    let response = app
        .client
        .post(format!("/api/v1/connections/{connection}/sandbox/inbound"))
        .header(auth.clone())
        .header(ContentType::JSON)
        .body(json!({"from": from, "name": name, "text": format!("Hello from {name}")}).to_string())
        .dispatch();
    assert_eq!(response.status(), Status::Ok);
}

/// The account's conversations as the API lists them.
fn conversations(app: &App, auth: &Header<'static>) -> Vec<Value> {
    let page: Value = app
        .client
        .get("/api/v1/conversations")
        .header(auth.clone())
        .dispatch()
        .into_json()
        .unwrap();
    page["data"].as_array().unwrap().clone()
}

#[test]
fn a_customer_s_message_is_unread_in_the_inbox_until_the_conversation_is_opened() {
    let (app, connection, auth) = shop();
    let (status, empty) = app.page("/inbox");
    assert_eq!(status, Status::Ok);
    assert!(empty.contains("No conversations yet") && empty.contains("href=\"/inbox\""));

    customer_writes(&app, &auth, &connection, "+96550001234", "Sara");
    let sara = conversations(&app, &auth)[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, inbox) = app.page("/inbox");
    assert!(
        inbox.contains("Sara") && inbox.contains("+96550001234") && inbox.contains("Shop number")
    );
    assert!(
        inbox.contains(&format!("id=\"unread-{sara}\">1<")),
        "one unread message"
    );
    assert!(
        inbox.contains("Open for 23 h 59 min") || inbox.contains("Open for 24 h 0 min"),
        "the window's time left"
    );

    // A second customer writes: theirs is the newest conversation.
    customer_writes(&app, &auth, &connection, "+96550005678", "Omar");
    let (_, inbox) = app.page("/inbox");
    let (omar_at, sara_at) = (inbox.find("Omar").unwrap(), inbox.find("Sara").unwrap());
    assert!(omar_at < sara_at, "newest first");

    let (status, thread) = app.page(&format!("/inbox/{sara}"));
    assert_eq!(status, Status::Ok);
    assert!(thread.contains("Hello from Sara") && thread.contains("id=\"thread\""));
    // The list beside the thread previews every conversation; the thread itself is Sara's alone.
    let messages =
        &thread[thread.find("id=\"thread-wrap\"").unwrap()..thread.find("id=\"reply\"").unwrap()];
    assert!(messages.contains("Hello from Sara"));
    assert!(
        !messages.contains("Hello from Omar"),
        "only this customer's messages"
    );
    assert!(thread.contains("Hello from Omar"), "the list beside it");
    assert!(
        thread.contains(">New<"),
        "what was unread is marked new once"
    );
    let (_, inbox) = app.page("/inbox");
    assert!(
        !inbox.contains(&format!("id=\"unread-{sara}\"")),
        "opened: seen"
    );
    assert!(inbox.contains("id=\"unread-"), "Omar's is still unread");
    assert!(!app.page(&format!("/inbox/{sara}")).1.contains(">New<"));
}

#[test]
fn a_reply_inside_the_window_is_queued_as_text() {
    let (app, connection, auth) = shop();
    customer_writes(&app, &auth, &connection, "+96550001234", "Sara");
    let sara = conversations(&app, &auth)[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let page = format!("/inbox/{sara}");
    let (_, thread) = app.page(&page);
    assert!(thread.contains("id=\"reply-text\"") && !thread.contains("id=\"reply-template\""));

    let empty = app.submit(
        &page,
        &format!("/inbox/{sara}/reply"),
        &[("kind", "text"), ("text", "  ")],
    );
    assert_eq!(empty.status(), Status::UnprocessableEntity);
    assert!(
        empty
            .into_string()
            .unwrap()
            .contains("Write a message first.")
    );
    assert_eq!(app.count("SELECT count(*) FROM messages"), 0);

    let sent = app.submit(
        &page,
        &format!("/inbox/{sara}/reply"),
        &[("kind", "text"), ("text", "Your order is on its way")],
    );
    assert_eq!(sent.status(), Status::SeeOther);
    assert_eq!(
        sent.headers().get_one("Location"),
        Some(format!("/inbox/{sara}?done=sent").as_str())
    );
    let messages: Value = app
        .client
        .get("/api/v1/messages")
        .header(auth.clone())
        .dispatch()
        .into_json()
        .unwrap();
    let queued = &messages["data"][0];
    assert_eq!(queued["type"], "text");
    assert_eq!(queued["to"], "+96550001234");
    assert_eq!(queued["connection_id"], connection.as_str());
    assert_eq!(queued["message"]["body"], "Your order is on its way");
    let (_, thread) = app.page(&format!("/inbox/{sara}?done=sent"));
    assert!(thread.contains("The reply is queued.") && thread.contains("Your order is on its way"));
}

#[test]
fn another_account_cannot_open_the_conversation_or_its_media() {
    let (app, connection, auth) = shop();
    customer_writes(&app, &auth, &connection, "+96550001234", "Sara");
    let sara = conversations(&app, &auth)[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let inbound: i64 = app
        .db()
        .query_row("SELECT id FROM inbound_messages", [], |r| r.get(0))
        .unwrap();

    app.logout();
    app.register("Eve", "Other", "eve@other.test");
    let (_, other_auth) = number(&app);
    assert_eq!(app.page(&format!("/inbox/{sara}")).0, Status::NotFound);
    assert!(!app.page("/inbox").1.contains("+96550001234"));
    let reply = app.submit(
        "/inbox",
        &format!("/inbox/{sara}/reply"),
        &[("kind", "text"), ("text", "hi")],
    );
    assert_eq!(reply.status(), Status::NotFound);
    assert_eq!(
        app.page(&format!("/inbox/media/{inbound}/1037543291543636"))
            .0,
        Status::NotFound
    );
    let api = app
        .client
        .get(format!("/api/v1/conversations/{sara}"))
        .header(other_auth)
        .dispatch();
    assert_eq!(api.status(), Status::NotFound);
    assert_eq!(app.count("SELECT count(*) FROM messages"), 0);
    assert_eq!(
        app.count("SELECT count(*) FROM inbound_messages WHERE seen_at IS NULL"),
        1
    );
}

#[test]
fn the_inbox_speaks_arabic() {
    let (app, connection, auth) = shop();
    let token = csrf_in(&app.page("/inbox").1);
    app.post_raw("/language", &token, &[("lang", "ar"), ("back", "/inbox")]);
    customer_writes(&app, &auth, &connection, "+96550001234", "سارة");
    let (_, inbox) = app.page("/inbox");
    assert!(inbox.contains("dir=\"rtl\"") && inbox.contains("صندوق الوارد"));
    assert!(inbox.contains("مفتوحة لمدة") && inbox.contains("سارة"));
    assert!(inbox.contains(">1<"), "the unread count in Western digits");
    let sara = conversations(&app, &auth)[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, thread) = app.page(&format!("/inbox/{sara}"));
    assert!(thread.contains("dir=\"rtl\"") && thread.contains("الرد") && thread.contains("إرسال"));
}

// On a running server: the sandbox answers template syncs and media lookups over HTTP.

const SECRET: &str = "the-app-secret";

/// A browser of its own: cookies kept by hand, redirects not followed.
struct Browser {
    base: String,
    agent: ureq::Agent,
    cookies: RefCell<BTreeMap<String, String>>,
}

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl Browser {
    fn signed_in(server: &Server, email: &str) -> Browser {
        let browser = Browser {
            base: server.url.clone(),
            agent: ureq::Agent::config_builder()
                .http_status_as_error(false)
                .max_redirects(0)
                .build()
                .into(),
            cookies: RefCell::default(),
        };
        let signed_in = browser.submit(
            "/login",
            "/login",
            &[("email", email), ("password", "a long enough pass phrase")],
        );
        assert_eq!(signed_in.status, 303, "{}", signed_in.text());
        browser
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .borrow()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn answer(&self, response: ureq::http::Response<ureq::Body>) -> Answer {
        let status = response.status().as_u16();
        let headers: Vec<(String, String)> = response
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
            .collect();
        for (_, cookie) in headers.iter().filter(|(k, _)| k == "set-cookie") {
            let pair = cookie.split(';').next().unwrap_or_default();
            if let Some((name, value)) = pair.split_once('=') {
                self.cookies
                    .borrow_mut()
                    .insert(name.trim().to_owned(), value.trim().to_owned());
            }
        }
        let body = response.into_body().read_to_vec().unwrap_or_default();
        Answer {
            status,
            headers,
            body,
        }
    }

    fn get(&self, path: &str) -> Answer {
        let response = self
            .agent
            .get(format!("{}{path}", self.base))
            .header("Cookie", &self.cookie_header())
            .call()
            .unwrap();
        self.answer(response)
    }

    fn submit(&self, form_page: &str, action: &str, fields: &[(&str, &str)]) -> Answer {
        let token = csrf_in(&self.get(form_page).text());
        let mut all = vec![("csrf", token.as_str())];
        all.extend_from_slice(fields);
        let response = self
            .agent
            .post(format!("{}{action}", self.base))
            .header("Cookie", &self.cookie_header())
            .header("Content-Type", "application/x-www-form-urlencoded")
            .send(encode(&all))
            .unwrap();
        self.answer(response)
    }
}

/// Gives the number a known app secret (and whether it enforces the window); its webhook details.
fn hook(api: &Api, connection: &str, enforce_window: bool) -> Value {
    let (status, body) = api.call_patch(
        &format!("/api/v1/connections/{connection}"),
        json!({"app_secret": SECRET, "enforce_window": enforce_window}),
    );
    assert_eq!(status, 200, "{body}");
    body
}

/// Posts one inbound message item to the number's webhook, signed as Meta signs.
fn deliver(hook: &Value, message: &str) {
    let payload = format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"id":"{}","changes":[{{"field":"messages","value":{{"messaging_product":"whatsapp","metadata":{{"display_phone_number":"15550783881","phone_number_id":"{}"}},"contacts":[{{"profile":{{"name":"Sheena"}},"wa_id":"16505551234"}}],"messages":[{message}]}}}}]}}]}}"#,
        hook["waba_id"].as_str().unwrap(),
        hook["phone_number_id"].as_str().unwrap()
    );
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(payload.as_bytes());
    let signature = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let response = agent
        .post(hook["webhook_url"].as_str().unwrap())
        .header("Content-Type", "application/json")
        .header("X-Hub-Signature-256", &signature)
        .send(payload.as_bytes())
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
}

fn seconds_ago(seconds: u64) -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - seconds
}

fn first_conversation(api: &Api) -> String {
    let (_, page) = api.call("GET", "/api/v1/conversations", None, &[]);
    page["data"][0]["id"].as_str().unwrap().to_owned()
}

#[test]
fn after_the_window_the_page_offers_templates_and_refuses_free_form_text() {
    let install = Install::new();
    let server = install.serve();
    let (api, connection) = account(&install, &server, "owner@shop.test");
    let hook = hook(&api, &connection, true);
    let (status, synced) = api.call(
        "POST",
        &format!("/api/v1/connections/{connection}/templates/sync"),
        None,
        &[],
    );
    assert_eq!(status, 200, "{synced}");
    deliver(
        &hook,
        &format!(
            r#"{{"from":"16505551234","id":"wamid.OLD","timestamp":"{}","type":"text","text":{{"body":"Anyone there?"}}}}"#,
            seconds_ago(25 * 3600)
        ),
    );
    let contact = first_conversation(&api);
    let browser = Browser::signed_in(&server, "owner@shop.test");
    assert!(
        browser
            .get("/inbox")
            .text()
            .contains("Closed: send a template")
    );
    let page = format!("/inbox/{contact}");
    let thread = browser.get(&page).text();
    assert!(thread.contains("Anyone there?") && thread.contains("id=\"reply-template\""));
    assert!(thread.contains("value=\"order_update|en_US\"") && thread.contains("hello_world"));
    assert!(
        !thread.contains("spring_sale"),
        "a paused template is not offered"
    );
    assert!(!thread.contains("id=\"reply-text\""));

    let action = format!("/inbox/{contact}/reply");
    let refused = browser.submit(&page, &action, &[("kind", "text"), ("text", "Hi!")]);
    assert_eq!(refused.status, 422);
    assert!(
        refused.text().contains("id=\"form-error\"")
            && refused.text().contains("only a template can be sent")
    );
    let (_, none) = api.call("GET", "/api/v1/messages", None, &[]);
    assert_eq!(none["data"], json!([]), "nothing queued");

    let wrong = browser.submit(
        &page,
        &action,
        &[
            ("kind", "template"),
            ("template", "order_update|en_US"),
            ("params", "Sheena"),
        ],
    );
    assert_eq!(wrong.status, 422, "the template takes two values");
    assert!(wrong.text().contains("2 parameters"));

    let sent = browser.submit(
        &page,
        &action,
        &[
            ("kind", "template"),
            ("template", "order_update|en_US"),
            ("params", "Sheena\n860198"),
        ],
    );
    assert_eq!(sent.status, 303, "{}", sent.text());
    let (_, queued) = api.call("GET", "/api/v1/messages", None, &[]);
    let message = &queued["data"][0];
    assert_eq!(message["type"], "template");
    assert_eq!(message["to"], "+16505551234");
    assert_eq!(message["message"]["name"], "order_update");
    assert_eq!(
        message["message"]["components"][0]["parameters"][1]["text"],
        "860198"
    );
}

#[test]
fn an_image_is_fetched_from_the_sandbox_through_the_proxy_and_never_kept() {
    let install = Install::new();
    let server = install.serve();
    let (api, connection) = account(&install, &server, "owner@shop.test");
    let hook = hook(&api, &connection, false);
    deliver(
        &hook,
        &format!(
            r#"{{"from":"16505551234","id":"wamid.IMG","timestamp":"{}","type":"image","image":{{"caption":"this one","mime_type":"image/png","sha256":"81d3","id":"1037543291543636"}}}}"#,
            seconds_ago(60)
        ),
    );
    let contact = first_conversation(&api);
    let browser = Browser::signed_in(&server, "owner@shop.test");
    let thread = browser.get(&format!("/inbox/{contact}")).text();
    assert!(thread.contains("this one"));
    let start = thread
        .find("/inbox/media/")
        .expect("the image is shown through the proxy");
    let link = &thread[start..start + thread[start..].find('"').unwrap()];
    assert!(link.ends_with("/1037543291543636"), "{link}");

    let image = browser.get(link);
    assert_eq!(image.status, 200, "{}", image.text());
    assert_eq!(image.header("content-type"), Some("image/png"));
    assert_eq!(image.header("cache-control"), Some("no-store"));
    assert!(image.body.starts_with(b"\x89PNG\r\n\x1a\n"));
    // Only the media id the message carries.
    let other_media = link.replace("1037543291543636", "1037543291543637");
    assert_eq!(browser.get(&other_media).status, 404);
    // Nothing of it was kept: not in the database, not next to it.
    let file = std::fs::read(install.db_path()).unwrap();
    assert!(
        !file
            .windows(image.body.len())
            .any(|w| w == image.body.as_slice())
    );
    // The sandbox serves the file only with the number's token, as Meta does.
    let phone_number_id = hook["phone_number_id"].as_str().unwrap();
    let (status, _, _) = server.get(&format!(
        "/sandbox/media/{phone_number_id}/1037543291543636"
    ));
    assert_eq!(status, 401);
    // The number lookup on the same path shape still answers (the media route steps aside for it).
    let (_, checked) = api.call(
        "POST",
        &format!("/api/v1/connections/{connection}/check"),
        None,
        &[],
    );
    assert_eq!(checked["ok"], true, "{checked}");

    let (_other, _) = account(&install, &server, "owner@other.test");
    let stranger = Browser::signed_in(&server, "owner@other.test");
    assert_eq!(stranger.get(link).status, 404);
    assert_eq!(stranger.get(&format!("/inbox/{contact}")).status, 404);
}
