//! Two-step sign-in on the real server: an authenticator app enrolled from the `otpauth://` URI on the
//! page (its codes computed here, RFC 6238), then asked for at every sign-in; a wrong code, one from three
//! steps ago and one used before are refused; five wrong codes end the password-only session; a recovery
//! code works once, and new ones replace the old; SMS to a verified number as the second step;
//! disabling needs the password and a current code; an owner requiring two-step sends every member to
//! enrolment, `[accounts] require_two_step_for_operators` every operator; API keys are unaffected.
//! Every change is emailed to the person and written to the activity log.

mod common;
mod two_step_support;

use common::web::csrf_in;
use two_step_support::{
    Authenticator, Browser, PASSWORD, Site, activity_rows, recovery_codes, text_of,
};

const NUMBER: &str = "+966501234567";

/// A 6-digit code the authenticator does not show around now (two steps either side).
fn wrong_code(app: &Authenticator, site: &Site) -> String {
    let now = Authenticator::step_now(site);
    let near: Vec<String> = (now - 2..=now + 2).map(|s| app.code_at_step(s)).collect();
    ["000000", "111111", "222222"]
        .into_iter()
        .find(|c| !near.iter().any(|n| n == c))
        .unwrap()
        .to_owned()
}

/// The form's error, in words.
fn error_words(html: &str) -> String {
    let words = text_of(html, "form-error").unwrap_or_default();
    assert!(words.len() > 5, "the page says what is wrong: {html}");
    words
}

/// RFC 4648 base32 (no padding) decoded.
fn base32(text: &str) -> Vec<u8> {
    let (mut bits, mut value, mut out) = (0, 0u32, Vec::new());
    for c in text.trim_end_matches('=').chars() {
        let digit = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
            .find(c.to_ascii_uppercase())
            .expect("base32") as u32;
        value = (value << 5) | digit;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((value >> bits) as u8);
        }
    }
    out
}

/// The bytes of the database and its write-ahead log.
fn database_bytes(site: &Site) -> Vec<u8> {
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(site.install.data_dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("whatsapi.db") {
            bytes.extend(std::fs::read(&path).unwrap_or_default());
        }
    }
    bytes
}

