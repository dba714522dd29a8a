//! What the two-step and phone tests (tests/web_phone_verification.rs, tests/web_two_step*.rs,
//! tests/two_step_throttles.rs, tests/browser_two_step.rs) share: a real server whose SMS goes to the
//! stand-in provider of `common::sms` (`provider`), with a clock the test can move
//! (`WAPI_TEST_CLOCK_FILE`); a browser that keeps its cookies and follows no redirect; and the steps
//! people take: sign in, verify a number, enrol an authenticator (its codes computed here from the
//! `otpauth://` URI, as an app would), enter a code. The pages are read in `html`.
#![allow(dead_code)]

use crate::common::web::{csrf_in, decode_email, encode};
use crate::common::{Install, Server};
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::io::Read;
use std::time::{SystemTime, UNIX_EPOCH};

pub use crate::common::api::PASSWORD;
pub use html::{element_html, recovery_codes, text_of, unescape};

mod html;
mod provider;
pub use provider::Provider;

/// The generic provider's body template, with every placeholder, as the tests configure it.
pub const BODY_TEMPLATE: &str =
    r#"{"to": "{to}", "code": "{code}", "text": "{text}", "lang": "{lang}"}"#;

/// An installation with SMS through the stand-in, a movable clock and a port kept across restarts.
pub struct Site {
    pub install: Install,
    pub config: String,
    pub sms: Provider,
    pub server: Option<Server>,
    pub base: String,
}

impl Site {
    /// A running server with `[sms]` pointed at a new stand-in and `more` (TOML) in its configuration.
    pub fn start(more: &str) -> Site {
        let mut install = Install::new();
        let sms = Provider::start();
        let config = install.path("config.toml");
        std::fs::write(
            &config,
            format!(
                "[sms]\nprovider = \"http\"\nurl = \"{}\"\nmethod = \"POST\"\nencoding = \"json\"\nbody = '{BODY_TEMPLATE}'\n\n{more}\n",
                sms.send_url()
            ),
        )
        .unwrap();
        let clock = install.path("clock");
        std::fs::write(&clock, "0").unwrap();
        install.env.push((
            "WAPI_TEST_CLOCK_FILE".into(),
            clock.to_string_lossy().into_owned(),
        ));
        let port = crate::common::free_port();
        install
            .env
            .push(("WHATSAPI_SERVER__PORT".into(), port.to_string()));
        let mut site = Site {
            install,
            config: config.to_string_lossy().into_owned(),
            sms,
            server: None,
            base: String::new(),
        };
        site.serve();
        site
    }

    fn serve(&mut self) {
        let server =
            self.install
                .serve_with(self.install.command(&["--config", &self.config, "serve"]));
        self.base = server.url.clone();
        self.server = Some(server);
    }

    pub fn server(&self) -> &Server {
        self.server.as_ref().expect("the server runs")
    }

    /// Stops the server at once (as a power cut would) and starts it again on the same data and port.
    pub fn restart(&mut self) {
        if let Some(server) = self.server.take() {
            server.kill9();
        }
        self.serve();
        assert_eq!(
            self.base,
            self.server().url,
            "the same address after a restart"
        );
    }

    /// Every line the server logged so far.
    pub fn log(&self) -> String {
        self.server().lines.lock().unwrap().join("\n")
    }

    /// A browser of this site, signed in nowhere.
    pub fn browser(&self) -> Browser {
        Browser::new(&self.base)
    }

    /// A business account made from the command line, its owner `email` with `PASSWORD`; its id.
    pub fn owner(&self, email: &str) -> String {
        crate::common::api::owner(&self.install, "Owner", email)
    }

    /// The owner `email` of a new account, signed in (with the password alone: no two-step yet).
    pub fn signed_in_owner(&self, email: &str) -> Browser {
        self.owner(email);
        let browser = self.browser();
        let answer = browser.sign_in(email, PASSWORD);
        assert_eq!(answer.status, 303, "sign in as {email}: {}", answer.text);
        assert_eq!(answer.location(), "/", "no second step yet");
        browser
    }

    /// `owner` invites `email` as `role`; the invited person joins with `PASSWORD` and is signed in.
    pub fn member(&self, owner: &Browser, email: &str, role: &str) -> Browser {
        let invited = owner.submit("/team", "/team/invite", &[("email", email), ("role", role)]);
        assert_eq!(invited.status, 303, "invite {email}: {}", invited.text);
        let link = self.link_in_email(email, "/invite/");
        let browser = self.browser();
        let joined = browser.submit(
            &link,
            &link,
            &[
                ("name", "Member"),
                ("password", PASSWORD),
                ("accept_privacy", "true"),
            ],
        );
        assert_eq!(joined.status, 303, "join as {email}: {}", joined.text);
        browser
    }

