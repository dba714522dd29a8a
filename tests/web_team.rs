//! Team roles, tenant isolation, and every emailed link (invitation, reset, email change, operator setup):
//! single use, expiry, and what they may change.

mod common;

use common::web::{App, PASSWORD, app, csrf_in};
use rocket::http::Status;

/// An owner with an invited member who joined; the client ends signed in as the member.
fn team_with_member(app: &App, role: &str) -> i64 {
    assert_eq!(
        app.register("Owner", "Shop", "owner@shop.test"),
        Status::SeeOther
    );
    let invite = app.submit(
        "/team",
        "/team/invite",
        &[("email", "member@shop.test"), ("role", role)],
    );
    assert_eq!(invite.status(), Status::SeeOther);
    let link = app.last_link("/invite/");
    app.logout();
    let join = app.submit(
        &link,
        &link,
        &[
            ("name", "Member"),
            ("password", "a member's own pass phrase"),
            ("accept_privacy", "true"),
        ],
    );
    assert_eq!(join.status(), Status::SeeOther);
    app.db()
        .query_row(
            "SELECT id FROM users WHERE email = 'member@shop.test'",
            [],
            |r| r.get(0),
        )
        .unwrap()
}

fn owner_id(app: &App) -> String {
    app.db()
        .query_row("SELECT id FROM users WHERE role = 'owner'", [], |r| {
            r.get::<_, i64>(0)
        })
        .unwrap()
        .to_string()
}

