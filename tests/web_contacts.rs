//! Contacts on a running server, through its pages and its API: a customer's STOP opts them out of the
//! number's messages (the API answers 422 `recipient_opted_out`, the compose page and the inbox's reply
//! say so) until their START; a person opts one out and back in by hand; names and tags are edited,
//! searched and filtered; a CSV import names every refused line and why, and an export reads back with
//! its formulas guarded; another account sees and changes none of it.

mod common;

use common::api::{Api, PASSWORD, account_with_id, count};
use common::raw::{Answer, Browser, request_bytes};
use common::web::csrf_in;
use common::{Install, Server};
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

fn text_to(api: &Api, connection: &str, to: &str) -> (u16, Value) {
    api.send(json!({"connection_id": connection, "to": to, "type": "text", "text": {"body": "Your order is ready"}}))
}

fn template_to(api: &Api, connection: &str, to: &str) -> (u16, Value) {
    api.send(
        json!({"connection_id": connection, "to": to, "type": "template",
        "template": {"name": "hello_world", "language": {"code": "en_US"}}}),
    )
}

/// The business's people in a browser, signed in.
fn signed_in(server: &Server, email: &str) -> Browser {
    Browser::new(&server.url, "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0")
        .signed_in(email, PASSWORD)
}

/// Posts a form of `page`, with that page's token.
fn submit(browser: &Browser, page: &str, action: &str, fields: &[(&str, &str)]) -> Answer {
    let token = csrf_in(&browser.get(page).body);
    let mut all = vec![("csrf", token.as_str())];
    all.extend_from_slice(fields);
    browser.post(action, &all, &[])
}

/// The id of the contact whose row in `/contacts` shows `phone`.
fn contact_id(browser: &Browser, phone: &str) -> String {
    let page = browser.get("/contacts").body;
    page.split("<tr id=\"contact-")
        .skip(1)
        .find(|row| row[..row.find("</tr>").unwrap()].contains(phone))
        .map(|row| row[..row.find('"').unwrap()].to_owned())
        .unwrap_or_else(|| panic!("no row for {phone} in {page}"))
}

/// The row of a contact in `/contacts`.
fn row(browser: &Browser, id: &str) -> String {
    let page = browser.get("/contacts").body;
    let start = page
        .find(&format!("<tr id=\"contact-{id}\""))
        .unwrap_or_else(|| panic!("no row contact-{id} in {page}"));
    page[start..start + page[start..].find("</tr>").unwrap()].to_owned()
}

/// The list's table alone (the page's forms show an example number too).
fn table(page: &str) -> String {
    let start = page
        .find("<table class=\"stack\" id=\"contacts\">")
        .unwrap_or(0);
    page[start..start + page[start..].find("</table>").unwrap_or(0)].to_owned()
}

/// Uploads `file` to the import form as a browser does (multipart), onto `connection`.
fn import(browser: &Browser, connection: &str, file: &str) -> Answer {
    let token = csrf_in(&browser.get("/contacts").body);
    let boundary = "----contacts7MA4YWxkTrZu0gW";
    let mut body = String::new();
    for (name, value) in [("csrf", token.as_str()), ("connection_id", connection)] {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    body.push_str(&format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"contacts.csv\"\r\nContent-Type: text/csv\r\n\r\n{file}\r\n--{boundary}--\r\n"
    ));
    let content_type = format!("multipart/form-data; boundary={boundary}");
    request_bytes(
        &browser.base,
        "POST",
        "/contacts/import",
        &[
            ("Cookie", browser.cookie.as_deref().unwrap().as_bytes()),
            ("Content-Type", content_type.as_bytes()),
        ],
        body.as_bytes(),
    )
}

/// The refused lines of an import's report: (line, why).
fn refused_lines(page: &str) -> Vec<(usize, String)> {
    page.split("<tr data-line=\"")
        .skip(1)
        .map(|row| {
            let line = row[..row.find('"').unwrap()].parse().unwrap();
            let cells: Vec<&str> = row.split("<td").collect();
            let why = cells[2];
            let why = &why[why.find('>').unwrap() + 1..why.find("</td>").unwrap()];
            (line, why.replace("&#39;", "'").replace("&quot;", "\""))
        })
        .collect()
}