fn holds(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Signs in with the password and the next code of `app`, landing on the dashboard.
fn sign_in_with_app(site: &Site, app: &Authenticator, email: &str) -> Browser {
    let browser = site.browser();
    browser.sign_in_to_code_step(email);
    let done = browser.enter_code(&app.next_code(site));
    assert_eq!(done.status, 303, "{}", done.text);
    assert_eq!(done.location(), "/");
    browser
}

#[test]
fn an_authenticator_is_enrolled_from_its_qr_code_and_asked_for_at_every_sign_in() {
    let site = Site::start("");
    let owner = site.signed_in_owner("owner@shop.test");
    let emails = site.emails_to("owner@shop.test").len();
    let activity = activity_rows(&owner);
    let off = owner.get("/profile/two-step");
    assert_eq!(off.status, 200);
    let off = status_words(&off.text);

    let page = owner.start_authenticator();
    let app = Authenticator::from_page(&page.text);
    assert!(
        app.uri.contains("owner%40shop.test") || app.uri.contains("owner@shop.test"),
        "the app names the person: {}",
        app.uri
    );
    // A wrong first code: refused, with the same QR code to scan again.
    let refused = owner.post_with(
        "/profile/two-step/authenticator/confirm",
        &csrf_in(&page.text),
        &[("code", &wrong_code(&app, &site))],
    );
    assert_eq!(refused.status, 422, "{}", refused.text);
    error_words(&refused.text);
    assert_eq!(Authenticator::from_page(&refused.text).uri, app.uri);
    // Not on until confirmed: another browser signs in with the password alone.
    let meanwhile = site.browser().sign_in("owner@shop.test", PASSWORD);
    assert_eq!(
        (meanwhile.status, meanwhile.location()),
        (303, "/"),
        "not yet on"
    );

    let confirmed = owner.post_with(
        "/profile/two-step/authenticator/confirm",
        &csrf_in(&refused.text),
        &[("code", &app.next_code(&site))],
    );
    assert_eq!(confirmed.status, 200, "{}", confirmed.text);
    let shown_on_confirmation = status_words(&confirmed.text);
    let codes = recovery_codes(&confirmed.text);
    assert_eq!(codes.len(), 10, "{codes:?}");
    for code in &codes {
        let (a, b) = code.split_once('-').unwrap_or(("", ""));
        assert!(
            a.len() == 5
                && b.len() == 5
                && (a.to_owned() + b)
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || ('2'..='9').contains(&c)),
            "abcde-fghij: {code}"
        );
    }
    let mut distinct = codes.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 10, "{codes:?}");
    // Shown once: the status page does not show them again.
    let status = owner.get("/profile/two-step");
    assert_eq!(status.status, 200);
    let on = status_words(&status.text);
    assert_ne!(on, off, "the status page says two-step sign-in is on");
    assert!(codes.iter().all(|c| !status.text.contains(c.as_str())));
    // Stored hashed and sealed: neither the codes nor the secret are in the database's files.
    let secret = app
        .uri
        .split("secret=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let bytes = database_bytes(&site);
    assert!(!holds(&bytes, secret.as_bytes()), "the secret in base32");
    assert!(!holds(&bytes, &base32(secret)), "the secret's bytes");
    for code in &codes {
        assert!(!holds(&bytes, code.as_bytes()), "{code}");
        assert!(!holds(&bytes, code.replace('-', "").as_bytes()), "{code}");
    }
    assert!(site.emails_to("owner@shop.test").len() > emails, "emailed");
    assert!(activity_rows(&owner) > activity, "in the activity log");
    owner.sign_out();

    let browser = site.browser();
    browser.sign_in_to_code_step("owner@shop.test");
    let step = browser.get("/login/code");
    assert_eq!(step.status, 200);
    assert!(step.text.contains("action=\"/login/code\""));
    assert!(
        !step.text.contains("/login/code/sms"),
        "no SMS without a number"
    );
    assert_eq!(browser.get("/profile").location(), "/login/code");
    let password_only = browser.session().expect("a password-only session");
    let done = browser.enter_code(&app.next_code(&site));
    assert_eq!(done.status, 303, "{}", done.text);
    assert_eq!(done.location(), "/");
    assert_ne!(
        browser.session().as_ref(),
        Some(&password_only),
        "a new session id"
    );
    assert_eq!(browser.get("/").status, 200);
    // The page that shows the recovery codes says the state it just made.
    assert_eq!(
        shown_on_confirmation, on,
        "the confirmation page's status: two-step sign-in is on"
    );
}

/// The status line of the two-step page: the first bold words after its heading.
fn status_words(html: &str) -> String {
    let after = &html[html.find("<h1").expect("a heading")..];
    let start = after.find("<strong>").expect("a status in bold") + "<strong>".len();
    after[start..start + after[start..].find("</strong>").unwrap()].to_owned()
}

#[test]
fn a_wrong_code_an_old_one_and_a_used_one_are_refused() {
    let site = Site::start("");
    let owner = site.signed_in_owner("owner@shop.test");
    let app = owner.enrol_authenticator(&site);
    owner.sign_out();

    let browser = site.browser();
    browser.sign_in_to_code_step("owner@shop.test");
    let wrong = browser.enter_code(&wrong_code(&app, &site));
    assert_eq!(wrong.status, 401, "{}", wrong.text);
    error_words(&wrong.text);
    let old = app.code_at_step(Authenticator::step_now(&site) - 3);
    let expired = browser.enter_code(&old);
    assert_eq!(expired.status, 401, "a code of three steps ago");
    assert_eq!(
        browser.get("/profile").location(),
        "/login/code",
        "still at the code step"
    );
    // Positive control: the current code works in the same session.
    let done = browser.enter_code(&app.next_code(&site));
    assert_eq!((done.status, done.location()), (303, "/"), "{}", done.text);
    browser.sign_out();

    let again = site.browser();
    again.sign_in_to_code_step("owner@shop.test");
    let reused = again.enter_code(&app.last_code());
    assert_eq!(reused.status, 401, "the same code twice");
    let done = again.enter_code(&app.next_code(&site));
    assert_eq!((done.status, done.location()), (303, "/"), "{}", done.text);
}

