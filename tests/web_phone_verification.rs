//! A mobile number on the profile, verified with a 6-digit code sent by SMS through the stand-in provider:
//! the code arrives in the provider's request and verifies the number; a wrong code is refused and the
//! right one still works; five wrong ones spend the code; a code older than 5 minutes is refused (the
//! server's clock moved by the test); a number that is not one is refused in words and nothing is sent;
//! a provider that fails is said on the page and its code is not in the server's log. With
//! `[accounts] verify_phone = true`, a new business is sent to verify its number before anything else.
//! On the real server, with the real SQLite file.

mod common;
mod two_step_support;

use two_step_support::{Browser, PASSWORD, Site, text_of};

const NUMBER: &str = "+966501234567";

/// The page's text without spaces, dashes or brackets, where a number shown grouped reads as E.164.
fn squeezed(html: &str) -> String {
    html.chars()
        .filter(|c| !c.is_whitespace() && !"-()\u{a0}".contains(*c))
        .collect()
}

/// A 6-digit code that is not `right`.
fn wrong(right: &str) -> String {
    if right == "000000" {
        "111111"
    } else {
        "000000"
    }
    .into()
}

/// The form's error, in words.
fn error_words(html: &str) -> String {
    let words = text_of(html, "form-error").unwrap_or_default();
    assert!(words.len() > 5, "the page says what is wrong: {html}");
    words
}

fn is_verified(site: &Site, email: &str) -> bool {
    site.count(&format!(
        "SELECT count(*) FROM users WHERE email = '{email}' AND phone_verified_at IS NOT NULL"
    )) == 1
}

#[test]
fn a_number_is_verified_with_the_code_sent_to_it_after_a_wrong_one_is_refused() {
    let site = Site::start("");
    let owner = site.signed_in_owner("owner@shop.test");
    let emails = site.emails_to("owner@shop.test").len();
    let activity = two_step_support::activity_rows(&owner);
    assert_eq!(owner.get("/profile/phone").status, 200);

    let asked = owner.add_phone(NUMBER);
    assert_eq!(asked.status, 303, "{}", asked.text);
    assert_eq!(asked.location(), "/profile/phone?sent=1");
    let sent = site.sms.received();
    assert_eq!(sent.len(), 1, "one SMS: {sent:?}");
    let sms = &sent[0];
    assert_eq!((sms.method.as_str(), sms.path.as_str()), ("POST", "/send"));
    assert!(
        sms.header("Content-Type")
            .unwrap_or_default()
            .starts_with("application/json"),
        "{sms:?}"
    );
    assert_eq!(sms.to(), NUMBER, "the template's {{to}} is E.164");
    let code = sms.code();
    assert!(
        code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()),
        "a 6-digit code: {code}"
    );
    assert!(
        sms.field("text").unwrap_or_default().contains(&code),
        "the text has the code: {sms:?}"
    );
    assert_eq!(sms.field("lang").as_deref(), Some("en"));
    assert_eq!(owner.get("/profile/phone?sent=1").status, 200);
    assert!(!is_verified(&site, "owner@shop.test"));

    // A wrong code: refused in words, and the number is not verified.
    let refused = owner.verify_phone_code(&wrong(&code));
    assert_eq!(refused.status, 422, "{}", refused.text);
    error_words(&refused.text);
    assert!(!is_verified(&site, "owner@shop.test"));

    // The right one still works.
    let verified = owner.verify_phone_code(&code);
    assert_eq!(verified.status, 303, "{}", verified.text);
    assert_eq!(verified.location(), "/profile/phone?done=verified");
    assert!(is_verified(&site, "owner@shop.test"));
    let page = owner.get("/profile/phone?done=verified");
    assert_eq!(page.status, 200);
    // Shown whole, or masked but for its last digits.
    let shown = squeezed(&page.text);
    assert!(
        shown.contains(NUMBER)
            || shown.contains(&format!("\u{2022}{}", &NUMBER[NUMBER.len() - 2..])),
        "the number is shown: {}",
        page.text
    );
    assert!(
        page.text.to_lowercase().contains("verified"),
        "shown as verified: {}",
        page.text
    );
    assert_eq!(site.sms.received().len(), 1, "no other SMS was sent");

    // The change is emailed to the person and written to the activity log.
    assert!(
        site.emails_to("owner@shop.test").len() > emails,
        "an email about the new number"
    );
    assert!(two_step_support::activity_rows(&owner) > activity);
}

