//! What the privacy tests (tests/privacy_*.rs) share: a real server with accounts full of data (members,
//! numbers, messages read by the sandbox, what customers wrote, webhook endpoints with deliveries), a
//! browser that keeps cookies, the tables that hold an account's rows and the checks on them, the keystore,
//! and a checker for the export's JSON Schema (`schema`).
#![allow(dead_code)]

use crate::common::api::{Api, with_password};
use crate::common::web::{csrf_in, decode_email, encode};
use crate::common::{Install, Server};
use serde_json::json;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::Read;

pub const PASSWORD: &str = "a long enough pass phrase";
pub const MEMBER_PASSWORD: &str = "the member's own pass phrase";

// Not every test file that includes this module uses them.
#[allow(unused_imports)]
pub use crate::common::{serve_quick as serve, wait_until};
#[allow(unused_imports)]
pub use schema::{schema, validate};

mod schema;

/// A browser: keeps the cookies it is given, follows no redirect.
pub struct Browser {
    pub base: String,
    agent: ureq::Agent,
    cookies: RefCell<BTreeMap<String, String>>,
}

pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> &str {
        crate::common::header(&self.headers, name)
    }
}

impl Browser {
    pub fn new(server: &Server) -> Browser {
        Browser {
            base: server.url.clone(),
            agent: ureq::Agent::config_builder()
                .http_status_as_error(false)
                .max_redirects(0)
                .build()
                .into(),
            cookies: RefCell::new(BTreeMap::new()),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .borrow()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep(&self, response: &ureq::http::Response<ureq::Body>) {
        for value in response.headers().get_all("set-cookie") {
            let value = value.to_str().unwrap_or("");
            let (pair, attributes) = value.split_once(';').unwrap_or((value, ""));
            if let Some((name, v)) = pair.split_once('=') {
                let mut cookies = self.cookies.borrow_mut();
                // Only the attributes say a cookie is removed: a random value may hold "1970" too.
                if v.is_empty() || attributes.contains("Max-Age=0") || attributes.contains("1970") {
                    cookies.remove(name.trim());
                } else {
                    cookies.insert(name.trim().to_owned(), v.to_owned());
                }
            }
        }
    }

    fn answer(&self, mut response: ureq::http::Response<ureq::Body>) -> Answer {
        self.keep(&response);
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
            .collect();
        let mut body = Vec::new();
        let _ = response.body_mut().as_reader().read_to_end(&mut body);
        Answer {
            status,
            headers,
            body,
        }
    }

    pub fn get(&self, path: &str) -> Answer {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        };
        let response = self
            .agent
            .get(&url)
            .header("Cookie", &self.cookie_header())
            .call()
            .expect("GET");
        self.answer(response)
    }

    pub fn post(&self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        };
        let response = self
            .agent
            .post(&url)
            .header("Cookie", &self.cookie_header())
            .header("Content-Type", "application/x-www-form-urlencoded")
            .send(encode(fields))
            .expect("POST");
        self.answer(response)
    }

    /// Fetches `form_page` for its CSRF token, then posts `fields` with it to `action`.
    pub fn submit(&self, form_page: &str, action: &str, fields: &[(&str, &str)]) -> Answer {
        let page = self.get(form_page);
        let token = csrf_in(&page.text());
        let mut all = vec![("csrf", token.as_str())];
        all.extend_from_slice(fields);
        self.post(action, &all)
    }

    pub fn login(&self, email: &str, password: &str) {
        let answer = self.submit(
            "/login",
            "/login",
            &[("email", email), ("password", password)],
        );
        assert_eq!(
            answer.status,
            303,
            "signing in as {email}: {}",
            answer.text()
        );
    }

    pub fn session(&self) -> Option<String> {
        self.cookies
            .borrow()
            .iter()
            .find(|(k, _)| k.ends_with("whatsapi_session"))
            .map(|(_, v)| v.clone())
    }

    /// Whether the browser is signed in (the profile answers instead of sending it to sign in).
    pub fn signed_in(&self) -> bool {
        self.get("/profile").status == 200
    }
}

