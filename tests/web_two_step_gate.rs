//! The second step is its own state. A session after the password alone opens no page but the code step:
//! every page the server mounts that sends a visitor to sign in sends it to `/login/code`, and every form
//! of those pages is refused and changes nothing in the database, for a business's owner and for an
//! operator; once the code is entered the same pages open, under a new session id (the password-only one
//! no longer works). A password reset does not get around the second step: without a right code the
//! password stays, with one it changes and the next sign-in still asks for a code.

mod common;
mod two_step_support;

use common::web::csrf_in;
use rocket::http::Method;
use std::collections::BTreeMap;
use two_step_support::{Browser, PASSWORD, Site, text_of};

const NUMBER: &str = "+966501234567";

/// `(method, path)` of every route of the web app, as the server mounts them (queries left out).
fn mounted_web_routes() -> Vec<(Method, String)> {
    whatsapi::http::web::routes()
        .into_iter()
        .map(|route| (route.method, route.uri.path().to_string()))
        .collect()
}

/// Routes a visitor uses without a session (forms and links by email), and the code step itself.
fn is_open_to_visitors(path: &str) -> bool {
    [
        "/login",
        "/logout",
        "/register",
        "/forgot-password",
        "/reset-password/",
        "/invite/",
        "/setup/",
        "/confirm-email/",
        "/unsubscribe/",
        "/language",
        "/static/",
        "/healthz",
    ]
    .iter()
    .any(|open| {
        path == *open
            || (open.ends_with('/') && path.starts_with(open))
            || path.starts_with("/login/")
    })
}

/// The route's path with its parameters filled from `ids` (a name not there becomes `1`).
fn filled(path: &str, ids: &BTreeMap<&str, String>) -> String {
    path.split('/')
        .map(
            |segment| match segment.strip_prefix('<').and_then(|s| s.strip_suffix('>')) {
                Some(name) => ids.get(name).cloned().unwrap_or_else(|| "1".into()),
                None => segment.to_owned(),
            },
        )
        .collect::<Vec<_>>()
        .join("/")
}

/// Every field any of the forms takes, with values that would change something if they were let in.
fn every_field(connection: &str) -> Vec<(&'static str, String)> {
    [
        ("name", "Gate Crasher"),
        ("email", "gate@shop.test"),
        ("role", "admin"),
        ("password", PASSWORD),
        ("current_password", PASSWORD),
        ("new_password", "a brand new pass phrase"),
        ("company", "Shop"),
        ("country", "SA"),
        ("phone", NUMBER),
        ("kind", "sandbox"),
        ("url", "https://hooks.example.com/gate"),
        ("description", "gate"),
        ("event_types", "message.delivered"),
        ("code", "123456"),
        ("require", "on"),
        ("product_news", "true"),
        ("plan", "pro"),
        ("to", "+96550001234"),
        ("body", "hello"),
        ("text", "hello"),
        ("action", "send"),
        ("reason", "gate"),
        ("status", "active"),
        ("version", "2"),
        ("summary", "gate"),
        ("back", "/"),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.to_owned()))
    .chain([("connection_id", connection.to_owned())])
    .collect()
}

/// Every row of every table a person's action could change, read as text.
fn snapshot(site: &Site) -> BTreeMap<String, Vec<String>> {
    // Written by the server's own rounds and by any page view, not by forms.
    const MOVING: [&str; 8] = [
        "sessions",
        "usage_daily",
        "usage_months",
        "job_runs",
        "billing_notices",
        "known_addresses",
        "known_browsers",
        "sqlite_sequence",
    ];
    let db = rusqlite::Connection::open(site.install.db_path()).unwrap();
    let tables: Vec<String> = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .filter(|t: &String| !MOVING.contains(&t.as_str()))
        .collect();
    let mut all = BTreeMap::new();
    for table in tables {
        let mut statement = db.prepare(&format!("SELECT * FROM \"{table}\"")).unwrap();
        let columns = statement.column_count();
        let mut rows: Vec<String> = statement
            .query_map([], |row| {
                Ok((0..columns)
                    .map(|i| format!("{:?}", row.get_ref(i).unwrap()))
                    .collect::<Vec<_>>()
                    .join("|"))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        rows.sort();
        all.insert(table, rows);
    }
    let sessions: (i64, String) = db
        .query_row(
            "SELECT count(*), group_concat(user_id || ':' || stage) FROM sessions",
            [],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                ))
            },
        )
        .unwrap();
    all.insert(
        "sessions (who, stage)".into(),
        vec![format!("{sessions:?}")],
    );
    all
}

