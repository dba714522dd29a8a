//! HTTPS served by the binary itself, with a certificate made in the test: the pages over TLS, the session
//! cookie `__Host-` and `Secure` with HSTS over TLS, here or at a proxy at an https public URL (and neither
//! over plain HTTP), and a renewed certificate served after SIGHUP to new connections while a connection opened before goes on working;
//! a renewal whose key does not belong to its certificate is not taken; files changed without a signal
//! are taken at the next look (every ten minutes; every second here, through a test hook).

mod common;
mod tls_support;

use common::api::{PASSWORD, owner};
use common::raw::Browser;
use common::web::{csrf_in, encode};
use common::{Install, Server, wait_until};
use tls_support::{Authority, Https};

/// A server on HTTPS with `certificate`'s files, whose connections stay open between requests for longer
/// than a test takes.
fn serve_https(install: &Install, files: &(std::path::PathBuf, std::path::PathBuf)) -> Server {
    let mut cmd = install.command(&["serve"]);
    cmd.env("WHATSAPI_SERVER__TLS_CERT", &files.0)
        .env("WHATSAPI_SERVER__TLS_KEY", &files.1)
        .env("WHATSAPI_SERVER__IDLE_TIMEOUT_SECS", "600");
    install.serve_with(cmd)
}

fn hang_up(server: &Server) {
    let status = std::process::Command::new("kill")
        .args(["-HUP", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// The session cookie a sign-in answer sets, whole (name, value and attributes).
fn session_cookie(set_cookies: &[&str]) -> String {
    set_cookies
        .iter()
        .find(|c| c.contains("whatsapi_session="))
        .unwrap_or_else(|| panic!("a session cookie among {set_cookies:?}"))
        .to_string()
}

#[test]
fn pages_are_served_over_https_with_a_secure_host_cookie_and_hsts() {
    let install = Install::new();
    let authority = Authority::new();
    let certificate = authority.server(1, 2031);
    let server = serve_https(&install, &certificate.write(install.dir.path()));
    assert!(
        server.url.starts_with("https://127.0.0.1:"),
        "{}",
        server.url
    );
    assert_eq!(server.logged("serving the TLS certificate"), 1);
    owner(&install, "Owner", "owner@tls.test");

    let mut https = Https::connect(&server.url, &authority.der);
    assert_eq!(https.server_certificate(), certificate.der);
    let login = https.get("/login", &[]);
    assert_eq!(login.status, 200);
    assert_eq!(
        login.header("Strict-Transport-Security"),
        "max-age=31536000; includeSubDomains"
    );
    let form = encode(&[
        ("csrf", &csrf_in(&login.body)),
        ("email", "owner@tls.test"),
        ("password", PASSWORD),
    ]);
    let signed_in = https.request(
        "POST",
        "/login",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        &form,
    );
    assert_eq!(signed_in.status, 303, "{}", signed_in.body);
    let cookie = session_cookie(&signed_in.all("Set-Cookie"));
    assert!(cookie.starts_with("__Host-whatsapi_session="), "{cookie}");
    let attributes: Vec<&str> = cookie.split(';').map(str::trim).collect();
    assert!(attributes.contains(&"Secure"), "{cookie}");
    assert!(attributes.contains(&"Path=/"), "{cookie}");
    assert!(!cookie.contains("Domain="), "host-only: {cookie}");

    // The cookie opens the pages on the same connection.
    let name_value = cookie.split(';').next().unwrap();
    let page = https.get("/", &[("Cookie", name_value)]);
    assert_eq!(page.status, 200, "{}", page.body);
}

#[test]
fn over_plain_http_the_cookie_is_neither_secure_nor_prefixed_and_there_is_no_hsts() {
    let install = Install::new();
    let server = install.serve();
    assert!(server.url.starts_with("http://"), "{}", server.url);
    owner(&install, "Owner", "owner@plain.test");
    let browser = Browser::new(&server.url, "tests");
    let login = browser.get("/login");
    assert_eq!(login.status, 200);
    assert_eq!(login.header("Strict-Transport-Security"), "");
    let signed_in = browser.sign_in_with(&csrf_in(&login.body), "owner@plain.test", PASSWORD);
    assert_eq!(signed_in.status, 303, "{}", signed_in.body);
    let set_cookies: Vec<&str> = signed_in
        .headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("Set-Cookie"))
        .map(|(_, v)| v.as_str())
        .collect();
    let cookie = session_cookie(&set_cookies);
    assert!(cookie.starts_with("whatsapi_session="), "{cookie}");
    assert!(!cookie.split(';').any(|a| a.trim() == "Secure"), "{cookie}");
    assert_eq!(server.logged("TLS certificate"), 0);
}

#[test]
fn behind_a_proxy_at_an_https_public_url_the_cookie_is_secure_and_hsts_is_sent() {
    // TLS ends at the proxy, which passes the answers on to browsers over HTTPS.
    let install = Install::new();
    let mut cmd = install.command(&["serve"]);
    cmd.env("WHATSAPI_SERVER__PUBLIC_URL", "https://wa.example.test")
        .env("WHATSAPI_SERVER__TRUSTED_PROXIES", "[\"127.0.0.1\"]");
    let server = install.serve_with(cmd);
    owner(&install, "Owner", "owner@proxied.test");
    let browser = Browser::new(&server.url, "tests");
    let login = browser.get("/login");
    assert_eq!(
        login.header("Strict-Transport-Security"),
        "max-age=31536000; includeSubDomains"
    );
    let signed_in = browser.sign_in_with(&csrf_in(&login.body), "owner@proxied.test", PASSWORD);
    assert_eq!(signed_in.status, 303, "{}", signed_in.body);
    let set_cookies: Vec<&str> = signed_in
        .headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("Set-Cookie"))
        .map(|(_, v)| v.as_str())
        .collect();
    let cookie = session_cookie(&set_cookies);
    assert!(cookie.starts_with("__Host-whatsapi_session="), "{cookie}");
    assert!(cookie.split(';').any(|a| a.trim() == "Secure"), "{cookie}");
}

#[test]
fn a_renewed_certificate_is_served_after_sighup_and_open_connections_go_on() {
    let install = Install::new();
    let authority = Authority::new();
    let first = authority.server(1, 2031);
    let files = first.write(install.dir.path());
    let server = serve_https(&install, &files);

    let mut before = Https::connect(&server.url, &authority.der);
    assert_eq!(before.server_certificate(), first.der);
    assert_eq!(before.get("/healthz", &[]).status, 200);

    // Renewed: a new key, serial and expiry, written over the same files.
    let renewed = authority.server(2, 2032);
    renewed.write(install.dir.path());
    hang_up(&server);
    wait_until("the certificate is reloaded", || {
        server.logged("reloaded the TLS certificate") == 1
    });
    assert_eq!(server.logged("on SIGHUP (expires 2032-01-01 00:00 UTC)"), 1);

    let mut after = Https::connect(&server.url, &authority.der);
    assert_eq!(after.server_certificate(), renewed.der);
    assert_eq!(after.get("/healthz", &[]).status, 200);
    // The connection made before the reload is still open and answered.
    let again = before.get("/healthz", &[]);
    assert_eq!(again.status, 200, "{}", again.body);

    // A certificate whose key is not the one beside it: not taken, and said so; the renewed pair stays.
    let mismatched = authority.server(3, 2033);
    std::fs::write(&files.0, &mismatched.cert_pem).unwrap();
    hang_up(&server);
    wait_until("the bad pair is refused", || {
        server.logged("did not reload the TLS certificate on SIGHUP") == 1
    });
    assert_eq!(server.logged("does not belong to the certificate"), 1);
    assert_eq!(server.logged("still serving the one loaded before"), 1);
    let mut later = Https::connect(&server.url, &authority.der);
    assert_eq!(later.server_certificate(), renewed.der);
    assert_eq!(later.get("/healthz", &[]).status, 200);
    assert_eq!(server.logged("reloaded the TLS certificate"), 1);

    // Put right, the next SIGHUP takes it.
    std::fs::write(&files.1, &mismatched.key_pem).unwrap();
    hang_up(&server);
    wait_until("the corrected pair is reloaded", || {
        server.logged("reloaded the TLS certificate") == 2
    });
    let mut corrected = Https::connect(&server.url, &authority.der);
    assert_eq!(corrected.server_certificate(), mismatched.der);
    assert_eq!(corrected.get("/healthz", &[]).status, 200);
}

#[test]
fn a_renewed_certificate_is_taken_when_its_files_change_without_a_signal() {
    let install = Install::new();
    let authority = Authority::new();
    let first = authority.server(1, 2031);
    let files = first.write(install.dir.path());
    let mut cmd = install.command(&["serve"]);
    cmd.env("WHATSAPI_SERVER__TLS_CERT", &files.0)
        .env("WHATSAPI_SERVER__TLS_KEY", &files.1)
        // The files are looked at every second instead of every ten minutes.
        .env("DEBUG_WHATSAPI_TLS_CHECK_SECS", "1");
    let server = install.serve_with(cmd);
    assert_eq!(
        Https::connect(&server.url, &authority.der).server_certificate(),
        first.der
    );

    // Renewed in place, as certbot's deploy does; nobody sends a signal.
    let renewed = authority.server(2, 2032);
    renewed.write(install.dir.path());
    wait_until("the changed files are reloaded", || {
        server.logged("reloaded the TLS certificate") == 1
    });
    assert_eq!(
        server.logged("as its files changed (expires 2032-01-01 00:00 UTC)"),
        1
    );
    let mut after = Https::connect(&server.url, &authority.der);
    assert_eq!(after.server_certificate(), renewed.der);
    assert_eq!(after.get("/healthz", &[]).status, 200);
}
