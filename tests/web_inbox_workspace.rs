//! The inbox as a workspace, over real HTTP where it takes a running server: the live stream of one
//! account never carries another's changes; a stop is not held up by an open stream; internal notes
//! are kept sealed and never sent; resolving, reopening and assigning filter the list; saved replies go
//! into the reply box; search by number and name; a file uploaded to the sandbox's media endpoint is
//! sent by its media id, and a file WhatsApp does not take is refused with words; so is a file chosen on
//! the New message page.

mod common;

use common::api::{Api, account, account_with_id};
use common::web::{App, app};
use common::{Install, Server, signal};
use rocket::http::{Header, Method, Status};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::sync::mpsc;
use std::time::{Duration, Instant};

// ---- In-process: notes, state, assignment, saved replies, search ----

/// A signed-in owner with a sandbox number and an API key.
fn shop() -> (App, String, Header<'static>) {
    let app = app();
    app.register("Ali", "Shop", "ali@shop.test");
    let auth = app.api_key();
    let (status, connection) = app.api(
        &auth,
        Method::Post,
        "/api/v1/connections",
        json!({"kind": "sandbox", "name": "Shop number"}),
    );
    assert_eq!(status, Status::Created, "{connection}");
    (app, connection["id"].as_str().unwrap().to_owned(), auth)
}

fn writes(app: &App, auth: &Header<'static>, connection: &str, from: &str, name: &str, text: &str) {
    let (status, body) = app.api(
        auth,
        Method::Post,
        &format!("/api/v1/connections/{connection}/sandbox/inbound"),
        json!({"from": from, "name": name, "text": text}),
    );
    assert_eq!(status, Status::Ok, "{body}");
}

