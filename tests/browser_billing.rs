//! The Billing page in Arabic, in a real headless Chromium against the real server with plans from a
//! configuration file: the page reads right to left, in Arabic words and digits, and its bar shows the
//! month's real messages against the plan's quota.

mod common;

use common::api::{Api, PASSWORD, with_password};
use common::webdriver::Browser;
use common::{Install, stderr};
use serde_json::json;

const CONFIG: &str = r#"
[billing]
default_plan = "starter"

[[plans]]
id = "starter"
name = "Starter"
names = { ar = "المبتدئ" }
price = "29 EUR / month"
messages_per_month = 100
connections = 3

[[plans]]
id = "pro"
name = "Pro"
names = { ar = "الاحترافية" }
"#;

fn text(browser: &Browser, css: &str) -> String {
    browser
        .script(&format!(
            "const e = document.querySelector('{css}'); return e ? e.textContent.trim() : '';"
        ))
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn the_billing_page_in_arabic_reads_right_to_left_with_the_months_messages_on_its_bar() {
    let install = Install::new();
    let config = install.path("config.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let config = config.display().to_string();
    let server = install.serve_with(install.command(&["--config", &config, "serve"]));
    let base = server.url.clone();
    let account = with_password(
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
    let key = install.run(&[
        "--config",
        &config,
        "apikey",
        "create",
        "--account",
        &account,
        "--name",
        "tests",
    ]);
    assert!(key.status.success(), "{}", stderr(&key));
    let api = Api {
        base: base.clone(),
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
    for n in 0..3 {
        let (status, message) = api.send(json!({"connection_id": connection["id"],
            "to": "+96550001234", "type": "text", "text": {"body": format!("مرحبا {n}")}}));
        assert_eq!(status, 202, "{message}");
    }

    let browser = Browser::start();
    browser.goto(&format!("{base}/login"));
    browser.fill("#email", "fatima@gulf.test");
    browser.fill("#password", PASSWORD);
    browser.click("form[action='/login'] button[type=submit]");
    browser.wait_until("the dashboard", |b| b.url() == format!("{base}/"));
    browser.goto(&format!("{base}/billing"));
    assert_eq!(text(&browser, "#usage-text"), "3 of 100");
    browser.screenshot("billing-en.png");
    browser.goto(&format!("{base}/"));
    browser.click("form.lang-switch button[value=ar]");
    browser.wait_until("the Arabic page", |b| {
        b.script("return document.documentElement.dir").as_str() == Some("rtl")
    });
    browser.click("#nav-more > summary");
    browser.click("nav a[href='/billing']");
    browser.wait_until("the Billing page", |b| b.url() == format!("{base}/billing"));

    assert_eq!(
        browser
            .script("return [document.documentElement.lang, document.documentElement.dir]")
            .as_array()
            .cloned()
            .unwrap_or_default(),
        [json!("ar"), json!("rtl")]
    );
    assert_eq!(text(&browser, "h1"), "الفوترة");
    assert_eq!(text(&browser, "#plan-name"), "المبتدئ");
    assert_eq!(text(&browser, "#plan-status"), "نشط");
    assert_eq!(text(&browser, "#usage-text"), "3 من 100");
    assert_eq!(text(&browser, "#limit-connections"), "1 من 3");
    assert!(text(&browser, "#plan-pro").contains("الاحترافية"));
    let bar = browser.script(
        "const bar = document.querySelector('progress#usage-bar');
         return bar ? [bar.value, bar.max, getComputedStyle(bar).direction] : null;",
    );
    assert_eq!(
        bar,
        json!([3, 100, "rtl"]),
        "the bar holds the month's messages"
    );
    // The bar starts at the right edge of its card, as Arabic reads.
    let mirrored = browser.script(
        "const bar = document.querySelector('#usage-bar').getBoundingClientRect();
         const text = document.querySelector('#usage-text').getBoundingClientRect();
         return Math.abs(bar.right - text.right) < 2;",
    );
    assert_eq!(
        mirrored.as_bool(),
        Some(true),
        "the bar is aligned to the right"
    );
    assert_eq!(
        browser
            .script(
                "return document.querySelector('nav a[aria-current=page]').getAttribute('href')"
            )
            .as_str(),
        Some("/billing")
    );
    browser.screenshot("billing-ar.png");
    browser.script("document.querySelector('#plans').scrollIntoView()");
    browser.screenshot("billing-ar-plans.png");
}
