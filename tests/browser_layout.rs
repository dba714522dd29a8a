//! The shell every page lives in, in a real headless Chromium against the real server, in English and
//! Arabic at a desktop's 1280 px and a phone's 390 px: the daily pages on one row of navigation at 1280
//! px, the rest under "More"; a menu button on the phone that opens the whole navigation; no page wider
//! than the phone's screen; and axe-core (from npm, installed by tests/run-all.sh) finding no serious or
//! critical accessibility problem on the main pages. Screenshots of every page at both widths and in both
//! languages are saved under target/test-artifacts/.

mod common;

use common::api::{Api, account};
use common::webdriver::Browser;
use common::{Install, Server};
use serde_json::{Value, json};

/// The main pages of a business account, every one checked at both widths and in both languages.
const MAIN_PAGES: &[&str] = &[
    "/",
    "/inbox",
    "/messages",
    "/compose",
    "/templates",
    "/contacts",
    "/connections",
    "/api-keys",
    "/webhook-endpoints",
    "/team",
    "/usage",
    "/activity",
    "/billing",
    "/profile",
];

const DESKTOP: (u32, u32) = (1280, 900);
const PHONE: (u32, u32) = (390, 844);

/// A server with an account that has something on every page: a sandbox number, a message sent and
/// read, a customer's message in the inbox, a second person in the team and a webhook endpoint.
struct Shop {
    _install: Install,
    server: Server,
    email: &'static str,
}

fn shop() -> Shop {
    let install = Install::new();
    let mut serve = install.command(&["serve"]);
    serve
        .env("WHATSAPI_SANDBOX__SENT_AFTER_MS", "20")
        .env("WHATSAPI_SANDBOX__DELIVERED_AFTER_MS", "40")
        .env("WHATSAPI_SANDBOX__READ_AFTER_MS", "60");
    let server = install.serve_with(serve);
    let email = "owner@shop.test";
    let (api, connection) = account(&install, &server, email);
    let (status, sent) = api.send(json!({"connection_id": connection, "to": "+96550001234",
        "type": "text", "text": {"body": "Your order 1042 is on its way"}}));
    assert_eq!(status, 202, "{sent}");
    api.wait_for(sent["id"].as_str().unwrap(), &["read"]);
    inbound(
        &api,
        &connection,
        "+96550001235",
        "سارة",
        "مرحبا، هل الطلب جاهز؟",
    );
    inbound(
        &api,
        &connection,
        "+96550001236",
        "Omar",
        "Is the shop open on Friday?",
    );
    let (status, endpoint) = api.call(
        "POST",
        "/api/v1/webhook-endpoints",
        Some(json!({"url": "https://hooks.shop.example/whatsapp/events/very/long/path/0123456789abcdef"})),
        &[],
    );
    assert!(status == 201 || status == 200, "{status} {endpoint}");
    Shop {
        _install: install,
        server,
        email,
    }
}

/// A customer's message through the sandbox's inbound endpoint.
fn inbound(api: &Api, connection: &str, from: &str, name: &str, text: &str) {
    let (status, answer) = api.call(
        "POST",
        &format!("/api/v1/connections/{connection}/sandbox/inbound"),
        Some(json!({"from": from, "name": name, "text": text})),
        &[],
    );
    assert_eq!(status, 200, "{answer}");
}

fn sign_in(browser: &Browser, base: &str, email: &str) {
    browser.goto(&format!("{base}/login"));
    browser.fill("#email", email);
    browser.fill("#password", common::api::PASSWORD);
    browser.click("form[action='/login'] button[type=submit]");
    browser.wait_until("the dashboard", |b| b.url() == format!("{base}/"));
    browser.click("#policy-notice button[type=submit]");
    browser.wait_until("the notice acknowledged", |b| {
        b.script("return document.querySelector('#policy-notice') === null")
            .as_bool()
            == Some(true)
    });
}

fn to_arabic(browser: &Browser) {
    browser.click("form.lang-switch button[value=ar]");
    browser.wait_until("the Arabic page", |b| {
        b.script("return document.documentElement.dir").as_str() == Some("rtl")
    });
}

/// The links of the primary row: their text, whether they show, and their top edge.
fn primary_row(browser: &Browser) -> Value {
    browser.script(
        "return [...document.querySelectorAll('.nav-primary a'), document.querySelector('.nav-more > summary')]
           .map(a => { const r = a.getBoundingClientRect();
                       return {text: a.textContent.trim(), top: Math.round(r.top), shown: r.width > 0 && r.height > 0}; });",
    )
}

fn is_shown(browser: &Browser, css: &str) -> bool {
    browser
        .script(&format!(
            "const e = document.querySelector({css:?}); if (!e) return false;
             const r = e.getBoundingClientRect();
             return r.width > 0 && r.height > 0 && e.checkVisibility({{visibilityProperty: true}});"
        ))
        .as_bool()
        == Some(true)
}

fn name(lang: &str, path: &str, width: u32) -> String {
    let page = match path.trim_matches('/') {
        "" => "dashboard".to_owned(),
        other => other.replace('/', "-"),
    };
    format!("layout-{page}-{lang}-{width}.png")
}

