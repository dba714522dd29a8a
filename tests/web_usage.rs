//! The Usage page and its CSV. On the real server with the sandbox: after a known mix of traffic (messages
//! read, messages to the sandbox's failing numbers, customers' messages) the page's table, its failures
//! and its charts show exactly those counts, by day, by number and by message type, and the CSV holds the
//! same numbers as `GET /api/v1/usage`. In-process: a new account is told how to send its first message,
//! every member sees the page, a range that cannot be reported is answered in words, and a number's
//! name that a spreadsheet would run as a formula is written as text in the CSV.

mod common;
mod privacy_support;

use common::api::{Api, account};
use common::web::{App, app, app_with, team_with_member};
use common::{Install, serve_quick, wait_until};
use privacy_support::Browser;
use rocket::http::{Method, Status};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The columns of the table, of the CSV and of the API's rows, in this order.
const COUNTS: [&str; 7] = [
    "accepted",
    "sent",
    "delivered",
    "read",
    "failed",
    "inbound",
    "api_calls",
];

/// The numbers of the table's row whose opening tag starts with `row` (its cells' text, digits only).
fn table_row(html: &str, row: &str) -> Vec<u64> {
    let start = html.find(row).unwrap_or_else(|| panic!("no row {row}"));
    let rest = &html[start..];
    let row = &rest[..rest.find("</tr>").unwrap()];
    row.split("class=\"num")
        .skip(1)
        .map(|cell| {
            let text = &cell[cell.find('>').unwrap() + 1..cell.find('<').unwrap()];
            text.replace(',', "").parse().unwrap()
        })
        .collect()
}

/// The CSV as rows of cells (no cell in these tests holds a comma or a quote, which `field` checks).
fn csv_rows(text: &str) -> Vec<Vec<String>> {
    text.split("\r\n")
        .filter(|line| !line.is_empty())
        .map(|line| line.split(',').map(str::to_owned).collect())
        .collect()
}

/// The numbers of the CSV by the rows' keys (the totals under `total`).
fn csv_numbers(text: &str) -> BTreeMap<String, Vec<u64>> {
    let rows = csv_rows(text);
    let header = &rows[0];
    let first_count = header.iter().position(|h| h == "accepted").unwrap();
    assert_eq!(&header[first_count..], COUNTS, "{header:?}");
    rows[1..]
        .iter()
        .map(|row| {
            let numbers = row[first_count..]
                .iter()
                .map(|n| n.parse().unwrap())
                .collect();
            (row[0].clone(), numbers)
        })
        .collect()
}

/// The numbers of the API's report by the rows' keys (the totals under `total`).
fn json_numbers(report: &Value) -> BTreeMap<String, Vec<u64>> {
    let rows = report["rows"].as_array().unwrap().iter();
    rows.chain([&report["totals"]])
        .map(|row| {
            let numbers = COUNTS.iter().map(|c| row[*c].as_u64().unwrap()).collect();
            (row["key"].as_str().unwrap().to_owned(), numbers)
        })
        .collect()
}

fn send(api: &Api, connection: &str, to: &str) -> String {
    let (status, message) = api.send(json!({"connection_id": connection, "to": to,
        "type": "text", "text": {"body": "Your order has shipped"}}));
    assert_eq!(status, 202, "{message}");
    message["id"].as_str().unwrap().to_owned()
}

