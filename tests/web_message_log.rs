//! The message log's search, filters and times, and the Numbers page's values to copy and its warning
//! about the public address, through the real server in-process (Rocket's local client, a real SQLite
//! file).

mod common;

use common::web::{App, app, app_with};
use rocket::http::{ContentType, Header, Status};
use serde_json::{Value, json};

/// A sandbox number made through the API; its id.
fn number(app: &App, auth: &Header<'static>, name: &str) -> String {
    let connection: Value = app
        .client
        .post("/api/v1/connections")
        .header(auth.clone())
        .header(ContentType::JSON)
        .body(json!({"kind": "sandbox", "name": name}).to_string())
        .dispatch()
        .into_json()
        .unwrap();
    connection["id"].as_str().unwrap().to_owned()
}

/// Sends one message through the API; its id.
fn send(app: &App, auth: &Header<'static>, connection: &str, to: &str, message: Value) -> String {
    let mut body = json!({"connection_id": connection, "to": to});
    body.as_object_mut()
        .unwrap()
        .extend(message.as_object().unwrap().clone());
    let answer: Value = app
        .client
        .post("/api/v1/messages")
        .header(auth.clone())
        .header(ContentType::JSON)
        .body(body.to_string())
        .dispatch()
        .into_json()
        .unwrap();
    answer["id"].as_str().expect("a message id").to_owned()
}

fn text(body: &str) -> Value {
    json!({"type": "text", "text": {"body": body}})
}

/// The ids of the messages a page of the log lists, in order.
fn listed(html: &str) -> Vec<String> {
    html.split("<tr data-id=\"")
        .skip(1)
        .map(|rest| rest[..rest.find('"').unwrap()].to_owned())
        .collect()
}

#[test]
fn the_log_finds_a_recipient_by_number_and_refuses_what_is_not_one() {
    let app = app();
    app.register("Ali", "Shop", "ali@shop.test");
    let auth = app.api_key();
    let shop = number(&app, &auth, "Shop number");
    let first = send(&app, &auth, &shop, "+96550001234", text("one"));
    let other = send(&app, &auth, &shop, "+96550009999", text("two"));
    let second = send(&app, &auth, &shop, "+96550001234", text("three"));

    // Positive control: with no search both recipients are listed, newest first.
    let (status, all) = app.page("/messages");
    assert_eq!(status, Status::Ok);
    assert_eq!(
        listed(&all),
        [second.as_str(), other.as_str(), first.as_str()]
    );

    // Typed as people type it: spaces, and 00 instead of +.
    for typed in ["%2B96550001234", "%2B965+5000+1234", "0096550001234"] {
        let (status, found) = app.page(&format!("/messages?to={typed}"));
        assert_eq!(status, Status::Ok, "{typed}");
        assert_eq!(
            listed(&found),
            [second.as_str(), first.as_str()],
            "only the searched recipient for {typed}"
        );
        assert!(found.contains("data-filter=\"to\""), "the search is a chip");
    }
    let (_, nobody) = app.page("/messages?to=%2B96550007777");
    assert!(listed(&nobody).is_empty() && nobody.contains("id=\"messages-none\""));

    let (status, refused) = app.page("/messages?to=not-a-number");
    assert_eq!(status, Status::UnprocessableEntity);
    assert!(
        refused.contains("id=\"to-error\"")
            && refused.contains("aria-invalid=\"true\"")
            && refused.contains("Enter a phone number in international format"),
        "the words are next to the field"
    );
    assert!(listed(&refused).is_empty());
}

#[test]
fn filters_are_chips_removed_one_by_one_and_the_type_is_one_of_them() {
    let app = app();
    app.register("Ali", "Shop", "ali@shop.test");
    let auth = app.api_key();
    let shop = number(&app, &auth, "Shop number");
    let spare = number(&app, &auth, "Spare number");
    let sent = send(&app, &auth, &shop, "+96550001234", text("hello"));
    let reaction = send(
        &app,
        &auth,
        &spare,
        "+96550001234",
        json!({"type": "reaction", "reaction": {"message_id": "wamid.X", "emoji": "👍"}}),
    );

    let (status, text_only) = app.page("/messages?type=text");
    assert_eq!(status, Status::Ok);
    assert_eq!(listed(&text_only), [sent.as_str()]);
    let (_, reactions) = app.page("/messages?type=reaction");
    assert_eq!(listed(&reactions), [reaction.as_str()]);
    let (_, by_number) = app.page(&format!("/messages?connection={spare}"));
    assert_eq!(listed(&by_number), [reaction.as_str()]);

    let (_, both) = app.page(&format!("/messages?connection={shop}&type=text"));
    assert_eq!(listed(&both), [sent.as_str()]);
    let (_, none) = app.page(&format!("/messages?connection={shop}&type=reaction"));
    assert!(listed(&none).is_empty(), "the filters add up");

    // The sender moves the messages on meanwhile: the chips are read, not the rows.
    let status = "failed";
    let (_, filtered) = app.page(&format!(
        "/messages?status={status}&connection={shop}&type=text"
    ));
    for (chip, remaining) in [
        (
            "status",
            format!("/messages?connection={shop}&#38;type=text"),
        ),
        (
            "connection",
            format!("/messages?status={status}&#38;type=text"),
        ),
        (
            "type",
            format!("/messages?status={status}&#38;connection={shop}"),
        ),
    ] {
        let at = filtered
            .find(&format!("data-filter=\"{chip}\""))
            .unwrap_or_else(|| panic!("a chip for {chip}"));
        let chip_html = &filtered[at..at + filtered[at..].find("</li>").unwrap()];
        assert!(
            chip_html.contains(&format!("href=\"{remaining}\"")),
            "removing {chip} keeps the others: {chip_html}"
        );
    }
    assert!(filtered.contains("From number: Shop number") && filtered.contains("Type: Text"));
    // Every filter removed: both messages again, and no chip.
    let (_, wider) = app.page("/messages");
    assert_eq!(listed(&wider), [reaction.as_str(), sent.as_str()]);
    assert!(!wider.contains("data-filter="));
}

