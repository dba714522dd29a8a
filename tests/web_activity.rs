//! The activity log on the Activity page: every action people take (and the plan and status changes made
//! for them) is an entry with its time, person, words, detail, address and browser in words; owners and
//! admins see and filter the account's whole log, members their own entries, other accounts nothing; the
//! address comes from X-Forwarded-For only through a trusted proxy.

mod common;

use common::web::{App, PASSWORD, app, app_with, csrf_in, encode, team_with_member};
use rocket::http::{ContentType, Header, Method, Status};
use rocket::local::blocking::LocalResponse;
use serde_json::json;
use std::net::SocketAddr;

const CHROME_ON_WINDOWS: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
const CHROME_WORDS: &str = "Chrome 131 on Windows";
const HOME: &str = "203.0.113.9";

/// A browser that says it is Chrome on Windows, calling from `peer`, perhaps through a proxy that
/// forwards for `forwarded`.
struct Visitor<'a> {
    app: &'a App,
    peer: SocketAddr,
    forwarded: Option<&'static str>,
}

impl<'a> Visitor<'a> {
    fn from(app: &'a App, ip: &str) -> Visitor<'a> {
        Visitor {
            app,
            peer: format!("{ip}:40000").parse().unwrap(),
            forwarded: None,
        }
    }

    fn request(&self, method: Method, path: &str) -> rocket::local::blocking::LocalRequest<'a> {
        let mut request = self
            .app
            .client
            .req(method, path.to_owned())
            .remote(self.peer)
            .header(Header::new("User-Agent", CHROME_ON_WINDOWS));
        if let Some(forwarded) = self.forwarded {
            request = request.header(Header::new("X-Forwarded-For", forwarded));
        }
        request
    }

    fn page(&self, path: &str) -> (Status, String) {
        let response = self.request(Method::Get, path).dispatch();
        (
            response.status(),
            response.into_string().unwrap_or_default(),
        )
    }

    /// Fetches `form_page` for its token, then posts `fields` to `action`.
    fn submit(&self, form_page: &str, action: &str, fields: &[(&str, &str)]) -> LocalResponse<'a> {
        let token = csrf_in(&self.page(form_page).1);
        let mut all = vec![("csrf", token.as_str())];
        all.extend_from_slice(fields);
        self.request(Method::Post, action)
            .header(ContentType::Form)
            .body(encode(&all))
            .dispatch()
    }

    fn expect_redirect(&self, form_page: &str, action: &str, fields: &[(&str, &str)]) {
        let answer = self.submit(form_page, action, fields);
        assert_eq!(answer.status(), Status::SeeOther, "{action}");
    }

    fn api(&self, key: &str, method: Method, path: &str, body: serde_json::Value) -> Status {
        self.request(method, path)
            .header(Header::new("Authorization", format!("Bearer {key}")))
            .header(ContentType::JSON)
            .body(body.to_string())
            .dispatch()
            .status()
    }

    fn login(&self, email: &str, password: &str) -> Status {
        self.submit(
            "/login",
            "/login",
            &[("email", email), ("password", password)],
        )
        .status()
    }

    fn logout(&self) {
        self.expect_redirect("/profile", "/logout", &[]);
    }

    /// Registers a business with this owner, who stays signed in.
    fn register(&self, name: &str, email: &str) {
        let fields = [
            ("name", name),
            ("company", "Shop"),
            ("email", email),
            ("password", PASSWORD),
            ("accept_privacy", "true"),
        ];
        self.expect_redirect("/register", "/register", &fields);
    }
}

/// A row of the Activity page: when, who, what, detail, IP address, browser.
#[derive(Debug, Clone)]
struct Row {
    when: String,
    who: String,
    what: String,
    detail: String,
    ip: String,
    browser: String,
}

fn unescape(text: &str) -> String {
    text.replace("&#39;", "'")
        .replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#60;", "<")
        .replace("&lt;", "<")
        .replace("&#62;", ">")
        .replace("&gt;", ">")
        .replace("&#38;", "&")
        .replace("&amp;", "&")
}

/// A cell's text: its markup (the left-to-right and `dir="auto"` wrappers) left out.
fn text_of(cell: &str) -> String {
    let mut text = String::new();
    let mut in_tag = false;
    for c in cell.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text
}

