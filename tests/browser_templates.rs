//! Templates and New message in a real headless Chromium against the real server and its sandbox, in
//! English and Arabic, at 1280 and 390 px: a template written on the page with two variables (a missing
//! example named next to its field first) is approved by the sandbox and shows approved without a
//! reload; a name in the sandbox's rejected range shows Meta's reason; the approved template is used on
//! the compose page, its bubble filled as the variables are typed, and the message goes with those
//! values; the JSON stays left to right inside its card; a template is deleted. Screenshots of each page
//! are saved under target/test-artifacts/. (The sandbox's template API over HTTP:
//! tests/templates_sandbox.rs.)

mod common;

use common::api::{Api, PASSWORD, with_password};
use common::webdriver::Browser;
use common::{Install, stderr};
use serde_json::{Value, json};

/// The installation's own configuration file (empty: the defaults), named on every command so that a
/// package installed on the machine (`/etc/whatsapi/config.toml`) is not read instead.
fn own_config(install: &Install) -> String {
    let config = install.path("config.toml");
    std::fs::write(&config, "").unwrap();
    config.display().to_string()
}

/// An owner who signs in with `email`, the account's API key and its sandbox number.
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
        Some(json!({"kind": "sandbox", "name": "Gulf Trading"})),
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
    browser.click("#policy-notice button[type=submit]");
    browser.wait_until("the notice acknowledged", |b| {
        b.script("return document.querySelector('#policy-notice') === null")
            .as_bool()
            == Some(true)
    });
}

/// The status the page shows for a template (its `data-status`), if it lists it.
fn shown_status(browser: &Browser, name: &str) -> Option<String> {
    browser
        .script(&format!(
            "const li = document.querySelector(\"li.template-item[data-name='{name}']\");
             return li ? li.dataset.status : null;"
        ))
        .as_str()
        .map(str::to_owned)
}

/// Whether the page fits the window's width (nothing scrolls sideways).
fn fits(browser: &Browser) -> bool {
    browser
        .script("return document.documentElement.scrollWidth <= window.innerWidth")
        .as_bool()
        == Some(true)
}

/// Writes a template on the page and submits it.
fn submit_template(browser: &Browser, name: &str, body: &str, examples: &[&str]) {
    browser.fill("#t-name", name);
    browser.fill("#t-body", body);
    for (i, example) in examples.iter().enumerate() {
        browser.fill(&format!("#t-example-{}", i + 1), example);
    }
    browser.click("#template-form button[type=submit]");
}

fn pick_order_ready(browser: &Browser, values: [&str; 2]) {
    browser.click("#kind-template");
    browser.wait_until("the template's fields", |b| {
        b.script("return !document.querySelector(\"fieldset.template-choice[data-name='order_ready']\").hidden")
            .as_bool()
            == Some(true)
    });
    let visible = "fieldset.template-choice[data-name='order_ready']";
    browser.fill(&format!("{visible} input[data-var='body-1']"), values[0]);
    browser.fill(&format!("{visible} input[data-var='body-2']"), values[1]);
    browser.fill("#to", "+96550001234");
}

/// The text of the template's bubble in the preview that shows.
fn preview_text(browser: &Browser) -> Value {
    browser.script(
        "const p = [...document.querySelectorAll('.template-preview')].find(p => !p.hidden);
         return p ? p.querySelector('.bubble-text').textContent : null;",
    )
}

