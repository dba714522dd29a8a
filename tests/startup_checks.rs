//! What `serve` checks before it creates anything, through the real binary: a busy port, a TLS certificate
//! that does not parse or whose key is not its own, a public URL that is not one, a directory given as
//! `--config`, a mistyped key. Each refusal exits 1 with one `error:` line that names what to change, and
//! leaves no data directory, key or database behind; each has its positive control (the corrected
//! configuration starts, or passes `config check`). Then the data directory's lock taken by `migrate`,
//! and a damaged database named with what SQLite said and what to run next.

mod common;
mod tls_support;

use common::{Install, run_within, stderr, stdout};
use std::process::{Command, Output};
use std::time::Duration;
use tls_support::Authority;

const LIMIT: Duration = Duration::from_secs(20);

/// The one `error:` line of a refusal (exit status 1).
fn refused(output: &Output) -> String {
    assert_eq!(
        output.status.code(),
        Some(1),
        "expected a refusal; stdout: {}\nstderr: {}",
        stdout(output),
        stderr(output)
    );
    let message = stderr(output);
    let last = message.lines().last().unwrap_or_default().to_owned();
    assert!(last.starts_with("error: "), "{message}");
    last
}

fn nothing_created(install: &Install) {
    assert!(!install.data_dir().exists(), "no data directory");
    assert!(!install.key_file().exists(), "no master key");
}

fn serve_refused(install: &Install, cmd: Command) -> String {
    let message = refused(&run_within(cmd, LIMIT));
    nothing_created(install);
    message
}

#[test]
fn a_busy_port_is_refused_before_anything_is_created() {
    let install = Install::new();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap();
    let mut cmd = install.command(&["serve"]);
    cmd.env("WHATSAPI_SERVER__PORT", address.port().to_string());
    let message = serve_refused(&install, cmd);
    assert_eq!(
        message,
        format!(
            "error: cannot listen on {address}: another program (perhaps another whatsapi) is using it; \
             stop it or set server.port to a free port"
        )
    );

    // The port given back, the same configuration starts.
    drop(taken);
    let mut cmd = install.command(&["serve"]);
    cmd.env("WHATSAPI_SERVER__PORT", address.port().to_string());
    let server = install.serve_with(cmd);
    assert_eq!(server.url, format!("http://{address}"));
    assert!(install.key_file().exists() && install.db_path().exists());
}

#[test]
fn an_address_of_another_machine_is_refused_naming_the_key() {
    let install = Install::new();
    let mut cmd = install.command(&["serve"]);
    // TEST-NET-1: never an address of this machine.
    cmd.env("WHATSAPI_SERVER__ADDRESS", "192.0.2.1");
    let message = serve_refused(&install, cmd);
    assert!(
        message.contains("192.0.2.1 is not an address of this machine")
            && message.contains("server.address"),
        "{message}"
    );
}

#[test]
fn a_tls_certificate_that_does_not_parse_or_match_is_refused_naming_the_files() {
    let install = Install::new();
    let authority = Authority::new();
    let good = authority.server(1, 2031);
    let other = authority.server(2, 2031);
    let (cert, key) = (install.path("cert.pem"), install.path("key.pem"));
    let serve = || {
        let mut cmd = install.command(&["serve"]);
        cmd.env("WHATSAPI_SERVER__TLS_CERT", &cert)
            .env("WHATSAPI_SERVER__TLS_KEY", &key);
        cmd
    };

    // Not a certificate at all.
    std::fs::write(&cert, "not a certificate\n").unwrap();
    std::fs::write(&key, &good.key_pem).unwrap();
    let message = serve_refused(&install, serve());
    assert!(
        message.contains("server.tls_cert")
            && message.contains(&format!("{} holds no certificate", cert.display())),
        "{message}"
    );

    // A key file that holds no key.
    std::fs::write(&cert, &good.cert_pem).unwrap();
    std::fs::write(&key, &good.cert_pem).unwrap();
    let message = serve_refused(&install, serve());
    assert!(
        message.contains(&format!("{} holds no usable private key", key.display())),
        "{message}"
    );

    // A good certificate with another certificate's key.
    std::fs::write(&key, &other.key_pem).unwrap();
    let message = serve_refused(&install, serve());
    assert!(
        message.contains(&format!(
            "the private key {} does not belong to the certificate {}",
            key.display(),
            cert.display()
        )),
        "{message}"
    );

    // `config check` finds it too.
    let mut check = install.command(&["config", "check"]);
    check
        .env("WHATSAPI_SERVER__TLS_CERT", &cert)
        .env("WHATSAPI_SERVER__TLS_KEY", &key);
    assert_eq!(refused(&check.output().unwrap()), message);

    // The pair that belongs together passes and starts on HTTPS.
    std::fs::write(&key, &good.key_pem).unwrap();
    let output = check.output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let server = install.serve_with(serve());
    assert!(
        server.url.starts_with("https://127.0.0.1:"),
        "{}",
        server.url
    );
}

