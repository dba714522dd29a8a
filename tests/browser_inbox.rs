//! The inbox in a real headless Chromium against the real server, in English and Arabic, at 1280 and
//! 390 px: with a conversation open, a customer's message sent through the sandbox appears in the thread
//! and in the list within 2 s without the page reloading; the status ticks of a reply reach the open
//! thread; an emoji from the picker goes into the reply; Enter sends and Shift+Enter makes a new line; a closed window offers the template picker; on
//! a phone the list and the conversation are shown one at a time, with no sideways scrolling.

mod common;

use common::Install;
use common::api::{Api, PASSWORD, account};
use common::webdriver::Browser;
use hmac::{KeyInit, Mac};
use serde_json::json;
use std::time::{Duration, Instant};

const SECRET: &str = "the-app-secret";

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

fn customer_writes(api: &Api, connection: &str, from: &str, name: &str, text: &str) {
    let (status, body) = api.call(
        "POST",
        &format!("/api/v1/connections/{connection}/sandbox/inbound"),
        Some(json!({"from": from, "name": name, "text": text})),
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

fn text_of(browser: &Browser, css: &str) -> String {
    browser
        .script(&format!(
            "const e = document.querySelector({css:?}); return e ? e.textContent : ''"
        ))
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Waits until the page listens to the inbox's changes (its stream said it is ready), then marks the
/// page, so that a reload would be seen.
fn listening_and_marked(browser: &Browser) {
    browser.wait_until("the live stream", |b| {
        b.script("const s = document.getElementById('live-state'); return !!s && !s.hidden")
            .as_bool()
            == Some(true)
    });
    browser.script("window.inboxMarker = 'not reloaded'; return null");
}

fn not_reloaded(browser: &Browser) -> bool {
    browser.script("return window.inboxMarker || null").as_str() == Some("not reloaded")
}

fn no_sideways_scrolling(browser: &Browser, what: &str) {
    let fits = browser.script("return document.documentElement.scrollWidth <= window.innerWidth");
    assert_eq!(fits.as_bool(), Some(true), "{what} scrolls sideways");
}

/// A customer message through the sandbox, seen in the open thread and in the list within 2 s, with
/// the page not reloaded.
fn arrives_live(browser: &Browser, api: &Api, connection: &str, contact: &str, text: &str) {
    listening_and_marked(browser);
    let sent = Instant::now();
    customer_writes(api, connection, "+96550001234", "Sara", text);
    browser.wait_until("the message in the thread and the list", |b| {
        text_of(b, "#thread").contains(text)
            && text_of(b, &format!("#conversation-{contact} .conv-preview")).contains(text)
    });
    let took = sent.elapsed();
    assert!(took <= Duration::from_secs(2), "took {took:?}");
    assert!(not_reloaded(browser), "the page was reloaded");
}

/// Posts one old inbound message to the number's webhook, signed as Meta signs: its window is closed.
fn old_message(api: &Api, connection: &str) {
    let (status, hook) = api.call_patch(
        &format!("/api/v1/connections/{connection}"),
        json!({"app_secret": SECRET}),
    );
    assert_eq!(status, 200, "{hook}");
    let long_ago = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 25 * 3600;
    let payload = format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"id":"{}","changes":[{{"field":"messages","value":{{"messaging_product":"whatsapp","metadata":{{"display_phone_number":"15550783881","phone_number_id":"{}"}},"contacts":[{{"profile":{{"name":"Sheena"}},"wa_id":"16505551234"}}],"messages":[{{"from":"16505551234","id":"wamid.OLD","timestamp":"{long_ago}","type":"text","text":{{"body":"Anyone there?"}}}}]}}}}]}}]}}"#,
        hook["waba_id"].as_str().unwrap(),
        hook["phone_number_id"].as_str().unwrap()
    );
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(payload.as_bytes());
    let signature = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let response = agent
        .post(hook["webhook_url"].as_str().unwrap())
        .header("Content-Type", "application/json")
        .header("X-Hub-Signature-256", &signature)
        .send(payload.as_bytes())
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let (status, synced) = api.call(
        "POST",
        &format!("/api/v1/connections/{connection}/templates/sync"),
        None,
        &[],
    );
    assert_eq!(status, 200, "{synced}");
}