    /// An operator of the installation, made from the command line, signed in with the password.
    pub fn operator(&self, email: &str) -> Browser {
        crate::common::api::with_password(
            &self.install,
            &[
                "admin",
                "create",
                "--email",
                email,
                "--name",
                "Op",
                "--password-stdin",
            ],
        );
        let browser = self.browser();
        let answer = browser.sign_in(email, PASSWORD);
        assert_eq!(answer.status, 303, "sign in as {email}: {}", answer.text);
        browser
    }

    /// An API key of the account `account`, made from the command line.
    pub fn api_key(&self, account: &str) -> String {
        let output =
            self.install
                .run(&["apikey", "create", "--account", account, "--name", "tests"]);
        let key = String::from_utf8(output.stdout).unwrap().trim().to_owned();
        assert!(key.starts_with("wapi_"), "{key}");
        key
    }

    /// A call to the API with `key`: status and body.
    pub fn api_get(&self, key: &str, path: &str) -> (u16, String) {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut response = agent
            .get(format!("{}{path}", self.base))
            .header("Authorization", &format!("Bearer {key}"))
            .call()
            .expect("API call");
        let status = response.status().as_u16();
        (
            status,
            response.body_mut().read_to_string().unwrap_or_default(),
        )
    }

    /// How far the server's clock is ahead of the real time.
    pub fn clock_offset_ms(&self) -> i64 {
        std::fs::read_to_string(self.install.path("clock"))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }

    /// Moves the server's clock forward by `ms` (written aside and renamed, never seen half written).
    pub fn move_clock(&self, ms: i64) {
        let next = self.install.path("clock.next");
        std::fs::write(&next, (self.clock_offset_ms() + ms).to_string()).unwrap();
        std::fs::rename(next, self.install.path("clock")).unwrap();
    }

    /// The server's time now, in seconds since the epoch.
    pub fn now_secs(&self) -> u64 {
        let real = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        ((real + self.clock_offset_ms()) / 1000) as u64
    }

    /// Every email sent to `to`, oldest first, decoded.
    pub fn emails_to(&self, to: &str) -> Vec<String> {
        let outbox = self.install.data_dir().join("outbox");
        let mut files: Vec<_> = match std::fs::read_dir(outbox) {
            Ok(dir) => dir.map(|e| e.unwrap().path()).collect(),
            Err(_) => return Vec::new(),
        };
        files.sort();
        files
            .iter()
            .map(|f| decode_email(&std::fs::read_to_string(f).unwrap()))
            .filter(|text| text.lines().any(|l| l == format!("To: {to}")))
            .collect()
    }

    /// The first link to `prefix` in the newest email to `to` that has one.
    pub fn link_in_email(&self, to: &str, prefix: &str) -> String {
        for text in self.emails_to(to).iter().rev() {
            if let Some(at) = text.find(prefix) {
                let rest = &text[at..];
                let end = rest.find(|c: char| c.is_whitespace()).unwrap_or(rest.len());
                return rest[..end].to_owned();
            }
        }
        panic!("no email to {to} with a {prefix} link")
    }

    pub fn count(&self, sql: &str) -> i64 {
        crate::common::api::count(&self.install, sql)
    }
}

/// An answer: status, headers, the body as text.
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub text: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> &str {
        crate::common::header(&self.headers, name)
    }

    pub fn location(&self) -> &str {
        self.header("Location")
    }
}

/// A browser: keeps the cookies it is given, follows no redirect.
pub struct Browser {
    pub base: String,
    agent: ureq::Agent,
    cookies: RefCell<BTreeMap<String, String>>,
    pub user_agent: String,
}

impl Browser {
    pub fn new(base: &str) -> Browser {
        Browser {
            base: base.to_owned(),
            agent: ureq::Agent::config_builder()
                .http_status_as_error(false)
                .max_redirects(0)
                .build()
                .into(),
            cookies: RefCell::new(BTreeMap::new()),
            user_agent: "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"
                .into(),
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

    fn answer(&self, mut response: ureq::http::Response<ureq::Body>) -> Answer {
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
            text: String::from_utf8_lossy(&body).into_owned(),
        }
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        }
    }

