//! A connection reaches Meta only: its Graph API address must be one the operator allows
//! (`[meta] allowed_base_urls`, plus the built-in sandbox), and no call made on its behalf (checking the
//! number, syncing templates, sending, downloading a customer's media) reaches anything else, even when
//! an allowed address answers with a redirect into the operator's network.

mod common;

use common::api::{Api, account, cloud_number, with_password};
use common::meta::{SECRET, signature};
use common::raw::Browser;
use common::{Install, Server, wait_until};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// A service inside the operator's network: it notes the first line of every request it receives.
struct Internal {
    port: u16,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Internal {
    fn start() -> Internal {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let noted = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (head, _) = read_request(&stream);
                noted
                    .lock()
                    .unwrap()
                    .push(head.lines().next().unwrap_or("").to_owned());
                answer(
                    stream,
                    "200 OK",
                    &[],
                    "the internal service's secret answer",
                );
            }
        });
        Internal { port, seen }
    }

    /// Proves nothing reached the service: a request of the test's own, sent now, is the first it saw.
    fn assert_untouched(&self) {
        let mut probe = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        probe
            .write_all(b"GET /probe-from-the-test HTTP/1.1\r\nHost: internal\r\n\r\n")
            .unwrap();
        let mut answer = String::new();
        let _ = probe.read_to_string(&mut answer);
        assert_eq!(
            *self.seen.lock().unwrap(),
            ["GET /probe-from-the-test HTTP/1.1"],
            "the internal service was reached"
        );
    }
}

fn read_request(stream: &TcpStream) -> (String, Vec<u8>) {
    let mut reader = BufReader::new(stream);
    let mut head = String::new();
    let mut length = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = value.trim().parse().unwrap_or(0);
        }
        head.push_str(&line);
    }
    let mut body = vec![0; length];
    let _ = reader.read_exact(&mut body);
    (head, body)
}

fn answer(mut stream: TcpStream, status: &str, headers: &[(&str, &str)], body: &str) {
    let mut text = format!(
        "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str("\r\n");
    text.push_str(body);
    let _ = stream.write_all(text.as_bytes());
}

/// An address the operator allowed (a stand-in for Meta) that sends every call on to the internal
/// service with a redirect, gives media addresses there or (redirecting again) on itself, and a
/// template list whose next page is there.
struct RedirectingMeta {
    url: String,
    requests: Arc<Mutex<Vec<String>>>,
}

impl RedirectingMeta {
    fn start(internal: &Internal) -> RedirectingMeta {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let inside = format!("http://127.0.0.1:{}", internal.port);
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (noted, own) = (requests.clone(), url.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (head, _) = read_request(&stream);
                let line = head.lines().next().unwrap_or("").to_owned();
                let path = line.split(' ').nth(1).unwrap_or("/").to_owned();
                noted.lock().unwrap().push(line);
                let media = |url: String| {
                    json!({"url": url, "mime_type": "image/png", "sha256": "81d3", "file_size": 10,
                           "id": "1", "messaging_product": "whatsapp"})
                    .to_string()
                };
                if path.contains("/message_templates") {
                    let page = json!({"data": [{"name": "order_update", "language": "en_US",
                        "status": "APPROVED", "category": "UTILITY", "components": []}],
                        "paging": {"next": format!("{inside}/next-page")}});
                    answer(stream, "200 OK", &[], &page.to_string());
                } else if path.starts_with("/v25.0/777000111") {
                    // Straight at the internal service.
                    answer(stream, "200 OK", &[], &media(format!("{inside}/file")));
                } else if path.starts_with("/v25.0/777000222") {
                    // On the allowed address itself, which then redirects.
                    answer(stream, "200 OK", &[], &media(format!("{own}/media/file")));
                } else {
                    let location = format!("{inside}{path}");
                    answer(stream, "302 Found", &[("location", &location)], "moved");
                }
            }
        });
        RedirectingMeta { url, requests }
    }

    fn saw(&self, prefix: &str) -> bool {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .any(|line| line.starts_with(prefix))
    }
}