/// How far a page runs past the screen's edge, with the widest culprits when it does.
fn overflow(browser: &Browser) -> Value {
    browser.script(
        "const w = window.innerWidth, d = document.documentElement.scrollWidth;
         const culprits = d <= w ? [] : [...document.querySelectorAll('body *')]
           .filter(e => { const r = e.getBoundingClientRect(); return r.right > w + 1 || r.left < -1; })
           .slice(0, 8).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className && e.className.baseVal === undefined ? '.' + e.className : ''));
         return {inner: w, scroll: d, culprits};",
    )
}

#[test]
fn the_daily_pages_share_one_row_at_1280_px_and_a_menu_button_opens_the_navigation_on_a_phone() {
    let shop = shop();
    let base = shop.server.url.clone();
    let browser = Browser::start();
    browser.resize(DESKTOP.0, DESKTOP.1);
    sign_in(&browser, &base, shop.email);

    for lang in ["en", "ar"] {
        if lang == "ar" {
            to_arabic(&browser);
        }
        // Desktop: the six daily pages and "More" on one row, no menu button, "More" closed.
        browser.resize(DESKTOP.0, DESKTOP.1);
        browser.goto(&format!("{base}/"));
        let row = primary_row(&browser);
        let links = row.as_array().unwrap();
        assert_eq!(links.len(), 7, "{row}");
        assert!(links.iter().all(|l| l["shown"] == true), "{lang}: {row}");
        assert!(
            links.iter().all(|l| l["top"] == links[0]["top"]),
            "{lang}: the primary navigation is one row at 1280 px: {row}"
        );
        assert!(
            !is_shown(&browser, ".nav-menu > summary"),
            "no menu button at 1280 px"
        );
        assert!(
            !is_shown(&browser, "#nav a[href='/api-keys']"),
            "API keys wait under More"
        );
        assert_eq!(
            browser
                .script(
                    "return document.querySelector('nav a[aria-current=page]').getAttribute('href')"
                )
                .as_str(),
            Some("/")
        );
        browser.screenshot(&format!("layout-nav-{lang}-1280.png"));

        // "More" opens with the keyboard, lists the rest, and Escape closes it with the focus on its button.
        browser.script("document.querySelector('.nav-more > summary').focus()");
        browser.click(".nav-more > summary");
        browser.wait_until("More open", |b| is_shown(b, "#nav a[href='/api-keys']"));
        for href in [
            "/connections",
            "/api-keys",
            "/webhook-endpoints",
            "/team",
            "/usage",
            "/activity",
            "/billing",
            "/profile",
        ] {
            assert!(
                is_shown(&browser, &format!("#nav-more-list a[href='{href}']")),
                "{href}"
            );
        }
        assert!(is_shown(
            &browser,
            "#nav-more-list form[action='/logout'] button"
        ));
        browser.screenshot(&format!("layout-more-{lang}-1280.png"));
        browser.script(
            "document.activeElement.dispatchEvent(new KeyboardEvent('keydown', {key: 'Escape', bubbles: true}))",
        );
        browser.wait_until("More closed by Escape", |b| {
            !is_shown(b, "#nav a[href='/api-keys']")
        });
        assert_eq!(
            browser
                .script("return document.activeElement.matches('.nav-more > summary')")
                .as_bool(),
            Some(true),
            "the focus is back on More"
        );
        // A page under More marks More while it is closed, and its own link while it is open.
        browser.click(".nav-more > summary");
        browser.wait_until("More open", |b| is_shown(b, "#nav a[href='/usage']"));
        browser.click("#nav-more-list a[href='/usage']");
        browser.wait_until("the usage page", |b| b.url().ends_with("/usage"));
        assert_eq!(
            browser
                .script("return document.querySelector('.nav-more > summary').classList.contains('current')")
                .as_bool(),
            Some(true)
        );

        // Phone: brand, language switch and menu button on screen, the navigation folded away until the
        // button opens it as a column.
        browser.resize(PHONE.0, PHONE.1);
        browser.goto(&format!("{base}/inbox"));
        assert!(is_shown(&browser, ".brand"));
        assert!(is_shown(&browser, "form.lang-switch button"));
        assert!(
            is_shown(&browser, ".nav-menu > summary"),
            "a menu button on the phone"
        );
        assert!(
            !is_shown(&browser, ".nav-primary a[href='/messages']"),
            "folded"
        );
        let row = browser.script(
            "return ['.brand', '.lang-switch button', '.nav-menu > summary'].map(css => {
               const r = document.querySelector(css).getBoundingClientRect(); return Math.round(r.top + r.height / 2); });",
        );
        let middles: Vec<i64> = row
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap())
            .collect();
        assert!(
            middles.iter().all(|m| (m - middles[0]).abs() <= 4),
            "{lang}: brand, language and menu button on one row at 390 px: {row}"
        );
        browser.screenshot(&format!("layout-menu-closed-{lang}-390.png"));
        browser.click(".nav-menu > summary");
        browser.wait_until("the menu open", |b| {
            is_shown(b, ".nav-primary a[href='/messages']")
        });
        let column = browser.script(
            "const links = [...document.querySelectorAll('#nav a, #nav .link')];
             return {all: links.every(a => a.getBoundingClientRect().width > 0),
                     lefts: new Set(links.map(a => Math.round(a.getBoundingClientRect()[document.dir === 'rtl' ? 'right' : 'left']))).size,
                     tops: new Set(links.map(a => Math.round(a.getBoundingClientRect().top))).size,
                     count: links.length,
                     current: document.querySelector('#nav a[aria-current=page]').getAttribute('href'),
                     wide: document.documentElement.scrollWidth <= window.innerWidth};",
        );
        assert_eq!(column["all"], true, "{lang}: every link shows: {column}");
        assert_eq!(column["lefts"], 1, "{lang}: one column: {column}");
        assert_eq!(
            column["tops"], column["count"],
            "{lang}: one link a row: {column}"
        );
        assert_eq!(column["current"], "/inbox");
        assert_eq!(column["wide"], true, "{column}");
        browser.screenshot(&format!("layout-menu-open-{lang}-390.png"));
        // An outside click closes it again.
        browser.click("main");
        browser.wait_until("the menu closed", |b| {
            !is_shown(b, ".nav-primary a[href='/messages']")
        });
    }
}

