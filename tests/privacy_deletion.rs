//! The right to deletion, through a real server: the owner deletes the account (password and company name
//! re-entered) and then no table holds a row of it, its sessions and API keys fail at once, its data key
//! is gone, and the owner gets a confirmation; operators do the same with `whatsapi account delete`; a
//! member deletes their own user; a business erases one end customer, by the API or from the inbox.

mod common;
mod privacy_support;

use common::{Install, Server, stderr, stdout};
use privacy_support::{
    Browser, Business, MEMBER_PASSWORD, PASSWORD, business, count, delete_with_stdin, email_to,
    full, nothing_left, open, rows_of, settle,
};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

fn two_businesses() -> (Install, Server, Business, Business) {
    let install = Install::new();
    let server = privacy_support::serve(&install);
    let alpha = business(&install, &server, "Alpha Trading", "alpha");
    let beta = business(&install, &server, "Beta Bakery", "beta");
    settle(&install);
    (install, server, alpha, beta)
}

fn api_status(business: &Business) -> u16 {
    business.api.call("GET", "/api/v1/messages", None, &[]).0
}

#[test]
fn the_owner_deletes_the_account_and_nothing_of_it_is_left() {
    let (install, server, alpha, beta) = two_businesses();
    let owner = Browser::new(&server);
    owner.login(&alpha.owner_email, PASSWORD);
    let member = Browser::new(&server);
    member.login(&alpha.member_email, MEMBER_PASSWORD);
    let before = rows_of(&install, alpha.id);
    full(&before);
    let beta_before = rows_of(&install, beta.id);
    assert_eq!(privacy_support::data_keys_of(&install, alpha.id), 1);

    // A wrong password or company name deletes nothing.
    for (password, company, refusal) in [
        (
            "not the password at all",
            "Alpha Trading",
            "The current password is not right.",
        ),
        (PASSWORD, "alpha trading", "Type the company name exactly"),
        (PASSWORD, "", "Type the company name exactly"),
    ] {
        let answer = owner.submit(
            "/profile",
            "/profile/delete-account",
            &[("current_password", password), ("company", company)],
        );
        assert_eq!(answer.status, 422, "{}", answer.text());
        assert!(answer.text().contains(refusal), "{}", answer.text());
    }
    assert_eq!(rows_of(&install, alpha.id), before);
    assert_eq!(api_status(&alpha), 200);
    assert!(owner.signed_in() && member.signed_in());
    let page = owner.get("/profile").text();
    assert!(page.contains("action=\"/profile/delete-account\""));
    assert!(!page.contains("action=\"/profile/delete-user\""));

    let answer = owner.submit(
        "/profile",
        "/profile/delete-account",
        &[("current_password", PASSWORD), ("company", "Alpha Trading")],
    );
    assert_eq!(answer.status, 303, "{}", answer.text());
    assert_eq!(answer.header("location"), "/login?done=account_deleted");

    // At once: API keys and every session fail, and no table holds a row of the account.
    assert_eq!(api_status(&alpha), 401);
    assert!(!owner.signed_in() && !member.signed_in());
    assert!(
        owner
            .get("/login?done=account_deleted")
            .text()
            .contains("The account and all of its data were deleted")
    );
    nothing_left(&rows_of(&install, alpha.id));
    let login = Browser::new(&server).submit(
        "/login",
        "/login",
        &[("email", &alpha.owner_email), ("password", PASSWORD)],
    );
    assert_ne!(login.status, 303, "the deleted owner still signs in");

    // The other account is untouched and works.
    assert_eq!(rows_of(&install, beta.id), beta_before);
    let (status, page) = beta.api.call("GET", "/api/v1/messages", None, &[]);
    assert_eq!(status, 200);
    assert_eq!(page["data"][0]["message"]["body"], beta.message_text);

    // Its data key is destroyed (what backups hold of it is unreadable: tests/privacy_backups.rs).
    assert_eq!(privacy_support::data_keys_of(&install, alpha.id), 0);
    assert_eq!(privacy_support::data_keys_of(&install, beta.id), 1);

    // The owner is told, in words.
    let email = email_to(&install, &alpha.owner_email, "Alpha Trading was deleted");
    assert!(email.contains("with everything it held"), "{email}");
    assert!(
        count(
            &install,
            "SELECT count(*) FROM activity_log WHERE action = 'account_deleted' AND account_id IS NULL"
        ) == 1
    );
}

