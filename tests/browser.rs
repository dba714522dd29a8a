//! The web pages in a real headless Chromium, against the real server: the path a new customer takes,
//! the cookies the browser really keeps, and a forged form from another origin.

mod common;

use common::Install;
use common::webdriver::Browser;
use std::io::{Read, Write};
use std::net::TcpListener;

const PASSWORD: &str = "correct horse battery staple";

fn heading(browser: &Browser) -> String {
    browser
        .script(
            "return document.querySelector('h1') ? document.querySelector('h1').textContent : ''",
        )
        .as_str()
        .unwrap_or("")
        .to_owned()
}

fn sign_in(browser: &Browser, base: &str, password: &str) {
    browser.goto(&format!("{base}/login"));
    browser.fill("#email", "fatima@gulf.test");
    browser.fill("#password", password);
    browser.click("form[action='/login'] button[type=submit]");
    browser.wait_until("the dashboard", |b| b.url() == format!("{base}/"));
}

#[test]
fn a_new_customer_registers_signs_in_works_in_arabic_and_changes_the_password() {
    let install = Install::new();
    let server = install.serve();
    let base = server.url.clone();
    let browser = Browser::start();

    browser.goto(&format!("{base}/register"));
    browser.fill("#name", "Fatima");
    browser.fill("#company", "Gulf Trading");
    browser.fill("#email", "fatima@gulf.test");
    browser.fill("#password", PASSWORD);
    browser.click("#accept_privacy");
    browser.click("form[action='/register'] button[type=submit]");
    browser.wait_until("the dashboard after registering", |b| {
        b.url() == format!("{base}/")
    });
    assert!(heading(&browser).contains("Fatima"));

    browser.click("#nav-more > summary");

    browser.click("form[action='/logout'] button");
    browser.wait_until("the sign-in page", |b| b.url().contains("/login"));
    sign_in(&browser, &base, PASSWORD);
    assert!(browser.source().contains("Gulf Trading"));
    browser.screenshot("dashboard-en.png");

    browser.click("form.lang-switch button[value=ar]");
    browser.wait_until("the Arabic page", |b| {
        b.script("return document.documentElement.dir").as_str() == Some("rtl")
    });
    assert_eq!(
        browser
            .script("return document.documentElement.lang")
            .as_str(),
        Some("ar")
    );
    assert!(heading(&browser).contains("مرحبًا"), "{}", heading(&browser));
    assert!(browser.source().contains("لوحة التحكم"));
    // The navigation sits on the right in Arabic: the brand is to the right of the first link.
    let mirrored = browser.script(
        "const brand = document.querySelector('.brand').getBoundingClientRect();
         const link = document.querySelector('.topbar nav a').getBoundingClientRect();
         return brand.left > link.left;",
    );
    assert_eq!(
        mirrored.as_bool(),
        Some(true),
        "the layout mirrors right to left"
    );
    browser.screenshot("dashboard-ar.png");

    browser.goto(&format!("{base}/profile"));
    // Tables and forms mirror too: the first column on the right, labels starting at the right edge.
    let mirrored = browser.script(
        "const th = document.querySelectorAll('#sessions th');
         const first = th[0].getBoundingClientRect(), last = th[th.length - 1].getBoundingClientRect();
         const label = document.createRange();
         label.selectNodeContents(document.querySelector('label[for=current-password]'));
         const text = label.getBoundingClientRect();
         const input = document.querySelector('#current-password').getBoundingClientRect();
         return first.left > last.left && Math.abs(text.right - input.right) < 4;",
    );
    assert_eq!(
        mirrored.as_bool(),
        Some(true),
        "the sessions table and the password form read right to left"
    );
    browser.fill("#current-password", PASSWORD);
    browser.fill("#new-password", "a brand new pass phrase");
    browser.click("form[action='/profile/password'] button[type=submit]");
    browser.wait_until("the changed password notice", |b| {
        b.url().contains("done=password")
    });
    assert!(browser.source().contains("تم تغيير كلمة المرور"));

    // Exactly two cookies: the session (session-only, HttpOnly, Lax) and the language.
    let cookies = browser.cookies();
    let mut names: Vec<&str> = cookies.iter().filter_map(|c| c["name"].as_str()).collect();
    names.sort();
    assert_eq!(names, ["whatsapi_lang", "whatsapi_session"]);
    let session = cookies
        .iter()
        .find(|c| c["name"] == "whatsapi_session")
        .unwrap();
    assert_eq!(session["httpOnly"], true);
    assert_eq!(session["sameSite"], "Lax");
    assert!(
        session.get("expiry").is_none(),
        "the session cookie ends with the browser: {session}"
    );
    let lang = cookies
        .iter()
        .find(|c| c["name"] == "whatsapi_lang")
        .unwrap();
    assert!(
        lang.get("expiry").is_none(),
        "the language cookie ends with the browser too: {lang}"
    );

    browser.click("#nav-more > summary");

    browser.click("form[action='/logout'] button");
    browser.wait_until("the sign-in page", |b| b.url().contains("/login"));
    sign_in(&browser, &base, "a brand new pass phrase");
}

