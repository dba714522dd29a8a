//! The message log pages: what was sent, to whom, how it went, for the account's own messages only.

mod common;

use common::web::{App, app};
use rocket::http::{ContentType, Header, Status};
use serde_json::{Value, json};

/// Sends one message through the API with a key made on the API keys page; its id.
fn send_one(app: &App, body: &str) -> String {
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
    let message: Value = app
        .client
        .post("/api/v1/messages")
        .header(auth)
        .header(ContentType::JSON)
        .body(json!({"connection_id": connection["id"], "to": "+96550001234", "type": "text", "text": {"body": body}}).to_string())
        .dispatch()
        .into_json()
        .unwrap();
    message["id"].as_str().unwrap().to_owned()
}

#[test]
fn the_log_and_the_detail_page_show_the_accounts_messages_in_words() {
    let app = app();
    app.register("Ali", "Shop", "ali@shop.test");
    let id = send_one(&app, "Your order is ready");
    let (status, log) = app.page("/messages");
    assert_eq!(status, Status::Ok);
    assert!(log.contains("+96550001234") && log.contains(&format!("/messages/{id}")));
    assert!(
        log.contains("Shop number"),
        "the number filter lists the connections"
    );
    let (status, detail) = app.page(&format!("/messages/{id}"));
    assert_eq!(status, Status::Ok);
    assert!(detail.contains("Your order is ready") && detail.contains("id=\"timeline\""));
    let (_, filtered) = app.page("/messages?status=failed");
    assert!(!filtered.contains(&format!("/messages/{id}")));

    app.logout();
    app.register("Eve", "Other", "eve@other.test");
    assert_eq!(app.page(&format!("/messages/{id}")).0, Status::NotFound);
    assert!(!app.page("/messages").1.contains("+96550001234"));
}

#[test]
fn the_log_speaks_arabic() {
    let app = app();
    app.register("Ali", "Shop", "ali@shop.test");
    let token = common::web::csrf_in(&app.page("/messages").1);
    app.post_raw(
        "/language",
        &token,
        &[("lang", "ar"), ("back", "/messages")],
    );
    send_one(&app, "مرحبا");
    let (_, log) = app.page("/messages");
    assert!(log.contains("dir=\"rtl\"") && log.contains("الرسائل"));
    assert!(
        ["في الانتظار", "قيد الإرسال", "أُرسلت"]
            .iter()
            .any(|status| log.contains(status)),
        "the status in words"
    );
}

#[test]
fn numbers_are_added_checked_with_meta_and_removed_from_the_numbers_page() {
    let app = app();
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
    let added = app.submit("/connections", "/connections", &fields);
    assert_eq!(added.status(), Status::SeeOther);
    let (_, page) = app.page("/connections?done=added");
    assert!(
        page.contains("Test number")
            && page.contains("/webhooks/meta/")
            && page.contains("The number was added.")
    );
    let id: i64 = app
        .db()
        .query_row("SELECT id FROM connections", [], |r| r.get(0))
        .unwrap();
    // The sandbox answers the check only on the server's own address, which a local client does not serve:
    // the page then says Meta could not be reached, in words, instead of failing.
    let checked = app.submit("/connections", &format!("/connections/{id}/check"), &[]);
    assert_eq!(checked.status(), Status::Ok);
    assert!(
        checked
            .into_string()
            .unwrap()
            .contains("id=\"check-result\"")
    );

    let cloud = [
        ("kind", "cloud"),
        ("name", "Main"),
        ("phone_number_id", "106540352242922"),
        ("waba_id", "102290129340398"),
        ("access_token", ""),
        ("app_secret", "s"),
        ("throughput_mps", "80"),
    ];
    let refused = app.submit("/connections", "/connections", &cloud);
    assert_eq!(
        refused.status(),
        Status::UnprocessableEntity,
        "the access token is required"
    );
    assert_eq!(app.count("SELECT count(*) FROM connections"), 1);

    assert_eq!(
        app.submit("/connections", &format!("/connections/{id}/remove"), &[])
            .status(),
        Status::SeeOther
    );
    assert_eq!(app.count("SELECT count(*) FROM connections"), 0);
}