#[test]
fn the_page_the_api_and_the_csv_count_exactly_the_traffic_sent() {
    let install = Install::new();
    let server = serve_quick(&install);
    let (api, connection) = account(&install, &server, "owner@shop.test");
    let browser = Browser::new(&server);
    browser.login("owner@shop.test", common::api::PASSWORD);

    let read: Vec<String> = (0..4)
        .map(|_| send(&api, &connection, "+96550001234"))
        .collect();
    let failed = [
        send(&api, &connection, "+15550199131026"),
        send(&api, &connection, "+15550199131026"),
        send(&api, &connection, "+15550199131047"),
    ];
    for from in ["+96550007777", "+96550008888"] {
        let (status, body) = api.call(
            "POST",
            &format!("/api/v1/connections/{connection}/sandbox/inbound"),
            Some(json!({"from": from, "name": "Customer", "text": "Where is my order?"})),
            &[],
        );
        assert_eq!(status, 200, "{body}");
    }
    for id in &read {
        api.wait_for(id, &["read"]);
    }
    for id in &failed {
        api.wait_for(id, &["failed"]);
    }
    // accepted, sent, delivered, read, failed, inbound: what was sent, by the time every status is in.
    let expected = [7, 4, 4, 4, 3, 2];
    let mut report = Value::Null;
    wait_until("the usage counts every status", || {
        report = api.call("GET", "/api/v1/usage", None, &[]).1;
        COUNTS[..6]
            .iter()
            .map(|c| report["totals"][*c].as_u64().unwrap_or_default())
            .eq(expected)
    });
    let range = format!(
        "from={}&to={}",
        report["from"].as_str().unwrap(),
        report["to"].as_str().unwrap()
    );

    // The page: the totals, the failures in words, and the charts.
    let page = browser.get(&format!("/usage?{range}"));
    let html = &page.text();
    assert_eq!(page.status, 200, "{html}");
    let totals = table_row(html, "<tr id=\"usage-totals\">");
    assert_eq!(totals[..6], expected, "{html}");
    assert!(totals[6] > 0, "the API calls of this test are counted");
    assert_eq!(table_row(html, "<tr id=\"failure-131026\">"), [2]);
    assert_eq!(table_row(html, "<tr id=\"failure-131047\">"), [1]);
    assert!(
        html.contains("The message could not be delivered: the number may not be on WhatsApp.")
    );
    for chart in ["stacked", "rates", "ranked", "meter"] {
        assert!(
            html.contains(&format!(
                "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart {chart}"
            )),
            "the {chart} chart is drawn"
        );
    }
    assert!(
        html.contains("4 sent, 4 delivered, 4 read and 3 failed"),
        "the chart's summary"
    );
    assert!(!html.contains("id=\"usage-empty\""));
    assert!(!html.contains(" style=") && !html.contains("<script>"));

    // By number: the connection by its name; by type: text.
    let by_number = browser
        .get(&format!("/usage?{range}&group_by=connection"))
        .text();
    let row = "<tr><th scope=\"row\">Sandbox · ";
    assert_eq!(table_row(&by_number, row)[..6], expected, "{by_number}");
    let by_type = browser.get(&format!("/usage?{range}&group_by=type")).text();
    let row = table_row(&by_type, "<tr><th scope=\"row\">Text</th>");
    assert_eq!(row[..5], expected[..5], "{by_type}");

    // The CSV holds the API's numbers, whatever the grouping.
    for group_by in ["day", "connection", "type"] {
        let answer = browser.get(&format!("/usage.csv?{range}&group_by={group_by}"));
        let csv = answer.text();
        assert_eq!(answer.status, 200, "{csv}");
        assert!(answer.header("content-type").starts_with("text/csv"));
        assert_eq!(
            answer.header("content-disposition"),
            format!(
                "attachment; filename=\"usage-{}-{}.csv\"",
                report["from"].as_str().unwrap(),
                report["to"].as_str().unwrap()
            )
        );
        assert_eq!(csv_rows(&csv)[0][0], group_by);
        // The API's own call is counted once it is answered: after its report.
        let (status, json) = api.call(
            "GET",
            &format!("/api/v1/usage?{range}&group_by={group_by}"),
            None,
            &[],
        );
        assert_eq!(status, 200, "{json}");
        let from_csv = csv_numbers(&csv);
        assert_eq!(from_csv, json_numbers(&json), "{group_by}:\n{csv}");
        assert_eq!(from_csv["total"][..6], expected);
    }
}

/// An owner signed in on the in-process server, with an API key and a sandbox number.
fn shop(app: &App, number_name: &str) -> (rocket::http::Header<'static>, String) {
    let auth = app.api_key();
    let (status, connection) = app.api(
        &auth,
        Method::Post,
        "/api/v1/connections",
        json!({"kind": "sandbox", "name": number_name}),
    );
    assert_eq!(status, Status::Created, "{connection}");
    (auth, connection["id"].as_str().unwrap().to_owned())
}

#[test]
fn a_new_account_is_told_how_to_send_its_first_message() {
    let app = app_with(|config| {
        let mut plan = whatsapi::config::Plan::unlimited("starter", "Starter");
        plan.messages_per_month = Some(100);
        config.plans = whatsapi::config::Plans(vec![plan]);
        config.billing.default_plan = "starter".into();
    });
    assert_eq!(
        app.register("Owner", "Shop", "owner@shop.test"),
        Status::SeeOther
    );
    let (status, html) = app.page("/usage");
    assert_eq!(status, Status::Ok, "{html}");
    assert!(html.contains("id=\"usage-empty\""), "{html}");
    assert!(html.contains("Nothing sent yet"));
    assert!(
        html.contains("<a class=\"button primary\" href=\"/compose\">Send your first message</a>")
    );
    assert!(html.contains("href=\"/api-reference\""));
    assert!(html.contains("0 of 100 messages this month"));
    assert!(!html.contains("id=\"usage-table\""));

    // Once a message is accepted, the page shows the counts instead.
    let (auth, connection) = shop(&app, "Sales");
    let (status, message) = app.api(
        &auth,
        Method::Post,
        "/api/v1/messages",
        json!({"connection_id": connection, "to": "+96550001234", "type": "text",
               "text": {"body": "Hello"}}),
    );
    assert_eq!(status, Status::Accepted, "{message}");
    let (_, html) = app.page("/usage");
    assert!(!html.contains("id=\"usage-empty\""), "{html}");
    assert!(html.contains("id=\"usage-table\"") && html.contains("1 of 100 messages this month"));
    assert_eq!(
        table_row(&html, "<tr id=\"usage-totals\">")[0],
        1,
        "one accepted"
    );
}

