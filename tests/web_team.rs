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
    assert_eq!(
        app.submit(
            "/team",
            "/team/invite",
            &[("email", "member@shop.test"), ("role", "member")]
        )
        .status(),
        Status::SeeOther
    );
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
    assert_eq!(
        join.status(),
        Status::SeeOther,
        "invite-only still lets people in"
    );
    assert_eq!(app.count("SELECT count(*) FROM users"), 2);
}

#[test]
fn an_invitation_needs_the_privacy_policy_accepted_and_a_good_password() {
    let app = app();
    app.register("Owner", "Shop", "owner@shop.test");
    app.submit(
        "/team",
        "/team/invite",
        &[("email", "member@shop.test"), ("role", "member")],
    );
    let link = app.last_link("/invite/");
    app.logout();
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

#[test]
fn emails_speak_the_language_of_the_person_they_are_for() {
    let app = app();
    let token = csrf_in(&app.page("/login").1);
    app.post_raw("/language", &token, &[("lang", "ar")]);
    app.register("علي", "Shop", "ali@shop.test");
    app.logout();
    // Another browser, in English, asks for the reset: the email still follows Ali's language.
    let english = app.another_browser();
    english.submit(
        "/forgot-password",
        "/forgot-password",
        &[("email", "ali@shop.test")],
    );
    let email = app.emails().pop().unwrap();
    let subject = email
        .lines()
        .find_map(|l| l.strip_prefix("Subject: "))
        .unwrap_or_default();
    assert!(
        subject
            .chars()
            .any(|c| ('\u{0600}'..='\u{06FF}').contains(&c)),
        "{email}"
    );
    assert!(
        email.contains("كلمة المرور") && email.contains("/reset-password/"),
        "{email}"
    );
}

/// The text of the form's error alert on a page.
fn alert(html: &str) -> String {
    let start = html.find("role=\"alert\"").expect("an error alert");
    let text = &html[start..];
    let text = &text[text.find('>').unwrap() + 1..];
    text[..text.find('<').unwrap()].to_owned()
}

/// A form to fill: the page it is on, where it posts, what is typed in.
type Attempt<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)]);

#[test]
fn form_errors_are_written_in_the_page_language() {
    let app = app();
    let token = csrf_in(&app.page("/login").1);
    app.post_raw("/language", &token, &[("lang", "ar")]);
    app.register("علي", "Shop", "ali@shop.test");
    let long = "x".repeat(101);
    let attempts: [Attempt; 5] = [
        (
            "/profile",
            "/profile/company",
            &[("company", "Shop"), ("country", ""), ("phone", "call me")],
        ),
        (
            "/profile",
            "/profile/company",
            &[("company", "Shop"), ("country", &long), ("phone", "")],
        ),
        (
            "/profile",
            "/profile/company",
            &[("company", " "), ("country", ""), ("phone", "")],
        ),
        (
            "/profile",
            "/profile/password",
            &[("current_password", PASSWORD), ("new_password", "short")],
        ),
        (
            "/team",
            "/team/invite",
            &[("email", "x@shop.test"), ("role", "boss")],
        ),
    ];
    let mut english = vec![];
    for (page, action, fields) in attempts {
        let response = app.submit(page, action, fields);
        assert_eq!(
            response.status(),
            Status::UnprocessableEntity,
            "{action} {fields:?}"
        );
        let message = alert(&response.into_string().unwrap());
        let arabic = message
            .chars()
            .any(|c| ('\u{0600}'..='\u{06FF}').contains(&c));
        let latin_words = message
            .split(|c: char| !c.is_ascii_alphabetic())
            .any(|w| w.len() > 3);
        if !arabic || latin_words {
            english.push(format!("{action} {fields:?}: {message:?}"));
        }
    }
    assert!(
        english.is_empty(),
        "errors not in Arabic:\n{}",
        english.join("\n")
    );
}

/// The attribute values `name="..."` of every tag `<tag ...>` in a page.
fn tags<'a>(html: &'a str, tag: &str) -> Vec<&'a str> {
    html.match_indices(&format!("<{tag} "))
        .map(|(at, _)| &html[at..at + html[at..].find('>').unwrap()])
        .collect()
}

fn attribute<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let at = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    Some(&tag[at..at + tag[at..].find('"')?])
}

