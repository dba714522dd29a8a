//! Webhook URLs that would reach inside the operator's network, through the real server: every way of
//! writing such an address refused when an endpoint is created or changed, and an endpoint saved while
//! insecure targets were allowed never contacted once they are not. The only hosts named are 127.0.0.1,
//! where the tests' own listeners are, and addresses the server refuses or never contacts.

mod common;

use common::api::{Api, account, count};
use common::{Install, Server, wait_until};
use serde_json::{Value, json};
use std::net::{TcpListener, TcpStream};

/// Ways of naming an address inside the network, each with the address it means.
const REFUSED: &[(&str, &str)] = &[
    // IPv4 inside IPv6: compatible, mapped, translated (SIIT), NAT64.
    ("https://[::127.0.0.1]/hooks", "127.0.0.1"),
    ("https://[::7f00:1]:8443/hooks", "127.0.0.1"),
    ("https://[::ffff:127.0.0.1]/hooks", "127.0.0.1"),
    ("https://[::ffff:0:a9fe:a9fe]/latest", "169.254.169.254"),
    ("https://[64:ff9b::10.0.0.1]/hooks", "10.0.0.1"),
    // The numeric forms the C resolver accepts.
    ("https://2130706433/hooks", "127.0.0.1"),
    ("https://0177.0.0.1/hooks", "127.0.0.1"),
    ("https://0x7f000001/hooks", "127.0.0.1"),
    ("https://0x7f.0.0.1/hooks", "127.0.0.1"),
    ("https://127.1/hooks", "127.0.0.1"),
    ("https://127.0.1:8443/hooks", "127.0.0.1"),
    ("https://0xa9fea9fe/latest/meta-data/", "169.254.169.254"),
    ("https://10.1/hooks", "10.0.0.1"),
];

/// Special-purpose blocks and forms refused whole.
const REFUSED_WHOLE: &[&str] = &[
    "https://[64:ff9b:1::a00:1]/hooks",
    "https://[2002:7f00:1::1]/hooks",
    "https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/hooks",
    "https://[2001:db8::1]/hooks",
    "https://[3fff::1]/hooks",
    "https://[2001:2::1]/hooks",
    "https://[ff02::1]/hooks",
    "https://[100::1]/hooks",
    "https://192.0.2.1/hooks",
    "https://198.51.100.1/hooks",
    "https://203.0.113.1/hooks",
    "https://198.18.0.1/hooks",
    "https://224.0.0.1/hooks",
    "https://240.0.0.1/hooks",
    "https://255.255.255.255/hooks",
    "https://0.1.2.3/hooks",
    "https://192.0.0.8/hooks",
    "https://192.88.99.1/hooks",
    "https://printer.local/hooks",
];

/// Public addresses written in the same forms: accepted (and never contacted, see `create`).
const ACCEPTED: &[&str] = &[
    "https://[2606:2800:220:1::1]/hooks",
    "https://[::ffff:93.184.216.34]/hooks",
    "https://[64:ff9b::5db8:d822]/hooks",
    "https://1572395042/hooks",
    "https://0x5db8d822/hooks",
    "https://93.184.216.34/hooks",
];

/// Creates an endpoint that only hears of template reviews (which never happen here) and pauses it at
/// once, so that a public address is saved without ever being contacted.
fn create(api: &Api, url: &str) -> (u16, Value) {
    let (status, answer) = api.call(
        "POST",
        "/api/v1/webhook-endpoints",
        Some(json!({"url": url, "event_types": ["template.status"]})),
        &[],
    );
    if status == 201 {
        let id = answer["id"].as_str().unwrap();
        let (paused, body) = api.call_patch(
            &format!("/api/v1/webhook-endpoints/{id}"),
            json!({"paused": true}),
        );
        assert_eq!(paused, 200, "{body}");
    }
    (status, answer)
}

fn assert_url_refused(status: u16, answer: &Value, url: &str) -> String {
    assert_eq!(status, 400, "{url}: {answer}");
    assert_eq!(answer["error"]["code"], "invalid_field", "{url}: {answer}");
    assert_eq!(
        answer["error"]["details"]["field"], "url",
        "{url}: {answer}"
    );
    answer["error"]["message"].as_str().unwrap().to_owned()
}

#[test]
fn every_way_of_writing_an_inside_address_is_refused_when_an_endpoint_is_created() {
    let install = Install::new();
    let server = install.serve();
    let (api, _) = account(&install, &server, "owner@shop.test");
    for (url, dotted) in REFUSED {
        let (status, answer) = create(&api, url);
        let message = assert_url_refused(status, &answer, url);
        assert!(
            message.contains(dotted) && message.contains("not a public address"),
            "{url}: {message}"
        );
    }
    for url in REFUSED_WHOLE {
        let (status, answer) = create(&api, url);
        assert_url_refused(status, &answer, url);
    }
    for url in [
        "https://user:pass@93.184.216.34/hooks",
        "https://token@93.184.216.34/hooks",
    ] {
        let (status, answer) = create(&api, url);
        let message = assert_url_refused(status, &answer, url);
        assert!(message.contains("user name or password"), "{message}");
    }
    assert_eq!(count(&install, "SELECT count(*) FROM webhook_endpoints"), 0);
    // Positive control: the same forms naming a public address are saved.
    for url in ACCEPTED {
        let (status, answer) = create(&api, url);
        assert_eq!(status, 201, "{url}: {answer}");
    }
    assert_eq!(
        count(&install, "SELECT count(*) FROM webhook_endpoints"),
        ACCEPTED.len() as i64
    );
}