/// A server that may call only `allowed` (besides its own sandbox), with an account and its API key.
fn serve_allowing(allowed: &[&str]) -> (Install, Server, Api) {
    let mut install = Install::new();
    install.env.push((
        "WHATSAPI_META__ALLOWED_BASE_URLS".into(),
        serde_json::to_string(allowed).unwrap(),
    ));
    let server = install.serve();
    let (api, _) = account(&install, &server, "owner@shop.test");
    (install, server, api)
}

fn cloud(graph_base_url: Option<&str>) -> Value {
    let mut body = json!({"kind": "cloud", "name": "Number", "phone_number_id": "106540352242922",
        "waba_id": "102290129340398", "access_token": "token", "app_secret": SECRET});
    if let Some(url) = graph_base_url {
        body["graph_base_url"] = json!(url);
    }
    body
}

fn assert_refused_field(status: u16, body: &Value) {
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "invalid_field", "{body}");
    assert_eq!(
        body["error"]["details"]["field"], "graph_base_url",
        "{body}"
    );
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("[meta] allowed_base_urls"), "{message}");
}

#[test]
fn a_connection_may_name_only_the_graph_addresses_the_operator_allows() {
    let internal = Internal::start();
    let meta = RedirectingMeta::start(&internal);
    let (_install, server, api) = serve_allowing(&[&meta.url]);
    let inside = format!("http://127.0.0.1:{}", internal.port);
    for refused in [
        inside.clone(),
        format!("{inside}/v25.0"),
        format!("http://[::1]:{}", internal.port),
        format!("http://localhost:{}", internal.port),
        "http://169.254.169.254/latest/meta-data".to_owned(),
        "http://10.0.0.1:6379".to_owned(),
        format!("{}/admin", server.url),
        format!("{}.evil.test", meta.url),
        format!("http://user:pw@{}", meta.url.trim_start_matches("http://")),
    ] {
        let (status, body) = api.call(
            "POST",
            "/api/v1/connections",
            Some(cloud(Some(&refused))),
            &[],
        );
        assert_refused_field(status, &body);
    }
    // The operator's list replaces the default, so here even Meta's own address is not allowed.
    let (status, body) = api.call("POST", "/api/v1/connections", Some(cloud(None)), &[]);
    assert_refused_field(status, &body);

    // The allowed address works (in another spelling too), and the sandbox is always allowed.
    let (status, created) = api.call(
        "POST",
        "/api/v1/connections",
        Some(cloud(Some(&format!(
            "{}/",
            meta.url.to_uppercase().replace("HTTP://", "http://")
        )))),
        &[],
    );
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["graph_base_url"], meta.url.as_str());
    let (status, sandbox) = api.call(
        "POST",
        "/api/v1/connections",
        Some(json!({"kind": "sandbox", "name": "Sandbox"})),
        &[],
    );
    assert_eq!(status, 201, "{sandbox}");

    // Changing it to an internal address is refused too, and the connection keeps its address.
    let id = created["id"].as_str().unwrap();
    let (status, body) = api.call_patch(
        &format!("/api/v1/connections/{id}"),
        json!({"graph_base_url": inside}),
    );
    assert_refused_field(status, &body);
    let (_, kept) = api.call("GET", &format!("/api/v1/connections/{id}"), None, &[]);
    assert_eq!(kept["graph_base_url"], meta.url.as_str());
    let (status, renamed) = api.call_patch(
        &format!("/api/v1/connections/{id}"),
        json!({"name": "Renamed", "graph_base_url": meta.url}),
    );
    assert_eq!((status, renamed["name"].as_str()), (200, Some("Renamed")));
}

/// Posts one inbound image to the number's webhook, signed as Meta signs.
fn customer_sends_image(connection: &Value, media_id: &str, wamid: &str) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let payload = format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"id":"{}","changes":[{{"field":"messages","value":{{"messaging_product":"whatsapp","metadata":{{"display_phone_number":"15550783881","phone_number_id":"{}"}},"contacts":[{{"profile":{{"name":"Sheena"}},"wa_id":"16505551234"}}],"messages":[{{"from":"16505551234","id":"{wamid}","timestamp":"{now}","type":"image","image":{{"caption":"photo {media_id}","mime_type":"image/png","sha256":"81d3","id":"{media_id}"}}}}]}}}}]}}]}}"#,
        connection["waba_id"].as_str().unwrap(),
        connection["phone_number_id"].as_str().unwrap()
    );
    let (status, body) = common::meta::post(
        connection["webhook_url"].as_str().unwrap(),
        Some(&signature(SECRET, payload.as_bytes())),
        payload.as_bytes(),
    );
    assert_eq!(status, 200, "{body}");
}