/// The conversation of a customer's number.
fn conversation_of(app: &App, auth: &Header<'static>, phone: &str) -> String {
    let (_, page) = app.api(auth, Method::Get, "/api/v1/conversations", Value::Null);
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["phone"] == phone)
        .unwrap_or_else(|| panic!("no conversation with {phone}: {page}"))["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The list part of an inbox page.
fn list_of(page: &str) -> &str {
    let start = page.find("id=\"conv-list\"").expect("the list");
    let end = page[start..]
        .find("class=\"thread-pane")
        .map_or(page.len(), |e| start + e);
    &page[start..end]
}

#[test]
fn notes_stay_inside_the_team_sealed_and_are_never_sent() {
    let (app, connection, auth) = shop();
    writes(&app, &auth, &connection, "+96550001234", "Sara", "Hi");
    let sara = conversation_of(&app, &auth, "+96550001234");
    let page = format!("/inbox/{sara}");
    let note = "Prefers a call after 5 pm; VIP customer";
    let added = app.submit(&page, &format!("/inbox/{sara}/notes"), &[("body", note)]);
    assert_eq!(added.status(), Status::SeeOther);
    let (_, shown) = app.page(&format!("/inbox/{sara}?done=note"));
    assert!(shown.contains(note) && shown.contains("The note is added."));
    // Never sent: nothing queued, nothing in the outbox.
    let (_, messages) = app.api(&auth, Method::Get, "/api/v1/messages", Value::Null);
    assert_eq!(messages["data"], json!([]));
    assert_eq!(app.count("SELECT count(*) FROM messages"), 0);
    // Sealed: the note's words are nowhere in the database file.
    assert_eq!(app.count("SELECT count(*) FROM conversation_notes"), 1);
    let file = std::fs::read(app.dir.path().join("data/whatsapi.db")).unwrap();
    assert!(!file.windows(note.len()).any(|w| w == note.as_bytes()));
    // An empty note is refused next to its field.
    let empty = app.submit(&page, &format!("/inbox/{sara}/notes"), &[("body", "  ")]);
    assert_eq!(empty.status(), Status::UnprocessableEntity);
    assert!(empty.into_string().unwrap().contains("id=\"note-error\""));

    // Deleted by the team; another account's member can neither see nor delete it.
    let id: i64 = app
        .db()
        .query_row("SELECT id FROM conversation_notes", [], |r| r.get(0))
        .unwrap();
    let other = app.another_browser();
    other.register("Eve", "Other", "eve@other.test");
    let refused = other.submit("/inbox", &format!("/inbox/{sara}/notes/{id}/delete"), &[]);
    assert_eq!(refused.status(), Status::NotFound);
    let stranger = other.submit("/inbox", &format!("/inbox/{sara}/notes"), &[("body", "hi")]);
    assert_eq!(stranger.status(), Status::NotFound);
    assert_eq!(app.count("SELECT count(*) FROM conversation_notes"), 1);
    let deleted = app.submit(&page, &format!("/inbox/{sara}/notes/{id}/delete"), &[]);
    assert_eq!(deleted.status(), Status::SeeOther);
    assert_eq!(app.count("SELECT count(*) FROM conversation_notes"), 0);
}

#[test]
fn resolving_assigning_and_the_list_s_filters() {
    let (app, connection, auth) = shop();
    writes(&app, &auth, &connection, "+96550001234", "Sara", "Hi");
    writes(&app, &auth, &connection, "+96550005678", "Omar", "Hello");
    let (sara, omar) = (
        conversation_of(&app, &auth, "+96550001234"),
        conversation_of(&app, &auth, "+96550005678"),
    );
    let resolved = app.submit(
        &format!("/inbox/{sara}"),
        &format!("/inbox/{sara}/state"),
        &[("state", "resolved")],
    );
    assert_eq!(resolved.status(), Status::SeeOther);
    let (_, open) = app.page("/inbox?show=open");
    let (_, done) = app.page("/inbox?show=resolved");
    assert!(list_of(&open).contains("Omar") && !list_of(&open).contains("Sara"));
    assert!(list_of(&done).contains("Sara") && !list_of(&done).contains("Omar"));
    // The customer writes again: open again.
    writes(
        &app,
        &auth,
        &connection,
        "+96550001234",
        "Sara",
        "One more thing",
    );
    let (_, open) = app.page("/inbox?show=open");
    assert!(list_of(&open).contains("Sara"), "a new message opens it");

    // Assigned to me: "Mine" shows it alone.
    let (_, mine) = app.page("/inbox?show=mine");
    assert!(!list_of(&mine).contains("Sara"));
    let me: i64 = app
        .db()
        .query_row(
            "SELECT id FROM users WHERE email = 'ali@shop.test'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let assigned = app.submit(
        &format!("/inbox/{sara}"),
        &format!("/inbox/{sara}/assign"),
        &[("member", &me.to_string())],
    );
    assert_eq!(assigned.status(), Status::SeeOther);
    let (_, mine) = app.page("/inbox?show=mine");
    assert!(list_of(&mine).contains("Sara") && !list_of(&mine).contains("Omar"));
    assert!(
        app.page(&format!("/inbox/{sara}"))
            .1
            .contains(&format!("<option value=\"{me}\" selected>"))
    );

    // A person of another account is no member to assign.
    let other = app.another_browser();
    other.register("Eve", "Other", "eve@other.test");
    let eve: i64 = app
        .db()
        .query_row(
            "SELECT id FROM users WHERE email = 'eve@other.test'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let refused = app.submit(
        &format!("/inbox/{omar}"),
        &format!("/inbox/{omar}/assign"),
        &[("member", &eve.to_string())],
    );
    assert_eq!(refused.status(), Status::NotFound);
    let stranger = other.submit(
        "/inbox",
        &format!("/inbox/{sara}/state"),
        &[("state", "open")],
    );
    assert_eq!(stranger.status(), Status::NotFound);
    // Unassigned again.
    app.submit(
        &format!("/inbox/{sara}"),
        &format!("/inbox/{sara}/assign"),
        &[("member", "")],
    );
    assert!(!list_of(&app.page("/inbox?show=mine").1).contains("Sara"));
}

#[test]
fn saved_replies_go_into_the_reply_box() {
    let (app, connection, auth) = shop();
    writes(&app, &auth, &connection, "+96550001234", "Sara", "Hi");
    let sara = conversation_of(&app, &auth, "+96550001234");
    let page = format!("/inbox/{sara}");
    let saved = app.submit(
        &page,
        "/inbox/saved-replies",
        &[
            ("title", "Hours"),
            ("body", "We are open 9 to 5, Sunday to Thursday."),
            ("back", &sara),
        ],
    );
    assert_eq!(saved.status(), Status::SeeOther);
    let (_, shown) = app.page(&page);
    assert!(shown.contains("data-insert=\"We are open 9 to 5, Sunday to Thursday.\""));
    let id: i64 = app
        .db()
        .query_row("SELECT id FROM saved_replies", [], |r| r.get(0))
        .unwrap();
    // Without JavaScript, choosing it fills the reply box.
    let (_, chosen) = app.page(&format!("{page}?saved={id}"));
    assert!(chosen.contains(">We are open 9 to 5, Sunday to Thursday.</textarea>"));
    let untitled = app.submit(
        &page,
        "/inbox/saved-replies",
        &[("title", ""), ("body", "x"), ("back", &sara)],
    );
    assert_eq!(untitled.status(), Status::UnprocessableEntity);
    assert!(
        untitled
            .into_string()
            .unwrap()
            .contains("id=\"saved-error\"")
    );

    let other = app.another_browser();
    other.register("Eve", "Other", "eve@other.test");
    let refused = other.submit(
        "/inbox",
        &format!("/inbox/saved-replies/{id}/delete"),
        &[("back", "0")],
    );
    assert_eq!(refused.status(), Status::NotFound);
    assert_eq!(app.count("SELECT count(*) FROM saved_replies"), 1);
    let deleted = app.submit(
        &page,
        &format!("/inbox/saved-replies/{id}/delete"),
        &[("back", &sara)],
    );
    assert_eq!(deleted.status(), Status::SeeOther);
    assert_eq!(app.count("SELECT count(*) FROM saved_replies"), 0);
}

#[test]
fn the_list_is_searched_by_number_and_by_name() {
    let (app, connection, auth) = shop();
    writes(
        &app,
        &auth,
        &connection,
        "+96550001234",
        "Sara Haddad",
        "Hi",
    );
    writes(&app, &auth, &connection, "+96550005678", "Omar", "Hello");
    let (_, by_number) = app.page("/inbox?q=%2B96550005678");
    assert!(list_of(&by_number).contains("Omar") && !list_of(&by_number).contains("Sara"));
    let (_, by_name) = app.page("/inbox?q=haddad");
    assert!(list_of(&by_name).contains("Sara") && !list_of(&by_name).contains("Omar"));
    let (_, by_part) = app.page("/inbox?q=5678");
    assert!(list_of(&by_part).contains("Omar") && !list_of(&by_part).contains("Sara"));
    let (_, none) = app.page("/inbox?q=nobody");
    assert!(list_of(&none).contains("No conversation matches."));
    // The list shows the newest message, and opening a conversation keeps the search on its links.
    let (_, all) = app.page("/inbox");
    assert!(list_of(&all).contains("Hello") && list_of(&all).contains(">Hi<"));
    assert!(by_name.contains("?q=haddad\""));
}

// ---- On a running server: the live stream, a stop, uploads ----

/// A browser of its own on a running server: signed in, cookies kept by hand.
struct Session {
    base: String,
    agent: ureq::Agent,
    cookie: String,
}

impl Session {
    fn signed_in(server: &Server, email: &str) -> Session {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .build()
            .into();
        let mut session = Session {
            base: server.url.clone(),
            agent,
            cookie: String::new(),
        };
        let answer = session.post_form(
            "/login",
            "/login",
            &[("email", email), ("password", common::api::PASSWORD)],
        );
        assert_eq!(answer.0, 303, "{}", answer.1);
        session
    }

    fn get(&self, path: &str) -> (u16, String) {
        let mut response = self
            .agent
            .get(format!("{}{path}", self.base))
            .header("Cookie", &self.cookie)
            .call()
            .unwrap();
        (
            response.status().as_u16(),
            response.body_mut().read_to_string().unwrap_or_default(),
        )
    }

    fn keep_cookies(&mut self, response: &ureq::http::Response<ureq::Body>) {
        for cookie in response.headers().get_all("set-cookie") {
            let pair = cookie
                .to_str()
                .unwrap()
                .split(';')
                .next()
                .unwrap()
                .to_owned();
            let name = pair.split('=').next().unwrap().to_owned();
            let mut all: Vec<String> = self
                .cookie
                .split("; ")
                .filter(|c| !c.is_empty() && !c.starts_with(&format!("{name}=")))
                .map(str::to_owned)
                .collect();
            all.push(pair);
            self.cookie = all.join("; ");
        }
    }

    fn post_form(&mut self, page: &str, action: &str, fields: &[(&str, &str)]) -> (u16, String) {
        let response = self
            .agent
            .get(format!("{}{page}", self.base))
            .header("Cookie", &self.cookie)
            .call()
            .unwrap();
        self.keep_cookies(&response);
        let token = common::web::csrf_in(&response.into_body().read_to_string().unwrap());
        let mut all = vec![("csrf", token.as_str())];
        all.extend_from_slice(fields);
        let mut response = self
            .agent
            .post(format!("{}{action}", self.base))
            .header("Cookie", &self.cookie)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .send(common::web::encode(&all))
            .unwrap();
        self.keep_cookies(&response);
        (
            response.status().as_u16(),
            response.body_mut().read_to_string().unwrap_or_default(),
        )
    }

    /// Posts a file from the conversation's reply box (multipart, as a browser sends it).
    fn attach(
        &self,
        contact: &str,
        name: &str,
        mime: &str,
        bytes: &[u8],
    ) -> (u16, String, Option<String>) {
        self.multipart(
            &format!("/inbox/{contact}"),
            &format!("/inbox/{contact}/attach"),
            &[("caption", "Your invoice")],
            ("file", name, mime, bytes),
        )
    }

    /// Posts `page`'s form to `action` as multipart, as a browser sends a form with a file: the fields
    /// and the file (its field, name, type and bytes); the status, the page and the redirect's target.
    fn multipart(
        &self,
        page: &str,
        action: &str,
        fields: &[(&str, &str)],
        (field, name, mime, bytes): (&str, &str, &str, &[u8]),
    ) -> (u16, String, Option<String>) {
        let token = common::web::csrf_in(&self.get(page).1);
        let boundary = "----inboxtestboundary";
        let mut body = Vec::new();
        for (field, value) in [("csrf", token.as_str())].iter().chain(fields) {
            body.extend_from_slice(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"\r\n\r\n{value}\r\n").as_bytes(),
            );
        }
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{name}\"\r\nContent-Type: {mime}\r\n\r\n").as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let mut response = self
            .agent
            .post(format!("{}{action}", self.base))
            .header("Cookie", &self.cookie)
            .header(
                "Content-Type",
                &format!("multipart/form-data; boundary={boundary}"),
            )
            .send(&body[..])
            .unwrap();
        let location = response
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned());
        (
            response.status().as_u16(),
            response.body_mut().read_to_string().unwrap_or_default(),
            location,
        )
    }

    /// Opens the inbox's event stream; its events (name, data) arrive on the channel as they come, and
    /// `("end", "clean" | "broken")` when the stream ends.
    fn events(&self) -> mpsc::Receiver<(String, String)> {
        let (tx, rx) = mpsc::channel();
        let response = self
            .agent
            .get(format!("{}/inbox/events", self.base))
            .header("Cookie", &self.cookie)
            .header("Accept", "text/event-stream")
            .call()
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
        assert!(
            response
                .headers()
                .get("content-type")
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("text/event-stream")
        );
        let reader = BufReader::new(response.into_body().into_reader());
        std::thread::spawn(move || {
            let (mut name, mut data) = (String::new(), String::new());
            let mut lines = reader.lines();
            let end = loop {
                match lines.next() {
                    None => break "clean",
                    Some(Err(_)) => break "broken",
                    Some(Ok(line)) if line.is_empty() => {
                        if !name.is_empty() || !data.is_empty() {
                            let _ = tx.send((std::mem::take(&mut name), std::mem::take(&mut data)));
                        }
                    }
                    Some(Ok(line)) => {
                        if let Some(value) = line.strip_prefix("event:") {
                            name = value.trim().to_owned();
                        } else if let Some(value) = line.strip_prefix("data:") {
                            data.push_str(value.trim());
                        }
                    }
                }
            };
            let _ = tx.send(("end".into(), end.into()));
        });
        rx
    }
}

