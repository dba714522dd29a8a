//! Abuse and fraud signals on the real server with the built-in sandbox, the abuse job running every
//! second with low thresholds: each signal is raised by traffic (failures to the sandbox's error numbers,
//! Meta's signed webhook about a number, a burst over the account's own week, wrong passwords, one API key
//! from many addresses behind a trusted proxy, a new account writing to many new numbers) with its
//! evidence, and none by an account sending normally alongside; each is shown on /admin in words, emailed
//! to every operator once in their language (across a restart too), and a dismissed one stays dismissed
//! (only operators may dismiss); with `auto_hold`, a high signal holds the account's sending: its queue
//! waits until an operator releases the hold, and each message is then sent once.

mod common;

use common::api::{PASSWORD, account, count, with_password};
use common::meta::{SECRET, hook, post, signature};
use common::raw::Browser;
use common::web::decode_email;
use common::{Install, Server, serve_quick, wait_until};
use serde_json::{Value, json};
use std::time::{SystemTime, UNIX_EPOCH};

const CUSTOMER: &str = "+96550001234";
const DAY_MS: i64 = 86_400_000;
const BROWSER: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0";

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// An installation whose abuse job runs every second with these `[abuse]` settings.
fn install(settings: &[(&str, &str)]) -> Install {
    let mut install = Install::new();
    install
        .env
        .push(("WHATSAPI_ABUSE__EVERY_SECS".into(), "1".into()));
    for (key, value) in settings {
        install
            .env
            .push((format!("WHATSAPI_ABUSE__{key}"), (*value).to_owned()));
    }
    install
}

fn text(connection: &str, to: &str) -> Value {
    json!({"connection_id": connection, "to": to, "type": "text", "text": {"body": "Your order shipped"}})
}

#[derive(Debug, Clone)]
struct Raised {
    id: i64,
    kind: String,
    severity: String,
    connection: i64,
    evidence: Value,
    emailed: bool,
    dismissed: bool,
}