/// Serves one page, from another origin, that posts a form to the application as soon as it loads.
fn forging_page(target: &str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://127.0.0.1:{}/",
        listener.local_addr().unwrap().port()
    );
    let page = format!(
        "<!doctype html><html><body><form id=f method=post action=\"{target}\">\
         <input name=name value=Mallory></form><script>document.getElementById('f').submit()</script></body></html>"
    );
    std::thread::spawn(move || {
        if let Ok((mut stream, _)) = listener.accept() {
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let response = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}",
                page.len()
            );
            let _ = stream.write_all(response.as_bytes());
        }
    });
    url
}

#[test]
fn a_form_posted_from_another_origin_is_rejected() {
    let install = Install::new();
    let server = install.serve();
    let base = server.url.clone();
    let browser = Browser::start();
    browser.goto(&format!("{base}/register"));
    browser.fill("#name", "Fatima");
    browser.fill("#company", "Gulf Trading");
    browser.fill("#email", "fatima@gulf.test");
    browser.fill("#password", PASSWORD);
    browser.click("#accept_privacy");
    browser.click("form[action='/register'] button[type=submit]");
    browser.wait_until("the dashboard", |b| b.url() == format!("{base}/"));

    for action in ["/profile/name", "/logout"] {
        browser.goto(&forging_page(&format!("{base}{action}")));
        browser.wait_until("the forged post's answer", |b| {
            b.url().starts_with(&format!("{base}{action}"))
        });
        assert!(
            browser.source().contains("403"),
            "{action}: {}",
            browser.source()
        );
    }
    let conn = rusqlite::Connection::open(install.db_path()).unwrap();
    let name: String = conn
        .query_row("SELECT name FROM users", [], |r| r.get(0))
        .unwrap();
    assert_eq!(name, "Fatima", "nothing changed");
    browser.goto(&format!("{base}/profile"));
    assert_eq!(
        browser.url(),
        format!("{base}/profile"),
        "still signed in after the forged sign-out"
    );
}

