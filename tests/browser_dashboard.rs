//! The dashboard, the message log and the Numbers page in a real headless Chromium against the real
//! server and its sandbox, in English and Arabic, at 1280 and 390 px: a new account's checklist ticks
//! itself step by step from what the account did; the figures match what the sandbox did with the
//! messages sent; a failed message's error is explained in both languages; the Numbers page shows what Meta
//! said the number is, with copy buttons; no page scrolls sideways on a phone. Screenshots of each are kept
//! under target/test-artifacts/.

mod common;

use common::api::{Api, PASSWORD, with_password};
use common::webdriver::Browser;
use common::{Install, ok_endpoint};
use serde_json::{Value, json};

const CONFIG: &str = r#"
[billing]
default_plan = "starter"

[[plans]]
id = "starter"
name = "Starter"
messages_per_month = 100
"#;

fn sign_in(browser: &Browser, base: &str, email: &str) {
    browser.goto(&format!("{base}/login"));
    browser.fill("#email", email);
    browser.fill("#password", PASSWORD);
    browser.click("form[action='/login'] button[type=submit]");
    browser.wait_until("the dashboard", |b| b.url() == format!("{base}/"));
    browser.click("#policy-notice button[type=submit]");
    browser.wait_until("the notice acknowledged", |b| {
        b.script("return document.querySelector('#policy-notice') === null")
            .as_bool()
            == Some(true)
    });
}

/// The checklist's steps as `{id: done}`, or false when the card is gone.
fn checklist(browser: &Browser) -> Value {
    browser.script(
        "const card = document.querySelector('#getting-started');
         if (!card) return false;
         const steps = {};
         for (const li of card.querySelectorAll('li')) steps[li.id] = li.dataset.done === 'true';
         return steps;",
    )
}

/// Today's figures on the dashboard, as shown.
fn today(browser: &Browser) -> Value {
    browser.script(
        "const figures = {};
         for (const li of document.querySelectorAll('#period-today [data-figure]'))
           figures[li.dataset.figure] = li.querySelector('.value').textContent.trim();
         for (const b of document.querySelectorAll('#period-today [data-rate]'))
           figures[b.dataset.rate + '_rate'] = b.textContent.trim();
         return figures;",
    )
}

fn switch_language(browser: &Browser, lang: &str) {
    let dir = if lang == "ar" { "rtl" } else { "ltr" };
    browser.click(&format!("form.lang-switch button[value={lang}]"));
    browser.wait_until("the page in the other language", |b| {
        b.script("return document.documentElement.dir").as_str() == Some(dir)
    });
}

/// At 1280 and 390 px: a screenshot of each, and at 390 px no sideways scrolling.
fn at_both_widths(browser: &Browser, name: &str, lang: &str) {
    for width in [1280, 390] {
        browser.resize(width, 900);
        browser.wait_until("the new width", |b| {
            b.script("return window.innerWidth").as_u64() == Some(u64::from(width))
        });
        if width == 390 {
            let widths =
                browser.script("return [document.documentElement.scrollWidth, window.innerWidth];");
            assert!(
                widths[0].as_u64() <= widths[1].as_u64(),
                "{name} in {lang} scrolls sideways at 390 px: {widths}"
            );
        }
        browser.screenshot(&format!("{name}-{lang}-{width}.png"));
    }
    browser.resize(1280, 900);
}