#[test]
fn five_wrong_codes_spend_the_code_and_a_new_one_must_be_asked_for() {
    let site = Site::start("");
    let owner = site.signed_in_owner("owner@shop.test");
    assert_eq!(owner.add_phone(NUMBER).status, 303);
    let code = site.sms.last_code_to(NUMBER);
    for attempt in 1..=5 {
        let refused = owner.verify_phone_code(&wrong(&code));
        assert_eq!(refused.status, 422, "wrong attempt {attempt}");
    }
    let spent = owner.verify_phone_code(&code);
    assert_eq!(
        spent.status, 422,
        "after five wrong codes, even the right one"
    );
    error_words(&spent.text);
    assert!(!is_verified(&site, "owner@shop.test"));

    // A new code (once the 30 seconds between two SMS to a number have passed) works.
    site.move_clock(31_000);
    assert_eq!(owner.add_phone(NUMBER).status, 303);
    let new_code = site.sms.last_code_to(NUMBER);
    assert_eq!(site.sms.sent_to(NUMBER).len(), 2);
    let verified = owner.verify_phone_code(&new_code);
    assert_eq!(verified.status, 303, "{}", verified.text);
    assert!(is_verified(&site, "owner@shop.test"));
}

#[test]
fn a_code_is_valid_for_five_minutes() {
    let site = Site::start("");
    // Within the five minutes: accepted.
    let first = site.signed_in_owner("first@shop.test");
    assert_eq!(first.add_phone(NUMBER).status, 303);
    site.move_clock(4 * 60_000 + 50_000);
    let verified = first.verify_phone_code(&site.sms.last_code_to(NUMBER));
    assert_eq!(verified.status, 303, "4 min 50 s later: {}", verified.text);

    // After them: refused, and a new code works.
    let other = "+971501234567";
    let second = site.signed_in_owner("second@shop.test");
    assert_eq!(second.add_phone(other).status, 303);
    site.move_clock(5 * 60_000 + 1_000);
    let expired = second.verify_phone_code(&site.sms.last_code_to(other));
    assert_eq!(expired.status, 422, "5 min 1 s later: {}", expired.text);
    error_words(&expired.text);
    assert!(!is_verified(&site, "second@shop.test"));
    assert_eq!(second.add_phone(other).status, 303);
    let verified = second.verify_phone_code(&site.sms.last_code_to(other));
    assert_eq!(verified.status, 303, "{}", verified.text);
}

#[test]
fn a_number_that_is_not_one_is_refused_in_words_and_nothing_is_sent() {
    let site = Site::start("");
    let owner = site.signed_in_owner("owner@shop.test");
    for bad in [
        "0501234567",
        "+12",
        "+9665012345678901",
        "+966 abc",
        "",
        "+000501234567",
    ] {
        let refused = owner.add_phone(bad);
        assert_eq!(refused.status, 422, "{bad:?}: {}", refused.text);
        error_words(&refused.text);
    }
    assert!(site.sms.received().is_empty(), "no SMS for a bad number");
    // Positive control: a real number, through the same form.
    assert_eq!(owner.add_phone(NUMBER).status, 303);
    assert_eq!(site.sms.sent_to(NUMBER).len(), 1);
}

#[test]
fn a_provider_that_fails_is_said_on_the_page_and_the_code_is_not_logged() {
    let site = Site::start("");
    let owner = site.signed_in_owner("owner@shop.test");
    site.sms.fail(true);
    let failed = owner.add_phone(NUMBER);
    assert_ne!(
        failed.location(),
        "/profile/phone?sent=1",
        "not said to be sent"
    );
    assert!(failed.status >= 400, "{}: {}", failed.status, failed.text);
    error_words(&failed.text);
    let code = site.sms.last_code_to(NUMBER);
    assert!(
        site.log()
            .lines()
            .any(|l| l.contains("500") && l.to_lowercase().contains("sms")),
        "the failure is logged with the provider's status: {}",
        site.log()
    );
    assert_eq!(
        site.server().logged(&code),
        0,
        "the code is not in the log: {}",
        site.log()
    );
    assert_eq!(
        site.server().logged(NUMBER),
        0,
        "nor the whole number: {}",
        site.log()
    );

    // Positive control: the provider answers again, and the next code (30 s later) is sent and works.
    site.sms.fail(false);
    site.move_clock(31_000);
    assert_eq!(owner.add_phone(NUMBER).status, 303);
    let verified = owner.verify_phone_code(&site.sms.last_code_to(NUMBER));
    assert_eq!(verified.status, 303, "{}", verified.text);
}

/// Registers a business with the form; the answer.
fn register(browser: &Browser, email: &str, phone: Option<&str>) -> two_step_support::Answer {
    let mut fields = vec![
        ("name", "Layla"),
        ("company", "Gulf Trading"),
        ("email", email),
        ("password", PASSWORD),
        ("accept_privacy", "true"),
    ];
    if let Some(phone) = phone {
        fields.push(("phone", phone));
    }
    browser.submit("/register", "/register", &fields)
}