fn assert_unchanged(before: &BTreeMap<String, Vec<String>>, after: &BTreeMap<String, Vec<String>>) {
    let changed: Vec<_> = before
        .iter()
        .filter(|(table, rows)| after.get(*table) != Some(rows))
        .map(|(table, rows)| format!("{table}: {rows:?} -> {:?}", after.get(table)))
        .collect();
    assert!(changed.is_empty(), "the walk changed: {changed:#?}");
}

/// Which routes a walk covers, and whether all its GET routes need a session (the operators' pages,
/// which answer 404 to a visitor rather than send them to sign in).
struct Walk<'a> {
    wanted: &'a dyn Fn(&str) -> bool,
    every_get_needs_a_session: bool,
}

/// Walks every mounted route the walk wants as the password-only `browser`: each GET that needs a
/// session must be sent to the code step (303 to /login/code), each POST refused (that, 401 or 403).
/// Returns the GET paths walked and the requests that were not (checked by the caller last, so that
/// what changed in the database is checked too).
fn walk_refused(
    site: &Site,
    browser: &Browser,
    walk: Walk<'_>,
    ids: &BTreeMap<&str, String>,
    connection: &str,
) -> (Vec<String>, Vec<String>) {
    let visitor = site.browser();
    let token = csrf_in(&browser.get("/login/code").text);
    let fields = every_field(connection);
    let mut form: Vec<(&str, &str)> = vec![("csrf", token.as_str())];
    form.extend(fields.iter().map(|(k, v)| (*k, v.as_str())));
    let (mut pages, mut posts, mut let_through) = (Vec::new(), 0, Vec::new());
    for (method, route) in mounted_web_routes() {
        if is_open_to_visitors(&route) || !(walk.wanted)(&route) {
            continue;
        }
        let path = filled(&route, ids);
        if method == Method::Get {
            // A page that sends a visitor to sign in needs a session; the others are public.
            let anonymous = visitor.get(&path);
            let sent_to_sign_in =
                anonymous.status == 303 && anonymous.location().starts_with("/login");
            if !(sent_to_sign_in || walk.every_get_needs_a_session) {
                continue;
            }
            let answer = browser.get(&path);
            if (answer.status, answer.location()) != (303, "/login/code") {
                let_through.push(format!(
                    "GET {path}: {} {}",
                    answer.status,
                    answer.location()
                ));
            }
            pages.push(path);
        } else {
            let answer = browser.post(&path, &form);
            let refused = (answer.status == 303 && answer.location() == "/login/code")
                || answer.status == 401
                || answer.status == 403;
            if !refused {
                let_through.push(format!(
                    "POST {path}: {} {}",
                    answer.status,
                    answer.location()
                ));
            }
            posts += 1;
        }
    }
    assert!(
        !pages.is_empty() && posts > 0,
        "the walk met pages and forms"
    );
    (pages, let_through)
}