#[test]
fn a_stop_opts_the_customer_out_of_every_send_from_that_number_until_start() {
    let install = Install::new();
    let server = install.serve();
    let (_, api, connection) = account_with_id(&install, &server, "owner@shop.test");
    customer_writes(&api, &connection, "+96550001234", "Sara", "Hello");
    customer_writes(&api, &connection, "+96550001235", "Ali", "Hi");
    // Case and spaces aside, as people type it.
    customer_writes(&api, &connection, "+96550001234", "Sara", " stop ");

    let browser = signed_in(&server, "owner@shop.test");
    let sara = contact_id(&browser, "+96550001234");
    let ali = contact_id(&browser, "+96550001235");
    assert!(
        row(&browser, &sara).contains("opted-out"),
        "{}",
        row(&browser, &sara)
    );
    assert!(
        !row(&browser, &ali).contains("opted-out"),
        "{}",
        row(&browser, &ali)
    );
    let page = browser.get(&format!("/contacts/{sara}")).body;
    assert!(
        page.contains("id=\"opted-out-badge\"") && page.contains("they wrote an opt-out word"),
        "{page}"
    );

    // The API refuses every message to her from this number, templates included; Ali still gets his.
    let (status, refused) = text_to(&api, &connection, "+96550001234");
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["error"]["code"], "recipient_opted_out");
    assert_eq!(refused["error"]["details"]["field"], "to");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("opt back in"),
        "{refused}"
    );
    let (status, refused) = template_to(&api, &connection, "+96550001234");
    assert_eq!(
        (status, &refused["error"]["code"]),
        (422, &json!("recipient_opted_out")),
        "{refused}"
    );
    let (status, sent) = text_to(&api, &connection, "+96550001235");
    assert_eq!(status, 202, "{sent}");
    let (status, sent) = template_to(&api, &connection, "+96550001235");
    assert_eq!(status, 202, "{sent}");
    let queued = count(&install, "SELECT count(*) FROM messages");
    assert_eq!(queued, 2);

    // The compose page and the inbox's reply say so, next to what was written, and queue nothing.
    let compose = |to: &str| {
        submit(
            &browser,
            "/compose",
            "/compose",
            &[
                ("connection_id", &connection),
                ("to", to),
                ("kind", "text"),
                ("text", "Your order is ready"),
                ("action", "send"),
            ],
        )
    };
    let page = compose("+96550001234");
    assert_eq!(page.status, 422, "{}", page.body);
    assert!(
        page.body
            .contains("This customer opted out of messages from this number"),
        "{}",
        page.body
    );
    let reply = submit(
        &browser,
        &format!("/inbox/{sara}"),
        &format!("/inbox/{sara}/reply"),
        &[("kind", "text"), ("text", "Are you there?")],
    );
    assert_eq!(reply.status, 422, "{}", reply.body);
    assert!(
        reply
            .body
            .contains("This customer opted out of messages from this number")
    );
    assert_eq!(count(&install, "SELECT count(*) FROM messages"), queued);
    assert_eq!(compose("+96550001235").status, 303, "the positive control");

    // START (in Arabic, too: بدء) lets messages through again.
    customer_writes(&api, &connection, "+96550001234", "Sara", "بدء");
    let (status, sent) = text_to(&api, &connection, "+96550001234");
    assert_eq!(status, 202, "{sent}");
    assert!(!row(&browser, &sara).contains("opted-out"));
    // And إيقاف opts out as STOP does; the log has both changes, as the customer's doing.
    customer_writes(&api, &connection, "+96550001234", "Sara", "ايقاف");
    assert_eq!(text_to(&api, &connection, "+96550001234").0, 422);
    assert_eq!(
        count(
            &install,
            "SELECT count(*) FROM activity_log WHERE action = 'contact_opted_out' AND user_id IS NULL"
        ),
        2
    );
    assert_eq!(
        count(
            &install,
            "SELECT count(*) FROM activity_log WHERE action = 'contact_opted_in'"
        ),
        1
    );
}

