//! The SMS gateway as an operator meets it: `whatsapi sms test` through the real binary against a
//! stand-in provider on 127.0.0.1 that records what arrives. Each provider's documented request arrives
//! (path, authentication, fields); its refusals, a 500 and a provider that never answers make the command
//! fail with words that say why, without the code, the text, a credential or the number's digits (but the
//! last two); a configuration that lacks a credential is refused naming the key.

mod common;

use base64::Engine;
use common::sms::SmsStandIn;
use common::{Install, run_within, stderr, stdout};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

const NUMBER: &str = "+966501234567";
const MASKED: &str = "+**********67";

/// Writes `toml` as the install's configuration file.
fn config(install: &Install, toml: &str) -> PathBuf {
    let file = install.path("config.toml");
    std::fs::write(&file, toml).unwrap();
    file
}

/// A file holding a secret, with these permissions.
fn secret_file(install: &Install, name: &str, value: &str, mode: u32) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let file = install.path(name);
    std::fs::write(&file, format!("{value}\n")).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).unwrap();
    file
}

/// `whatsapi sms test --to NUMBER --config FILE`, which must end by itself.
fn sms_test(install: &Install, file: &Path, to: &str) -> Output {
    let cmd = install.command(&[
        "sms",
        "test",
        "--to",
        to,
        "--config",
        file.to_str().unwrap(),
    ]);
    run_within(cmd, Duration::from_secs(60))
}

fn config_check(install: &Install, file: &Path) -> Output {
    let cmd = install.command(&["config", "check", "--config", file.to_str().unwrap()]);
    run_within(cmd, Duration::from_secs(60))
}

fn accepted(output: &Output, provider: &str) {
    assert_eq!(
        output.status.code(),
        Some(0),
        "stdout: {}\nstderr: {}",
        stdout(output),
        stderr(output)
    );
    assert_eq!(stdout(output).trim(), format!("accepted by {provider}"));
}

/// A refusal by the provider (exit 1): its words on stderr, which must not hold the number's digits
/// (but the last two), the test's code, its text or any of `secrets`.
fn failed(output: &Output, secrets: &[&str]) -> String {
    let all = format!("{}{}", stdout(output), stderr(output));
    assert_eq!(output.status.code(), Some(1), "{all}");
    assert!(all.contains("error: "), "{all}");
    let digits = &NUMBER[1..NUMBER.len() - 2];
    for window in digits.as_bytes().windows(5) {
        let window = std::str::from_utf8(window).unwrap();
        assert!(!all.contains(window), "{window} of the number in: {all}");
    }
    for private in ["000000", "No action needed"].iter().chain(secrets) {
        assert!(!all.contains(private), "{private} in: {all}");
    }
    all
}

