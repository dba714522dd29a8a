//! The configuration as operators meet it: `whatsapi config check`, `init`, and refusals at start.

mod common;

use common::{Install, mode_of, stderr, stdout};

fn effective(output: &std::process::Output) -> toml::Value {
    assert!(output.status.success(), "{}", stderr(output));
    toml::from_str(&stdout(output)).expect("config check prints TOML")
}

#[test]
fn defaults_apply_when_nothing_is_configured() {
    let install = Install::new();
    let mut cmd = install.command(&["config", "check"]);
    cmd.env_remove("WHATSAPI_SERVER__PORT")
        .env_remove("WHATSAPI_STORAGE__DATA_DIR")
        .env_remove("WHATSAPI_STORAGE__KEY_FILE");
    let config = effective(&cmd.output().unwrap());
    assert_eq!(config["server"]["address"].as_str(), Some("127.0.0.1"));
    assert_eq!(config["server"]["port"].as_integer(), Some(8080));
    assert_eq!(
        config["server"]["public_url"].as_str(),
        Some("http://127.0.0.1:8080")
    );
    assert_eq!(
        config["storage"]["data_dir"].as_str(),
        Some("./whatsapi-data")
    );
    assert_eq!(
        config["storage"]["key_file"].as_str(),
        Some("./whatsapi-master.key")
    );
    assert_eq!(config["sessions"]["idle_minutes"].as_integer(), Some(30));
}

#[test]
fn the_environment_wins_over_the_file_which_wins_over_defaults() {
    let install = Install::new();
    let file = install.path("config.toml");
    std::fs::write(&file, "[server]\nport = 9100\n\n[log]\nlevel = \"debug\"\n").unwrap();
    let mut cmd = install.command(&["config", "check", "--config", file.to_str().unwrap()]);
    cmd.env("WHATSAPI_SERVER__PORT", "9200");
    let config = effective(&cmd.output().unwrap());
    assert_eq!(
        config["server"]["port"].as_integer(),
        Some(9200),
        "environment over file"
    );
    assert_eq!(
        config["log"]["level"].as_str(),
        Some("debug"),
        "file over default"
    );
    assert_eq!(
        config["storage"]["readers"].as_integer(),
        Some(4),
        "default where neither says"
    );
}

#[test]
fn secrets_are_masked_in_the_effective_configuration() {
    let install = Install::new();
    let mut cmd = install.command(&["config", "check"]);
    cmd.env("WHATSAPI_SMTP__PASSWORD", "hunter2-smtp-secret");
    let output = cmd.output().unwrap();
    let config = effective(&output);
    assert_eq!(config["smtp"]["password"].as_str(), Some("********"));
    assert!(!stdout(&output).contains("hunter2"));
}

#[test]
fn an_unknown_key_stops_with_an_error_naming_it() {
    let install = Install::new();
    let file = install.path("config.toml");
    std::fs::write(&file, "[server]\nportt = 1\n").unwrap();
    let output = install.run(&["config", "check", "--config", file.to_str().unwrap()]);
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(
        message.contains("portt") && message.contains("config.toml"),
        "{message}"
    );

    std::fs::write(&file, "[sever]\nport = 1\n").unwrap();
    let output = install.run(&["config", "check", "--config", file.to_str().unwrap()]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("sever"), "{}", stderr(&output));

    let mut cmd = install.command(&["config", "check"]);
    cmd.env("WHATSAPI_SERVER__PORTT", "1");
    let output = cmd.output().unwrap();
    assert!(!output.status.success());
    let message = stderr(&output).to_lowercase();
    assert!(
        message.contains("portt") && message.contains("environment"),
        "{message}"
    );

    // `serve` refuses the same way, before creating anything.
    let mut cmd = install.command(&["serve"]);
    cmd.env("WHATSAPI_SERVER__PORTT", "1");
    let output = cmd.output().unwrap();
    assert!(!output.status.success());
    assert!(!install.data_dir().exists() && !install.key_file().exists());
}