#[test]
fn a_template_is_written_approved_used_from_compose_and_deleted_in_both_languages() {
    let install = Install::new();
    let config = own_config(&install);
    let mut serve = install.command(&["--config", &config, "serve"]);
    serve
        .env("WHATSAPI_SANDBOX__TEMPLATE_REVIEW_AFTER_MS", "800")
        .env("WHATSAPI_SANDBOX__SENT_AFTER_MS", "20")
        .env("WHATSAPI_SANDBOX__DELIVERED_AFTER_MS", "40")
        .env("WHATSAPI_SANDBOX__READ_AFTER_MS", "60");
    let server = install.serve_with(serve);
    let base = server.url.clone();
    let (api, _) = shop(&install, &config, &base, "fatima@gulf.test");

    let browser = Browser::start();
    sign_in(&browser, &base, "fatima@gulf.test");
    browser.goto(&format!("{base}/templates"));
    browser.screenshot("templates-en-1280.png");

    // A variable without its example: named next to the examples, nothing submitted.
    submit_template(
        &browser,
        "order_ready",
        "Hi {{1}}, your order {{2}} is ready.",
        &["Sara"],
    );
    browser.wait_until("the refusal", |b| {
        b.script("return document.querySelector('#t-body-examples-error') !== null")
            .as_bool()
            == Some(true)
    });
    let refusal = browser.script(
        "const e = document.querySelector('#t-body-examples-error');
         const [first, second] = [1, 2].map(n => document.querySelector('#t-example-' + n));
         return [e.textContent, second.getAttribute('aria-invalid'), second.getAttribute('aria-describedby'),
                 first.getAttribute('aria-invalid')];",
    );
    assert_eq!(
        refusal,
        json!([
            "Give an example for every variable of the body.",
            "true",
            "t-body-examples-hint t-body-examples-error",
            null
        ]),
        "only the empty example is marked"
    );
    assert_eq!(shown_status(&browser, "order_ready"), None);
    browser.screenshot("templates-en-error.png");

    // Completed, it is submitted and shows pending, then approved without a reload (templates.js).
    browser.fill("#t-example-2", "A-12");
    browser.click("#template-form button[type=submit]");
    browser.wait_until("the submission", |b| {
        b.url().ends_with("/templates?done=submitted")
    });
    browser.script("document.body.dataset.marker = 'same page'");
    browser.wait_until("the approval", |b| {
        shown_status(b, "order_ready").as_deref() == Some("APPROVED")
    });
    assert_eq!(
        browser.script("return document.body.dataset.marker"),
        json!("same page"),
        "the review showed without a reload"
    );
    let bubble = browser.script(
        "return document.querySelector(\"li[data-name='order_ready'] .bubble-text\").textContent",
    );
    assert_eq!(bubble, json!("Hi {{1}}, your order {{2}} is ready."));

    // Meta's own refusal is named next to its field: the name exists in this language.
    submit_template(&browser, "order_ready", "Hello {{1}}, thanks.", &["Sara"]);
    browser.wait_until("Meta's refusal", |b| {
        b.script("return document.querySelector('#t-name-error') !== null")
            .as_bool()
            == Some(true)
    });
    let refusal = browser.script(
        "return [document.querySelector('#t-name-error').textContent, document.querySelector('#t-name').getAttribute('aria-invalid')]",
    );
    assert_eq!(
        refusal,
        json!([
            "Meta refused the template: There is already a template with this name in this language.",
            "true"
        ])
    );

    // A name in the sandbox's rejected range shows Meta's reason.
    submit_template(&browser, "reject_promo", "Big sale today only", &[]);
    browser.wait_until("the submission", |b| {
        b.url().ends_with("/templates?done=submitted")
    });
    browser.wait_until("the rejection", |b| {
        shown_status(b, "reject_promo").as_deref() == Some("REJECTED")
    });
    let reason = browser.script(
        "return document.querySelector(\"li[data-name='reject_promo'] .template-reason\").textContent",
    );
    assert!(
        reason
            .as_str()
            .unwrap()
            .contains("The template's format is not valid."),
        "{reason}"
    );
    browser.screenshot("templates-en-1280-reviewed.png");

    // Used from the compose page: the bubble fills as the values are typed.
    browser.goto(&format!("{base}/compose"));
    let offered = browser
        .script("return [...document.querySelectorAll('#template-name option')].map(o => o.value)");
    assert_eq!(offered, json!(["order_ready"]), "approved templates only");
    pick_order_ready(&browser, ["Sara", "860198"]);
    assert_eq!(
        preview_text(&browser),
        json!("Hi Sara, your order 860198 is ready.")
    );
    let language = browser.script(
        "const s = document.querySelector('#template-language'); return [s.value, s.options[s.selectedIndex].text]",
    );
    assert_eq!(language, json!(["en_US", "English (US)"]));
    browser.screenshot("compose-en-1280.png");
    browser.click("button[name=action][value=send]");
    browser.wait_until("the message page", |b| b.url().contains("/messages/"));
    let id = browser.url().rsplit('/').next().unwrap().to_owned();
    let sent = api.wait_for(&id, &["sent", "delivered", "read"]);
    assert_eq!(sent["type"], "template");
    assert_eq!(
        sent["message"],
        json!({"name": "order_ready", "language": {"code": "en_US"}, "components": [
            {"type": "body", "parameters": [{"type": "text", "text": "Sara"}, {"type": "text", "text": "860198"}]}
        ]}),
        "{sent}"
    );

    // On a phone: nothing scrolls sideways.
    browser.resize(390, 844);
    browser.goto(&format!("{base}/templates"));
    assert!(fits(&browser), "the Templates page fits 390 px");
    browser.screenshot("templates-en-390.png");
    browser.goto(&format!("{base}/compose"));
    pick_order_ready(&browser, ["Sara", "860198"]);
    browser.click("button[name=action][value=preview]");
    browser.wait_until("the preview", |b| {
        b.script("return document.querySelector('#preview') !== null")
            .as_bool()
            == Some(true)
    });
    assert!(fits(&browser), "the compose page fits 390 px");
    browser.screenshot("compose-en-390.png");

    // In Arabic: the language list in Arabic, the JSON left to right and inside its card.
    browser.click("form.lang-switch button[value=ar]");
    browser.wait_until("the Arabic page", |b| {
        b.script("return document.documentElement.dir").as_str() == Some("rtl")
    });
    browser.goto(&format!("{base}/compose"));
    pick_order_ready(&browser, ["سارة", "860198"]);
    assert_eq!(
        preview_text(&browser),
        json!("Hi سارة, your order 860198 is ready.")
    );
    browser.click("button[name=action][value=preview]");
    browser.wait_until("the preview", |b| {
        b.script("return document.querySelector('#preview') !== null")
            .as_bool()
            == Some(true)
    });
    let json_box = browser.script(
        "const pre = document.querySelector('#preview');
         const card = pre.closest('.card').getBoundingClientRect();
         const box = pre.getBoundingClientRect();
         return [getComputedStyle(pre).direction, box.left >= card.left - 1 && box.right <= card.right + 1,
                 document.querySelector('#template-language').options[0].text];",
    );
    assert_eq!(
        json_box,
        json!(["ltr", true, "الإنجليزية (الولايات المتحدة)"])
    );
    assert!(fits(&browser), "the Arabic compose page fits 390 px");
    browser.screenshot("compose-ar-390.png");
    browser.goto(&format!("{base}/templates"));
    assert!(fits(&browser), "the Arabic Templates page fits 390 px");
    let status = browser.script(
        "return document.querySelector(\"li[data-name='order_ready'] .template-status\").textContent",
    );
    assert_eq!(status, json!("معتمد"));
    browser.screenshot("templates-ar-390.png");

    browser.resize(1280, 900);
    browser.goto(&format!("{base}/templates"));
    browser.screenshot("templates-ar-1280.png");
    browser.goto(&format!("{base}/compose"));
    pick_order_ready(&browser, ["سارة", "860198"]);
    browser.screenshot("compose-ar-1280.png");

    // Deleted: gone from the page (and from the sandbox, which a sync shows).
    browser.goto(&format!("{base}/templates"));
    browser.script("window.confirm = () => true");
    browser.click("li[data-name='order_ready'] form[action='/templates/delete'] button");
    browser.wait_until("the deletion", |b| {
        b.url().ends_with("/templates?done=deleted")
    });
    assert_eq!(shown_status(&browser, "order_ready"), None);
    assert_eq!(
        shown_status(&browser, "reject_promo").as_deref(),
        Some("REJECTED")
    );
    browser.click("#templates-sync button");
    browser.wait_until("the sync", |b| b.url().ends_with("/templates?done=synced"));
    assert_eq!(shown_status(&browser, "order_ready"), None);
    assert_eq!(
        shown_status(&browser, "hello_world").as_deref(),
        Some("APPROVED"),
        "the sandbox's own templates came with the sync"
    );
}