#[test]
fn operators_delete_an_account_from_the_command_line_once_confirmed() {
    let (install, server, alpha, beta) = two_businesses();
    let owner = Browser::new(&server);
    owner.login(&alpha.owner_email, PASSWORD);
    let before = rows_of(&install, alpha.id);
    full(&before);

    let refused = delete_with_stdin(&install, alpha.id, "Beta Bakery");
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("nothing was deleted"),
        "{}",
        stderr(&refused)
    );
    assert!(
        stderr(&refused).contains("messages"),
        "it lists what would go"
    );
    assert_eq!(rows_of(&install, alpha.id), before);
    assert_eq!(api_status(&alpha), 200);

    let deleted = delete_with_stdin(&install, alpha.id, "Alpha Trading");
    assert!(deleted.status.success(), "{}", stderr(&deleted));
    assert!(
        stdout(&deleted).contains("was deleted"),
        "{}",
        stdout(&deleted)
    );
    assert!(stderr(&deleted).contains("rows"), "progress on stderr");
    nothing_left(&rows_of(&install, alpha.id));
    assert!(!owner.signed_in());
    // The server trusted a checked key for 5 s; another process's deletion reaches it within that.
    let deadline = Instant::now() + Duration::from_secs(10);
    while api_status(&alpha) != 401 {
        assert!(
            Instant::now() < deadline,
            "the deleted account's key still works"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    email_to(&install, &alpha.owner_email, "Alpha Trading was deleted");

    // --yes asks nothing.
    let output = install.run(&[
        "account",
        "delete",
        "--account",
        &beta.id.to_string(),
        "--yes",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    nothing_left(&rows_of(&install, beta.id));
    let output = install.run(&[
        "account",
        "delete",
        "--account",
        &beta.id.to_string(),
        "--yes",
    ]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("no account"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_member_deletes_their_own_user_but_the_owner_deletes_the_account_instead() {
    let install = Install::new();
    let server = privacy_support::serve(&install);
    let alpha = business(&install, &server, "Alpha Trading", "alpha");
    let member = Browser::new(&server);
    member.login(&alpha.member_email, MEMBER_PASSWORD);
    let elsewhere = Browser::new(&server);
    elsewhere.login(&alpha.member_email, MEMBER_PASSWORD);
    let member_id: i64 = open(&install)
        .query_row(
            "SELECT id FROM users WHERE email = ?1",
            [&alpha.member_email],
            |r| r.get(0),
        )
        .unwrap();
    let page = member.get("/profile").text();
    assert!(page.contains("action=\"/profile/delete-user\""));
    assert!(!page.contains("action=\"/profile/delete-account\""));

    let wrong = member.submit(
        "/profile",
        "/profile/delete-user",
        &[("current_password", PASSWORD)],
    );
    assert_eq!(wrong.status, 422);
    assert!(member.signed_in());

    let of_member = |install: &Install| {
        [
            "SELECT count(*) FROM users WHERE id = ?",
            "SELECT count(*) FROM sessions WHERE user_id = ?",
            "SELECT count(*) FROM consents WHERE user_id = ?",
            "SELECT count(*) FROM known_browsers WHERE user_id = ?",
            "SELECT count(*) FROM activity_log WHERE user_id = ?",
        ]
        .map(|sql| count(install, &sql.replace('?', &member_id.to_string())))
    };
    assert!(of_member(&install).iter().all(|n| *n > 0));
    let messages = count(&install, "SELECT count(*) FROM messages");
    let done = member.submit(
        "/profile",
        "/profile/delete-user",
        &[("current_password", MEMBER_PASSWORD)],
    );
    assert_eq!(done.status, 303, "{}", done.text());
    assert_eq!(done.header("location"), "/login?done=user_deleted");
    assert_eq!(of_member(&install), [0; 5]);
    assert!(!member.signed_in() && !elsewhere.signed_in());
    // What the member did stays in the account's log, without them.
    assert_eq!(
        count(
            &install,
            &format!(
                "SELECT count(*) FROM activity_log WHERE detail = '{}' OR (user_id IS NULL AND ip = '127.0.0.1' AND action = 'member_joined')",
                alpha.member_email
            )
        ),
        0
    );
    assert_eq!(
        count(
            &install,
            "SELECT count(*) FROM activity_log WHERE action = 'member_deleted_themselves'"
        ),
        1
    );
    assert_eq!(count(&install, "SELECT count(*) FROM messages"), messages);
    assert_eq!(api_status(&alpha), 200);
    email_to(
        &install,
        &alpha.member_email,
        "Your user at Alpha Trading was deleted",
    );

    // The owner cannot leave the account without it.
    let owner = Browser::new(&server);
    owner.login(&alpha.owner_email, PASSWORD);
    let refused = owner.submit(
        "/profile",
        "/profile/delete-user",
        &[("current_password", PASSWORD)],
    );
    assert_eq!(refused.status, 422);
    assert!(
        refused.text().contains("delete the whole account"),
        "{}",
        refused.text()
    );
    assert!(owner.signed_in());
    assert_eq!(
        count(
            &install,
            &format!(
                "SELECT count(*) FROM users WHERE email = '{}'",
                alpha.owner_email
            )
        ),
        1
    );
}

/// The ids of the messages sent to `phone`, as the API lists them.
fn messages_to(business: &Business, phone: &str) -> Vec<String> {
    let (status, page) = business.api.call(
        "GET",
        &format!("/api/v1/messages?to={}", phone.replace('+', "%2B")),
        None,
        &[],
    );
    assert_eq!(status, 200, "{page}");
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect()
}

fn conversations(business: &Business) -> Vec<Value> {
    let (status, page) = business.api.call("GET", "/api/v1/conversations", None, &[]);
    assert_eq!(status, 200, "{page}");
    page["data"].as_array().unwrap().clone()
}

#[test]
fn erasing_a_customer_removes_their_messages_and_leaves_the_others() {
    let install = Install::new();
    let server = privacy_support::serve(&install);
    let alpha = business(&install, &server, "Alpha Trading", "alpha");
    let other = "+96550004444";
    let (status, sent) = alpha.api.call(
        "POST",
        "/api/v1/messages",
        Some(json!({"connection_id": alpha.sandbox, "to": other, "type": "text", "text": {"body": "Hello other"}})),
        &[],
    );
    assert_eq!(status, 202, "{sent}");
    alpha.api.wait_for(sent["id"].as_str().unwrap(), &["read"]);
    let (status, _) = alpha.api.call(
        "POST",
        &format!("/api/v1/connections/{}/sandbox/inbound", alpha.sandbox),
        Some(json!({"from": other, "name": "Other customer", "text": "Other writes"})),
        &[],
    );
    assert_eq!(status, 200);
    settle(&install);

    let erased: Vec<i64> = messages_to(&alpha, &alpha.customer)
        .iter()
        .map(|id| id.parse().unwrap())
        .collect();
    assert_eq!(erased.len(), 1);
    let list = format!("{:?}", erased).replace(['[', ']'], "");
    let derived = |install: &Install| {
        [
            format!("SELECT count(*) FROM messages WHERE id IN ({list})"),
            format!("SELECT count(*) FROM message_statuses WHERE message_id IN ({list})"),
            format!("SELECT count(*) FROM idempotency_keys WHERE message_id IN ({list})"),
            format!("SELECT count(*) FROM webhook_events WHERE message_id IN ({list})"),
            format!(
                "SELECT count(*) FROM webhook_payloads WHERE id IN
                 (SELECT payload_id FROM message_statuses WHERE message_id IN ({list}))"
            ),
        ]
        .map(|sql| count(install, &sql))
    };
    assert!(
        derived(&install).iter().all(|n| *n > 0),
        "{:?}",
        derived(&install)
    );
    let customer_contact = conversations(&alpha)
        .iter()
        .find(|c| c["phone"] == alpha.customer)
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .unwrap();
    let payloads: Vec<i64> = {
        let conn = open(&install);
        let mut stmt = conn
            .prepare(&format!(
                "SELECT payload_id FROM message_statuses WHERE message_id IN ({list})
                 UNION SELECT payload_id FROM inbound_messages WHERE contact_id = {customer_contact}"
            ))
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert!(payloads.len() >= 4, "{payloads:?}");
    let others_before = (
        messages_to(&alpha, other),
        count(
            &install,
            "SELECT count(*) FROM message_statuses WHERE message_id IS NOT NULL",
        ) - derived(&install)[1],
    );

    // Anything that is not a number is refused.
    let (status, body) = alpha.api.call(
        "POST",
        "/api/v1/contacts/erase",
        Some(json!({"phone": "not a number"})),
        &[],
    );
    assert_eq!(status, 400, "{body}");
    let (status, body) = alpha.api.call(
        "POST",
        "/api/v1/contacts/erase",
        Some(json!({"phone": alpha.customer.replace("+965", "+965 ")})),
        &[],
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["phone"], alpha.customer);
    assert_eq!(body["deleted"]["messages"], 1);
    assert_eq!(body["deleted"]["inbound_messages"], 1);
    assert_eq!(body["deleted"]["contacts"], 1);

    assert_eq!(derived(&install), [0; 5]);
    assert_eq!(
        count(
            &install,
            &format!("SELECT count(*) FROM inbound_messages WHERE contact_id = {customer_contact}")
        ),
        0
    );
    assert_eq!(
        count(
            &install,
            &format!("SELECT count(*) FROM contacts WHERE id = {customer_contact}")
        ),
        0
    );
    for payload in payloads {
        assert_eq!(
            count(
                &install,
                &format!("SELECT count(*) FROM webhook_payloads WHERE id = {payload}")
            ),
            0,
            "a payload about the erased customer only is left"
        );
    }
    assert!(messages_to(&alpha, &alpha.customer).is_empty());
    let left = conversations(&alpha);
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["phone"], other);
    assert_eq!(messages_to(&alpha, other), others_before.0);
    assert_eq!(
        count(
            &install,
            "SELECT count(*) FROM message_statuses WHERE message_id IS NOT NULL"
        ),
        others_before.1
    );
    let detail: String = open(&install)
        .query_row(
            "SELECT detail FROM activity_log WHERE action = 'customer_erased'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(!detail.contains(&alpha.customer[4..]), "{detail}");

    // From the inbox: owners and admins erase the customer of a conversation; members cannot.
    let contact = left[0]["id"].as_str().unwrap();
    let member = Browser::new(&server);
    member.login(&alpha.member_email, MEMBER_PASSWORD);
    let page = member.get(&format!("/inbox/{contact}")).text();
    assert!(!page.contains("/erase\""));
    let refused = member.submit(
        &format!("/inbox/{contact}"),
        &format!("/inbox/{contact}/erase"),
        &[],
    );
    assert_eq!(refused.status, 403);
    let owner = Browser::new(&server);
    owner.login(&alpha.owner_email, PASSWORD);
    // The form is on the contact's page now; the conversation links there.
    let page = owner.get(&format!("/inbox/{contact}")).text();
    assert!(page.contains(&format!("href=\"/contacts/{contact}\"")));
    let erased = owner.submit(
        &format!("/inbox/{contact}"),
        &format!("/inbox/{contact}/erase"),
        &[],
    );
    assert_eq!(erased.status, 303, "{}", erased.text());
    assert_eq!(erased.header("location"), "/inbox");
    assert!(conversations(&alpha).is_empty());
    assert!(messages_to(&alpha, other).is_empty());
    assert_eq!(count(&install, "SELECT count(*) FROM messages"), 0);
    assert_eq!(count(&install, "SELECT count(*) FROM inbound_messages"), 0);
    assert_eq!(owner.get(&format!("/inbox/{contact}")).status, 404);
}

#[test]
fn a_large_account_goes_in_batches_with_tables_added_later() {
    use whatsapi::store::{accounts, erasure, retention::BATCH};
    let dir = tempfile::tempdir().unwrap();
    let db = whatsapi::store::Db::open(
        &dir.path().join("whatsapi.db"),
        &whatsapi::store::StoreOptions::default(),
        whatsapi::crypto::Key::master([7; 32]),
        &whatsapi::store::keystore::KeystoreFiles::beside(&dir.path().join("master.key")),
    )
    .unwrap();
    let key_db = db.clone();
    let (kept, gone) = db
        .write(move |conn| {
            let new = |company: &str| accounts::NewAccount {
                company: company.into(),
                ..Default::default()
            };
            let kept = accounts::create(conn, key_db.keyring(), &new("Kept"))?;
            let gone = accounts::create(conn, key_db.keyring(), &new("Gone"))?;
            // Tables a later version might add: one naming the account, one hanging off its people.
            conn.execute_batch(
                "CREATE TABLE future_notes (id INTEGER PRIMARY KEY, account_id INTEGER NOT NULL, note TEXT);
                 CREATE TABLE future_badges (user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
                                             badge TEXT, PRIMARY KEY (user_id, badge)) WITHOUT ROWID;",
            )?;
            for account in [kept, gone] {
                let a = account.get();
                conn.execute_batch(&format!(
                    "INSERT INTO users (account_id, role, email, name, password_hash, created_at, password_changed_at)
                     VALUES ({a}, 'owner', 'o{a}@x.test', 'O', 'h', 0, 0);
                     INSERT INTO future_badges VALUES (last_insert_rowid(), 'early');
                     INSERT INTO connections (id, account_id, kind, name, phone_number_id, waba_id, access_token,
                         access_token_last4, app_secret, app_secret_last4, verify_token, webhook_key, graph_version,
                         graph_base_url, created_at, updated_at)
                     VALUES ({a}, {a}, 'sandbox', 'n', 'p', 'w', x'00', '0000', x'00', '0000', x'00', 'k{a}', 'v21.0',
                             'http://x', 0, 0);
                     WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {count})
                     INSERT INTO messages (id, account_id, connection_id, recipient, recipient_index, type, body,
                                           status, next_attempt_at, created_at)
                     SELECT {a} * 100000 + i, {a}, {a}, x'01', x'02', 'text', x'03', 'read', 0, 0 FROM n;
                     INSERT INTO message_statuses (account_id, message_id, wamid, status, at, received_at)
                     SELECT {a}, id, 'w' || id, 'read', 0, 0 FROM messages WHERE account_id = {a};
                     INSERT INTO future_notes (account_id, note) SELECT {a}, 'n' FROM messages WHERE account_id = {a};",
                    count = 2 * BATCH + 7
                ))?;
            }
            Ok((kept, gone))
        })
        .unwrap();
    let before = db
        .read(|conn| erasure::count_account_rows(conn, kept))
        .unwrap();
    let mut heard = Vec::new();
    let (deleted, batches) = erasure::delete_account(
        &db,
        gone,
        &mut |table, _| heard.push(table.to_owned()),
        |_| {},
    )
    .unwrap();
    let many = 2 * BATCH as u64 + 7;
    for table in ["messages", "message_statuses", "future_notes"] {
        assert_eq!(deleted.get(table), many, "{table}");
        assert_eq!(
            heard.iter().filter(|t| *t == table).count(),
            3,
            "{table} in 3 batches"
        );
    }
    assert_eq!(deleted.get("future_badges"), 1);
    assert_eq!(deleted.get("(cascaded)"), 0, "nothing was left to cascade");
    assert!(batches >= 9);
    assert_eq!(
        db.read(|conn| erasure::count_account_rows(conn, gone))
            .unwrap()
            .total(),
        0
    );
    assert_eq!(
        db.read(|conn| erasure::count_account_rows(conn, kept))
            .unwrap(),
        before
    );
    assert!(matches!(
        db.keyring().data_key(gone),
        Err(whatsapi::error::Error::NotFound)
    ));
}
