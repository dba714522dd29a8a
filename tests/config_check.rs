//! The configuration through the real binary, as an operator meets it: `whatsapi config check`, `init`, and the
//! refusals of `serve` before it touches anything.
//!
//! `tests/config_sources.rs` already covers the defaults, file/environment precedence, masked secrets, an unknown
//! `[server] portt` and `WHATSAPI_SERVER__PORTT`, a bad cron expression at start, the invalid values of single
//! keys, `init` run twice, `--version` and `--help`. This file covers what those leave out: where an error comes
//! from (file, line, environment), what it tells the operator to do, derived values, and `init` end to end.

mod common;
mod tls_support;

use common::{Install, mode_of, run_within, stderr, stdout};
use std::path::Path;
use std::process::Output;
use std::time::Duration;

/// The effective configuration printed by a successful `config check`.
fn effective(output: &Output) -> toml::Value {
    assert!(
        output.status.success(),
        "config check failed: {}",
        stderr(output)
    );
    toml::from_str(&stdout(output)).expect("config check prints TOML")
}

/// `config check --config FILE` with FILE holding `text`; the install's paths still come from the environment,
/// but not the port, which would win over the file's.
fn check_file(install: &Install, text: &str) -> Output {
    let file = install.path("config.toml");
    std::fs::write(&file, text).unwrap();
    let mut cmd = install.command(&["config", "check", "--config", file.to_str().unwrap()]);
    cmd.env_remove("WHATSAPI_SERVER__PORT");
    cmd.output().unwrap()
}

/// Asserts a refusal: exit status 1, nothing on stdout, and an `error:` line on stderr, which it returns.
fn refusal(output: &Output) -> String {
    assert_eq!(
        output.status.code(),
        Some(1),
        "expected a refusal, got {:?}\nstdout: {}\nstderr: {}",
        output.status,
        stdout(output),
        stderr(output)
    );
    assert_eq!(stdout(output), "", "a refused configuration is not printed");
    let message = stderr(output);
    assert!(message.starts_with("error: "), "{message}");
    message
}

#[test]
fn the_derived_public_url_follows_the_effective_address_port_and_tls() {
    let install = Install::new();
    // The port comes from the environment over the file: the derived URL must use the winning one.
    let file = install.path("config.toml");
    std::fs::write(&file, "[server]\nport = 9100\n").unwrap();
    let mut cmd = install.command(&["config", "check", "--config", file.to_str().unwrap()]);
    cmd.env("WHATSAPI_SERVER__PORT", "9200");
    let config = effective(&cmd.output().unwrap());
    assert_eq!(
        config["server"]["public_url"].as_str(),
        Some("http://127.0.0.1:9200")
    );

    let mut cmd = install.command(&["config", "check"]);
    cmd.env("WHATSAPI_SERVER__ADDRESS", "::1")
        .env("WHATSAPI_SERVER__PORT", "8443");
    let config = effective(&cmd.output().unwrap());
    assert_eq!(
        config["server"]["public_url"].as_str(),
        Some("http://[::1]:8443"),
        "an IPv6 address is bracketed in a URL"
    );

    // Serving TLS directly (a certificate and its key): the derived URL is https.
    let (cert, key) = tls_support::Authority::new()
        .server(1, 2031)
        .write(install.dir.path());
    let mut cmd = install.command(&["config", "check"]);
    cmd.env("WHATSAPI_SERVER__TLS_CERT", cert)
        .env("WHATSAPI_SERVER__TLS_KEY", key)
        .env("WHATSAPI_SERVER__PORT", "8443");
    let config = effective(&cmd.output().unwrap());
    assert_eq!(
        config["server"]["public_url"].as_str(),
        Some("https://127.0.0.1:8443")
    );

    // A public URL that is set wins, without its trailing slash (links are built by appending paths).
    let mut cmd = install.command(&["config", "check"]);
    cmd.env("WHATSAPI_SERVER__PUBLIC_URL", "https://wa.example.com/");
    let config = effective(&cmd.output().unwrap());
    assert_eq!(
        config["server"]["public_url"].as_str(),
        Some("https://wa.example.com")
    );
}

