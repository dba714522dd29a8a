//! The limits on sending codes by SMS: one per 30 seconds per number, five an hour per number and per
//! account, for the phone's verification and for the sign-in's second step alike. A throttled request
//! sends nothing and says so (counted at the stand-in after a later send that was allowed), and the
//! limits hold across a restart of the server on the same data, since they are kept in the database.
//! The server's clock is moved by the test (`WAPI_TEST_CLOCK_FILE`).

mod common;
mod two_step_support;

use two_step_support::{PASSWORD, Site, text_of};

const NUMBER: &str = "+966501234567";
const OTHER: &str = "+971501234567";

/// The refusal says, in words, that the person must wait.
fn says_wait(html: &str) {
    let words = text_of(html, "form-error").unwrap_or_default();
    assert!(words.len() > 5, "the page says why: {html}");
}

#[test]
fn one_code_per_30_seconds_per_number_even_across_a_restart() {
    let mut site = Site::start("");
    let owner = site.signed_in_owner("owner@shop.test");
    assert_eq!(owner.add_phone(NUMBER).status, 303);
    let again = owner.add_phone(NUMBER);
    assert_eq!(again.status, 429, "{}", again.text);
    says_wait(&again.text);
    site.move_clock(20_000);
    assert_eq!(owner.add_phone(NUMBER).status, 429, "20 s later");

    site.restart();
    let after = owner.add_phone(NUMBER);
    assert_eq!(
        after.status, 429,
        "a restart forgives nothing: {}",
        after.text
    );

    site.move_clock(11_000);
    let allowed = owner.add_phone(NUMBER);
    assert_eq!(
        allowed.status, 303,
        "31 s after the first: {}",
        allowed.text
    );
    // The refused requests sent nothing: two SMS in all, the first and the one allowed.
    assert_eq!(site.sms.sent_to(NUMBER).len(), 2);
    // The last code is the one that counts.
    let verified = owner.verify_phone_code(&site.sms.last_code_to(NUMBER));
    assert_eq!(verified.status, 303, "{}", verified.text);
}

#[test]
fn five_codes_an_hour_per_number_and_per_account_even_across_a_restart() {
    let mut site = Site::start("");
    let first = site.signed_in_owner("first@shop.test");
    for n in 0..5 {
        if n > 0 {
            site.move_clock(31_000);
        }
        let sent = first.add_phone(NUMBER);
        assert_eq!(sent.status, 303, "code {}: {}", n + 1, sent.text);
    }
    site.move_clock(31_000);
    let sixth = first.add_phone(NUMBER);
    assert_eq!(sixth.status, 429, "a sixth within the hour");
    says_wait(&sixth.text);
    // Per number: another account asking for the same number is refused too.
    let second = site.signed_in_owner("second@shop.test");
    assert_eq!(second.add_phone(NUMBER).status, 429, "the same number");
    // Per account: the first account's five count for any number.
    assert_eq!(first.add_phone(OTHER).status, 429, "the same account");
    // Positive control: another account and another number.
    assert_eq!(second.add_phone(OTHER).status, 303);
    assert_eq!(site.sms.sent_to(NUMBER).len(), 5);
    assert_eq!(site.sms.sent_to(OTHER).len(), 1);

    site.restart();
    let first = site.browser();
    assert_eq!(first.sign_in("first@shop.test", PASSWORD).location(), "/");
    assert_eq!(first.add_phone(NUMBER).status, 429, "after a restart");
    assert_eq!(site.sms.sent_to(NUMBER).len(), 5);

    // An hour after the first code, one more is allowed (signed in again: the session idled out).
    site.move_clock(3_600_000 - 4 * 31_000);
    let first = site.browser();
    assert_eq!(first.sign_in("first@shop.test", PASSWORD).location(), "/");
    assert_eq!(first.add_phone(NUMBER).status, 303, "an hour later");
    assert_eq!(site.sms.sent_to(NUMBER).len(), 6);
}

#[test]
fn the_sign_in_code_by_sms_is_throttled_too_even_across_a_restart() {
    let mut site = Site::start("");
    let owner = site.signed_in_owner("owner@shop.test");
    owner.verify_phone(&site, NUMBER);
    let on = owner.submit("/profile/two-step", "/profile/two-step/sms", &[]);
    assert_eq!(on.status, 200, "{}", on.text);
    owner.sign_out();
    site.move_clock(31_000);

    let browser = site.browser();
    browser.sign_in_to_code_step("owner@shop.test");
    let before = site.sms.sent_to(NUMBER).len();
    let sent = browser.submit("/login/code", "/login/code/sms", &[]);
    assert_eq!((sent.status, sent.location()), (303, "/login/code?sent=1"));
    let sent_page = browser.get(sent.location());
    assert_eq!(sent_page.status, 200);
    assert_eq!(site.sms.sent_to(NUMBER).len(), before + 1);
    let first_code = site.sms.last_code_to(NUMBER);

    let again = browser.submit("/login/code", "/login/code/sms", &[]);
    assert_eq!(again.status, 303, "{}", again.text);
    // Where it is sent is checked last, so that what the person reads is checked first.
    let throttled_to = again.location().to_owned();
    let wait_page = browser.get(again.location());
    assert_eq!(wait_page.status, 200);
    assert!(
        wait_page.text.to_lowercase().contains("wait"),
        "the page says to wait: {}",
        wait_page.text
    );
    assert_ne!(
        sent_page.text, wait_page.text,
        "not the words of a code sent"
    );

    site.restart();
    let after = browser.submit("/login/code", "/login/code/sms", &[]);
    assert_eq!(after.status, 303);
    assert!(
        browser
            .get(after.location())
            .text
            .to_lowercase()
            .contains("wait"),
        "still throttled after a restart"
    );

    site.move_clock(31_000);
    let allowed = browser.submit("/login/code", "/login/code/sms", &[]);
    assert_eq!(allowed.location(), "/login/code?sent=1");
    // Only the first and the allowed one were sent.
    assert_eq!(site.sms.sent_to(NUMBER).len(), before + 2);
    let code = site.sms.last_code_to(NUMBER);
    assert_ne!(code, first_code, "a new code");
    let done = browser.enter_code(&code);
    assert_eq!((done.status, done.location()), (303, "/"), "{}", done.text);
    assert_eq!(
        throttled_to, "/login/code?sent=wait",
        "the code page, told that nothing was sent"
    );
}