#[test]
fn registration_can_require_a_verified_number_before_anything_else() {
    // Positive control: without the setting, a new business goes straight to its dashboard.
    let free = Site::start("");
    let browser = free.browser();
    let registered = register(&browser, "layla@gulf.test", None);
    assert_eq!(registered.status, 303, "{}", registered.text);
    assert_eq!(browser.get("/").status, 200);

    let site = Site::start("[accounts]\nverify_phone = true\n");
    let browser = site.browser();
    let form = browser.get("/register");
    assert!(
        form.text.contains("name=\"phone\""),
        "the form asks for a mobile number"
    );
    let registered = register(&browser, "layla@gulf.test", Some(NUMBER));
    assert_eq!(registered.status, 303, "{}", registered.text);
    assert_eq!(registered.location(), "/profile/phone?sent=1");
    let code = site.sms.last_code_to(NUMBER);
    let misdirected: Vec<String> = ["/messages", "/team", "/api-keys", "/profile", "/"]
        .into_iter()
        .map(|path| (path, browser.get(path)))
        .filter(|(_, sent)| (sent.status, sent.location()) != (303, "/profile/phone"))
        .map(|(path, sent)| format!("{path}: {} {}", sent.status, sent.location()))
        .collect();
    let refused = browser.post_with("/api-keys", &browser.any_token(), &[("name", "early")]);
    assert!(
        refused.status == 303 || refused.status == 403,
        "a form of another page is refused: {} {}",
        refused.status,
        refused.text
    );
    assert_eq!(
        site.count("SELECT count(*) FROM api_keys"),
        0,
        "no key was made"
    );

    let verified = browser.verify_phone_code(&code);
    assert_eq!(verified.status, 303, "{}", verified.text);
    for path in ["/", "/messages", "/team", "/api-keys", "/profile"] {
        assert_eq!(browser.get(path).status, 200, "{path} opens once verified");
    }
    // Before the number was verified, every page sent the person to verify it.
    assert!(
        misdirected.is_empty(),
        "not sent to /profile/phone: {misdirected:?}"
    );
}

#[test]
fn removing_the_number_needs_the_password_and_ends_sms_sign_in() {
    let site = Site::start("");
    let owner = site.signed_in_owner("owner@shop.test");
    owner.verify_phone(&site, NUMBER);
    let on = owner.submit("/profile/two-step", "/profile/two-step/sms", &[]);
    assert_eq!(on.status, 200, "{}", on.text);
    let emails = site.emails_to("owner@shop.test").len();
    let activity = two_step_support::activity_rows(&owner);

    let refused = owner.submit(
        "/profile/phone",
        "/profile/phone/remove",
        &[("password", "not the pass phrase")],
    );
    assert_eq!(refused.status, 422, "{}", refused.text);
    error_words(&refused.text);
    assert!(is_verified(&site, "owner@shop.test"), "still there");

    let removed = owner.submit(
        "/profile/phone",
        "/profile/phone/remove",
        &[("password", PASSWORD)],
    );
    assert_eq!(removed.status, 303, "{}", removed.text);
    assert!(!is_verified(&site, "owner@shop.test"));
    assert_eq!(
        site.count("SELECT count(*) FROM users WHERE email = 'owner@shop.test' AND phone IS NULL"),
        1,
        "the number is gone"
    );
    assert!(site.emails_to("owner@shop.test").len() > emails, "emailed");
    assert!(two_step_support::activity_rows(&owner) > activity);
    // SMS was the only second step: signing in takes the password alone again.
    owner.sign_out();
    let again = site.browser().sign_in("owner@shop.test", PASSWORD);
    assert_eq!((again.status, again.location()), (303, "/"));
}

#[test]
fn a_number_someone_else_verified_gets_the_same_answer_and_replacing_ones_own_needs_the_password() {
    let site = Site::start("");
    let first = site.signed_in_owner("first@shop.test");
    first.verify_phone(&site, NUMBER);

    // Another business types the same number, and then one nobody has: the same answer both times, and
    // each verifies (a number is nobody's secret, and the page does not tell whose it is).
    // (Past the 30 seconds one number waits between two codes, whoever asks.)
    site.move_clock(31_000);
    let second = site.signed_in_owner("second@shop.test");
    let taken = second.add_phone(NUMBER);
    let fresh_number = "+966501234568";
    let third = site.signed_in_owner("third@shop.test");
    let fresh = third.add_phone(fresh_number);
    assert_eq!(
        (taken.status, taken.location()),
        (fresh.status, fresh.location())
    );
    assert_eq!(taken.location(), "/profile/phone?sent=1");
    let verified = second.verify_phone_code(&site.sms.last_code_to(NUMBER));
    assert_eq!(verified.location(), "/profile/phone?done=verified");
    assert!(is_verified(&site, "first@shop.test") && is_verified(&site, "second@shop.test"));

    // A verified number is where sign-in codes go: moving them elsewhere takes the password. Without it
    // nothing is sent; with it (the positive control) the code goes to the new number.
    let before = site.sms.sent_to(fresh_number).len();
    let refused = first.add_phone(fresh_number);
    assert_eq!(refused.status, 422, "{}", refused.text);
    error_words(&refused.text);
    site.move_clock(31_000);
    let moved = first.submit(
        "/profile/phone",
        "/profile/phone",
        &[("phone", fresh_number), ("password", PASSWORD)],
    );
    assert_eq!(moved.location(), "/profile/phone?sent=1", "{}", moved.text);
    assert_eq!(site.sms.sent_to(fresh_number).len(), before + 1);
}
