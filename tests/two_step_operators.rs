//! Two-step sign-in for operators: `[accounts] require_two_step_for_operators` sends an operator without it
//! to set it up (the console itself waits), and an operator's authenticator secret, sealed with the
//! installation's own data key, still opens after `whatsapi keys rotate`.

mod common;

use common::web::{App, app_with, csrf_in};
use common::{Install, stderr};
use rocket::http::Status;
use std::time::{SystemTime, UNIX_EPOCH};

const OPERATOR_PASSWORD: &str = "operator pass phrase";

fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn app_on(install: &Install, required: bool) -> App {
    app_with(|c| {
        c.storage.data_dir = install.data_dir();
        c.storage.key_file = install.key_file();
        c.accounts.require_two_step_for_operators = required;
    })
}

fn location(app: &App, path: &str) -> (Status, Option<String>) {
    let answer = app.client.get(path.to_owned()).dispatch();
    let to = answer.headers().get_one("Location").map(str::to_owned);
    (answer.status(), to)
}

/// Enrols an authenticator from the two-step page; the app's account as `totp-rs` reads its URI.
fn enrol(app: &App) -> totp_rs::Totp {
    let started = app.submit("/profile/two-step", "/profile/two-step/authenticator", &[]);
    assert_eq!(started.status(), Status::Ok);
    let html = started.into_string().unwrap();
    assert!(
        html.contains("id=\"two-step-qr\"") && html.contains("<svg"),
        "{html}"
    );
    let at = html.find("<code id=\"otpauth-uri\">").unwrap() + 23;
    let uri = html[at..at + html[at..].find('<').unwrap()]
        .replace("&#38;", "&")
        .replace("&amp;", "&");
    let app_account = totp_rs::Totp::from_url(&uri).unwrap();
    let token = csrf_in(&html);
    let code = app_account.generate(unix_secs()).to_string();
    let confirmed = app.post_raw(
        "/profile/two-step/authenticator/confirm",
        &token,
        &[("code", &code)],
    );
    assert_eq!(confirmed.status(), Status::Ok);
    let html = confirmed.into_string().unwrap();
    assert_eq!(
        html.matches("<li><code>").count(),
        10,
        "ten recovery codes: {html}"
    );
    app_account
}

#[test]
fn an_operator_without_two_step_is_sent_to_set_it_up_and_then_reaches_the_console() {
    let install = Install::new();
    let app = app_on(&install, true);
    app.set_up_operator();
    // The console waits until two-step sign-in is on; so does every other page.
    assert_eq!(
        location(&app, "/admin"),
        (Status::SeeOther, Some("/profile/two-step".into()))
    );
    assert_eq!(
        location(&app, "/profile"),
        (Status::SeeOther, Some("/profile/two-step".into()))
    );
    let (status, html) = app.page("/profile/two-step");
    assert_eq!(status, Status::Ok);
    assert!(
        html.contains("Operators of this installation must use two-step sign-in"),
        "{html}"
    );
    enrol(&app);
    assert_eq!(app.page("/admin").0, Status::Ok);

    // The positive control: without the setting, a new operator's console opens at once.
    let other = Install::new();
    let free = app_on(&other, false);
    free.set_up_operator();
    assert_eq!(free.page("/admin").0, Status::Ok);
    // And a visitor still finds nothing there.
    let visitor = app_on(&Install::new(), true);
    assert_eq!(location(&visitor, "/admin").0, Status::NotFound);
}

#[test]
fn an_operators_authenticator_still_works_after_the_master_key_is_rotated() {
    let install = Install::new();
    let app_account = {
        let app = app_on(&install, false);
        app.set_up_operator();
        enrol(&app)
    };
    let rotated = install.run(&["keys", "rotate"]);
    assert!(rotated.status.success(), "{}", stderr(&rotated));

    let app = app_on(&install, false);
    assert_eq!(
        app.login("op@host.test", OPERATOR_PASSWORD),
        Status::SeeOther
    );
    assert_eq!(
        location(&app, "/admin"),
        (Status::SeeOther, Some("/login/code".into()))
    );
    let (_, html) = app.page("/login/code");
    // The code of the next 30-second step: the one of enrolment was taken then, each works once.
    let code = app_account.generate(unix_secs() + 30).to_string();
    let answer = app.post_raw("/login/code", &csrf_in(&html), &[("code", &code)]);
    assert_eq!(answer.status(), Status::SeeOther);
    assert_eq!(answer.headers().get_one("Location"), Some("/"));
    assert_eq!(app.page("/admin").0, Status::Ok);
}