/// Every page reachable from the navigation, in both languages, signed in or not: its links lead to
/// pages that exist, it offers the language switch, and every field has a label.
#[test]
fn every_page_links_to_pages_that_exist_and_labels_its_fields() {
    let app = app();
    let visitor = app.another_browser();
    let operator = app.another_browser();
    let db = whatsapi::startup::open_store(&app.config, false).unwrap();
    let link = whatsapi::web::admin::setup_link(&db, &app.config)
        .unwrap()
        .unwrap();
    let setup = &link[link.find("/setup/").unwrap()..];
    let fields = [
        ("name", "Op"),
        ("email", "op@host.test"),
        ("password", "operator pass phrase"),
    ];
    assert_eq!(
        operator.submit(setup, setup, &fields).status(),
        Status::SeeOther
    );
    team_with_member(&app, "admin");
    app.logout();
    app.login("owner@shop.test", PASSWORD);
    let mut problems = vec![];
    for lang in ["en", "ar"] {
        for browser in [&app, &visitor, &operator] {
            let token = csrf_in(&browser.page("/privacy").1);
            browser.post_raw("/language", &token, &[("lang", lang)]);
            let mut seen: Vec<String> = vec![];
            let mut queue = vec!["/".to_owned(), "/login".to_owned(), "/privacy".to_owned()];
            while let Some(path) = queue.pop() {
                if seen.contains(&path) {
                    continue;
                }
                seen.push(path.clone());
                let response = browser.client.get(path.clone()).dispatch();
                let status = response.status();
                if status == Status::SeeOther {
                    queue.push(response.headers().get_one("Location").unwrap().to_owned());
                    continue;
                }
                let html = response.into_string().unwrap_or_default();
                if status != Status::Ok {
                    problems.push(format!("{lang}: {path} answered {status}"));
                    continue;
                }
                if path.starts_with("/static/") {
                    continue;
                }
                if !html.contains(&format!("<html lang=\"{lang}\"")) {
                    problems.push(format!("{lang}: {path} is not in the chosen language"));
                }
                if !html.contains("action=\"/language\"") {
                    problems.push(format!("{lang}: {path} has no language switch"));
                }
                for link in tags(&html, "a").iter().chain(tags(&html, "link").iter()) {
                    let href = attribute(link, "href").unwrap_or_default();
                    if href.starts_with('/') && !href.starts_with("//") {
                        queue.push(href.split('#').next().unwrap().to_owned());
                    } else if !href.starts_with("mailto:") && !href.starts_with('#') {
                        problems.push(format!("{lang}: {path} links away to {href:?}"));
                    }
                }
                for field in tags(&html, "input")
                    .iter()
                    .chain(tags(&html, "select").iter())
                {
                    if attribute(field, "type") == Some("hidden") {
                        continue;
                    }
                    let labelled = attribute(field, "id").is_some_and(|id| {
                        tags(&html, "label")
                            .iter()
                            .any(|label| attribute(label, "for") == Some(id))
                    });
                    if !labelled && attribute(field, "aria-label").is_none() {
                        problems.push(format!("{lang}: {path}: no label for {field}"));
                    }
                }
            }
            assert!(seen.len() >= 5, "{seen:?}");
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Latin words in what a page shows, leaving out names that stay Latin in Arabic text: the product, the
/// switch to English, email addresses, technical terms of the privacy policy, the operator's company, and
/// the address "unknown" the local client (which has no peer address) is recorded with.
fn latin_words(html: &str) -> Vec<String> {
    let mut text = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                text.push(' ');
            }
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    let mut words: Vec<String> = text
        .split_whitespace()
        .filter(|w| !w.contains('@') && !w.contains("WhatsAPI") && *w != "Pro")
        .flat_map(|w| w.split(|c: char| !c.is_ascii_alphabetic()))
        .filter(|w| w.len() > 2)
        .filter(|w| {
            ![
                "UTC", "English", "HTTPS", "TLS", "Meta", "argon", "Soft", "unknown",
            ]
            .contains(w)
        })
        .map(str::to_owned)
        .collect();
    words.sort();
    words.dedup();
    words
}

#[test]
fn arabic_pages_show_no_english() {
    let app = app();
    let visitor = app.another_browser();
    let mut found = vec![];
    for browser in [&app, &visitor] {
        let token = csrf_in(&browser.page("/login").1);
        browser.post_raw("/language", &token, &[("lang", "ar")]);
    }
    app.register("فاطمة", "تجارة الخليج", "fatima@gulf.test");
    assert!(
        app.page("/").1.contains("<dd>١</dd>"),
        "numbers in Arabic-Indic digits"
    );
    let pages = [
        (&app, "/"),
        (&app, "/team"),
        (&app, "/profile"),
        (&app, "/privacy"),
        (&visitor, "/login"),
        (&visitor, "/register"),
        (&visitor, "/forgot-password"),
        (&visitor, "/nowhere"),
    ];
    for (browser, path) in pages {
        let html = browser.page(path).1;
        assert!(html.contains("dir=\"rtl\""), "{path}");
        let words = latin_words(&html);
        if !words.is_empty() {
            found.push(format!("{path}: {words:?}"));
        }
    }
    assert!(
        found.is_empty(),
        "English on Arabic pages:\n{}",
        found.join("\n")
    );
}
