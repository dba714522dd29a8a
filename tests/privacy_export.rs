//! The rights of access and portability, through a real server: the owner downloads the whole account from
//! the profile page as one JSON document that follows `assets/export-schema.json`, holds every row of the
//! account and none of another's, and no secret; a member downloads only their own data;
//! `whatsapi export` writes the same document to a new private file.

mod common;
mod privacy_support;

use common::{Install, mode_of, stderr};
use privacy_support::{Answer, Browser, Business, MEMBER_PASSWORD, PASSWORD, business, open};
use serde_json::Value;
use std::collections::BTreeSet;

/// Two businesses on one server, each with data in every table.
fn two_businesses() -> (Install, common::Server, Business, Business) {
    let install = Install::new();
    let server = privacy_support::serve(&install);
    let alpha = business(&install, &server, "Alpha Trading", "alpha");
    let beta = business(&install, &server, "Beta Bakery", "beta");
    (install, server, alpha, beta)
}

fn parse(answer: &Answer) -> Value {
    assert_eq!(answer.status, 200, "{}", answer.text());
    serde_json::from_slice(&answer.body).expect("the export is one JSON document")
}

fn valid(document: &Value) {
    let schema = privacy_support::schema();
    if let Err(why) = privacy_support::validate(&schema, &schema, document, "$") {
        panic!("the export does not follow assets/export-schema.json: {why}");
    }
}

/// The ids the database holds for the account in `table`, as the export writes them.
fn ids_in_db(install: &Install, table: &str, account: i64) -> BTreeSet<String> {
    let conn = open(install);
    let mut stmt = conn
        .prepare(&format!("SELECT id FROM {table} WHERE account_id = ?1"))
        .unwrap();
    stmt.query_map([account], |r| r.get::<_, i64>(0))
        .unwrap()
        .map(|id| id.unwrap().to_string())
        .collect()
}

fn ids_in(document: &Value, section: &str) -> BTreeSet<String> {
    document[section]
        .as_array()
        .unwrap_or_else(|| panic!("{section} is a list"))
        .iter()
        .map(|item| item["id"].as_str().unwrap().to_owned())
        .collect()
}

fn assert_holds_nothing_of(text: &str, other: &Business, secrets_of: &[&Business]) {
    for marker in [
        other.company.as_str(),
        other.owner_email.as_str(),
        other.member_email.as_str(),
        other.message_text.as_str(),
        other.inbound_text.as_str(),
        &other.customer[1..],
    ] {
        assert!(
            !text.contains(marker),
            "the export holds {marker:?} of another account"
        );
    }
    for business in secrets_of {
        for secret in &business.secrets {
            assert!(
                !text.contains(secret.as_str()),
                "the export holds a secret: {secret}"
            );
        }
    }
    assert!(!text.contains("password_hash") && !text.contains("$argon2"));
}