#[test]
fn every_setting_of_the_example_file_uncommented_is_valid_and_is_the_default() {
    // Operators edit the shipped example by uncommenting lines: each documented value must parse and must be
    // the real default, or the comments lie about what the server does.
    let install = Install::new();
    let example =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml"))
            .unwrap();
    let mut uncommented = String::new();
    let mut count = 0;
    let mut in_sample_plan = false;
    for line in example.lines() {
        // The sample plan is an example of what to sell, not a default: it stays commented.
        in_sample_plan |= line == "# [[plans]]";
        let setting = line.strip_prefix("# ").filter(|l| {
            !in_sample_plan
                && l.split_once(" = ").is_some_and(|(key, _)| {
                    !key.contains(' ')
                    // These name files that do not exist here, or secrets; they are optional and have
                    // no default.
                    && ![
                        "tls_cert",
                        "tls_key",
                        "static_dir",
                        "password",
                        "stripe_secret_key",
                        "stripe_webhook_secret",
                    ]
                    .contains(&key)
                })
        });
        match setting {
            Some(setting) => {
                uncommented.push_str(setting);
                count += 1;
            }
            None => uncommented.push_str(line),
        }
        uncommented.push('\n');
    }
    assert!(count >= 20, "found only {count} settings in the example");
    let mut from_example = install.command(&["config", "check", "--config", "example.toml"]);
    std::fs::write(install.path("example.toml"), &uncommented).unwrap();
    let mut from_defaults = install.command(&["config", "check"]);
    for cmd in [&mut from_example, &mut from_defaults] {
        // The example documents the built-in defaults, so none of the test's own paths may interfere.
        cmd.env_remove("WHATSAPI_SERVER__PORT")
            .env_remove("WHATSAPI_STORAGE__DATA_DIR")
            .env_remove("WHATSAPI_STORAGE__KEY_FILE");
    }
    let (from_example, from_defaults) = (
        effective(&from_example.output().unwrap()),
        effective(&from_defaults.output().unwrap()),
    );
    for (section, values) in from_defaults.as_table().unwrap() {
        let Some(values) = values.as_table() else {
            // `[[plans]]`: the built-in plan is what an example without plans gives.
            assert_eq!(from_example.get(section), Some(values), "{section}");
            continue;
        };
        for (key, default) in values {
            assert_eq!(
                from_example[section].get(key),
                Some(default),
                "{section}.{key}: config.example.toml documents a value that is not the default"
            );
        }
    }
}

#[test]
fn an_unknown_section_in_the_file_is_named_with_the_file_and_the_valid_sections() {
    let install = Install::new();
    let message = refusal(&check_file(&install, "[foo]\nbar = 1\n"));
    assert!(message.contains("`foo`"), "{message}");
    assert!(message.contains("config.toml"), "names the file: {message}");
    // It says what would be right: the sections that exist.
    for section in ["server", "storage", "log", "smtp", "branding"] {
        assert!(message.contains(&format!("`{section}`")), "{message}");
    }
}

#[test]
fn an_unknown_key_names_its_section_and_the_key_meant_or_else_lists_the_keys() {
    let install = Install::new();
    let message = refusal(&check_file(&install, "[server]\nportt = 1\n"));
    let file = install.path("config.toml");
    assert_eq!(
        message.trim_end(),
        format!(
            "error: unknown key `portt` in [server] of {}; did you mean `port`?",
            file.display()
        )
    );
    // Nothing near what was typed: the keys of the section.
    let message = refusal(&check_file(&install, "[server]\ncolour = 1\n"));
    assert!(
        message.contains("unknown key `colour` in [server]"),
        "{message}"
    );
    assert!(
        message.contains("`port`") && message.contains("`address`"),
        "{message}"
    );
}

#[test]
fn an_unknown_environment_variable_is_named_as_coming_from_the_environment() {
    let install = Install::new();
    let mut cmd = install.command(&["config", "check"]);
    cmd.env("WHATSAPI_FOO__BAR", "1");
    let message = refusal(&cmd.output().unwrap());
    assert!(
        message.contains("unknown section `foo` (environment variable WHATSAPI_FOO__BAR)"),
        "{message}"
    );
}

#[test]
fn a_toml_syntax_error_gives_the_file_and_line() {
    let install = Install::new();
    let message = refusal(&check_file(
        &install,
        "[server]\nport = 9100\n[storage\ndata_dir = \"x\"\n",
    ));
    assert!(message.contains("config.toml"), "{message}");
    assert!(message.contains("line 3"), "{message}");
}

#[test]
fn a_value_of_the_wrong_kind_names_the_key_and_the_allowed_values() {
    let install = Install::new();
    let mut cmd = install.command(&["config", "check"]);
    cmd.env("WHATSAPI_LOG__LEVEL", "verbose");
    let message = refusal(&cmd.output().unwrap());
    assert!(
        message.contains("[log] level must be one of")
            && message.contains("(found \"verbose\")")
            && message.contains("the environment variable WHATSAPI_LOG__LEVEL"),
        "{message}"
    );
    for level in ["error", "warn", "info", "debug", "trace"] {
        assert!(message.contains(&format!("`{level}`")), "{message}");
    }

    let message = refusal(&check_file(&install, "[server]\nport = 70000\n"));
    assert!(
        message.contains("[server] port must be a number from 1 to 65535")
            && message.contains("(found 70000)"),
        "{message}"
    );
    assert!(message.contains("config.toml"), "{message}");

    let message = refusal(&check_file(&install, "[server]\nport = \"eighty\"\n"));
    assert!(
        message.contains("[server] port must be a number from 1 to 65535")
            && message.contains("(found \"eighty\")"),
        "{message}"
    );
}

