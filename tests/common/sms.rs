//! An SMS provider's stand-in on 127.0.0.1: it records every request it receives (method, path, headers,
//! body, and the body read as JSON or as a form) and answers 200 `{"status": "queued"}`, or 500 once it is
//! told to fail. The tests read the codes people were sent from the recorded bodies.

use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// One request the stand-in received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    /// The path with its query, as sent.
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// The body read as JSON; `Null` when it is not JSON.
    pub json: Value,
    /// The body read as a form (`a=1&b=2`), decoded, in order; empty when it is JSON.
    pub form: Vec<(String, String)>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// A field of the body, JSON or form.
    pub fn field(&self, name: &str) -> Option<String> {
        if let Some(value) = self.json.get(name).and_then(Value::as_str) {
            return Some(value.to_owned());
        }
        self.form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }

    /// The number the message went to (the body's `to`).
    pub fn to(&self) -> String {
        self.field("to").unwrap_or_default()
    }

    /// The code in the message (the body's `code`).
    pub fn code(&self) -> String {
        self.field("code").expect("the message has a code")
    }
}

/// The provider, listening until the test ends.
pub struct SmsStandIn {
    /// `http://127.0.0.1:<port>`
    pub url: String,
    received: Arc<Mutex<Vec<Received>>>,
    failing: Arc<AtomicBool>,
}

impl SmsStandIn {
    pub fn start() -> SmsStandIn {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a port for the SMS stand-in");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let received = Arc::new(Mutex::new(Vec::new()));
        let failing = Arc::new(AtomicBool::new(false));
        let (recorded, fails) = (received.clone(), failing.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (recorded, fails) = (recorded.clone(), fails.clone());
                std::thread::spawn(move || answer(stream, &recorded, &fails));
            }
        });
        SmsStandIn {
            url,
            received,
            failing,
        }
    }

    /// Where the generic provider posts: `<url>/send`.
    pub fn send_url(&self) -> String {
        format!("{}/send", self.url)
    }

    /// From now on, answers 500 (`fail(true)`) or 200 again (`fail(false)`).
    pub fn fail(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    /// Every request received so far, oldest first.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// The requests whose `to` is `number`, oldest first.
    pub fn sent_to(&self, number: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.to() == number)
            .collect()
    }

    /// The code of the newest message to `number`.
    pub fn last_code_to(&self, number: &str) -> String {
        self.sent_to(number)
            .last()
            .unwrap_or_else(|| panic!("no SMS to {number}; received: {:?}", self.received()))
            .code()
    }
}

fn answer(stream: TcpStream, recorded: &Mutex<Vec<Received>>, failing: &AtomicBool) {
    let Some(request) = read_request(&stream) else {
        return;
    };
    recorded.lock().unwrap().push(request);
    let (status, body) = if failing.load(Ordering::SeqCst) {
        (
            "500 Internal Server Error",
            json!({"error": "the stand-in was told to fail"}),
        )
    } else {
        ("200 OK", json!({"status": "queued"}))
    };
    let body = body.to_string();
    let mut stream = stream;
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
}

fn read_request(stream: &TcpStream) -> Option<Received> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let path = parts.next()?.to_owned();
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
            length = value.parse().unwrap_or(0);
        }
        headers.push((name, value));
    }
    let mut bytes = vec![0; length];
    reader.read_exact(&mut bytes).ok()?;
    let body = String::from_utf8_lossy(&bytes).into_owned();
    let json: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let form = if json.is_null() && !body.is_empty() {
        decode_form(&body)
    } else {
        Vec::new()
    };
    Some(Received {
        method,
        path,
        headers,
        body,
        json,
        form,
    })
}

/// `a=1&b=x+y%21` as pairs.
pub fn decode_form(text: &str) -> Vec<(String, String)> {
    text.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(
                    std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or(""),
                    16,
                ) {
                    Ok(byte) => {
                        out.push(byte);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