#[test]
fn the_owner_downloads_every_row_of_the_account_and_nothing_else() {
    let (install, server, alpha, beta) = two_businesses();
    let owner = Browser::new(&server);
    owner.login(&alpha.owner_email, PASSWORD);
    let profile = owner.get("/profile").text();
    assert!(profile.contains("action=\"/profile/export/account\""));
    assert!(profile.contains("action=\"/profile/export/me\""));
    // The subscription has a history beyond its start, and each account a month counted against its
    // plan (an old month, which the running server's counts never write over).
    let moved = install.run(&[
        "account",
        "set-status",
        "--account",
        &alpha.id.to_string(),
        "--status",
        "trialing",
        "--trial-ends",
        "2099-01-01",
    ]);
    assert!(moved.status.success(), "{}", stderr(&moved));
    open(&install)
        .execute(
            "INSERT INTO usage_months (account_id, month, messages, counted_at)
             VALUES (?1, '2020-01', 42, 0), (?2, '2020-01', 7, 0)",
            [alpha.id, beta.id],
        )
        .unwrap();

    let answer = owner.submit("/profile", "/profile/export/account", &[]);
    assert!(
        answer
            .header("content-type")
            .starts_with("application/json")
    );
    let disposition = answer.header("content-disposition");
    assert!(
        disposition.starts_with(&format!(
            "attachment; filename=\"whatsapi-account-{}-",
            alpha.id
        )),
        "{disposition}"
    );
    assert_eq!(answer.header("cache-control"), "no-store");
    let text = answer.text();
    let export = parse(&answer);
    valid(&export);
    assert_eq!(export["schema"], "whatsapi-export");
    assert_eq!(export["version"], 1);
    assert_eq!(export["account"]["id"], alpha.id.to_string());
    assert_eq!(export["account"]["company"], "Alpha Trading");

    // Every row of the account, and only those.
    for (section, table) in [
        ("members", "users"),
        ("api_keys", "api_keys"),
        ("connections", "connections"),
        ("contacts", "contacts"),
        ("messages", "messages"),
        ("inbound_messages", "inbound_messages"),
        ("activity", "activity_log"),
        ("webhook_endpoints", "webhook_endpoints"),
        ("templates", "templates"),
    ] {
        assert_eq!(
            ids_in(&export, section),
            ids_in_db(&install, table, alpha.id),
            "{section}"
        );
    }
    assert_eq!(export["members"].as_array().unwrap().len(), 2);
    assert_eq!(export["connections"].as_array().unwrap().len(), 2);
    let consents = export["consents"].as_array().unwrap();
    let members = ids_in(&export, "members");
    assert!(!consents.is_empty());
    assert!(
        consents
            .iter()
            .all(|c| members.contains(c["user_id"].as_str().unwrap()))
    );

    // Sealed fields come out opened.
    let message = &export["messages"][0];
    assert_eq!(message["to"], alpha.customer);
    assert_eq!(message["message"]["body"], alpha.message_text);
    assert_eq!(message["status"], "read");
    let reported: Vec<&str> = message["status_events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    for status in ["sent", "delivered", "read"] {
        assert!(reported.contains(&status), "{reported:?}");
    }
    let inbound = &export["inbound_messages"][0];
    assert_eq!(inbound["message"]["text"]["body"], alpha.inbound_text);
    let contact = &export["contacts"][0];
    assert_eq!(contact["phone"], alpha.customer[1..]);
    assert_eq!(contact["profile_name"], "alpha customer");
    let cloud = export["connections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "cloud")
        .unwrap();
    assert_eq!(
        cloud["access_token_last4"],
        alpha.secrets[0][alpha.secrets[0].len() - 4..]
    );
    let usage = export["usage"].as_array().unwrap();
    assert_eq!(usage.len(), 1, "{usage:?}");
    assert_eq!(
        (usage[0]["messages"].as_i64(), usage[0]["read"].as_i64()),
        (Some(1), Some(1))
    );
    assert_eq!(usage[0]["inbound"], 1);
    let actions: Vec<&str> = export["activity"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"account_exported"), "{actions:?}");
    assert_eq!(export["webhook_endpoints"][0]["description"], "alpha hooks");
    // The plan and subscription status, their history with who made each change, and the months
    // counted against the plan: the account's own only.
    assert_eq!(export["account"]["plan"], "free");
    assert_eq!(export["subscription"]["plan"], "free");
    assert_eq!(export["subscription"]["status"], "trialing");
    assert!(export["subscription"]["trial_ends_at"].as_i64().unwrap() > 4_000_000_000_000);
    let changes: Vec<(&str, &str)> = export["subscription_changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["status"].as_str().unwrap(), c["by"].as_str().unwrap()))
        .collect();
    assert_eq!(
        changes,
        [("active", "account created"), ("trialing", "command line")]
    );
    assert_eq!(
        export["plan_usage"],
        serde_json::json!([{"month": "2020-01", "messages": 42}])
    );

    assert_holds_nothing_of(&text, &beta, &[&alpha, &beta]);

    // Only the owner downloads the account, and only through a form of this site.
    let member = Browser::new(&server);
    member.login(&alpha.member_email, MEMBER_PASSWORD);
    let refused = member.submit("/profile", "/profile/export/account", &[]);
    assert_eq!(refused.status, 403);
    assert!(
        !member
            .get("/profile")
            .text()
            .contains("/profile/export/account")
    );
    let forged = owner.post("/profile/export/account", &[("csrf", "not the token")]);
    assert_eq!(forged.status, 403);
}

#[test]
fn a_member_downloads_only_their_own_data() {
    let (install, server, alpha, beta) = two_businesses();
    let member = Browser::new(&server);
    member.login(&alpha.member_email, MEMBER_PASSWORD);
    let elsewhere = Browser::new(&server);
    elsewhere.login(&alpha.member_email, MEMBER_PASSWORD);
    let answer = member.submit("/profile", "/profile/export/me", &[]);
    let member_id: i64 = open(&install)
        .query_row(
            "SELECT id FROM users WHERE email = ?1",
            [&alpha.member_email],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        answer
            .header("content-disposition")
            .contains(&format!("whatsapi-personal-{member_id}-")),
    );
    let text = answer.text();
    let export = parse(&answer);
    valid(&export);
    assert_eq!(export["schema"], "whatsapi-personal-export");
    assert_eq!(export["user"]["email"], alpha.member_email);
    assert_eq!(export["user"]["role"], "member");
    assert_eq!(export["account"]["company"], "Alpha Trading");

    let member_text = member_id.to_string();
    let sessions = export["sessions"].as_array().unwrap();
    let in_db = privacy_support::count(
        &install,
        &format!("SELECT count(*) FROM sessions WHERE user_id = {member_id}"),
    );
    assert_eq!(sessions.len() as i64, in_db);
    assert!(sessions.len() >= 2);
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
    let activity = export["activity"].as_array().unwrap();
    assert!(!activity.is_empty());
    assert!(
        activity
            .iter()
            .all(|a| a["user_id"] == member_text.as_str())
    );
    assert_eq!(
        activity.len() as i64,
        privacy_support::count(
            &install,
            &format!("SELECT count(*) FROM activity_log WHERE user_id = {member_id}")
        )
    );
    let consents = export["consents"].as_array().unwrap();
    assert!(consents.iter().any(|c| c["kind"] == "privacy_policy"));
    assert!(
        consents
            .iter()
            .all(|c| c["user_id"] == member_text.as_str())
    );

    // Nothing of the account's other people, its customers, its secrets or the member's own secrets.
    let member_hash: String = open(&install)
        .query_row(
            "SELECT password_hash FROM users WHERE id = ?1",
            [member_id],
            |r| r.get(0),
        )
        .unwrap();
    for absent in [
        alpha.owner_email.as_str(),
        alpha.message_text.as_str(),
        alpha.inbound_text.as_str(),
        &alpha.customer[1..],
        &member_hash,
        &member.session().unwrap(),
        &elsewhere.session().unwrap(),
    ] {
        assert!(
            !text.contains(absent),
            "the member's export holds {absent:?}"
        );
    }
    assert_holds_nothing_of(&text, &beta, &[&alpha, &beta]);
}

#[test]
fn the_command_line_writes_the_same_document_to_a_new_private_file() {
    let (install, server, alpha, beta) = two_businesses();
    let owner = Browser::new(&server);
    owner.login(&alpha.owner_email, PASSWORD);
    let file = install.path("alpha.json");
    let path = file.to_str().unwrap();
    let output = install.run(&["export", "--account", &alpha.id.to_string(), "--out", path]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stderr(&output).contains("rows"), "{}", stderr(&output));
    assert_eq!(mode_of(&file), 0o600);
    let written = std::fs::read(&file).unwrap();
    let mut from_cli: Value = serde_json::from_slice(&written).unwrap();
    valid(&from_cli);
    assert_holds_nothing_of(&String::from_utf8_lossy(&written), &beta, &[&alpha, &beta]);

    // The page's download, made after, differs only in its time and its own entry in the activity log.
    let mut from_page = parse(&owner.submit("/profile", "/profile/export/account", &[]));
    for document in [&mut from_cli, &mut from_page] {
        document["exported_at"] = Value::Null;
        for key in document["api_keys"].as_array_mut().unwrap() {
            key["last_used_at"] = Value::Null;
        }
    }
    let page_activity = from_page["activity"].as_array_mut().unwrap();
    let last = page_activity.pop().unwrap();
    assert_eq!(last["action"], "account_exported");
    assert_eq!(from_cli, from_page);

    // An existing file is never overwritten; an unknown account writes nothing.
    let again = install.run(&["export", "--account", &alpha.id.to_string(), "--out", path]);
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("never overwritten"),
        "{}",
        stderr(&again)
    );
    assert_eq!(std::fs::read(&file).unwrap(), written);
    let nobody = install.path("nobody.json");
    let unknown = install.run(&[
        "export",
        "--account",
        "999",
        "--out",
        nobody.to_str().unwrap(),
    ]);
    assert!(!unknown.status.success());
    assert!(
        stderr(&unknown).contains("no account 999"),
        "{}",
        stderr(&unknown)
    );
    assert!(!nobody.exists());
}