#[test]
fn five_wrong_codes_end_the_password_only_session() {
    let site = Site::start("");
    let owner = site.signed_in_owner("owner@shop.test");
    let app = owner.enrol_authenticator(&site);
    owner.sign_out();

    let browser = site.browser();
    browser.sign_in_to_code_step("owner@shop.test");
    let token = csrf_in(&browser.get("/login/code").text);
    let wrong = wrong_code(&app, &site);
    let mut told = None;
    for attempt in 1..=5 {
        let answer = browser.post_with("/login/code", &token, &[("code", &wrong)]);
        if attempt < 5 {
            assert_eq!(answer.status, 401, "attempt {attempt}");
        } else if answer.status == 303 {
            told = Some(answer.location().to_owned());
        } else {
            assert_eq!(answer.status, 401, "attempt 5");
        }
    }
    let told = told.unwrap_or_else(|| browser.get("/login/code").location().to_owned());
    assert_eq!(told, "/login?done=code_attempts");
    // The session is over: even the right code does not sign it in.
    let late = browser.post_with("/login/code", &token, &[("code", &app.next_code(&site))]);
    assert_ne!(late.location(), "/", "{} {}", late.status, late.text);
    assert!(browser.get("/profile").location().starts_with("/login"));
    assert_ne!(browser.get("/profile").location(), "/login/code");

    // Positive control: a new sign-in with a right code, once the person's tries of the last 15
    // minutes are behind them (guesses are also counted per person, across sessions).
    site.move_clock(15 * 60_000 + 1_000);
    sign_in_with_app(&site, &app, "owner@shop.test");
}

#[test]
fn a_recovery_code_works_once_and_new_codes_replace_the_old() {
    let site = Site::start("");
    let owner = site.signed_in_owner("owner@shop.test");
    let app = owner.enrol_authenticator(&site);
    owner.sign_out();

    let browser = site.browser();
    browser.sign_in_to_code_step("owner@shop.test");
    let used = app.take_recovery_code();
    let done = browser.enter_code(&used);
    assert_eq!((done.status, done.location()), (303, "/"), "{}", done.text);
    browser.sign_out();

    browser.sign_in_to_code_step("owner@shop.test");
    assert_eq!(browser.enter_code(&used).status, 401, "used once");
    // Dash and case are optional.
    let typed = app.take_recovery_code().replace('-', "").to_uppercase();
    let done = browser.enter_code(&typed);
    assert_eq!(
        (done.status, done.location()),
        (303, "/"),
        "{typed}: {}",
        done.text
    );

    // New codes: ten others, and the old ones stop working.
    let emails = site.emails_to("owner@shop.test").len();
    let renewed = browser.submit(
        "/profile/two-step",
        "/profile/two-step/recovery",
        &[("code", &app.next_code(&site))],
    );
    assert_eq!(renewed.status, 200, "{}", renewed.text);
    let new_codes = recovery_codes(&renewed.text);
    assert_eq!(new_codes.len(), 10, "{}", renewed.text);
    let old_unused = app.take_recovery_code();
    assert!(!new_codes.contains(&old_unused));
    assert!(site.emails_to("owner@shop.test").len() > emails, "emailed");
    browser.sign_out();

    browser.sign_in_to_code_step("owner@shop.test");
    assert_eq!(
        browser.enter_code(&old_unused).status,
        401,
        "an old code after new ones were made"
    );
    let done = browser.enter_code(&new_codes[0]);
    assert_eq!((done.status, done.location()), (303, "/"), "{}", done.text);
}