/// Every main page, signed in as a customer and as the operator: the browser holds exactly the session
/// cookie (ending with the browser) and the language cookie, and nothing is fetched from another origin.
#[test]
fn every_main_page_keeps_two_cookies_and_loads_nothing_from_another_origin() {
    let install = Install::new();
    let server = install.serve();
    let base = server.url.clone();
    let mut create = install.command(&[
        "admin",
        "create",
        "--email",
        "op@host.test",
        "--name",
        "Op",
        "--password-stdin",
    ]);
    let mut child = create
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "operator pass phrase").unwrap();
    assert!(child.wait().unwrap().success());
    let (_, _, headers) = server.get("/privacy");
    let csp = common::header(&headers, "Content-Security-Policy");
    assert!(csp.starts_with("default-src 'self'"), "{csp}");

    let browser = Browser::start();
    browser.goto(&format!("{base}/register"));
    browser.fill("#name", "Fatima");
    browser.fill("#company", "Gulf Trading");
    browser.fill("#email", "fatima@gulf.test");
    browser.fill("#password", PASSWORD);
    browser.click("#accept_privacy");
    browser.click("form[action='/register'] button[type=submit]");
    browser.wait_until("the dashboard", |b| b.url() == format!("{base}/"));
    browser.click("form.lang-switch button[value=ar]");
    browser.wait_until("the Arabic page", |b| {
        b.script("return document.documentElement.lang").as_str() == Some("ar")
    });

    // What the page fetched (style sheets, scripts, images, fonts) and every address in its markup that
    // the browser would load or send to; all must be this server.
    let check = |path: &str| {
        browser.goto(&format!("{base}{path}"));
        assert_eq!(browser.url(), format!("{base}{path}"), "{path} opened");
        let fetched = browser.script(
            "return performance.getEntriesByType('resource').map(e => e.name)
               .concat(performance.getEntriesByType('navigation').map(e => e.name));",
        );
        let fetched: Vec<&str> = fetched
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|v| v.as_str())
            .collect();
        assert!(fetched.len() >= 4, "{path}: {fetched:?}");
        for url in &fetched {
            assert!(url.starts_with(&format!("{base}/")), "{path} fetched {url}");
        }
        let addresses = browser.script(
            "return Array.from(document.querySelectorAll('[src],link[href],form[action],[srcset],[poster],[data]'))
               .map(e => e.src || e.href || e.action || e.getAttribute('srcset') || e.poster || e.data || '');",
        );
        for url in addresses
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|v| v.as_str())
        {
            assert!(
                url.starts_with(&format!("{base}/")),
                "{path} refers to {url}"
            );
        }
        let cookies = browser.cookies();
        let mut names: Vec<&str> = cookies.iter().filter_map(|c| c["name"].as_str()).collect();
        names.sort();
        assert_eq!(names, ["whatsapi_lang", "whatsapi_session"], "{path}");
        let session = cookies
            .iter()
            .find(|c| c["name"] == "whatsapi_session")
            .unwrap();
        assert!(
            session.get("expiry").is_none(),
            "{path}: the session cookie ends with the browser: {session}"
        );
    };
    for path in [
        "/",
        "/inbox",
        "/messages",
        "/compose",
        "/connections",
        "/webhook-endpoints",
        "/api-keys",
        "/team",
        "/billing",
        "/profile",
        "/privacy",
    ] {
        check(path);
    }

    browser.click("#nav-more > summary");

    browser.click("form[action='/logout'] button");
    browser.wait_until("the sign-in page", |b| b.url().contains("/login"));
    browser.fill("#email", "op@host.test");
    browser.fill("#password", "operator pass phrase");
    browser.click("form[action='/login'] button[type=submit]");
    browser.wait_until("the operator's console", |b| {
        b.url() == format!("{base}/") || b.url() == format!("{base}/admin")
    });
    for path in ["/admin", "/profile", "/privacy"] {
        check(path);
    }

    // The checks do see an outside address when there is one, and the Content-Security-Policy refuses it.
    let seen = browser.script(
        "window.blocked = [];
         document.addEventListener('securitypolicyviolation', e => window.blocked.push(e.blockedURI));
         const img = document.createElement('img'); img.src = 'http://elsewhere.invalid/pixel.png';
         document.body.appendChild(img);
         return Array.from(document.querySelectorAll('[src]')).map(e => e.src);",
    );
    assert!(
        seen.as_array()
            .unwrap()
            .iter()
            .any(|v| v == "http://elsewhere.invalid/pixel.png"),
        "{seen}"
    );
    browser.wait_until("the refusal and its timing entry", |b| {
        b.script(
            "return window.blocked.length > 0 && performance.getEntriesByType('resource')
               .some(e => e.name.includes('elsewhere.invalid'));",
        )
        .as_bool()
            == Some(true)
    });
}