/// The next event of that name (others are collected in `seen`), within a generous bound.
fn next_event(
    rx: &mpsc::Receiver<(String, String)>,
    name: &str,
    seen: &mut Vec<(String, String)>,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let (event, data) = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("no {name} event; seen {seen:?}"));
        seen.push((event.clone(), data.clone()));
        if event == name {
            return serde_json::from_str(&data).unwrap_or(Value::String(data));
        }
    }
}

fn customer_writes(api: &Api, connection: &str, from: &str) {
    let (status, body) = api.call(
        "POST",
        &format!("/api/v1/connections/{connection}/sandbox/inbound"),
        Some(json!({"from": from, "text": "Hello"})),
        &[],
    );
    assert_eq!(status, 200, "{body}");
}

fn conversation_id(api: &Api, phone: &str) -> String {
    let (_, page) = api.call("GET", "/api/v1/conversations", None, &[]);
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["phone"] == phone)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn the_live_stream_of_one_account_never_carries_another_s_changes() {
    let install = Install::new();
    let server = install.serve();
    let (api_a, number_a) = account(&install, &server, "a@shop.test");
    let (api_b, number_b) = account(&install, &server, "b@other.test");
    let session = Session::signed_in(&server, "a@shop.test");
    let stream = session.events();
    let mut seen = Vec::new();
    next_event(&stream, "ready", &mut seen);

    // A's own change arrives (the positive control) ...
    customer_writes(&api_a, &number_a, "+96550001234");
    let first = next_event(&stream, "message", &mut seen);
    let sara = conversation_id(&api_a, "+96550001234");
    assert_eq!(first["conversation"], sara.as_str());
    assert_eq!(first["direction"], "inbound");
    assert_eq!(first["unread"], 1);
    // ... then B's, then A's second: B's never came between.
    customer_writes(&api_b, &number_b, "+96550009999");
    customer_writes(&api_a, &number_a, "+96550005678");
    let second = next_event(&stream, "message", &mut seen);
    let omar = conversation_id(&api_a, "+96550005678");
    assert_eq!(
        second["conversation"],
        omar.as_str(),
        "A's second, not B's: {seen:?}"
    );
    let theirs = conversation_id(&api_b, "+96550009999");
    assert!(
        seen.iter()
            .all(|(_, data)| !data.contains(&format!("\"{theirs}\""))),
        "{seen:?}"
    );
    assert!(
        seen.iter().all(|(_, data)| !data.contains("96550009999")),
        "no numbers at all"
    );

    // A reply's status ticks reach the stream: queued, then sent, delivered and read by the sandbox.
    let mut session = session;
    let (status, _) = session.post_form(
        &format!("/inbox/{sara}"),
        &format!("/inbox/{sara}/reply"),
        &[("kind", "text"), ("text", "Thanks!")],
    );
    assert_eq!(status, 303);
    let queued = next_event(&stream, "message", &mut seen);
    assert_eq!(
        (
            queued["conversation"].as_str(),
            queued["direction"].as_str()
        ),
        (Some(sara.as_str()), Some("outbound"))
    );
    // Sent is told twice (when Meta takes the message, and by its webhook), in whichever order.
    let mut statuses: Vec<String> = Vec::new();
    while statuses.last().map(String::as_str) != Some("read") {
        let tick = next_event(&stream, "status", &mut seen);
        assert_eq!(tick["conversation"], sara.as_str());
        assert_eq!(tick["message"], queued["message"]);
        let status = tick["status"].as_str().unwrap().to_owned();
        if statuses.last() != Some(&status) {
            statuses.push(status);
        }
    }
    assert_eq!(statuses, ["sent", "delivered", "read"]);
    // Opening the conversation reads it: its unread count goes to nought for everyone watching.
    session.get(&format!("/inbox/{omar}"));
    let read = next_event(&stream, "unread", &mut seen);
    assert_eq!(
        (read["conversation"].as_str(), read["unread"].as_i64()),
        (Some(omar.as_str()), Some(0))
    );

    // Signed out, there is no stream.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let stranger = agent
        .get(format!("{}/inbox/events", server.url))
        .call()
        .unwrap();
    assert_ne!(stranger.status().as_u16(), 200);
}