#[test]
fn every_member_sees_the_usage_and_a_visitor_signs_in_first() {
    let app = app();
    team_with_member(&app, "member");
    let (status, html) = app.page("/usage");
    assert_eq!(status, Status::Ok, "{html}");
    assert!(html.contains("<a href=\"/usage\" aria-current=\"page\">Usage</a>"));
    let csv = app.client.get("/usage.csv").dispatch();
    assert_eq!(csv.status(), Status::Ok);
    app.logout();
    let away = app.client.get("/usage").dispatch();
    assert_eq!(away.status(), Status::SeeOther);
    assert!(
        away.headers()
            .get_one("Location")
            .unwrap()
            .starts_with("/login")
    );
    let away = app.client.get("/usage.csv").dispatch();
    assert_eq!(away.status(), Status::SeeOther);
    assert!(
        away.headers()
            .get_one("Location")
            .unwrap()
            .starts_with("/login")
    );
}

#[test]
fn a_range_that_cannot_be_reported_is_answered_in_words() {
    let app = app();
    app.register("Owner", "Shop", "owner@shop.test");
    let (auth, connection) = shop(&app, "Sales");
    let (status, _) = app.api(
        &auth,
        Method::Post,
        "/api/v1/messages",
        json!({"connection_id": connection, "to": "+96550001234", "type": "text",
               "text": {"body": "Hello"}}),
    );
    assert_eq!(status, Status::Accepted);

    let (status, html) = app.page("/usage?from=2026-01-01&to=2026-01-31&group_by=type");
    assert_eq!(status, Status::Ok, "a good range is reported: {html}");
    assert!(html.contains("id=\"usage-table\"") && !html.contains("id=\"form-error\""));

    for (query, words) in [
        ("from=2026-02-30", "The start date is not a date"),
        ("from=yesterday", "The start date is not a date"),
        ("to=31/12/2026", "The end date is not a date"),
        (
            "from=2026-03-01&to=2026-02-01",
            "The start date is after the end date.",
        ),
        (
            "from=2024-01-01&to=2026-01-01",
            "Choose at most 400 days at a time.",
        ),
        ("group_by=week", "Choose how to group the table"),
    ] {
        let (status, html) = app.page(&format!("/usage?{query}"));
        assert_eq!(status, Status::BadRequest, "{query}");
        assert!(
            html.contains("id=\"form-error\"") && html.contains(words),
            "{query}: {html}"
        );
        assert!(!html.contains("id=\"usage-table\""));
        let csv = app.client.get(format!("/usage.csv?{query}")).dispatch();
        assert_eq!(csv.status(), Status::BadRequest, "{query}");
    }
    // The value given stays in the form, to be corrected.
    let (_, html) = app.page("/usage?from=yesterday");
    assert!(html.contains("value=\"yesterday\""));
}

#[test]
fn a_number_named_like_a_formula_is_text_in_the_csv() {
    let app = app();
    app.register("Owner", "Shop", "owner@shop.test");
    let (auth, connection) = shop(&app, "=HYPERLINK(\"http://x.test\")");
    let (auth_plain, plain) = (auth.clone(), shop(&app, "@Sales").1);
    for to in [&connection, &plain] {
        let (status, body) = app.api(
            &auth_plain,
            Method::Post,
            "/api/v1/messages",
            json!({"connection_id": to, "to": "+96550001234", "type": "text",
                   "text": {"body": "Hello"}}),
        );
        assert_eq!(status, Status::Accepted, "{body}");
    }
    let csv = app
        .client
        .get("/usage.csv?group_by=connection")
        .dispatch()
        .into_string()
        .unwrap();
    let lines: Vec<&str> = csv.split("\r\n").collect();
    assert_eq!(
        lines[0],
        "connection,name,accepted,sent,delivered,read,failed,inbound,api_calls"
    );
    let formula = lines
        .iter()
        .find(|l| l.contains("HYPERLINK"))
        .expect("the number's row");
    assert!(
        formula.starts_with(&format!(
            "{connection},\"'=HYPERLINK(\"\"http://x.test\"\") · "
        )),
        "{formula}"
    );
    let at = lines.iter().find(|l| l.contains("Sales")).unwrap();
    assert!(at.starts_with(&format!("{plain},'@Sales · ")), "{at}");
    assert!(lines.iter().any(|l| l.starts_with("total,,2,")), "{csv}");
}
