//! Sign-in throttling on the real server over HTTP: guesses sent all at once are refused before they cost
//! a hash, an attack on an address does not lock out the people who sign in from it, the windows survive a
//! restart, and behind `trusted_proxies` the forwarded address is the one throttled.

mod common;

use common::api::PASSWORD;

use common::raw::Browser;
use common::{Install, Server, wait_until};
use std::sync::{Arc, Barrier};

const WRONG: &str = "guess guess guess";

/// Five wrong passwords for `email` from `browser`, each checked (401): the pair's limit is used up.
fn five_wrong(browser: &Browser, email: &str) {
    let token = browser.login_token();
    for _ in 0..5 {
        assert_eq!(browser.sign_in_with(&token, email, WRONG).status, 401);
    }
}

/// The server, logging a line for every password it checks.
fn serve(install: &Install, trusted_proxies: Option<&str>) -> Server {
    let mut cmd = install.command(&["serve"]);
    cmd.env("WHATSAPI_LOG__LEVEL", "debug")
        .env("WHATSAPI_RETENTION__SCHEDULE", "0 0 0 29 2 *");
    if let Some(list) = trusted_proxies {
        cmd.env("WHATSAPI_SERVER__TRUSTED_PROXIES", list);
    }
    install.serve_with(cmd)
}

/// Moves every recorded attempt back past the 15-minute window, as if the time had passed.
fn let_the_window_pass(install: &Install) {
    let changed = rusqlite::Connection::open(install.db_path())
        .unwrap()
        .execute(
            "UPDATE login_attempts SET at = at - 15 * 60 * 1000 - 1000",
            [],
        )
        .unwrap();
    assert!(changed > 0, "attempts are recorded in the database");
}