fn rows(html: &str) -> Vec<Row> {
    let Some(start) = html.find("<tbody>") else {
        return Vec::new();
    };
    let body = &html[start..html[start..].find("</tbody>").unwrap() + start];
    body.split("<tr>")
        .skip(1)
        .map(|row| {
            let cells: Vec<String> = row
                .split("<td")
                .skip(1)
                .map(|cell| {
                    let open = cell.find('>').unwrap() + 1;
                    unescape(text_of(cell[open..cell.find("</td>").unwrap()].trim()).as_str())
                })
                .collect();
            Row {
                when: cells[0].clone(),
                who: cells[1].clone(),
                what: cells[2].clone(),
                detail: cells[3].clone(),
                ip: cells[4].clone(),
                browser: cells[5].clone(),
            }
        })
        .collect()
}

fn activity(visitor: &Visitor<'_>, path: &str) -> Vec<Row> {
    let (status, html) = visitor.page(path);
    assert_eq!(status, Status::Ok, "{path}");
    rows(&html)
}

fn find<'r>(rows: &'r [Row], what: &str) -> &'r Row {
    rows.iter()
        .find(|r| r.what == what)
        .unwrap_or_else(|| panic!("no entry {what:?} in {rows:#?}"))
}

fn new_key(visitor: &Visitor<'_>, name: &str) -> String {
    let page = visitor
        .submit("/api-keys", "/api-keys", &[("name", name)])
        .into_string()
        .unwrap();
    let start = page.find("id=\"new-key\">").expect("the new key is shown") + 13;
    page[start..start + page[start..].find('<').unwrap()].to_owned()
}

fn id_of(app: &App, sql: &str) -> String {
    app.count(sql).to_string()
}

