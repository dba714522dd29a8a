//! `whatsapi account suspend`, `reactivate`, `hold-sending` and `release-hold` with a running server:
//! each change is printed, recorded as made by "command line", and followed by the server within
//! seconds (sign-in and pages at once, the API within the few seconds it trusts an account's standing);
//! a change that changes nothing says so, and an unknown account is refused with exit code 1.

mod common;

use common::api::{PASSWORD, account};
use common::raw::Browser;
use common::{Install, stderr, stdout, wait_until};
use serde_json::json;

fn run(install: &Install, args: &[&str]) -> (bool, String, String) {
    let output = install.run(args);
    (output.status.success(), stdout(&output), stderr(&output))
}

#[test]
fn suspension_and_hold_from_the_command_line_are_followed_by_the_running_server() {
    let install = Install::new();
    let server = install.serve();
    let (api, connection) = account(&install, &server, "owner@shop.test");
    let id = common::api::count(&install, "SELECT id FROM accounts").to_string();
    let send = |body: &str| {
        api.send(
            json!({"connection_id": connection, "to": "+96550001234", "type": "text",
                        "text": {"body": body}}),
        )
    };
    let nobody = Browser::new(&server.url, "Firefox/140.0");
    let owner = nobody.signed_in("owner@shop.test", PASSWORD);
    // Before: everything works.
    assert_eq!(owner.get("/messages").status, 200);
    assert_eq!(send("before").0, 202);

    let (ok, out, err) = run(
        &install,
        &[
            "account",
            "suspend",
            "--account",
            &id,
            "--reason",
            "chargebacks",
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(out.trim(), format!("account {id}: suspended"));
    let (ok, out, _) = run(&install, &["account", "suspend", "--account", &id]);
    assert!(ok);
    assert!(out.contains("suspended already: nothing changed"), "{out}");
    // Pages and sign-in follow at once; the API within the seconds it trusts what it read.
    let away = owner.get("/messages");
    assert_eq!(away.status, 303);
    assert_eq!(away.header("Location"), "/login?done=suspended");
    let refused = nobody.sign_in_with(&nobody.login_token(), "owner@shop.test", PASSWORD);
    assert_eq!(refused.status, 403);
    assert!(
        refused.body.contains("This account is suspended"),
        "{}",
        refused.body
    );
    wait_until("the API refuses the suspended account", || {
        api.call("GET", "/api/v1/connections", None, &[]).0 == 403
    });
    let (status, body) = send("while suspended");
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "account_suspended");

    let (ok, out, err) = run(&install, &["account", "reactivate", "--account", &id]);
    assert!(ok, "{err}");
    assert_eq!(
        out.trim(),
        format!("account {id}: reactivated (it was suspended)")
    );
    wait_until("the API serves the account again", || {
        api.call("GET", "/api/v1/connections", None, &[]).0 == 200
    });
    assert_eq!(nobody.sign_in("owner@shop.test", PASSWORD), 303);
    let (_, out, _) = run(&install, &["account", "reactivate", "--account", &id]);
    assert!(
        out.contains("neither suspended nor held: nothing changed"),
        "{out}"
    );

    // A hold of sending: messages are refused with their own code; everything else works.
    let (_, out, _) = run(&install, &["account", "release-hold", "--account", &id]);
    assert!(out.contains("is not held: nothing changed"), "{out}");
    let (ok, out, err) = run(
        &install,
        &[
            "account",
            "hold-sending",
            "--account",
            &id,
            "--reason",
            "spam",
        ],
    );
    assert!(ok, "{err}");
    assert!(out.contains("sending held"), "{out}");
    wait_until("sending is refused", || send("meanwhile").0 == 403);
    let (_, body) = send("while held");
    assert_eq!(body["error"]["code"], "sending_held", "{body}");
    assert_eq!(api.call("GET", "/api/v1/messages", None, &[]).0, 200);
    let signed_in = nobody.signed_in("owner@shop.test", PASSWORD);
    assert!(
        signed_in
            .get("/messages")
            .body
            .contains("Sending is held by the operator"),
        "the banner says why nothing is sent"
    );
    let (ok, out, err) = run(&install, &["account", "release-hold", "--account", &id]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), format!("account {id}: sending released"));
    wait_until("sending works again", || send("after").0 == 202);

    // Every change in the account's history, by the command line, with its reason.
    let db = rusqlite::Connection::open(install.db_path()).unwrap();
    let history: Vec<(String, String, String)> = db
        .prepare("SELECT change, reason, by FROM account_hold_changes ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let line = |change: &str, reason: &str| (change.into(), reason.into(), "command line".into());
    assert_eq!(
        history,
        [
            line("suspended", "chargebacks"),
            line("reactivated", ""),
            line("sending_held", "spam"),
            line("hold_released", ""),
        ]
    );
}

#[test]
fn an_unknown_account_is_refused_and_nothing_changes() {
    let install = Install::new();
    // A new installation's key and database, as a first start makes them.
    let migrated = install.run(&["migrate"]);
    assert!(migrated.status.success(), "{}", stderr(&migrated));
    let id = common::api::owner(&install, "Owner", "owner@shop.test");
    for command in ["suspend", "reactivate", "hold-sending", "release-hold"] {
        let output = install.run(&["account", command, "--account", "999"]);
        assert_eq!(output.status.code(), Some(1), "{command}");
        assert!(stdout(&output).is_empty(), "{command}: {}", stdout(&output));
        assert!(
            stderr(&output).contains("there is no account 999"),
            "{command}: {}",
            stderr(&output)
        );
    }
    assert_eq!(
        common::api::count(&install, "SELECT count(*) FROM account_hold_changes"),
        0
    );
    // The positive control: the account that exists is suspended.
    let (ok, out, err) = run(&install, &["account", "suspend", "--account", &id]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), format!("account {id}: suspended"));
    assert_eq!(
        common::api::count(&install, "SELECT count(*) FROM account_hold_changes"),
        1
    );
}