#[test]
fn a_change_to_an_inside_address_is_refused_and_leaves_the_endpoint_as_it_was() {
    let install = Install::new();
    let server = install.serve();
    let (api, _) = account(&install, &server, "owner@shop.test");
    let (status, created) = create(&api, ACCEPTED[0]);
    assert_eq!(status, 201, "{created}");
    let path = format!(
        "/api/v1/webhook-endpoints/{}",
        created["id"].as_str().unwrap()
    );
    let (_, before) = api.call("GET", &path, None, &[]);
    let changes = REFUSED
        .iter()
        .map(|(url, _)| *url)
        .chain(REFUSED_WHOLE.iter().copied())
        .chain(["https://user:pass@93.184.216.34/hooks"]);
    for url in changes {
        let (status, answer) = api.call_patch(&path, json!({"url": url, "description": "moved"}));
        assert_url_refused(status, &answer, url);
    }
    let (_, after) = api.call("GET", &path, None, &[]);
    assert_eq!(after, before, "nothing changed");
    // Positive control: a change to a public address is saved.
    let (status, changed) = api.call_patch(&path, json!({"url": ACCEPTED[3]}));
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["url"], ACCEPTED[3]);
    let (_, now) = api.call("GET", &path, None, &[]);
    assert_eq!(now["url"], ACCEPTED[3]);
}

fn serve_allowing_insecure(install: &Install, allowed: bool) -> Server {
    let mut cmd = install.command(&["serve"]);
    if allowed {
        cmd.env("WHATSAPI_WEBHOOKS__ALLOW_INSECURE_TARGETS", "true");
    }
    // No retry: the first failed attempt dead-letters the delivery.
    cmd.env("WHATSAPI_WEBHOOKS__RETRY_DELAYS_SECS", "[]")
        .env("WHATSAPI_SANDBOX__SENT_AFTER_MS", "20")
        .env("WHATSAPI_SANDBOX__DELIVERED_AFTER_MS", "40")
        .env("WHATSAPI_SANDBOX__READ_AFTER_MS", "60");
    install.serve_with(cmd)
}

#[test]
fn an_endpoint_saved_while_insecure_targets_were_allowed_is_not_contacted_once_they_are_not() {
    let install = Install::new();
    // The endpoint's port, held (and never answered) for the whole test.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let listening = listener.local_addr().unwrap();
    let url = format!("http://{listening}/hooks");
    let server = serve_allowing_insecure(&install, true);
    let (api, _) = account(&install, &server, "owner@shop.test");
    let (status, created) = api.call(
        "POST",
        "/api/v1/webhook-endpoints",
        Some(json!({"url": url, "event_types": ["message.status"]})),
        &[],
    );
    assert_eq!(status, 201, "{created}");
    let endpoint = created["id"].as_str().unwrap().to_owned();
    drop(server);

    let server = serve_allowing_insecure(&install, false);
    let api = Api {
        base: server.url.clone(),
        ..api
    };
    // The sandbox answers at the address of the server that creates the connection: this one.
    let (status, connection) = api.call(
        "POST",
        "/api/v1/connections",
        Some(json!({"kind": "sandbox", "name": "Sandbox again"})),
        &[],
    );
    assert_eq!(status, 201, "{connection}");
    let connection = connection["id"].as_str().unwrap();
    // A final Meta error: exactly one status event, so exactly one delivery.
    let (status, sent) = api.send(json!({"connection_id": connection, "to": "+15550199131026",
                                          "type": "text", "text": {"body": "Hello"}}));
    assert_eq!(status, 202, "{sent}");
    let deliveries = format!("/api/v1/webhook-endpoints/{endpoint}/deliveries?status=failed");
    let mut failed = Value::Null;
    wait_until("the delivery is dead-lettered", || {
        let (_, list) = api.call("GET", &deliveries, None, &[]);
        failed = list["data"][0].clone();
        !failed.is_null()
    });
    assert_eq!(failed["attempts"], 1, "{failed}");
    assert_eq!(failed["last_code"], Value::Null, "{failed}");
    assert_eq!(
        failed["last_error"],
        "refused before connecting: 127.0.0.1 (a loopback address) is not a public address",
        "{failed}"
    );
    // The first connection the endpoint's port ever accepts is this one: the server never connected.
    let mine = TcpStream::connect(listening).unwrap();
    let (_, peer) = listener.accept().unwrap();
    assert_eq!(peer, mine.local_addr().unwrap());
}
