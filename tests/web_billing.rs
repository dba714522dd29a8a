//! The billing pages on the real server (built in-process) with a real SQLite file: the owner's Billing
//! page with the plan, its status, this month's messages as a bar and the limits in use; members refused
//! it and not shown its link; the banner of an account past due or canceled; a plan without webhooks
//! showing why on the Webhooks page; and operators changing an account's plan and status on /admin, each
//! change in the history as "admin <their email>".

mod common;

use common::web::{App, PASSWORD, app_with, csrf_in, team_with_member};
use rocket::http::{Method, Status};
use serde_json::json;
use whatsapi::config::{Config, Feature, Plan, Plans};

/// Three plans: "starter" (the default: 1,000 messages a month, 3 numbers, 5 people, 2 endpoints),
/// "pro" (no limits) and "lite" (no webhooks).
fn plans(config: &mut Config) {
    let mut starter = Plan::unlimited("starter", "Starter");
    starter.names.insert("ar".into(), "المبتدئ".into());
    starter.price = Some("29 EUR / month".into());
    starter.messages_per_month = Some(1_000);
    starter.connections = Some(3);
    starter.members = Some(5);
    starter.webhook_endpoints = Some(2);
    let mut pro = Plan::unlimited("pro", "Pro");
    pro.price = Some("99 EUR / month".into());
    let mut lite = Plan::unlimited("lite", "Lite");
    lite.features = vec![Feature::Api, Feature::Inbox];
    config.plans = Plans(vec![starter, pro, lite]);
    config.billing.default_plan = "starter".into();
}

fn account_id(app: &App) -> i64 {
    app.count("SELECT id FROM accounts")
}

/// Signs the browser out and in again as `email`.
fn switch_to(app: &App, email: &str, password: &str) {
    app.logout();
    assert_eq!(app.login(email, password), Status::SeeOther, "{email}");
}

/// Posts one of the account page's forms on /admin as the signed-in operator.
fn admin_change(app: &App, account: i64, what: &str, fields: &[(&str, &str)]) -> (Status, String) {
    let path = format!("/admin/accounts/{account}");
    let answer = app.submit(&path, &format!("{path}/{what}"), fields);
    (answer.status(), answer.into_string().unwrap_or_default())
}

