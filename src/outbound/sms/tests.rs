//! Filling and escaping of the templates, the presets' requests and how their answers are read. No
//! network: requests are built and looked at; the real calls are in `tests/sms_gateway.rs`.

use super::request::{Escape, fill, is_gsm7, percent};
use super::*;
use base64::Engine;
use serde_json::{Value, json};

fn gateway(toml: &str) -> SmsGateway {
    let mut sms: config::Sms = toml::from_str(toml).expect("an [sms] section");
    sms.validate().expect("a valid [sms]");
    SmsGateway::new(&sms).expect("a gateway")
}

fn message<'a>(text: &'a str, lang: &'a str) -> SmsMessage<'a> {
    SmsMessage {
        to: "+966501234567",
        text,
        code: "482913",
        lang,
    }
}

/// `application/x-www-form-urlencoded`, decoded (`%XX` bytes, `+` as a space).
fn decode_form(body: &[u8]) -> Vec<(String, String)> {
    let decode = |s: &str| {
        let bytes = s.replace('+', " ").into_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    };
    std::str::from_utf8(body)
        .unwrap()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn header<'a>(outgoing: &'a Outgoing, name: &str) -> Option<&'a str> {
    outgoing
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

const AWKWARD: &str = "Code \"482913\" \\ for {to}\nrmz: رمزك 482913 & 100% +ok";

#[test]
fn a_json_template_gets_each_value_as_the_content_of_its_string() {
    let values = [
        "+966501234567",
        "966501234567",
        "482913",
        AWKWARD,
        "ar",
        "tok",
    ];
    let template = r#"{"to": "{to}", "n": "{to_digits}", "msg": "{text}", "otp": "{code}", "l": "{lang}", "k": "k-{secret}", "keep": "{other}"}"#;
    let filled = fill(template, &values, Escape::Json);
    let parsed: Value = serde_json::from_str(&filled).expect(&filled);
    assert_eq!(
        parsed,
        json!({"to": "+966501234567", "n": "966501234567", "msg": AWKWARD, "otp": "482913",
            "l": "ar", "k": "k-tok", "keep": "{other}"})
    );
    // One pass: a value that holds a placeholder's name is sent as it is.
    assert!(filled.contains("for {to}"), "{filled}");
    // JSON's own braces and lone ones stay.
    assert_eq!(fill("{ {to", &values, Escape::Json), "{ {to");
}

#[test]
fn a_form_template_and_the_url_get_percent_encoded_values() {
    let values = [
        "+966501234567",
        "966501234567",
        "482913",
        AWKWARD,
        "ar",
        "t&k=1",
    ];
    let filled = fill(
        "to={to}&text={text}&sender=Shop%20One",
        &values,
        Escape::Percent,
    );
    let form = decode_form(filled.as_bytes());
    assert_eq!(field(&form, "to"), Some("+966501234567"));
    assert_eq!(field(&form, "text"), Some(AWKWARD));
    assert_eq!(field(&form, "sender"), Some("Shop One"));
    assert_eq!(form.len(), 3, "a value's & and = stay inside it: {form:?}");
    assert_eq!(percent("a b+~"), "a%20b%2B~");
}

#[test]
fn the_generic_provider_builds_its_request() {
    let json = gateway(
        r#"
        provider = "http"
        url = "https://sms.example.com/v1/{lang}/send"
        body = '{"to": "{to}", "message": "{text}"}'
        headers = { Authorization = "Bearer {secret}", X-Client = "whatsapi" }
        secret = "tok-1"
        "#,
    );
    let out = json.inner.kind.request(&message(AWKWARD, "ar"));
    assert_eq!(
        (out.method, out.url.as_str()),
        ("POST", "https://sms.example.com/v1/ar/send")
    );
    assert_eq!(header(&out, "content-type"), Some("application/json"));
    assert_eq!(header(&out, "authorization"), Some("Bearer tok-1"));
    assert_eq!(header(&out, "x-client"), Some("whatsapi"));
    let body: Value = serde_json::from_slice(&out.body).unwrap();
    assert_eq!(body, json!({"to": "+966501234567", "message": AWKWARD}));

    let get = gateway(
        r#"
        provider = "http"
        method = "GET"
        encoding = "form"
        url = "http://127.0.0.1:9/send?user=shop"
        body = "to={to_digits}&msg={text}"
        headers = { Content-Type = "text/plain" }
        "#,
    );
    let out = get.inner.kind.request(&message("Your code 482913", "en"));
    assert_eq!(out.method, "GET");
    assert_eq!(
        out.url,
        "http://127.0.0.1:9/send?user=shop&to=966501234567&msg=Your%20code%20482913"
    );
    assert!(out.body.is_empty());
    assert_eq!(header(&out, "content-type"), Some("text/plain"));
}

