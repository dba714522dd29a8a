//! Registration and sign-in, through Rocket's local client on a real store: the new account, its owner and
//! the recorded consent, refused and closed registrations, a wrong password answered like an unknown address,
//! the alert for a new browser, password hashes off the async executor, and the throttle on guessing.

mod common;

use common::web::{PASSWORD, app, app_with, csrf_in};
use rocket::http::{Header, Status};

#[test]
fn registration_creates_the_account_its_owner_and_the_recorded_consent() {
    let app = app();
    assert_eq!(
        app.register("Fatima", "Gulf Trading", "fatima@gulf.test"),
        Status::SeeOther
    );
    let (status, home) = app.page("/");
    assert_eq!(status, Status::Ok);
    assert!(home.contains("Gulf Trading") && home.contains("Fatima"));
    let db = app.db();
    let (role, hash): (String, String) = db
        .query_row(
            "SELECT role, password_hash FROM users WHERE email = 'fatima@gulf.test'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(role, "owner");
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    let (kind, version, given_at): (String, String, i64) = db
        .query_row("SELECT kind, version, given_at FROM consents", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap();
    assert_eq!((kind.as_str(), version.as_str()), ("privacy_policy", "1"));
    assert!(given_at > 0);
    assert_eq!(
        app.keystore()
            .query_row("SELECT count(*) FROM data_keys", [], |r| r.get::<_, i64>(0))
            .unwrap(),
        1,
        "the account got its data key"
    );
}

#[test]
fn refused_registrations_write_nothing() {
    let app = app();
    let long = "a long pass phrase ".repeat(7);
    let attempts: [(&str, &[(&str, &str)]); 7] = [
        ("short password", &[("password", "short")]),
        ("129 characters", &[("password", &long[..129])]),
        ("no name", &[("name", "")]),
        ("common password", &[("password", "password2026!")]),
        ("no consent", &[("accept_privacy", "false")]),
        ("bad email", &[("email", "not-an-email")]),
        ("no company", &[("company", " ")]),
    ];
    for (what, changes) in attempts {
        let mut fields = vec![
            ("name", "Ali"),
            ("company", "Shop"),
            ("email", "ali@shop.test"),
            ("password", PASSWORD),
            ("accept_privacy", "true"),
        ];
        for (key, value) in changes.iter() {
            fields.iter_mut().find(|(k, _)| k == key).unwrap().1 = value;
        }
        let response = app.submit("/register", "/register", &fields);
        assert_eq!(response.status(), Status::UnprocessableEntity, "{what}");
        assert!(
            response.into_string().unwrap().contains("role=\"alert\""),
            "{what}: the error is shown"
        );
        assert_eq!(
            app.count("SELECT count(*) FROM accounts"),
            0,
            "{what}: no account"
        );
        assert_eq!(
            app.count("SELECT count(*) FROM users"),
            0,
            "{what}: no user"
        );
    }
    assert_eq!(
        app.register("Ali", "Shop", "ali@shop.test"),
        Status::SeeOther
    );
    app.logout();
    // The same address again: refused, and the first account is untouched.
    let fields = [
        ("name", "Eve"),
        ("company", "Other"),
        ("email", "ALI@shop.test"),
        ("password", PASSWORD),
        ("accept_privacy", "true"),
    ];
    assert_eq!(
        app.submit("/register", "/register", &fields).status(),
        Status::UnprocessableEntity
    );
    assert_eq!(app.count("SELECT count(*) FROM accounts"), 1);
}

#[test]
fn registration_can_be_switched_off() {
    let app = app_with(|c| c.accounts.registration = false);
    assert_eq!(app.page("/register").0, Status::NotFound);
    let (_, login) = app.page("/login");
    assert!(!login.contains("href=\"/register\""));
}

#[test]
fn a_closed_registration_refuses_the_form_post_too() {
    let app = app_with(|c| c.accounts.registration = false);
    let token = csrf_in(&app.page("/login").1);
    let response = app.post_raw(
        "/register",
        &token,
        &[
            ("name", "Ali"),
            ("company", "Shop"),
            ("email", "ali@shop.test"),
            ("password", PASSWORD),
            ("accept_privacy", "true"),
        ],
    );
    assert_eq!(response.status(), Status::NotFound);
    assert_eq!(app.count("SELECT count(*) FROM users"), 0);
    assert_eq!(app.count("SELECT count(*) FROM accounts"), 0);
}

#[test]
fn a_wrong_password_or_unknown_email_is_refused_alike_and_starts_no_session() {
    let app = app();
    app.register("Ali", "Shop", "ali@shop.test");
    app.logout();
    let mut answers = vec![];
    for (email, password) in [
        ("ali@shop.test", "not the right password"),
        ("nobody@shop.test", PASSWORD),
    ] {
        let response = app.submit(
            "/login",
            "/login",
            &[("email", email), ("password", password)],
        );
        assert_eq!(response.status(), Status::Unauthorized);
        assert!(
            response
                .headers()
                .get_one("Set-Cookie")
                .is_none_or(|c| !c.contains("session"))
        );
        let html = response.into_string().unwrap();
        assert!(html.contains("The email or password is not right."));
        assert!(app.session_cookie().is_none());
        // The page echoes the email and carries a fresh token; apart from those, the answers are the same.
        answers.push(html.replace(&csrf_in(&html), "").replace(email, ""));
    }
    assert_eq!(
        answers[0], answers[1],
        "the answer tells nothing about the address"
    );
    assert_eq!(app.login("ali@shop.test", PASSWORD), Status::SeeOther);
    assert!(app.session_cookie().is_some());
}

#[test]
fn a_sign_in_from_a_new_browser_sends_an_alert_and_a_known_one_does_not() {
    let app = app();
    app.register("Ali", "Shop", "ali@shop.test");
    app.logout();
    let outbox = || app.emails().len();
    let sign_in_with = |agent: &'static str| {
        let (_, html) = app.page("/login");
        let body = common::web::encode(&[
            ("csrf", &csrf_in(&html)),
            ("email", "ali@shop.test"),
            ("password", PASSWORD),
        ]);
        let response = app
            .client
            .post("/login")
            .header(rocket::http::ContentType::Form)
            .header(Header::new("User-Agent", agent))
            .body(body)
            .dispatch();
        assert_eq!(response.status(), Status::SeeOther);
    };
    sign_in_with("Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0");
    assert_eq!(outbox(), 1, "a browser never seen before");
    let alert = app.emails().pop().unwrap();
    assert!(
        alert.contains("Subject: New sign-in") && alert.contains("Firefox/140.0"),
        "{alert}"
    );
    app.logout();
    sign_in_with("Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0");
    assert_eq!(outbox(), 1, "the same browser again: no alert");
}

#[test]
fn a_burst_of_password_hashes_leaves_the_async_executor_free() {
    use rocket::tokio;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};
    let hasher = whatsapi::services::passwords::Hasher::new(1);
    // One thread runs every task: a hash computed on it would stop the ticker until it is done.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    runtime.block_on(async {
        let ticks = Arc::new(AtomicUsize::new(0));
        let counter = ticks.clone();
        let ticker = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(2)).await;
                counter.fetch_add(1, Ordering::Relaxed);
            }
        });
        let start = Instant::now();
        let burst: Vec<_> = (0..8)
            .map(|_| {
                let hasher = hasher.clone();
                tokio::spawn(async move { hasher.hash(PASSWORD).await })
            })
            .collect();
        for hash in burst {
            assert!(hash.await.unwrap().unwrap().starts_with("$argon2id$"));
        }
        let elapsed = start.elapsed();
        ticker.abort();
        // Hashes on the executor would leave a tick only between hashes: at most nine.
        let ticks = ticks.load(Ordering::Relaxed) as u128;
        assert!(
            ticks > 9 && ticks >= elapsed.as_millis() / 2 / 10,
            "the executor stalled: {ticks} ticks in {elapsed:?}"
        );
    });
}