#[test]
fn a_public_url_in_the_file_that_is_not_http_is_refused() {
    let install = Install::new();
    for url in ["ftp://x", "wa.example.com", "https://wa.example.com/?a=1"] {
        let message = refusal(&check_file(
            &install,
            &format!("[server]\npublic_url = \"{url}\"\n"),
        ));
        assert!(
            message.contains("error: server.public_url:"),
            "{url}: {message}"
        );
    }
    let message = refusal(&check_file(
        &install,
        "[server]\npublic_url = \"ftp://x\"\n",
    ));
    assert!(message.contains("http:// or https://"), "{message}");
}

#[test]
fn a_tls_certificate_without_its_key_or_a_missing_pem_file_is_refused() {
    let install = Install::new();
    std::fs::write(install.path("cert.pem"), "cert").unwrap();
    for (var, file) in [
        ("WHATSAPI_SERVER__TLS_CERT", "cert.pem"),
        ("WHATSAPI_SERVER__TLS_KEY", "cert.pem"),
    ] {
        let mut cmd = install.command(&["config", "check"]);
        cmd.env(var, install.path(file));
        let message = refusal(&cmd.output().unwrap());
        assert!(
            message.contains("set both server.tls_cert and server.tls_key, or neither"),
            "{var}: {message}"
        );
    }
    let missing = install.path("nowhere/key.pem");
    let mut cmd = install.command(&["config", "check"]);
    cmd.env("WHATSAPI_SERVER__TLS_CERT", install.path("cert.pem"))
        .env("WHATSAPI_SERVER__TLS_KEY", &missing);
    let message = refusal(&cmd.output().unwrap());
    assert!(
        message.contains("server.tls_key") && message.contains(missing.to_str().unwrap()),
        "{message}"
    );
}

#[test]
fn a_key_file_inside_a_data_directory_that_does_not_exist_yet_is_refused() {
    // Before the first start the data directory does not exist; the key must still not be planned inside it.
    let install = Install::new();
    let mut cmd = install.command(&["serve"]);
    cmd.env(
        "WHATSAPI_STORAGE__KEY_FILE",
        install.data_dir().join("master.key"),
    );
    let message = refusal(&run_within(cmd, Duration::from_secs(5)));
    assert!(message.contains("storage.key_file"), "{message}");
    assert!(
        message.contains("outside storage.data_dir"),
        "says where it must go: {message}"
    );
    assert!(!install.data_dir().exists(), "nothing was created");

    // The same through a symbolic link to the data directory.
    std::fs::create_dir(install.data_dir()).unwrap();
    std::os::unix::fs::symlink(install.data_dir(), install.path("alias")).unwrap();
    let mut cmd = install.command(&["config", "check"]);
    cmd.env(
        "WHATSAPI_STORAGE__KEY_FILE",
        install.path("alias").join("master.key"),
    );
    let message = refusal(&cmd.output().unwrap());
    assert!(message.contains("storage.key_file"), "{message}");
}

#[test]
fn a_missing_config_file_given_to_serve_stops_it_before_anything_is_created() {
    let install = Install::new();
    let missing = install.path("etc/whatsapi.toml");
    let output = run_within(
        install.command(&["serve", "--config", missing.to_str().unwrap()]),
        Duration::from_secs(5),
    );
    let message = refusal(&output);
    assert!(
        message.contains(missing.to_str().unwrap()) && message.contains("does not exist"),
        "{message}"
    );
    assert!(!install.data_dir().exists() && !install.key_file().exists());
}

#[test]
fn a_bad_schedule_is_refused_by_serve_within_seconds_and_creates_nothing() {
    let install = Install::new();
    let mut cmd = install.command(&["serve"]);
    cmd.env("WHATSAPI_STORAGE__MAINTENANCE_SCHEDULE", "61 3 * * *");
    let message = refusal(&run_within(cmd, Duration::from_secs(5)));
    assert!(
        message.contains("storage.maintenance_schedule") && message.contains("61 3 * * *"),
        "{message}"
    );
    // It shows a correct example.
    assert!(message.contains("\"0 0 3 * * *\""), "{message}");
    assert!(!install.data_dir().exists(), "no data directory");
    assert!(!install.key_file().exists(), "no key");
}

#[test]
fn a_five_field_crontab_schedule_lets_the_server_start() {
    let install = Install::new();
    let mut cmd = install.command(&["serve"]);
    cmd.env("WHATSAPI_STORAGE__MAINTENANCE_SCHEDULE", "0 3 * * *");
    let server = install.serve_with(cmd);
    assert_eq!(server.get("/healthz").0, 200);
}

