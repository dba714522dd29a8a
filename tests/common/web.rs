//! The real server built in-process and driven through Rocket's local client, with a real SQLite file.

use rocket::http::{ContentType, Header, Status};
use rocket::local::blocking::{Client, LocalResponse};
use std::net::SocketAddr;
use whatsapi::config::Config;

pub struct App {
    pub client: Client,
    pub dir: tempfile::TempDir,
    pub config: Config,
}

pub fn app() -> App {
    app_with(|_| {})
}

pub fn app_with(adjust: impl FnOnce(&mut Config)) -> App {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.storage.data_dir = dir.path().join("data");
    config.storage.key_file = dir.path().join("master.key");
    adjust(&mut config);
    config.validate().unwrap();
    let db = whatsapi::startup::open_store(&config, true).unwrap();
    let client = Client::tracked(whatsapi::build_rocket(config.clone(), db)).unwrap();
    App {
        client,
        dir,
        config,
    }
}

/// The CSRF token in a page's forms.
pub fn csrf_in(html: &str) -> String {
    let start = html
        .find("name=\"csrf\" value=\"")
        .expect("the page has a form with a CSRF token")
        + 19;
    html[start..start + html[start..].find('"').unwrap()].to_owned()
}

pub fn encode(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| {
            format!(
                "{k}={}",
                v.replace('%', "%25")
                    .replace('&', "%26")
                    .replace('+', "%2B")
                    .replace(' ', "+")
                    .replace('=', "%3D")
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

pub const PASSWORD: &str = "correct horse battery staple";

impl App {
    /// A second browser on the same installation: its own cookies, the same database.
    pub fn another_browser(&self) -> App {
        let db = whatsapi::startup::open_store(&self.config, false).unwrap();
        App {
            client: Client::tracked(whatsapi::build_rocket(self.config.clone(), db)).unwrap(),
            dir: tempfile::tempdir().unwrap(),
            config: self.config.clone(),
        }
    }

    pub fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.config.db_path()).unwrap()
    }

    /// The keystore, where the accounts' data keys are.
    pub fn keystore(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.config.keystore_files().path).unwrap()
    }

    pub fn count(&self, sql: &str) -> i64 {
        self.db().query_row(sql, [], |r| r.get(0)).unwrap()
    }

    pub fn page(&self, path: &str) -> (Status, String) {
        let response = self.client.get(path).dispatch();
        (
            response.status(),
            response.into_string().unwrap_or_default(),
        )
    }

    /// Invites `email` as `role` to the signed-in owner's team, signs out, and returns the invitation link.
    pub fn invite_and_sign_out(&self, email: &str, role: &str) -> String {
        let invite = self.submit("/team", "/team/invite", &[("email", email), ("role", role)]);
        assert_eq!(
            invite.status(),
            Status::SeeOther,
            "invite {email} as {role}"
        );
        let link = self.last_link("/invite/");
        self.logout();
        link
    }

    /// Accepts an invitation as `name`, with the privacy policy and a password of their own; the answer.
    pub fn join(&self, link: &str, name: &str) -> LocalResponse<'_> {
        self.submit(
            link,
            link,
            &[
                ("name", name),
                ("password", "a member's own pass phrase"),
                ("accept_privacy", "true"),
            ],
        )
    }

    /// Creates the first operator ("Op", op@host.test) through the one-time setup link, as this browser:
    /// the link's path and the answer.
    pub fn set_up_operator(&self) -> (String, LocalResponse<'_>) {
        let db = whatsapi::startup::open_store(&self.config, false).unwrap();
        let link = whatsapi::http::web::admin::setup_link(&db, &self.config)
            .unwrap()
            .expect("no operator yet, so a setup link");
        let path = link[link.find("/setup/").unwrap()..].to_owned();
        let answer = self.submit(
            &path,
            &path,
            &[
                ("name", "Op"),
                ("email", "op@host.test"),
                ("password", "operator pass phrase"),
            ],
        );
        (path, answer)
    }

    /// Fetches `form_page` for its token, then posts `fields` (with that token) to `action`.
    pub fn submit(
        &self,
        form_page: &str,
        action: &str,
        fields: &[(&str, &str)],
    ) -> LocalResponse<'_> {
        let (_, html) = self.page(form_page);
        let token = csrf_in(&html);
        self.post_raw(action, &token, fields)
    }

    pub fn post_raw(
        &self,
        action: &str,
        token: &str,
        fields: &[(&str, &str)],
    ) -> LocalResponse<'_> {
        let mut all = vec![("csrf", token)];
        all.extend_from_slice(fields);
        self.client
            .post(action.to_owned())
            .header(ContentType::Form)
            .body(encode(&all))
            .dispatch()
    }

    pub fn post_from(
        &self,
        addr: &str,
        action: &str,
        token: &str,
        fields: &[(&str, &str)],
    ) -> LocalResponse<'_> {
        let mut all = vec![("csrf", token)];
        all.extend_from_slice(fields);
        let remote: SocketAddr = addr.parse().unwrap();
        self.client
            .post(action.to_owned())
            .header(ContentType::Form)
            .remote(remote)
            .body(encode(&all))
            .dispatch()
    }

    pub fn register(&self, name: &str, company: &str, email: &str) -> Status {
        let fields = [
            ("name", name),
            ("company", company),
            ("email", email),
            ("password", PASSWORD),
            ("accept_privacy", "true"),
        ];
        self.submit("/register", "/register", &fields).status()
    }

    pub fn login(&self, email: &str, password: &str) -> Status {
        self.submit(
            "/login",
            "/login",
            &[("email", email), ("password", password)],
        )
        .status()
    }

    pub fn logout(&self) -> Status {
        self.submit("/profile", "/logout", &[]).status()
    }

    pub fn session_cookie(&self) -> Option<String> {
        self.client
            .cookies()
            .iter()
            .find(|c| c.name().ends_with("whatsapi_session"))
            .map(|c| c.value().to_owned())
    }

    /// Every email filed in the outbox, oldest first, decoded: headers unfolded with their encoded words
    /// read, the body undone from base64 or quoted-printable.
    pub fn emails(&self) -> Vec<String> {
        let outbox = self.config.storage.data_dir.join("outbox");
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

    /// The newest .eml in the outbox and the first link in it to `path_prefix`.
    pub fn last_link(&self, path_prefix: &str) -> String {
        for text in self.emails().iter().rev() {
            if let Some(at) = text.find(path_prefix) {
                let rest = &text[at..];
                let end = rest.find(|c: char| c.is_whitespace()).unwrap_or(rest.len());
                return rest[..end].to_owned();
            }
        }
        panic!("no email with a {path_prefix} link")
    }

    pub fn with_header(&self, path: &str, header: Header<'static>) -> LocalResponse<'_> {
        self.client.get(path.to_owned()).header(header).dispatch()
    }
}

/// An owner with an invited member who joined; the client ends signed in as the member.
pub fn team_with_member(app: &App, role: &str) -> i64 {
    assert_eq!(
        app.register("Owner", "Shop", "owner@shop.test"),
        Status::SeeOther
    );
    let link = app.invite_and_sign_out("member@shop.test", role);
    let join = app.join(&link, "Member");
    assert_eq!(join.status(), Status::SeeOther);
    app.db()
        .query_row(
            "SELECT id FROM users WHERE email = 'member@shop.test'",
            [],
            |r| r.get(0),
        )
        .unwrap()
}

/// An .eml as readable text: "Name: value" header lines, a blank line, the body.
pub fn decode_email(raw: &str) -> String {
    let raw = raw.replace("\r\n", "\n");
    let (head, body) = raw.split_once("\n\n").unwrap_or((&raw, ""));
    let head = head.replace("\n ", " ").replace("\n\t", " ");
    let encoding = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Transfer-Encoding:"))
        .unwrap_or("7bit")
        .trim()
        .to_ascii_lowercase();
    let body = match encoding.as_str() {
        "base64" => base64_text(&body.split_whitespace().collect::<String>()),
        "quoted-printable" => quoted_printable(&body.replace("=\n", ""), false),
        _ => body.to_owned(),
    };
    let head: Vec<String> = head.lines().map(decode_encoded_words).collect();
    format!("{}\n\n{body}", head.join("\n"))
}

fn base64_text(data: &str) -> String {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data)
        .expect("valid base64");
    String::from_utf8(bytes).expect("UTF-8 text")
}

