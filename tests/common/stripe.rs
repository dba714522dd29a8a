//! Stripe's side, as the payment tests (tests/billing_stripe.rs) see it: a stand-in for Stripe's API on
//! 127.0.0.1 that records every request and answers Checkout and customer-portal sessions in Stripe's
//! published shapes (and its error object when the key is wrong or a price does not exist), events in
//! Stripe's envelope, and bodies signed as Stripe signs them (`Stripe-Signature: t=...,v1=...`). The
//! signing is written here on its own, not taken from the server, so a mistake in one shows in the other.

use hmac::{KeyInit, Mac};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// The keys the tests configure.
pub const SECRET_KEY: &str = "sk_test_51StandIn";
pub const WEBHOOK_SECRET: &str = "whsec_standin_signing_secret";
/// A price Stripe's stand-in says does not exist.
pub const MISSING_PRICE: &str = "price_missing";

/// One request the stand-in received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    /// The form-encoded body, decoded, in order.
    pub form: Vec<(String, String)>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn field(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Stripe's API on a port of 127.0.0.1 the system chose, held for the stand-in's life.
pub struct StripeStandIn {
    pub url: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

impl StripeStandIn {
    pub fn start() -> StripeStandIn {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a port for Stripe's stand-in");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorded = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let recorded = recorded.clone();
                std::thread::spawn(move || answer(stream, &recorded));
            }
        });
        StripeStandIn { url, requests }
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    /// The requests to one path.
    pub fn requests_to(&self, path: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }
}

fn answer(stream: TcpStream, recorded: &Mutex<Vec<Recorded>>) {
    let Some(request) = read_request(&stream) else {
        return;
    };
    let n = {
        let mut all = recorded.lock().unwrap();
        all.push(request.clone());
        all.len()
    };
    let (status, body) = respond(&request, n);
    let body = body.to_string();
    let reason = if status == 200 { "OK" } else { "Error" };
    let mut stream = stream;
    let _ = write!(
        stream,
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
}

/// Stripe's error object (`{"error": {"type", "code", "message", "param"}}`).
fn stripe_error(kind: &str, code: &str, message: &str, param: &str) -> Value {
    json!({"error": {"type": kind, "code": code, "message": message, "param": param}})
}

fn respond(request: &Recorded, n: usize) -> (u16, Value) {
    if request.header("Authorization") != Some(&format!("Bearer {SECRET_KEY}")) {
        return (
            401,
            json!({"error": {"type": "invalid_request_error",
                "message": "Invalid API Key provided: sk_test_****"}}),
        );
    }
    match (request.method.as_str(), request.path.as_str()) {
        ("POST", "/v1/checkout/sessions") => {
            if request.field("line_items[0][price]") == Some(MISSING_PRICE) {
                return (
                    400,
                    stripe_error(
                        "invalid_request_error",
                        "resource_missing",
                        &format!("No such price: '{MISSING_PRICE}'"),
                        "line_items[0][price]",
                    ),
                );
            }
            let id = format!("cs_test_a1{n:04}");
            (
                200,
                json!({
                    "id": id, "object": "checkout.session", "mode": "subscription",
                    "client_reference_id": request.field("client_reference_id"),
                    "customer": request.field("customer"),
                    "customer_email": request.field("customer_email"),
                    "success_url": request.field("success_url"),
                    "cancel_url": request.field("cancel_url"),
                    "status": "open", "payment_status": "unpaid",
                    "url": format!("https://checkout.stripe.com/c/pay/{id}")
                }),
            )
        }
        ("POST", "/v1/billing_portal/sessions") => {
            let id = format!("bps_test_a1{n:04}");
            (
                200,
                json!({
                    "id": id, "object": "billing_portal.session",
                    "customer": request.field("customer"),
                    "return_url": request.field("return_url"),
                    "livemode": false,
                    "url": format!("https://billing.stripe.com/p/session/test_{id}")
                }),
            )
        }
        _ => (
            404,
            stripe_error(
                "invalid_request_error",
                "",
                &format!(
                    "Unrecognized request URL ({} {})",
                    request.method, request.path
                ),
                "",
            ),
        ),
    }
}

fn read_request(stream: &TcpStream) -> Option<Recorded> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut words = line.split_whitespace();
    let method = words.next()?.to_owned();
    let path = words.next()?.to_owned();
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
    Some(Recorded {
        method,
        path,
        headers,
        form: decode_form(&String::from_utf8_lossy(&body)),
    })
}

/// `application/x-www-form-urlencoded`, decoded: `+` is a space, `%XX` a byte.
pub fn decode_form(body: &str) -> Vec<(String, String)> {
    let decode = |text: &str| {
        let bytes = text.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < bytes.len() => {
                    let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                    match u8::from_str_radix(hex, 16) {
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
    };
    body.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// Unix seconds now, as Stripe stamps its signatures and events.
pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The `Stripe-Signature` header Stripe sends with `body` at `t`: HMAC-SHA256 keyed with the whole
/// signing secret, over `"{t}.{body}"`, in hex.
pub fn sign(secret: &str, t: i64, body: &str) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// An event in Stripe's envelope about `object`, created now.
pub fn event(id: &str, kind: &str, object: Value) -> String {
    json!({
        "id": id, "object": "event", "api_version": "2025-03-31.basil",
        "created": now_secs(), "livemode": false, "pending_webhooks": 1,
        "request": {"id": null, "idempotency_key": null},
        "type": kind, "data": {"object": object}
    })
    .to_string()
}

/// A completed Checkout session for a subscription, paid, as `checkout.session.completed` carries it.
pub fn completed_session(account: &str, customer: &str, subscription: &str, plan: &str) -> Value {
    json!({
        "id": "cs_test_completed", "object": "checkout.session", "mode": "subscription",
        "client_reference_id": account, "customer": customer, "subscription": subscription,
        "customer_details": {"email": "owner@shop.test", "name": "Owner"},
        "metadata": {"plan": plan, "account": account},
        "payment_status": "paid", "status": "complete"
    })
}

/// An invoice of a subscription, as `invoice.paid` and `invoice.payment_failed` carry it (API version
/// 2025-03-31: the subscription under `parent`).
pub fn invoice(id: &str, customer: &str, subscription: &str, paid: bool) -> Value {
    json!({
        "id": id, "object": "invoice", "customer": customer,
        "customer_email": "owner@shop.test", "status": if paid { "paid" } else { "open" },
        "amount_due": 2900, "currency": "eur", "attempt_count": 1,
        "parent": {"type": "subscription_details",
            "subscription_details": {"subscription": subscription}}
    })
}

/// A subscription, as `customer.subscription.updated` and `.deleted` carry it (API version 2025-03-31:
/// the period on the item).
pub fn subscription(id: &str, customer: &str, price: &str, status: &str, period_end: i64) -> Value {
    json!({
        "id": id, "object": "subscription", "customer": customer, "status": status,
        "cancel_at_period_end": false,
        "items": {"object": "list", "data": [{
            "id": "si_test_1", "object": "subscription_item",
            "price": {"id": price, "object": "price"}, "quantity": 1,
            "current_period_end": period_end
        }]}
    })
}