#[test]
fn a_password_only_session_opens_nothing_but_the_code_step() {
    // The sandbox reads the message at once, so that nothing moves in the database during the walk.
    let site =
        Site::start("[sandbox]\nsent_after_ms = 10\ndelivered_after_ms = 20\nread_after_ms = 30\n");
    let (api, connection) = common::api::account(&site.install, site.server(), "owner@shop.test");
    let (status, message) = api.send(serde_json::json!({"connection_id": connection,
        "to": "+96550001234", "type": "text", "text": {"body": "hello"}}));
    assert_eq!(status, 202, "{message}");
    api.wait_for(message["id"].as_str().unwrap(), &["read"]);
    let owner = site.browser();
    assert_eq!(owner.sign_in("owner@shop.test", PASSWORD).location(), "/");
    site.member(&owner, "member@shop.test", "member");
    let member_id = site
        .count("SELECT id FROM users WHERE email = 'member@shop.test'")
        .to_string();
    let app = owner.enrol_authenticator(&site);
    owner.sign_out();

    let browser = site.browser();
    browser.sign_in_to_code_step("owner@shop.test");
    let password_only = browser.session().expect("a password-only session");
    let ids = BTreeMap::from([
        ("id", "1".to_owned()),
        ("member", member_id),
        ("handle", "0123456789abcdef".to_owned()),
        ("inbound_id", "1".to_owned()),
        ("media_id", "1".to_owned()),
        ("account", "1".to_owned()),
    ]);
    let message_page = format!("/messages/{}", message["id"].as_str().unwrap());
    assert_eq!(
        browser.get(&message_page).location(),
        "/login/code",
        "{message_page}"
    );
    let before = snapshot(&site);
    // The operators' pages are walked by the operator's test: to anyone else they are not there.
    let walk = Walk {
        wanted: &|route| !route.starts_with("/admin"),
        every_get_needs_a_session: false,
    };
    let (pages, let_through) = walk_refused(&site, &browser, walk, &ids, &connection);
    for expected in [
        "/",
        "/profile",
        "/team",
        "/api-keys",
        "/profile/two-step",
        "/profile/phone",
    ] {
        assert!(
            pages.iter().any(|p| p == expected),
            "{expected} walked: {pages:?}"
        );
    }
    for admin_page in ["/admin", "/admin/health"] {
        assert!([303, 404].contains(&browser.get(admin_page).status));
    }
    assert_unchanged(&before, &snapshot(&site));
    // Still at the code step after all that, the code enters.
    let done = browser.enter_code(&app.next_code(&site));
    assert_eq!((done.status, done.location()), (303, "/"), "{}", done.text);
    assert_ne!(browser.session().as_ref(), Some(&password_only), "a new id");

    // The same pages now open (those with made-up ids may be not found, but none goes to the code).
    for path in &pages {
        let answer = browser.get(path);
        assert_ne!(answer.location(), "/login/code", "{path}");
        if !path[1..].contains('/') || path.starts_with("/profile/") {
            assert_eq!(answer.status, 200, "{path} opens");
        }
    }
    assert_eq!(browser.get(&message_page).status, 200, "{message_page}");
    // A form now changes what it is for: the positive control of every refusal above.
    let renamed = browser.submit("/profile", "/profile/name", &[("name", "Renamed")]);
    assert_eq!(renamed.status, 303, "{}", renamed.text);
    assert_eq!(
        site.count("SELECT count(*) FROM users WHERE name = 'Renamed'"),
        1
    );
    assert_ne!(snapshot(&site), before, "the snapshot sees a change");

    // The password-only cookie replayed: it is no session at all any more.
    let replay = site.browser();
    replay.set_session(&password_only);
    let answer = replay.get("/");
    assert_eq!(answer.status, 303);
    assert_ne!(answer.location(), "/login/code");
    assert_ne!(
        replay.get("/login/code").status,
        200,
        "no code step for it either"
    );
    assert!(
        let_through.is_empty(),
        "not sent to the code step: {let_through:#?}"
    );
}

#[test]
fn an_operators_password_only_session_opens_no_console_page() {
    let site = Site::start("");
    let account = site.owner("owner@shop.test");
    let operator = site.operator("op@host.test");
    let app = operator.enrol_authenticator(&site);
    operator.sign_out();
    let browser = site.browser();
    browser.sign_in_to_code_step("op@host.test");
    let ids = BTreeMap::from([("id", account.clone()), ("account", account)]);
    let before = snapshot(&site);
    let walk = Walk {
        wanted: &|route| route.starts_with("/admin"),
        every_get_needs_a_session: true,
    };
    let (pages, let_through) = walk_refused(&site, &browser, walk, &ids, "1");
    assert!(pages.iter().any(|p| p == "/admin"), "{pages:?}");
    assert_unchanged(&before, &snapshot(&site));

    assert_eq!(browser.enter_code(&app.next_code(&site)).location(), "/");
    for path in [
        "/admin",
        "/admin/health",
        &format!("/admin/accounts/{}", ids["id"]),
    ] {
        assert_eq!(browser.get(path).status, 200, "{path}");
    }
    assert!(
        let_through.is_empty(),
        "not sent to the code step: {let_through:#?}"
    );
}

const NEW_PASSWORD: &str = "a brand new pass phrase";

/// Asks for a reset link as a visitor; the link.
fn reset_link(site: &Site, visitor: &Browser, email: &str) -> String {
    let before = site.emails_to(email).len();
    let asked = visitor.submit("/forgot-password", "/forgot-password", &[("email", email)]);
    assert_eq!(asked.status, 200, "{}", asked.text);
    assert_eq!(site.emails_to(email).len(), before + 1, "a reset email");
    site.link_in_email(email, "/reset-password/")
}