/// The account's signals, as stored.
fn signals_of(install: &Install, account: i64) -> Vec<Raised> {
    let conn = rusqlite::Connection::open(install.db_path()).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT id, kind, severity, connection_id, evidence, emailed_at IS NOT NULL,
                    dismissed_at IS NOT NULL
             FROM abuse_signals WHERE account_id = ?1 ORDER BY id",
        )
        .unwrap();
    stmt.query_map([account], |r| {
        Ok(Raised {
            id: r.get(0)?,
            kind: r.get(1)?,
            severity: r.get(2)?,
            connection: r.get(3)?,
            evidence: serde_json::from_str(&r.get::<_, String>(4)?).unwrap(),
            emailed: r.get(5)?,
            dismissed: r.get(6)?,
        })
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

fn kinds_of(install: &Install, account: i64) -> Vec<String> {
    let mut kinds: Vec<String> = signals_of(install, account)
        .into_iter()
        .map(|s| s.kind)
        .collect();
    kinds.sort();
    kinds
}

/// Waits until the account has a signal of `kind` that `done` accepts, and returns it.
fn signal(install: &Install, account: i64, kind: &str, done: impl Fn(&Raised) -> bool) -> Raised {
    let mut found = None;
    wait_until(&format!("a {kind} signal of account {account}"), || {
        found = signals_of(install, account)
            .into_iter()
            .find(|s| s.kind == kind && done(s));
        found.is_some()
    });
    found.unwrap()
}

fn account_of(install: &Install, email: &str) -> i64 {
    count(
        install,
        &format!("SELECT account_id FROM users WHERE email = '{email}'"),
    )
}

/// An operator who signs in with `email` and `PASSWORD`.
fn operator(install: &Install, email: &str) {
    with_password(
        install,
        &[
            "admin",
            "create",
            "--email",
            email,
            "--name",
            "Operator",
            "--password-stdin",
        ],
    );
}

/// Types a wrong password for `email` on the sign-in page `times` times.
fn wrong_passwords(server: &Server, email: &str, times: usize) {
    let browser = Browser::new(&server.url, BROWSER);
    let token = browser.login_token();
    for _ in 0..times {
        assert_eq!(
            browser
                .sign_in_with(&token, email, "not the pass phrase")
                .status,
            401
        );
    }
}

/// The `<tr>` of an account in the accounts list of /admin.
fn account_row(admin: &str, account: i64) -> &str {
    let start = admin
        .find(&format!("id=\"account-{account}\""))
        .expect("the account is listed");
    &admin[start..start + admin[start..].find("</tr>").unwrap()]
}

#[test]
fn each_signal_is_raised_by_its_traffic_with_evidence_and_none_by_normal_traffic() {
    let mut install = install(&[
        ("FAILURE_RATE", "0.5"),
        ("FAILURE_MIN_MESSAGES", "6"),
        ("SPAM_ERRORS", "4"),
        ("VOLUME_FACTOR", "3"),
        ("VOLUME_MIN_MESSAGES", "12"),
        ("FAILED_SIGN_INS", "3"),
        ("KEY_ADDRESSES", "4"),
        ("NEW_RECIPIENTS", "6"),
    ]);
    install.env.push((
        "WHATSAPI_SERVER__TRUSTED_PROXIES".into(),
        "[\"127.0.0.1\"]".into(),
    ));
    let server = serve_quick(&install);

    // First an account that sends normally, past every rule's minimum: a week of 6 a day, then 12
    // messages to its customer today (twice its average, under the factor of 3) and one that fails
    // (under the failure rate and the spam-like count), an API call, a sign-in.
    let (normal, normal_connection) = account(&install, &server, "normal@shop.test");
    let normal_id = account_of(&install, "normal@shop.test");
    let week = rusqlite::Connection::open(install.db_path()).unwrap();
    week.busy_timeout(std::time::Duration::from_secs(10))
        .unwrap();
    let today = now_ms().div_euclid(DAY_MS);
    for back in 1..=7 {
        week.execute(
            "INSERT INTO usage_daily (account_id, day, event, kind, count) VALUES (?1, ?2, 'accepted', 'text', 6)",
            [normal_id, today - back],
        )
        .unwrap();
    }
    drop(week);
    for to in [CUSTOMER; 12].into_iter().chain(["+15550199131026"]) {
        let (status, body) = normal.send(text(&normal_connection, to));
        assert_eq!(status, 202, "{body}");
    }
    assert_eq!(normal.call("GET", "/api/v1/connections", None, &[]).0, 200);
    assert_eq!(
        Browser::new(&server.url, BROWSER).sign_in("normal@shop.test", PASSWORD),
        303
    );

    // Failures to the sandbox's error numbers: 8 of 10 messages, two of each spam-like error.
    let (spam, spam_connection) = account(&install, &server, "spam@shop.test");
    let mut sent = Vec::new();
    for to in [CUSTOMER, CUSTOMER] {
        sent.push(spam.send(text(&spam_connection, to)));
    }
    for code in ["131026", "131048", "131049", "131050"] {
        for _ in 0..2 {
            sent.push(spam.send(text(&spam_connection, &format!("+15550199{code}"))));
        }
    }
    for (status, body) in &sent {
        assert_eq!(*status, 202, "{body}");
    }

    // A burst: 12 messages against a week of 2 a day.
    let (burst, burst_connection) = account(&install, &server, "burst@shop.test");
    let burst_id = account_of(&install, "burst@shop.test");
    let file = rusqlite::Connection::open(install.db_path()).unwrap();
    file.busy_timeout(std::time::Duration::from_secs(10))
        .unwrap();
    for back in 1..=7 {
        file.execute(
            "INSERT INTO usage_daily (account_id, day, event, kind, count) VALUES (?1, ?2, 'accepted', 'text', 2)",
            [burst_id, today - back],
        )
        .unwrap();
    }
    for _ in 0..12 {
        let (status, body) = burst.send(text(&burst_connection, CUSTOMER));
        assert_eq!(status, 202, "{body}");
    }

    // A new account writing to six numbers that never wrote to it, and replying to one that did.
    let (young, young_connection) = account(&install, &server, "young@shop.test");
    let (status, body) = young.call(
        "POST",
        &format!("/api/v1/connections/{young_connection}/sandbox/inbound"),
        Some(json!({"from": "+96550009999", "name": "Customer", "text": "Hello"})),
        &[],
    );
    assert_eq!(status, 200, "{body}");
    for n in 1..=6 {
        let (status, body) = young.send(text(&young_connection, &format!("+9655000200{n}")));
        assert_eq!(status, 202, "{body}");
    }
    let (status, body) = young.send(text(&young_connection, "+96550009999"));
    assert_eq!(status, 202, "{body}");

    // One API key from four more addresses, behind the trusted proxy.
    let (key, _) = account(&install, &server, "key@shop.test");
    for n in 1..=4 {
        let forwarded = format!("203.0.113.{n}");
        let (status, _) = key.call(
            "GET",
            "/api/v1/connections",
            None,
            &[("X-Forwarded-For", &forwarded)],
        );
        assert_eq!(status, 200);
    }

    // Meta rates a number red and restricts its business account, in one signed webhook.
    let (quality, quality_connection) = account(&install, &server, "quality@shop.test");
    let quality_hook = hook(&quality, &quality_connection);
    let payload = format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"id":"{}","time":1760659226,"changes":[{{"field":"phone_number_quality_update","value":{{"display_phone_number":"15550783881","event":"DOWNGRADE","current_limit":"TIER_1K","current_quality_rating":"RED"}}}},{{"field":"account_update","value":{{"event":"ACCOUNT_RESTRICTION","restriction_info":[{{"restriction_type":"RESTRICTED_BIZ_INITIATED_MESSAGING","expiration":1760745626}}]}}}}]}}]}}"#,
        quality_hook.waba_id
    );
    let signed = signature(SECRET, payload.as_bytes());
    assert_eq!(
        post(&quality_hook.url, Some(&signed), payload.as_bytes()).0,
        200
    );

    // Wrong passwords, last.
    let (_, _) = account(&install, &server, "signin@shop.test");
    wrong_passwords(&server, "signin@shop.test", 3);

    let spam_id = account_of(&install, "spam@shop.test");
    // The evidence of an open signal follows the day as it goes on: wait for all ten messages' outcome.
    let rate = signal(&install, spam_id, "failure_rate", |s| {
        s.evidence["failed"] == 8
    });
    assert_eq!(
        (
            &rate.evidence["messages"],
            &rate.evidence["failed"],
            rate.severity.as_str()
        ),
        (&json!(10), &json!(8), "medium")
    );
    let spam_errors = signal(&install, spam_id, "spam_errors", |s| {
        s.evidence["failures"] == 8
    });
    assert_eq!(spam_errors.evidence["failures"], 8);
    assert_eq!(spam_errors.severity, "high", "twice the threshold");
    assert_eq!(
        spam_errors.evidence["errors"],
        json!([{"code": 131026, "count": 2}, {"code": 131048, "count": 2},
               {"code": 131049, "count": 2}, {"code": 131050, "count": 2}])
    );

    let volume = signal(&install, burst_id, "volume", |_| true);
    assert_eq!(
        (&volume.evidence["messages"], &volume.evidence["baseline"]),
        (&json!(12), &json!(2.0))
    );

    let young_id = account_of(&install, "young@shop.test");
    let recipients = signal(&install, young_id, "new_recipients", |_| true);
    assert_eq!(
        recipients.evidence["recipients"], 6,
        "the customer who wrote first is not counted"
    );

    let key_id = account_of(&install, "key@shop.test");
    // 127.0.0.1 when the connection was made, and four forwarded addresses.
    let spread = signal(&install, key_id, "key_addresses", |s| {
        s.evidence["keys"][0]["addresses"] == 5
    });
    assert_eq!(spread.severity, "medium");

    let quality_id = account_of(&install, "quality@shop.test");
    let warned = signal(&install, quality_id, "quality", |_| true);
    assert_eq!(warned.severity, "high", "a restricted business account");
    assert_eq!(warned.connection.to_string(), quality_connection);
    assert_eq!(warned.evidence["quality_rating"], "RED");
    assert!(
        warned.evidence["account_notice"]
            .as_str()
            .unwrap()
            .contains("RESTRICTED_BIZ_INITIATED_MESSAGING")
    );

    let sign_in_id = account_of(&install, "signin@shop.test");
    let sign_ins = signal(&install, sign_in_id, "failed_sign_ins", |_| true);
    assert_eq!(
        (&sign_ins.evidence["failed"], sign_ins.severity.as_str()),
        (&json!(3), "low")
    );

    // The job has run past everything the normal account did: it has no signal, and each account only
    // the signals of its own traffic.
    assert!(kinds_of(&install, normal_id).is_empty());
    assert_eq!(kinds_of(&install, spam_id), ["failure_rate", "spam_errors"]);
    for (id, kind) in [
        (burst_id, "volume"),
        (young_id, "new_recipients"),
        (key_id, "key_addresses"),
        (quality_id, "quality"),
        (sign_in_id, "failed_sign_ins"),
    ] {
        assert_eq!(kinds_of(&install, id), [kind]);
    }
    // Evidence holds numbers, codes and ids: no phone number.
    let evidence: String = rusqlite::Connection::open(install.db_path())
        .unwrap()
        .query_row(
            "SELECT group_concat(evidence, ' ') FROM abuse_signals",
            [],
            |r| r.get(0),
        )
        .unwrap();
    for number in ["96550001234", "9655000200", "96550009999", "15550199"] {
        assert!(!evidence.contains(number), "{evidence}");
    }

    // The operators' page lists them in words, and each account's open signals.
    operator(&install, "op@host.test");
    let op = Browser::new(&server.url, BROWSER).signed_in("op@host.test", PASSWORD);
    let admin = op.get("/admin").body;
    assert_eq!(admin.matches("<tr id=\"signal-").count(), 7, "{admin}");
    for words in [
        "High failure rate",
        "8 of 10 messages failed (80%)",
        "131049 × 2",
        "Spam-like sending",
        "12 messages on",
        "against 2 a day on average over the 7 days before",
        "API key used from many addresses",
        "from 5 addresses",
        "It wrote to 6 numbers that had not written to it first",
        "Meta restricted the business account of connection",
        "3 wrong passwords",
    ] {
        assert!(admin.contains(words), "{words} is not on the page");
    }
    assert!(account_row(&admin, spam_id).contains(">2</a>"));
    assert!(!account_row(&admin, normal_id).contains("#signals"));
}

