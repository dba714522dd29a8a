use super::*;
use crate::config::Config;
use rocket::figment::Figment;
use rocket::figment::providers::{Format, Serialized, Toml};

fn load(toml: &str) -> Result<Config, String> {
    let mut config: Config = Figment::from(Serialized::defaults(Config::default()))
        .merge(Toml::string(toml))
        .extract()
        .map_err(|e| e.to_string())?;
    config.validate().map_err(|e| e.to_string())?;
    Ok(config)
}

fn refused(toml: &str) -> String {
    match load(toml) {
        Ok(_) => panic!("accepted:\n{toml}"),
        Err(e) => e,
    }
}

const GENERIC: &str = r#"
[sms]
provider = "http"
url = "https://sms.example.com/send"
body = '{"to": "{to}", "message": "{text}"}'
"#;

#[test]
fn no_gateway_by_default() {
    let config = load("").unwrap();
    assert!(!config.sms.enabled());
    assert_eq!(config.sms.timeout_secs, 10);
}

#[test]
fn the_generic_provider_is_checked() {
    let config = load(GENERIC).unwrap();
    assert!(config.sms.enabled());
    assert_eq!(config.sms.method, "POST");

    let err = refused("[sms]\nprovider = \"http\"\n");
    assert!(err.starts_with("sms.url"), "{err}");
    let err = refused(&format!("{GENERIC}method = \"PATCH\"\n"));
    assert!(err.starts_with("sms.method"), "{err}");
    let err = refused(&format!("{GENERIC}encoding = \"xml\"\n"));
    assert!(err.starts_with("sms.encoding"), "{err}");
    let err = refused(&format!("{GENERIC}timeout_secs = 0\n"));
    assert!(err.starts_with("sms.timeout_secs"), "{err}");
    let err = refused(&format!("{GENERIC}timeout_secs = 61\n"));
    assert!(err.starts_with("sms.timeout_secs"), "{err}");
    load(&format!("{GENERIC}timeout_secs = 60\nmethod = \"put\"\n")).unwrap();

    // A placeholder outside a JSON string, JSON that is not, a typo in a placeholder.
    for body in [
        r#"{"to": {to}, "text": "{text}"}"#,
        r#"{"to": "{to}", "code": {code}}"#,
        r#"{"to": "{to}""#,
        r#"{"to": "{number}"}"#,
    ] {
        let err = refused(&GENERIC.replace(
            r#"'{"to": "{to}", "message": "{text}"}'"#,
            &format!("'{body}'"),
        ));
        assert!(err.starts_with("sms.body"), "{body}: {err}");
    }
    let form =
        "[sms]\nprovider = \"http\"\nurl = \"https://sms.example.com/send\"\nencoding = \"form\"\n";
    load(&format!(
        "{form}body = \"to={{to_digits}}&text={{text}}\"\n"
    ))
    .unwrap();
    let err = refused(&format!("{form}body = \"\"\n"));
    assert!(err.starts_with("sms.body"), "{err}");
    // GET: the query may be in the URL alone.
    load("[sms]\nprovider = \"http\"\nmethod = \"GET\"\nencoding = \"form\"\nurl = \"https://sms.example.com/send?to={to}&msg={text}\"\n").unwrap();
}

#[test]
fn the_address_is_https_or_this_machine() {
    for url in [
        "http://127.0.0.1:9000/send",
        "http://localhost/send?x=1",
        "http://[::1]:80/send",
        "https://sms.example.com/{to}",
    ] {
        load(&GENERIC.replace("https://sms.example.com/send", url))
            .unwrap_or_else(|e| panic!("{url}: {e}"));
    }
    for url in [
        "http://sms.example.com/send",
        "http://10.0.0.5/send",
        "ftp://127.0.0.1/send",
        "https://user:pw@sms.example.com/send",
        "sms.example.com/send",
    ] {
        let err = refused(&GENERIC.replace("https://sms.example.com/send", url));
        assert!(err.starts_with("sms.url"), "{url}: {err}");
    }
    let twilio = "[sms]\nprovider = \"twilio\"\naccount_sid = \"AC1\"\nauth_token = \"t\"\nfrom = \"+15550001111\"\n";
    let config = load(twilio).unwrap();
    assert_eq!(config.sms.preset_base(), TWILIO_API_URL);
    let config = load(&format!("{twilio}base_url = \"http://127.0.0.1:4000/\"\n")).unwrap();
    assert_eq!(config.sms.preset_base(), "http://127.0.0.1:4000");
    let err = refused(&format!("{twilio}base_url = \"http://api.twilio.com\"\n"));
    assert!(err.starts_with("sms.base_url"), "{err}");
}