#[test]
fn sms_to_the_verified_number_is_a_second_step() {
    let site = Site::start("");
    // Refused without a verified number: nothing turned on.
    let other = site.signed_in_owner("other@shop.test");
    let refused = other.submit("/profile/two-step", "/profile/two-step/sms", &[]);
    assert!(
        refused.status >= 400,
        "{}: {}",
        refused.status,
        refused.text
    );
    assert!(recovery_codes(&refused.text).is_empty());
    other.sign_out();
    let still_off = site.browser().sign_in("other@shop.test", PASSWORD);
    assert_eq!((still_off.status, still_off.location()), (303, "/"));

    let owner = site.signed_in_owner("owner@shop.test");
    owner.verify_phone(&site, NUMBER);
    let emails = site.emails_to("owner@shop.test").len();
    let on = owner.submit("/profile/two-step", "/profile/two-step/sms", &[]);
    assert_eq!(on.status, 200, "{}", on.text);
    let shown_on = status_words(&on.text);
    assert_eq!(
        recovery_codes(&on.text).len(),
        10,
        "recovery codes with the first second step"
    );
    assert!(site.emails_to("owner@shop.test").len() > emails, "emailed");
    owner.sign_out();

    // The next SMS to the number may go 30 s after the verification's.
    site.move_clock(31_000);
    let browser = site.browser();
    browser.sign_in_to_code_step("owner@shop.test");
    let step = browser.get("/login/code");
    assert!(
        step.text.contains("action=\"/login/code/sms\""),
        "{}",
        step.text
    );
    let before = site.sms.sent_to(NUMBER).len();
    let sent = browser.submit("/login/code", "/login/code/sms", &[]);
    assert_eq!(
        (sent.status, sent.location()),
        (303, "/login/code?sent=1"),
        "{}",
        sent.text
    );
    assert_eq!(site.sms.sent_to(NUMBER).len(), before + 1);
    let code = site.sms.last_code_to(NUMBER);
    assert_eq!(browser.get("/login/code?sent=1").status, 200);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    assert_eq!(browser.enter_code(wrong).status, 401);
    let done = browser.enter_code(&code);
    assert_eq!((done.status, done.location()), (303, "/"), "{}", done.text);
    assert_eq!(browser.get("/").status, 200);
    assert_eq!(
        shown_on,
        status_words(&browser.get("/profile/two-step").text),
        "the page that turned SMS on says two-step sign-in is on"
    );
}

#[test]
fn disabling_needs_the_password_and_a_current_code() {
    let site = Site::start("");
    let owner = site.signed_in_owner("owner@shop.test");
    let app = owner.enrol_authenticator(&site);
    let emails = site.emails_to("owner@shop.test").len();
    let activity = activity_rows(&owner);

    let wrong_password = owner.submit(
        "/profile/two-step",
        "/profile/two-step/disable",
        &[
            ("password", "not the pass phrase"),
            ("code", &app.next_code(&site)),
        ],
    );
    assert_eq!(wrong_password.status, 422, "{}", wrong_password.text);
    error_words(&wrong_password.text);
    let wrong = owner.submit(
        "/profile/two-step",
        "/profile/two-step/disable",
        &[("password", PASSWORD), ("code", &wrong_code(&app, &site))],
    );
    assert_eq!(wrong.status, 422, "{}", wrong.text);
    error_words(&wrong.text);
    // Still on: the next sign-in asks for the code.
    owner.sign_out();
    let owner = site.browser();
    owner.sign_in_to_code_step("owner@shop.test");
    assert_eq!(
        owner.enter_code(&app.next_code(&site)).location(),
        "/",
        "signed in"
    );

    let off = owner.submit(
        "/profile/two-step",
        "/profile/two-step/disable",
        &[("password", PASSWORD), ("code", &app.next_code(&site))],
    );
    assert_eq!(off.status, 303, "{}", off.text);
    assert_eq!(off.location(), "/profile/two-step?done=disabled");
    assert!(site.emails_to("owner@shop.test").len() > emails, "emailed");
    assert!(activity_rows(&owner) > activity, "in the activity log");
    owner.sign_out();
    let plain = site.browser().sign_in("owner@shop.test", PASSWORD);
    assert_eq!(
        (plain.status, plain.location()),
        (303, "/"),
        "the password alone again"
    );
}

/// Pages every member of an account may open.
const PAGES: [&str; 5] = ["/messages", "/team", "/inbox", "/profile", "/"];