#[test]
fn the_inbox_is_live_in_both_languages_on_a_desktop_and_a_phone() {
    let install = Install::new();
    let mut command = install.command(&["serve"]);
    // Slow enough ticks that the reply's delivered and read arrive while the page is open.
    command.env("WHATSAPI_SANDBOX__DELIVERED_AFTER_MS", "3000");
    command.env("WHATSAPI_SANDBOX__READ_AFTER_MS", "6000");
    let server = install.serve_with(command);
    let base = server.url.clone();
    let (api, connection) = account(&install, &server, "owner@shop.test");
    customer_writes(
        &api,
        &connection,
        "+96550001234",
        "Sara",
        "Hello, is anyone there?",
    );
    customer_writes(&api, &connection, "+96550005678", "Omar", "Good morning");
    let sara = conversation_id(&api, "+96550001234");
    old_message(&api, &connection);
    let sheena = conversation_id(&api, "+16505551234");

    let browser = Browser::start();
    browser.resize(1280, 900);
    sign_in(&browser, &base, "owner@shop.test");

    // English, desktop: the list beside the open conversation.
    browser.goto(&format!("{base}/inbox/{sara}"));
    let side_by_side = browser.script(
        "const list = document.getElementById('conv-pane').getBoundingClientRect();
         const thread = document.querySelector('.thread-pane').getBoundingClientRect();
         return list.width > 0 && thread.width > 0 && Math.abs(list.top - thread.top) < 40;",
    );
    assert_eq!(
        side_by_side.as_bool(),
        Some(true),
        "list and thread side by side"
    );
    arrives_live(&browser, &api, &connection, &sara, "Is my order ready?");
    browser.screenshot("inbox-en-1280.png");

    // An emoji from the picker goes in at the cursor (and is taken out again before the reply is typed).
    browser.click("#emoji-picker summary");
    browser.click("#emoji-picker button[data-insert='🙏']");
    assert_eq!(
        browser
            .script("return document.getElementById('reply-text').value")
            .as_str(),
        Some("🙏")
    );
    browser.script("document.getElementById('reply-text').value = ''; return null");
    // Shift+Enter makes a new line; Enter sends.
    browser.keys("#reply-text", "Line one\u{E008}\u{E007}\u{E000}Line two");
    // (The driver types Enter as a carriage return and a line feed; a keyboard gives the line feed.)
    let typed = browser
        .script("return document.getElementById('reply-text').value.replace(/\\r\\n/g, '\\n')");
    assert_eq!(typed.as_str(), Some("Line one\nLine two"));
    assert!(not_reloaded(&browser), "Shift+Enter did not send");
    browser.keys("#reply-text", "\u{E007}");
    browser.wait_until("the reply sent", |b| b.url().contains("done=sent"));
    let (_, messages) = api.call("GET", "/api/v1/messages", None, &[]);
    let reply = messages["data"][0].clone();
    assert_eq!(reply["message"]["body"], "Line one\nLine two");
    let reply_id = reply["id"].as_str().unwrap().to_owned();

    // The reply's status ticks reach the open thread, without a reload.
    listening_and_marked(&browser);
    let status_of =
        |b: &Browser| text_of(b, &format!("#thread [data-message='{reply_id}'] .status"));
    assert_ne!(
        status_of(&browser),
        "Read",
        "not read yet when the page opened"
    );
    browser.wait_until("the reply read", |b| status_of(b) == "Read");
    assert!(not_reloaded(&browser), "the page was reloaded");

    // A closed window offers the number's approved templates instead of free text.
    browser.goto(&format!("{base}/inbox/{sheena}"));
    assert!(browser.source().contains("id=\"reply-template\""));
    assert!(!browser.source().contains("id=\"reply-text\""));
    assert!(text_of(&browser, "#reply-template").contains("order_update"));
    browser.screenshot("inbox-en-1280-closed.png");

    // A phone: the list alone at /inbox, the conversation alone with its back link.
    browser.resize(390, 844);
    browser.goto(&format!("{base}/inbox"));
    let one_at_a_time = browser.script(
        "return document.getElementById('conv-pane').offsetWidth > 0
             && document.querySelector('.thread-placeholder').offsetWidth === 0",
    );
    assert_eq!(one_at_a_time.as_bool(), Some(true));
    no_sideways_scrolling(&browser, "the inbox");
    browser.screenshot("inbox-en-390.png");
    browser.goto(&format!("{base}/inbox/{sara}"));
    let thread_alone = browser.script(
        "return document.getElementById('conv-pane').offsetWidth === 0
             && document.querySelector('.back-link a').offsetWidth > 0",
    );
    assert_eq!(thread_alone.as_bool(), Some(true));
    no_sideways_scrolling(&browser, "a conversation");
    arrives_live(&browser, &api, &connection, &sara, "Still waiting");
    browser.screenshot("conversation-en-390.png");

    // Arabic: the same, right to left.
    browser.click("form.lang-switch button[value=ar]");
    browser.wait_until("the Arabic page", |b| {
        b.script("return document.documentElement.dir").as_str() == Some("rtl")
    });
    browser.goto(&format!("{base}/inbox/{sara}"));
    no_sideways_scrolling(&browser, "a conversation in Arabic");
    arrives_live(&browser, &api, &connection, &sara, "هل وصل طلبي؟");
    let bubble_dir = browser.script(
        "const t = [...document.querySelectorAll('#thread .bubble-text')].pop(); return t.getAttribute('dir')",
    );
    assert_eq!(bubble_dir.as_str(), Some("auto"));
    browser.screenshot("conversation-ar-390.png");
    browser.goto(&format!("{base}/inbox"));
    no_sideways_scrolling(&browser, "the inbox in Arabic");
    browser.screenshot("inbox-ar-390.png");
    browser.resize(1280, 900);
    browser.goto(&format!("{base}/inbox/{sara}"));
    arrives_live(&browser, &api, &connection, &sara, "شكرًا");
    let mirrored = browser.script(
        "const list = document.getElementById('conv-pane').getBoundingClientRect();
         const thread = document.querySelector('.thread-pane').getBoundingClientRect();
         return list.left > thread.left;",
    );
    assert_eq!(
        mirrored.as_bool(),
        Some(true),
        "the list on the right in Arabic"
    );
    browser.screenshot("inbox-ar-1280.png");
    browser.goto(&format!("{base}/inbox/{sheena}"));
    assert!(browser.source().contains("id=\"reply-template\""));
    browser.screenshot("inbox-ar-1280-closed.png");
}