#[test]
fn init_makes_an_installation_that_serves_with_its_own_key_and_data_directory() {
    let install = Install::new();
    let etc = install.path("etc");
    std::fs::create_dir(&etc).unwrap();
    let (config, key, data, keystore) = (
        etc.join("config.toml"),
        etc.join("master.key"),
        install.path("var/lib/whatsapi"),
        install.path("var/lib/whatsapi-keys/master.keystore"),
    );
    std::fs::create_dir_all(keystore.parent().unwrap()).unwrap();
    let args = [
        "init",
        "--config",
        config.to_str().unwrap(),
        "--key-file",
        key.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
        "--keystore",
        keystore.to_str().unwrap(),
    ];
    let output = install.run(&args);
    assert!(output.status.success(), "{}", stderr(&output));
    let said = stdout(&output);
    assert!(
        said.contains(config.to_str().unwrap()) && said.contains(key.to_str().unwrap()),
        "init says what it wrote: {said}"
    );
    assert!(!data.exists(), "init only names the data directory");
    let key_before = std::fs::read(&key).unwrap();

    // Only the file says where things are: none of the test's usual environment.
    let mut serve = install.command(&["serve", "--config", config.to_str().unwrap()]);
    serve
        .env_remove("WHATSAPI_STORAGE__DATA_DIR")
        .env_remove("WHATSAPI_STORAGE__KEY_FILE");
    let server = install.serve_with(serve);
    assert_eq!(server.get("/healthz").0, 200);
    assert!(
        !server.log.contains("created a new master key"),
        "the server uses the key init wrote: {}",
        server.log
    );
    assert!(data.join("whatsapi.db").is_file());
    assert_eq!(mode_of(&data), 0o700);
    assert!(
        keystore.is_file(),
        "the keystore is where the file names it"
    );
    assert_eq!(mode_of(&keystore), 0o600);
    assert!(!etc.join("master.keystore").exists());
    assert_eq!(std::fs::read(&key).unwrap(), key_before);
    assert!(!install.data_dir().exists() && !install.key_file().exists());
    server.kill9();

    // On an upgrade the package runs init again: it says it changed nothing.
    let again = install.run(&args);
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(
        stdout(&again).matches("left unchanged").count(),
        2,
        "{}",
        stdout(&again)
    );
    assert_eq!(std::fs::read(&key).unwrap(), key_before);
}

#[test]
fn init_refuses_a_key_file_inside_the_data_directory_and_writes_nothing() {
    let install = Install::new();
    let (config, data) = (install.path("config.toml"), install.path("var"));
    let key = data.join("master.key");
    let output = install.run(&[
        "init",
        "--config",
        config.to_str().unwrap(),
        "--key-file",
        key.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    let message = refusal(&output);
    assert!(message.contains("storage.key_file"), "{message}");
    assert!(!config.exists() && !key.exists() && !data.exists());
}

#[test]
fn init_refuses_an_existing_key_file_that_others_can_read() {
    use std::os::unix::fs::PermissionsExt;
    let install = Install::new();
    let key = install.path("master.key");
    std::fs::write(&key, format!("{}\n", "ab".repeat(32))).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let config = install.path("config.toml");
    let output = install.run(&[
        "init",
        "--config",
        config.to_str().unwrap(),
        "--key-file",
        key.to_str().unwrap(),
        "--data-dir",
        install.path("var").to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(
        message.contains(&format!("chmod 600 {}", key.display())),
        "{message}"
    );
    assert_eq!(mode_of(&key), 0o644, "init does not silently change it");
}

#[test]
fn each_subcommand_help_names_its_own_usage() {
    let install = Install::new();
    for command in [
        "serve",
        "init",
        "migrate",
        "config check",
        "doctor",
        "backup",
        "keys rotate",
        "bench store",
        "bench footprint",
    ] {
        let mut args: Vec<&str> = command.split(' ').collect();
        args.push("--help");
        let output = install.run(&args);
        assert!(
            output.status.success(),
            "{command} --help: {}",
            stderr(&output)
        );
        assert!(
            stdout(&output).contains(&format!("Usage: whatsapi {command}")),
            "{command}: {}",
            stdout(&output)
        );
    }
    let version = install.run(&["--version"]);
    assert!(version.status.success());
    assert_eq!(
        stdout(&version).trim(),
        format!("whatsapi {}", env!("CARGO_PKG_VERSION"))
    );
    // A mistyped command is refused with a hint, not run as something else.
    let typo = install.run(&["serv"]);
    assert_eq!(typo.status.code(), Some(2));
    assert!(stderr(&typo).contains("serve"), "{}", stderr(&typo));
    assert!(!install.data_dir().exists());
}
