//! A plan's limits as API clients meet them, on the real server: requests per minute (429 with
//! `Retry-After` and the `RateLimit` headers), the month's messages (402, counted once per
//! Idempotency-Key, starting again with the month), the numbers of connections, endpoints and members
//! (403 `plan_limit`), the parts of the product a plan leaves out (403 `plan_feature`), and a
//! subscription that stopped sending (402 `subscription_inactive`).

mod common;

use common::api::{Api, account};
use common::{Install, wait_until};
use serde_json::{Value, json};

/// An installation whose accounts start on `plan` (a TOML inline table of its settings).
fn install_with_plans(plans: &str, default_plan: &str) -> Install {
    let mut install = Install::new();
    install.env = vec![
        ("WHATSAPI_PLANS".into(), plans.into()),
        ("WHATSAPI_BILLING__DEFAULT_PLAN".into(), default_plan.into()),
    ];
    install
}

/// An answer: status, headers, body.
type Answer = (u16, Vec<(String, String)>, Value);

/// A GET with the account's key.
fn get(api: &Api, path: &str) -> Answer {
    let mut response = api
        .agent
        .get(format!("{}{path}", api.base))
        .header("Authorization", &format!("Bearer {}", api.key))
        .call()
        .expect("request");
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let status = response.status().as_u16();
    (
        status,
        headers,
        response.body_mut().read_json().unwrap_or(Value::Null),
    )
}

fn text(connection: &str, body: &str) -> Value {
    json!({"connection_id": connection, "to": "+96550001234", "type": "text", "text": {"body": body}})
}

fn messages_listed(api: &Api) -> usize {
    let (status, list) = api.call("GET", "/api/v1/messages?limit=100", None, &[]);
    assert_eq!(status, 200, "{list}");
    list["data"].as_array().unwrap().len()
}

#[test]
fn requests_over_the_plans_rate_are_refused_for_that_account_only_with_the_ratelimit_headers() {
    let install = install_with_plans(
        r#"[{id="metered", name="Metered", api_requests_per_minute=6}]"#,
        "metered",
    );
    let server = install.serve();
    // Each account's setup makes one request (its sandbox connection).
    let (busy, _) = account(&install, &server, "busy@example.com");
    let (quiet, _) = account(&install, &server, "quiet@example.com");

    // Eight requests at once from the busy account: the bucket holds six a minute, one is spent.
    let answers: Vec<Answer> = std::thread::scope(|scope| {
        let requests: Vec<_> = (0..8)
            .map(|_| scope.spawn(|| get(&busy, "/api/v1/connections")))
            .collect();
        requests.into_iter().map(|r| r.join().unwrap()).collect()
    });
    let header =
        |headers: &[(String, String)], name: &str| common::header(headers, name).to_owned();
    let ok: Vec<_> = answers.iter().filter(|(s, _, _)| *s == 200).collect();
    let refused: Vec<_> = answers.iter().filter(|(s, _, _)| *s == 429).collect();
    // Five tokens were left; a sixth may have come back while the other account was set up.
    assert!(
        (5..=6).contains(&ok.len()) && ok.len() + refused.len() == 8,
        "{answers:?}"
    );
    for (_, headers, _) in &ok {
        assert_eq!(header(headers, "RateLimit-Policy"), "\"plan\";q=6;w=60");
        assert!(header(headers, "RateLimit").starts_with("\"plan\";r="));
    }
    for (_, headers, body) in &refused {
        assert_eq!(body["error"]["code"], "rate_limited", "{body}");
        assert_eq!(body["error"]["details"]["limit"], 6, "{body}");
        let retry: u64 = header(headers, "Retry-After").parse().unwrap();
        assert!((1..=10).contains(&retry), "Retry-After {retry}");
        assert!(header(headers, "RateLimit").starts_with("\"plan\";r=0;t="));
        assert_eq!(header(headers, "RateLimit-Policy"), "\"plan\";q=6;w=60");
    }
    // The other account, at the same moment, is not slowed by its neighbour.
    let (status, headers, _) = get(&quiet, "/api/v1/connections");
    assert_eq!(status, 200);
    let remaining: u32 = header(&headers, "RateLimit")
        .trim_start_matches("\"plan\";r=")
        .split(';')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!((4..=5).contains(&remaining), "{headers:?}");
}