#[test]
fn an_owner_requiring_two_step_sends_every_member_to_enrolment() {
    let site = Site::start("");
    let owner = site.signed_in_owner("owner@shop.test");
    let member = site.member(&owner, "member@shop.test", "member");
    // Positive control: not required, the member's pages open.
    for path in PAGES {
        assert_eq!(member.get(path).status, 200, "{path}");
    }

    owner.enrol_authenticator(&site);
    let required = owner.submit("/team", "/team/two-step", &[("require", "on")]);
    assert_eq!(required.status, 303, "{}", required.text);
    assert_eq!(required.location(), "/team?done=two_step");
    // Checked at the end, so that one page sent elsewhere does not hide the rest.
    let misdirected = sent_elsewhere(&member, &PAGES, "/profile/two-step");
    assert_eq!(member.get("/profile/two-step").status, 200);
    // A form of another page is refused too.
    let token = csrf_in(&member.get("/profile/two-step").text);
    let renamed = member.post_with("/profile/name", &token, &[("name", "Changed")]);
    assert!(
        [303, 401, 403].contains(&renamed.status),
        "{}",
        renamed.status
    );
    assert_eq!(
        site.count("SELECT count(*) FROM users WHERE name = 'Changed'"),
        0
    );
    // Signing out works; signing in again leads to enrolment.
    member.sign_out();
    let member = site.browser();
    let answer = member.sign_in("member@shop.test", PASSWORD);
    assert_eq!(answer.status, 303, "{}", answer.text);
    assert_eq!(member.get("/profile").location(), "/profile/two-step");

    // Once enrolled, every page opens.
    member.enrol_authenticator(&site);
    for path in PAGES {
        assert_eq!(member.get(path).status, 200, "{path}");
    }
    // The owner, enrolled, was never held.
    for path in PAGES {
        assert_eq!(owner.get(path).status, 200, "the owner's {path}");
    }
    assert!(
        misdirected.is_empty(),
        "while required, not sent to enrolment: {misdirected:?}"
    );
}

/// The pages among `paths` that do not send `browser` to `step` (303), with where they did send it.
fn sent_elsewhere(browser: &Browser, paths: &[&str], step: &str) -> Vec<String> {
    paths
        .iter()
        .map(|path| (path, browser.get(path)))
        .filter(|(_, sent)| (sent.status, sent.location()) != (303, step))
        .map(|(path, sent)| format!("{path}: {} {}", sent.status, sent.location()))
        .collect()
}

#[test]
fn operators_can_all_be_required_to_use_two_step() {
    // Positive control: without the setting, an operator's console opens after the password.
    let free = Site::start("");
    let operator = free.operator("op@host.test");
    assert_eq!(operator.get("/admin").status, 200);

    let site = Site::start("[accounts]\nrequire_two_step_for_operators = true\n");
    let operator = site.operator("op@host.test");
    let misdirected = sent_elsewhere(&operator, &["/profile", "/admin"], "/profile/two-step");
    // A business's owner is not an operator: not held.
    let owner = site.signed_in_owner("owner@shop.test");
    assert_eq!(owner.get("/").status, 200);

    let app = operator.enrol_authenticator(&site);
    assert_eq!(operator.get("/admin").status, 200);
    operator.sign_out();
    let operator = site.browser();
    operator.sign_in_to_code_step("op@host.test");
    let at_code_step = sent_elsewhere(&operator, &["/profile", "/admin"], "/login/code");
    assert_eq!(
        operator.enter_code(&app.next_code(&site)).status,
        303,
        "the code"
    );
    assert_eq!(operator.get("/admin").status, 200);
    assert!(
        misdirected.is_empty(),
        "while required, not sent to enrolment: {misdirected:?}"
    );
    assert!(
        at_code_step.is_empty(),
        "at the code step, not sent to it: {at_code_step:?}"
    );
}

#[test]
fn api_keys_work_whatever_the_two_step_state() {
    let site = Site::start("");
    let account = site.owner("owner@shop.test");
    let key = site.api_key(&account);
    assert_eq!(site.api_get(&key, "/api/v1/connections").0, 200);

    let owner = site.browser();
    assert_eq!(owner.sign_in("owner@shop.test", PASSWORD).location(), "/");
    let member = site.member(&owner, "member@shop.test", "member");
    owner.enrol_authenticator(&site);
    let required = owner.submit("/team", "/team/two-step", &[("require", "on")]);
    assert_eq!(required.location(), "/team?done=two_step");
    // A member held at enrolment and the owner at the code step: the key still works.
    assert_eq!(member.get("/profile").location(), "/profile/two-step");
    owner.sign_out();
    owner.sign_in_to_code_step("owner@shop.test");
    let (status, body) = site.api_get(&key, "/api/v1/connections");
    assert_eq!(status, 200, "{body}");
    let (status, body) = site.api_get(&key, "/api/v1/messages");
    assert_eq!(status, 200, "{body}");
}