#[test]
fn a_public_url_that_is_not_an_absolute_http_url_is_refused() {
    let install = Install::new();
    let mut cmd = install.command(&["serve"]);
    cmd.env("WHATSAPI_SERVER__PUBLIC_URL", "wa.example.com");
    let message = serve_refused(&install, cmd);
    assert!(
        message.starts_with("error: server.public_url:")
            && message.contains("must be an absolute URL that starts with http:// or https://"),
        "{message}"
    );

    let mut cmd = install.command(&["config", "check"]);
    cmd.env("WHATSAPI_SERVER__PUBLIC_URL", "https://wa.example.com");
    let output = cmd.output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("public_url = \"https://wa.example.com\""));
}

#[test]
fn a_directory_given_as_config_is_named_as_such() {
    let install = Install::new();
    let dir = install.path("etc");
    std::fs::create_dir(&dir).unwrap();
    let message = serve_refused(
        &install,
        install.command(&["serve", "--config", dir.to_str().unwrap()]),
    );
    assert_eq!(
        message,
        format!(
            "error: {} is a directory; give the configuration file (e.g. /etc/whatsapi/config.toml)",
            dir.display()
        )
    );

    let file = dir.join("config.toml");
    std::fs::write(&file, "[server]\nport = 0\n").unwrap();
    let output = install
        .command(&["config", "check", "--config", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
}

#[test]
fn a_mistyped_key_is_refused_with_the_key_meant_and_where_it_was() {
    let install = Install::new();
    let file = install.path("config.toml");
    std::fs::write(&file, "[server]\nportt = 9100\n").unwrap();
    let message = serve_refused(
        &install,
        install.command(&["serve", "--config", file.to_str().unwrap()]),
    );
    assert_eq!(
        message,
        format!(
            "error: unknown key `portt` in [server] of {}; did you mean `port`?",
            file.display()
        )
    );

    let mut cmd = install.command(&["serve"]);
    cmd.env("WHATSAPI_SERVER__PORTT", "9100");
    let message = serve_refused(&install, cmd);
    assert_eq!(
        message,
        "error: unknown key `portt` in [server] (environment variable WHATSAPI_SERVER__PORTT); \
         did you mean `port`?"
    );

    let mut cmd = install.command(&["serve"]);
    cmd.env("WHATSAPI_SERVER__PORT", "80x");
    let message = serve_refused(&install, cmd);
    assert_eq!(
        message,
        "error: [server] port must be a number from 1 to 65535, or 0 for any free port (found \"80x\") \
         in the environment variable WHATSAPI_SERVER__PORT"
    );

    // Corrected, the file passes.
    std::fs::write(&file, "[server]\nport = 9100\n").unwrap();
    let output = install
        .command(&["config", "check", "--config", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
}

#[test]
fn migrate_waits_its_turn_behind_a_running_server() {
    let install = Install::new();
    let server = install.serve();
    let busy = format!(
        "error: another whatsapi process (a running server or a key rotation) is using {}; stop it first",
        install.data_dir().display()
    );
    assert_eq!(refused(&install.run(&["migrate"])), busy);
    // The same words as a second server's.
    assert_eq!(
        refused(&run_within(install.command(&["serve"]), LIMIT)),
        busy
    );

    server.kill9();
    let output = install.run(&["migrate"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("(the latest)"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn a_damaged_database_is_named_with_what_sqlite_said_and_what_to_run_next() {
    let install = Install::new();
    let output = install.run(&["migrate"]);
    assert!(output.status.success(), "{}", stderr(&output));

    let db = install.db_path();
    for extra in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{extra}", db.display()));
    }
    let mut bytes = std::fs::read(&db).unwrap();
    // What a disk fault leaves: the header intact, the schema's page behind it overwritten; then what a
    // failed copy leaves: not a database at all.
    bytes[100..3000].fill(0xff);
    let damages = [
        (bytes, "database disk image is malformed"),
        (vec![0x5a; 8192], "file is not a database"),
    ];
    for (damaged, said) in damages {
        std::fs::write(&db, damaged).unwrap();
        let expected = format!(
            "error: the database {} is damaged (SQLite says: {said}); run `whatsapi doctor` to see what \
             can be read, then `whatsapi restore FILE` to put back your latest backup",
            db.display()
        );
        assert_eq!(refused(&install.run(&["migrate"])), expected);
        assert_eq!(
            refused(&run_within(install.command(&["serve"]), LIMIT)),
            expected
        );
    }
}
