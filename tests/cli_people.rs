//! Provisioning by script: `whatsapi admin create` and `whatsapi account create`, next to a running server.

mod common;

use common::{Install, stderr, stdout};

fn with_password(install: &Install, args: &[&str], password: &str) -> std::process::Output {
    install.run_typing(args, password)
}

#[test]
fn accounts_and_operators_are_created_from_the_command_line_while_the_server_runs() {
    let install = Install::new();
    let server = install.serve();
    let args = [
        "account",
        "create",
        "--company",
        "Acme Trading",
        "--name",
        "Ann",
        "--email",
        "ann@acme.test",
        "--password-stdin",
    ];
    let created = with_password(&install, &args, "reseller pass phrase");
    assert!(created.status.success(), "{}", stderr(&created));
    let account: i64 = stdout(&created)
        .trim()
        .parse()
        .expect("only the account id is printed");

    let conn = rusqlite::Connection::open(install.db_path()).unwrap();
    let (company, owner): (String, String) = conn
        .query_row(
            "SELECT a.company, u.email FROM accounts a JOIN users u ON u.account_id = a.id AND u.role = 'owner' WHERE a.id = ?1",
            [account],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(
        (company.as_str(), owner.as_str()),
        ("Acme Trading", "ann@acme.test")
    );
    let keys: i64 = rusqlite::Connection::open(install.key_file().with_extension("keystore"))
        .unwrap()
        .query_row(
            "SELECT count(*) FROM data_keys WHERE account_id = ?1",
            [account],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(keys, 1);

    let again = with_password(&install, &args, "reseller pass phrase");
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );
    let weak = with_password(
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
        "short",
    );
    assert!(!weak.status.success());
    assert!(stderr(&weak).contains("12 characters"));

    let operator = with_password(
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
        "operator pass phrase",
    );
    assert!(operator.status.success(), "{}", stderr(&operator));
    let role: String = conn
        .query_row(
            "SELECT role FROM users WHERE email = 'op@host.test'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(role, "operator");
    assert_eq!(server.get("/healthz").0, 200);
}

#[test]
fn serve_prints_a_setup_link_only_while_there_is_no_operator() {
    let install = Install::new();
    let first = install.serve();
    let link = &first.setup_link();
    assert!(link.starts_with("http://"), "{link}");
    let (status, page, _) = common::get(link);
    assert_eq!(status, 200, "the printed link opens the setup form");
    assert!(page.contains("name=\"password\""));
    drop(first);

    let created = with_password(
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
        "operator pass phrase",
    );
    assert!(created.status.success());
    let mut second = install.serve();
    let path = &link[link.find("/setup/").unwrap()..];
    assert_eq!(
        second.get(path).0,
        410,
        "the old link stopped working once an operator exists"
    );
    // Stopped after it served a page (so after everything it prints at start), it printed no link.
    assert!(second.terminate().success());
    second.wait_for_line("the server stopped cleanly");
    assert_eq!(second.logged("No operator yet"), 0);
    assert_eq!(second.logged("/setup/"), 0);
}