#[test]
fn a_bad_cron_expression_is_refused_at_start() {
    let install = Install::new();
    let mut cmd = install.command(&["serve"]);
    cmd.env("WHATSAPI_STORAGE__MAINTENANCE_SCHEDULE", "every night");
    let output = cmd.output().unwrap();
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(
        message.contains("storage.maintenance_schedule"),
        "{message}"
    );
    assert!(message.contains("six fields"), "{message}");
    assert!(
        !install.data_dir().exists() && !install.key_file().exists(),
        "nothing created"
    );

    let mut cmd = install.command(&["config", "check"]);
    cmd.env("WHATSAPI_STORAGE__MAINTENANCE_SCHEDULE", "0 3 * * *");
    effective(&cmd.output().unwrap());
}

#[test]
fn invalid_values_name_their_key() {
    let install = Install::new();
    for (var, value, key) in [
        ("WHATSAPI_SERVER__PORT", "70000", "port"),
        (
            "WHATSAPI_SERVER__PUBLIC_URL",
            "ftp://example.com",
            "server.public_url",
        ),
        (
            "WHATSAPI_SERVER__TLS_CERT",
            "/etc/hostname",
            "server.tls_cert",
        ),
        (
            "WHATSAPI_SESSIONS__IDLE_MINUTES",
            "0",
            "sessions.idle_minutes",
        ),
        (
            "WHATSAPI_BRANDING__PRIMARY_COLOR",
            "teal",
            "branding.primary_color",
        ),
    ] {
        let mut cmd = install.command(&["config", "check"]);
        cmd.env(var, value);
        let output = cmd.output().unwrap();
        assert!(!output.status.success(), "{var}={value} was accepted");
        let message = stderr(&output).to_lowercase();
        assert!(message.contains(key), "{var}={value}: {message}");
    }
    let mut cmd = install.command(&["config", "check"]);
    cmd.env(
        "WHATSAPI_STORAGE__KEY_FILE",
        install.data_dir().join("master.key"),
    );
    std::fs::create_dir_all(install.data_dir()).unwrap();
    let output = cmd.output().unwrap();
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("storage.key_file"),
        "{}",
        stderr(&output)
    );

    let missing = install.run(&["config", "check", "--config", "/nonexistent/whatsapi.toml"]);
    assert!(!missing.status.success());
    assert!(stderr(&missing).contains("/nonexistent/whatsapi.toml"));
}

#[test]
fn init_writes_a_working_configuration_and_key_once() {
    let install = Install::new();
    let etc = install.path("etc");
    std::fs::create_dir(&etc).unwrap();
    let (config, key, data) = (
        etc.join("config.toml"),
        etc.join("master.key"),
        install.path("var"),
    );
    let args = [
        "init",
        "--config",
        config.to_str().unwrap(),
        "--key-file",
        key.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
    ];
    let output = install.run(&args);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(mode_of(&config), 0o640);
    assert_eq!(mode_of(&key), 0o600);

    let mut check = install.command(&["config", "check", "--config", config.to_str().unwrap()]);
    check
        .env_remove("WHATSAPI_STORAGE__DATA_DIR")
        .env_remove("WHATSAPI_STORAGE__KEY_FILE");
    let effective = effective(&check.output().unwrap());
    assert_eq!(effective["storage"]["data_dir"].as_str(), data.to_str());
    assert_eq!(effective["storage"]["key_file"].as_str(), key.to_str());

    let (config_before, key_before) = (
        std::fs::read(&config).unwrap(),
        std::fs::read(&key).unwrap(),
    );
    let again = install.run(&args);
    assert!(again.status.success());
    assert_eq!(
        std::fs::read(&config).unwrap(),
        config_before,
        "init leaves an existing config alone"
    );
    assert_eq!(
        std::fs::read(&key).unwrap(),
        key_before,
        "init never replaces a key"
    );
}

#[test]
fn every_command_has_help_and_the_binary_a_version() {
    let install = Install::new();
    let version = install.run(&["--version"]);
    assert!(stdout(&version).contains(env!("CARGO_PKG_VERSION")));
    for command in [
        &["serve"][..],
        &["init"],
        &["migrate"],
        &["config", "check"],
        &["doctor"],
        &["backup"],
        &["keys", "rotate"],
        &["bench", "store"],
        &["bench", "footprint"],
    ] {
        let mut args = command.to_vec();
        args.push("--help");
        let output = install.run(&args);
        assert!(output.status.success(), "{command:?} --help failed");
        assert!(
            stdout(&output).contains("Usage: whatsapi"),
            "{command:?}: {}",
            stdout(&output)
        );
    }
}
