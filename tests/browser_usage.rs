//! The Usage page in a real headless Chromium against the real server: after messages read and messages
//! to the sandbox's failing numbers, its charts are drawn in English and in Arabic, in Arabic the days
//! run from right to left with the page's digits, and a new account sees what to do first. Screenshots
//! of each are saved under target/test-artifacts/.

mod common;

use common::api::{Api, PASSWORD, with_password};
use common::webdriver::Browser;
use common::{Install, stderr};
use serde_json::{Value, json};

const CONFIG: &str = r#"
[billing]
default_plan = "starter"

[[plans]]
id = "starter"
name = "Starter"
messages_per_month = 100
"#;

/// A business account with an owner who signs in with `email`, its API key and a sandbox number.
fn shop(install: &Install, config: &str, base: &str, email: &str) -> (Api, String) {
    let account = with_password(
        install,
        &[
            "--config",
            config,
            "account",
            "create",
            "--company",
            "Gulf Trading",
            "--name",
            "Fatima",
            "--email",
            email,
            "--password-stdin",
        ],
    );
    let key = install.run(&[
        "--config",
        config,
        "apikey",
        "create",
        "--account",
        &account,
        "--name",
        "tests",
    ]);
    assert!(key.status.success(), "{}", stderr(&key));
    let api = Api {
        base: base.to_owned(),
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

fn sign_in(browser: &Browser, base: &str, email: &str) {
    browser.goto(&format!("{base}/login"));
    browser.fill("#email", email);
    browser.fill("#password", PASSWORD);
    browser.click("form[action='/login'] button[type=submit]");
    browser.wait_until("the dashboard", |b| b.url() == format!("{base}/"));
    // The privacy policy's notice, acknowledged, so the screenshots show the page itself.
    browser.click("#policy-notice button[type=submit]");
    browser.wait_until("the notice acknowledged", |b| {
        b.script("return document.querySelector('#policy-notice') === null")
            .as_bool()
            == Some(true)
    });
}

/// What the page's charts look like to the browser: how many, their kinds, and the x (on screen) and text
/// of the days' labels of the messages chart, in the order the days are written (oldest first).
fn charts(browser: &Browser) -> Value {
    browser.script(
        "const svgs = [...document.querySelectorAll('svg.chart')];
         const days = [...document.querySelectorAll('#chart-messages svg text.day-label')].map(t => {
           const box = t.getBoundingClientRect();
           return [box.left + box.width / 2, t.textContent];
         });
         return {
           kinds: svgs.map(s => s.getAttribute('class')),
           drawn: svgs.every(s => s.getBoundingClientRect().width > 200 && s.getBoundingClientRect().height > 20),
           bars: document.querySelectorAll('#chart-messages rect.bar').length,
           failures: [...document.querySelectorAll('#chart-failures text.bar-label')].map(t => t.textContent),
           days,
         };",
    )
}

#[test]
fn the_usage_charts_are_drawn_in_english_and_in_arabic_from_right_to_left() {
    let install = Install::new();
    let config = install.path("config.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let config = config.display().to_string();
    let mut serve = install.command(&["--config", &config, "serve"]);
    serve
        .env("WHATSAPI_SANDBOX__SENT_AFTER_MS", "20")
        .env("WHATSAPI_SANDBOX__DELIVERED_AFTER_MS", "40")
        .env("WHATSAPI_SANDBOX__READ_AFTER_MS", "60");
    let server = install.serve_with(serve);
    let base = server.url.clone();
    let (api, connection) = shop(&install, &config, &base, "fatima@gulf.test");
    let mut sent = Vec::new();
    for to in [
        "+96550001234",
        "+96550001235",
        "+96550001236",
        "+15550199131026",
        "+15550199131047",
    ] {
        let (status, message) = api.send(json!({"connection_id": connection, "to": to,
            "type": "text", "text": {"body": "مرحبا"}}));
        assert_eq!(status, 202, "{message}");
        sent.push(message["id"].as_str().unwrap().to_owned());
    }
    for id in &sent[..3] {
        api.wait_for(id, &["read"]);
    }
    for id in &sent[3..] {
        api.wait_for(id, &["failed"]);
    }

    let browser = Browser::start();
    sign_in(&browser, &base, "fatima@gulf.test");
    browser.click("#nav-more > summary");
    browser.click("nav a[href='/usage']");
    browser.wait_until("the Usage page", |b| b.url() == format!("{base}/usage"));
    let en = charts(&browser);
    assert_eq!(
        en["kinds"],
        json!([
            "chart stacked",
            "chart rates",
            "chart ranked",
            "chart stacked",
            "chart meter"
        ]),
        "{en}"
    );
    assert_eq!(
        en["drawn"],
        json!(true),
        "every chart takes room on the page"
    );
    assert!(
        en["bars"].as_u64().unwrap() >= 2,
        "today's bar, read and failed: {en}"
    );
    assert!(
        en["failures"][0]
            .as_str()
            .unwrap()
            .starts_with("131026 · The message could not be delivered"),
        "{en}"
    );
    let days = en["days"].as_array().unwrap();
    let (first, last) = (&days[0], &days[days.len() - 1]);
    assert!(
        first[0].as_f64() < last[0].as_f64(),
        "the oldest day on the left: {en}"
    );
    browser.screenshot("usage-en.png");
    browser.script("document.querySelector('#chart-rates').scrollIntoView()");
    browser.screenshot("usage-en-charts.png");
    browser.script("document.querySelector('#usage-table').scrollIntoView()");
    browser.screenshot("usage-en-table.png");

    browser.click("form.lang-switch button[value=ar]");
    browser.wait_until("the Arabic page", |b| {
        b.script("return document.documentElement.dir").as_str() == Some("rtl")
    });
    browser.wait_until("the Usage page", |b| b.url() == format!("{base}/usage"));
    let ar = charts(&browser);
    assert_eq!(ar["kinds"], en["kinds"]);
    assert_eq!(ar["drawn"], json!(true));
    let days = ar["days"].as_array().unwrap();
    let (first, last) = (&days[0], &days[days.len() - 1]);
    assert!(
        first[0].as_f64() > last[0].as_f64(),
        "the oldest day on the right: {ar}"
    );
    let label = last[1].as_str().unwrap();
    assert!(
        label.chars().any(|c| c.is_ascii_digit())
            && !label.chars().any(|c| ('٠'..='٩').contains(&c)),
        "the days in Western digits, as everywhere in the product: {label}"
    );
    assert!(
        ar["failures"][0]
            .as_str()
            .unwrap()
            .contains("تعذّر تسليم الرسالة"),
        "{ar}"
    );
    let meter =
        browser.script("return document.querySelector('#usage-month svg text').textContent");
    assert_eq!(meter, json!("5 من 100 رسالة هذا الشهر"));
    browser.screenshot("usage-ar.png");
    browser.script("document.querySelector('#chart-failures').scrollIntoView()");
    browser.screenshot("usage-ar-charts.png");

    // A new account: what to do first, no chart.
    let _ = shop(&install, &config, &base, "omar@new.test");
    browser.click("#nav-more > summary");
    browser.click("form[action='/logout'] button[type=submit]");
    browser.wait_until("signed out", |b| b.url().contains("/login"));
    sign_in(&browser, &base, "omar@new.test");
    browser.goto(&format!("{base}/usage"));
    let empty = browser.script(
        "const e = document.querySelector('#usage-empty');
         return e ? [e.querySelector('a[href=\"/compose\"]').textContent, document.querySelectorAll('#main svg.chart').length] : null;",
    );
    assert_eq!(
        empty,
        json!(["أرسل رسالتك الأولى", 1]),
        "only the month's meter"
    );
    browser.screenshot("usage-ar-empty.png");
}
