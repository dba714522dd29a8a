//! Payment through Stripe, against a stand-in for Stripe's API on 127.0.0.1 (tests/common/stripe.rs):
//! Stripe's signed webhooks move the subscription through the real server (a failed payment makes the
//! account past due and queues one notice), while a wrong signature, an old timestamp and a replayed
//! event id change nothing, each shown by a later event that does apply and by the same event, rightly
//! delivered, that applies; an event older than one applied changes nothing either. The Billing page's
//! buttons create Checkout and portal sessions with the right price and customer and send the browser
//! there; refusals are pages in words. Without a provider, none of these URLs exist. The stand-in's
//! signatures are checked with Stripe's own Python library.

mod common;

use common::stripe::{
    MISSING_PRICE, Recorded, SECRET_KEY, StripeStandIn, WEBHOOK_SECRET, completed_session,
    event_at, invoice, now_secs, shop, sign, subscription,
};
use common::web::{App, app, app_with, csrf_in, team_with_member};
use rocket::http::{ContentType, Header, Status};
use serde_json::{Value, json};
use whatsapi::config::{Plan, Plans, Provider, Secret};

#[test]
fn a_signed_payment_failure_moves_the_account_to_past_due_and_queues_one_notice() {
    let shop = shop();
    shop.bought_pro();
    assert_eq!(
        shop.last_change(),
        ("active".into(), "stripe evt_checkout".into())
    );

    let failed = shop.event(
        "evt_failed_1",
        "invoice.payment_failed",
        invoice("in_1", "cus_A", "sub_A", false),
    );
    let answer = shop.deliver_signed(&failed);
    assert_eq!(answer["event"], "evt_failed_1", "{answer}");
    let row = shop.row();
    assert_eq!(
        (row.plan.as_str(), row.status.as_str()),
        ("pro", "past_due")
    );
    let since = row.past_due_since.expect("past due since the failure");
    assert_eq!(
        shop.last_change(),
        ("past_due".into(), "stripe evt_failed_1".into())
    );
    assert_eq!(shop.notices(), 1);
    assert_eq!(
        shop.count(
            "SELECT count(*) FROM billing_notices WHERE kind = 'payment_failed' AND period = 'in_1' AND sent_at IS NULL"
        ),
        1
    );
    let (processed, outcome): (Option<i64>, String) = shop
        .db()
        .query_row(
            "SELECT processed_at, outcome FROM payment_events WHERE id = 'evt_failed_1'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(
        processed.is_some() && outcome.contains("past_due"),
        "{outcome}"
    );

    // Stripe retries the same invoice and it fails again (another event): the account stays past due
    // since the first failure, and the owner is not told twice about one invoice.
    shop.deliver_signed(&shop.event(
        "evt_failed_2",
        "invoice.payment_failed",
        invoice("in_1", "cus_A", "sub_A", false),
    ));
    let row = shop.row();
    assert_eq!(
        (row.status.as_str(), row.past_due_since),
        ("past_due", Some(since))
    );
    assert_eq!(shop.notices(), 1);

    // Paid at last.
    shop.deliver_signed(&shop.event(
        "evt_paid",
        "invoice.paid",
        invoice("in_1", "cus_A", "sub_A", true),
    ));
    let row = shop.row();
    assert_eq!((row.status.as_str(), row.past_due_since), ("active", None));
}

#[test]
fn a_wrong_signature_changes_nothing() {
    let shop = shop();
    shop.bought_pro();
    let failed = shop.event(
        "evt_failed_w",
        "invoice.payment_failed",
        invoice("in_w", "cus_A", "sub_A", false),
    );
    let now = now_secs();
    let mut tampered = failed.replace("in_w", "in_x");
    tampered.push(' ');
    for (signature, why) in [
        (
            Some(sign("whsec_not_this_endpoints", now, &failed)),
            "no v1 signature matches",
        ),
        (
            Some(sign(WEBHOOK_SECRET, now, &failed).replacen(
                &format!("t={now}"),
                &format!("t={}", now - 1),
                1,
            )),
            "no v1 signature matches",
        ),
        (None, "header is missing"),
        (Some("t=1,v2=00".into()), "is not t=<unix seconds>"),
    ] {
        let (status, answer) = shop.deliver(&failed, signature.as_deref());
        assert_eq!(status, 400, "{answer}");
        assert_eq!(answer["error"]["code"], "invalid_field", "{answer}");
        assert_eq!(answer["error"]["details"]["field"], "Stripe-Signature");
        assert!(
            answer["error"]["message"].as_str().unwrap().contains(why),
            "{answer}"
        );
    }
    // Signed right, but not this body.
    let (status, _) = shop.deliver(&tampered, Some(&sign(WEBHOOK_SECRET, now, &failed)));
    assert_eq!(status, 400);

    shop.marker("evt_marker_w", now + 30 * 86_400, 0);
    assert_eq!(shop.row().status, "active");
    assert_eq!(shop.notices(), 0);
    assert_eq!(
        shop.stored("evt_failed_w"),
        0,
        "a refused event is not kept"
    );

    // Positive control: the same body, signed with the endpoint's secret, applies.
    shop.deliver_signed(&failed);
    assert_eq!(shop.row().status, "past_due");
    assert_eq!(shop.notices(), 1);
}