#[test]
fn a_person_opts_a_customer_out_by_hand_and_back_in() {
    let install = Install::new();
    let server = install.serve();
    let (_, api, connection) = account_with_id(&install, &server, "owner@shop.test");
    customer_writes(&api, &connection, "+96550001234", "Sara", "Hello");
    let browser = signed_in(&server, "owner@shop.test");
    let sara = contact_id(&browser, "+96550001234");
    let page = format!("/contacts/{sara}");

    assert_eq!(
        text_to(&api, &connection, "+96550001234").0,
        202,
        "before: sent"
    );
    let out = submit(&browser, &page, &format!("{page}/opt-out"), &[]);
    assert_eq!(
        (out.status, out.header("Location")),
        (303, format!("{page}?done=opted_out").as_str())
    );
    let shown = browser.get(&format!("{page}?done=opted_out")).body;
    assert!(
        shown.contains("opted out by a person of your team") && shown.contains("id=\"opt-in\""),
        "{shown}"
    );
    let (status, refused) = text_to(&api, &connection, "+96550001234");
    assert_eq!(
        (status, &refused["error"]["code"]),
        (422, &json!("recipient_opted_out"))
    );
    assert_eq!(
        count(
            &install,
            "SELECT count(*) FROM activity_log WHERE action = 'contact_opted_out' AND user_id IS NOT NULL"
        ),
        1
    );

    let back = submit(&browser, &page, &format!("{page}/opt-in"), &[]);
    assert_eq!(back.status, 303);
    assert_eq!(
        text_to(&api, &connection, "+96550001234").0,
        202,
        "after: sent again"
    );
    assert_eq!(
        count(
            &install,
            "SELECT count(*) FROM activity_log WHERE action = 'contact_opted_in' AND user_id IS NOT NULL"
        ),
        1
    );
}

