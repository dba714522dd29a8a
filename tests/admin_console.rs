//! The operator's console on the real server, over raw HTTP to 127.0.0.1: everything under /admin is
//! not there (404) for an account's owner, admin or member nor for nobody signed in, and is there for
//! an operator; suspending an account on its page signs its people out at their next page, refuses
//! their sign-in in words and its API keys with 403 `account_suspended`, until it is reactivated; a hold
//! of sending keeps the account's queued messages waiting while another account's are sent, and each
//! goes out once after the release; the health page shows the outbox's depth and the background
//! threads alive; the list of accounts shows this month's messages and the share that failed.

mod common;

use common::api::{Api, PASSWORD, owner, with_password};
use common::raw::{Answer, Browser, request};
use common::web::{csrf_in, decode_email};
use common::{Install, serve_quick, wait_until};
use serde_json::{Value, json};

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0";

/// Posts `fields` to `action` with the CSRF token of the page at `form_page`.
fn submit(browser: &Browser, form_page: &str, action: &str, fields: &[(&str, &str)]) -> Answer {
    let token = csrf_in(&browser.get(form_page).body);
    let mut all = vec![("csrf", token.as_str())];
    all.extend_from_slice(fields);
    browser.post(action, &all, &[])
}

/// The invitation link in the newest email to `to`.
fn invitation_link(install: &Install, to: &str) -> String {
    let mut files: Vec<_> = std::fs::read_dir(install.data_dir().join("outbox"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for file in files.iter().rev() {
        let text = decode_email(&std::fs::read_to_string(file).unwrap());
        if text.contains(&format!("To: {to}"))
            && let Some(at) = text.find("/invite/")
        {
            let rest = &text[at..];
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            return rest[..end].to_owned();
        }
    }
    panic!("no invitation to {to}")
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
    let stranger = Browser::new(&owner.base, FIREFOX);
    let fields = [
        ("name", role),
        ("password", PASSWORD),
        ("accept_privacy", "true"),
    ];
    let join = submit(&stranger, &link, &link, &fields);
    assert_eq!(join.status, 303, "join as {role}: {}", join.body);
    Browser {
        cookie: join.session_cookie(),
        ..stranger
    }
}

/// An operator made from the command line, signed in.
fn operator(install: &Install, server: &common::Server) -> Browser {
    with_password(
        install,
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
    Browser::new(&server.url, FIREFOX).signed_in("op@host.test", PASSWORD)
}

/// An account (its owner `email`), its API key, and a sandbox number sending `mps` messages a second.
fn account(
    install: &Install,
    server: &common::Server,
    email: &str,
    mps: i64,
) -> (String, Api, String) {
    let id = owner(install, "Owner", email);
    let output = install.run(&["apikey", "create", "--account", &id, "--name", "tests"]);
    let key = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    let api = Api {
        base: server.url.clone(),
        key,
        agent: ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into(),
    };
    let (status, connection) = api.call(
        "POST",
        "/api/v1/connections",
        Some(json!({"kind": "sandbox", "name": "Sandbox", "throughput_mps": mps})),
        &[],
    );
    assert_eq!(status, 201, "{connection}");
    (id, api, connection["id"].as_str().unwrap().to_owned())
}

fn text(connection: &str, to: &str, body: &str) -> Value {
    json!({"connection_id": connection, "to": to, "type": "text", "text": {"body": body}})
}

/// A GET as `browser` with more headers (the language).
fn get_with(browser: &Browser, path: &str, extra: &[(&str, &str)]) -> Answer {
    let mut headers = vec![("User-Agent", browser.user_agent.as_str())];
    if let Some(cookie) = &browser.cookie {
        headers.push(("Cookie", cookie));
    }
    headers.extend_from_slice(extra);
    request(&browser.base, "GET", path, &headers, "")
}

/// The table with this id, whole.
fn table<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html
        .find(&format!(r#"id="{id}""#))
        .unwrap_or_else(|| panic!("no {id} in {html}"));
    let rest = &html[start..];
    &rest[..rest.find("</table>").unwrap_or(rest.len())]
}

/// The row of the page's element with this id, up to the end of its row.
fn row<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html
        .find(&format!(r#"id="{id}""#))
        .unwrap_or_else(|| panic!("no {id} in {html}"));
    let rest = &html[start..];
    &rest[..rest.find("</tr>").unwrap_or(rest.len())]
}

#[test]
fn everything_under_admin_answers_404_to_all_but_an_operator() {
    let install = Install::new();
    let server = install.serve();
    let account = owner(&install, "Owner", "owner@shop.test");
    let nobody = Browser::new(&server.url, FIREFOX);
    let owner = nobody.signed_in("owner@shop.test", PASSWORD);
    let admin = joined(&install, &owner, "admin@shop.test", "admin");
    let member = joined(&install, &owner, "member@shop.test", "member");
    let operator = operator(&install, &server);
    let account_page = format!("/admin/accounts/{account}");
    let pages = ["/admin", "/admin/health", account_page.as_str()];
    let forms: Vec<(String, Vec<(&str, &str)>)> = vec![
        (
            "/admin/policy".into(),
            vec![("version", "2"), ("summary", "")],
        ),
        (format!("{account_page}/plan"), vec![("plan", "free")]),
        (
            format!("{account_page}/status"),
            vec![("status", "canceled")],
        ),
        (format!("{account_page}/suspend"), vec![("reason", "x")]),
        (format!("{account_page}/reactivate"), vec![]),
        (format!("{account_page}/hold"), vec![("reason", "x")]),
        (format!("{account_page}/release"), vec![]),
    ];
    let missing = nobody.get("/no-such-page");
    assert_eq!(missing.status, 404);

    for (who, browser, token_page) in [
        ("nobody", &nobody, "/login"),
        ("the owner", &owner, "/profile"),
        ("an admin", &admin, "/profile"),
        ("a member", &member, "/profile"),
    ] {
        for page in pages {
            let answer = browser.get(page);
            assert_eq!(answer.status, 404, "{who}: GET {page}: {}", answer.body);
            assert!(!answer.body.contains(r#"id="accounts""#), "{who}: {page}");
        }
        // With a token of their own that any of their forms would take: refused as no such page, not
        // as a forged form.
        let token = csrf_in(&browser.get(token_page).body);
        for (action, fields) in &forms {
            let mut all = vec![("csrf", token.as_str())];
            all.extend_from_slice(fields);
            let answer = browser.post(action, &all, &[]);
            assert_eq!(answer.status, 404, "{who}: POST {action}: {}", answer.body);
        }
    }
    let count = |sql: &str| common::api::count(&install, sql);
    assert_eq!(count("SELECT count(*) FROM account_hold_changes"), 0);
    assert_eq!(count("SELECT count(*) FROM subscription_changes"), 1);
    assert_eq!(
        count("SELECT count(*) FROM accounts WHERE status = 'active'"),
        1
    );
    // A member's pages still work: the refusals were the console's only.
    assert_eq!(member.get("/messages").status, 200);

    // The positive control: an operator sees every page and changes the account.
    for page in pages {
        let answer = operator.get(page);
        assert_eq!(answer.status, 200, "operator: GET {page}: {}", answer.body);
    }
    let held = submit(
        &operator,
        &account_page,
        &format!("{account_page}/hold"),
        &[("reason", "checking")],
    );
    assert_eq!(held.status, 303, "{}", held.body);
    assert_eq!(
        held.header("Location"),
        format!("{account_page}?done=sending_held")
    );
    assert_eq!(count("SELECT count(*) FROM account_hold_changes"), 1);
}

#[test]
fn a_suspended_account_cannot_sign_in_use_its_pages_or_its_api_until_reactivated() {
    let install = Install::new();
    let server = install.serve();
    let (account, api, connection) = account(&install, &server, "owner@shop.test", 80);
    let nobody = Browser::new(&server.url, FIREFOX);
    let owner = nobody.signed_in("owner@shop.test", PASSWORD);
    let operator = operator(&install, &server);
    let account_page = format!("/admin/accounts/{account}");
    // Before: the owner's pages and the API work.
    assert_eq!(owner.get("/messages").status, 200);
    assert_eq!(api.call("GET", "/api/v1/messages", None, &[]).0, 200);
    assert_eq!(api.send(text(&connection, "+96550001234", "before")).0, 202);

    let suspended = submit(
        &operator,
        &account_page,
        &format!("{account_page}/suspend"),
        &[("reason", "unpaid invoices")],
    );
    assert_eq!(suspended.status, 303, "{}", suspended.body);
    let page = operator.get(&account_page).body;
    assert!(page.contains(r#"id="suspended-state""#), "{page}");
    assert!(page.contains("unpaid invoices"));
    assert!(table(&page, "hold-history").contains("admin op@host.test"));
    let list = operator.get("/admin").body;
    assert!(row(&list, &format!("account-{account}")).contains(r#"data-hold="suspended""#));

    // The owner's next page signs them out and says why.
    let away = owner.get("/messages");
    assert_eq!(away.status, 303);
    assert_eq!(away.header("Location"), "/login?done=suspended");
    let told = owner.get("/login?done=suspended");
    assert!(
        told.body
            .contains("This account was suspended by the operator of this service"),
        "{}",
        told.body
    );
    // The session is gone: the same cookie is no longer anyone's.
    assert_eq!(owner.get("/profile").status, 303);
    // Signing in again is refused in words, in the person's language.
    let refused = nobody.sign_in_with(&nobody.login_token(), "owner@shop.test", PASSWORD);
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(
        refused
            .body
            .contains("This account is suspended by the operator")
    );
    assert!(refused.session_cookie().is_none());
    let arabic = get_with(
        &nobody,
        "/login?done=suspended",
        &[("Accept-Language", "ar")],
    );
    assert!(
        arabic.body.contains("علّق مشغّل هذه الخدمة هذا الحساب"),
        "{}",
        arabic.body
    );
    // The API refuses every call with the code and words saying what to do.
    for (method, path, body) in [
        ("GET", "/api/v1/messages", None),
        (
            "POST",
            "/api/v1/messages",
            Some(text(&connection, "+96550001234", "x")),
        ),
    ] {
        let (status, answer) = api.call(method, path, body, &[]);
        assert_eq!(status, 403, "{method} {path}: {answer}");
        assert_eq!(answer["error"]["code"], "account_suspended", "{answer}");
        assert!(
            answer["error"]["message"]
                .as_str()
                .unwrap()
                .contains("contact them"),
            "{answer}"
        );
    }
    // The operator's own access is the operator's.
    assert_eq!(operator.get("/admin").status, 200);

    let reactivated = submit(
        &operator,
        &account_page,
        &format!("{account_page}/reactivate"),
        &[],
    );
    assert_eq!(reactivated.status, 303, "{}", reactivated.body);
    assert_eq!(
        reactivated.header("Location"),
        format!("{account_page}?done=reactivated")
    );
    assert_eq!(api.call("GET", "/api/v1/messages", None, &[]).0, 200);
    assert_eq!(api.send(text(&connection, "+96550001234", "after")).0, 202);
    let again = nobody.signed_in("owner@shop.test", PASSWORD);
    assert_eq!(again.get("/messages").status, 200);
    let changes: Vec<(String, String)> = {
        let db = rusqlite::Connection::open(install.db_path()).unwrap();
        let mut stmt = db
            .prepare("SELECT change, by FROM account_hold_changes ORDER BY id")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let by = "admin op@host.test".to_owned();
    assert_eq!(
        changes,
        [("suspended".into(), by.clone()), ("reactivated".into(), by)]
    );
    // The operator's own activity lines, not the account's.
    assert_eq!(
        common::api::count(
            &install,
            "SELECT count(*) FROM activity_log WHERE account_id IS NULL
             AND action IN ('account_suspended', 'account_reactivated')"
        ),
        2
    );
}

/// Each message of `ids` with its status and attempts, by the API.
fn statuses(api: &Api, ids: &[String]) -> Vec<(String, i64)> {
    ids.iter()
        .map(|id| {
            let (status, message) = api.call("GET", &format!("/api/v1/messages/{id}"), None, &[]);
            assert_eq!(status, 200, "{message}");
            (
                message["status"].as_str().unwrap().to_owned(),
                message["attempts"].as_i64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn held_sending_keeps_queued_messages_waiting_and_sends_each_once_after_the_release() {
    let install = Install::new();
    let server = serve_quick(&install);
    // A number paced at one message a second: a burst is still queued when the hold comes.
    let (held_id, held, slow) = account(&install, &server, "held@shop.test", 1);
    let (_, other, fast) = account(&install, &server, "other@shop.test", 80);
    let operator = operator(&install, &server);
    let account_page = format!("/admin/accounts/{held_id}");
    let ids: Vec<String> = (0..8)
        .map(|n| {
            let (status, answer) = held.send(text(&slow, "+96550001234", &format!("m{n}")));
            assert_eq!(status, 202, "{answer}");
            answer["id"].as_str().unwrap().to_owned()
        })
        .collect();
    let hold = submit(
        &operator,
        &account_page,
        &format!("{account_page}/hold"),
        &[("reason", "spam reports")],
    );
    assert_eq!(hold.status, 303, "{}", hold.body);
    // New messages are refused in words; reading still works.
    let (status, refused) = held.send(text(&slow, "+96550001234", "refused"));
    assert_eq!(status, 403, "{refused}");
    assert_eq!(refused["error"]["code"], "sending_held");
    assert_eq!(held.call("GET", "/api/v1/messages", None, &[]).0, 200);
    // What was in flight when the hold came finishes; the rest waits.
    wait_until("no message of the held account in flight", || {
        statuses(&held, &ids).iter().all(|(s, _)| s != "sending")
    });
    let waiting: Vec<String> = ids
        .iter()
        .zip(statuses(&held, &ids))
        .filter(|(_, (status, _))| status == "queued")
        .map(|(id, _)| id.clone())
        .collect();
    assert!(
        waiting.len() >= 4,
        "a burst at one a second is mostly queued: {:?}",
        statuses(&held, &ids)
    );

    // Another account's messages are sent meanwhile, one after the other: the sender ran its rounds.
    for n in 0..2 {
        let (status, answer) = other.send(text(&fast, "+96550004321", &format!("marker {n}")));
        assert_eq!(status, 202, "{answer}");
        other.wait_for(
            answer["id"].as_str().unwrap(),
            &["sent", "delivered", "read"],
        );
    }
    assert!(
        statuses(&held, &waiting)
            .iter()
            .all(|(status, attempts)| status == "queued" && *attempts == 0),
        "{:?}",
        statuses(&held, &waiting)
    );
    // The health page shows them in the outbox, the threads alive.
    let health = operator.get("/admin/health").body;
    let depth = row(&health, "outbox-depth");
    assert!(
        depth.contains(&format!("{} queued, 0 being sent", waiting.len())),
        "{depth}"
    );
    assert!(row(&health, "outbox-held").contains("Due for"), "{health}");
    for thread in ["thread-sender", "thread-deliveries"] {
        let line = row(&health, thread);
        assert!(
            line.contains("Alive, last seen") && line.contains(r#"data-verdict="ok""#),
            "{line}"
        );
    }
    for id in [
        "writer-queue",
        "writer-commit",
        "database-files",
        "free-disk",
        "master-key",
        "keystore",
    ] {
        row(&health, id);
    }
    assert!(row(&health, "writer-commit").contains("Last "), "{health}");

    let released = submit(
        &operator,
        &account_page,
        &format!("{account_page}/release"),
        &[],
    );
    assert_eq!(released.status, 303, "{}", released.body);
    assert_eq!(
        released.header("Location"),
        format!("{account_page}?done=hold_released")
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(40);
    while statuses(&held, &ids)
        .iter()
        .any(|(s, _)| s == "queued" || s == "sending")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "{:?}",
            statuses(&held, &ids)
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // Each sent once: one attempt, one wamid of its own.
    let db = rusqlite::Connection::open(install.db_path()).unwrap();
    for id in &waiting {
        let (attempts, wamid): (i64, Option<String>) = db
            .query_row(
                "SELECT attempts, wamid FROM messages WHERE id = ?1",
                [id.parse::<i64>().unwrap()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(attempts, 1, "{id}");
        assert!(wamid.is_some_and(|w| w.starts_with("wamid.")), "{id}");
    }
    let distinct: i64 = db
        .query_row(
            "SELECT count(DISTINCT wamid) FROM messages WHERE account_id = ?1",
            [held_id.parse::<i64>().unwrap()],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(distinct, ids.len() as i64);
    let health = operator.get("/admin/health").body;
    assert!(
        row(&health, "outbox-depth").contains("0 queued"),
        "{health}"
    );
}

#[test]
fn the_list_of_accounts_shows_the_months_messages_and_the_share_that_failed() {
    let install = Install::new();
    let server = serve_quick(&install);
    let (busy_id, busy, connection) = account(&install, &server, "busy@shop.test", 80);
    let (quiet_id, ..) = account(&install, &server, "quiet@shop.test", 80);
    let operator = operator(&install, &server);
    // Three delivered and one Meta refuses as undeliverable (the sandbox's reserved test number).
    let mut ids = vec![];
    for to in [
        "+96550001234",
        "+96550001235",
        "+15550199131026",
        "+96550001236",
    ] {
        let (status, answer) = busy.send(text(&connection, to, "hello"));
        assert_eq!(status, 202, "{answer}");
        ids.push(answer["id"].as_str().unwrap().to_owned());
    }
    for id in &ids {
        busy.wait_for(id, &["sent", "delivered", "read", "failed"]);
    }
    let list = operator.get("/admin").body;
    let busy_row = row(&list, &format!("account-{busy_id}"));
    assert!(
        busy_row.contains(r#"data-cell="messages">4</td>"#),
        "{busy_row}"
    );
    assert!(
        busy_row.contains(r#"data-cell="failure-rate">25 %</td>"#),
        "{busy_row}"
    );
    // Its last activity (its creation, at least) is shown.
    assert!(!busy_row.contains("Never"), "{busy_row}");
    let quiet_row = row(&list, &format!("account-{quiet_id}"));
    assert!(
        quiet_row.contains(r#"data-cell="messages">0</td>"#),
        "{quiet_row}"
    );
    assert!(
        quiet_row.contains(r#"data-cell="failure-rate"><span class="muted">—</span>"#),
        "{quiet_row}"
    );
    // In Arabic, the same figures in the reader's digits.
    let arabic = get_with(&operator, "/admin", &[("Accept-Language", "ar")]).body;
    assert!(
        row(&arabic, &format!("account-{busy_id}")).contains("25%"),
        "{arabic}"
    );
    // The account's page: its number, its people, its activity.
    let page = operator.get(&format!("/admin/accounts/{busy_id}")).body;
    assert!(row(&page, &format!("connection-{connection}")).contains("Sandbox"));
    assert!(page.contains("busy@shop.test"), "{page}");
    assert!(
        table(&page, "account-activity").contains("Account created by an operator"),
        "{page}"
    );
    // Its usage of the last 30 days, drawn: today's messages, and the failure with its code.
    let usage = &page[page
        .find(r#"id="account-usage""#)
        .expect("the usage section")..];
    let usage = &usage[..usage.find("</section>").unwrap()];
    assert_eq!(usage.matches(r#"role="img""#).count(), 3, "{usage}");
    assert!(usage.contains("131026"), "{usage}");
}