#[test]
fn no_main_page_is_wider_than_a_phone_in_either_language() {
    let shop = shop();
    let base = shop.server.url.clone();
    let browser = Browser::start();
    sign_in(&browser, &base, shop.email);
    let mut wide = Vec::new();
    for lang in ["en", "ar"] {
        if lang == "ar" {
            to_arabic(&browser);
        }
        for (width, height) in [PHONE, DESKTOP] {
            browser.resize(width, height);
            for path in MAIN_PAGES {
                browser.goto(&format!("{base}{path}"));
                browser.wait_until("the page", |b| {
                    b.script("return document.readyState === 'complete' && document.documentElement.lang")
                        .as_str()
                        == Some(lang)
                });
                let measured = overflow(&browser);
                if measured["scroll"].as_i64() > measured["inner"].as_i64() {
                    wide.push(format!("{lang} {width} px {path}: {measured}"));
                }
                browser.screenshot(&name(lang, path, width));
            }
        }
    }
    assert!(
        wide.is_empty(),
        "pages wider than the screen:\n{}",
        wide.join("\n")
    );
}

/// axe-core's text, from the npm package tests/run-all.sh installs.
fn axe_source() -> String {
    let path = std::env::var("AXE_CORE_JS").unwrap_or_else(|_| {
        panic!("AXE_CORE_JS is not set: run tests/run-all.sh, which installs axe-core from npm and sets it")
    });
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read AXE_CORE_JS={path}: {e}"))
}

/// axe's serious and critical violations on the page shown, as "rule (impact): targets" lines.
fn axe_violations(browser: &Browser, axe: &str) -> Vec<String> {
    browser.script(&format!("{axe}\nreturn typeof axe;"));
    let result = browser.script_async(
        "const done = arguments[arguments.length - 1];
         axe.run(document, {resultTypes: ['violations']})
           .then(r => done({ok: true, violations: r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                 targets: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}))}))
           .catch(e => done({ok: false, error: String(e)}));",
    );
    assert_eq!(result["ok"], true, "axe did not run: {result}");
    result["violations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
        .map(|v| {
            format!(
                "{} ({}): {} at {}",
                v["id"].as_str().unwrap_or_default(),
                v["impact"].as_str().unwrap_or_default(),
                v["help"].as_str().unwrap_or_default(),
                v["targets"]
            )
        })
        .collect()
}

#[test]
fn axe_finds_no_serious_or_critical_problem_on_the_main_pages() {
    let axe = axe_source();
    let shop = shop();
    let base = shop.server.url.clone();
    let browser = Browser::start();

    // The positive control: a page with a known serious violation (an image without a text) is found,
    // so a clean result below means axe looked.
    browser.goto(&format!("{base}/login"));
    browser.script(
        "const img = document.createElement('img'); img.src = '/static/logo.svg'; document.querySelector('main').append(img);",
    );
    let control = axe_violations(&browser, &axe);
    assert!(
        control.iter().any(|v| v.starts_with("image-alt")),
        "axe reports an image without alt: {control:?}"
    );

    let mut found = Vec::new();
    for path in ["/login", "/register", "/privacy"] {
        browser.goto(&format!("{base}{path}"));
        for v in axe_violations(&browser, &axe) {
            found.push(format!("en 1280 {path}: {v}"));
        }
    }
    sign_in(&browser, &base, shop.email);
    for lang in ["en", "ar"] {
        if lang == "ar" {
            to_arabic(&browser);
        }
        for (width, height) in [DESKTOP, PHONE] {
            browser.resize(width, height);
            for path in MAIN_PAGES {
                browser.goto(&format!("{base}{path}"));
                for v in axe_violations(&browser, &axe) {
                    found.push(format!("{lang} {width} {path}: {v}"));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "axe-core found serious or critical problems:\n{}",
        found.join("\n")
    );
}