    pub fn get(&self, path: &str) -> Answer {
        let response = self
            .agent
            .get(self.url(path))
            .header("Cookie", &self.cookie_header())
            .header("User-Agent", &self.user_agent)
            .call()
            .expect("GET");
        self.answer(response)
    }

    /// Posts `fields` as a form, as they are (the caller adds the CSRF token).
    pub fn post(&self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let response = self
            .agent
            .post(self.url(path))
            .header("Cookie", &self.cookie_header())
            .header("User-Agent", &self.user_agent)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .send(encode(fields))
            .expect("POST");
        self.answer(response)
    }

    /// Fetches `form_page` for its CSRF token, then posts `fields` with it to `action`.
    pub fn submit(&self, form_page: &str, action: &str, fields: &[(&str, &str)]) -> Answer {
        let page = self.get(form_page);
        assert_eq!(
            page.status,
            200,
            "the form page {form_page} opens: {} {}",
            page.location(),
            page.text
        );
        let token = csrf_in(&page.text);
        self.post_with(action, &token, fields)
    }

    /// Posts `fields` with the CSRF token `token` to `action`.
    pub fn post_with(&self, action: &str, token: &str, fields: &[(&str, &str)]) -> Answer {
        let mut all = vec![("csrf", token)];
        all.extend_from_slice(fields);
        self.post(action, &all)
    }

    /// The sign-in form with this email and password.
    pub fn sign_in(&self, email: &str, password: &str) -> Answer {
        self.submit(
            "/login",
            "/login",
            &[("email", email), ("password", password)],
        )
    }

    /// Signs in with the password and lands on the code step (303 to /login/code).
    pub fn sign_in_to_code_step(&self, email: &str) {
        let answer = self.sign_in(email, PASSWORD);
        assert_eq!(answer.status, 303, "sign in as {email}: {}", answer.text);
        assert_eq!(answer.location(), "/login/code", "the second step is asked");
    }

    /// Enters a code at the second step of sign-in.
    pub fn enter_code(&self, code: &str) -> Answer {
        self.submit("/login/code", "/login/code", &[("code", code)])
    }

    /// The CSRF token of whichever page this session may open: the profile, the code step, enrolment
    /// or the phone page.
    pub fn any_token(&self) -> String {
        for path in [
            "/profile",
            "/login/code",
            "/profile/two-step",
            "/profile/phone",
        ] {
            let page = self.get(path);
            if page.status == 200 && page.text.contains("name=\"csrf\"") {
                return csrf_in(&page.text);
            }
        }
        panic!("no page of this session has a form")
    }

    /// Signs out.
    pub fn sign_out(&self) {
        let answer = self.post_with("/logout", &self.any_token(), &[]);
        assert_eq!(answer.status, 303, "sign out: {}", answer.text);
        self.cookies.borrow_mut().clear();
    }

    /// The session cookie's value.
    pub fn session(&self) -> Option<String> {
        self.cookies
            .borrow()
            .iter()
            .find(|(k, _)| k.ends_with("whatsapi_session"))
            .map(|(_, v)| v.clone())
    }

    /// Puts this value in the session cookie, as a browser replaying an old one would.
    pub fn set_session(&self, value: &str) {
        let mut cookies = self.cookies.borrow_mut();
        let name = cookies
            .keys()
            .find(|k| k.ends_with("whatsapi_session"))
            .cloned()
            .unwrap_or_else(|| "whatsapi_session".into());
        cookies.insert(name, value.to_owned());
    }

    /// A copy of this browser with the same cookies (another tab replaying them).
    pub fn same_cookies(&self) -> Browser {
        let copy = Browser::new(&self.base);
        *copy.cookies.borrow_mut() = self.cookies.borrow().clone();
        copy
    }

    /// Asks for a code by SMS for a number on the profile (303 to /profile/phone?sent=1 when sent).
    pub fn add_phone(&self, number: &str) -> Answer {
        self.submit("/profile/phone", "/profile/phone", &[("phone", number)])
    }

    /// Enters the code that verifies the number.
    pub fn verify_phone_code(&self, code: &str) -> Answer {
        self.submit("/profile/phone", "/profile/phone/verify", &[("code", code)])
    }

