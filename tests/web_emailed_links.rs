//! The links sent by email (password reset, email change, operator setup): each works once, expires, changes
//! only what it is for, and is stored only as a hash. A reset ends every session; a password changed on the
//! profile page ends the other ones and sends an alert.

mod common;

use common::web::{PASSWORD, app, csrf_in};
use rocket::http::Status;

#[test]
fn a_reset_link_works_once_before_it_expires_and_ends_every_session() {
    let app = app();
    app.register("Ali", "Shop", "ali@shop.test");
    // This browser forgets its session; the server still has it, as if another browser were signed in.
    let still_signed_in = app.session_cookie().unwrap();
    app.client
        .cookies()
        .remove(rocket::http::Cookie::from("whatsapi_session"));
    assert_eq!(app.count("SELECT count(*) FROM sessions"), 1);

    let asked = app.submit(
        "/forgot-password",
        "/forgot-password",
        &[("email", "ali@shop.test")],
    );
    assert_eq!(asked.status(), Status::Ok);
    let unknown = app
        .submit(
            "/forgot-password",
            "/forgot-password",
            &[("email", "nobody@shop.test")],
        )
        .into_string()
        .unwrap();
    assert!(
        unknown.contains("If an account exists"),
        "the same answer for unknown addresses"
    );
    let link = app.last_link("/reset-password/");
    let reset = app.submit(&link, &link, &[("password", "a brand new pass phrase")]);
    assert_eq!(reset.status(), Status::SeeOther);
    assert_eq!(
        reset.headers().get_one("Location"),
        Some("/login?done=password_reset")
    );
    assert_eq!(
        app.count("SELECT count(*) FROM sessions"),
        0,
        "every session ended"
    );
    let replay = app
        .client
        .get("/")
        .cookie(rocket::http::Cookie::new(
            "whatsapi_session",
            still_signed_in,
        ))
        .dispatch();
    assert_eq!(replay.status(), Status::SeeOther);
    assert_eq!(app.page(&link).0, Status::Gone, "used once");
    assert_eq!(app.login("ali@shop.test", PASSWORD), Status::Unauthorized);
    assert_eq!(
        app.login("ali@shop.test", "a brand new pass phrase"),
        Status::SeeOther
    );

    app.logout();
    app.submit(
        "/forgot-password",
        "/forgot-password",
        &[("email", "ali@shop.test")],
    );
    let link = app.last_link("/reset-password/");
    let token = csrf_in(&app.page(&link).1);
    app.db()
        .execute_batch("UPDATE one_time_tokens SET expires_at = expires_at - 31 * 60000")
        .unwrap();
    assert_eq!(
        app.post_raw(&link, &token, &[("password", "yet another pass phrase")])
            .status(),
        Status::Gone,
        "expired"
    );
}

#[test]
fn changing_the_password_ends_the_other_sessions_and_sends_an_alert() {
    let app = app();
    app.register("Ali", "Shop", "ali@shop.test");
    let elsewhere = app.session_cookie().unwrap();
    app.logout();
    app.login("ali@shop.test", PASSWORD);
    // A second browser, still signed in.
    app.db()
        .execute("INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, last_seen_at, ip, user_agent) SELECT ?1, user_id, csrf_token, created_at, last_seen_at, ip, user_agent FROM sessions LIMIT 1", [
            whatsapi::store::sessions::hash_id(&elsewhere),
        ])
        .unwrap();
    assert_eq!(app.count("SELECT count(*) FROM sessions"), 2);
    let wrong = app.submit(
        "/profile",
        "/profile/password",
        &[
            ("current_password", "not it at all"),
            ("new_password", "a brand new pass phrase"),
        ],
    );
    assert_eq!(wrong.status(), Status::UnprocessableEntity);
    let changed = app.submit(
        "/profile",
        "/profile/password",
        &[
            ("current_password", PASSWORD),
            ("new_password", "a brand new pass phrase"),
        ],
    );
    assert_eq!(changed.status(), Status::SeeOther);
    assert_eq!(
        app.count("SELECT count(*) FROM sessions"),
        1,
        "only this browser stays signed in"
    );
    assert_eq!(app.page("/profile").0, Status::Ok);
    let alert = app.emails().pop().expect("an alert email");
    assert!(
        alert.contains("Subject: Your password was changed"),
        "{alert}"
    );
}