#[test]
fn a_signature_older_than_five_minutes_changes_nothing() {
    let shop = shop();
    shop.bought_pro();
    let failed = shop.event(
        "evt_failed_old",
        "invoice.payment_failed",
        invoice("in_old", "cus_A", "sub_A", false),
    );
    let now = now_secs();
    let (status, answer) = shop.deliver(&failed, Some(&sign(WEBHOOK_SECRET, now - 360, &failed)));
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("more than 300 seconds old"),
        "{answer}"
    );
    // As far ahead is refused too: no clock of Stripe's signs from the future.
    let (status, answer) = shop.deliver(&failed, Some(&sign(WEBHOOK_SECRET, now + 360, &failed)));
    assert_eq!(status, 400, "{answer}");

    shop.marker("evt_marker_old", now + 30 * 86_400, 0);
    assert_eq!(shop.row().status, "active");
    assert_eq!(shop.notices(), 0);
    assert_eq!(shop.stored("evt_failed_old"), 0);

    // Positive control: the same body and secret, signed now (and four minutes ago), applies.
    let (status, answer) = shop.deliver(&failed, Some(&sign(WEBHOOK_SECRET, now - 240, &failed)));
    assert_eq!(status, 200, "{answer}");
    assert_eq!(shop.row().status, "past_due");
}

