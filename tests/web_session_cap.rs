//! How many sessions one person may have (`[sessions] max_per_person`), and how many "new sign-in" emails
//! sign-ins cause: one per browser, and a few per hour at most whatever the burst. On the real server.

mod common;

use common::api::PASSWORD;

use common::raw::Browser;
use common::web::decode_email;
use common::{Install, Server};
use std::sync::{Arc, Barrier};

/// The server with at most three sessions per person, behind a proxy (this machine) that forwards each
/// browser's address, so that sign-ins at once come from as many addresses as browsers.
fn serve(install: &Install) -> Server {
    let mut cmd = install.command(&["serve"]);
    cmd.env("WHATSAPI_SESSIONS__MAX_PER_PERSON", "3")
        .env("WHATSAPI_SERVER__TRUSTED_PROXIES", "[\"127.0.0.1\"]")
        .env("WHATSAPI_RETENTION__SCHEDULE", "0 0 0 29 2 *");
    install.serve_with(cmd)
}

/// The "new sign-in" alerts in the outbox.
fn alerts(install: &Install) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(install.data_dir().join("outbox")) else {
        return Vec::new();
    };
    dir.map(|e| decode_email(&std::fs::read_to_string(e.unwrap().path()).unwrap()))
        .filter(|text| text.contains("Subject: New sign-in"))
        .collect()
}

/// Signs in from `browsers` all at once; every one must succeed.
fn sign_in_at_once(browsers: Vec<Browser>) {
    let start = Arc::new(Barrier::new(browsers.len()));
    let threads: Vec<_> = browsers
        .into_iter()
        .map(|browser| {
            let start = start.clone();
            let token = browser.login_token();
            std::thread::spawn(move || {
                start.wait();
                browser
                    .sign_in_with(&token, "ali@shop.test", PASSWORD)
                    .status
            })
        })
        .collect();
    for thread in threads {
        assert_eq!(thread.join().unwrap(), 303);
    }
}

fn session_count(install: &Install) -> i64 {
    common::api::count(install, "SELECT count(*) FROM sessions")
}

#[test]
fn the_least_recently_used_sessions_end_beyond_the_limit() {
    let install = Install::new();
    let server = serve(&install);
    common::api::owner(&install, "Owner", "ali@shop.test");
    let laptop = Browser::new(&server.url, "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0");
    let signed_in: Vec<Browser> = (0..5)
        .map(|_| laptop.signed_in("ali@shop.test", PASSWORD))
        .collect();

    let newest = signed_in[4].get("/profile");
    assert_eq!(newest.status, 200, "the newest session works");
    let table = &newest.body[newest.body.find("id=\"sessions\"").unwrap()..];
    let rows = &table[table.find("<tbody>").unwrap()..table.find("</tbody>").unwrap()];
    assert_eq!(rows.matches("<tr>").count(), 3, "three sessions listed");
    for (n, browser) in signed_in.iter().enumerate() {
        let answer = browser.get("/profile");
        if n < 2 {
            assert_eq!(answer.status, 303, "session {n} ended");
            assert!(answer.header("Location").starts_with("/login"));
        } else {
            assert_eq!(answer.status, 200, "session {n} still works");
        }
    }
    assert_eq!(session_count(&install), 3);
}

#[test]
fn a_burst_of_sign_ins_sends_one_alert_per_browser_and_few_per_hour() {
    let install = Install::new();
    let server = serve(&install);
    common::api::owner(&install, "Owner", "ali@shop.test");

    // Twenty sign-ins at once with one browser never seen: one alert, and no more than three sessions.
    let phone = Browser::new(&server.url, "Mozilla/5.0 (Android 15) Chrome/131.0 Mobile");
    sign_in_at_once(
        (0..20)
            .map(|n| phone.via(&format!("198.51.100.{n}")))
            .collect(),
    );
    let sent = alerts(&install);
    assert_eq!(sent.len(), 1, "one alert for one new browser");
    assert!(sent[0].contains("Chrome/131.0 Mobile"), "{}", sent[0]);
    assert_eq!(session_count(&install), 3);

    // Twenty at once from twenty new browsers: the alerts stop at three within the hour.
    let many = (0..20)
        .map(|n| Browser::new(&server.url, &format!("Scripted/{n}")).via(&format!("203.0.113.{n}")))
        .collect();
    sign_in_at_once(many);
    assert_eq!(alerts(&install).len(), 3, "at most three alerts an hour");
    assert_eq!(session_count(&install), 3);
    // Every answer came after its log line was written; once the reader has them all, there are no more.
    common::wait_until("the skipped alerts are logged", || {
        server.logged("no email about it") >= 18
    });
    assert_eq!(server.logged("no email about it"), 18);
}