#[test]
fn each_row_names_its_number_and_its_time_to_the_second_and_the_text_opens_on_its_page() {
    let app = app();
    app.register("Ali", "Shop", "ali@shop.test");
    let auth = app.api_key();
    let shop = number(&app, &auth, "Shop number");
    let id = send(
        &app,
        &auth,
        &shop,
        "+96550001234",
        text("Your order is ready"),
    );
    let created: i64 = app
        .db()
        .query_row("SELECT created_at FROM messages", [], |r| r.get(0))
        .unwrap();
    let expected = chrono::DateTime::from_timestamp_millis(created)
        .unwrap()
        .format("%-d %b %Y, %H:%M:%S UTC")
        .to_string();
    let (_, log) = app.page("/messages");
    let row = &log[log.find(&format!("<tr data-id=\"{id}\"")).unwrap()..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(row.contains(&expected), "{expected} in {row}");
    assert!(row.contains("Shop number") && row.contains("+96550001234"));
    assert!(
        !log.contains("Your order is ready"),
        "the list leaves the texts closed"
    );
    assert!(log.contains("Time (UTC)") && log.contains("class=\"stack\""));
    let (_, detail) = app.page(&format!("/messages/{id}"));
    assert!(detail.contains("id=\"message-text\" dir=\"auto\">Your order is ready"));
    assert!(detail.contains(&expected), "the timeline to the second");
}

/// The Numbers page of an account with one sandbox number added on the page; the page and the id.
fn numbers_page(app: &App) -> (String, String) {
    app.register("Ali", "Shop", "ali@shop.test");
    let fields = [
        ("kind", "sandbox"),
        ("name", "Test number"),
        ("phone_number_id", ""),
        ("waba_id", ""),
        ("access_token", ""),
        ("app_secret", ""),
        ("throughput_mps", "80"),
    ];
    assert_eq!(
        app.submit("/connections", "/connections", &fields).status(),
        Status::SeeOther
    );
    let id: i64 = app
        .db()
        .query_row("SELECT id FROM connections", [], |r| r.get(0))
        .unwrap();
    (app.page("/connections").1, id.to_string())
}

#[test]
fn the_numbers_page_shows_what_to_copy_and_warns_while_meta_cannot_reach_the_server() {
    let app = app();
    let (page, id) = numbers_page(&app);
    let key: String = app
        .db()
        .query_row("SELECT webhook_key FROM connections", [], |r| r.get(0))
        .unwrap();
    let url = format!("{}/webhooks/meta/{key}", app.config.server.public_url);
    assert!(app.config.server.public_url.starts_with("http://"));
    let token = {
        let at = page.find("data-verify-token>").unwrap() + 18;
        page[at..at + page[at..].find('<').unwrap()].to_owned()
    };
    assert_eq!(token.len(), 32, "the verify token is shown: {token}");
    for value in [&id, &url, &token] {
        assert!(
            page.contains(&format!("data-copy=\"{value}\"")),
            "a copy button for {value}"
        );
        assert!(
            page.contains(&format!(">{value}</code>")),
            "{value} as text"
        );
    }
    assert!(page.contains("/static/copy.js"));
    assert!(
        page.contains("id=\"public-url-warning\"")
            && page.contains("Meta cannot reach this server")
            && page.contains("[server] public_url"),
        "an http public_url is warned about"
    );

    // Positive control: a public https address, no warning.
    let app = app_with(|c| c.server.public_url = "https://wa.example.com".into());
    let (page, _) = numbers_page(&app);
    assert!(page.contains("https://wa.example.com/webhooks/meta/"));
    assert!(!page.contains("id=\"public-url-warning\""));

    // Local and private hosts, even over https, are warned about.
    for local in [
        "https://localhost",
        "https://192.168.1.20",
        "https://10.0.0.5:8443",
    ] {
        let app = app_with(|c| c.server.public_url = local.into());
        let (page, _) = numbers_page(&app);
        assert!(page.contains("id=\"public-url-warning\""), "{local}");
    }
}