#[test]
fn an_unlimited_plan_answers_without_ratelimit_headers() {
    let install = Install::new();
    let server = install.serve();
    let (api, _) = account(&install, &server, "free@example.com");
    let (status, headers, _) = get(&api, "/api/v1/connections");
    assert_eq!(status, 200);
    assert_eq!(common::header(&headers, "RateLimit"), "");
}

#[test]
fn the_month_quota_refuses_the_message_over_it_counts_a_repeated_key_once_and_starts_again_next_month()
 {
    let mut install = install_with_plans(
        r#"[{id="small", name="Small", messages_per_month=3}]"#,
        "small",
    );
    let clock = install.path("clock");
    std::fs::write(&clock, "0").unwrap();
    install.env.push((
        "WAPI_TEST_CLOCK_FILE".into(),
        clock.to_string_lossy().into_owned(),
    ));
    let server = install.serve();
    let (api, connection) = account(&install, &server, "quota@example.com");

    // The first message, sent twice with one Idempotency-Key: one message, counted once.
    let key = [("Idempotency-Key", "order-1")];
    let first = api.call(
        "POST",
        "/api/v1/messages",
        Some(text(&connection, "1")),
        &key,
    );
    let again = api.call(
        "POST",
        "/api/v1/messages",
        Some(text(&connection, "1")),
        &key,
    );
    assert_eq!((first.0, again.0), (202, 202), "{} {}", first.1, again.1);
    assert_eq!(first.1["id"], again.1["id"]);
    for n in 2..=3 {
        let (status, body) = api.send(text(&connection, &n.to_string()));
        assert_eq!(status, 202, "message {n}: {body}");
    }
    // The fourth is over the quota: refused, and nothing written.
    let (status, body) = api.send(text(&connection, "4"));
    assert_eq!(status, 402, "{body}");
    assert_eq!(body["error"]["code"], "quota_exceeded");
    assert_eq!(body["error"]["details"]["limit"], 3);
    let resets_at = body["error"]["details"]["resets_at"].as_str().unwrap();
    assert!(resets_at.ends_with("-01T00:00:00Z"), "{resets_at}");
    assert_eq!(messages_listed(&api), 3);
    // The third message took the last place (and 80 % of three): one email is queued, once.
    let notices = |kind: &str| {
        common::api::count(
            &install,
            &format!("SELECT count(*) FROM billing_notices WHERE kind = '{kind}'"),
        )
    };
    assert_eq!((notices("quota_80"), notices("quota_100")), (0, 1));
    // A repeat of an accepted request still gets its first answer: it was counted already.
    let repeat = api.call(
        "POST",
        "/api/v1/messages",
        Some(text(&connection, "1")),
        &key,
    );
    assert_eq!(repeat.0, 202, "{}", repeat.1);
    assert_eq!(repeat.1["id"], first.1["id"]);

    // The first of next month (UTC): the count starts again.
    let resets_at = chrono::DateTime::parse_from_rfc3339(resets_at).unwrap();
    let offset = resets_at.timestamp_millis() - chrono::Utc::now().timestamp_millis() + 1_000;
    std::fs::write(&clock, offset.to_string()).unwrap();
    let (status, body) = api.send(text(&connection, "new month"));
    assert_eq!(status, 202, "{body}");
    assert_eq!(messages_listed(&api), 4);
}

