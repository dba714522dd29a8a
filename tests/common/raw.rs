//! Plain HTTP/1.1 over one TCP connection to the server under test, with any headers a browser (or a proxy
//! in front of it) may send, Host included; and signing in as a browser does it.

use super::web::{csrf_in, encode};
use std::io::{Read, Write};
use std::net::TcpStream;

pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> &str {
        super::header(&self.headers, name)
    }

    /// The value the answer sets for the session cookie, if it sets one.
    pub fn session_cookie(&self) -> Option<String> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("Set-Cookie"))
            .filter_map(|(_, v)| v.split(';').next()?.split_once('='))
            .find(|(name, value)| name.ends_with("whatsapi_session") && !value.is_empty())
            .map(|(name, value)| format!("{name}={value}"))
    }
}

/// Sends one request to `base` (`http://127.0.0.1:<port>`) and reads the whole answer.
pub fn request(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Answer {
    let authority = base.strip_prefix("http://").expect("a plain http base URL");
    let mut stream = TcpStream::connect(authority).expect("connect to the server");
    let mut head = format!("{method} {path} HTTP/1.1\r\n");
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("Host")) {
        head.push_str(&format!("Host: {authority}\r\n"));
    }
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read the answer");
    parse_answer(&raw)
}

/// Like [`request`], with header values and a body that need not be UTF-8. The server may answer and
/// close before it has taken the whole body (one over its limit), so a write that fails then is no
/// error: the answer is what counts.
pub fn request_bytes(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &[u8])],
    body: &[u8],
) -> Answer {
    let authority = base.strip_prefix("http://").expect("a plain http base URL");
    let mut stream = TcpStream::connect(authority).expect("connect to the server");
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {authority}\r\n").into_bytes();
    for (name, value) in headers {
        head.extend_from_slice(format!("{name}: ").as_bytes());
        head.extend_from_slice(value);
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(
        format!(
            "Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    stream.write_all(&head).unwrap();
    let _ = stream.write_all(body);
    let mut raw = Vec::new();
    // A reset after the answer arrived ends the reading, not the test.
    let mut chunk = [0; 8192];
    while let Ok(n @ 1..) = stream.read(&mut chunk) {
        raw.extend_from_slice(&chunk[..n]);
    }
    parse_answer(&raw)
}

fn parse_answer(raw: &[u8]) -> Answer {
    let raw = String::from_utf8_lossy(raw).into_owned();
    let (head, body) = raw.split_once("\r\n\r\n").expect("an HTTP answer");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let body = if super::header(&headers, "Transfer-Encoding").eq_ignore_ascii_case("chunked") {
        unchunk(body)
    } else {
        body.to_owned()
    };
    Answer {
        status,
        headers,
        body,
    }
}

fn unchunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 || after.len() < size {
            break;
        }
        out.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
    out
}

/// A browser as the server sees it: a user agent, maybe a proxy's X-Forwarded-For, maybe a session.
#[derive(Clone)]
pub struct Browser {
    pub base: String,
    pub user_agent: String,
    pub forwarded_for: Option<String>,
    pub cookie: Option<String>,
}

impl Browser {
    pub fn new(base: &str, user_agent: &str) -> Browser {
        Browser {
            base: base.to_owned(),
            user_agent: user_agent.to_owned(),
            forwarded_for: None,
            cookie: None,
        }
    }

    /// The same browser reaching the server through a proxy that forwards `address`.
    pub fn via(&self, address: &str) -> Browser {
        Browser {
            forwarded_for: Some(address.to_owned()),
            ..self.clone()
        }
    }

    fn headers(&self) -> Vec<(&str, &str)> {
        let mut headers = vec![("User-Agent", self.user_agent.as_str())];
        if let Some(forwarded) = &self.forwarded_for {
            headers.push(("X-Forwarded-For", forwarded));
        }
        if let Some(cookie) = &self.cookie {
            headers.push(("Cookie", cookie));
        }
        headers
    }

    pub fn get(&self, path: &str) -> Answer {
        request(&self.base, "GET", path, &self.headers(), "")
    }

    /// Posts a form with `extra` headers (Origin, Host, ...).
    pub fn post(&self, path: &str, fields: &[(&str, &str)], extra: &[(&str, &str)]) -> Answer {
        let mut headers = self.headers();
        headers.push(("Content-Type", "application/x-www-form-urlencoded"));
        headers.extend_from_slice(extra);
        request(&self.base, "POST", path, &headers, &encode(fields))
    }

    /// A token for the sign-in form (it stays valid for hours, so one serves many attempts).
    pub fn login_token(&self) -> String {
        csrf_in(&self.get("/login").body)
    }

    /// Posts the sign-in form with `token`: 303 signed in, 401 wrong, 429 throttled.
    pub fn sign_in_with(&self, token: &str, email: &str, password: &str) -> Answer {
        self.post(
            "/login",
            &[("csrf", token), ("email", email), ("password", password)],
            &[],
        )
    }

    pub fn sign_in(&self, email: &str, password: &str) -> u16 {
        self.sign_in_with(&self.login_token(), email, password)
            .status
    }

    /// Signs in and keeps the session, as a browser keeps its cookie.
    pub fn signed_in(&self, email: &str, password: &str) -> Browser {
        let answer = self.sign_in_with(&self.login_token(), email, password);
        assert_eq!(answer.status, 303, "sign in as {email}: {}", answer.body);
        Browser {
            cookie: Some(answer.session_cookie().expect("a session cookie")),
            ..self.clone()
        }
    }
}
