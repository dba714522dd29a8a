//! Stripe's side, as the payment tests (tests/billing_stripe.rs) see it: a stand-in for Stripe's API on
//! 127.0.0.1 that records every request and answers Checkout and customer-portal sessions in Stripe's
//! published shapes (and its error object when the key is wrong or a price does not exist), events in
//! Stripe's envelope, and bodies signed as Stripe signs them (`Stripe-Signature: t=...,v1=...`). The
//! signing is written here on its own, not taken from the server, so a mistake in one shows in the other.
//! Then a real server that takes payments through the stand-in, and what the tests read of it.

use super::{Install, Server};
use hmac::{KeyInit, Mac};
use serde_json::{Value, json};
use std::collections::HashMap;
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

/// Stripe's API on a port of 127.0.0.1 the system chose, held for the stand-in's life. As Stripe, it
/// answers a POST whose `Idempotency-Key` it has seen with its first answer (and refuses the key with
/// other parameters).
pub struct StripeStandIn {
    pub url: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

/// What the stand-in answered each Idempotency-Key: the form it came with, the status and the body.
type Answered = HashMap<String, (Vec<(String, String)>, u16, Value)>;

impl StripeStandIn {
    pub fn start() -> StripeStandIn {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a port for Stripe's stand-in");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorded = requests.clone();
        let answered = Arc::new(Mutex::new(Answered::new()));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (recorded, answered) = (recorded.clone(), answered.clone());
                std::thread::spawn(move || answer(stream, &recorded, &answered));
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

fn answer(stream: TcpStream, recorded: &Mutex<Vec<Recorded>>, answered: &Mutex<Answered>) {
    let Some(request) = read_request(&stream) else {
        return;
    };
    let n = {
        let mut all = recorded.lock().unwrap();
        all.push(request.clone());
        all.len()
    };
    let (status, body) = match request.header("Idempotency-Key") {
        Some(key) if request.method == "POST" => {
            let mut answered = answered.lock().unwrap();
            match answered.get(key) {
                Some((form, status, body)) if *form == request.form => (*status, body.clone()),
                Some(_) => (
                    400,
                    stripe_error(
                        "idempotency_error",
                        "",
                        "Keys for idempotent requests can only be used with the same parameters they were first used with.",
                        "",
                    ),
                ),
                None => {
                    let (status, body) = respond(&request, n);
                    answered.insert(key.to_owned(), (request.form.clone(), status, body.clone()));
                    (status, body)
                }
            }
        }
        _ => respond(&request, n),
    };
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
/// A subscription Stripe fails to end (an error on its side).
pub const UNREACHABLE_SUBSCRIPTION: &str = "sub_unlucky";

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
        ("DELETE", path) if path.starts_with("/v1/subscriptions/") => {
            let id = &path["/v1/subscriptions/".len()..];
            if id == UNREACHABLE_SUBSCRIPTION {
                return (
                    500,
                    stripe_error("api_error", "", "An unknown error occurred", ""),
                );
            }
            (
                200,
                json!({"id": id, "object": "subscription", "status": "canceled"}),
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

// ---- A server that takes payments through the stand-in (tests/billing_stripe.rs) ----

pub const PLANS: &str = r#"
[billing]
default_plan = "free"

[[plans]]
id = "free"
name = "Free"

[[plans]]
id = "pro"
name = "Pro"
price = "29 EUR / month"
stripe_price = "price_pro_monthly"

[[plans]]
id = "max"
name = "Max"
stripe_price = "price_max_monthly"

[[plans]]
id = "partner"
name = "Partner"
"#;

/// An event in Stripe's envelope, created at `created` (the tests fix it, so that no event of a test is
/// judged older than another only because a second passed between them).
pub fn event_at(id: &str, kind: &str, object: Value, created: i64) -> String {
    let mut envelope: Value = serde_json::from_str(&event(id, kind, object)).unwrap();
    envelope["created"] = json!(created);
    envelope.to_string()
}

/// The server with Stripe as its provider (set in the environment, the plans in a file), the stand-in,
/// and an account's id.
pub struct Shop {
    pub install: Install,
    pub server: Server,
    pub account: String,
    /// When this test's events are created.
    pub created: i64,
    /// Stripe's stand-in, and what it was asked.
    pub stripe: StripeStandIn,
}

pub fn shop() -> Shop {
    let stripe = StripeStandIn::start();
    let mut install = Install::new();
    let config = install.path("config.toml");
    std::fs::write(&config, PLANS).unwrap();
    for (key, value) in [
        ("WHATSAPI_BILLING__PROVIDER", "stripe"),
        ("WHATSAPI_BILLING__STRIPE_SECRET_KEY", SECRET_KEY),
        ("WHATSAPI_BILLING__STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET),
        ("WHATSAPI_BILLING__STRIPE_BASE_URL", &stripe.url),
    ] {
        install.env.push((key.into(), value.into()));
    }
    // The first start makes the master key the command line needs.
    let server =
        install.serve_with(install.command(&["serve", "--config", config.to_str().unwrap()]));
    let account = super::api::owner(&install, "Owner", "owner@shop.test");
    Shop {
        install,
        server,
        account,
        created: now_secs(),
        stripe,
    }
}

/// One row of `subscriptions`, as the store has it.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub plan: String,
    pub status: String,
    pub past_due_since: Option<i64>,
    pub customer: Option<String>,
    pub subscription: Option<String>,
    pub renews_at: Option<i64>,
}

impl Shop {
    pub fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.install.db_path()).unwrap()
    }

    pub fn count(&self, sql: &str) -> i64 {
        self.db().query_row(sql, [], |r| r.get(0)).unwrap()
    }

    pub fn row(&self) -> Row {
        self.db()
            .query_row(
                "SELECT plan, status, past_due_since, customer_ref, subscription_ref, renews_at
                 FROM subscriptions WHERE account_id = ?1",
                [&self.account],
                |r| {
                    Ok(Row {
                        plan: r.get(0)?,
                        status: r.get(1)?,
                        past_due_since: r.get(2)?,
                        customer: r.get(3)?,
                        subscription: r.get(4)?,
                        renews_at: r.get(5)?,
                    })
                },
            )
            .unwrap()
    }

    /// POSTs a body to `/webhooks/stripe` with this `Stripe-Signature` (none: no header).
    pub fn deliver(&self, body: &str, signature: Option<&str>) -> (u16, Value) {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut request = agent
            .post(format!("{}/webhooks/stripe", self.server.url))
            .header("Content-Type", "application/json; charset=utf-8");
        if let Some(signature) = signature {
            request = request.header("Stripe-Signature", signature);
        }
        let mut response = request.send(body).expect("request");
        (
            response.status().as_u16(),
            response.body_mut().read_json().unwrap_or(Value::Null),
        )
    }

    /// Delivers an event signed as Stripe signs it, now; it must be answered 200.
    pub fn deliver_signed(&self, body: &str) -> Value {
        let (status, answer) = self.deliver(body, Some(&sign(WEBHOOK_SECRET, now_secs(), body)));
        assert_eq!(status, 200, "{answer}");
        answer
    }

    pub fn event(&self, id: &str, kind: &str, object: Value) -> String {
        event_at(id, kind, object, self.created)
    }

    /// The account bought "pro" through Checkout: Stripe's customer cus_A and subscription sub_A.
    pub fn bought_pro(&self) {
        let answer = self.deliver_signed(&self.event(
            "evt_checkout",
            "checkout.session.completed",
            completed_session(&self.account, "cus_A", "sub_A", "pro"),
        ));
        assert!(
            answer["outcome"]
                .as_str()
                .unwrap()
                .starts_with("applied: linked cus_A"),
            "{answer}"
        );
        let row = self.row();
        assert_eq!((row.plan.as_str(), row.status.as_str()), ("pro", "active"));
        assert_eq!(
            (row.customer.as_deref(), row.subscription.as_deref()),
            (Some("cus_A"), Some("sub_A"))
        );
    }

    /// An event that does apply (the paid period moves to `period_end`), delivered after a refused one:
    /// once it is answered, the server has finished with everything sent before it. `later` seconds
    /// after the test's other events (it must not be older than one applied).
    pub fn marker(&self, id: &str, period_end: i64, later: i64) {
        let answer = self.deliver_signed(&event_at(
            id,
            "customer.subscription.updated",
            subscription("sub_A", "cus_A", "price_pro_monthly", "active", period_end),
            self.created + later,
        ));
        assert!(
            answer["outcome"].as_str().unwrap().starts_with("applied"),
            "{answer}"
        );
        assert_eq!(self.row().renews_at, Some(period_end * 1000));
    }

    pub fn notices(&self) -> i64 {
        self.count("SELECT count(*) FROM billing_notices WHERE kind = 'payment_failed'")
    }

    pub fn stored(&self, event: &str) -> i64 {
        self.count(&format!(
            "SELECT count(*) FROM payment_events WHERE id = '{event}'"
        ))
    }

    /// The newest line of the subscription's history: status and who.
    pub fn last_change(&self) -> (String, String) {
        self.db()
            .query_row(
                "SELECT status, by FROM subscription_changes WHERE account_id = ?1
                 ORDER BY id DESC LIMIT 1",
                [&self.account],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap()
    }
}
