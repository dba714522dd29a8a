//! Role guards over real HTTP: a member is refused what only owners and admins may do and an admin is
//! refused the operators' page, each with its positive control (an admin does it, an operator sees the
//! page); nobody signed in is sent to sign in. On the real server, with raw requests to 127.0.0.1.

mod common;

use common::Install;
use common::api::{PASSWORD, with_password};
use common::raw::{Answer, Browser};
use common::web::{csrf_in, decode_email};

/// The invitation link in the newest email to `to`.
fn invitation_link(install: &Install, to: &str) -> String {
    let outbox = install.data_dir().join("outbox");
    let mut files: Vec<_> = std::fs::read_dir(outbox)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for file in files.iter().rev() {
        let text = decode_email(&std::fs::read_to_string(file).unwrap());
        if !text.contains(&format!("To: {to}")) {
            continue;
        }
        let at = text.find("/invite/").expect("an invitation link");
        let rest = &text[at..];
        let end = rest.find(|c: char| c.is_whitespace()).unwrap_or(rest.len());
        return rest[..end].to_owned();
    }
    panic!("no invitation to {to}")
}

/// Posts `fields` to `action` with the CSRF token of the page at `form_page`.
fn submit(browser: &Browser, form_page: &str, action: &str, fields: &[(&str, &str)]) -> Answer {
    let token = csrf_in(&browser.get(form_page).body);
    let mut all = vec![("csrf", token.as_str())];
    all.extend_from_slice(fields);
    browser.post(action, &all, &[])
}

/// The owner invites `email` with `role`; the invited person joins and is signed in.
fn joined(install: &Install, owner: &Browser, email: &str, role: &str) -> Browser {
    let invite = submit(
        owner,
        "/team",
        "/team/invite",
        &[("email", email), ("role", role)],
    );
    assert_eq!(invite.status, 303, "invite {email}: {}", invite.body);
    let link = invitation_link(install, email);
    let stranger = Browser::new(&owner.base, "Firefox/140.0");
    let join = submit(
        &stranger,
        &link,
        &link,
        &[
            ("name", role),
            ("password", PASSWORD),
            ("accept_privacy", "true"),
        ],
    );
    assert_eq!(join.status, 303, "join as {role}: {}", join.body);
    Browser {
        cookie: join.session_cookie(),
        ..stranger
    }
}

#[test]
fn each_role_is_let_through_exactly_where_it_may_go() {
    let install = Install::new();
    let server = install.serve();
    common::api::owner(&install, "Owner", "owner@shop.test");
    let anonymous = Browser::new(&server.url, "Firefox/140.0");
    let owner = anonymous.signed_in("owner@shop.test", PASSWORD);
    let admin = joined(&install, &owner, "admin@shop.test", "admin");
    let member = joined(&install, &owner, "member@shop.test", "member");

    // Creating an API key: owners and admins only.
    let refused = submit(&member, "/api-keys", "/api-keys", &[("name", "member's")]);
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(refused.body.contains("You are not allowed to do this."));
    let created = submit(&admin, "/api-keys", "/api-keys", &[("name", "admin's")]);
    assert_eq!(created.status, 200, "{}", created.body);
    assert!(created.body.contains("wapi_"), "the new key is shown once");

    // Inviting to the team: the same.
    let fields = [("email", "third@shop.test"), ("role", "member")];
    assert_eq!(
        submit(&member, "/team", "/team/invite", &fields).status,
        403
    );
    assert_eq!(submit(&admin, "/team", "/team/invite", &fields).status, 303);

    // Every member of the account sees its pages.
    for path in ["/team", "/api-keys", "/messages", "/inbox", "/connections"] {
        assert_eq!(member.get(path).status, 200, "{path}");
    }

    // The operators' page: not there for an account's admin, nor its owner; an operator sees it.
    assert_eq!(admin.get("/admin").status, 404);
    assert_eq!(owner.get("/admin").status, 404);
    with_password(
        &install,
        &[
            "admin",
            "create",
            "--email",
            "op@host.test",
            "--name",
            "Op",
            "--password-stdin",
        ],
    );
    let operator = anonymous.signed_in("op@host.test", PASSWORD);
    assert_eq!(operator.get("/admin").status, 200);
    // ... and an operator, who has no account, is refused an account's pages.
    assert_eq!(operator.get("/team").status, 403);

    // Without a session, a page sends the visitor to sign in.
    let away = anonymous.get("/api-keys");
    assert_eq!(away.status, 303);
    assert_eq!(away.header("Location"), "/login?done=expired");
}