#[test]
fn the_owner_sees_the_plan_its_status_the_months_messages_and_the_limits_in_use() {
    let app = app_with(|config| {
        plans(config);
        config.branding.support_email = "help@shop.test".into();
    });
    assert_eq!(
        app.register("Owner", "Shop", "owner@shop.test"),
        Status::SeeOther
    );
    let auth = app.api_key();
    let (status, connection) = app.api(
        &auth,
        Method::Post,
        "/api/v1/connections",
        json!({"kind": "sandbox", "name": "Sandbox"}),
    );
    assert_eq!(status, Status::Created, "{connection}");
    for n in 0..3 {
        let (status, message) = app.api(
            &auth,
            Method::Post,
            "/api/v1/messages",
            json!({"connection_id": connection["id"], "to": "+96550001234", "type": "text",
                   "text": {"body": format!("message {n}")}}),
        );
        assert_eq!(status, Status::Accepted, "{message}");
    }

    let (status, html) = app.page("/billing");
    assert_eq!(status, Status::Ok, "{html}");
    assert!(
        html.contains(r#"<dd id="plan-name">Starter</dd>"#),
        "{html}"
    );
    assert!(
        html.contains(r#"data-status="active">Active</span>"#),
        "{html}"
    );
    assert!(html.contains("29 EUR / month"));
    // The month's messages against the quota: a bar and its words.
    assert!(
        html.contains(r#"id="usage-bar" value="3" max="1000""#),
        "{html}"
    );
    assert!(
        html.contains(r#"<p id="usage-text">3 of 1,000</p>"#),
        "{html}"
    );
    // The limits in use: one number of three, one person of five, no endpoint of two.
    for (label, id, text) in [
        ("WhatsApp numbers", "connections", "1 of 3"),
        ("People, open invitations included", "members", "1 of 5"),
        ("Webhook endpoints", "webhook_endpoints", "0 of 2"),
    ] {
        let shown = format!(r#"<dt>{label}</dt><dd id="limit-{id}">{text}</dd>"#);
        assert!(html.contains(&shown), "{shown}");
    }
    // The other plans, and (without a payment provider) who changes them; no Stripe forms.
    assert!(html.contains(r#"id="plan-pro"><th scope="row">Pro</th>"#));
    assert!(html.contains("99 EUR / month") && html.contains("Unlimited messages"));
    assert!(html.contains(r#"id="operator-changes""#));
    assert!(
        html.contains(r#"write to <a href="mailto:"#),
        "the operator's contact"
    );
    assert!(!html.contains("/billing/checkout") && !html.contains("/billing/portal"));
    // In Arabic, the plan has its Arabic name and the page reads right to left.
    let arabic = app
        .client
        .get("/billing")
        .header(rocket::http::Header::new("Accept-Language", "ar"))
        .dispatch()
        .into_string()
        .unwrap();
    assert!(arabic.contains(r#"dir="rtl""#) && arabic.contains("المبتدئ"));
    assert!(arabic.contains("3 من 1,000"), "{arabic}");
}

#[test]
fn with_stripe_the_page_offers_checkout_for_plans_with_a_price_there_and_the_payment_portal() {
    let app = app_with(|config| {
        plans(config);
        config.plans.0[1].stripe_price = Some("price_pro".into());
        config.billing.provider = whatsapi::config::Provider::Stripe;
        // Secrets are only ever read from the configuration's sources.
        let secret = |text: &str| serde_json::from_value(json!(text)).unwrap();
        config.billing.stripe_secret_key = Some(secret("sk_test_1"));
        config.billing.stripe_webhook_secret = Some(secret("whsec_1"));
    });
    app.register("Owner", "Shop", "owner@shop.test");
    let (_, html) = app.page("/billing");
    let pro = &html[html.find(r#"id="plan-pro""#).unwrap()..];
    let pro = &pro[..pro.find("</tr>").unwrap()];
    assert!(pro.contains(r#"action="/billing/checkout""#), "{pro}");
    assert!(pro.contains(r#"name="plan" value="pro""#));
    // "lite" has no Stripe price: no form for it, and the sentence about the operator.
    let lite = &html[html.find(r#"id="plan-lite""#).unwrap()..];
    let lite = &lite[..lite.find("</tr>").unwrap()];
    assert!(!lite.contains("/billing/checkout"), "{lite}");
    assert!(html.contains(r#"id="operator-changes""#));
    assert!(html.contains(r#"action="/billing/portal""#));
}

#[test]
fn a_member_is_refused_the_billing_page_and_has_no_link_to_it() {
    let app = app_with(plans);
    team_with_member(&app, "member");
    let (status, html) = app.page("/billing");
    assert_eq!(status, Status::Forbidden);
    assert!(html.contains("You are not allowed to do this."), "{html}");
    let (status, home) = app.page("/team");
    assert_eq!(status, Status::Ok);
    assert!(!home.contains(r#"href="/billing""#), "{home}");
    // The positive control: the owner has the link and the page.
    switch_to(&app, "owner@shop.test", PASSWORD);
    let (_, home) = app.page("/team");
    assert!(home.contains(r#"href="/billing""#));
    assert_eq!(app.page("/billing").0, Status::Ok);
}

#[test]
fn operators_change_plan_and_status_and_the_account_sees_it_on_every_page() {
    let app = app_with(plans);
    app.register("Owner", "Shop", "owner@shop.test");
    let account = account_id(&app);
    // In good standing: no banner, and the Webhooks page has its form.
    let (status, webhooks) = app.page("/webhook-endpoints");
    assert_eq!(status, Status::Ok);
    assert!(webhooks.contains(r#"action="/webhook-endpoints""#));
    assert!(!webhooks.contains("billing-banner"));
    // Nobody but an operator changes a subscription.
    let token = csrf_in(&app.page("/team").1);
    let path = format!("/admin/accounts/{account}/status");
    let refused = app.post_raw(&path, &token, &[("status", "canceled")]);
    assert_eq!(refused.status(), Status::NotFound);
    assert_eq!(
        app.count("SELECT count(*) FROM subscriptions WHERE status = 'active'"),
        1
    );

    app.logout();
    let (_, created) = app.set_up_operator();
    assert_eq!(created.status(), Status::SeeOther);
    let (status, admin) = app.page("/admin");
    assert_eq!(status, Status::Ok);
    let row = &admin[admin.find(&format!(r#"id="account-{account}""#)).unwrap()..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(
        row.contains(">Starter</td>") && row.contains(r#"data-status="active""#),
        "{row}"
    );
    assert!(row.contains(&format!(r#"href="/admin/accounts/{account}""#)));

    // A plan that is not configured is refused in words, and nothing changes.
    let (status, html) = admin_change(&app, account, "plan", &[("plan", "gold")]);
    assert_eq!(status, Status::UnprocessableEntity);
    assert!(
        html.contains("Choose one of the configured plans."),
        "{html}"
    );
    assert_eq!(app.count("SELECT count(*) FROM subscription_changes"), 1);
    // The plan without webhooks, then past due.
    let (status, _) = admin_change(&app, account, "plan", &[("plan", "lite")]);
    assert_eq!(status, Status::SeeOther);
    let (status, _) = admin_change(&app, account, "status", &[("status", "past_due")]);
    assert_eq!(status, Status::SeeOther);
    let (_, page) = app.page(&format!("/admin/accounts/{account}"));
    assert!(
        page.contains(r#"<dd id="account-plan">Lite</dd>"#),
        "{page}"
    );
    assert!(page.contains(r#"data-status="past_due""#));
    let history = &page[page.find(r#"id="subscription-history""#).unwrap()..];
    assert_eq!(history.matches("<bdi>admin op@host.test</bdi>").count(), 2);
    assert!(history.contains("<bdi>account created</bdi>"));
    let by: Vec<(String, String, String)> = {
        let db = app.db();
        let mut stmt = db
            .prepare("SELECT plan, status, by FROM subscription_changes ORDER BY id")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let by: Vec<(&str, &str, &str)> = by
        .iter()
        .map(|(p, s, b)| (p.as_str(), s.as_str(), b.as_str()))
        .collect();
    assert_eq!(
        by,
        [
            ("starter", "active", "account created"),
            ("lite", "active", "admin op@host.test"),
            ("lite", "past_due", "admin op@host.test"),
        ]
    );
    // The operator's own log has both changes; the account's has none of the operator's lines.
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM activity_log WHERE action = 'subscription_changed'
             AND account_id IS NULL AND detail LIKE 'account {account}: %'"
        )),
        2
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM activity_log WHERE account_id = {account} AND user_id IN
             (SELECT id FROM users WHERE role = 'operator')"
        )),
        0
    );
    // The same status again changes nothing and says so.
    let again = app.submit(
        &format!("/admin/accounts/{account}"),
        &path,
        &[("status", "past_due")],
    );
    assert_eq!(
        again.headers().get_one("Location"),
        Some(format!("/admin/accounts/{account}?done=unchanged").as_str())
    );
    assert_eq!(app.count("SELECT count(*) FROM subscription_changes"), 3);

    // The owner: a banner on every page saying when sending stops, and the Webhooks page says the plan
    // lacks them, with the way to the Billing page.
    switch_to(&app, "owner@shop.test", PASSWORD);
    for path in ["/", "/team", "/billing"] {
        let (_, html) = app.page(path);
        assert!(html.contains(r#"id="billing-banner""#), "{path}");
        assert!(html.contains("Payment is due. Sending stops on"), "{path}");
    }
    let (status, webhooks) = app.page("/webhook-endpoints");
    assert_eq!(status, Status::Forbidden);
    assert!(
        webhooks.contains("Your plan, Lite, does not include webhooks."),
        "{webhooks}"
    );
    assert!(webhooks.contains(r#"href="/billing""#));
    assert!(!webhooks.contains(r#"action="/webhook-endpoints""#));
    let created = app.submit(
        "/team",
        "/webhook-endpoints",
        &[
            ("url", "https://hooks.shop.test/in"),
            ("event_types", "message.sent"),
        ],
    );
    assert_eq!(created.status(), Status::Forbidden);
    assert_eq!(app.count("SELECT count(*) FROM webhook_endpoints"), 0);
    // The inbox and API keys stay: the plan includes them.
    assert_eq!(app.page("/inbox").0, Status::Ok);
    assert_eq!(app.page("/api-keys").0, Status::Ok);
    let (_, billing) = app.page("/billing");
    assert!(
        billing.contains(r#"data-status="past_due""#) && billing.contains("Payment is due since")
    );

    // Canceled: sending is stopped, and the banner says so.
    switch_to(&app, "op@host.test", "operator pass phrase");
    let (status, _) = admin_change(&app, account, "status", &[("status", "canceled")]);
    assert_eq!(status, Status::SeeOther);
    switch_to(&app, "owner@shop.test", PASSWORD);
    let (_, home) = app.page("/");
    assert!(
        home.contains("The subscription is canceled: sending is stopped."),
        "{home}"
    );
}

#[test]
fn a_trial_end_date_goes_only_with_trialing() {
    let app = app_with(plans);
    app.register("Owner", "Shop", "owner@shop.test");
    let account = account_id(&app);
    app.logout();
    app.set_up_operator();
    let (status, html) = admin_change(
        &app,
        account,
        "status",
        &[("status", "active"), ("trial_ends", "2099-01-15")],
    );
    assert_eq!(status, Status::UnprocessableEntity);
    assert!(html.contains("only with the status trialing"), "{html}");
    let (status, _) = admin_change(
        &app,
        account,
        "status",
        &[("status", "trialing"), ("trial_ends", "2099-01-15")],
    );
    assert_eq!(status, Status::SeeOther);
    let (status, ends): (String, i64) = app
        .db()
        .query_row("SELECT status, trial_ends_at FROM subscriptions", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!((status.as_str(), ends), ("trialing", 4_072_118_400_000));
    switch_to(&app, "owner@shop.test", PASSWORD);
    let (_, billing) = app.page("/billing");
    assert!(
        billing.contains("The trial ends on 15 Jan 2099."),
        "{billing}"
    );
    assert!(!billing.contains(r#"id="billing-banner""#));
}