fn abuse_emails(install: &Install) -> Vec<String> {
    let outbox = install.data_dir().join("outbox");
    let mut files: Vec<_> = match std::fs::read_dir(&outbox) {
        Ok(dir) => dir.map(|e| e.unwrap().path()).collect(),
        Err(_) => return Vec::new(),
    };
    files.sort();
    files
        .iter()
        .map(|f| decode_email(&std::fs::read_to_string(f).unwrap()))
        .filter(|e| e.contains("abuse signals") || e.contains("إساءة الاستخدام"))
        .collect()
}

/// How many signal emails went to `to` naming account `account` (as "account N" or "الحساب N").
fn emails_about(install: &Install, to: &str, account: i64) -> usize {
    abuse_emails(install)
        .iter()
        .filter(|e| e.lines().any(|l| l.starts_with("To:") && l.contains(to)))
        .filter(|e| {
            e.contains(&format!("(account {account})"))
                || e.contains(&format!("(الحساب {account})"))
        })
        .count()
}

/// A session's CSRF token, from a page of `path` it shows.
fn csrf(browser: &Browser, path: &str) -> String {
    common::web::csrf_in(&browser.get(path).body)
}

#[test]
fn operators_are_emailed_once_in_their_language_and_a_dismissed_signal_stays_dismissed() {
    let install = install(&[("FAILED_SIGN_INS", "2")]);
    let server = serve_quick(&install);
    operator(&install, "op-en@host.test");
    operator(&install, "op-ar@host.test");
    let arabic = Browser::new(&server.url, BROWSER).signed_in("op-ar@host.test", PASSWORD);
    let switched = arabic.post(
        "/language",
        &[
            ("csrf", &csrf(&arabic, "/admin")),
            ("lang", "ar"),
            ("back", "/admin"),
        ],
        &[],
    );
    assert_eq!(switched.status, 303);

    let first = |email: &str| {
        common::api::owner(&install, "Owner", email);
        account_of(&install, email)
    };
    let a = first("a@shop.test");
    wrong_passwords(&server, "a@shop.test", 2);
    let raised = signal(&install, a, "failed_sign_ins", |s| s.emailed);
    assert_eq!(emails_about(&install, "op-en@host.test", a), 1);
    assert_eq!(emails_about(&install, "op-ar@host.test", a), 1);
    let arabic_email = abuse_emails(&install)
        .into_iter()
        .find(|e| e.contains("op-ar@host.test"))
        .unwrap();
    assert!(
        arabic_email.contains("محاولات دخول فاشلة كثيرة") && arabic_email.contains("/admin#signals"),
        "{arabic_email}"
    );
    let english_email = abuse_emails(&install)
        .into_iter()
        .find(|e| e.contains("op-en@host.test"))
        .unwrap();
    assert!(
        english_email.contains("Many failed sign-ins")
            && english_email.contains("2 wrong passwords"),
        "{english_email}"
    );

    // A later signal's emails show the job ran again: the first was not emailed twice.
    let b = first("b@shop.test");
    wrong_passwords(&server, "b@shop.test", 2);
    signal(&install, b, "failed_sign_ins", |s| s.emailed);
    wait_until("B's emails", || {
        emails_about(&install, "op-ar@host.test", b) == 1
    });
    assert_eq!(emails_about(&install, "op-en@host.test", a), 1);
    assert_eq!(emails_about(&install, "op-ar@host.test", a), 1);

    // Nor after a restart.
    drop(server);
    let server = serve_quick(&install);
    let c = first("c@shop.test");
    wrong_passwords(&server, "c@shop.test", 2);
    signal(&install, c, "failed_sign_ins", |s| s.emailed);
    assert_eq!(emails_about(&install, "op-en@host.test", c), 1);
    assert_eq!(emails_about(&install, "op-en@host.test", a), 1);
    assert_eq!(signals_of(&install, a).len(), 1, "raised once");

    // Dismissing takes the session's CSRF token; without it the signal stays open.
    let op = Browser::new(&server.url, BROWSER).signed_in("op-en@host.test", PASSWORD);
    let action = format!("/admin/accounts/{a}/signals/{}/dismiss", raised.id);
    let refused = op.post(&action, &[("csrf", "not-the-token")], &[]);
    assert_ne!(refused.status, 303);
    assert!(!signals_of(&install, a)[0].dismissed);
    assert!(
        op.get("/admin")
            .body
            .contains(&format!("id=\"signal-{}\"", raised.id))
    );
    let dismissed = op.post(&action, &[("csrf", &csrf(&op, "/admin"))], &[]);
    assert_eq!(dismissed.status, 303);
    assert!(signals_of(&install, a)[0].dismissed);
    let admin = op.get("/admin?done=signal_dismissed").body;
    assert!(!admin.contains(&format!("id=\"signal-{}\"", raised.id)));
    assert!(admin.contains(&format!("id=\"dismissed-signal-{}\"", raised.id)));
    assert!(admin.contains("by op-en@host.test"));
    assert!(!account_row(&admin, a).contains("#signals"));
    assert!(account_row(&admin, b).contains(">1</a>"));
    // A business's owner cannot dismiss one: the route is not there for them.
    let owner = Browser::new(&server.url, BROWSER).signed_in("b@shop.test", PASSWORD);
    let b_signal = signals_of(&install, b)[0].id;
    let answer = owner.post(
        &format!("/admin/accounts/{b}/signals/{b_signal}/dismiss"),
        &[("csrf", &csrf(&owner, "/profile"))],
        &[],
    );
    assert_eq!(answer.status, 404);
    assert!(!signals_of(&install, b)[0].dismissed);

    // More wrong passwords for A the same day, and a later signal of D's: A's stays dismissed, alone.
    wrong_passwords(&server, "a@shop.test", 2);
    let d = first("d@shop.test");
    wrong_passwords(&server, "d@shop.test", 2);
    signal(&install, d, "failed_sign_ins", |s| s.emailed);
    let a_signals = signals_of(&install, a);
    assert_eq!(a_signals.len(), 1);
    assert!(a_signals[0].dismissed);
    assert_eq!(emails_about(&install, "op-ar@host.test", a), 1);
}