#[test]
fn no_call_made_for_a_connection_reaches_an_internal_address_through_a_redirect() {
    let internal = Internal::start();
    let meta = RedirectingMeta::start(&internal);
    let (_install, server, api) = serve_allowing(&[&meta.url]);
    let connection = cloud_number(&api, &meta.url, 80);
    let id = connection["id"].as_str().unwrap();

    // Checking the number: Meta's redirect is not followed, and nothing the other side said is shown.
    let (status, check) = api.call(
        "POST",
        &format!("/api/v1/connections/{id}/check"),
        None,
        &[],
    );
    assert_eq!(status, 200, "{check}");
    assert_eq!(check["ok"], false, "{check}");
    assert_eq!(
        check["error"]["details"],
        "HTTP 302 without Meta's error body"
    );
    assert!(!check.to_string().contains("secret answer"), "{check}");

    // Syncing templates: the next page the list names inside is not fetched, and nothing is stored.
    let (status, sync) = api.call(
        "POST",
        &format!("/api/v1/connections/{id}/templates/sync"),
        None,
        &[],
    );
    assert_eq!(status, 503, "{sync}");
    let (_, templates) = api.call("GET", "/api/v1/templates", None, &[]);
    assert_eq!(templates["data"], json!([]), "{templates}");
    assert!(meta.saw("GET /v25.0/102290129340398/message_templates"));

    // Sending: the call reaches the allowed address, whose redirect is not followed.
    let (status, queued) = api.send(json!({"connection_id": id, "to": "+96550001234",
        "type": "text", "text": {"body": "Hello"}}));
    assert_eq!(status, 202, "{queued}");
    wait_until("the send reached the allowed address", || {
        meta.saw("POST /v25.0/106540352242922/messages")
    });
    let message = api.wait_for(queued["id"].as_str().unwrap(), &["queued"]);
    assert_eq!(message["status"], "queued", "{message}");

    // A customer's media: a media address inside the network is refused outright, and a download
    // from the allowed address that redirects inside is not followed.
    customer_sends_image(&connection, "777000111", "wamid.DIRECT");
    customer_sends_image(&connection, "777000222", "wamid.REDIRECTED");
    let browser = Browser::new(&server.url, "Firefox")
        .signed_in("owner@shop.test", "a long enough pass phrase");
    let (_, conversations) = api.call("GET", "/api/v1/conversations", None, &[]);
    let contact = conversations["data"][0]["id"].as_str().unwrap().to_owned();
    let thread = browser.get(&format!("/inbox/{contact}")).body;
    let mut links: Vec<String> = thread
        .match_indices("/inbox/media/")
        .map(|(at, _)| thread[at..at + thread[at..].find('"').unwrap()].to_owned())
        .collect();
    links.sort();
    links.dedup();
    assert_eq!(links.len(), 2, "{thread}");
    for link in &links {
        let media = browser.get(link);
        assert_eq!(media.status, 503, "{link}: {}", media.body);
        assert!(!media.body.contains("secret answer"));
    }
    assert!(meta.saw("GET /v25.0/777000111"));
    assert!(
        meta.saw("GET /media/file"),
        "the download from the allowed address was tried"
    );

    internal.assert_untouched();
}