#[test]
fn names_and_tags_are_edited_shown_in_the_list_searched_and_filtered() {
    let install = Install::new();
    let server = install.serve();
    let (_, api, connection) = account_with_id(&install, &server, "owner@shop.test");
    customer_writes(
        &api,
        &connection,
        "+96550001234",
        "Sandbox Customer",
        "Hello",
    );
    customer_writes(&api, &connection, "+96550001235", "Sandbox Customer", "Hi");
    let browser = signed_in(&server, "owner@shop.test");
    let sara = contact_id(&browser, "+96550001234");
    let page = format!("/contacts/{sara}");

    let saved = submit(
        &browser,
        &page,
        &page,
        &[("name", "سارة الكندري"), ("tags", "VIP, wholesale")],
    );
    assert_eq!(saved.status, 303, "{}", saved.body);
    let shown = row(&browser, &sara);
    assert!(
        shown.contains("سارة الكندري") && shown.contains(">vip<") && shown.contains(">wholesale<"),
        "{shown}"
    );
    // The inbox calls her by that name too, in its list and her conversation; the other keeps the
    // name WhatsApp gave.
    let inbox = browser.get("/inbox").body;
    assert!(inbox.contains("سارة الكندري"), "{inbox}");
    assert!(inbox.contains("Sandbox Customer"), "{inbox}");
    let thread = browser.get(&format!("/inbox/{sara}")).body;
    assert!(thread.contains("سارة الكندري"), "{thread}");
    // The account's export carries them, and the opt-out with who made it.
    assert_eq!(
        submit(&browser, &page, &format!("{page}/opt-out"), &[]).status,
        303
    );
    let export = submit(&browser, "/profile", "/profile/export/account", &[]);
    assert_eq!(export.status, 200);
    let export: Value = serde_json::from_str(&export.body).unwrap();
    let contact = export["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == sara.as_str())
        .unwrap();
    assert_eq!(contact["name"], "سارة الكندري");
    assert_eq!(contact["tags"], json!(["vip", "wholesale"]));
    assert_eq!(contact["opted_out_by"], "person");
    // A tag that is no word is refused next to its field, and nothing changes.
    let refused = submit(
        &browser,
        &page,
        &page,
        &[("name", "Sara"), ("tags", "=cmd()")],
    );
    assert_eq!(refused.status, 422);
    assert!(
        refused.body.contains("id=\"tags-error\""),
        "{}",
        refused.body
    );
    assert!(row(&browser, &sara).contains("سارة الكندري"));

    let list = |query: &str| browser.get(&format!("/contacts?{query}"));
    let by_tag = list("tag=vip").body;
    assert!(
        by_tag.contains(&format!("contact-{sara}"))
            && by_tag.matches("<tr id=\"contact-").count() == 1,
        "{by_tag}"
    );
    let by_number = list("q=%2B965%205000%201235").body;
    assert!(
        by_number.contains("+96550001235") && by_number.matches("<tr id=\"contact-").count() == 1,
        "{by_number}"
    );
    let mistake = list("q=hello");
    assert_eq!(mistake.status, 422);
    assert!(mistake.body.contains("id=\"q-error\""), "{}", mistake.body);

    // Added by hand: a contact who never wrote, whose window is unknown (not closed).
    let added = submit(
        &browser,
        "/contacts",
        "/contacts",
        &[
            ("connection_id", &connection),
            ("number", "+96550001236"),
            ("name", "Omar"),
            ("tags", "new"),
        ],
    );
    assert_eq!(added.status, 303, "{}", added.body);
    assert!(browser.get("/contacts").body.contains("Omar"));
    let (status, sent) = text_to(&api, &connection, "+96550001236");
    assert_eq!(status, 202, "{sent}");
    assert_eq!(sent["customer_service_window"]["state"], "unknown");
    let wrong = submit(
        &browser,
        "/contacts",
        "/contacts",
        &[
            ("connection_id", &connection),
            ("number", "12"),
            ("name", ""),
            ("tags", ""),
        ],
    );
    assert_eq!(wrong.status, 422);
    assert!(
        wrong.body.contains("id=\"add-number-error\""),
        "{}",
        wrong.body
    );
}

#[test]
fn a_csv_import_names_every_refused_line_and_an_export_reads_back_with_formulas_guarded() {
    let install = Install::new();
    let server = install.serve();
    let (_, api, connection) = account_with_id(&install, &server, "owner@shop.test");
    customer_writes(
        &api,
        &connection,
        "+96550001234",
        "Sandbox Customer",
        "Hello",
    );
    let browser = signed_in(&server, "owner@shop.test");

    let file = "number,name,tags\r\n\
                +96550001234,Sara,vip\r\n\
                hello,Bad number,\r\n\
                96550001240,\"=HYPERLINK(\"\"http://x\"\")\",wholesale|vip\r\n\
                +96550001240,Twice,\r\n\
                ,No number,\r\n\
                +96550001241,Many tags,a;b;c;d;e;f;g;h;i;j;k\r\n\
                +96550001242,عمر,جملة\r\n";
    let answer = import(&browser, &connection, file);
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(
        answer.body.contains("2 added, 1 updated, 4 refused"),
        "{}",
        answer.body
    );
    assert_eq!(
        refused_lines(&answer.body),
        [
            (
                3,
                "not a number in international form (+ and the country code)".to_owned()
            ),
            (5, "the same number as line 4".to_owned()),
            (6, "no number".to_owned()),
            (7, "more than 10 tags".to_owned()),
        ]
    );
    let list = browser.get("/contacts").body;
    for shown in ["Sara", "+96550001240", "عمر", "+96550001242"] {
        assert!(list.contains(shown), "{shown} in {list}");
    }
    assert!(!list.contains("Many tags") && !list.contains("Twice"));
    // A file that is not CSV text is refused as a whole, in words, next to the file field.
    let refused = import(&browser, &connection, "name\r\nAli\r\n");
    assert_eq!(refused.status, 422);
    assert!(
        refused.body.contains("id=\"import-error\""),
        "{}",
        refused.body
    );

    let token = csrf_in(&browser.get("/contacts").body);
    let export = browser.post("/contacts/export", &[("csrf", &token)], &[]);
    assert_eq!(export.status, 200, "{}", export.body);
    assert!(export.header("Content-Type").starts_with("text/csv"));
    let disposition = export.header("Content-Disposition");
    assert!(
        disposition.starts_with("attachment; filename=\"contacts-")
            && disposition.ends_with(".csv\"")
            && disposition
                .bytes()
                .all(|b| b.is_ascii_graphic() || b == b' '),
        "{disposition}"
    );
    let csv = export.body.trim_start_matches('\u{feff}');
    assert!(
        csv.starts_with("number,name,tags,opted_out,last_message,whatsapp_name\r\n"),
        "{csv}"
    );
    // The formula is written so no spreadsheet runs it, and every number too starts with '.
    assert!(csv.contains("\"'=HYPERLINK(\"\"http://x\"\")\""), "{csv}");
    assert!(csv.contains("'+96550001242,عمر,جملة,"), "{csv}");
    assert!(
        !csv.lines()
            .skip(1)
            .any(|l| l.starts_with(['=', '+', '-', '@'])),
        "{csv}"
    );

    // Importing the export refuses nothing and changes nothing: the formula reads back as it was.
    let again = import(&browser, &connection, &export.body);
    assert_eq!(again.status, 200, "{}", again.body);
    assert!(
        again.body.contains("0 added, 3 updated, 0 refused"),
        "{}",
        again.body
    );
    assert!(refused_lines(&again.body).is_empty());
    let id = contact_id(&browser, "+96550001240");
    let page = browser.get(&format!("/contacts/{id}")).body;
    assert!(
        page.contains("value=\"=HYPERLINK(&#34;http://x&#34;)\""),
        "{page}"
    );
}

#[test]
fn another_account_can_neither_see_nor_change_a_contact() {
    let install = Install::new();
    let server = install.serve();
    let (_, api, connection) = account_with_id(&install, &server, "a@shop.test");
    account_with_id(&install, &server, "b@other.test");
    customer_writes(&api, &connection, "+96550001234", "Sara", "Hello");
    let a = signed_in(&server, "a@shop.test");
    let b = signed_in(&server, "b@other.test");
    let sara = contact_id(&a, "+96550001234");
    let page = format!("/contacts/{sara}");

    assert_eq!(a.get(&page).status, 200, "the positive control");
    assert_eq!(b.get(&page).status, 404);
    assert!(!b.get("/contacts").body.contains("<tr id=\"contact-"));
    assert!(
        !b.get("/contacts?q=%2B96550001234")
            .body
            .contains("<tr id=\"contact-")
    );
    for (action, fields) in [
        (page.clone(), vec![("name", "Mallory")]),
        (format!("{page}/opt-out"), vec![]),
        (format!("{page}/erase"), vec![]),
    ] {
        let mut fields = fields;
        fields.push(("tags", ""));
        let answer = submit(&b, "/contacts", &action, &fields);
        assert_eq!(answer.status, 404, "{action}: {}", answer.body);
    }
    // Nothing of A's changed: the name, the opt-out, the contact itself.
    let shown = a.get(&page).body;
    assert!(
        shown.contains("Sara") && !shown.contains("Mallory") && !shown.contains("opted-out-badge")
    );
    assert_eq!(text_to(&api, &connection, "+96550001234").0, 202);

    // A's owner erases the customer from the contact's page: the contact and its messages go.
    let erased = submit(&a, &page, &format!("{page}/erase"), &[]);
    assert_eq!(
        (erased.status, erased.header("Location")),
        (303, "/contacts?done=erased")
    );
    assert_eq!(a.get(&page).status, 404);
    assert_eq!(count(&install, "SELECT count(*) FROM messages"), 0);
    assert_eq!(count(&install, "SELECT count(*) FROM contacts"), 0);
}

#[test]
fn retention_keeps_a_contact_the_business_saved_or_who_opted_out_but_not_what_they_wrote() {
    let install = Install::new();
    let server = install.serve();
    let (_, api, connection) = account_with_id(&install, &server, "owner@shop.test");
    customer_writes(&api, &connection, "+96550001234", "Only wrote", "Hello");
    customer_writes(&api, &connection, "+96550001235", "Opted out", "Hello");
    customer_writes(&api, &connection, "+96550001235", "Opted out", "STOP");
    customer_writes(&api, &connection, "+96550001236", "Named", "Hello");
    let browser = signed_in(&server, "owner@shop.test");
    let named = contact_id(&browser, "+96550001236");
    let page = format!("/contacts/{named}");
    assert_eq!(
        submit(&browser, &page, &page, &[("name", "Omar"), ("tags", "")]).status,
        303
    );
    // Everything a retention run looks at, 100 days older (the default keeps 90).
    let db = rusqlite::Connection::open(install.db_path()).unwrap();
    db.execute_batch(
        "UPDATE inbound_messages SET received_at = received_at - 8640000000, sent_at = sent_at - 8640000000;
         UPDATE webhook_payloads SET received_at = received_at - 8640000000;
         UPDATE contacts SET last_inbound_at = last_inbound_at - 8640000000,
                             last_message_at = last_message_at - 8640000000;",
    )
    .unwrap();
    drop(db);
    let purge = install.run(&["purge"]);
    assert!(purge.status.success(), "{}", common::stderr(&purge));

    assert_eq!(count(&install, "SELECT count(*) FROM inbound_messages"), 0);
    assert_eq!(count(&install, "SELECT count(*) FROM contacts"), 2);
    let list = table(&browser.get("/contacts").body);
    assert!(!list.contains("+96550001234"), "{list}");
    assert!(
        list.contains("Omar") && list.contains("+96550001235"),
        "{list}"
    );
    // The opt-out outlives the messages: a send is still refused.
    let (status, refused) = text_to(&api, &connection, "+96550001235");
    assert_eq!(
        (status, &refused["error"]["code"]),
        (422, &json!("recipient_opted_out"))
    );
}

#[test]
fn a_stop_fails_the_messages_to_that_customer_still_waiting_in_the_queue() {
    let install = Install::new();
    let server = install.serve();
    let (_, api, _) = account_with_id(&install, &server, "owner@shop.test");
    // A number paced at one message a second, so a backlog waits in its queue.
    let (status, slow) = api.call(
        "POST",
        "/api/v1/connections",
        Some(json!({"kind": "sandbox", "name": "Slow", "throughput_mps": 1})),
        &[],
    );
    assert_eq!(status, 201, "{slow}");
    let slow = slow["id"].as_str().unwrap().to_owned();
    customer_writes(&api, &slow, "+96550001234", "Sara", "Hello");
    let queued: Vec<String> = (0..8)
        .map(|_| {
            let (status, message) = text_to(&api, &slow, "+96550001234");
            assert_eq!(status, 202, "{message}");
            message["id"].as_str().unwrap().to_owned()
        })
        .collect();
    customer_writes(&api, &slow, "+96550001234", "Sara", "STOP");

    // Every one ends sent (handed to Meta before the STOP) or failed because she opted out; none is left
    // waiting, and the backlog's tail failed.
    let ends: Vec<Value> = queued
        .iter()
        .map(|id| api.wait_for(id, &["sent", "delivered", "read", "failed"]))
        .collect();
    let failed: Vec<&Value> = ends.iter().filter(|m| m["status"] == "failed").collect();
    assert!(!failed.is_empty(), "{ends:?}");
    assert_eq!(ends.last().unwrap()["status"], "failed", "{ends:?}");
    for message in &failed {
        assert_eq!(message["error"]["code"], 131050, "{message}");
        assert_eq!(
            message["error"]["title"], "recipient_opted_out",
            "{message}"
        );
    }
    // Positive control: the same number still sends to another customer.
    let (status, other) = text_to(&api, &slow, "+96550001235");
    assert_eq!(status, 202, "{other}");
    api.wait_for(
        other["id"].as_str().unwrap(),
        &["sent", "delivered", "read"],
    );
}