#[test]
fn failed_sign_ins_are_throttled_per_address_without_locking_the_owner_out() {
    let app = app();
    app.register("Ali", "Shop", "ali@shop.test");
    app.logout();
    let token = csrf_in(&app.page("/login").1);
    // The owner has signed in from their office before.
    let office = "192.0.2.10:40000";
    assert_eq!(
        app.post_from(
            office,
            "/login",
            &token,
            &[("email", "ali@shop.test"), ("password", PASSWORD)]
        )
        .status(),
        Status::SeeOther
    );
    app.logout();
    let token = csrf_in(&app.page("/login").1);
    let attacker = "203.0.113.66:50000";
    for _ in 0..5 {
        let wrong = app.post_from(
            attacker,
            "/login",
            &token,
            &[
                ("email", "ali@shop.test"),
                ("password", "guess guess guess"),
            ],
        );
        assert_eq!(wrong.status(), Status::Unauthorized);
    }
    let blocked = app.post_from(
        attacker,
        "/login",
        &token,
        &[("email", "ali@shop.test"), ("password", PASSWORD)],
    );
    assert_eq!(
        blocked.status(),
        Status::TooManyRequests,
        "even the right password waits"
    );
    assert!(app.session_cookie().is_none());
    let owner = app.post_from(
        office,
        "/login",
        &token,
        &[("email", "ali@shop.test"), ("password", PASSWORD)],
    );
    assert_eq!(
        owner.status(),
        Status::SeeOther,
        "the owner is not locked out"
    );
}