#[test]
fn a_stop_is_not_held_up_by_an_open_stream() {
    const SHUTDOWN_SECS: u64 = 20;
    let install = Install::new();
    let mut command = install.command(&["serve"]);
    command.env("WHATSAPI_SERVER__SHUTDOWN_SECS", SHUTDOWN_SECS.to_string());
    let mut server = install.serve_with(command);
    let (_api, _) = account(&install, &server, "a@shop.test");
    let session = Session::signed_in(&server, "a@shop.test");
    let stream = session.events();
    let mut seen = Vec::new();
    next_event(&stream, "ready", &mut seen);

    let asked = Instant::now();
    signal(&server.child, libc::SIGTERM);
    // The stream ends cleanly (the server closed it at its shutdown, not cut off by the mercy period) ...
    let end = next_event(&stream, "end", &mut seen);
    assert_eq!(end, Value::String("clean".into()), "{seen:?}");
    // ... and the server stops within its shutdown time.
    let deadline = asked + Duration::from_secs(SHUTDOWN_SECS);
    while server.child.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "the open stream held the stop up"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_file_is_uploaded_to_the_sandbox_and_sent_by_its_media_id() {
    let install = Install::new();
    let server = install.serve();
    let (_, api, number) = account_with_id(&install, &server, "a@shop.test");
    customer_writes(&api, &number, "+96550001234");
    let contact = conversation_id(&api, "+96550001234");
    let session = Session::signed_in(&server, "a@shop.test");

    // A type WhatsApp does not take: refused next to the field, nothing uploaded or queued.
    let (status, page, _) = session.attach(
        &contact,
        "setup.exe",
        "application/x-msdownload",
        b"MZ\x90\0",
    );
    assert_eq!(status, 422);
    assert!(
        page.contains("id=\"attach-error\"")
            && page.contains("WhatsApp does not take this type of file")
    );
    // An image over Meta's 5 MB: refused with the limit.
    let big = vec![0u8; 5 * 1024 * 1024 + 1];
    let (status, page, _) = session.attach(&contact, "big.png", "image/png", &big);
    assert_eq!(status, 422);
    assert!(
        page.contains("up to 5 MB"),
        "{}",
        &page[page.find("attach-error").unwrap_or(0)..][..200.min(page.len())]
    );
    let (_, none) = api.call("GET", "/api/v1/messages", None, &[]);
    assert_eq!(none["data"], json!([]));

    // A PDF: uploaded to the sandbox's media endpoint, then sent as a document by its id.
    let pdf = b"%PDF-1.4\n% an invoice\n%%EOF\n";
    let (status, _, location) = session.attach(&contact, "invoice 7.pdf", "application/pdf", pdf);
    assert_eq!(status, 303);
    assert_eq!(
        location.as_deref(),
        Some(format!("/inbox/{contact}?done=sent").as_str())
    );
    let (_, sent) = api.call("GET", "/api/v1/messages", None, &[]);
    let message = &sent["data"][0];
    assert_eq!(message["type"], "document");
    let media_id = message["message"]["id"].as_str().unwrap().to_owned();
    assert!(
        media_id.len() >= 15 && media_id.bytes().all(|b| b.is_ascii_digit()),
        "{message}"
    );
    assert!(message["message"].get("link").is_none());
    assert_eq!(message["message"]["caption"], "Your invoice");
    assert_eq!(message["message"]["filename"], "invoice 7.pdf");
    let delivered = api.wait_for(message["id"].as_str().unwrap(), &["delivered", "read"]);
    assert!(delivered["wamid"].as_str().unwrap().starts_with("wamid."));

    // The sandbox's endpoint wants the number's token, as Meta does.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let refused = agent
        .post(format!(
            "{}/sandbox/graph/v21.0/123456789/media",
            server.url
        ))
        .header("Content-Type", "multipart/form-data; boundary=x")
        .send(&b"--x--\r\n"[..])
        .unwrap();
    assert_eq!(refused.status().as_u16(), 401);
}

#[test]
fn a_file_chosen_on_the_new_message_page_is_uploaded_and_sent_by_its_media_id() {
    let install = Install::new();
    let server = install.serve();
    let (_, api, number) = account_with_id(&install, &server, "c@shop.test");
    let session = Session::signed_in(&server, "c@shop.test");
    let send = |kind: &str, file: (&str, &str, &[u8])| {
        session.multipart(
            &format!("/compose?kind={kind}"),
            "/compose",
            &[
                ("action", "send"),
                ("connection_id", number.as_str()),
                ("to", "+96550001234"),
                ("kind", kind),
                ("caption", "Your invoice"),
            ],
            ("media_file", file.0, file.1, file.2),
        )
    };
    let pdf: &[u8] = b"%PDF-1.4\n% an invoice\n%%EOF\n";

    // A PDF sent as an image: refused next to the file, nothing uploaded or queued.
    let (status, page, _) = send("image", ("invoice.pdf", "application/pdf", pdf));
    assert_eq!(status, 422, "{page}");
    assert!(
        page.contains("id=\"media-file-error\"") && page.contains("not of the message type"),
        "{page}"
    );
    let (_, none) = api.call("GET", "/api/v1/messages", None, &[]);
    assert_eq!(none["data"], json!([]));

    // As a document: uploaded to the sandbox's media endpoint, sent by the id Meta gave, with its name.
    let (status, page, location) = send("document", ("invoice 8.pdf", "application/pdf", pdf));
    assert_eq!(status, 303, "{page}");
    assert!(location.unwrap().starts_with("/messages/"));
    let (_, sent) = api.call("GET", "/api/v1/messages", None, &[]);
    let message = &sent["data"][0];
    assert_eq!(message["type"], "document", "{message}");
    let media_id = message["message"]["id"].as_str().unwrap();
    assert!(
        media_id.len() >= 15 && media_id.bytes().all(|b| b.is_ascii_digit()),
        "{message}"
    );
    assert!(message["message"].get("link").is_none(), "{message}");
    assert_eq!(message["message"]["filename"], "invoice 8.pdf");
    assert_eq!(message["message"]["caption"], "Your invoice");
    api.wait_for(message["id"].as_str().unwrap(), &["delivered", "read"]);
}