#[test]
fn the_numbers_page_says_in_words_when_meta_itself_is_not_allowed() {
    // An installation that allows only the built-in sandbox.
    let (install, server, _api) = serve_allowing(&[]);
    with_password(
        &install,
        &[
            "account",
            "create",
            "--company",
            "Other",
            "--name",
            "Sara",
            "--email",
            "sara@other.test",
            "--password-stdin",
        ],
    );
    let browser = Browser::new(&server.url, "Firefox")
        .signed_in("sara@other.test", "a long enough pass phrase");
    let token = common::web::csrf_in(&browser.get("/connections").body);
    let origin = [("Origin", server.url.as_str())];
    let added = browser.post(
        "/connections",
        &[
            ("csrf", &token),
            ("kind", "cloud"),
            ("name", "Main"),
            ("phone_number_id", "106540352242922"),
            ("waba_id", "102290129340398"),
            ("access_token", "token"),
            ("app_secret", "secret"),
            ("throughput_mps", "80"),
        ],
        &origin,
    );
    assert_eq!(added.status, 422, "{}", added.body);
    assert!(
        added
            .body
            .contains("This installation does not allow that Graph API address"),
        "{}",
        added.body
    );
    // The sandbox is always allowed.
    let sandbox = browser.post(
        "/connections",
        &[
            ("csrf", &token),
            ("kind", "sandbox"),
            ("name", "Sandbox"),
            ("phone_number_id", ""),
            ("waba_id", ""),
            ("access_token", ""),
            ("app_secret", ""),
            ("throughput_mps", "80"),
        ],
        &origin,
    );
    assert_eq!(sandbox.status, 303, "{}", sandbox.body);
}

#[test]
fn a_connection_saved_before_its_address_was_allowed_calls_nothing_and_waits_for_a_new_one() {
    let internal = Internal::start();
    let meta = RedirectingMeta::start(&internal);
    let simulator = common::Sandbox::start(&[]);
    let (install, server, api) = serve_allowing(&[&meta.url, &simulator.url]);
    let connection = cloud_number(&api, &meta.url, 80);
    let id = connection["id"].as_str().unwrap();
    // As a connection saved before the operator's list existed (or before it changed) would be.
    let inside = format!("http://127.0.0.1:{}", internal.port);
    rusqlite::Connection::open(install.db_path())
        .unwrap()
        .execute(
            "UPDATE connections SET graph_base_url = ?1 WHERE id = ?2",
            rusqlite::params![inside, id.parse::<i64>().unwrap()],
        )
        .unwrap();

    let (_, check) = api.call(
        "POST",
        &format!("/api/v1/connections/{id}/check"),
        None,
        &[],
    );
    assert_eq!(check["ok"], false, "{check}");
    assert_eq!(
        check["error"]["title"],
        "The connection's Graph API address is not allowed"
    );
    let (status, _) = api.call(
        "POST",
        &format!("/api/v1/connections/{id}/templates/sync"),
        None,
        &[],
    );
    assert_eq!(status, 503);
    let (status, queued) = api.send(json!({"connection_id": id, "to": "+96550001234",
        "type": "text", "text": {"body": "Hello"}}));
    assert_eq!(status, 202, "{queued}");
    wait_until("the connection is held", || {
        api.call("GET", &format!("/api/v1/connections/{id}"), None, &[])
            .1["state"]
            == "held"
    });
    let (_, held) = api.call("GET", &format!("/api/v1/connections/{id}"), None, &[]);
    let detail = held["state_detail"].as_str().unwrap();
    assert!(
        detail.contains("change the connection's graph_base_url"),
        "{detail}"
    );
    let message = queued["id"].as_str().unwrap();
    api.wait_for(message, &["queued"]);
    internal.assert_untouched();
    // The operator's check names it too.
    let doctor = |install: &Install| {
        let mut cmd = install.command(&["doctor"]);
        cmd.env("WHATSAPI_SERVER__PUBLIC_URL", &server.url);
        common::stdout(&cmd.output().unwrap())
    };
    let report = doctor(&install);
    assert!(
        report.contains(
            "1 connection(s) use a Graph API address [meta] allowed_base_urls does not allow"
        ),
        "{report}"
    );

    // A new, allowed address releases the queue, and the message is sent there.
    let (status, changed) = api.call_patch(
        &format!("/api/v1/connections/{id}"),
        json!({"graph_base_url": simulator.url}),
    );
    assert_eq!(
        (status, changed["state"].as_str()),
        (200, Some("active")),
        "{changed}"
    );
    api.wait_for(message, &["sent"]);
    let report = doctor(&install);
    assert!(
        report.contains("all 2 connection(s) use allowed addresses"),
        "{report}"
    );
}
