//! Sessions and the forms that use them, through Rocket's local client on a real store: random ids stored only
//! hashed, a new id at sign-in, the cookie's attributes, the idle and absolute limits, other sessions signed out
//! one by one; forms refused without their session's token or from another site, nothing changed by a GET, and
//! the security headers on every answer.

mod common;

use common::web::{PASSWORD, app, app_with, csrf_in};
use rocket::http::{Header, Status};

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
fn other_sessions_are_listed_and_can_be_signed_out_one_by_one() {
    let app = app();
    app.register("Ali", "Shop", "ali@shop.test");
    let other = "00112233445566778899aabbccddeeff";
    app.db()
        .execute(
            "INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, last_seen_at, ip, user_agent) SELECT ?1, user_id, 'x', created_at, last_seen_at, '198.51.100.4', 'Other Browser/1.0' FROM sessions",
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