#[test]
fn an_email_change_takes_effect_only_through_the_link_sent_to_the_new_address() {
    let app = app();
    app.register("Ali", "Shop", "ali@shop.test");
    let asked = app.submit(
        "/profile",
        "/profile/email",
        &[("email", "ali@new.test"), ("current_password", PASSWORD)],
    );
    assert_eq!(asked.status(), Status::SeeOther);
    assert_eq!(
        app.count("SELECT count(*) FROM users WHERE email = 'ali@shop.test'"),
        1,
        "not changed yet"
    );
    let link = app.last_link("/confirm-email/");
    for email in app.emails() {
        let to_new = email.lines().any(|l| l == "To: ali@new.test");
        assert_eq!(
            email.contains("/confirm-email/"),
            to_new,
            "the link goes to the new address only:\n{email}"
        );
    }
    assert!(
        app.emails()
            .iter()
            .any(|e| e.lines().any(|l| l == "To: ali@shop.test")),
        "the old address is told"
    );
    assert_eq!(
        app.page(&link).0,
        Status::Ok,
        "opening the link changes nothing by itself"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM users WHERE email = 'ali@shop.test'"),
        1
    );
    assert_eq!(app.submit(&link, &link, &[]).status(), Status::SeeOther);
    assert_eq!(
        app.count("SELECT count(*) FROM users WHERE email = 'ali@new.test'"),
        1
    );
    assert_eq!(app.page(&link).0, Status::Gone);
}

#[test]
fn the_operator_setup_link_works_once_and_the_console_is_for_operators_only() {
    let app = app();
    let (path, created) = app.set_up_operator();
    assert_eq!(created.status(), Status::SeeOther);
    assert_eq!(created.headers().get_one("Location"), Some("/admin"));
    assert_eq!(app.page("/admin").0, Status::Ok);
    let db = whatsapi::startup::open_store(&app.config, false).unwrap();
    assert!(
        whatsapi::http::web::admin::setup_link(&db, &app.config)
            .unwrap()
            .is_none(),
        "no link once an operator exists"
    );
    app.logout();
    assert_eq!(app.page(&path).0, Status::Gone);

    app.register("Ali", "Shop", "ali@shop.test");
    assert_eq!(app.page("/admin").0, Status::NotFound);
}

#[test]
fn links_sent_by_email_are_stored_only_as_hashes() {
    let app = app();
    app.register("Ali", "Shop", "ali@shop.test");
    app.submit(
        "/team",
        "/team/invite",
        &[("email", "member@shop.test"), ("role", "member")],
    );
    app.logout();
    app.submit(
        "/forgot-password",
        "/forgot-password",
        &[("email", "ali@shop.test")],
    );
    let db = app.db();
    let mut statement = db.prepare("SELECT * FROM one_time_tokens").unwrap();
    let columns = statement.column_count();
    let rows: Vec<String> = statement
        .query_map([], |row| {
            Ok((0..columns)
                .map(|i| match row.get_ref(i).unwrap() {
                    rusqlite::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                    rusqlite::types::ValueRef::Blob(b) => {
                        format!("{} {}", hex::encode(b), String::from_utf8_lossy(b))
                    }
                    other => format!("{other:?}"),
                })
                .collect::<Vec<_>>()
                .join(" "))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(rows.len(), 2);
    for prefix in ["/invite/", "/reset-password/"] {
        let link = app.last_link(prefix);
        let token = link.rsplit('/').next().unwrap();
        assert!(token.len() >= 32, "{link}");
        assert!(
            rows.iter().all(|row| !row.contains(token)),
            "{prefix} token stored as is"
        );
    }
}