#[test]
fn every_action_is_an_entry_with_the_address_and_the_browser_in_words() {
    let app = app_with(|c| {
        c.webhooks.allow_insecure_targets = true;
        let mut lite = whatsapi::config::Plan::unlimited("lite", "Lite");
        lite.features = vec![whatsapi::config::Feature::Api];
        c.plans.0.push(lite);
    });
    let owner = Visitor::from(&app, HOME);
    // Signing up, out, in (a wrong password first) and changing the password and email address.
    owner.register("Owner", "owner@shop.test");
    owner.logout();
    assert_eq!(
        owner.login("owner@shop.test", "not the password"),
        Status::Unauthorized
    );
    assert_eq!(
        owner.login("nobody@shop.test", "not the password"),
        Status::Unauthorized
    );
    assert_eq!(owner.login("owner@shop.test", PASSWORD), Status::SeeOther);
    let new_password = "a new pass phrase of the owner";
    owner.expect_redirect(
        "/profile",
        "/profile/password",
        &[
            ("current_password", PASSWORD),
            ("new_password", new_password),
        ],
    );
    owner.expect_redirect(
        "/profile",
        "/profile/email",
        &[
            ("email", "boss@shop.test"),
            ("current_password", new_password),
        ],
    );
    let link = app.last_link("/confirm-email/");
    owner.expect_redirect(&link, &link, &[]);
    // Keys, numbers and webhook endpoints, on the pages and through the API.
    let key = new_key(&owner, "deploy");
    let spare = new_key(&owner, "spare");
    assert!(!spare.is_empty());
    let spare_id = id_of(&app, "SELECT id FROM api_keys WHERE name = 'spare'");
    owner.expect_redirect("/api-keys", &format!("/api-keys/{spare_id}/revoke"), &[]);
    owner.expect_redirect(
        "/connections",
        "/connections",
        &[
            ("kind", "sandbox"),
            ("name", "Shop number"),
            ("phone_number_id", ""),
            ("waba_id", ""),
            ("access_token", ""),
            ("app_secret", ""),
            ("throughput_mps", "80"),
        ],
    );
    let number = id_of(&app, "SELECT id FROM connections");
    let path = format!("/api/v1/connections/{number}");
    assert_eq!(
        owner.api(&key, Method::Patch, &path, json!({"name": "Front desk"})),
        Status::Ok
    );
    owner.expect_redirect(
        "/connections",
        &format!("/connections/{number}/remove"),
        &[],
    );
    let added = owner.submit(
        "/webhook-endpoints",
        "/webhook-endpoints",
        &[
            ("url", "http://127.0.0.1:9/hooks?token=secret"),
            ("description", "Shop backend"),
            ("event_types", "message.status"),
        ],
    );
    assert_eq!(added.status(), Status::Ok);
    let endpoint = id_of(&app, "SELECT id FROM webhook_endpoints");
    let page = format!("/webhook-endpoints/{endpoint}");
    owner.expect_redirect(&page, &format!("{page}/pause"), &[]);
    owner.expect_redirect(&page, &format!("{page}/resume"), &[]);
    let path = format!("/api/v1/webhook-endpoints/{endpoint}");
    assert_eq!(
        owner.api(&key, Method::Patch, &path, json!({"description": "Orders"})),
        Status::Ok
    );
    owner.expect_redirect(&page, &format!("{page}/remove"), &[]);
    // The team.
    for (email, role) in [("ali@shop.test", "member"), ("sara@shop.test", "member")] {
        owner.expect_redirect("/team", "/team/invite", &[("email", email), ("role", role)]);
    }
    let sara_link = app.last_link("/invite/");
    owner.logout();
    let sara = Visitor::from(&app, "198.51.100.20");
    sara.expect_redirect(
        &sara_link,
        &sara_link,
        &[
            ("name", "Sara"),
            ("password", "sara's own pass phrase"),
            ("accept_privacy", "true"),
        ],
    );
    sara.expect_redirect(
        "/profile",
        "/profile/delete-user",
        &[("current_password", "sara's own pass phrase")],
    );
    let ali_link = app
        .emails()
        .iter()
        .rev()
        .find(|e| e.lines().any(|l| l == "To: ali@shop.test"))
        .map(|e| {
            let at = e.find("/invite/").unwrap();
            let rest = &e[at..];
            rest[..rest.find(char::is_whitespace).unwrap_or(rest.len())].to_owned()
        })
        .unwrap();
    let ali = Visitor::from(&app, "198.51.100.30");
    ali.expect_redirect(
        &ali_link,
        &ali_link,
        &[
            ("name", "Ali"),
            ("password", "ali's own pass phrase"),
            ("accept_privacy", "true"),
        ],
    );
    ali.logout();
    assert_eq!(
        owner.login("boss@shop.test", new_password),
        Status::SeeOther
    );
    let ali_id = id_of(&app, "SELECT id FROM users WHERE email = 'ali@shop.test'");
    owner.expect_redirect(
        "/team",
        &format!("/team/{ali_id}/role"),
        &[("role", "admin")],
    );
    owner.expect_redirect("/team", &format!("/team/{ali_id}/remove"), &[]);
    // Exports, and erasing a customer through the API.
    for export in ["/profile/export/me", "/profile/export/account"] {
        assert_eq!(owner.submit("/profile", export, &[]).status(), Status::Ok);
    }
    assert_eq!(
        owner.api(
            &key,
            Method::Post,
            "/api/v1/contacts/erase",
            json!({"phone": "+96550001234"})
        ),
        Status::Ok
    );
    // An operator moves the account to another plan and status.
    let operator = app.another_browser();
    assert_eq!(operator.set_up_operator().1.status(), Status::SeeOther);
    let account = app.count("SELECT id FROM accounts");
    let admin_page = format!("/admin/accounts/{account}");
    for (what, field, value) in [("plan", "plan", "lite"), ("status", "status", "past_due")] {
        let answer = operator.submit(
            &admin_page,
            &format!("{admin_page}/{what}"),
            &[(field, value)],
        );
        assert_eq!(answer.status(), Status::SeeOther, "{what}");
    }

    let log = activity(&owner, "/activity");
    let by_owner = [
        ("Account registered", ""),
        ("Signed out", ""),
        ("Sign-in failed (wrong password)", ""),
        ("Signed in", ""),
        ("Password changed", ""),
        ("Email change requested", ""),
        ("Email address changed", ""),
        ("API key created", "deploy"),
        ("API key revoked", "spare"),
        ("Number added", "Shop number"),
        ("Number removed", "Front desk"),
        ("Webhook endpoint added", "127.0.0.1:9"),
        ("Webhook endpoint paused", "127.0.0.1:9"),
        ("Webhook endpoint resumed", "127.0.0.1:9"),
        ("Webhook endpoint removed", "127.0.0.1:9"),
        ("Member invited", "ali@shop.test"),
        ("Member's role changed", "ali@shop.test: admin"),
        ("Member removed", "ali@shop.test"),
        ("Personal data exported", ""),
        ("Account data exported", ""),
    ];
    for (what, detail) in by_owner {
        let row = log
            .iter()
            .find(|r| r.what == what && r.who == "Owner" && r.detail == detail)
            .unwrap_or_else(|| panic!("no entry {what:?} {detail:?} by the owner in {log:#?}"));
        assert_eq!(
            (row.ip.as_str(), row.browser.as_str()),
            (HOME, CHROME_WORDS),
            "{what}"
        );
        assert!(row.when.ends_with(" UTC"), "{row:?}");
    }
    // Through the API: no person, the key named, the caller's address and program.
    for (what, detail) in [
        (
            "Number changed",
            "Front desk, API key \u{201c}deploy\u{201d}",
        ),
        (
            "Webhook endpoint changed",
            "127.0.0.1:9, API key \u{201c}deploy\u{201d}",
        ),
        ("A customer's data erased", "0 messages, 0 received"),
    ] {
        let row = find(&log, what);
        assert_eq!(
            (
                row.who.as_str(),
                row.detail.as_str(),
                row.ip.as_str(),
                row.browser.as_str()
            ),
            (
                "Nobody (the system or an API key)",
                detail,
                HOME,
                CHROME_WORDS
            ),
            "{what}"
        );
    }
    // The people who joined, from their own addresses; one who left keeps no address.
    let joined: Vec<&Row> = log.iter().filter(|r| r.what == "Member joined").collect();
    assert_eq!(joined.len(), 2, "{log:#?}");
    assert!(
        joined
            .iter()
            .any(|r| r.ip == "198.51.100.30" && r.browser == CHROME_WORDS)
    );
    let left = find(&log, "A member deleted their own user");
    assert_eq!((left.ip.as_str(), left.browser.as_str()), ("—", "—"));
    // Made for the account by an operator: neither their address, their browser nor their email.
    for (what, detail) in [
        ("Plan changed", "lite"),
        ("Subscription status changed", "past_due"),
    ] {
        let row = find(&log, what);
        assert_eq!(
            (
                row.who.as_str(),
                row.detail.as_str(),
                row.ip.as_str(),
                row.browser.as_str()
            ),
            ("Nobody (the system or an API key)", detail, "—", "—"),
            "{what}"
        );
    }
    // One failed sign-in: the unknown address is nobody's, and the typed password is nowhere.
    assert_eq!(
        log.iter()
            .filter(|r| r.what.starts_with("Sign-in failed"))
            .count(),
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM activity_log WHERE action = 'sign_in_failed'"),
        1,
        "nothing recorded for an email that belongs to nobody"
    );
    assert_eq!(
        app.count(
            "SELECT count(*) FROM activity_log WHERE detail LIKE '%not the password%' OR detail LIKE '%nobody@%'"
        ),
        0
    );
    assert_eq!(
        app.count("SELECT count(*) FROM activity_log WHERE detail LIKE '%token=secret%'"),
        0,
        "an endpoint is named by its host, never its query"
    );
}

