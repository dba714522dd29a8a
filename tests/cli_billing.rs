//! `whatsapi account set-plan` and `set-status`, with plans from a configuration file and a running
//! server: each change is printed, recorded as made by "command line", and seen by the server within
//! seconds; an unknown plan, status or account is refused with a message that says what exists, exit
//! code 1, and nothing changed.

mod common;

use common::api::{PASSWORD, with_password};
use common::raw::Browser;
use common::{Install, stderr, stdout, wait_until};

const CONFIG: &str = r#"
[billing]
default_plan = "starter"
grace_days = 7

[[plans]]
id = "starter"
name = "Starter"
messages_per_month = 1000

[[plans]]
id = "pro"
name = "Pro"
"#;

/// An installation whose commands all read the plans above.
struct Billed {
    install: Install,
    config: String,
}

impl Billed {
    fn new() -> Billed {
        let install = Install::new();
        let config = install.path("config.toml");
        std::fs::write(&config, CONFIG).unwrap();
        Billed {
            config: config.display().to_string(),
            install,
        }
    }

    fn args<'a>(&'a self, args: &[&'a str]) -> Vec<&'a str> {
        let mut all = vec!["--config", self.config.as_str()];
        all.extend_from_slice(args);
        all
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        self.install.run(&self.args(args))
    }

    fn history(&self) -> Vec<(String, String, String)> {
        let conn = rusqlite::Connection::open(self.install.db_path()).unwrap();
        let mut stmt = conn
            .prepare("SELECT plan, status, by FROM subscription_changes ORDER BY id")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }
}

fn row(plan: &str, status: &str, by: &str) -> (String, String, String) {
    (plan.into(), status.into(), by.into())
}

#[test]
fn plans_and_statuses_change_from_the_command_line_and_the_running_server_follows() {
    let billed = Billed::new();
    let server = billed
        .install
        .serve_with(billed.install.command(&billed.args(&["serve"])));
    let account = with_password(
        &billed.install,
        &billed.args(&[
            "account",
            "create",
            "--company",
            "Shop",
            "--name",
            "Owner",
            "--email",
            "owner@shop.test",
            "--password-stdin",
        ]),
    );
    let owner = Browser::new(&server.url, "Firefox/140.0").signed_in("owner@shop.test", PASSWORD);
    let billing = owner.get("/billing");
    assert_eq!(billing.status, 200, "{}", billing.body);
    assert!(billing.body.contains(r#"<dd id="plan-name">Starter</dd>"#));

    let moved = billed.run(&[
        "account",
        "set-plan",
        "--account",
        &account,
        "--plan",
        "pro",
    ]);
    assert!(moved.status.success(), "{}", stderr(&moved));
    assert_eq!(
        stdout(&moved).trim(),
        format!("account {account}: plan starter -> pro")
    );
    let again = billed.run(&[
        "account",
        "set-plan",
        "--account",
        &account,
        "--plan",
        "pro",
    ]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        stdout(&again).contains("nothing changed"),
        "{}",
        stdout(&again)
    );

    let stopped = billed.run(&[
        "account",
        "set-status",
        "--account",
        &account,
        "--status",
        "past_due",
    ]);
    assert!(stopped.status.success(), "{}", stderr(&stopped));
    let said = stdout(&stopped);
    assert!(
        said.starts_with(&format!(
            "account {account}: status active -> past_due (past due since "
        )),
        "{said}"
    );
    assert!(said.contains("sending stops"), "{said}");
    let trial = billed.run(&[
        "account",
        "set-status",
        "--account",
        &account,
        "--status",
        "trialing",
        "--trial-ends",
        "2099-01-15",
    ]);
    assert!(trial.status.success(), "{}", stderr(&trial));
    assert!(
        stdout(&trial).contains("past_due -> trialing (the trial ends 2099-01-15 00:00 UTC)"),
        "{}",
        stdout(&trial)
    );
    assert_eq!(
        billed.history(),
        [
            row("starter", "active", "account created"),
            row("pro", "active", "command line"),
            row("pro", "past_due", "command line"),
            row("pro", "trialing", "command line"),
        ]
    );

    // The server trusts a subscription it read for a few seconds, then follows the store.
    let canceled = billed.run(&[
        "account",
        "set-status",
        "--account",
        &account,
        "--status",
        "canceled",
    ]);
    assert!(canceled.status.success(), "{}", stderr(&canceled));
    wait_until("the server shows the canceled subscription", || {
        let page = owner.get("/billing").body;
        page.contains(r#"<dd id="plan-name">Pro</dd>"#)
            && page.contains("The subscription is canceled: sending is stopped.")
    });
}

#[test]
fn an_unknown_plan_status_or_account_is_refused_with_what_exists() {
    let billed = Billed::new();
    // A new installation's key and database, as a first start makes them.
    let migrated = billed.run(&["migrate"]);
    assert!(migrated.status.success(), "{}", stderr(&migrated));
    let account = with_password(
        &billed.install,
        &billed.args(&[
            "account",
            "create",
            "--company",
            "Shop",
            "--name",
            "Owner",
            "--email",
            "owner@shop.test",
            "--password-stdin",
        ]),
    );
    // The positive marker the refusals are measured against: one change made.
    let moved = billed.run(&[
        "account",
        "set-plan",
        "--account",
        &account,
        "--plan",
        "pro",
    ]);
    assert!(moved.status.success(), "{}", stderr(&moved));
    let before = billed.history();
    assert_eq!(before.len(), 2);

    let refusals: [(&[&str], &str); 5] = [
        (
            &[
                "account",
                "set-plan",
                "--account",
                &account,
                "--plan",
                "gold",
            ],
            "there is no plan \"gold\"; the plans are starter, pro",
        ),
        (
            &[
                "account",
                "set-plan",
                "--account",
                "999",
                "--plan",
                "starter",
            ],
            "there is no account 999",
        ),
        (
            &[
                "account",
                "set-status",
                "--account",
                &account,
                "--status",
                "paused",
            ],
            "choose one of trialing, active, past_due, canceled",
        ),
        (
            &[
                "account",
                "set-status",
                "--account",
                "999",
                "--status",
                "active",
            ],
            "there is no account 999",
        ),
        (
            &[
                "account",
                "set-status",
                "--account",
                &account,
                "--status",
                "active",
                "--trial-ends",
                "2099-01-15",
            ],
            "only with the status trialing",
        ),
    ];
    for (args, message) in refusals {
        let refused = billed.run(args);
        assert_eq!(refused.status.code(), Some(1), "{args:?}");
        assert!(
            stderr(&refused).contains(message),
            "{args:?}: {}",
            stderr(&refused)
        );
        assert!(stdout(&refused).is_empty(), "{args:?}");
    }
    assert_eq!(billed.history(), before);
}
