//! True by default: a server started without `[branding]` names no company and no support address on any
//! page (the footer, the privacy page, error pages, every page of a signed-in business), and its privacy
//! page names a payment provider, an SMS gateway or an email relay only when one is configured. The real
//! server, over real HTTP.

mod common;

use common::api::PASSWORD;
use common::raw::Browser;
use common::{Install, Server};

/// What a page may not show on a server without `[branding]`: the old built-in company and address, and
/// any email link at all.
const NAMED: [&str; 4] = ["A1-Soft", "a1-soft", "mailto:", "support@"];

const SIGNED_IN_PAGES: [&str; 14] = [
    "/",
    "/inbox",
    "/messages",
    "/compose",
    "/connections",
    "/api-keys",
    "/webhook-endpoints",
    "/team",
    "/usage",
    "/activity",
    "/billing",
    "/profile",
    "/privacy",
    "/no-such-page",
];

/// A server with `config` (TOML), an account whose owner signs in as owner@shop.test.
fn start(config: &str) -> (Install, Server) {
    let install = Install::new();
    let path = install.path("config.toml");
    std::fs::write(&path, config).unwrap();
    let path = path.display().to_string();
    let server = install.serve_with(install.command(&["--config", &path, "serve"]));
    let with_config = |args: &[&str]| {
        let mut all = vec!["--config", path.as_str()];
        all.extend_from_slice(args);
        common::api::with_password(&install, &all)
    };
    with_config(&[
        "account",
        "create",
        "--company",
        "Shop",
        "--name",
        "Owner",
        "--email",
        "owner@shop.test",
        "--password-stdin",
    ]);
    (install, server)
}

/// Every page a visitor and the signed-in owner see, in both languages: (language and path, body).
fn pages(server: &Server) -> Vec<(String, String)> {
    let visitor = Browser::new(&server.url, "Mozilla/5.0 Chrome/131.0");
    let owner = visitor.signed_in("owner@shop.test", PASSWORD);
    let mut seen = Vec::new();
    for lang in ["en", "ar"] {
        let visitor = Browser {
            cookie: Some(format!("whatsapi_lang={lang}")),
            ..visitor.clone()
        };
        for path in [
            "/login",
            "/register",
            "/privacy",
            "/forgot-password",
            "/nope",
        ] {
            seen.push((format!("{lang} visitor {path}"), visitor.get(path).body));
        }
        let owner = Browser {
            cookie: Some(format!(
                "{}; whatsapi_lang={lang}",
                owner.cookie.clone().unwrap()
            )),
            ..owner.clone()
        };
        for path in SIGNED_IN_PAGES {
            let answer = owner.get(path);
            assert!(
                answer.status == 200 || answer.status == 404,
                "{path}: {}",
                answer.status
            );
            seen.push((format!("{lang} owner {path}"), answer.body));
        }
    }
    seen
}

#[test]
fn without_branding_no_page_names_a_company_or_a_support_address() {
    let (install, server) = start("");
    let seen = pages(&server);
    // The pages are the real ones: the owner's dashboard and the privacy policy.
    assert!(
        seen.iter()
            .any(|(what, body)| what == "en owner /" && body.contains("Shop")),
        "the dashboard was seen"
    );
    for (what, body) in &seen {
        for named in NAMED {
            assert!(!body.contains(named), "{what} shows {named}");
        }
    }
    let privacy = &seen
        .iter()
        .find(|(what, _)| what == "en visitor /privacy")
        .unwrap()
        .1;
    assert!(
        privacy.contains("ask whoever runs this installation for you"),
        "{privacy}"
    );
    assert!(!privacy.contains("operated by"), "{privacy}");

    // An email the product sends (a password reset, written to the outbox without [smtp]) names neither.
    let visitor = Browser::new(&server.url, "Mozilla/5.0 Chrome/131.0");
    let token = common::web::csrf_in(&visitor.get("/forgot-password").body);
    let answer = visitor.post(
        "/forgot-password",
        &[("csrf", &token), ("email", "owner@shop.test")],
        &[],
    );
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(answer.body.contains("alert success"), "{}", answer.body);
    let outbox = install.data_dir().join("outbox");
    let mut mails = Vec::new();
    common::wait_until("the reset email", || {
        mails = std::fs::read_dir(&outbox)
            .map(|dir| {
                dir.filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
                    .collect()
            })
            .unwrap_or_default();
        mails.iter().any(|mail: &String| {
            mail.replace("=\r\n", "")
                .replace("=\n", "")
                .contains("/reset-password/")
        })
    });
    // The reset email and the sign-in alerts before it.
    assert!(mails.len() >= 2, "{mails:?}");
    for mail in &mails {
        for named in ["A1-Soft", "a1-soft", "support@"] {
            assert!(!mail.contains(named), "the email names {named}: {mail}");
        }
    }
}

#[test]
fn with_branding_the_pages_name_the_operator_and_the_support_address() {
    // The positive control of the test above: the same pages, the same checks, with branding.
    let (_install, server) = start(
        "[branding]\noperator_name = \"Souq Trading\"\nsupport_email = \"support@souq.test\"\n",
    );
    let seen = pages(&server);
    for (what, body) in &seen {
        if !what.ends_with("/nope") && !what.ends_with("/no-such-page") {
            assert!(
                body.contains("mailto:support@souq.test"),
                "{what}: the footer names the address"
            );
        }
    }
    let privacy = &seen
        .iter()
        .find(|(what, _)| what == "ar visitor /privacy")
        .unwrap()
        .1;
    assert!(privacy.contains("Souq Trading"), "{privacy}");
}

/// The privacy page as a visitor sees it in `lang`.
fn privacy(server: &Server, lang: &str) -> String {
    let visitor = Browser {
        cookie: Some(format!("whatsapi_lang={lang}")),
        ..Browser::new(&server.url, "Mozilla/5.0 Chrome/131.0")
    };
    let answer = visitor.get("/privacy");
    assert_eq!(answer.status, 200);
    answer.body
}

#[test]
fn the_privacy_page_names_stripe_and_the_sms_gateway_only_when_they_are_configured() {
    let (_bare_install, bare) = start("");
    for lang in ["en", "ar"] {
        let page = privacy(&bare, lang);
        assert!(page.contains("Meta"), "{page}");
        for absent in [
            "Stripe",
            "SMS",
            "الرسائل النصية",
            "email relay",
            "خادم البريد",
        ] {
            assert!(!page.contains(absent), "{lang}: {absent} named:\n{page}");
        }
    }

    let (_install, configured) = start(
        r#"
[billing]
provider = "stripe"
stripe_secret_key = "sk_test_1"
stripe_webhook_secret = "whsec_1"

[sms]
provider = "http"
url = "https://sms.example.test/send"
encoding = "form"
body = "to={to_digits}&text={text}"
"#,
    );
    let en = privacy(&configured, "en");
    assert!(en.contains("Stripe") && en.contains("SMS gateway"), "{en}");
    assert!(!en.contains("email relay"), "no SMTP configured: {en}");
    let ar = privacy(&configured, "ar");
    assert!(
        ar.contains("Stripe") && ar.contains("بوابة الرسائل النصية"),
        "{ar}"
    );
}
