//! Team roles and tenant isolation: an invitation makes exactly one member with the invited role, expires, needs
//! the privacy policy accepted and a good password, and still works with registration closed; owners, admins and
//! members manage only what their role allows, nobody becomes owner or operator, a removed or demoted member loses
//! access at once, and another account's people are out of reach.

mod common;

use common::web::{App, PASSWORD, app, csrf_in, team_with_member};
use rocket::http::Status;

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
    let link = app.invite_and_sign_out("late@shop.test", "member");
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
fn an_invitation_needs_the_privacy_policy_accepted_and_a_good_password() {
    let app = app();
    app.register("Owner", "Shop", "owner@shop.test");
    let link = app.invite_and_sign_out("member@shop.test", "member");
    for fields in [
        [
            ("name", "Member"),
            ("password", "a member's own pass phrase"),
            ("accept_privacy", "false"),
        ],
        [
            ("name", "Member"),
            ("password", "password123"),
            ("accept_privacy", "true"),
        ],
    ] {
        assert_eq!(
            app.submit(&link, &link, &fields).status(),
            Status::UnprocessableEntity
        );
    }
    assert_eq!(app.count("SELECT count(*) FROM users"), 1);
    assert_eq!(app.page(&link).0, Status::Ok, "the link still works");
}

#[test]
fn invitations_still_work_when_registration_is_closed() {
    use std::io::Write;
    let app = common::web::app_with(|c| c.accounts.registration = false);
    let mut cli = std::process::Command::new(common::BIN);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("WHATSAPI_") {
            cli.env_remove(name);
        }
    }
    let mut child = cli
        .args(["account", "create", "--company", "Shop", "--name", "Owner"])
        .args(["--email", "owner@shop.test", "--password-stdin"])
        .current_dir(app.dir.path())
        .env("WHATSAPI_STORAGE__DATA_DIR", &app.config.storage.data_dir)
        .env("WHATSAPI_STORAGE__KEY_FILE", &app.config.storage.key_file)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{PASSWORD}").unwrap();
    let created = child.wait_with_output().unwrap();
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    assert_eq!(app.page("/register").0, Status::NotFound);
    assert_eq!(app.login("owner@shop.test", PASSWORD), Status::SeeOther);
    let link = app.invite_and_sign_out("member@shop.test", "member");
    let join = app.join(&link, "Member");
    assert_eq!(
        join.status(),
        Status::SeeOther,
        "invite-only still lets people in"
    );
    assert_eq!(app.count("SELECT count(*) FROM users"), 2);
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
fn nobody_can_be_made_owner_or_operator_through_the_team_page() {
    let app = app();
    let member = team_with_member(&app, "admin");
    app.logout();
    app.login("owner@shop.test", PASSWORD);
    for role in ["owner", "operator", "superuser"] {
        let response = app.submit("/team", &format!("/team/{member}/role"), &[("role", role)]);
        assert!(
            response.status().code >= 400 && response.status().code < 500,
            "{role}: {}",
            response.status()
        );
        let invite = app.submit(
            "/team",
            "/team/invite",
            &[("email", "new@shop.test"), ("role", role)],
        );
        assert_eq!(
            invite.status(),
            Status::UnprocessableEntity,
            "invite as {role}"
        );
    }
    assert_eq!(
        app.count("SELECT count(*) FROM users WHERE role IN ('owner', 'operator')"),
        1
    );
    assert_eq!(
        app.count(
            "SELECT count(*) FROM one_time_tokens WHERE purpose = 'invite' AND used_at IS NULL"
        ),
        0
    );
    // An admin cannot promote themselves either: their own row is not theirs to change.
    app.logout();
    app.login("member@shop.test", "a member's own pass phrase");
    let own = app.submit(
        "/team",
        &format!("/team/{member}/role"),
        &[("role", "owner")],
    );
    assert!(own.status().code >= 400, "{}", own.status());
    assert_eq!(
        app.count("SELECT count(*) FROM users WHERE role = 'owner'"),
        1
    );
}

#[test]
fn a_demoted_admin_loses_team_management_at_once() {
    let app = app();
    let member = team_with_member(&app, "admin");
    let (_, team) = app.page("/team");
    assert!(team.contains("action=\"/team/invite\""));
    let token = csrf_in(&team);
    let owner = app.another_browser();
    assert_eq!(owner.login("owner@shop.test", PASSWORD), Status::SeeOther);
    assert_eq!(
        owner
            .submit(
                "/team",
                &format!("/team/{member}/role"),
                &[("role", "member")]
            )
            .status(),
        Status::SeeOther
    );
    // The former admin's open page still has a form and a valid token; the role is what counts.
    assert_eq!(
        app.post_raw(
            "/team/invite",
            &token,
            &[("email", "late@shop.test"), ("role", "member")]
        )
        .status(),
        Status::Forbidden
    );
    assert!(!app.page("/team").1.contains("action=\"/team/invite\""));
    assert_eq!(
        app.count("SELECT count(*) FROM one_time_tokens WHERE email = 'late@shop.test'"),
        0
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

/// The command line asks for an account's id: its people find it on their profile page, each their own.
#[test]
fn the_profile_page_shows_the_account_id_to_its_people() {
    let app = app();
    app.register("Rana", "Rana Foods", "rana@foods.test");
    let other = app.another_browser();
    other.register("Omar", "Omar Tools", "omar@tools.test");
    let id_of = |company: &str| -> i64 {
        app.db()
            .query_row(
                "SELECT id FROM accounts WHERE company = ?1",
                [company],
                |r| r.get(0),
            )
            .unwrap()
    };
    let shown = |browser: &App| -> String {
        let (status, html) = browser.page("/profile");
        assert_eq!(status, Status::Ok);
        let at = html
            .find("id=\"account-id\"")
            .expect("an account id paragraph");
        let strong = &html[at..];
        let start = strong.find("<strong class=\"ltr\">").unwrap() + "<strong class=\"ltr\">".len();
        strong[start..start + strong[start..].find('<').unwrap()].to_string()
    };
    assert_ne!(id_of("Rana Foods"), id_of("Omar Tools"));
    assert_eq!(shown(&app), id_of("Rana Foods").to_string());
    assert_eq!(shown(&other), id_of("Omar Tools").to_string());
}