fn quoted_printable(text: &str, underscore_is_space: bool) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'=' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(byte) => {
                        out.push(byte);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'='),
                }
            }
            b'_' if underscore_is_space => out.push(b' '),
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8(out).expect("UTF-8 text")
}

/// RFC 2047: `=?utf-8?b?...?=` and `=?utf-8?q?...?=`, with the space between adjacent words dropped.
fn decode_encoded_words(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    let mut after_word = false;
    while let Some(start) = rest.find("=?") {
        let Some((charset_and_kind, tail)) =
            rest[start + 2..].split_once('?').and_then(|(charset, t)| {
                let (kind, t) = t.split_once('?')?;
                Some(((charset, kind), t))
            })
        else {
            break;
        };
        let Some(end) = tail.find("?=") else { break };
        let between = &rest[..start];
        if !(after_word && between.trim().is_empty()) {
            out.push_str(between);
        }
        let data = &tail[..end];
        out.push_str(&match charset_and_kind.1.to_ascii_lowercase().as_str() {
            "b" => base64_text(data),
            _ => quoted_printable(data, true),
        });
        rest = &tail[end + 2..];
        after_word = true;
    }
    out.push_str(rest);
    out
}

impl App {
    /// An API key made on the API keys page, as the `Authorization` header.
    pub fn api_key(&self) -> Header<'static> {
        let page = self
            .submit("/api-keys", "/api-keys", &[("name", "tests")])
            .into_string()
            .unwrap();
        let start = page.find("id=\"new-key\">").expect("the new key is shown") + 13;
        let key = &page[start..start + page[start..].find('<').unwrap()];
        Header::new("Authorization", format!("Bearer {key}"))
    }

    /// A JSON API call with that header; status and body.
    pub fn api(
        &self,
        auth: &Header<'static>,
        method: rocket::http::Method,
        path: &str,
        body: serde_json::Value,
    ) -> (Status, serde_json::Value) {
        let response = self
            .client
            .req(method, path.to_owned())
            .header(auth.clone())
            .header(ContentType::JSON)
            .body(body.to_string())
            .dispatch();
        let status = response.status();
        (
            status,
            response.into_json().unwrap_or(serde_json::Value::Null),
        )
    }
}