fn error_words(html: &str) {
    let words = text_of(html, "form-error").unwrap_or_default();
    assert!(words.len() > 5, "the page says what is wrong: {html}");
}

#[test]
fn a_password_reset_still_requires_the_authenticators_code() {
    let site = Site::start("");
    let owner = site.signed_in_owner("owner@shop.test");
    let visitor = site.browser();
    // Positive control: without two-step, the reset form asks for no code.
    let plain = reset_link(&site, &visitor, "owner@shop.test");
    assert!(!visitor.get(&plain).text.contains("name=\"code\""));

    let app = owner.enrol_authenticator(&site);
    let link = reset_link(&site, &visitor, "owner@shop.test");
    let form = visitor.get(&link);
    assert_eq!(form.status, 200);
    assert!(form.text.contains("name=\"code\""), "{}", form.text);

    let without = visitor.submit(&link, &link, &[("password", NEW_PASSWORD)]);
    assert_eq!(without.status, 422, "{}", without.text);
    error_words(&without.text);
    let wrong = visitor.submit(
        &link,
        &link,
        &[("password", NEW_PASSWORD), ("code", "000000")],
    );
    assert_eq!(wrong.status, 422, "{}", wrong.text);
    // The password did not change, and the link still works.
    let still = site.browser().sign_in("owner@shop.test", PASSWORD);
    assert_eq!(
        still.location(),
        "/login/code",
        "the old password still signs in"
    );
    assert_eq!(visitor.get(&link).status, 200);

    let done = visitor.submit(
        &link,
        &link,
        &[("password", NEW_PASSWORD), ("code", &app.next_code(&site))],
    );
    assert_eq!(done.status, 303, "{}", done.text);
    assert_eq!(done.location(), "/login?done=password_reset");
    assert_eq!(
        site.browser().sign_in("owner@shop.test", PASSWORD).status,
        401,
        "the old password is gone"
    );
    let browser = site.browser();
    let signed = browser.sign_in("owner@shop.test", NEW_PASSWORD);
    assert_eq!(
        (signed.status, signed.location()),
        (303, "/login/code"),
        "the new password still asks for the code"
    );
    assert_eq!(browser.enter_code(&app.next_code(&site)).location(), "/");
}

#[test]
fn a_password_reset_takes_a_code_sent_by_sms_or_a_recovery_code() {
    let site = Site::start("");
    let owner = site.signed_in_owner("owner@shop.test");
    owner.verify_phone(&site, NUMBER);
    let on = owner.submit("/profile/two-step", "/profile/two-step/sms", &[]);
    assert_eq!(on.status, 200, "{}", on.text);
    let recovery = two_step_support::recovery_codes(&on.text);
    assert_eq!(recovery.len(), 10);
    let visitor = site.browser();

    // By SMS (30 s after the verification's).
    site.move_clock(31_000);
    let link = reset_link(&site, &visitor, "owner@shop.test");
    let before = site.sms.sent_to(NUMBER).len();
    let sent = visitor.submit(&link, &format!("{link}/sms"), &[]);
    assert!(
        [200, 303].contains(&sent.status),
        "{} {}",
        sent.status,
        sent.text
    );
    assert_eq!(
        site.sms.sent_to(NUMBER).len(),
        before + 1,
        "the code was sent"
    );
    let code = site.sms.last_code_to(NUMBER);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let refused = visitor.submit(&link, &link, &[("password", NEW_PASSWORD), ("code", wrong)]);
    assert_eq!(refused.status, 422);
    let done = visitor.submit(&link, &link, &[("password", NEW_PASSWORD), ("code", &code)]);
    assert_eq!(
        done.location(),
        "/login?done=password_reset",
        "{}",
        done.text
    );
    let browser = site.browser();
    assert_eq!(
        browser.sign_in("owner@shop.test", NEW_PASSWORD).location(),
        "/login/code"
    );

    // With a recovery code.
    let link = reset_link(&site, &visitor, "owner@shop.test");
    let done = visitor.submit(
        &link,
        &link,
        &[("password", PASSWORD), ("code", &recovery[0])],
    );
    assert_eq!(
        done.location(),
        "/login?done=password_reset",
        "{}",
        done.text
    );
    assert_eq!(
        site.browser()
            .sign_in("owner@shop.test", PASSWORD)
            .location(),
        "/login/code"
    );
}