#[test]
fn a_replayed_event_id_changes_nothing() {
    let shop = shop();
    shop.bought_pro();
    let failed = shop.event(
        "evt_failed_r",
        "invoice.payment_failed",
        invoice("in_r", "cus_A", "sub_A", false),
    );
    // Positive control: its first delivery applies.
    let answer = shop.deliver_signed(&failed);
    assert!(answer.get("duplicate").is_none(), "{answer}");
    assert_eq!(shop.row().status, "past_due");
    shop.deliver_signed(&shop.event(
        "evt_paid_r",
        "invoice.paid",
        invoice("in_r", "cus_A", "sub_A", true),
    ));
    assert_eq!(shop.row().status, "active");
    let outcome_before: String = shop
        .db()
        .query_row(
            "SELECT outcome FROM payment_events WHERE id = 'evt_failed_r'",
            [],
            |r| r.get(0),
        )
        .unwrap();

    // Stripe sends it again, freshly signed (as its retries are): answered 200, applied no more.
    let answer = shop.deliver_signed(&failed);
    assert_eq!(answer["duplicate"], true, "{answer}");
    shop.marker("evt_marker_r", now_secs() + 30 * 86_400, 0);
    assert_eq!(shop.row().status, "active");
    assert_eq!(shop.notices(), 1);
    assert_eq!(
        shop.count(&format!(
            "SELECT count(*) FROM subscription_changes WHERE account_id = {} AND status = 'past_due'",
            shop.account
        )),
        1
    );
    assert_eq!(shop.stored("evt_failed_r"), 1);
    let outcome_after: String = shop
        .db()
        .query_row(
            "SELECT outcome FROM payment_events WHERE id = 'evt_failed_r'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(outcome_after, outcome_before);
}

#[test]
fn an_event_older_than_one_applied_and_events_about_others_change_nothing() {
    let shop = shop();
    shop.bought_pro();
    // Stripe delivers out of order: the invoice paid later arrives first.
    shop.deliver_signed(&event_at(
        "evt_paid_late",
        "invoice.paid",
        invoice("in_o", "cus_A", "sub_A", true),
        shop.created + 10,
    ));
    let answer = shop.deliver_signed(&shop.event(
        "evt_failed_early",
        "invoice.payment_failed",
        invoice("in_o", "cus_A", "sub_A", false),
    ));
    assert!(
        answer["outcome"].as_str().unwrap().starts_with("stale"),
        "{answer}"
    );
    // An old subscription of the customer, another customer, an account that does not exist.
    let answer = shop.deliver_signed(&event_at(
        "evt_old_sub",
        "customer.subscription.deleted",
        subscription("sub_OLD", "cus_A", "price_pro_monthly", "canceled", 0),
        shop.created + 20,
    ));
    assert!(
        answer["outcome"]
            .as_str()
            .unwrap()
            .contains("not the account's sub_A"),
        "{answer}"
    );
    let answer = shop.deliver_signed(&event_at(
        "evt_stranger",
        "invoice.payment_failed",
        invoice("in_s", "cus_STRANGER", "sub_S", false),
        shop.created + 20,
    ));
    assert!(
        answer["outcome"]
            .as_str()
            .unwrap()
            .starts_with("ignored: no account"),
        "{answer}"
    );
    let answer = shop.deliver_signed(&event_at(
        "evt_nobody",
        "checkout.session.completed",
        completed_session("999999", "cus_B", "sub_B", "pro"),
        shop.created + 20,
    ));
    assert!(
        answer["outcome"]
            .as_str()
            .unwrap()
            .contains("no account 999999"),
        "{answer}"
    );
    shop.marker("evt_marker_o", now_secs() + 30 * 86_400, 25);
    assert_eq!(shop.row().status, "active");
    assert_eq!(shop.notices(), 0);

    // Positive control: a later failure, about the account's own subscription, applies; so does the
    // subscription's own update (unpaid is past due) and its deletion.
    shop.deliver_signed(&event_at(
        "evt_failed_later",
        "invoice.payment_failed",
        invoice("in_o2", "cus_A", "sub_A", false),
        shop.created + 30,
    ));
    assert_eq!(shop.row().status, "past_due");
    shop.deliver_signed(&event_at(
        "evt_max",
        "customer.subscription.updated",
        subscription(
            "sub_A",
            "cus_A",
            "price_max_monthly",
            "active",
            shop.created + 86_400,
        ),
        shop.created + 40,
    ));
    let row = shop.row();
    assert_eq!((row.plan.as_str(), row.status.as_str()), ("max", "active"));
    assert_eq!(shop.last_change().1, "stripe evt_max");
    // A subscription whose first payment has not gone through yet changes nothing.
    let answer = shop.deliver_signed(&event_at(
        "evt_incomplete",
        "customer.subscription.updated",
        subscription("sub_A", "cus_A", "price_pro_monthly", "incomplete", 0),
        shop.created + 45,
    ));
    assert!(
        answer["outcome"].as_str().unwrap().starts_with("ignored"),
        "{answer}"
    );
    assert_eq!(shop.row().plan, "max");
    // A trial whose end has passed (a late event) is no status to take: answered, nothing changes.
    let mut ended_trial = subscription("sub_A", "cus_A", "price_max_monthly", "trialing", 0);
    ended_trial["trial_end"] = json!(now_secs() - 60);
    let answer = shop.deliver_signed(&event_at(
        "evt_ended_trial",
        "customer.subscription.updated",
        ended_trial,
        shop.created + 47,
    ));
    assert!(
        answer["outcome"].as_str().unwrap().starts_with("ignored"),
        "{answer}"
    );
    assert_eq!(shop.row().status, "active");
    shop.deliver_signed(&event_at(
        "evt_deleted",
        "customer.subscription.deleted",
        subscription("sub_A", "cus_A", "price_max_monthly", "canceled", 0),
        shop.created + 50,
    ));
    let row = shop.row();
    assert_eq!(row.status, "canceled");
    // The customer stays; the ended subscription goes, so the account may buy again.
    assert_eq!(
        (row.customer.as_deref(), row.subscription.as_deref()),
        (Some("cus_A"), None)
    );
}

// ---- The Billing page's buttons, through the server in-process ----

fn secret(value: &str) -> Option<Secret> {
    Some(serde_json::from_value(json!(value)).unwrap())
}

fn plan(id: &str, price: Option<&str>) -> Plan {
    let mut plan = Plan::unlimited(id, &id.to_uppercase());
    plan.stripe_price = price.map(str::to_owned);
    plan
}

fn paying_app(stripe: &StripeStandIn) -> App {
    let url = stripe.url.clone();
    app_with(move |c| {
        c.billing.provider = Provider::Stripe;
        c.billing.stripe_secret_key = secret(SECRET_KEY);
        c.billing.stripe_webhook_secret = secret(WEBHOOK_SECRET);
        c.billing.stripe_base_url = url;
        c.plans = Plans(vec![
            plan("free", None),
            plan("pro", Some("price_pro_monthly")),
            plan("max", Some("price_max_monthly")),
            plan("partner", None),
            plan("broken", Some(MISSING_PRICE)),
        ]);
    })
}

/// Posts a payment form with the signed-in person's token; status, Location and page.
fn press(app: &App, action: &str, fields: &[(&str, &str)]) -> (Status, String, String) {
    let token = csrf_in(&app.page("/profile").1);
    let response = app.post_raw(action, &token, fields);
    let location = response
        .headers()
        .get_one("Location")
        .unwrap_or_default()
        .to_owned();
    (
        response.status(),
        location,
        response.into_string().unwrap_or_default(),
    )
}

fn deliver_to_app(app: &App, body: &str) -> (Status, Value) {
    let response = app
        .client
        .post("/webhooks/stripe")
        .header(ContentType::JSON)
        .header(Header::new(
            "Stripe-Signature",
            sign(WEBHOOK_SECRET, now_secs(), body),
        ))
        .body(body)
        .dispatch();
    let status = response.status();
    (status, response.into_json().unwrap_or(Value::Null))
}

fn account_id(app: &App) -> String {
    app.count("SELECT account_id FROM users WHERE role = 'owner'")
        .to_string()
}

/// The checks every call to Stripe passes: the secret key as a bearer token, and an Idempotency-Key.
fn assert_authenticated(request: &Recorded) {
    assert_eq!(request.method, "POST");
    assert_eq!(
        request.header("Authorization"),
        Some(format!("Bearer {SECRET_KEY}").as_str())
    );
    let key = request.header("Idempotency-Key").unwrap_or_default();
    assert!(
        key.len() >= 32 && key.bytes().all(|b| b.is_ascii_hexdigit()),
        "{key:?}"
    );
    assert_eq!(
        request.header("Content-Type"),
        Some("application/x-www-form-urlencoded")
    );
}

#[test]
fn checkout_and_portal_sessions_are_created_with_the_right_price_and_customer() {
    let stripe = StripeStandIn::start();
    let app = paying_app(&stripe);
    assert_eq!(
        app.register("Owner", "Shop", "owner@shop.test"),
        Status::SeeOther
    );
    let account = account_id(&app);
    let public_url = app.config.server.public_url.clone();

    // No customer yet: the portal says to buy a plan first, and Stripe is not asked.
    let (status, _, page) = press(&app, "/billing/portal", &[]);
    assert_eq!(status, Status::BadRequest);
    assert!(page.contains("Buy a plan first"), "{page}");
    assert!(stripe.requests().is_empty());

    let (status, location, _) = press(&app, "/billing/checkout", &[("plan", "pro")]);
    assert_eq!(status, Status::SeeOther);
    let sessions = stripe.requests_to("/v1/checkout/sessions");
    assert_eq!(sessions.len(), 1);
    let first = &sessions[0];
    assert_authenticated(first);
    for (field, value) in [
        ("mode", "subscription"),
        ("line_items[0][price]", "price_pro_monthly"),
        ("line_items[0][quantity]", "1"),
        ("client_reference_id", account.as_str()),
        ("customer_email", "owner@shop.test"),
        ("metadata[plan]", "pro"),
        (
            "success_url",
            &format!("{public_url}/billing?checkout=success"),
        ),
        (
            "cancel_url",
            &format!("{public_url}/billing?checkout=canceled"),
        ),
    ] {
        assert_eq!(first.field(field), Some(value), "{field}: {first:?}");
    }
    assert_eq!(first.field("customer"), None);
    assert_eq!(location, "https://checkout.stripe.com/c/pay/cs_test_a10001");

    // Stripe says the session completed: the account has its customer.
    let completed = common::stripe::event(
        "evt_checkout",
        "checkout.session.completed",
        completed_session(&account, "cus_A", "sub_A", "pro"),
    );
    let (status, answer) = deliver_to_app(&app, &completed);
    assert_eq!(status, Status::Ok, "{answer}");

    // A second subscription would charge twice: plans change in the portal.
    let (status, _, page) = press(&app, "/billing/checkout", &[("plan", "max")]);
    assert_eq!(status, Status::BadRequest);
    assert!(page.contains("already pays through Stripe"), "{page}");
    assert_eq!(stripe.requests_to("/v1/checkout/sessions").len(), 1);

    let (status, location, _) = press(&app, "/billing/portal", &[]);
    assert_eq!(status, Status::SeeOther);
    let portals = stripe.requests_to("/v1/billing_portal/sessions");
    assert_eq!(portals.len(), 1);
    assert_authenticated(&portals[0]);
    assert_eq!(portals[0].field("customer"), Some("cus_A"));
    assert_eq!(
        portals[0].field("return_url"),
        Some(format!("{public_url}/billing").as_str())
    );
    assert_eq!(
        location,
        "https://billing.stripe.com/p/session/test_bps_test_a10002"
    );
    assert_ne!(
        portals[0].header("Idempotency-Key"),
        first.header("Idempotency-Key")
    );

    // Canceled, it buys again as the same Stripe customer.
    let deleted = common::stripe::event(
        "evt_deleted",
        "customer.subscription.deleted",
        subscription("sub_A", "cus_A", "price_pro_monthly", "canceled", 0),
    );
    assert_eq!(deliver_to_app(&app, &deleted).0, Status::Ok);
    let (status, location, _) = press(&app, "/billing/checkout", &[("plan", "max")]);
    assert_eq!(status, Status::SeeOther);
    let again = stripe.requests_to("/v1/checkout/sessions");
    assert_eq!(again.len(), 2);
    assert_eq!(again[1].field("customer"), Some("cus_A"));
    assert_eq!(again[1].field("customer_email"), None);
    assert_eq!(
        again[1].field("line_items[0][price]"),
        Some("price_max_monthly")
    );
    assert_eq!(location, "https://checkout.stripe.com/c/pay/cs_test_a10003");
}

#[test]
fn plans_not_sold_online_and_stripes_refusals_are_pages_in_words() {
    let stripe = StripeStandIn::start();
    let app = paying_app(&stripe);
    app.register("Owner", "Shop", "owner@shop.test");

    let (status, _, page) = press(&app, "/billing/checkout", &[("plan", "partner")]);
    assert_eq!(status, Status::BadRequest);
    assert!(page.contains("cannot be bought online"), "{page}");
    let (status, _, page) = press(&app, "/billing/checkout", &[("plan", "gold")]);
    assert_eq!(status, Status::BadRequest);
    assert!(page.contains("There is no such plan."), "{page}");
    assert!(stripe.requests().is_empty(), "Stripe is not asked");

    // Stripe refuses (a price it does not have): the person reads that Stripe did not accept it, not
    // Stripe's own words, which name the operator's settings.
    let (status, _, page) = press(&app, "/billing/checkout", &[("plan", "broken")]);
    assert_eq!(status, Status::ServiceUnavailable);
    assert!(page.contains("Nothing was charged"), "{page}");
    assert!(!page.contains("No such price"), "{page}");
    assert!(page.contains("href=\"/billing\""), "{page}");
    assert_eq!(stripe.requests().len(), 1);

    // In Arabic for a person who reads Arabic.
    let token = csrf_in(&app.page("/profile").1);
    app.post_raw("/language", &token, &[("lang", "ar")]);
    let (status, _, page) = press(&app, "/billing/checkout", &[("plan", "partner")]);
    assert_eq!(status, Status::BadRequest);
    assert!(page.contains("لا يمكن شراء هذه الخطة"), "{page}");
}

#[test]
fn only_owners_and_admins_press_the_buttons_and_only_with_the_forms_token() {
    let stripe = StripeStandIn::start();
    let app = paying_app(&stripe);
    team_with_member(&app, "member");
    let (status, _, _) = press(&app, "/billing/checkout", &[("plan", "pro")]);
    assert_eq!(status, Status::Forbidden);
    let (status, _, _) = press(&app, "/billing/portal", &[]);
    assert_eq!(status, Status::Forbidden);
    assert!(stripe.requests().is_empty());

    let other = paying_app(&stripe);
    team_with_member(&other, "admin");
    let forged = other.post_raw("/billing/checkout", "not-the-token", &[("plan", "pro")]);
    assert_eq!(forged.status(), Status::Forbidden);
    assert!(stripe.requests().is_empty());
    // Positive control: the admin, with the form's token, reaches Stripe.
    let (status, location, _) = press(&other, "/billing/checkout", &[("plan", "pro")]);
    assert_eq!(status, Status::SeeOther);
    assert!(location.starts_with("https://checkout.stripe.com/"));
    assert_eq!(stripe.requests().len(), 1);
}

#[test]
fn without_a_provider_the_payment_urls_do_not_exist() {
    let app = app();
    app.register("Owner", "Shop", "owner@shop.test");
    let body = common::stripe::event(
        "evt_1",
        "invoice.payment_failed",
        invoice("in_1", "cus_A", "sub_A", false),
    );
    let (status, answer) = deliver_to_app(&app, &body);
    assert_eq!(status, Status::NotFound, "{answer}");
    assert_eq!(answer["error"]["code"], "not_found");
    assert_eq!(app.count("SELECT count(*) FROM payment_events"), 0);
    let (status, _, _) = press(&app, "/billing/checkout", &[("plan", "free")]);
    assert_eq!(status, Status::NotFound);
    let (status, _, _) = press(&app, "/billing/portal", &[]);
    assert_eq!(status, Status::NotFound);
}

// ---- The stand-in signs as Stripe does ----

/// The Python of the virtual environment tests/run-all.sh makes with Stripe's library (`stripe` on
/// PyPI): `STRIPE_PYTHON`, else `$CARGO_TARGET_DIR/stripe-venv/bin/python`.
fn stripe_python() -> std::path::PathBuf {
    if let Some(path) = std::env::var_os("STRIPE_PYTHON") {
        return path.into();
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("stripe-venv/bin/python")
}

/// Runs `stripe.WebhookSignature.verify_header` on a body and header: whether Stripe's library accepts.
fn stripe_library_accepts(body: &str, header: &str) -> bool {
    const SCRIPT: &str = "import sys, stripe\n\
        body, header, secret = sys.argv[1], sys.argv[2], sys.argv[3]\n\
        try:\n    stripe.WebhookSignature.verify_header(body, header, secret, 300)\n\
        except stripe.SignatureVerificationError as e:\n    print(e); sys.exit(3)\n";
    let python = stripe_python();
    let output = std::process::Command::new(&python)
        .args(["-c", SCRIPT, body, header, WEBHOOK_SECRET])
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "Stripe's Python library could not be run ({}: {e}). Install it: tests/run-all.sh does \
                 (python3 -m venv $CARGO_TARGET_DIR/stripe-venv && $CARGO_TARGET_DIR/stripe-venv/bin/pip \
                 install stripe), or set STRIPE_PYTHON to a Python that has it.",
                python.display()
            )
        });
    match output.status.code() {
        Some(0) => true,
        Some(3) => false,
        _ => panic!(
            "Stripe's Python library did not run: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    }
}

#[test]
fn stripes_own_library_accepts_the_stand_ins_signatures() {
    let body = common::stripe::event(
        "evt_lib",
        "invoice.payment_failed",
        invoice("in_ش", "cus_A", "sub_A", false),
    );
    let now = now_secs();
    assert!(stripe_library_accepts(
        &body,
        &sign(WEBHOOK_SECRET, now, &body)
    ));
    // Positive controls: the library refuses what the server refuses.
    assert!(!stripe_library_accepts(
        &body,
        &sign("whsec_other", now, &body)
    ));
    assert!(!stripe_library_accepts(
        &body,
        &sign(WEBHOOK_SECRET, now - 360, &body)
    ));
    assert!(!stripe_library_accepts(
        &format!("{body} "),
        &sign(WEBHOOK_SECRET, now, &body)
    ));
}

// ---- Checkout sessions this server did not make, and ones that would charge twice ----

#[test]
fn a_session_naming_an_account_it_was_not_made_for_changes_nothing() {
    let shop = shop();
    let before = shop.row();
    let outcome = |answer: &Value| answer["outcome"].as_str().unwrap_or_default().to_owned();

    // A Payment Link opened with `?client_reference_id=<this account>`: the session carries the link's
    // own metadata, not ours.
    let mut link = completed_session(&shop.account, "cus_EVIL", "sub_EVIL", "pro");
    link["metadata"] = json!({});
    let answer = shop.deliver_signed(&event_at(
        "evt_link",
        "checkout.session.completed",
        link,
        shop.created,
    ));
    assert!(
        outcome(&answer).starts_with("ignored") && outcome(&answer).contains("metadata.account"),
        "{answer}"
    );
    // Metadata naming another account, or a plan not sold here.
    let mut other = completed_session(&shop.account, "cus_EVIL", "sub_EVIL", "pro");
    other["metadata"]["account"] = json!("999999");
    let answer = shop.deliver_signed(&event_at(
        "evt_other_meta",
        "checkout.session.completed",
        other,
        shop.created,
    ));
    assert!(outcome(&answer).starts_with("ignored"), "{answer}");
    let answer = shop.deliver_signed(&event_at(
        "evt_partner",
        "checkout.session.completed",
        completed_session(&shop.account, "cus_EVIL", "sub_EVIL", "partner"),
        shop.created,
    ));
    assert!(
        outcome(&answer).starts_with("ignored") && outcome(&answer).contains("metadata.plan"),
        "{answer}"
    );
    assert_eq!(shop.row(), before);
    assert_eq!(
        shop.count("SELECT count(*) FROM payment_events WHERE outcome LIKE 'ignored%'"),
        3
    );

    // Positive control: the session our own Checkout made links the account.
    shop.bought_pro();
    let linked = shop.row();

    // A session (rightly made) naming the account with another Stripe customer does not replace its
    // customer or its subscription.
    let answer = shop.deliver_signed(&event_at(
        "evt_second_customer",
        "checkout.session.completed",
        completed_session(&shop.account, "cus_B", "sub_B", "max"),
        shop.created + 10,
    ));
    assert!(
        outcome(&answer).starts_with("ignored") && outcome(&answer).contains("cus_A, not cus_B"),
        "{answer}"
    );
    assert_eq!(shop.row(), linked);
    assert_eq!(shop.last_change().1, "stripe evt_checkout");
}

#[test]
fn a_double_click_on_checkout_sends_one_idempotency_key_and_gets_one_session() {
    let stripe = StripeStandIn::start();
    let app = paying_app(&stripe);
    app.register("Owner", "Shop", "owner@shop.test");
    let slot = || now_secs().div_euclid(600);
    // Two clicks within one 10-minute slot (tried again in the rare case the slot ended between them).
    let (first, second) = loop {
        let before = slot();
        let first = press(&app, "/billing/checkout", &[("plan", "pro")]);
        let second = press(&app, "/billing/checkout", &[("plan", "pro")]);
        if slot() == before {
            break (first, second);
        }
    };
    assert_eq!(first.0, Status::SeeOther);
    assert_eq!(second.0, Status::SeeOther);
    let sessions = stripe.requests_to("/v1/checkout/sessions");
    let (a, b) = (&sessions[sessions.len() - 2], &sessions[sessions.len() - 1]);
    assert_authenticated(a);
    assert_eq!(a.header("Idempotency-Key"), b.header("Idempotency-Key"));
    // Stripe answers the same key with the same session: both clicks lead to one payment page.
    assert_eq!(first.1, second.1);
    assert!(
        first.1.starts_with("https://checkout.stripe.com/"),
        "{}",
        first.1
    );

    // Positive control: another plan is another request, with its own key and session.
    let (status, location, _) = press(&app, "/billing/checkout", &[("plan", "max")]);
    assert_eq!(status, Status::SeeOther);
    let last = stripe.requests_to("/v1/checkout/sessions").pop().unwrap();
    assert_ne!(last.header("Idempotency-Key"), a.header("Idempotency-Key"));
    assert_ne!(location, first.1);
}

#[test]
fn a_second_paid_subscription_is_not_linked_over_the_live_one() {
    let shop = shop();
    shop.bought_pro();
    let linked = shop.row();
    let answer = shop.deliver_signed(&event_at(
        "evt_second_session",
        "checkout.session.completed",
        completed_session(&shop.account, "cus_A", "sub_A2", "max"),
        shop.created + 5,
    ));
    let outcome = answer["outcome"].as_str().unwrap();
    assert!(
        outcome.starts_with("ignored") && outcome.contains("sub_A;") && outcome.contains("sub_A2"),
        "{answer}"
    );
    assert_eq!(shop.row(), linked);
    assert_eq!(shop.last_change().1, "stripe evt_checkout");

    // Positive control: once the first subscription has ended, a new one is linked.
    shop.deliver_signed(&event_at(
        "evt_deleted_first",
        "customer.subscription.deleted",
        subscription("sub_A", "cus_A", "price_pro_monthly", "canceled", 0),
        shop.created + 10,
    ));
    assert_eq!(shop.row().status, "canceled");
    let answer = shop.deliver_signed(&event_at(
        "evt_bought_again",
        "checkout.session.completed",
        completed_session(&shop.account, "cus_A", "sub_A3", "max"),
        shop.created + 20,
    ));
    assert!(
        answer["outcome"].as_str().unwrap().starts_with("applied"),
        "{answer}"
    );
    let row = shop.row();
    assert_eq!(
        (
            row.plan.as_str(),
            row.status.as_str(),
            row.subscription.as_deref()
        ),
        ("max", "active", Some("sub_A3"))
    );
}

#[test]
fn a_completed_session_older_than_an_applied_event_changes_nothing() {
    let shop = shop();
    shop.bought_pro();
    shop.deliver_signed(&event_at(
        "evt_deleted_d",
        "customer.subscription.deleted",
        subscription("sub_A", "cus_A", "price_pro_monthly", "canceled", 0),
        shop.created + 10,
    ));
    let ended = shop.row();
    assert_eq!(
        (ended.status.as_str(), ended.subscription.as_deref()),
        ("canceled", None)
    );
    // Each event is stored with the customer it is about and when Stripe created it: what the
    // comparison reads.
    let stored: (String, i64) = shop
        .db()
        .query_row(
            "SELECT customer, created FROM payment_events WHERE id = 'evt_deleted_d'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(stored, ("cus_A".to_owned(), shop.created + 10));
    // The session that made the deleted subscription, delivered late (created before the deletion).
    let answer = shop.deliver_signed(&event_at(
        "evt_checkout_late",
        "checkout.session.completed",
        completed_session(&shop.account, "cus_A", "sub_A", "pro"),
        shop.created + 5,
    ));
    assert!(
        answer["outcome"].as_str().unwrap().starts_with("stale"),
        "{answer}"
    );
    assert_eq!(shop.row(), ended);
    assert_eq!(shop.last_change().1, "stripe evt_deleted_d");

    // Positive control: a session Stripe created after the deletion applies.
    let answer = shop.deliver_signed(&event_at(
        "evt_checkout_new",
        "checkout.session.completed",
        completed_session(&shop.account, "cus_A", "sub_N", "pro"),
        shop.created + 20,
    ));
    assert!(
        answer["outcome"].as_str().unwrap().starts_with("applied"),
        "{answer}"
    );
    let row = shop.row();
    assert_eq!(
        (row.status.as_str(), row.subscription.as_deref()),
        ("active", Some("sub_N"))
    );
}

#[test]
fn deleting_an_account_ends_its_stripe_subscription_first_and_nothing_is_deleted_while_stripe_cannot()
 {
    let shop = shop();
    shop.bought_pro();
    let config = shop.install.path("config.toml");
    let delete = || {
        shop.install.run(&[
            "account",
            "delete",
            "--account",
            &shop.account,
            "--yes",
            "--config",
            config.to_str().unwrap(),
        ])
    };
    let accounts = || shop.count("SELECT count(*) FROM accounts");
    // Stripe fails to end the subscription: the account and its data stay, and the operator is told.
    shop.db()
        .execute(
            "UPDATE subscriptions SET subscription_ref = ?1",
            [common::stripe::UNREACHABLE_SUBSCRIPTION],
        )
        .unwrap();
    let output = delete();
    assert!(!output.status.success());
    assert!(
        common::stderr(&output).contains("nothing was deleted"),
        "{}",
        common::stderr(&output)
    );
    assert_eq!(accounts(), 1);
    // Positive control: Stripe ends it, then the account goes.
    shop.db()
        .execute("UPDATE subscriptions SET subscription_ref = 'sub_A'", [])
        .unwrap();
    let output = delete();
    assert!(output.status.success(), "{}", common::stderr(&output));
    assert_eq!(accounts(), 0);
    let ended = shop.stripe.requests_to("/v1/subscriptions/sub_A");
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0].method, "DELETE");
    assert_eq!(
        ended[0].header("Authorization"),
        Some(format!("Bearer {}", common::stripe::SECRET_KEY).as_str())
    );
}