    /// Adds and verifies `number` with the code the stand-in received.
    pub fn verify_phone(&self, site: &Site, number: &str) {
        let asked = self.add_phone(number);
        assert_eq!(asked.status, 303, "ask for a code: {}", asked.text);
        assert_eq!(asked.location(), "/profile/phone?sent=1");
        let verified = self.verify_phone_code(&site.sms.last_code_to(number));
        assert_eq!(verified.status, 303, "verify: {}", verified.text);
        assert_eq!(verified.location(), "/profile/phone?done=verified");
    }

    /// Starts enrolling an authenticator: the page with its QR code and URI.
    pub fn start_authenticator(&self) -> Answer {
        let answer = self.submit("/profile/two-step", "/profile/two-step/authenticator", &[]);
        assert_eq!(answer.status, 200, "start enrolment: {}", answer.text);
        answer
    }

    /// Enrols an authenticator app: reads the URI from the page, confirms with a code computed from it.
    pub fn enrol_authenticator(&self, site: &Site) -> Authenticator {
        let page = self.start_authenticator();
        let app = Authenticator::from_page(&page.text);
        let code = app.next_code(site);
        let confirmed = self.post_with(
            "/profile/two-step/authenticator/confirm",
            &csrf_in(&page.text),
            &[("code", &code)],
        );
        assert_eq!(confirmed.status, 200, "confirm: {}", confirmed.text);
        let codes = recovery_codes(&confirmed.text);
        assert_eq!(codes.len(), 10, "ten recovery codes: {}", confirmed.text);
        app.recovery.replace(codes);
        app
    }
}

/// An authenticator app holding the secret of an `otpauth://` URI, and the recovery codes shown with it.
pub struct Authenticator {
    pub uri: String,
    totp: totp_rs::Totp,
    /// The newest 30-second step a code was made for: each step's code works once.
    last_step: Cell<u64>,
    pub recovery: RefCell<Vec<String>>,
}

impl Authenticator {
    /// Reads the URI from an enrolment page (`<code id="otpauth-uri">`), with its QR code beside it.
    pub fn from_page(html: &str) -> Authenticator {
        let qr = element_html(html, "two-step-qr").expect("the QR code's element #two-step-qr");
        assert!(qr.contains("<svg"), "the QR code is an inline SVG: {qr}");
        let uri = unescape(&text_of(html, "otpauth-uri").expect("the URI in #otpauth-uri"));
        Authenticator::from_uri(&uri)
    }

    pub fn from_uri(uri: &str) -> Authenticator {
        assert!(uri.starts_with("otpauth://totp/"), "{uri}");
        let totp = totp_rs::Totp::from_url(uri)
            .unwrap_or_else(|e| panic!("an otpauth URI an app can read ({e}): {uri}"));
        assert_eq!((totp.digits(), totp.step()), (6, 30), "6 digits every 30 s");
        assert_eq!(format!("{:?}", totp.algorithm()), "SHA1");
        Authenticator {
            uri: uri.to_owned(),
            totp,
            last_step: Cell::new(0),
            recovery: RefCell::new(Vec::new()),
        }
    }

    /// The code for a 30-second step.
    pub fn code_at_step(&self, step: u64) -> String {
        self.totp.generate(step * 30).to_string()
    }

    /// The server's current step.
    pub fn step_now(site: &Site) -> u64 {
        site.now_secs() / 30
    }

    /// A code that has not been used yet and that the server accepts now: the current step's, or the
    /// next one's, within the ±1 step allowed. When both are spent, the server's clock is moved on by a
    /// step (the server reads the time of its codes from the clock the test moves), as an app would wait.
    pub fn next_code(&self, site: &Site) -> String {
        loop {
            let now = Self::step_now(site);
            let step = (self.last_step.get() + 1).max(now);
            if step <= now + 1 {
                self.last_step.set(step);
                return self.code_at_step(step);
            }
            site.move_clock(30_000);
        }
    }

    /// The code of the step used last (a reused code).
    pub fn last_code(&self) -> String {
        self.code_at_step(self.last_step.get())
    }

    /// A recovery code not used yet.
    pub fn take_recovery_code(&self) -> String {
        self.recovery.borrow_mut().pop().expect("a recovery code")
    }
}

/// How many entries the activity page lists.
pub fn activity_rows(browser: &Browser) -> usize {
    let page = browser.get("/activity");
    assert_eq!(page.status, 200, "the activity page: {}", page.text);
    element_html(&page.text, "activity")
        .map(|table| table.matches("<tr").count().saturating_sub(1))
        .unwrap_or(0)
}