#[test]
fn the_months_count_survives_a_restart_and_a_kill() {
    let install = install_with_plans(
        r#"[{id="small", name="Small", messages_per_month=3}]"#,
        "small",
    );
    let server = install.serve();
    let (api, connection) = account(&install, &server, "restart@example.com");
    assert_eq!(api.send(text(&connection, "1")).0, 202);
    assert_eq!(api.send(text(&connection, "2")).0, 202);
    // Killed before the count was written: the messages in the log are counted at the next start.
    server.kill9();
    let server = install.serve();
    let api = Api {
        base: server.url.clone(),
        ..api
    };
    assert_eq!(api.send(text(&connection, "3")).0, 202);
    let (status, body) = api.send(text(&connection, "4"));
    assert_eq!(status, 402, "{body}");
}

#[test]
fn connections_and_endpoints_beyond_the_plans_number_are_refused_and_two_at_once_take_one_place() {
    let mut install = install_with_plans(
        r#"[{id="two", name="Two", connections=2, webhook_endpoints=1}]"#,
        "two",
    );
    install.env.push((
        "WHATSAPI_WEBHOOKS__ALLOW_INSECURE_TARGETS".into(),
        "true".into(),
    ));
    let server = install.serve();
    // The account has one connection (its sandbox number): two more asked at once, one place left.
    let (api, _) = account(&install, &server, "limits@example.com");
    let new_connection = json!({"kind": "sandbox", "name": "Second"});
    let answers: Vec<(u16, Value)> = std::thread::scope(|scope| {
        let requests: Vec<_> = (0..2)
            .map(|_| {
                scope.spawn(|| {
                    api.call(
                        "POST",
                        "/api/v1/connections",
                        Some(new_connection.clone()),
                        &[],
                    )
                })
            })
            .collect();
        requests.into_iter().map(|r| r.join().unwrap()).collect()
    });
    let mut statuses: Vec<u16> = answers.iter().map(|(s, _)| *s).collect();
    statuses.sort();
    assert_eq!(statuses, vec![201, 403], "{answers:?}");
    let refused = &answers.iter().find(|(s, _)| *s == 403).unwrap().1;
    assert_eq!(refused["error"]["code"], "plan_limit", "{refused}");
    assert_eq!(refused["error"]["details"]["limit"], "connections");
    assert_eq!(refused["error"]["details"]["allowed"], 2);
    let (_, list) = api.call("GET", "/api/v1/connections", None, &[]);
    assert_eq!(list["data"].as_array().unwrap().len(), 2, "{list}");

    // One webhook endpoint: the first is created, the second refused.
    let endpoint = |n: u32| {
        api.call(
            "POST",
            "/api/v1/webhook-endpoints",
            Some(json!({"url": format!("http://127.0.0.1:9/hook{n}")})),
            &[],
        )
    };
    let (status, body) = endpoint(1);
    assert_eq!(status, 201, "{body}");
    let (status, body) = endpoint(2);
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["details"]["limit"], "webhook_endpoints");
}

#[test]
fn a_plan_without_a_feature_refuses_its_routes_and_a_plan_without_the_api_refuses_them_all() {
    let install = install_with_plans(
        r#"[{id="basic", name="Basic", features=["api", "inbox"]}, {id="none", name="Pages only", features=["inbox"]}]"#,
        "basic",
    );
    let server = install.serve();
    let (api, _) = account(&install, &server, "features@example.com");
    let (status, body) = api.call("GET", "/api/v1/webhook-endpoints", None, &[]);
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "plan_feature");
    assert_eq!(body["error"]["details"]["feature"], "webhooks");
    // Positive control: the plan's other routes answer.
    assert_eq!(api.call("GET", "/api/v1/conversations", None, &[]).0, 200);
    assert_eq!(api.call("GET", "/api/v1/messages", None, &[]).0, 200);

    // Moved to a plan without the API (written as an operator would, through the store): after the
    // few seconds the server trusts what it read, every API route refuses.
    let db = rusqlite::Connection::open(install.db_path()).unwrap();
    db.execute("UPDATE subscriptions SET plan = 'none'", [])
        .unwrap();
    wait_until("the API is refused", || {
        api.call("GET", "/api/v1/messages", None, &[]).0 == 403
    });
    let (_, body) = api.call("GET", "/api/v1/connections", None, &[]);
    assert_eq!(body["error"]["details"]["feature"], "api", "{body}");
}

