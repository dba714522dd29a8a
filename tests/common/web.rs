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
    pub fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.config.db_path()).unwrap()
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

    /// Every email filed in the outbox, oldest first, with quoted-printable soft breaks undone.
    pub fn emails(&self) -> Vec<String> {
        let outbox = self.config.storage.data_dir.join("outbox");
        let mut files: Vec<_> = match std::fs::read_dir(&outbox) {
            Ok(dir) => dir.map(|e| e.unwrap().path()).collect(),
            Err(_) => return Vec::new(),
        };
        files.sort();
        files
            .iter()
            .map(|f| {
                std::fs::read_to_string(f)
                    .unwrap()
                    .replace("=\r\n", "")
                    .replace("=3D", "=")
            })
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
