//! The Contacts pages in a real headless Chromium against the real server, in English and Arabic, at
//! 1280 and 390 px: a customer's STOP shows on the list and the contact's page, the compose page refuses
//! to write to them and says why, a name given on the contact's page shows in the list, a CSV import's
//! report names its bad lines, and no page is wider than a phone. Screenshots of each page, language
//! and width are saved under target/test-artifacts/.

mod common;

use common::Install;
use common::api::{Api, PASSWORD, account_with_id};
use common::webdriver::Browser;
use serde_json::json;

fn customer_writes(api: &Api, connection: &str, from: &str, name: &str, text: &str) {
    let (status, body) = api.call(
        "POST",
        &format!("/api/v1/connections/{connection}/sandbox/inbound"),
        Some(json!({"from": from, "name": name, "text": text})),
        &[],
    );
    assert_eq!(status, 200, "{body}");
}

fn text(browser: &Browser, css: &str) -> String {
    browser
        .script(&format!(
            "const e = document.querySelector({}); return e ? e.textContent.trim() : '';",
            json!(css)
        ))
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// The id of the contact whose row shows `phone`.
fn contact_id(browser: &Browser, phone: &str) -> String {
    browser
        .script(&format!(
            "const row = [...document.querySelectorAll('#contacts tbody tr')]
               .find(r => r.textContent.includes({}));
             return row ? row.id.replace('contact-', '') : '';",
            json!(phone)
        ))
        .as_str()
        .unwrap()
        .to_owned()
}

/// Nothing on the page is wider than the window (no sideways scrolling).
fn fits(browser: &Browser) -> bool {
    browser
        .script("return document.documentElement.scrollWidth <= window.innerWidth")
        .as_bool()
        == Some(true)
}

fn open(browser: &Browser, url: &str) {
    browser.goto(url);
    browser.wait_until(url, |b| {
        b.script("return document.readyState").as_str() == Some("complete")
    });
}

#[test]
fn the_contacts_pages_show_opt_outs_take_names_and_imports_in_both_languages_on_any_screen() {
    let install = Install::new();
    let server = install.serve();
    let base = server.url.clone();
    let (_, api, connection) = account_with_id(&install, &server, "fatima@gulf.test");
    customer_writes(&api, &connection, "+96550001234", "Sara", "Hello");
    customer_writes(&api, &connection, "+96550001235", "علي", "مرحبا");
    customer_writes(&api, &connection, "+96550001234", "Sara", "STOP");

    let browser = Browser::start();
    browser.goto(&format!("{base}/login"));
    browser.fill("#email", "fatima@gulf.test");
    browser.fill("#password", PASSWORD);
    browser.click("form[action='/login'] button[type=submit]");
    browser.wait_until("the dashboard", |b| b.url() == format!("{base}/"));
    browser.click("#policy-notice button[type=submit]");
    browser.wait_until("the notice acknowledged", |b| {
        b.script("return document.querySelector('#policy-notice') === null")
            .as_bool()
            == Some(true)
    });

    // The list: Sara opted out, Ali not.
    open(&browser, &format!("{base}/contacts"));
    let sara = contact_id(&browser, "+96550001234");
    let ali = contact_id(&browser, "+96550001235");
    assert!(!sara.is_empty() && !ali.is_empty(), "{}", browser.source());
    assert_eq!(
        text(&browser, &format!("#contact-{sara} .opted-out")),
        "Opted out"
    );
    assert_eq!(text(&browser, &format!("#contact-{ali} .opted-out")), "");

    // The compose page refuses to write to her, in words, and queues nothing.
    open(&browser, &format!("{base}/compose"));
    browser.fill("#to", "+96550001234");
    browser.fill("#text", "Your order is ready");
    browser.click("button[name=action][value=send]");
    browser.wait_until("the refusal", |b| !text(b, "#form-error").is_empty());
    assert!(
        text(&browser, "#form-error").contains("opted out of messages from this number"),
        "{}",
        text(&browser, "#form-error")
    );
    let (status, messages) = api.call("GET", "/api/v1/messages", None, &[]);
    assert_eq!((status, &messages["data"]), (200, &json!([])));

    // A name and tags given on Ali's page show in the list.
    open(&browser, &format!("{base}/contacts/{ali}"));
    browser.fill("#name", "علي الكندري");
    browser.fill("#tags", "vip wholesale");
    browser.click("#edit button[type=submit]");
    browser.wait_until("saved", |b| !text(b, "#notice").is_empty());
    open(&browser, &format!("{base}/contacts"));
    assert_eq!(
        text(&browser, &format!("#contact-{ali} .contact-name")),
        "علي الكندري"
    );
    assert_eq!(text(&browser, &format!("#contact-{ali} .tag")), "vip");

    // An import whose report names each bad line and why.
    let file = install.path("contacts.csv");
    std::fs::write(
        &file,
        "number,name,tags\n+96550001236,Omar,new\nhello,Bad,\n+96550001236,Again,\n",
    )
    .unwrap();
    browser.fill("#import-file", &file.display().to_string());
    browser.click("form[action='/contacts/import'] button[type=submit]");
    browser.wait_until("the report", |b| !text(b, "#report-counts").is_empty());
    assert_eq!(
        text(&browser, "#report-counts"),
        "1 added, 0 updated, 2 refused."
    );
    let refused = browser.script(
        "return [...document.querySelectorAll('#refused-lines tbody tr')]
           .map(r => [...r.cells].map(c => c.textContent.trim()))",
    );
    assert_eq!(
        refused,
        json!([
            [
                "3",
                "not a number in international form (+ and the country code)"
            ],
            ["4", "the same number as line 2"]
        ])
    );
    browser.screenshot("contacts-import-en-1280.png");

    for lang in ["en", "ar"] {
        if lang == "ar" {
            browser.resize(1280, 900);
            browser.click("form.lang-switch button[value=ar]");
            browser.wait_until("the Arabic page", |b| {
                b.script("return document.documentElement.dir").as_str() == Some("rtl")
            });
        }
        for width in [1280, 390] {
            browser.resize(width, if width == 390 { 844 } else { 900 });
            open(&browser, &format!("{base}/contacts"));
            assert!(
                fits(&browser),
                "/contacts is wider than {width} px in {lang}"
            );
            if lang == "ar" {
                assert_eq!(text(&browser, "h1"), "جهات الاتصال");
                assert_eq!(
                    text(&browser, &format!("#contact-{sara} .opted-out")),
                    "أوقف الرسائل"
                );
            }
            // Numbers stay left to right, in Arabic too.
            let direction = browser.script(&format!(
                "return getComputedStyle(document.querySelector('#contact-{sara} td:nth-child(2) .ltr')).direction"
            ));
            assert_eq!(direction, json!("ltr"));
            if width == 390 {
                // The table is a list: one cell under another, each named by its column.
                let stacked = browser.script(&format!(
                    "const cells = [...document.querySelectorAll('#contact-{sara} td')];
                     return cells.every(c => getComputedStyle(c).display !== 'table-cell')"
                ));
                assert_eq!(stacked, json!(true), "{lang}");
            }
            browser.screenshot(&format!("contacts-{lang}-{width}.png"));
            open(&browser, &format!("{base}/contacts/{sara}"));
            assert!(
                fits(&browser),
                "a contact's page is wider than {width} px in {lang}"
            );
            assert!(!text(&browser, "#opted-out-badge").is_empty());
            browser.screenshot(&format!("contact-{lang}-{width}.png"));
        }
    }

    // Opted back in by hand (in Arabic), and the API sends again.
    browser.click("#opt-in");
    browser.wait_until("opted in", |b| !text(b, "#notice").is_empty());
    assert!(text(&browser, "#opted-out-badge").is_empty());
    let (status, sent) = api.send(json!({"connection_id": connection, "to": "+96550001234",
        "type": "text", "text": {"body": "Welcome back"}}));
    assert_eq!(status, 202, "{sent}");
}