#[test]
fn a_forged_proxy_header_does_not_escape_the_throttle() {
    let app = app();
    app.register("Ali", "Shop", "ali@shop.test");
    app.logout();
    let token = csrf_in(&app.page("/login").1);
    let attempt = |forged: &str, password: &str| {
        let body = common::web::encode(&[
            ("csrf", &token),
            ("email", "ali@shop.test"),
            ("password", password),
        ]);
        app.client
            .post("/login")
            .header(rocket::http::ContentType::Form)
            .remote("203.0.113.66:50000".parse().unwrap())
            .header(Header::new("X-Real-IP", forged.to_owned()))
            .header(Header::new("X-Forwarded-For", forged.to_owned()))
            .header(Header::new("Forwarded", format!("for={forged}")))
            .body(body)
            .dispatch()
            .status()
    };
    for n in 0..5 {
        assert_eq!(
            attempt(&format!("198.51.100.{n}"), "guess guess guess"),
            Status::Unauthorized
        );
    }
    assert_eq!(
        attempt("198.51.100.99", PASSWORD),
        Status::TooManyRequests,
        "a new address in a header is not a new client"
    );
}

#[test]
fn a_blocked_address_does_not_block_the_account_from_a_new_address() {
    let app = app();
    app.register("Ali", "Shop", "ali@shop.test");
    app.logout();
    let token = csrf_in(&app.page("/login").1);
    for _ in 0..6 {
        app.post_from(
            "198.51.100.20:1000",
            "/login",
            &token,
            &[
                ("email", "ali@shop.test"),
                ("password", "guess guess guess"),
            ],
        );
    }
    let fresh = app.post_from(
        "203.0.113.9:5000",
        "/login",
        &token,
        &[("email", "ali@shop.test"), ("password", PASSWORD)],
    );
    assert_eq!(fresh.status(), Status::SeeOther, "never seen, not blocked");
    assert!(app.session_cookie().is_some());
}

#[test]
fn guessing_from_many_addresses_or_at_many_accounts_is_throttled_too() {
    let app = app();
    app.register("Ali", "Shop", "ali@shop.test");
    app.logout();
    let token = csrf_in(&app.page("/login").1);
    let office = "192.0.2.10:40000";
    let owners_browser = "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0";
    let sign_in = |from: &str, browser: &str, email: &str, password: &str| {
        let body =
            common::web::encode(&[("csrf", &token), ("email", email), ("password", password)]);
        app.client
            .post("/login")
            .header(rocket::http::ContentType::Form)
            .header(Header::new("User-Agent", browser.to_owned()))
            .remote(from.parse().unwrap())
            .body(body)
            .dispatch()
            .status()
    };
    assert_eq!(
        sign_in(office, owners_browser, "ali@shop.test", PASSWORD),
        Status::SeeOther
    );
    app.logout();

    // One address trying many accounts: everyone new to it waits, the owner's own browser does not.
    let scanner = "198.51.100.30:1000";
    for n in 0..30 {
        sign_in(
            scanner,
            "curl/8.5",
            &format!("user{n}@shop.test"),
            "guess guess guess",
        );
    }
    assert_eq!(
        sign_in(scanner, "curl/8.5", "ali@shop.test", PASSWORD),
        Status::TooManyRequests
    );
    assert_eq!(
        sign_in(scanner, owners_browser, "ali@shop.test", PASSWORD),
        Status::SeeOther
    );
    app.logout();

    // Many addresses trying one account: new addresses wait, the owner's known address does not.
    for n in 0..100 {
        let status = sign_in(
            &format!("203.0.113.{n}:2000"),
            "curl/8.5",
            "ali@shop.test",
            "guess guess guess",
        );
        assert_eq!(status, Status::Unauthorized, "attempt {n}");
    }
    assert_eq!(
        sign_in("203.0.113.200:2000", "curl/8.5", "ali@shop.test", PASSWORD),
        Status::TooManyRequests
    );
    assert_eq!(
        sign_in(office, "curl/8.5", "ali@shop.test", PASSWORD),
        Status::SeeOther
    );
}
