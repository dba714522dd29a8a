//! One digit style per language, and inputs that take both: an Arabic page writes Western digits, and a
//! code typed with Arabic-Indic digits (as an Arabic phone keyboard types them) is read as the same code.
//! In a real headless Chromium against the real server: a person enrols an authenticator app in Arabic,
//! typing the app's code in Arabic-Indic digits; a wrong code typed the same way is refused first.

mod common;
mod two_step_support;

use common::webdriver::Browser;
use two_step_support::{Authenticator, PASSWORD, Site};

/// The same digits, written in Arabic-Indic (٠-٩).
fn arabic_indic(code: &str) -> String {
    code.chars()
        .map(|c| match c.to_digit(10) {
            Some(d) => char::from_u32(0x0660 + d).unwrap(),
            None => c,
        })
        .collect()
}

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

#[test]
fn an_arabic_page_writes_western_digits_and_takes_a_code_typed_in_arabic_indic_digits() {
    let site = Site::start("");
    let base = site.base.clone();
    site.owner("layla@gulf.test");
    let browser = Browser::start();
    browser.goto(&format!("{base}/login"));
    browser.fill("#email", "layla@gulf.test");
    browser.fill("#password", PASSWORD);
    browser.click("form[action='/login'] button[type=submit]");
    browser.wait_until("the dashboard", |b| b.url() == format!("{base}/"));
    browser.click("form.lang-switch button[value=ar]");
    browser.wait_until("the Arabic page", |b| {
        b.script("return document.documentElement.dir").as_str() == Some("rtl")
    });

    // The page's own numbers and dates are in Western digits, and no Arabic-Indic digit is anywhere.
    let main = text(&browser, "main");
    assert!(main.chars().any(|c| c.is_ascii_digit()), "{main}");
    assert!(
        !main
            .chars()
            .any(|c| ('\u{0660}'..='\u{0669}').contains(&c)
                || ('\u{06F0}'..='\u{06F9}').contains(&c)),
        "one digit style: {main}"
    );

    browser.goto(&format!("{base}/profile/two-step"));
    browser.click("form[action='/profile/two-step/authenticator'] button");
    browser.wait_until("the QR code", |b| count(b, "#two-step-qr svg") == 1);
    let app = Authenticator::from_uri(&text(&browser, "#otpauth-uri"));
    let code = app.next_code(&site);
    let field = "form[action='/profile/two-step/authenticator/confirm'] input[name=code]";
    let confirm = "form[action='/profile/two-step/authenticator/confirm'] button";

    // The control: a wrong code, in the same digits, is refused (and nothing is enrolled).
    let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000);
    browser.fill(field, &arabic_indic(&wrong));
    browser.click(confirm);
    browser.wait_until("the refusal", |b| count(b, "#form-error") > 0);
    assert_eq!(count(&browser, "#recovery-codes li"), 0);

    // The right code, typed "١٢٣ ٤٥٦" as an Arabic keyboard types it, is taken.
    let typed = arabic_indic(&format!("{} {}", &code[..3], &code[3..]));
    assert!(typed.chars().all(|c| !c.is_ascii_digit()), "{typed}");
    browser.fill(field, &typed);
    browser.screenshot("digits-code-ar-1280.png");
    browser.click(confirm);
    browser.wait_until("the recovery codes", |b| {
        count(b, "#recovery-codes li") == 10
    });
    browser.screenshot("digits-enrolled-ar-1280.png");
}