#[test]
fn the_generic_json_template_arrives_filled_and_escaped() {
    let install = Install::new();
    let provider = SmsStandIn::answering(200, r#"{"id": "m-1"}"#);
    let token = secret_file(&install, "sms-token", "bearer-tok-5150", 0o600);
    let toml = format!(
        r#"
[branding]
product_name = 'Shop "One" \ Co'
[sms]
provider = "http"
url = "{}/v1/send?lang={{lang}}"
body = '{{"to": "{{to}}", "digits": "{{to_digits}}", "message": "{{text}}", "otp": "{{code}}"}}'
headers = {{ Authorization = "Bearer {{secret}}", X-Tenant = "shop-7" }}
secret_file = "{}"
"#,
        provider.url,
        token.display()
    );
    let file = config(&install, &toml);
    accepted(&sms_test(&install, &file, NUMBER), "http");
    let request = provider.last();
    assert_eq!(request.method, "POST");
    assert_eq!(request.target, "/v1/send?lang=en");
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(
        request.header("authorization"),
        Some("Bearer bearer-tok-5150")
    );
    assert_eq!(request.header("x-tenant"), Some("shop-7"));
    assert_eq!(
        request.json(),
        json!({"to": NUMBER, "digits": "966501234567", "otp": "000000",
            "message": "Shop \"One\" \\ Co: a test message from your server. No action needed."})
    );

    // The token and the header's value are masked when the configuration is printed.
    let check = config_check(&install, &file);
    assert!(check.status.success(), "{}", stderr(&check));
    let printed = stdout(&check);
    assert!(
        printed.contains("secret_file") && printed.contains("********"),
        "{printed}"
    );
    assert!(
        !printed.contains("bearer-tok-5150") && !printed.contains("shop-7"),
        "{printed}"
    );

    // A token file others may read is refused before anything is sent.
    secret_file(&install, "sms-token", "bearer-tok-5150", 0o640);
    let output = sms_test(&install, &file, NUMBER);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(
        message.contains("sms.secret_file") && message.contains("chmod 600"),
        "{message}"
    );
    assert_eq!(provider.requests().len(), 1, "the refused run sent nothing");
}

#[test]
fn a_form_template_posts_a_form_and_a_get_sends_the_query() {
    let install = Install::new();
    let provider = SmsStandIn::answering(202, "queued");
    let file = config(
        &install,
        &format!(
            r#"
[sms]
provider = "http"
url = "{}/form"
encoding = "form"
body = "to={{to_digits}}&text={{text}}&sender=Shop%20One"
headers = {{ X-Api-Key = "key-77" }}
"#,
            provider.url
        ),
    );
    accepted(&sms_test(&install, &file, NUMBER), "http");
    let request = provider.last();
    assert_eq!((request.method.as_str(), request.path()), ("POST", "/form"));
    assert_eq!(
        request.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(request.header("x-api-key"), Some("key-77"));
    let text = "WhatsAPI Pro: a test message from your server. No action needed.";
    assert_eq!(
        request.form(),
        [
            ("to", "966501234567"),
            ("text", text),
            ("sender", "Shop One")
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
    );

    let file = config(
        &install,
        &format!(
            "[sms]\nprovider = \"http\"\nmethod = \"GET\"\nencoding = \"form\"\nurl = \"{}/get?user=u1\"\nbody = \"to={{to}}&msg={{text}}\"\n",
            provider.url
        ),
    );
    accepted(&sms_test(&install, &file, NUMBER), "http");
    let request = provider.last();
    assert_eq!((request.method.as_str(), request.path()), ("GET", "/get"));
    assert_eq!(request.body, "");
    assert_eq!(request.field("user").as_deref(), Some("u1"));
    assert_eq!(request.field("to").as_deref(), Some(NUMBER));
    assert_eq!(request.field("msg").as_deref(), Some(text));
}

#[test]
fn accepted_when_refuses_a_2xx_without_its_words() {
    let install = Install::new();
    let with = |provider: &SmsStandIn| {
        config(
            &install,
            &format!(
                "[sms]\nprovider = \"http\"\nurl = \"{}/send\"\nbody = '{{\"to\": \"{{to}}\", \"text\": \"{{text}}\"}}'\naccepted_when = '\"state\": \"sent\"'\n",
                provider.url
            ),
        )
    };
    let refusing = SmsStandIn::answering(200, r#"{"state": "no-credit"}"#);
    let output = sms_test(&install, &with(&refusing), NUMBER);
    let words = failed(&output, &[]);
    assert!(
        words.contains("HTTP 200")
            && words.contains("accepted_when")
            && words.contains("no-credit"),
        "{words}"
    );
    assert_eq!(refusing.requests().len(), 1);

    let accepting = SmsStandIn::answering(200, r#"{"state": "sent"}"#);
    accepted(&sms_test(&install, &with(&accepting), NUMBER), "http");
}

#[test]
fn twilio_gets_its_documented_request_and_its_refusal_is_told() {
    let install = Install::new();
    let sid = "AC0123456789abcdef0123456789abcdef";
    let provider = SmsStandIn::start(move |request| {
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{sid}:tw-token-31"));
        let path = format!("/2010-04-01/Accounts/{sid}/Messages.json");
        Some(
            if request.header("authorization") != Some(&format!("Basic {basic}")) {
                (
                    401,
                    r#"{"code": 20003, "message": "Authenticate", "status": 401}"#.into(),
                )
            } else if request.method != "POST" || request.path() != path {
                (
                    404,
                    r#"{"code": 20404, "message": "not found", "status": 404}"#.into(),
                )
            } else {
                (201, r#"{"sid": "SM0123", "status": "queued"}"#.into())
            },
        )
    });
    let token = secret_file(&install, "twilio-token", "tw-token-31", 0o600);
    let toml = format!(
        "[sms]\nprovider = \"twilio\"\nbase_url = \"{}\"\naccount_sid = \"{sid}\"\nauth_token_file = \"{}\"\nfrom = \"+15005550006\"\n",
        provider.url,
        token.display()
    );
    let file = config(&install, &toml);
    accepted(&sms_test(&install, &file, NUMBER), "twilio");
    let request = provider.last();
    assert_eq!(
        request.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(request.field("To").as_deref(), Some(NUMBER));
    assert_eq!(request.field("From").as_deref(), Some("+15005550006"));
    assert!(
        request
            .field("Body")
            .unwrap()
            .ends_with("No action needed.")
    );

    // A wrong token: Twilio's own words, and not the token.
    secret_file(&install, "twilio-token", "tw-token-wrong", 0o600);
    let words = failed(&sms_test(&install, &file, NUMBER), &["tw-token"]);
    assert!(
        words.contains("HTTP 401") && words.contains("20003: Authenticate"),
        "{words}"
    );

    // Twilio echoes the number in its message: it is masked, in the error and in the log line.
    let echoing = SmsStandIn::answering(
        400,
        &format!(
            r#"{{"code": 21211, "message": "The 'To' number {NUMBER} is not a valid phone number.", "status": 400}}"#
        ),
    );
    let file = config(&install, &toml.replace(&provider.url, &echoing.url));
    secret_file(&install, "twilio-token", "tw-token-31", 0o600);
    let words = failed(&sms_test(&install, &file, NUMBER), &["tw-token-31"]);
    assert!(
        words.contains("HTTP 400") && words.contains("21211: The 'To' number +**********67 is not"),
        "{words}"
    );
    assert!(
        words.contains(&format!("to={MASKED}")),
        "the log line names the masked number: {words}"
    );
}

#[test]
fn vonage_sends_arabic_as_unicode_and_reads_its_status() {
    let install = Install::new();
    let provider = SmsStandIn::answering(
        200,
        r#"{"message-count": "1", "messages": [{"to": "966501234567", "message-id": "0A00", "status": "0"}]}"#,
    );
    let vonage = |url: &str, product: &str| {
        config(
            &install,
            &format!(
                "[branding]\nproduct_name = \"{product}\"\n[sms]\nprovider = \"vonage\"\nbase_url = \"{url}\"\napi_key = \"vk-1\"\napi_secret = \"vs-secret-2\"\nfrom = \"Shop\"\n"
            ),
        )
    };
    accepted(
        &sms_test(&install, &vonage(&provider.url, "متجر النور"), NUMBER),
        "vonage",
    );
    let request = provider.last();
    assert_eq!(
        (request.method.as_str(), request.path()),
        ("POST", "/sms/json")
    );
    for (name, value) in [
        ("api_key", "vk-1"),
        ("api_secret", "vs-secret-2"),
        ("from", "Shop"),
        ("to", "966501234567"),
        ("type", "unicode"),
    ] {
        assert_eq!(request.field(name).as_deref(), Some(value), "{name}");
    }
    assert!(
        request
            .field("text")
            .unwrap()
            .starts_with("متجر النور: a test")
    );
    // Latin text is sent as GSM-7 text, without type=unicode.
    accepted(
        &sms_test(&install, &vonage(&provider.url, "Shop One"), NUMBER),
        "vonage",
    );
    assert_eq!(provider.last().field("type"), None);

    // HTTP 200 with a non-zero status is a refusal, in Vonage's words.
    let refusing = SmsStandIn::answering(
        200,
        r#"{"message-count": "1", "messages": [{"status": "2", "error-text": "Missing to param"}]}"#,
    );
    let words = failed(
        &sms_test(&install, &vonage(&refusing.url, "Shop"), NUMBER),
        &["vs-secret-2"],
    );
    assert!(
        words.contains("HTTP 200") && words.contains("status 2: Missing to param"),
        "{words}"
    );
}

#[test]
fn unifonic_gets_its_documented_request_and_success_false_is_refused() {
    let install = Install::new();
    let unifonic = |url: &str| {
        config(
            &install,
            &format!(
                "[sms]\nprovider = \"unifonic\"\nbase_url = \"{url}\"\napp_sid = \"uni-app-sid-9\"\nfrom = \"SHOP\"\n"
            ),
        )
    };
    let provider = SmsStandIn::answering(
        200,
        r#"{"success": true, "message": "", "errorCode": "ER-00", "data": {"MessageID": 41, "Status": "Sent"}}"#,
    );
    accepted(
        &sms_test(&install, &unifonic(&provider.url), NUMBER),
        "unifonic",
    );
    let request = provider.last();
    assert_eq!(
        (request.method.as_str(), request.path()),
        ("POST", "/rest/SMS/messages")
    );
    assert_eq!(request.header("accept"), Some("application/json"));
    for (name, value) in [
        ("AppSid", "uni-app-sid-9"),
        ("SenderID", "SHOP"),
        ("Recipient", "966501234567"),
    ] {
        assert_eq!(request.field(name).as_deref(), Some(value), "{name}");
    }
    assert!(request.field("Body").unwrap().contains("a test message"));

    let refusing = SmsStandIn::answering(
        200,
        r#"{"success": false, "message": "Wrong AppSid uni-app-sid-9", "errorCode": "ER-21"}"#,
    );
    let words = failed(
        &sms_test(&install, &unifonic(&refusing.url), NUMBER),
        &["uni-app-sid-9"],
    );
    assert!(words.contains("ER-21: Wrong AppSid ********"), "{words}");
}

#[test]
fn a_failing_or_silent_provider_fails_the_command_without_private_words() {
    let install = Install::new();
    let generic = |url: &str, extra: &str| {
        config(
            &install,
            &format!(
                "[sms]\nprovider = \"http\"\nurl = \"{url}/send\"\nbody = '{{\"to\": \"{{to}}\", \"text\": \"{{text}}\", \"otp\": \"{{code}}\"}}'\nheaders = {{ X-Key = \"hdr-secret-4\" }}\n{extra}"
            ),
        )
    };
    // A 500 that echoes everything it was sent.
    let failing =
        SmsStandIn::start(|request| Some((500, format!("could not send {}", request.body))));
    let words = failed(
        &sms_test(&install, &generic(&failing.url, ""), NUMBER),
        &["hdr-secret-4"],
    );
    assert!(
        words.contains("HTTP 500") && words.contains(MASKED),
        "{words}"
    );
    assert_eq!(failing.requests().len(), 1);

    let silent = SmsStandIn::silent();
    let words = failed(
        &sms_test(
            &install,
            &generic(&silent.url, "timeout_secs = 1\n"),
            NUMBER,
        ),
        &["hdr-secret-4"],
    );
    assert!(words.contains("did not answer within 1 s"), "{words}");
    assert_eq!(
        silent.requests().len(),
        1,
        "the request reached the provider"
    );

    // Nothing listening at all.
    let closed = format!("http://127.0.0.1:{}", common::free_port());
    let words = failed(
        &sms_test(&install, &generic(&closed, ""), NUMBER),
        &["hdr-secret-4"],
    );
    assert!(words.contains("could not be reached"), "{words}");
}

#[test]
fn a_missing_credential_or_an_unknown_provider_is_refused_by_name() {
    let install = Install::new();
    let twilio = "[sms]\nprovider = \"twilio\"\naccount_sid = \"AC1\"\nfrom = \"+15005550006\"\n";
    let file = config(&install, twilio);
    let output = config_check(&install, &file);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("sms.auth_token: is needed"),
        "{}",
        stderr(&output)
    );
    let output = sms_test(&install, &file, NUMBER);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("sms.auth_token"),
        "{}",
        stderr(&output)
    );

    let file = config(&install, &format!("{twilio}auth_token = \"tw-inline-8\"\n"));
    let output = config_check(&install, &file);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(!stdout(&output).contains("tw-inline-8"));

    let file = config(&install, "[sms]\nprovider = \"smsglobal\"\n");
    let output = config_check(&install, &file);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(
        message.contains("smsglobal") && message.contains("provider"),
        "{message}"
    );
}

#[test]
fn without_a_gateway_or_with_a_bad_number_nothing_is_sent() {
    let install = Install::new();
    let output = sms_test(&install, &config(&install, ""), NUMBER);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("no SMS gateway is configured"),
        "{}",
        stderr(&output)
    );

    let provider = SmsStandIn::answering(200, "ok");
    let file = config(
        &install,
        &format!(
            "[sms]\nprovider = \"http\"\nurl = \"{}/send\"\nbody = '{{\"to\": \"{{to}}\", \"text\": \"{{text}}\"}}'\n",
            provider.url
        ),
    );
    for bad in ["0501234567", "+0966501234567", "+96650123456789012"] {
        let output = sms_test(&install, &file, bad);
        assert_eq!(output.status.code(), Some(2), "{bad}");
        assert!(stderr(&output).contains("E.164"), "{}", stderr(&output));
    }
    accepted(&sms_test(&install, &file, NUMBER), "http");
    assert_eq!(
        provider.requests().len(),
        1,
        "only the valid number was sent to"
    );
}