#[test]
fn a_canceled_subscription_sends_nothing_and_reactivated_sends_again() {
    let install = Install::new();
    let server = install.serve();
    let (api, connection) = account(&install, &server, "cancel@example.com");
    assert_eq!(api.send(text(&connection, "before")).0, 202);
    let db = rusqlite::Connection::open(install.db_path()).unwrap();
    db.execute("UPDATE subscriptions SET status = 'canceled'", [])
        .unwrap();
    // The server trusts what it read for a few seconds: until then, messages are still accepted.
    let mut accepted = 1;
    wait_until("sending is refused", || {
        match api.send(text(&connection, "meanwhile")).0 {
            202 => {
                accepted += 1;
                false
            }
            status => status == 402,
        }
    });
    let (status, body) = api.send(text(&connection, "while canceled"));
    assert_eq!(status, 402, "{body}");
    assert_eq!(body["error"]["code"], "subscription_inactive", "{body}");
    assert_eq!(body["error"]["details"]["status"], "canceled");
    // Reading stays open, and nothing refused was written.
    assert_eq!(api.call("GET", "/api/v1/messages", None, &[]).0, 200);
    let stored = || common::api::count(&install, "SELECT count(*) FROM messages");
    assert_eq!(stored(), accepted);
    db.execute("UPDATE subscriptions SET status = 'active'", [])
        .unwrap();
    wait_until("sending works again", || {
        api.send(text(&connection, "after")).0 == 202
    });
    assert_eq!(stored(), accepted + 1);
}

#[test]
fn invitations_beyond_the_plans_members_are_refused_on_the_team_page() {
    let install = install_with_plans(r#"[{id="pair", name="Pair", members=2}]"#, "pair");
    let server = install.serve();
    common::api::owner(&install, "Owner", "owner@example.com");
    let browser = common::raw::Browser::new(&server.url, "tests")
        .signed_in("owner@example.com", common::api::PASSWORD);
    let invite = |email: &str| {
        let csrf = common::web::csrf_in(&browser.get("/team").body);
        browser.post(
            "/team/invite",
            &[("csrf", &csrf), ("email", email), ("role", "member")],
            &[("Origin", &server.url)],
        )
    };
    let invitations = || {
        common::api::count(
            &install,
            "SELECT count(*) FROM one_time_tokens WHERE purpose = 'invite'",
        )
    };
    // The owner and one invitation fill the plan's two seats.
    let first = invite("first@example.com");
    assert_eq!(first.status, 303, "{}", first.body);
    assert_eq!(invitations(), 1);
    let second = invite("second@example.com");
    assert_eq!(second.status, 403, "{}", second.body);
    assert!(
        second.body.contains("<form"),
        "the team page again: {}",
        second.body
    );
    assert_eq!(invitations(), 1);
}

#[test]
fn a_plan_in_use_removed_from_the_configuration_stops_the_start_naming_its_accounts() {
    let mut install = install_with_plans(
        r#"[{id="gold", name="Gold"}, {id="silver", name="Silver"}]"#,
        "gold",
    );
    let server = install.serve();
    let id = common::api::owner(&install, "Owner", "gold@example.com");
    drop(server);
    // Positive control: with the plan still there, the server starts with the account on it.
    drop(install.serve());
    install.env = vec![
        (
            "WHATSAPI_PLANS".into(),
            r#"[{id="silver", name="Silver"}]"#.into(),
        ),
        ("WHATSAPI_BILLING__DEFAULT_PLAN".into(), "silver".into()),
    ];
    let output = common::run_within(
        install.command(&["serve"]),
        std::time::Duration::from_secs(30),
    );
    assert!(!output.status.success());
    let message = common::stderr(&output);
    assert!(
        message.contains("\"gold\"") && message.contains(&format!("ids {id}")),
        "{message}"
    );
    assert!(message.contains("whatsapi account set-plan"), "{message}");
}