/// Each of the account's messages with its status and attempts, oldest first.
fn messages_of(install: &Install, account: i64) -> Vec<(i64, String, i64)> {
    let conn = rusqlite::Connection::open(install.db_path()).unwrap();
    let mut stmt = conn
        .prepare("SELECT id, status, attempts FROM messages WHERE account_id = ?1 ORDER BY id")
        .unwrap();
    stmt.query_map([account], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn sending_held(install: &Install, account: i64) -> Option<String> {
    rusqlite::Connection::open(install.db_path())
        .unwrap()
        .query_row(
            "SELECT sending_held_reason FROM accounts WHERE id = ?1 AND sending_held_at IS NOT NULL",
            [account],
            |r| r.get(0),
        )
        .ok()
}

#[test]
fn a_high_signal_holds_the_account_s_sending_until_an_operator_releases_it() {
    let install = install(&[("AUTO_HOLD", "true"), ("FAILED_SIGN_INS", "2")]);
    let server = serve_quick(&install);
    operator(&install, "op@host.test");
    let (held, connection) = account(&install, &server, "held@shop.test");
    let held_id = account_of(&install, "held@shop.test");
    let (other, other_connection) = account(&install, &server, "other@shop.test");
    // A number paced at one message a second: a burst is still queued when the hold comes.
    let (status, body) = held.call_patch(
        &format!("/api/v1/connections/{connection}"),
        json!({"throughput_mps": 1}),
    );
    assert_eq!(status, 200, "{body}");
    let held_hook = hook(&held, &connection);
    for n in 0..8 {
        let (status, body) = held.send(text(&connection, &format!("+9655000300{n}")));
        assert_eq!(status, 202, "{body}");
    }

    // Meta restricts the business account: a high signal, which holds the account's sending.
    let payload = format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"id":"{}","time":1760659226,"changes":[{{"field":"account_update","value":{{"event":"ACCOUNT_RESTRICTION","restriction_info":[{{"restriction_type":"RESTRICTED_BIZ_INITIATED_MESSAGING","expiration":1760745626}}]}}}}]}}]}}"#,
        held_hook.waba_id
    );
    let signed = signature(SECRET, payload.as_bytes());
    assert_eq!(
        post(&held_hook.url, Some(&signed), payload.as_bytes()).0,
        200
    );
    let raised = signal(&install, held_id, "quality", |_| true);
    assert_eq!(raised.severity, "high");
    wait_until("the account's sending held", || {
        sending_held(&install, held_id).is_some()
    });
    assert_eq!(
        sending_held(&install, held_id).unwrap(),
        format!("abuse signal {}: quality (high severity)", raised.id)
    );
    assert_eq!(
        count(
            &install,
            "SELECT count(*) FROM account_hold_changes WHERE change = 'sending_held' AND by = 'abuse check'"
        ),
        1
    );
    let (status, refused) = held.send(text(&connection, CUSTOMER));
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (403, Some("sending_held"))
    );
    // What was in flight when the hold came finishes; the rest waits.
    wait_until("no message of the held account in flight", || {
        messages_of(&install, held_id)
            .iter()
            .all(|(_, status, _)| status != "sending")
    });
    let waiting: Vec<i64> = messages_of(&install, held_id)
        .into_iter()
        .filter(|(_, status, _)| status == "queued")
        .map(|(id, ..)| id)
        .collect();
    assert!(!waiting.is_empty(), "{:?}", messages_of(&install, held_id));
    // Another account's messages go out meanwhile, one after the other: the sender ran its rounds.
    for n in 0..2 {
        let (status, body) = other.send(text(&other_connection, &format!("+9655000400{n}")));
        assert_eq!(status, 202, "{body}");
        other.wait_for(body["id"].as_str().unwrap(), &["sent", "delivered", "read"]);
    }
    for (id, status, attempts) in messages_of(&install, held_id) {
        if waiting.contains(&id) {
            assert_eq!((status.as_str(), attempts), ("queued", 0), "{id}");
        }
    }

    // The operator releases the hold on the account's page: every message goes out, each once.
    let op = Browser::new(&server.url, BROWSER).signed_in("op@host.test", PASSWORD);
    let account_page = format!("/admin/accounts/{held_id}");
    let page = op.get(&account_page).body;
    assert!(
        page.contains(&format!("abuse signal {}", raised.id)),
        "{page}"
    );
    let token = common::web::csrf_in(&page);
    let released = op.post(&format!("{account_page}/release"), &[("csrf", &token)], &[]);
    assert_eq!(released.status, 303, "{}", released.body);
    wait_until("every message of the released account sent", || {
        messages_of(&install, held_id)
            .iter()
            .all(|(_, status, _)| !matches!(status.as_str(), "queued" | "sending"))
    });
    for (id, status, attempts) in messages_of(&install, held_id) {
        assert!(
            matches!(status.as_str(), "sent" | "delivered" | "read"),
            "{id}: {status}"
        );
        assert_eq!(attempts, 1, "{id} was sent once");
    }

    // The job runs on (a later signal of another account is raised): the same signal holds nothing again.
    wrong_passwords(&server, "other@shop.test", 2);
    let other_id = account_of(&install, "other@shop.test");
    signal(&install, other_id, "failed_sign_ins", |_| true);
    assert_eq!(sending_held(&install, held_id), None);
    assert_eq!(
        sending_held(&install, other_id),
        None,
        "a low signal holds nothing"
    );
    assert_eq!(signals_of(&install, held_id).len(), 1);
}
