//! Forms are accepted from the server's own origin, its configured public URL, and refused from a page on
//! another name even when the request's Host names it too (a DNS-rebinding page). On the real server, with
//! raw requests to 127.0.0.1 (no name is ever looked up).

mod common;

use common::Install;
use common::raw::Browser;
use common::web::csrf_in;

const PASSWORD: &str = "a long enough pass phrase";

fn name_of(install: &Install) -> String {
    rusqlite::Connection::open(install.db_path())
        .unwrap()
        .query_row(
            "SELECT name FROM users WHERE email = 'ali@shop.test'",
            [],
            |r| r.get(0),
        )
        .unwrap()
}

#[test]
fn a_form_from_another_origin_is_refused_even_when_the_host_header_agrees() {
    let install = Install::new();
    let server = install.serve();
    common::api::owner(&install, "Ali", "ali@shop.test");
    let port = server.url.rsplit(':').next().unwrap();
    let rebound = format!("evil.localhost:{port}");
    let rebound_origin = format!("http://{rebound}");
    let anonymous = Browser::new(&server.url, "Firefox/140.0");

    // Signing in from the rebinding page: refused; from the public URL: accepted.
    let token = anonymous.login_token();
    let fields = [
        ("csrf", token.as_str()),
        ("email", "ali@shop.test"),
        ("password", PASSWORD),
    ];
    let foreign = anonymous.post(
        "/login",
        &fields,
        &[("Origin", &rebound_origin), ("Host", &rebound)],
    );
    assert_eq!(foreign.status, 403, "{}", foreign.body);
    let own = anonymous.post("/login", &fields, &[("Origin", &server.url)]);
    assert_eq!(own.status, 303);

    // A signed-in form from the rebinding page changes nothing; the same form from the public URL does.
    let ali = Browser {
        cookie: own.session_cookie(),
        ..anonymous.clone()
    };
    let token = csrf_in(&ali.get("/profile").body);
    let rename = |name: &str, origin: &str, host: &str| {
        ali.post(
            "/profile/name",
            &[("csrf", token.as_str()), ("name", name)],
            &[("Origin", origin), ("Host", host)],
        )
        .status
    };
    let own_host = server.url.strip_prefix("http://").unwrap();
    assert_eq!(rename("Mallory", &rebound_origin, &rebound), 403);
    assert_eq!(name_of(&install), "Ali", "nothing changed");
    assert_eq!(rename("Ali Hassan", &server.url, own_host), 303);
    assert_eq!(name_of(&install), "Ali Hassan");
}