#[test]
fn each_preset_names_the_credential_it_lacks() {
    let cases = [
        ("twilio", "", "sms.account_sid"),
        (
            "twilio",
            "account_sid = \"AC1\"\nfrom = \"+1555\"\n",
            "sms.auth_token",
        ),
        (
            "twilio",
            "account_sid = \"AC1\"\nauth_token = \"t\"\n",
            "sms.from",
        ),
        (
            "twilio",
            "account_sid = \"AC/../x\"\nauth_token = \"t\"\nfrom = \"x\"\n",
            "sms.account_sid",
        ),
        (
            "vonage",
            "api_secret = \"s\"\nfrom = \"Shop\"\n",
            "sms.api_key",
        ),
        (
            "vonage",
            "api_key = \"k\"\nfrom = \"Shop\"\n",
            "sms.api_secret",
        ),
        (
            "vonage",
            "api_key = \"k\"\napi_secret = \"s\"\n",
            "sms.from",
        ),
        ("unifonic", "from = \"Shop\"\n", "sms.app_sid"),
        ("unifonic", "app_sid = \"  \"\n", "sms.app_sid"),
    ];
    for (provider, keys, missing) in cases {
        let err = refused(&format!("[sms]\nprovider = \"{provider}\"\n{keys}"));
        assert!(err.starts_with(missing), "{provider} {keys}: {err}");
    }
    load("[sms]\nprovider = \"twilio\"\naccount_sid = \"AC1\"\nauth_token = \"t\"\nmessaging_service_sid = \"MG1\"\n").unwrap();
    load("[sms]\nprovider = \"vonage\"\napi_key = \"k\"\napi_secret = \"s\"\nfrom = \"Shop\"\n")
        .unwrap();
    load("[sms]\nprovider = \"unifonic\"\napp_sid = \"a\"\n").unwrap();
    let err = refused("[sms]\nprovider = \"sms-r-us\"\n");
    assert!(
        err.contains("sms-r-us") && err.contains("provider"),
        "{err}"
    );
}

#[test]
fn another_providers_keys_are_refused() {
    let err = refused("[sms]\nprovider = \"unifonic\"\napp_sid = \"a\"\nauth_token = \"t\"\n");
    assert!(
        err.starts_with("sms.auth_token") && err.contains("\"twilio\""),
        "{err}"
    );
    let err = refused(&format!("{GENERIC}from = \"Shop\"\n"));
    assert!(err.starts_with("sms.from"), "{err}");
    // Settings without a provider are a forgotten provider.
    let err = refused("[sms]\nurl = \"https://sms.example.com\"\n");
    assert!(
        err.starts_with("sms.url") && err.contains("\"none\""),
        "{err}"
    );
}

#[test]
fn secret_placeholders_need_a_secret_and_headers_are_one_line() {
    let with_header = format!("{GENERIC}headers = {{ Authorization = \"Bearer {{secret}}\" }}\n");
    let err = refused(&with_header);
    assert!(err.starts_with("sms.secret"), "{err}");
    let config = load(&format!("{with_header}secret = \"tok\"\n")).unwrap();
    assert_eq!(config.sms.secret().unwrap().expose(), "tok");
    let err = refused(&format!("{GENERIC}secret = \"tok\"\n"));
    assert!(err.contains("no template uses"), "{err}");
    let err = refused(&format!("{GENERIC}headers = {{ \"Bad Name\" = \"x\" }}\n"));
    assert!(err.starts_with("sms.headers"), "{err}");
    let err = refused(&format!("{GENERIC}headers = {{ X-To = \"{{to}}\" }}\n"));
    assert!(err.starts_with("sms.headers"), "{err}");
    let err = refused(&format!(
        "{GENERIC}headers = {{ X-A = \"a\\r\\nX-B: b\" }}\n"
    ));
    assert!(err.starts_with("sms.headers"), "{err}");
}

#[test]
fn a_secret_file_must_be_private_and_not_both() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, "tw-secret-123\n").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let twilio = format!(
        "[sms]\nprovider = \"twilio\"\naccount_sid = \"AC1\"\nfrom = \"+1555\"\nauth_token_file = \"{}\"\n",
        file.display()
    );
    let err = refused(&twilio);
    assert!(
        err.starts_with("sms.auth_token_file") && err.contains("chmod 600"),
        "{err}"
    );
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut config = load(&twilio).unwrap();
    assert_eq!(config.sms.auth_token().unwrap().expose(), "tw-secret-123");
    // Validating again (as tests and commands do) reads it again, without calling it "both".
    config.validate().unwrap();
    assert!(!config.to_toml().contains("tw-secret-123"));
    let err = refused(&format!("{twilio}auth_token = \"inline\"\n"));
    assert!(err.contains("not both"), "{err}");
    let missing = twilio.replace("token\"", "nothing-here\"");
    assert!(refused(&missing).starts_with("sms.auth_token_file"));
}

#[test]
fn secrets_are_masked_when_printed() {
    let config = load(
        "[sms]\nprovider = \"vonage\"\napi_key = \"key-1\"\napi_secret = \"vonage-secret-9\"\nfrom = \"Shop\"\n",
    )
    .unwrap();
    let printed = config.to_toml();
    assert!(!printed.contains("vonage-secret-9"), "{printed}");
    assert!(printed.contains("********"), "{printed}");
    assert!(!format!("{:?}", config.sms).contains("vonage-secret-9"));
}