#[test]
fn guesses_sent_at_once_are_refused_before_they_cost_a_hash() {
    let install = Install::new();
    let server = serve(&install, None);
    common::api::owner(&install, "Owner", "ali@shop.test");
    let guesser = Browser::new(&server.url, "guesser/1.0");
    let token = guesser.login_token();

    let start = Arc::new(Barrier::new(50));
    let answers: Vec<u16> = (0..50)
        .map(|_| {
            let (guesser, token, start) = (guesser.clone(), token.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                guesser.sign_in_with(&token, "ali@shop.test", WRONG).status
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap())
        .collect();
    let checked = answers.iter().filter(|s| **s == 401).count();
    let refused = answers.iter().filter(|s| **s == 429).count();
    assert_eq!(
        (checked, refused),
        (5, 45),
        "five checked, the rest refused: {answers:?}"
    );
    assert_eq!(
        guesser.sign_in("ali@shop.test", PASSWORD),
        429,
        "even the right password waits"
    );

    // After the window the owner signs in; that check is the sixth the server logged, so the burst
    // cost five hashes and no more.
    let_the_window_pass(&install);
    assert_eq!(guesser.sign_in("ali@shop.test", PASSWORD), 303);
    wait_until("the sign-in's check is logged", || {
        server.logged("password checked") >= 6
    });
    assert_eq!(server.logged("password checked"), 6);
}

#[test]
fn an_attack_from_an_address_does_not_lock_out_people_who_signed_in_from_it() {
    let install = Install::new();
    let server = serve(&install, None);
    common::api::owner(&install, "Owner", "ali@shop.test");
    common::api::owner(&install, "Owner", "bob@shop.test");
    let alis_browser = Browser::new(&server.url, "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0");
    assert_eq!(alis_browser.sign_in("ali@shop.test", PASSWORD), 303);

    // Someone at the same address tries 31 accounts.
    let scanner = Browser::new(&server.url, "scanner/2.0");
    let token = scanner.login_token();
    for n in 0..31 {
        let answer = scanner.sign_in_with(&token, &format!("user{n}@shop.test"), WRONG);
        assert!(matches!(answer.status, 401 | 429), "{}", answer.status);
    }
    assert_eq!(
        scanner.sign_in("someone@shop.test", PASSWORD),
        429,
        "a stranger from the address waits"
    );
    assert_eq!(
        Browser::new(&server.url, "Safari/18").sign_in("bob@shop.test", PASSWORD),
        429,
        "so does a person new to this browser and address"
    );
    assert_eq!(
        alis_browser.sign_in("ali@shop.test", PASSWORD),
        303,
        "the person who signed in from here before does not"
    );
}

#[test]
fn a_known_browser_passes_from_a_new_address_and_a_known_address_with_a_new_browser() {
    let install = Install::new();
    let server = serve(&install, Some("[\"127.0.0.1\"]"));
    common::api::owner(&install, "Owner", "ali@shop.test");
    let firefox = Browser::new(&server.url, "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0");
    assert_eq!(
        firefox
            .via("198.51.100.7")
            .sign_in("ali@shop.test", PASSWORD),
        303,
        "from the office"
    );
    let scanner = Browser::new(&server.url, "scanner/2.0");
    for address in ["203.0.113.66", "198.51.100.7"] {
        let token = scanner.login_token();
        for n in 0..30 {
            scanner
                .via(address)
                .sign_in_with(&token, &format!("user{n}@shop.test"), WRONG);
        }
        assert_eq!(
            scanner.via(address).sign_in("someone@shop.test", PASSWORD),
            429,
            "{address} is throttled"
        );
    }
    let safari = Browser::new(&server.url, "Safari/18");
    assert_eq!(
        safari
            .via("203.0.113.66")
            .sign_in("ali@shop.test", PASSWORD),
        429,
        "neither browser nor address known (first: signing in makes both known)"
    );
    assert_eq!(
        firefox
            .via("203.0.113.66")
            .sign_in("ali@shop.test", PASSWORD),
        303,
        "her browser, from a new address"
    );
    assert_eq!(
        safari
            .via("198.51.100.7")
            .sign_in("ali@shop.test", PASSWORD),
        303,
        "a new browser, from her office"
    );
}

#[test]
fn the_throttle_survives_a_restart() {
    let install = Install::new();
    let server = serve(&install, None);
    common::api::owner(&install, "Owner", "ali@shop.test");
    let guesser = Browser::new(&server.url, "guesser/1.0");
    five_wrong(&guesser, "ali@shop.test");
    server.kill9();

    let server = serve(&install, None);
    let guesser = Browser::new(&server.url, "guesser/1.0");
    assert_eq!(
        guesser.sign_in("ali@shop.test", PASSWORD),
        429,
        "the sixth attempt, after the restart"
    );
    let_the_window_pass(&install);
    assert_eq!(guesser.sign_in("ali@shop.test", PASSWORD), 303);
}

#[test]
fn behind_a_trusted_proxy_the_forwarded_address_is_the_one_throttled() {
    let install = Install::new();
    let server = serve(&install, Some("[\"127.0.0.1\"]"));
    common::api::owner(&install, "Owner", "ali@shop.test");
    let browser = Browser::new(&server.url, "guesser/1.0");
    five_wrong(&browser.via("198.51.100.1"), "ali@shop.test");
    assert_eq!(
        browser
            .via("198.51.100.1")
            .sign_in("ali@shop.test", PASSWORD),
        429
    );
    assert_eq!(
        browser
            .via("198.51.100.99, 198.51.100.1")
            .sign_in("ali@shop.test", PASSWORD),
        429,
        "an address the client put in front of its own changes nothing"
    );
    assert_eq!(
        browser
            .via("198.51.100.2")
            .sign_in("ali@shop.test", PASSWORD),
        303,
        "another forwarded address is another client"
    );
}

#[test]
fn without_trusted_proxies_a_forwarded_address_is_ignored() {
    let install = Install::new();
    let server = serve(&install, None);
    common::api::owner(&install, "Owner", "ali@shop.test");
    let browser = Browser::new(&server.url, "guesser/1.0");
    five_wrong(&browser.via("198.51.100.1"), "ali@shop.test");
    assert_eq!(
        browser
            .via("198.51.100.2")
            .sign_in("ali@shop.test", PASSWORD),
        429,
        "every attempt came from 127.0.0.1"
    );
    // The same installation behind a proxy it trusts tells the two apart.
    drop(server);
    let server = serve(&install, Some("[\"127.0.0.1\"]"));
    let browser = Browser::new(&server.url, "guesser/1.0");
    assert_eq!(
        browser
            .via("198.51.100.2")
            .sign_in("ali@shop.test", PASSWORD),
        303
    );
}
