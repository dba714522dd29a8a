//! A stand-in SMS provider on 127.0.0.1: it records every request it receives (method, path and query,
//! headers, body) and answers as it is told, or never (a provider that does not answer). The tests read
//! what arrived the way the provider would: a form, JSON, a query string.

use super::stripe::decode_form;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// One request the stand-in received.
#[derive(Debug, Clone)]
pub struct SmsRequest {
    pub method: String,
    /// The request target: the path and, if any, `?` and the query.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl SmsRequest {
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }

    /// The query string's fields, decoded.
    pub fn query(&self) -> Vec<(String, String)> {
        self.target
            .split_once('?')
            .map(|(_, q)| decode_form(q))
            .unwrap_or_default()
    }

    /// The form-encoded body's fields, decoded, in order.
    pub fn form(&self) -> Vec<(String, String)> {
        decode_form(&self.body)
    }

    /// One field of the form body (or, for a GET, of the query).
    pub fn field(&self, name: &str) -> Option<String> {
        let fields = if self.method == "GET" {
            self.query()
        } else {
            self.form()
        };
        fields.into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The first run of exactly six digits in what was sent (query or body): the code. Digits are sent
    /// as they are in every encoding.
    pub fn code(&self) -> Option<String> {
        format!("{} {}", self.target, self.body)
            .split(|c: char| !c.is_ascii_digit())
            .find(|run| run.len() == 6)
            .map(str::to_owned)
    }
}

/// What the stand-in answers a request: a status and a body, or `None` to never answer (the connection
/// stays open until the caller gives up).
type Answer = dyn Fn(&SmsRequest) -> Option<(u16, String)> + Send + Sync;

/// The provider, on a port of 127.0.0.1 the system chose, for the life of the test.
pub struct SmsStandIn {
    /// `http://127.0.0.1:PORT`, no final slash.
    pub url: String,
    requests: Arc<Mutex<Vec<SmsRequest>>>,
}

impl SmsStandIn {
    pub fn start(
        answer: impl Fn(&SmsRequest) -> Option<(u16, String)> + Send + Sync + 'static,
    ) -> SmsStandIn {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a port for the SMS stand-in");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorded = requests.clone();
        let answer: Arc<Answer> = Arc::new(answer);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (recorded, answer) = (recorded.clone(), answer.clone());
                std::thread::spawn(move || serve(stream, &recorded, &*answer));
            }
        });
        SmsStandIn { url, requests }
    }

    /// A provider that answers every request with this status and body.
    pub fn answering(status: u16, body: &str) -> SmsStandIn {
        let body = body.to_owned();
        SmsStandIn::start(move |_| Some((status, body.clone())))
    }

    /// A provider that accepts every connection and request and never answers.
    pub fn silent() -> SmsStandIn {
        SmsStandIn::start(|_| None)
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<SmsRequest> {
        self.requests.lock().unwrap().clone()
    }

    /// The last request received; fails the test when there is none.
    pub fn last(&self) -> SmsRequest {
        self.requests()
            .pop()
            .expect("the SMS stand-in received no request")
    }

    /// `[sms]` settings (as WHATSAPI_ variables) that send through this stand-in as a generic provider:
    /// a form POST to `/send` with `to`, `text`, `code` and `lang`, accepted with any 2xx.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("WHATSAPI_SMS__PROVIDER", "http".to_owned()),
            ("WHATSAPI_SMS__URL", format!("{}/send", self.url)),
            ("WHATSAPI_SMS__ENCODING", "form".to_owned()),
            (
                "WHATSAPI_SMS__BODY",
                "to={to}&text={text}&code={code}&lang={lang}".to_owned(),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }
}

fn serve(stream: TcpStream, recorded: &Mutex<Vec<SmsRequest>>, answer: &Answer) {
    let Some(request) = read_request(&stream) else {
        return;
    };
    recorded.lock().unwrap().push(request.clone());
    let mut stream = stream;
    match answer(&request) {
        Some((status, body)) => {
            let _ = write!(
                stream,
                "HTTP/1.1 {status} Answer\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
        // Hold the connection, answering nothing, until the caller closes it.
        None => {
            let mut sink = [0u8; 512];
            while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
        }
    }
}

fn read_request(stream: &TcpStream) -> Option<SmsRequest> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut words = line.split_whitespace();
    let method = words.next()?.to_owned();
    let target = words.next()?.to_owned();
    let mut headers = Vec::new();
    let mut length = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':')?;
        let (name, value) = (name.trim().to_owned(), value.trim().to_owned());
        if name.eq_ignore_ascii_case("content-length") {
            length = value.parse().ok()?;
        }
        headers.push((name, value));
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(SmsRequest {
        method,
        target,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}
