//! Registration, sign-in, sessions, CSRF and languages, through Rocket's local client on a real store.

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
fn pages_follow_accept_language_and_the_language_cookie() {
    let app = app();
    let arabic = app.with_header(
        "/login",
        Header::new("Accept-Language", "ar-KW,ar;q=0.9,en;q=0.5"),
    );
    let html = arabic.into_string().unwrap();
    assert!(html.contains("<html lang=\"ar\" dir=\"rtl\">"));
    assert!(html.contains("تسجيل الدخول"));

    let token = csrf_in(&app.page("/login").1);
    let switch = app.post_raw("/language", &token, &[("lang", "en"), ("back", "/login")]);
    assert_eq!(switch.status(), Status::SeeOther);
    assert_eq!(switch.headers().get_one("Location"), Some("/login"));
    let english = app
        .with_header("/login", Header::new("Accept-Language", "ar"))
        .into_string()
        .unwrap();
    assert!(
        english.contains("<html lang=\"en\" dir=\"ltr\">"),
        "the cookie wins over the header"
    );
    let away = app.post_raw(
        "/language",
        &token,
        &[("lang", "ar"), ("back", "https://evil.example/")],
    );
    assert_eq!(
        away.headers().get_one("Location"),
        Some("/"),
        "never redirected to another site"
    );
    // Error pages speak the chosen language too.
    let missing = app.client.get("/nowhere").dispatch();
    assert_eq!(missing.status(), Status::NotFound);
    let html = missing.into_string().unwrap();
    assert!(
        html.contains("dir=\"rtl\"") && html.contains("لا يوجد شيء هنا"),
        "{html}"
    );
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
fn configured_session_limits_apply() {
    let app = app_with(|c| {
        c.sessions.idle_minutes = 1;
        c.sessions.absolute_hours = 1;
    });
    app.register("Ali", "Shop", "ali@shop.test");
    app.db()
        .execute_batch("UPDATE sessions SET last_seen_at = last_seen_at - 50000")
        .unwrap();
    assert_eq!(app.page("/profile").0, Status::Ok, "within the minute");
    app.db()
        .execute_batch("UPDATE sessions SET last_seen_at = last_seen_at - 120000")
        .unwrap();
    let response = app.client.get("/profile").dispatch();
    assert_eq!(response.status(), Status::SeeOther, "idle for two minutes");
    assert_eq!(
        response.headers().get_one("Location"),
        Some("/login?done=expired")
    );
    assert!(
        app.page("/login?done=expired")
            .1
            .contains("role=\"status\""),
        "the sign-in page says why"
    );

    assert_eq!(app.login("ali@shop.test", PASSWORD), Status::SeeOther);
    app.db()
        .execute_batch("UPDATE sessions SET created_at = created_at - 3600000 - 1000")
        .unwrap();
    assert_eq!(
        app.client.get("/profile").dispatch().status(),
        Status::SeeOther,
        "an hour after sign-in"
    );
}

#[test]
fn session_ids_are_random_128_bit_and_stored_only_hashed() {
    let app = app();
    app.register("Ali", "Shop", "ali@shop.test");
    let id = app.session_cookie().unwrap();
    assert_eq!(id.len(), 32, "{id}");
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    let stored: Vec<u8> = app
        .db()
        .query_row("SELECT id_hash FROM sessions", [], |r| r.get(0))
        .unwrap();
    assert_eq!(stored, whatsapi::store::sessions::hash_id(&id));
    assert!(
        !String::from_utf8_lossy(&stored).contains(&id),
        "not the id itself"
    );
}

#[test]
fn the_language_switch_returns_only_to_a_page_of_this_site() {
    let app = app();
    let token = csrf_in(&app.page("/login").1);
    for back in [
        "//evil.example/",
        "/\\evil.example/",
        "/\t/evil.example/",
        "https://evil.example/",
        "javascript:alert(1)",
    ] {
        let response = app.post_raw("/language", &token, &[("lang", "ar"), ("back", back)]);
        assert_eq!(response.status(), Status::SeeOther, "{back:?}");
        let location = response.headers().get_one("Location").unwrap_or_default();
        assert!(
            location.starts_with('/')
                && !location.starts_with("//")
                && !location.contains('\\')
                && !location.contains('\t'),
            "{back:?} sent the browser to {location:?}"
        );
    }
}

#[test]
fn signed_in_pages_static_files_and_redirects_carry_the_security_headers_too() {
    let app = app();
    app.register("Ali", "Shop", "ali@shop.test");
    let token = csrf_in(&app.page("/profile").1);
    let mut responses = vec![];
    for path in [
        "/",
        "/team",
        "/profile",
        "/static/app.css",
        "/static/app.js",
    ] {
        let response = app.client.get(path).dispatch();
        assert_eq!(response.status(), Status::Ok, "{path}");
        responses.push((path.to_owned(), response));
    }
    let saved = app.post_raw("/profile/name", &token, &[("name", "Ali")]);
    assert_eq!(saved.status(), Status::SeeOther);
    responses.push(("POST /profile/name".into(), saved));
    let refused = app.post_raw("/profile/name", "wrong", &[("name", "Ali")]);
    assert_eq!(refused.status(), Status::Forbidden);
    responses.push(("forbidden POST".into(), refused));
    for (what, response) in responses {
        let headers = response.headers();
        let csp = headers.get_one("Content-Security-Policy").unwrap_or("");
        assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
        assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"));
        assert_eq!(
            headers.get_one("X-Content-Type-Options"),
            Some("nosniff"),
            "{what}"
        );
        assert!(headers.get_one("Referrer-Policy").is_some(), "{what}");
        assert!(
            headers.get_one("Strict-Transport-Security").is_none(),
            "{what}: no HSTS over plain http"
        );
    }
}

/// Every `t("key")` and every `?done=` notice the templates and the code ask for, as written there.
fn catalog_keys_in_use() -> Vec<String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![];
    let mut dirs = vec![root.join("src"), root.join("assets/templates")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                files.push(std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    let mut keys = vec![];
    for text in &files {
        for (at, _) in text.match_indices("t(\"") {
            let rest = &text[at + 3..];
            let key = &rest[..rest.find('"').unwrap()];
            if key.contains('.')
                && key
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.')
            {
                keys.push(key.to_owned());
            }
        }
        for (at, _) in text.match_indices("?done=") {
            let area = text[..at].rsplit('/').next().unwrap();
            let rest = &text[at + 6..];
            let end = rest
                .find(|c: char| !(c.is_ascii_lowercase() || c == '_'))
                .unwrap_or(rest.len());
            if !area.is_empty() && end > 0 && area.bytes().all(|b| b.is_ascii_lowercase()) {
                keys.push(format!("{area}.done_{}", &rest[..end]));
            }
        }
    }
    keys.sort();
    keys.dedup();
    keys
}

#[test]
fn every_text_the_pages_and_emails_ask_for_exists_in_both_catalogs() {
    use whatsapi::web::i18n::Lang;
    let keys = catalog_keys_in_use();
    assert!(
        keys.len() > 50 && keys.contains(&"login.done_expired".to_owned()),
        "{keys:?}"
    );
    let missing: Vec<&String> = keys
        .iter()
        .filter(|k| Lang::En.t(k) == k.as_str() || Lang::Ar.t(k) == k.as_str())
        .collect();
    assert!(missing.is_empty(), "keys without text: {missing:?}");
    let untranslated: Vec<&String> = keys
        .iter()
        .filter(|k| Lang::Ar.t(k) == Lang::En.t(k) && Lang::En.t(k).len() > 3)
        .collect();
    assert!(
        untranslated.is_empty(),
        "English text on Arabic pages: {untranslated:?}"
    );
}

#[test]
fn forms_without_the_right_token_or_from_another_site_are_refused() {
    let app = app();
    app.register("Ali", "Shop", "ali@shop.test");
    let name_before = || app.count("SELECT count(*) FROM users WHERE name = 'Ali'");
    let token = csrf_in(&app.page("/profile").1);
    assert_eq!(
        app.post_raw("/profile/name", "", &[("name", "Mallory")])
            .status(),
        Status::Forbidden,
        "missing"
    );
    assert_eq!(
        app.post_raw(
            "/profile/name",
            "0123456789abcdef0123456789abcdef",
            &[("name", "Mallory")]
        )
        .status(),
        Status::Forbidden,
        "wrong"
    );
    let cross = app
        .client
        .post("/profile/name")
        .header(rocket::http::ContentType::Form)
        .header(Header::new("Sec-Fetch-Site", "cross-site"))
        .body(format!("csrf={token}&name=Mallory"))
        .dispatch();
    assert_eq!(
        cross.status(),
        Status::Forbidden,
        "the browser says cross-site"
    );
    let foreign = app
        .client
        .post("/profile/name")
        .header(rocket::http::ContentType::Form)
        .header(Header::new("Origin", "https://evil.example"))
        .header(Header::new("Host", "localhost:8000"))
        .body(format!("csrf={token}&name=Mallory"))
        .dispatch();
    assert_eq!(foreign.status(), Status::Forbidden, "another origin");
    assert_eq!(name_before(), 1, "nothing changed");

    // A token that belongs to another session does not work here either.
    let other = app_with(|_| {});
    other.register("Bob", "Other", "bob@other.test");
    let their_token = csrf_in(&other.page("/profile").1);
    assert_eq!(
        app.post_raw("/profile/name", &their_token, &[("name", "Mallory")])
            .status(),
        Status::Forbidden
    );
    assert_eq!(
        app.post_raw("/profile/name", &token, &[("name", "Ali Hassan")])
            .status(),
        Status::SeeOther,
        "the right token works"
    );
}

#[test]
fn state_never_changes_on_get() {
    let app = app();
    app.register("Ali", "Shop", "ali@shop.test");
    for path in [
        "/logout",
        "/language?lang=ar",
        "/team/1/remove",
        "/profile/password",
    ] {
        let status = app.page(path).0;
        assert!(
            status == Status::NotFound || status == Status::MethodNotAllowed,
            "GET {path} answered {status}"
        );
    }
    assert_eq!(app.page("/").0, Status::Ok, "still signed in");
}

#[test]
fn signing_in_issues_a_new_session_id_and_signing_out_ends_it_on_the_server() {
    let app = app();
    app.register("Ali", "Shop", "ali@shop.test");
    let first = app.session_cookie().unwrap();
    app.logout();
    // A session id planted in the browser before sign-in (session fixation) is never adopted.
    let planted = "0123456789abcdef0123456789abcdef";
    app.client
        .cookies()
        .add(rocket::http::Cookie::new("whatsapi_session", planted));
    assert_eq!(app.login("ali@shop.test", PASSWORD), Status::SeeOther);
    let second = app.session_cookie().unwrap();
    assert_ne!(second, planted, "a new id at sign-in");
    assert_ne!(second, first);
    assert_eq!(app.count("SELECT count(*) FROM sessions"), 1);

    assert_eq!(app.logout(), Status::SeeOther);
    assert_eq!(app.count("SELECT count(*) FROM sessions"), 0);
    // Replaying the old cookie gets the sign-in page.
    let replay = app
        .client
        .get("/")
        .cookie(rocket::http::Cookie::new("whatsapi_session", second))
        .dispatch();
    assert_eq!(replay.status(), Status::SeeOther);
}

fn session_set_cookie(app: &common::web::App) -> String {
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
        .body(body)
        .dispatch();
    response
        .headers()
        .get("Set-Cookie")
        .find(|c| c.contains("whatsapi_session"))
        .unwrap()
        .to_owned()
}

#[test]
fn the_session_cookie_is_session_only_http_only_and_lax() {
    let app = app();
    app.register("Ali", "Shop", "ali@shop.test");
    app.logout();
    let cookie = session_set_cookie(&app);
    assert!(cookie.starts_with("whatsapi_session="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/"),
        "{cookie}"
    );
    assert!(
        !cookie.contains("Expires") && !cookie.contains("Max-Age"),
        "session-only: {cookie}"
    );
    assert!(
        !cookie.contains("Secure"),
        "plain http in development: {cookie}"
    );

    let https = app_with(|c| c.server.public_url = "https://wa.example.com".into());
    https.register("Ali", "Shop", "ali@shop.test");
    https.logout();
    let cookie = session_set_cookie(&https);
    assert!(cookie.starts_with("__Host-whatsapi_session="), "{cookie}");
    assert!(
        cookie.contains("Secure") && !cookie.contains("Domain") && !cookie.contains("Expires"),
        "{cookie}"
    );
}

#[test]
fn sessions_end_after_the_idle_and_the_absolute_limit() {
    let app = app();
    app.register("Ali", "Shop", "ali@shop.test");
    assert_eq!(app.page("/").0, Status::Ok);
    app.db()
        .execute_batch("UPDATE sessions SET last_seen_at = last_seen_at - 31 * 60000")
        .unwrap();
    let response = app.client.get("/profile").dispatch();
    assert_eq!(response.status(), Status::SeeOther, "idle for 31 minutes");
    assert_eq!(
        response.headers().get_one("Location"),
        Some("/login?done=expired")
    );

    assert_eq!(app.login("ali@shop.test", PASSWORD), Status::SeeOther);
    app.db()
        .execute_batch("UPDATE sessions SET created_at = created_at - 12 * 3600000 - 1000")
        .unwrap();
    assert_eq!(
        app.client.get("/profile").dispatch().status(),
        Status::SeeOther,
        "12 hours after sign-in, however active"
    );
}

#[test]
fn every_page_carries_the_security_headers() {
    let app = app();
    for path in ["/login", "/register", "/privacy", "/nowhere"] {
        let response = app.client.get(path).dispatch();
        let csp = response
            .headers()
            .get_one("Content-Security-Policy")
            .unwrap_or_default()
            .to_owned();
        assert!(
            csp.contains("frame-ancestors 'none'") && csp.contains("object-src 'none'"),
            "{path}: {csp}"
        );
        assert!(!csp.contains("unsafe-inline"), "{path}");
        assert_eq!(
            response.headers().get_one("X-Content-Type-Options"),
            Some("nosniff")
        );
        assert_eq!(
            response.headers().get_one("Referrer-Policy"),
            Some("same-origin")
        );
        let body = response.into_string().unwrap_or_default();
        assert!(
            !body.contains("<script>") && !body.contains("style=\""),
            "{path}: no inline script or style"
        );
    }
}

#[test]
fn other_sessions_are_listed_and_can_be_signed_out_one_by_one() {
    let app = app();
    app.register("Ali", "Shop", "ali@shop.test");
    let other = "00112233445566778899aabbccddeeff";
    app.db()
        .execute(
            "INSERT INTO sessions SELECT ?1, user_id, 'x', created_at, last_seen_at, '198.51.100.4', 'Other Browser/1.0' FROM sessions",
            [whatsapi::store::sessions::hash_id(other)],
        )
        .unwrap();
    let (_, profile) = app.page("/profile");
    assert!(profile.contains("198.51.100.4") && profile.contains("Other Browser/1.0"));
    let handle = {
        let at = profile
            .find("/sessions/")
            .expect("a revoke button for the other session")
            + "/sessions/".len();
        profile[at..at + 16].to_owned()
    };
    assert_eq!(
        app.submit("/profile", &format!("/sessions/{handle}/revoke"), &[])
            .status(),
        Status::SeeOther
    );
    assert_eq!(app.count("SELECT count(*) FROM sessions"), 1);
    assert_eq!(
        app.page("/profile").0,
        Status::Ok,
        "this browser is still signed in"
    );
    assert_eq!(
        app.submit("/profile", "/sessions/0000000000000000/revoke", &[])
            .status(),
        Status::NotFound
    );
}

#[test]
fn over_tls_pages_ask_for_strict_transport_and_cookies_are_host_only_and_secure() {
    let certs = tempfile::tempdir().unwrap();
    let (cert, key) = (certs.path().join("cert.pem"), certs.path().join("key.pem"));
    std::fs::write(&cert, "not read by these tests").unwrap();
    std::fs::write(&key, "not read by these tests").unwrap();
    let app = app_with(move |c| {
        c.server.tls_cert = Some(cert);
        c.server.tls_key = Some(key);
    });
    let response = app.client.get("/login").dispatch();
    let hsts = response
        .headers()
        .get_one("Strict-Transport-Security")
        .unwrap_or_default()
        .to_owned();
    assert!(hsts.contains("max-age=31536000"), "{hsts}");
    assert!(app.config.secure_cookies());
    assert!(app.config.server.public_url.starts_with("https://"));
}

#[test]
fn a_burst_of_password_hashes_leaves_the_async_executor_free() {
    use rocket::tokio;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};
    let hasher = whatsapi::auth::password::Hasher::new(1);
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
fn sign_in_forms_from_another_site_and_tokens_of_an_earlier_session_are_refused() {
    let app = app();
    app.register("Ali", "Shop", "ali@shop.test");
    let old_token = csrf_in(&app.page("/profile").1);
    app.logout();
    let anonymous = csrf_in(&app.page("/login").1);
    // Login CSRF: a page elsewhere signs the victim in to the attacker's account.
    let forged = app
        .client
        .post("/login")
        .header(rocket::http::ContentType::Form)
        .header(Header::new("Sec-Fetch-Site", "cross-site"))
        .body(common::web::encode(&[
            ("csrf", &anonymous),
            ("email", "ali@shop.test"),
            ("password", PASSWORD),
        ]))
        .dispatch();
    assert_eq!(forged.status(), Status::Forbidden);
    assert!(app.session_cookie().is_none());

    assert_eq!(app.login("ali@shop.test", PASSWORD), Status::SeeOther);
    for (what, token) in [
        ("the earlier session's", &old_token),
        ("a signed-out page's", &anonymous),
    ] {
        assert_eq!(
            app.post_raw("/profile/name", token, &[("name", "Mallory")])
                .status(),
            Status::Forbidden,
            "{what} token"
        );
    }
    assert_eq!(
        app.count("SELECT count(*) FROM users WHERE name = 'Mallory'"),
        0
    );
}

#[test]
fn guessing_from_many_addresses_or_at_many_accounts_is_throttled_too() {
    let app = app();
    app.register("Ali", "Shop", "ali@shop.test");
    app.logout();
    let token = csrf_in(&app.page("/login").1);
    let office = "192.0.2.10:40000";
    let sign_in = |from: &str, email: &str, password: &str| {
        app.post_from(
            from,
            "/login",
            &token,
            &[("email", email), ("password", password)],
        )
        .status()
    };
    assert_eq!(sign_in(office, "ali@shop.test", PASSWORD), Status::SeeOther);
    app.logout();

    // One address trying many accounts.
    let scanner = "198.51.100.30:1000";
    for n in 0..30 {
        sign_in(scanner, &format!("user{n}@shop.test"), "guess guess guess");
    }
    assert_eq!(
        sign_in(scanner, "ali@shop.test", PASSWORD),
        Status::TooManyRequests
    );

    // Many addresses trying one account: new addresses wait, the owner's known address does not.
    for n in 0..100 {
        let status = sign_in(
            &format!("203.0.113.{n}:2000"),
            "ali@shop.test",
            "guess guess guess",
        );
        assert_eq!(status, Status::Unauthorized, "attempt {n}");
    }
    assert_eq!(
        sign_in("203.0.113.200:2000", "ali@shop.test", PASSWORD),
        Status::TooManyRequests
    );
    assert_eq!(sign_in(office, "ali@shop.test", PASSWORD), Status::SeeOther);
}