#[test]
fn the_compose_page_shows_the_json_and_queues_the_message() {
    let app = app();
    app.register("Ali", "Shop", "ali@shop.test");
    let fields = [
        ("kind", "sandbox"),
        ("name", "Shop number"),
        ("phone_number_id", ""),
        ("waba_id", ""),
        ("access_token", ""),
        ("app_secret", ""),
        ("throughput_mps", "80"),
    ];
    app.submit("/connections", "/connections", &fields);
    let connection: i64 = app
        .db()
        .query_row("SELECT id FROM connections", [], |r| r.get(0))
        .unwrap();
    let connection = connection.to_string();
    // The number's templates as Meta lists them (the sandbox's; a sync needs a listening server, which
    // tests/browser_templates.rs has): order_update, approved, with two variables in its body.
    let account: i64 = app
        .db()
        .query_row("SELECT account_id FROM connections", [], |r| r.get(0))
        .unwrap();
    app.db()
        .execute(
            "INSERT INTO templates (account_id, connection_id, name, language, category, status, body_params,
                                    components, synced_at)
             VALUES (?1, ?2, 'order_update', 'en_US', 'UTILITY', 'APPROVED', 2, ?3, 1)",
            rusqlite::params![
                account,
                connection.parse::<i64>().unwrap(),
                r#"[{"type":"BODY","text":"Hi {{1}}, your order {{2}} is on its way."}]"#
            ],
        )
        .unwrap();
    app.db()
        .execute("UPDATE connections SET templates_synced_at = 1", [])
        .unwrap();
    let message = |action: &'static str, to: &'static str| {
        vec![
            ("action", action),
            ("connection_id", connection.as_str()),
            ("to", to),
            ("kind", "template"),
            ("template_name", "order_update"),
            ("template_language", "en_US"),
            ("body_params", "Sara"),
            ("body_params", "860198"),
        ]
    };
    // The form offers the approved template, a language by name and one field per variable.
    let page = app.page("/compose?kind=template").1;
    assert!(
        page.contains(r#"<option value="order_update" selected>"#),
        "{page}"
    );
    assert!(page.contains(r#"<option value="en_US" selected>English (US)</option>"#));
    assert_eq!(page.matches(r#"name="body_params""#).count(), 2);
    // A variable left empty is named next to its field.
    let mut missing = message("send", "+96550001234");
    missing.pop();
    let refused = app.submit("/compose", "/compose", &missing);
    assert_eq!(refused.status(), Status::UnprocessableEntity);
    let html = refused.into_string().unwrap();
    assert!(
        html.contains(r#"id="body-params-error""#)
            && html.contains("Give a value for every variable.")
    );
    assert!(html.contains(r#"aria-describedby="body-params-error" aria-invalid="true""#));
    assert_eq!(app.count("SELECT count(*) FROM messages"), 0);
    let preview = app.submit("/compose", "/compose", &message("preview", "+96550001234"));
    assert_eq!(preview.status(), Status::Ok);
    let html = preview.into_string().unwrap();
    assert!(
        html.contains("id=\"preview\"") && html.contains("order_update") && html.contains("860198")
    );
    // The preview bubble is the template's own, filled with the values.
    assert!(
        html.contains(r#"<span class="var filled" data-var="body-2">860198</span>"#),
        "{html}"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM messages"),
        0,
        "a preview sends nothing"
    );

    let bad = app.submit("/compose", "/compose", &message("send", "12"));
    assert_eq!(bad.status(), Status::UnprocessableEntity);
    assert_eq!(app.count("SELECT count(*) FROM messages"), 0);

    let sent = app.submit("/compose", "/compose", &message("send", "+96550001234"));
    assert_eq!(sent.status(), Status::SeeOther);
    let location = sent.headers().get_one("Location").unwrap().to_owned();
    assert!(location.starts_with("/messages/"));
    assert_eq!(app.count("SELECT count(*) FROM messages"), 1);
    assert!(app.page(&location).1.contains("order_update"));
}

/// A signed-in account with a sandbox number: the app, the number's id and an API key to read messages back.
fn compose_setup() -> (App, String, Header<'static>) {
    let app = app();
    app.register("Ali", "Shop", "ali@shop.test");
    let fields = [
        ("kind", "sandbox"),
        ("name", "Shop number"),
        ("phone_number_id", ""),
        ("waba_id", ""),
        ("access_token", ""),
        ("app_secret", ""),
        ("throughput_mps", "80"),
    ];
    app.submit("/connections", "/connections", &fields);
    let connection: i64 = app
        .db()
        .query_row("SELECT id FROM connections", [], |r| r.get(0))
        .unwrap();
    let auth = app.api_key();
    (app, connection.to_string(), auth)
}

/// Sends the compose form for `kind` with `fields`: the status and the page or the redirect's target.
fn compose(app: &App, connection: &str, kind: &str, fields: &[(&str, &str)]) -> (Status, String) {
    let mut all = vec![
        ("action", "send"),
        ("connection_id", connection),
        ("to", "+96550001234"),
        ("kind", kind),
    ];
    all.extend_from_slice(fields);
    let response = app.submit("/compose", "/compose", &all);
    let status = response.status();
    match response.headers().get_one("Location") {
        Some(location) => (status, location.to_owned()),
        None => (status, response.into_string().unwrap_or_default()),
    }
}

/// The queued message as the API shows it, from the compose page's redirect to `/messages/<id>`.
fn queued(app: &App, auth: &Header<'static>, location: &str) -> Value {
    let id = location
        .strip_prefix("/messages/")
        .expect("sending redirects to the message");
    app.client
        .get(format!("/api/v1/messages/{id}"))
        .header(auth.clone())
        .dispatch()
        .into_json()
        .unwrap()
}

/// Sends a form that must be refused: the page says `expected` next to the form and nothing is queued.
fn refused(app: &App, connection: &str, kind: &str, fields: &[(&str, &str)], expected: &str) {
    let (status, html) = compose(app, connection, kind, fields);
    assert_eq!(status, Status::UnprocessableEntity, "{kind} {fields:?}");
    assert!(
        html.contains("id=\"form-error\"") && html.contains(expected),
        "{kind} {fields:?}: {expected:?} is on the page"
    );
    assert_eq!(app.count("SELECT count(*) FROM messages"), 0);
}

#[test]
fn the_compose_page_queues_a_location() {
    let (app, connection, auth) = compose_setup();
    let fields = [
        ("latitude", " 29.3759 "),
        ("longitude", "47.9774"),
        ("place", "Shop"),
        ("address", "Salem Al Mubarak St, Salmiya"),
    ];
    let (status, location) = compose(&app, &connection, "location", &fields);
    assert_eq!(status, Status::SeeOther);
    let message = queued(&app, &auth, &location);
    assert_eq!(message["type"], "location");
    assert_eq!(
        message["message"],
        json!({"latitude": 29.3759, "longitude": 47.9774, "name": "Shop", "address": "Salem Al Mubarak St, Salmiya"})
    );
}

#[test]
fn the_compose_page_refuses_a_latitude_out_of_range_in_words() {
    let (app, connection, _) = compose_setup();
    let place = |latitude: &'static str| [("latitude", latitude), ("longitude", "47.9774")];
    refused(
        &app,
        &connection,
        "location",
        &place("200"),
        "Enter the latitude as a number between -90 and 90",
    );
    refused(
        &app,
        &connection,
        "location",
        &place("north"),
        "Enter the latitude as a number between -90 and 90",
    );
    refused(
        &app,
        &connection,
        "location",
        &[("latitude", "29.3"), ("longitude", "")],
        "Enter the longitude as a number between -180 and 180",
    );
    let token = common::web::csrf_in(&app.page("/compose").1);
    app.post_raw("/language", &token, &[("lang", "ar"), ("back", "/compose")]);
    refused(
        &app,
        &connection,
        "location",
        &place("200"),
        "أدخل خط العرض رقمًا",
    );
}

#[test]
fn the_compose_page_queues_a_contact_card() {
    let (app, connection, auth) = compose_setup();
    let fields = [
        ("contact_name", "Sara Al-Ali"),
        ("first_name", "Sara"),
        ("phone", "+965 5000 1111"),
        ("email", "sara@shop.test"),
    ];
    let (status, location) = compose(&app, &connection, "contacts", &fields);
    assert_eq!(status, Status::SeeOther);
    let message = queued(&app, &auth, &location);
    assert_eq!(message["type"], "contacts");
    assert_eq!(
        message["message"],
        json!([{
            "name": {"formatted_name": "Sara Al-Ali", "first_name": "Sara"},
            "phones": [{"phone": "+96550001111", "type": "CELL", "wa_id": "96550001111"}],
            "emails": [{"email": "sara@shop.test", "type": "WORK"}],
        }])
    );
}

#[test]
fn the_compose_page_refuses_a_contact_without_a_valid_phone_or_name() {
    let (app, connection, _) = compose_setup();
    let phone = "international format";
    refused(
        &app,
        &connection,
        "contacts",
        &[("contact_name", "Sara"), ("phone", "")],
        phone,
    );
    refused(
        &app,
        &connection,
        "contacts",
        &[("contact_name", "Sara"), ("phone", "12ab")],
        phone,
    );
    refused(
        &app,
        &connection,
        "contacts",
        &[("contact_name", " "), ("phone", "+96550001111")],
        "name as it should be shown",
    );
    refused(
        &app,
        &connection,
        "contacts",
        &[
            ("contact_name", "Sara"),
            ("phone", "+96550001111"),
            ("email", "not an address"),
        ],
        "email address is not valid",
    );
}

#[test]
fn the_compose_page_queues_reply_buttons() {
    let (app, connection, auth) = compose_setup();
    let fields = [
        ("body", "Is this order right?"),
        ("choices", "Yes\n\n  No  \nCall me\n"),
    ];
    let preview = app.submit(
        "/compose",
        "/compose",
        &[
            ("action", "preview"),
            ("connection_id", connection.as_str()),
            ("to", "+96550001234"),
            ("kind", "buttons"),
            fields[0],
            fields[1],
        ],
    );
    assert_eq!(preview.status(), Status::Ok);
    assert!(preview.into_string().unwrap().contains("btn_3"));
    let (status, location) = compose(&app, &connection, "buttons", &fields);
    assert_eq!(status, Status::SeeOther);
    let message = queued(&app, &auth, &location);
    assert_eq!(message["type"], "interactive");
    assert_eq!(
        message["message"],
        json!({
            "type": "button",
            "body": {"text": "Is this order right?"},
            "action": {"buttons": [
                {"type": "reply", "reply": {"id": "btn_1", "title": "Yes"}},
                {"type": "reply", "reply": {"id": "btn_2", "title": "No"}},
                {"type": "reply", "reply": {"id": "btn_3", "title": "Call me"}},
            ]},
        })
    );
}

#[test]
fn the_compose_page_refuses_buttons_beyond_meta_s_limits() {
    let (app, connection, _) = compose_setup();
    let limits = "1 to 3 reply buttons";
    for choices in ["", "A\nB\nC\nD", "Yes\nYes", "A title longer than twenty"] {
        refused(
            &app,
            &connection,
            "buttons",
            &[("body", "Choose"), ("choices", choices)],
            limits,
        );
    }
    refused(
        &app,
        &connection,
        "buttons",
        &[("body", "  "), ("choices", "Yes")],
        "Write the message body",
    );
}

#[test]
fn the_compose_page_queues_a_list() {
    let (app, connection, auth) = compose_setup();
    let fields = [
        ("body", "Which branch?"),
        ("button_label", "Branches"),
        ("choices", "Salmiya\nHawalli\nJahra"),
    ];
    let (status, location) = compose(&app, &connection, "list", &fields);
    assert_eq!(status, Status::SeeOther);
    let message = queued(&app, &auth, &location);
    assert_eq!(message["type"], "interactive");
    assert_eq!(
        message["message"],
        json!({
            "type": "list",
            "body": {"text": "Which branch?"},
            "action": {"button": "Branches", "sections": [{"rows": [
                {"id": "row_1", "title": "Salmiya"},
                {"id": "row_2", "title": "Hawalli"},
                {"id": "row_3", "title": "Jahra"},
            ]}]},
        })
    );
}

#[test]
fn the_compose_page_refuses_a_list_without_rows_or_label() {
    let (app, connection, _) = compose_setup();
    let rows = "1 to 10 list rows";
    refused(
        &app,
        &connection,
        "list",
        &[
            ("body", "Which?"),
            ("button_label", "Branches"),
            ("choices", "\n \n"),
        ],
        rows,
    );
    let eleven = (1..=11)
        .map(|i| format!("Branch {i}"))
        .collect::<Vec<_>>()
        .join("\n");
    refused(
        &app,
        &connection,
        "list",
        &[
            ("body", "Which?"),
            ("button_label", "Branches"),
            ("choices", &eleven),
        ],
        rows,
    );
    refused(
        &app,
        &connection,
        "list",
        &[
            ("body", "Which?"),
            ("button_label", ""),
            ("choices", "Salmiya"),
        ],
        "Enter the button label",
    );
}

#[test]
fn the_compose_page_queues_a_link_button() {
    let (app, connection, auth) = compose_setup();
    let fields = [
        ("body", "Track your order"),
        ("button_label", "Track"),
        ("url", "https://shop.test/orders/860198"),
    ];
    let (status, location) = compose(&app, &connection, "cta_url", &fields);
    assert_eq!(status, Status::SeeOther);
    let message = queued(&app, &auth, &location);
    assert_eq!(message["type"], "interactive");
    assert_eq!(
        message["message"],
        json!({
            "type": "cta_url",
            "body": {"text": "Track your order"},
            "action": {"name": "cta_url", "parameters": {
                "display_text": "Track", "url": "https://shop.test/orders/860198"}},
        })
    );
}

#[test]
fn the_compose_page_refuses_a_link_button_that_is_not_https() {
    let (app, connection, _) = compose_setup();
    for url in [
        "ftp://shop.test/a",
        "javascript:alert(1)",
        "http://shop.test/a",
        "",
        "https://",
    ] {
        refused(
            &app,
            &connection,
            "cta_url",
            &[("body", "Track"), ("button_label", "Track"), ("url", url)],
            "must be a full https:// address",
        );
    }
}

#[test]
fn meta_s_quality_and_account_notices_show_on_the_numbers_page() {
    use hmac::{KeyInit, Mac};
    let app = app();
    app.register("Ali", "Shop", "ali@shop.test");
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
    let patched = app
        .client
        .patch(format!(
            "/api/v1/connections/{}",
            connection["id"].as_str().unwrap()
        ))
        .header(auth)
        .header(ContentType::JSON)
        .body(json!({"app_secret": "shop-secret"}).to_string())
        .dispatch();
    assert_eq!(patched.status(), Status::Ok);
    let (_, before) = app.page("/connections");
    assert!(!before.contains("FLAGGED"));
    let waba = connection["waba_id"].as_str().unwrap();
    let payload = format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"id":"{waba}","time":1760659226,"changes":[{{"field":"phone_number_quality_update","value":{{"display_phone_number":"15550783881","event":"FLAGGED","current_limit":"TIER_1K"}}}},{{"field":"account_update","value":{{"event":"ACCOUNT_RESTRICTION","restriction_info":[{{"restriction_type":"RESTRICTED_BIZ_INITIATED_MESSAGING"}}]}}}}]}}]}}"#
    );
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"shop-secret").unwrap();
    mac.update(payload.as_bytes());
    let signature = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    let path = connection["webhook_url"]
        .as_str()
        .unwrap()
        .split_once("/webhooks/")
        .map(|(_, key)| format!("/webhooks/{key}"))
        .unwrap();
    let delivered = app
        .client
        .post(path)
        .header(Header::new("X-Hub-Signature-256", signature))
        .header(ContentType::JSON)
        .body(payload)
        .dispatch();
    assert_eq!(delivered.status(), Status::Ok);
    let (_, after) = app.page("/connections");
    assert!(after.contains("FLAGGED · TIER_1K"), "{after}");
    assert!(after.contains("ACCOUNT_RESTRICTION: RESTRICTED_BIZ_INITIATED_MESSAGING"));
}

#[test]
fn without_javascript_the_chosen_type_shows_its_own_fields_after_continue() {
    let (app, connection, _) = compose_setup();
    let hidden = |html: &str, kinds: &str| {
        let at = html
            .find(&format!(r#"data-kinds="{kinds}""#))
            .unwrap_or_else(|| panic!("the group of {kinds}"));
        html[at..at + 80].contains(" hidden")
    };
    let first = app.page("/compose").1;
    assert!(
        !hidden(&first, "text") && hidden(&first, "location"),
        "text first"
    );
    assert!(
        !first.contains(r#"name="reference""#),
        "the overloaded field is gone"
    );
    let chosen = app.submit(
        "/compose",
        "/compose",
        &[
            ("action", "choose"),
            ("connection_id", connection.as_str()),
            ("kind", "location"),
        ],
    );
    assert_eq!(chosen.status(), Status::Ok);
    let html = chosen.into_string().unwrap();
    assert!(hidden(&html, "text") && !hidden(&html, "location"));
    assert!(html.contains(r#"id="kind-location" name="kind" value="location" checked"#));
    assert_eq!(
        app.count("SELECT count(*) FROM messages"),
        0,
        "choosing sends nothing"
    );
}