#[test]
fn the_dashboard_ticks_its_checklist_counts_what_was_sent_and_explains_failures() {
    let install = Install::new();
    let config = install.path("config.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let config = config.display().to_string();
    let mut serve = install.command(&["--config", &config, "serve"]);
    serve
        .env("WHATSAPI_WEBHOOKS__ALLOW_INSECURE_TARGETS", "true")
        .env("WHATSAPI_SANDBOX__SENT_AFTER_MS", "20")
        .env("WHATSAPI_SANDBOX__DELIVERED_AFTER_MS", "40")
        .env("WHATSAPI_SANDBOX__READ_AFTER_MS", "60");
    let server = install.serve_with(serve);
    let base = server.url.clone();
    with_password(
        &install,
        &[
            "--config",
            &config,
            "account",
            "create",
            "--company",
            "Gulf Trading",
            "--name",
            "Fatima",
            "--email",
            "fatima@gulf.test",
            "--password-stdin",
        ],
    );

    let browser = Browser::start();
    sign_in(&browser, &base, "fatima@gulf.test");
    // A new account: every step to do, each with its link.
    let steps = json!({"step-number": false, "step-message": false, "step-api-key": false, "step-endpoint": false});
    assert_eq!(checklist(&browser), steps);
    let links = browser.script(
        "return [...document.querySelectorAll('#getting-started a')].map(a => a.getAttribute('href'));",
    );
    assert_eq!(
        links,
        json!([
            "/connections",
            "/compose",
            "/api-keys",
            "/webhook-endpoints"
        ])
    );
    at_both_widths(&browser, "dashboard-new", "en");

    // A sandbox number, added on the Numbers page: what Meta (the sandbox) says it is, and the values to copy.
    browser.goto(&format!("{base}/connections"));
    browser.click("form[action='/connections'] input[value=sandbox] ~ button[type=submit]");
    browser.wait_until("the number added", |b| b.url().contains("done=added"));
    let number = browser.script(
        "const card = document.querySelector('section[id^=connection-]');
         return {
           id: card.id.replace('connection-', ''),
           display: card.querySelector('[data-display-number]')?.textContent,
           name: card.querySelector('[data-verified-name]')?.textContent,
           copies: [...card.querySelectorAll('button[data-copy]')].filter(b => !b.hidden).map(b => b.dataset.copy),
           url: card.querySelector('[data-webhook-url]').textContent,
           token: card.querySelector('[data-verify-token]').textContent,
           warning: document.querySelector('#public-url-warning') !== null,
         };",
    );
    let connection = number["id"].as_str().unwrap().to_owned();
    assert!(
        number["display"]
            .as_str()
            .is_some_and(|d| d.starts_with("+1 555 ")),
        "the display number fetched when saved: {number}"
    );
    assert_eq!(number["name"], json!("Sandbox Business"), "{number}");
    assert_eq!(
        number["copies"],
        json!([connection, number["url"], number["token"]]),
        "a copy button for the id, the webhook URL and the verify token"
    );
    assert_eq!(
        number["warning"],
        json!(true),
        "the test server's address is http://127.0.0.1"
    );
    at_both_widths(&browser, "connections", "en");

    browser.goto(&format!("{base}/"));
    assert_eq!(
        checklist(&browser),
        json!({"step-number": true, "step-message": false, "step-api-key": false, "step-endpoint": false})
    );

    // An API key made on its page.
    browser.goto(&format!("{base}/api-keys"));
    browser.fill("#key-name", "shop system");
    browser.click("form[action='/api-keys'] button[type=submit]");
    browser.wait_until("the new key", |b| {
        b.script("return document.querySelector('#new-key') !== null")
            .as_bool()
            == Some(true)
    });
    let key = browser
        .script("return document.querySelector('#new-key').textContent")
        .as_str()
        .unwrap()
        .trim()
        .to_owned();
    browser.goto(&format!("{base}/"));
    assert_eq!(
        checklist(&browser),
        json!({"step-number": true, "step-message": false, "step-api-key": true, "step-endpoint": false})
    );

    // Messages through the API: three read by the sandbox, one to its undeliverable test number.
    let api = Api {
        base: base.clone(),
        key,
        agent: ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into(),
    };
    let mut read = Vec::new();
    for to in ["+96550001234", "+96550001235", "+96550001236"] {
        let (status, message) = api.send(json!({"connection_id": connection, "to": to,
            "type": "text", "text": {"body": "مرحبا"}}));
        assert_eq!(status, 202, "{message}");
        read.push(message["id"].as_str().unwrap().to_owned());
    }
    let (status, failed) = api.send(json!({"connection_id": connection, "to": "+15550199131026",
        "type": "text", "text": {"body": "hello"}}));
    assert_eq!(status, 202, "{failed}");
    let failed = failed["id"].as_str().unwrap().to_owned();
    for id in &read {
        api.wait_for(id, &["read"]);
    }
    api.wait_for(&failed, &["failed"]);
    // Two customers write; one conversation is opened in the inbox, which reads it.
    for from in ["+96550001237", "+96550001238"] {
        let (status, body) = api.call(
            "POST",
            &format!("/api/v1/connections/{connection}/sandbox/inbound"),
            Some(json!({"from": from, "name": "Customer", "text": "مرحبا"})),
            &[],
        );
        assert_eq!(status, 200, "{body}");
    }
    let (_, conversations) = api.call("GET", "/api/v1/conversations", None, &[]);
    let opened = conversations["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["phone"] == "+96550001237")
        .unwrap_or_else(|| panic!("{conversations}"))["id"]
        .as_str()
        .unwrap()
        .to_owned();
    browser.goto(&format!("{base}/inbox/{opened}"));
    browser.goto(&format!("{base}/"));
    assert_eq!(
        checklist(&browser),
        json!({"step-number": true, "step-message": true, "step-api-key": true, "step-endpoint": false})
    );
    assert_eq!(
        today(&browser),
        json!({"sent": "3", "delivered": "3", "read": "3", "failed": "1", "received": "2", "unread": "1",
               "delivery_rate": "100%", "read_rate": "100%"})
    );
    let month = browser.script(
        "return [...document.querySelectorAll('#period-month [data-figure]')].map(li => li.querySelector('.value').textContent.trim());",
    );
    assert_eq!(month, json!(["3", "3", "3", "1", "2", "1"]));
    let failures = browser.script(
        "return [...document.querySelectorAll('#dashboard-failures tr.failure')].map(tr => tr.textContent);",
    );
    assert_eq!(failures.as_array().unwrap().len(), 1, "{failures}");
    let failure = failures[0].as_str().unwrap();
    assert!(
        failure.contains("The message could not be delivered: the number may not be on WhatsApp.")
            && failure.contains("#131026")
            && failure.contains("+15550199131026"),
        "{failure}"
    );
    let numbers = browser.script(
        "return [...document.querySelectorAll('#dashboard-numbers li')].map(li => li.textContent.replace(/\\s+/g, ' ').trim());",
    );
    assert!(
        numbers[0].as_str().unwrap().contains("Quality: ")
            && numbers[0].as_str().unwrap().contains("messages per second"),
        "{numbers}"
    );
    let chart = browser.script(
        "return document.querySelectorAll('#dashboard-chart svg.chart text.day-label').length;",
    );
    assert_eq!(chart, json!(14), "the chart's 14 days");
    let meter =
        browser.script("return document.querySelector('#dashboard-quota svg text').textContent");
    assert_eq!(meter, json!("4 of 100 messages this month"));

    // A webhook endpoint: the last step, and the checklist goes away.
    let (status, endpoint) = api.call(
        "POST",
        "/api/v1/webhook-endpoints",
        Some(json!({"url": ok_endpoint()})),
        &[],
    );
    assert_eq!(status, 201, "{endpoint}");
    browser.goto(&format!("{base}/"));
    assert_eq!(checklist(&browser), json!(false), "every step done");
    at_both_widths(&browser, "dashboard", "en");

    // The message log and the failed message's page.
    browser.goto(&format!("{base}/messages"));
    let log = browser.script(
        "return [...document.querySelectorAll('#messages tbody tr')].map(tr => tr.textContent.replace(/\\s+/g, ' '));",
    );
    assert_eq!(log.as_array().unwrap().len(), 4, "{log}");
    assert!(
        log[0]
            .as_str()
            .unwrap()
            .contains("The message could not be delivered")
            && log[0]
                .as_str()
                .unwrap()
                .contains(number["display"].as_str().unwrap()),
        "the newest, failed, with its words and its sender number: {log}"
    );
    at_both_widths(&browser, "messages", "en");

    // In Arabic: the same, in Arabic words.
    switch_language(&browser, "ar");
    browser.goto(&format!("{base}/"));
    let failure = browser
        .script("return document.querySelector('#dashboard-failures tr.failure').textContent");
    assert!(
        failure
            .as_str()
            .unwrap()
            .contains("تعذّر تسليم الرسالة: قد لا يكون الرقم مسجّلًا على واتساب."),
        "{failure}"
    );
    assert!(
        failure.as_str().unwrap().contains("نص"),
        "the type in Arabic: {failure}"
    );
    at_both_widths(&browser, "dashboard", "ar");
    browser.goto(&format!("{base}/messages/{failed}"));
    let error = browser.script("return document.querySelector('#message-error').textContent");
    assert!(
        error.as_str().unwrap().contains("تعذّر تسليم الرسالة"),
        "{error}"
    );
    browser.goto(&format!("{base}/messages"));
    at_both_widths(&browser, "messages", "ar");
    browser.goto(&format!("{base}/connections"));
    at_both_widths(&browser, "connections", "ar");
}