#[test]
fn twilio_gets_its_documented_request() {
    let twilio = gateway(
        r#"
        provider = "twilio"
        account_sid = "AC0123456789abcdef0123456789abcdef"
        auth_token = "tw-token"
        from = "+15005550006"
        "#,
    );
    let out = twilio.inner.kind.request(&message("Code 482913", "en"));
    assert_eq!(
        out.url,
        "https://api.twilio.com/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json"
    );
    let basic = header(&out, "authorization")
        .unwrap()
        .strip_prefix("Basic ")
        .unwrap();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(basic)
        .unwrap();
    assert_eq!(decoded, b"AC0123456789abcdef0123456789abcdef:tw-token");
    let form = decode_form(&out.body);
    assert_eq!(field(&form, "To"), Some("+966501234567"));
    assert_eq!(field(&form, "From"), Some("+15005550006"));
    assert_eq!(field(&form, "Body"), Some("Code 482913"));
    assert_eq!(field(&form, "MessagingServiceSid"), None);

    let kind = &twilio.inner.kind;
    assert!(
        kind.judge(201, r#"{"sid": "SM1", "status": "queued"}"#)
            .is_ok()
    );
    let err = kind
        .judge(
            400,
            r#"{"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400}"#,
        )
        .unwrap_err();
    assert_eq!(err, "21211: Invalid 'To' Phone Number");
    assert!(kind.judge(200, "{}").is_err(), "a 2xx without a sid");
}

#[test]
fn vonage_gets_digits_and_unicode_for_arabic() {
    let vonage =
        gateway("provider = \"vonage\"\napi_key = \"vk\"\napi_secret = \"vs\"\nfrom = \"Shop\"\n");
    let out = vonage
        .inner
        .kind
        .request(&message("Your code 482913", "en"));
    assert_eq!(out.url, "https://rest.nexmo.com/sms/json");
    let form = decode_form(&out.body);
    for (name, value) in [
        ("api_key", "vk"),
        ("api_secret", "vs"),
        ("from", "Shop"),
        ("to", "966501234567"),
    ] {
        assert_eq!(field(&form, name), Some(value), "{name}");
    }
    assert_eq!(field(&form, "type"), None, "GSM-7 text is sent as text");
    let out = vonage.inner.kind.request(&message("رمزك 482913", "ar"));
    assert_eq!(field(&decode_form(&out.body), "type"), Some("unicode"));

    let kind = &vonage.inner.kind;
    assert!(
        kind.judge(
            200,
            r#"{"message-count": "1", "messages": [{"status": "0"}]}"#
        )
        .is_ok()
    );
    let err = kind
        .judge(
            200,
            r#"{"messages": [{"status": "2", "error-text": "Missing to param"}]}"#,
        )
        .unwrap_err();
    assert_eq!(err, "status 2: Missing to param");
    assert!(
        kind.judge(
            200,
            r#"{"messages": [{"status": "0"}, {"status": "9", "error-text": "x"}]}"#
        )
        .is_err()
    );
    assert!(
        kind.judge(500, r#"{"messages": [{"status": "0"}]}"#)
            .is_err()
    );
}

#[test]
fn unifonic_gets_its_documented_request() {
    let unifonic = gateway("provider = \"unifonic\"\napp_sid = \"uni-app\"\nfrom = \"SHOP\"\n");
    let out = unifonic.inner.kind.request(&message("رمزك 482913", "ar"));
    assert_eq!(out.url, "https://el.cloud.unifonic.com/rest/SMS/messages");
    let form = decode_form(&out.body);
    assert_eq!(field(&form, "AppSid"), Some("uni-app"));
    assert_eq!(field(&form, "SenderID"), Some("SHOP"));
    assert_eq!(field(&form, "Recipient"), Some("966501234567"));
    assert_eq!(field(&form, "Body"), Some("رمزك 482913"));
    let kind = &unifonic.inner.kind;
    assert!(
        kind.judge(
            200,
            r#"{"success": true, "message": "", "errorCode": "ER-00"}"#
        )
        .is_ok()
    );
    let err = kind
        .judge(
            200,
            r#"{"success": false, "message": "Invalid AppSid", "errorCode": "ER-21"}"#,
        )
        .unwrap_err();
    assert_eq!(err, "ER-21: Invalid AppSid");
}

#[test]
fn accepted_when_needs_its_words_in_a_2xx() {
    let gateway = gateway(
        "provider = \"http\"\nurl = \"https://sms.example.com\"\nbody = '{\"m\": \"{text}\"}'\naccepted_when = '\"state\":\"ok\"'\n",
    );
    let kind = &gateway.inner.kind;
    assert!(kind.judge(200, r#"{"state":"ok"}"#).is_ok());
    let err = kind.judge(200, r#"{"state":"no credit"}"#).unwrap_err();
    assert!(
        err.contains("accepted_when") && err.contains("no credit"),
        "{err}"
    );
    assert!(kind.judge(503, r#"{"state":"ok"}"#).is_err());
}

#[test]
fn only_codes_are_sent_and_only_to_e164_numbers() {
    // An address nothing listens on: a refusal must come before any call.
    let gateway =
        gateway("provider = \"unifonic\"\napp_sid = \"a\"\nbase_url = \"http://127.0.0.1:9\"\n");
    let refused = |text: &str, code: &str, to: &str| {
        let result = gateway.send(&SmsMessage {
            to,
            text,
            code,
            lang: "en",
        });
        match result {
            Err(SmsError::Invalid(why)) => why,
            other => panic!("{text:?} {code:?} {to:?}: {other:?}"),
        }
    };
    assert!(refused("Big sale this week!", "482913", "+966501234567").contains("code"));
    assert!(refused("Code 12", "12", "+966501234567").contains("digits"));
    assert!(refused("Code 482913", "482913", "0501234567").contains("E.164"));
    for (number, ok) in [
        ("+966501234567", true),
        ("+12345678", true),
        ("+1234567", false),
        ("+1234567890123456", false),
        ("+0966501234567", false),
        ("966501234567", false),
        ("+9665 0123", false),
    ] {
        assert_eq!(is_e164(number), ok, "{number}");
    }
}

#[test]
fn words_shown_or_logged_hold_no_code_text_secret_or_number() {
    let msg = message("Your code is 482913", "en");
    let secrets = [toml::from_str::<config::Sms>("secret = \"sk-live-abc\"").unwrap()]
        .map(|s| s.secret.unwrap());
    let scrub = Scrub::new(&msg, &secrets);
    let cleaned = scrub.clean(
        "bad key sk-live-abc for +966501234567 (0501234567): \"Your code is 482913\"\r\nX: code 482913",
    );
    assert_eq!(
        cleaned,
        "bad key ******** for +**********67 (********67): \"[text]\"  X: code [code]"
    );
    assert_eq!(mask_number("+966501234567"), "+**********67");
    assert!(scrub.clean(&"x".repeat(1000)).chars().count() <= 301);
}

#[test]
fn gsm7_is_told_from_what_needs_unicode() {
    assert!(is_gsm7(
        "WhatsAPI Pro: code 482913. {Ok} [€5] ~ ^ | \\ @ £ é"
    ));
    for text in ["رمزك 482913", "emoji 🙂", "back`tick", "ç lower"] {
        assert!(!is_gsm7(text), "{text}");
    }
}

#[test]
fn errors_say_what_happened_without_the_message() {
    let error = SmsError::Refused {
        provider: "twilio",
        http_status: 400,
        detail: "21211: Invalid 'To' Phone Number".into(),
    };
    assert_eq!(
        error.to_string(),
        "the SMS provider (twilio) did not accept the message (HTTP 400): 21211: Invalid 'To' Phone Number"
    );
    let error: crate::error::Error = SmsError::Timeout {
        provider: "http",
        secs: 1,
    }
    .into();
    assert_eq!(error.code().as_str(), "unavailable");
}

#[test]
fn the_gateway_moves_to_blocking_threads_and_prints_no_credential() {
    fn send_sync_clone<T: Send + Sync + Clone + 'static>() {}
    send_sync_clone::<SmsGateway>();
    let gateway = gateway("provider = \"unifonic\"\napp_sid = \"uni-secret\"\n");
    assert_eq!(gateway.provider_name(), "unifonic");
    let printed = format!("{gateway:?}");
    assert!(
        printed.contains("unifonic") && !printed.contains("uni-secret"),
        "{printed}"
    );
}
