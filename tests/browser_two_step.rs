//! Two-step sign-in in a real headless Chromium against the real server, in English and in Arabic: a
//! person enrols an authenticator app from the enrolment page (the QR code drawn there, the
//! `otpauth://` URI read from it and the app's code computed here), sees the ten recovery codes, signs
//! out, and signs in again with the password and then the app's code.

mod common;
mod two_step_support;

use common::webdriver::Browser;
use serde_json::json;
use two_step_support::{Authenticator, PASSWORD, Site};

fn text(browser: &Browser, css: &str) -> String {
    browser
        .script(&format!(
            "const e = document.querySelector('{css}'); return e ? e.textContent.trim() : '';"
        ))
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn count(browser: &Browser, css: &str) -> u64 {
    browser
        .script(&format!(
            "return document.querySelectorAll('{css}').length;"
        ))
        .as_u64()
        .unwrap_or(0)
}

fn lang_and_dir(browser: &Browser) -> serde_json::Value {
    browser.script("return [document.documentElement.lang, document.documentElement.dir]")
}

fn is_arabic(words: &str) -> bool {
    words
        .chars()
        .any(|c| ('\u{0600}'..='\u{06FF}').contains(&c))
}

/// Signs in with the password at /login, landing where the server sends the person.
fn password_step(browser: &Browser, base: &str, email: &str) {
    browser.goto(&format!("{base}/login"));
    browser.fill("#email", email);
    browser.fill("#password", PASSWORD);
    browser.click("form[action='/login'] button[type=submit]");
    browser.wait_until("the next page", |b| !b.url().ends_with("/login"));
}

fn sign_out(browser: &Browser, base: &str) {
    browser.click("#nav-more > summary");
    browser.click("form[action='/logout'] button");
    browser.wait_until("signed out", |b| {
        b.url().starts_with(&format!("{base}/login"))
    });
}

/// Enrols an authenticator from the enrolment page; the app, holding the URI read from the page.
fn enrol(browser: &Browser, site: &Site, arabic: bool) -> Authenticator {
    let base = &site.base;
    browser.goto(&format!("{base}/profile/two-step"));
    browser.click("form[action='/profile/two-step/authenticator'] button");
    browser.wait_until("the QR code", |b| count(b, "#two-step-qr svg") == 1);
    if arabic {
        assert_eq!(lang_and_dir(browser), json!(["ar", "rtl"]));
        assert!(is_arabic(&text(browser, "h1")), "{}", text(browser, "h1"));
    }
    // The QR code is drawn, not empty: it has dark modules.
    assert!(count(browser, "#two-step-qr svg *") > 0);
    let uri = text(browser, "#otpauth-uri");
    let app = Authenticator::from_uri(&uri);
    browser.fill(
        "form[action='/profile/two-step/authenticator/confirm'] input[name=code]",
        &app.next_code(site),
    );
    browser.click("form[action='/profile/two-step/authenticator/confirm'] button");
    browser.wait_until("the recovery codes", |b| {
        count(b, "#recovery-codes li") == 10
    });
    app
}

/// Signs in with the password and the app's code; checks the code page's language on the way.
fn sign_in_with_code(
    browser: &Browser,
    site: &Site,
    email: &str,
    app: &Authenticator,
    arabic: bool,
) {
    let base = &site.base;
    password_step(browser, base, email);
    assert_eq!(browser.url(), format!("{base}/login/code"), "the code step");
    let expected = if arabic {
        json!(["ar", "rtl"])
    } else {
        json!(["en", "ltr"])
    };
    assert_eq!(lang_and_dir(browser), expected);
    let heading = text(browser, "h1");
    assert_eq!(is_arabic(&heading), arabic, "{heading}");
    browser.fill(
        "form[action='/login/code'] input[name=code]",
        &app.next_code(site),
    );
    browser.click("form[action='/login/code'] button");
    browser.wait_until("the dashboard", |b| b.url() == format!("{base}/"));
}

#[test]
fn enrolling_an_authenticator_and_signing_in_with_its_code_in_english_and_in_arabic() {
    let site = Site::start("");
    let base = site.base.clone();
    site.owner("emma@shop.test");
    site.owner("layla@gulf.test");
    let browser = Browser::start();

    // In English.
    password_step(&browser, &base, "emma@shop.test");
    assert_eq!(browser.url(), format!("{base}/"));
    let app = enrol(&browser, &site, false);
    browser.screenshot("two-step-enrolled-en.png");
    sign_out(&browser, &base);
    sign_in_with_code(&browser, &site, "emma@shop.test", &app, false);
    browser.screenshot("two-step-signed-in-en.png");
    sign_out(&browser, &base);

    // In Arabic.
    password_step(&browser, &base, "layla@gulf.test");
    browser.click("form.lang-switch button[value=ar]");
    browser.wait_until("the Arabic page", |b| {
        b.script("return document.documentElement.dir").as_str() == Some("rtl")
    });
    let app = enrol(&browser, &site, true);
    browser.screenshot("two-step-enrolled-ar.png");
    sign_out(&browser, &base);
    sign_in_with_code(&browser, &site, "layla@gulf.test", &app, true);
    assert_eq!(lang_and_dir(&browser), json!(["ar", "rtl"]));
    browser.screenshot("two-step-signed-in-ar.png");
}