/// One business with data in every table: an owner and a member, a sandbox number, a cloud number with
/// known secrets, a webhook endpoint that got deliveries, a message read by the customer and what the
/// customer wrote.
pub struct Business {
    pub id: i64,
    pub company: String,
    pub owner_email: String,
    pub member_email: String,
    pub api: Api,
    pub sandbox: String,
    pub customer: String,
    pub message_text: String,
    pub inbound_text: String,
    /// Secrets the account holds, none of which may ever be exported.
    pub secrets: Vec<String>,
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

/// A new account made from the command line, its owner `owner@<tag>.test`; its id.
pub fn new_account(install: &Install, company: &str, tag: &str) -> i64 {
    with_password(
        install,
        &[
            "account",
            "create",
            "--company",
            company,
            "--name",
            &format!("Owner of {company}"),
            "--email",
            &format!("owner@{tag}.test"),
            "--password-stdin",
        ],
    )
    .parse()
    .unwrap()
}

/// Creates a business named `company` (its people's addresses derive from `tag`) and fills it.
pub fn business(install: &Install, server: &Server, company: &str, tag: &str) -> Business {
    let owner_email = format!("owner@{tag}.test");
    let id = new_account(install, company, tag);
    let output = install.run(&[
        "apikey",
        "create",
        "--account",
        &id.to_string(),
        "--name",
        "k",
    ]);
    let key = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    let api = Api {
        base: server.url.clone(),
        key: key.clone(),
        agent: agent(),
    };
    let (status, sandbox) = api.call(
        "POST",
        "/api/v1/connections",
        Some(json!({"kind": "sandbox", "name": format!("{company} number")})),
        &[],
    );
    assert_eq!(status, 201, "{sandbox}");
    let sandbox = sandbox["id"].as_str().unwrap().to_owned();
    let (token, app_secret, verify) = (
        format!("EAAG{tag}AccessTokenSecret0123456789"),
        format!("{tag}appsecret0123456789abcdef"),
        format!("{tag}-verify-token-secret"),
    );
    let (status, cloud) = api.call(
        "POST",
        "/api/v1/connections",
        Some(
            json!({"kind": "cloud", "name": "Cloud", "phone_number_id": "1234567890",
                     "waba_id": "987654321", "access_token": token, "app_secret": app_secret,
                     "verify_token": verify}),
        ),
        &[],
    );
    assert_eq!(status, 201, "{cloud}");
    let (status, hook) = api.call(
        "POST",
        "/api/v1/webhook-endpoints",
        Some(json!({"url": crate::common::ok_endpoint(), "description": format!("{tag} hooks")})),
        &[],
    );
    assert_eq!(status, 201, "{hook}");
    let hook_secret = hook["secret"].as_str().unwrap().to_owned();

    let customer = match tag {
        "alpha" => "+96550001111",
        "beta" => "+96550002222",
        _ => "+96550003333",
    }
    .to_owned();
    let message_text = format!("Your {tag} order is ready");
    let (status, sent) = api.call(
        "POST",
        "/api/v1/messages",
        Some(
            json!({"connection_id": sandbox, "to": customer, "type": "text",
                     "text": {"body": message_text}}),
        ),
        &[("Idempotency-Key", &format!("{tag}-order-1"))],
    );
    assert_eq!(status, 202, "{sent}");
    api.wait_for(sent["id"].as_str().unwrap(), &["read"]);
    let inbound_text = format!("Thanks from the {tag} customer");
    let (status, body) = api.call(
        "POST",
        &format!("/api/v1/connections/{sandbox}/sandbox/inbound"),
        Some(json!({"from": customer, "name": format!("{tag} customer"), "text": inbound_text})),
        &[],
    );
    assert_eq!(status, 200, "{body}");

    // A member, invited by the owner on the team page.
    let member_email = format!("member@{tag}.test");
    let owner = Browser::new(server);
    owner.login(&owner_email, PASSWORD);
    let invite = owner.submit(
        "/team",
        "/team/invite",
        &[("email", &member_email), ("role", "member")],
    );
    assert_eq!(invite.status, 303, "{}", invite.text());
    let link = last_link(install, &member_email, "/invite/");
    let member = Browser::new(server);
    let join = member.submit(
        &link,
        &link,
        &[
            ("name", &format!("Member of {company}")),
            ("password", MEMBER_PASSWORD),
            ("accept_privacy", "true"),
        ],
    );
    assert_eq!(join.status, 303, "{}", join.text());
    let delivered = |install: &Install| {
        count(
            install,
            &format!("SELECT count(*) FROM webhook_attempts WHERE account_id = {id}"),
        ) > 0
    };
    wait_until("a webhook delivery", || delivered(install));
    let password_hash: String = open(install)
        .query_row(
            "SELECT password_hash FROM users WHERE email = ?1",
            [&owner_email],
            |r| r.get(0),
        )
        .unwrap();
    let webhook_key: String = open(install)
        .query_row(
            "SELECT webhook_key FROM connections WHERE account_id = ?1 LIMIT 1",
            [id],
            |r| r.get(0),
        )
        .unwrap();
    Business {
        id,
        company: company.to_owned(),
        owner_email,
        member_email,
        api,
        sandbox,
        customer,
        message_text,
        inbound_text,
        secrets: vec![
            token,
            app_secret,
            verify,
            hook_secret,
            key,
            password_hash,
            webhook_key,
        ],
    }
}

pub fn open(install: &Install) -> rusqlite::Connection {
    rusqlite::Connection::open(install.db_path()).unwrap()
}

pub fn count(install: &Install, sql: &str) -> i64 {
    open(install).query_row(sql, [], |r| r.get(0)).unwrap()
}

/// Every email in the outbox, decoded, oldest first.
pub fn emails(install: &Install) -> Vec<String> {
    let outbox = install.data_dir().join("outbox");
    let mut files: Vec<_> = match std::fs::read_dir(&outbox) {
        Ok(dir) => dir.map(|e| e.unwrap().path()).collect(),
        Err(_) => return Vec::new(),
    };
    files.sort();
    files
        .iter()
        .map(|f| decode_email(&std::fs::read_to_string(f).unwrap()))
        .collect()
}

/// The first link to `prefix` in the newest email to `to`.
pub fn last_link(install: &Install, to: &str, prefix: &str) -> String {
    for text in emails(install).iter().rev() {
        if !text.contains(&format!("To: {to}")) {
            continue;
        }
        if let Some(at) = text.find(prefix).and_then(|p| text[..p].rfind("http")) {
            let rest = &text[at..];
            let end = rest.find(|c: char| c.is_whitespace()).unwrap_or(rest.len());
            return rest[..end].to_owned();
        }
    }
    panic!("no email to {to} with a {prefix} link")
}

/// The tables with an `account_id` column, read from the database itself.
pub fn account_tables(install: &Install) -> Vec<String> {
    let conn = open(install);
    let mut stmt = conn
        .prepare(
            "SELECT m.name FROM sqlite_master m WHERE m.type = 'table'
               AND EXISTS (SELECT 1 FROM pragma_table_info(m.name) c WHERE c.name = 'account_id')
             ORDER BY m.name",
        )
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Rows of the account in every table with an `account_id` column (the accounts row itself included).
pub fn rows_of(install: &Install, account: i64) -> BTreeMap<String, i64> {
    let mut rows: BTreeMap<String, i64> = account_tables(install)
        .into_iter()
        .map(|t| {
            let n = count(
                install,
                &format!("SELECT count(*) FROM \"{t}\" WHERE account_id = {account}"),
            );
            (t, n)
        })
        .collect();
    rows.insert(
        "accounts".into(),
        count(
            install,
            &format!("SELECT count(*) FROM accounts WHERE id = {account}"),
        ),
    );
    for table in ["sessions", "consents", "known_browsers"] {
        rows.insert(
            table.into(),
            count(
                install,
                &format!(
                    "SELECT count(*) FROM {table} WHERE user_id IN (SELECT id FROM users WHERE account_id = {account})"
                ),
            ),
        );
    }
    rows
}

/// Waits until nothing is left to send: no message queued and no webhook delivery pending.
pub fn settle(install: &Install) {
    wait_until("the queues to empty", || {
        count(
            install,
            "SELECT (SELECT count(*) FROM messages WHERE status IN ('queued', 'sending'))
                  + (SELECT count(*) FROM webhook_deliveries WHERE status IN ('pending', 'delivering'))",
        ) == 0
    });
}

/// The database file and its write-ahead log, as bytes.
pub fn file_bytes(install: &Install) -> Vec<u8> {
    let mut bytes = std::fs::read(install.db_path()).unwrap();
    if let Ok(more) = std::fs::read(install.data_dir().join("whatsapi.db-wal")) {
        bytes.extend(more);
    }
    bytes
}

/// The keystore beside the installation's key file.
pub fn keystore(install: &Install) -> std::path::PathBuf {
    install.key_file().with_extension("keystore")
}

/// How many data keys the keystore holds for an account (0 or 1).
pub fn data_keys_of(install: &Install, account: i64) -> i64 {
    rusqlite::Connection::open(keystore(install))
        .unwrap()
        .query_row(
            "SELECT count(*) FROM data_keys WHERE account_id = ?1",
            [account],
            |r| r.get(0),
        )
        .unwrap()
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// `whatsapi account delete` answered on its standard input, as an operator types the confirmation.
pub fn delete_with_stdin(install: &Install, account: i64, answer: &str) -> std::process::Output {
    install.run_typing(
        &["account", "delete", "--account", &account.to_string()],
        answer,
    )
}

/// Fails naming every table that still holds a row.
pub fn nothing_left(rows: &BTreeMap<String, i64>) {
    let left: Vec<_> = rows.iter().filter(|(_, n)| **n > 0).collect();
    assert!(
        left.is_empty(),
        "rows of the deleted account remain: {left:?}"
    );
}

/// An account with data in the tables that matter, so "no row left" means something.
pub fn full(rows: &BTreeMap<String, i64>) {
    for table in [
        "accounts",
        "users",
        "sessions",
        "consents",
        "known_browsers",
        "api_keys",
        "connections",
        "messages",
        "message_statuses",
        "idempotency_keys",
        "webhook_payloads",
        "contacts",
        "inbound_messages",
        "webhook_endpoints",
        "webhook_events",
        "webhook_deliveries",
        "webhook_attempts",
        "activity_log",
    ] {
        assert!(rows[table] > 0, "the account has no {table} to delete");
    }
}

/// The email to `to` with this subject.
pub fn email_to(install: &Install, to: &str, subject: &str) -> String {
    emails(install)
        .into_iter()
        .find(|e| e.contains(&format!("To: {to}")) && e.contains(&format!("Subject: {subject}")))
        .unwrap_or_else(|| panic!("no email {subject:?} to {to}"))
}
