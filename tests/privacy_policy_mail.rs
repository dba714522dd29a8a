//! The emails telling everyone about a new version of the privacy policy are kept until they are sent: a
//! mail server that is down when the version is published, or a stop, loses none, and none goes twice.

mod common;
mod privacy_support;

use common::{Install, stderr, stdout};
use privacy_support::{count, emails, new_account};
use std::time::{Duration, Instant};

/// A port on 127.0.0.1 that nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn policy_emails(install: &Install) -> Vec<String> {
    emails(install)
        .into_iter()
        .filter(|e| e.contains("Shorter logs."))
        .collect()
}

#[test]
fn policy_emails_wait_for_a_mail_server_that_was_down_and_go_out_once() {
    let install = Install::new();
    drop(install.serve());
    new_account(&install, "Alpha Trading", "alpha");
    new_account(&install, "Beta Bakery", "beta");

    // Published while the mail server is down: nothing is sent, nothing is lost.
    let port = closed_port();
    let mut publish = install.command(&[
        "policy",
        "publish",
        "--version",
        "2",
        "--summary",
        "Shorter logs.",
    ]);
    publish
        .env("WHATSAPI_SMTP__HOST", "127.0.0.1")
        .env("WHATSAPI_SMTP__PORT", port.to_string())
        .env("WHATSAPI_SMTP__SECURITY", "none");
    let published = publish.output().unwrap();
    assert!(!published.status.success(), "{}", stdout(&published));
    assert!(
        stdout(&published).contains("0 of 2 emails sent"),
        "{}",
        stdout(&published)
    );
    assert!(
        stderr(&published).contains("2 emails could not be sent now"),
        "{}",
        stderr(&published)
    );
    assert_eq!(count(&install, "SELECT count(*) FROM policy_mail"), 2);
    assert!(policy_emails(&install).is_empty());
    let doctor = stdout(&install.run(&["doctor"]));
    assert!(
        doctor.contains("2 email(s) about the privacy policy not sent yet"),
        "{doctor}"
    );

    // The server (writing mail to its outbox) sends them at its start ...
    let server = install.serve();
    let deadline = Instant::now() + Duration::from_secs(20);
    while policy_emails(&install).len() < 2 {
        assert!(
            Instant::now() < deadline,
            "the queued emails were not sent: {}",
            server.log
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(server);
    let sent = policy_emails(&install);
    for owner in ["owner@alpha.test", "owner@beta.test"] {
        assert!(
            sent.iter()
                .any(|e| e.contains(&format!("To: {owner}")) && e.contains("(version 2)")),
            "{sent:#?}"
        );
    }
    assert_eq!(count(&install, "SELECT count(*) FROM policy_mail"), 0);

    // ... and once: the next start sends nothing again.
    let server = install.serve();
    std::thread::sleep(Duration::from_millis(300));
    drop(server);
    assert_eq!(policy_emails(&install).len(), 2);
}