#[test]
fn an_invitation_makes_exactly_one_member_with_the_invited_role() {
    let app = app();
    team_with_member(&app, "admin");
    let (role, account): (String, i64) = app
        .db()
        .query_row(
            "SELECT role, account_id FROM users WHERE email = 'member@shop.test'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(role, "admin");
    assert_eq!(account, app.count("SELECT id FROM accounts"));
    assert_eq!(
        app.count("SELECT count(*) FROM consents WHERE kind = 'privacy_policy'"),
        2
    );
    // The link is spent.
    app.logout();
    let link = app.last_link("/invite/");
    assert_eq!(app.page(&link).0, Status::Gone);
}

#[test]
fn an_expired_invitation_does_not_work() {
    let app = app();
    app.register("Owner", "Shop", "owner@shop.test");
    app.submit(
        "/team",
        "/team/invite",
        &[("email", "late@shop.test"), ("role", "member")],
    );
    let link = app.last_link("/invite/");
    app.logout();
    let (_, form) = app.page(&link);
    let token = csrf_in(&form);
    app.db()
        .execute_batch("UPDATE one_time_tokens SET expires_at = expires_at - 8 * 86400000")
        .unwrap();
    assert_eq!(app.page(&link).0, Status::Gone);
    let join = app.post_raw(
        &link,
        &token,
        &[
            ("name", "Late"),
            ("password", "a member's own pass phrase"),
            ("accept_privacy", "true"),
        ],
    );
    assert_eq!(join.status(), Status::Gone);
    assert_eq!(app.count("SELECT count(*) FROM users"), 1);
}

#[test]
fn members_cannot_manage_the_team() {
    let app = app();
    team_with_member(&app, "member");
    assert_eq!(
        app.submit(
            "/team",
            "/team/invite",
            &[("email", "x@shop.test"), ("role", "admin")]
        )
        .status(),
        Status::Forbidden
    );
    let owner = owner_id(&app);
    assert_eq!(
        app.submit("/team", &format!("/team/{owner}/remove"), &[])
            .status(),
        Status::Forbidden
    );
    assert_eq!(
        app.submit(
            "/team",
            &format!("/team/{owner}/role"),
            &[("role", "member")]
        )
        .status(),
        Status::Forbidden
    );
    assert_eq!(
        app.submit(
            "/profile",
            "/profile/company",
            &[("company", "Mine"), ("country", ""), ("phone", "")]
        )
        .status(),
        Status::Forbidden
    );
    let (_, team) = app.page("/team");
    assert!(
        !team.contains("/team/invite"),
        "no invitation form for members"
    );
    assert_eq!(app.count("SELECT count(*) FROM users"), 2);
}

#[test]
fn an_admin_cannot_remove_or_demote_the_owner_but_manages_members() {
    let app = app();
    team_with_member(&app, "admin");
    let owner = owner_id(&app);
    assert_eq!(
        app.submit("/team", &format!("/team/{owner}/remove"), &[])
            .status(),
        Status::NotFound
    );
    assert_eq!(
        app.submit(
            "/team",
            &format!("/team/{owner}/role"),
            &[("role", "member")]
        )
        .status(),
        Status::NotFound
    );
    assert_eq!(
        app.count("SELECT count(*) FROM users WHERE role = 'owner'"),
        1
    );

    assert_eq!(
        app.submit(
            "/team",
            "/team/invite",
            &[("email", "third@shop.test"), ("role", "member")]
        )
        .status(),
        Status::SeeOther
    );
    assert_eq!(
        app.count(
            "SELECT count(*) FROM one_time_tokens WHERE purpose = 'invite' AND used_at IS NULL"
        ),
        1
    );
}

#[test]
fn another_accounts_people_are_out_of_reach() {
    let app = app();
    let member = team_with_member(&app, "member");
    app.logout();
    assert_eq!(
        app.register("Other", "Other Co", "boss@other.test"),
        Status::SeeOther
    );
    let (_, team) = app.page("/team");
    assert!(!team.contains("member@shop.test") && !team.contains("owner@shop.test"));
    let owner = owner_id(&app);
    for action in [
        format!("/team/{member}/remove"),
        format!("/team/{owner}/remove"),
    ] {
        assert_eq!(
            app.submit("/team", &action, &[]).status(),
            Status::NotFound,
            "{action}"
        );
    }
    assert_eq!(
        app.submit(
            "/team",
            &format!("/team/{member}/role"),
            &[("role", "admin")]
        )
        .status(),
        Status::NotFound
    );
    assert_eq!(
        app.count("SELECT count(*) FROM users WHERE email LIKE '%@shop.test' AND role != 'admin'"),
        2
    );
}

#[test]
fn a_removed_member_is_signed_out_at_once() {
    let app = app();
    let member = team_with_member(&app, "member");
    let member_cookie = app.session_cookie().unwrap();
    app.logout();
    app.login("owner@shop.test", PASSWORD);
    assert_eq!(
        app.submit("/team", &format!("/team/{member}/remove"), &[])
            .status(),
        Status::SeeOther
    );
    app.logout();
    let replay = app
        .client
        .get("/")
        .cookie(rocket::http::Cookie::new("whatsapi_session", member_cookie))
        .dispatch();
    assert_eq!(replay.status(), Status::SeeOther);
}

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
        .execute("INSERT INTO sessions SELECT ?1, user_id, csrf_token, created_at, last_seen_at, ip, user_agent FROM sessions LIMIT 1", [
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
    let db = whatsapi::startup::open_store(&app.config, false).unwrap();
    let link = whatsapi::web::admin::setup_link(&db, &app.config)
        .unwrap()
        .unwrap();
    let path = &link[link.find("/setup/").unwrap()..];
    let created = app.submit(
        path,
        path,
        &[
            ("name", "Op"),
            ("email", "op@host.test"),
            ("password", "operator pass phrase"),
        ],
    );
    assert_eq!(created.status(), Status::SeeOther);
    assert_eq!(created.headers().get_one("Location"), Some("/admin"));
    assert_eq!(app.page("/admin").0, Status::Ok);
    assert!(
        whatsapi::web::admin::setup_link(&db, &app.config)
            .unwrap()
            .is_none(),
        "no link once an operator exists"
    );
    app.logout();
    assert_eq!(app.page(path).0, Status::Gone);

    app.register("Ali", "Shop", "ali@shop.test");
    assert_eq!(app.page("/admin").0, Status::Forbidden);
}