#[test]
fn owners_filter_by_action_and_person_and_members_see_only_their_own_entries() {
    let app = app();
    let member_id = team_with_member(&app, "member");
    let owner_id = app.count("SELECT id FROM users WHERE role = 'owner'");
    let member = Visitor::from(&app, HOME);
    // As the member (signed in by joining).
    let own = activity(&member, "/activity");
    assert!(!own.is_empty());
    assert!(own.iter().all(|r| r.who == "Member"), "{own:#?}");
    assert!(own.iter().any(|r| r.what == "Member joined"));
    let (_, html) = member.page("/activity");
    assert!(!html.contains("id=\"person\""), "no filter by person");
    let asked = activity(&member, &format!("/activity?person={owner_id}"));
    assert!(
        asked.iter().all(|r| r.who == "Member") && !asked.is_empty(),
        "a link naming another person still shows only their own: {asked:#?}"
    );
    member.logout();

    let owner = Visitor::from(&app, HOME);
    assert_eq!(owner.login("owner@shop.test", PASSWORD), Status::SeeOther);
    let all = activity(&owner, "/activity");
    assert!(all.iter().any(|r| r.who == "Owner") && all.iter().any(|r| r.who == "Member"));
    let sign_ins = activity(&owner, "/activity?action=signed_in");
    assert!(
        !sign_ins.is_empty() && sign_ins.len() < all.len(),
        "{sign_ins:#?}"
    );
    assert!(sign_ins.iter().all(|r| r.what == "Signed in"));
    let members = activity(&owner, &format!("/activity?person={member_id}"));
    assert!(!members.is_empty() && members.iter().all(|r| r.who == "Member"));
    let both = activity(
        &owner,
        &format!("/activity?person={member_id}&action=signed_out"),
    );
    assert_eq!(both.len(), 1, "{both:#?}");
    // Dates: nothing before today, everything from today on.
    let today = chrono::Utc::now().date_naive();
    let yesterday = today.pred_opt().unwrap();
    assert_eq!(
        activity(&owner, &format!("/activity?to={yesterday}")).len(),
        0
    );
    let (_, html) = owner.page(&format!("/activity?to={yesterday}"));
    assert!(html.contains("Nothing matches these filters."));
    assert_eq!(
        activity(&owner, &format!("/activity?from={today}&to={today}")).len(),
        all.len()
    );
    // The action filter offers every action in words.
    let (_, html) = owner.page("/activity");
    assert!(
        html.contains(r#"<option value="sign_in_failed">Sign-in failed (wrong password)</option>"#)
    );
    assert!(html.contains(&format!(r#"<option value="{member_id}">Member</option>"#)));
}

#[test]
fn another_accounts_people_never_see_its_entries() {
    let app = app();
    let alpha = Visitor::from(&app, HOME);
    alpha.register("Alpha owner", "a@alpha.test");
    new_key(&alpha, "alpha-secret-project");
    assert!(
        activity(&alpha, "/activity")
            .iter()
            .any(|r| r.detail == "alpha-secret-project"),
        "the account's own people see it"
    );
    alpha.logout();
    let beta = Visitor::from(&app, "198.51.100.40");
    beta.register("Beta owner", "b@beta.test");
    let alpha_owner = app.count("SELECT id FROM users WHERE email = 'a@alpha.test'");
    for path in [
        "/activity".to_owned(),
        format!("/activity?person={alpha_owner}"),
        "/activity?action=api_key_created".to_owned(),
    ] {
        let (status, html) = beta.page(&path);
        assert_eq!(status, Status::Ok, "{path}");
        assert!(
            html.contains("Account registered"),
            "beta's own entry: {path}"
        );
        assert!(!html.contains("alpha-secret-project"), "{path}");
        assert!(!html.contains(HOME), "{path}");
    }
}

#[test]
fn forwarded_addresses_count_only_from_a_trusted_proxy() {
    let app = app_with(|c| c.server.trusted_proxies = vec!["127.0.0.1".into()]);
    let through_proxy = Visitor {
        forwarded: Some("198.51.100.7"),
        ..Visitor::from(&app, "127.0.0.1")
    };
    through_proxy.register("Owner", "owner@shop.test");
    through_proxy.logout();
    let forged = Visitor {
        forwarded: Some("192.0.2.66"),
        ..Visitor::from(&app, HOME)
    };
    assert_eq!(forged.login("owner@shop.test", PASSWORD), Status::SeeOther);
    let log = activity(&forged, "/activity");
    assert_eq!(
        find(&log, "Signed out").ip,
        "198.51.100.7",
        "honoured from the proxy"
    );
    assert_eq!(find(&log, "Signed in").ip, HOME, "ignored from anyone else");
    assert!(!log.iter().any(|r| r.ip == "192.0.2.66"));

    // Without trusted proxies, nobody's header counts, not even the loopback's.
    let plain = common::web::app();
    let local = Visitor {
        forwarded: Some("198.51.100.7"),
        ..Visitor::from(&plain, "127.0.0.1")
    };
    local.register("Owner", "owner@shop.test");
    assert_eq!(
        find(&activity(&local, "/activity"), "Account registered").ip,
        "127.0.0.1"
    );
}

#[test]
fn the_log_is_paged_newest_first_and_shown_in_arabic() {
    let app = app();
    let owner = Visitor::from(&app, HOME);
    owner.register("Owner", "owner@shop.test");
    for n in 0..55 {
        new_key(&owner, &format!("key {n:02}"));
    }
    let (_, first) = owner.page("/activity?action=api_key_created");
    let first_rows = rows(&first);
    assert_eq!(first_rows.len(), 50);
    assert_eq!(first_rows[0].detail, "key 54", "newest first");
    let link = first
        .find("id=\"activity-older\"")
        .expect("a link to older entries");
    let at = first[..link].rfind("href=\"").unwrap() + 6;
    let older = unescape(&first[at..at + first[at..].find('"').unwrap()]);
    assert!(older.contains("action=api_key_created"), "{older}");
    let (_, second) = owner.page(&older);
    let second_rows: Vec<String> = rows(&second).into_iter().map(|r| r.detail).collect();
    assert_eq!(
        second_rows,
        ["key 04", "key 03", "key 02", "key 01", "key 00"]
    );
    assert!(!second.contains("id=\"activity-older\""), "the last page");

    let token = csrf_in(&owner.page("/activity").1);
    owner
        .request(Method::Post, "/language")
        .header(ContentType::Form)
        .body(encode(&[("csrf", &token), ("lang", "ar")]))
        .dispatch();
    let (_, arabic) = owner.page("/activity?action=registered");
    assert!(arabic.contains("dir=\"rtl\""));
    let row = &rows(&arabic)[0];
    assert_eq!(row.what, "تسجيل الحساب");
    assert_eq!(row.browser, "Chrome 131 على Windows");
    assert!(
        row.when.contains('2') && !row.when.contains('٢'),
        "Western digits: {}",
        row.when
    );
    assert!(
        arabic.contains(r#"href="/activity""#),
        "the menu links the page"
    );
}
