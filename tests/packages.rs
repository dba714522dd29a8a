//! The packages as a reseller ships them and an operator meets them: what `packaging/build.sh` wrote into
//! `<target>/packages` (every file at its place with its owner and mode, the configuration a conffile, the
//! maintainer scripts there), what lintian and rpmlint say of them, the unit's hardening, and the .deb's
//! whole life on this machine: install, the service user's commands and server, an upgrade that keeps an
//! edited configuration and the data, remove, purge with and without WHATSAPI_PURGE_DATA=yes.
//!
//! The packages are built before `cargo test` (tests/run-all.sh runs packaging/build.sh); without them these
//! tests fail. The lifecycle installs the .deb on this machine as root (or through passwordless sudo), one
//! run at a time, and leaves the machine as it found it.

mod common;
mod packages_support;

use common::api::{Api, PASSWORD};
use packages_support::{
    Lifecycle, VERSION, as_service_user, deb_listing, output, packages, serve_as_service_user,
    stop, text,
};
use serde_json::json;
use std::process::{Command, Stdio};

#[test]
fn the_deb_holds_every_file_at_its_place_with_its_scripts_and_passes_lintian() {
    let (deb, _) = packages();
    let deb = deb.to_str().unwrap();
    let listing = deb_listing(deb);
    for (path, mode) in [
        ("/usr/bin/whatsapi", "-rwxr-xr-x"),
        ("/usr/lib/systemd/system/whatsapi.service", "-rw-r--r--"),
        // Shipped readable (nothing secret in it); postinst makes it root:whatsapi 0640 (checked installed).
        ("/etc/whatsapi/config.toml", "-rw-r--r--"),
        ("/usr/share/man/man1/whatsapi.1.gz", "-rw-r--r--"),
        ("/usr/share/man/man1/whatsapi-serve.1.gz", "-rw-r--r--"),
        (
            "/usr/share/bash-completion/completions/whatsapi",
            "-rw-r--r--",
        ),
        ("/usr/share/zsh/vendor-completions/_whatsapi", "-rw-r--r--"),
        ("/usr/share/doc/whatsapi/changelog.Debian.gz", "-rw-r--r--"),
        ("/usr/share/doc/whatsapi/copyright", "-rw-r--r--"),
        ("/usr/share/doc/whatsapi/README.md", "-rw-r--r--"),
        ("/usr/share/doc/whatsapi/config.example.toml", "-rw-r--r--"),
    ] {
        let entry = listing.iter().find(|(p, _, _)| p == path);
        let Some((_, found_mode, owner)) = entry else {
            panic!("{path} is not in the .deb:\n{listing:#?}")
        };
        assert_eq!(found_mode, mode, "the mode of {path} in the .deb");
        assert!(
            owner == "root/root" || owner == "0/0",
            "{path} belongs to {owner} in the .deb"
        );
    }

    let info = output(&["dpkg-deb", "-I", deb]);
    assert!(info.contains(&format!("Version: {VERSION}-1")), "{info}");
    assert!(info.contains("Depends: adduser"), "{info}");
    for script in ["postinst", "prerm", "postrm", "conffiles"] {
        assert!(
            info.contains(&format!(" {script} ")),
            "no {script} in the .deb:\n{info}"
        );
    }
    let conffiles = output(&["dpkg-deb", "--info", deb, "conffiles"]);
    assert_eq!(
        conffiles.trim(),
        "/etc/whatsapi/config.toml",
        "the .deb's conffiles"
    );
    let postrm = output(&["dpkg-deb", "--info", deb, "postrm"]);
    assert!(postrm.contains("WHATSAPI_PURGE_DATA"), "{postrm}");

    // What the generated files say, from the package itself.
    let root = tempfile::tempdir().unwrap();
    let root_dir = root.path().to_str().unwrap();
    output(&["dpkg-deb", "-x", deb, root_dir]);
    let page = output(&[
        "zcat",
        &format!("{root_dir}/usr/share/man/man1/whatsapi.1.gz"),
    ]);
    assert!(page.contains(".TH whatsapi 1"), "the manual page:\n{page}");
    assert!(
        page.contains("serve"),
        "the manual page names the commands:\n{page}"
    );
    let bash = std::fs::read_to_string(format!(
        "{root_dir}/usr/share/bash-completion/completions/whatsapi"
    ))
    .unwrap();
    assert!(bash.contains("complete -F _whatsapi"), "bash completion");
    let zsh = std::fs::read_to_string(format!(
        "{root_dir}/usr/share/zsh/vendor-completions/_whatsapi"
    ))
    .unwrap();
    assert!(zsh.starts_with("#compdef whatsapi"), "zsh completion");
    let config = std::fs::read_to_string(format!("{root_dir}/etc/whatsapi/config.toml")).unwrap();
    for line in [
        "data_dir = \"/var/lib/whatsapi\"",
        "key_file = \"/etc/whatsapi/master.key\"",
        "keystore = \"/var/lib/whatsapi-keys/master.keystore\"",
        "dir = \"/var/lib/whatsapi-backups\"",
    ] {
        assert!(
            config.contains(line),
            "the packaged configuration lacks {line}"
        );
    }
    let changelog = output(&[
        "zcat",
        &format!("{root_dir}/usr/share/doc/whatsapi/changelog.Debian.gz"),
    ]);
    assert!(
        changelog.starts_with(&format!("whatsapi ({VERSION}-1) ")),
        "changelog.Debian:\n{changelog}"
    );
    let copyright =
        std::fs::read_to_string(format!("{root_dir}/usr/share/doc/whatsapi/copyright")).unwrap();
    assert!(copyright.contains("A1-Soft"), "{copyright}");

    let lintian = Command::new("lintian")
        .arg(deb)
        .stdin(Stdio::null())
        .output()
        .expect("lintian (apt-get install lintian)");
    let said = text(&lintian);
    assert!(
        lintian.status.success() && !said.lines().any(|l| l.starts_with("E: ")),
        "lintian found errors:\n{said}"
    );
}

#[test]
fn the_rpm_holds_every_file_at_its_place_with_its_scriptlets_and_passes_rpmlint() {
    let (_, rpm) = packages();
    let rpm = rpm.to_str().unwrap();
    // path mode user group flags (c: config, n: noreplace, d: doc)
    let files = output(&[
        "rpm",
        "-qp",
        "--qf",
        "[%{FILENAMES} %{FILEMODES:perms} %{FILEUSERNAME} %{FILEGROUPNAME} %{FILEFLAGS:fflags}\n]",
        rpm,
    ]);
    for (path, mode, flags) in [
        ("/usr/bin/whatsapi", "-rwxr-xr-x", ""),
        ("/usr/lib/systemd/system/whatsapi.service", "-rw-r--r--", ""),
        ("/etc/whatsapi/config.toml", "-rw-r--r--", "cn"),
        ("/usr/share/man/man1/whatsapi.1.gz", "-rw-r--r--", "d"),
        (
            "/usr/share/bash-completion/completions/whatsapi",
            "-rw-r--r--",
            "",
        ),
        ("/usr/share/zsh/site-functions/_whatsapi", "-rw-r--r--", ""),
        ("/usr/share/doc/whatsapi/CHANGELOG.md", "-rw-r--r--", "d"),
        ("/usr/share/doc/whatsapi/README.md", "-rw-r--r--", "d"),
        (
            "/usr/share/doc/whatsapi/config.example.toml",
            "-rw-r--r--",
            "d",
        ),
        ("/usr/share/licenses/whatsapi/LICENSE", "-rw-r--r--", "d"),
    ] {
        let line = files
            .lines()
            .find(|l| l.split(' ').next() == Some(path))
            .unwrap_or_else(|| panic!("{path} is not in the .rpm:\n{files}"));
        let fields: Vec<&str> = line.split(' ').collect();
        assert_eq!(fields[1], mode, "the mode of {path} in the .rpm");
        assert_eq!(
            (fields[2], fields[3]),
            ("root", "root"),
            "the owner of {path} in the .rpm"
        );
        assert_eq!(
            fields.get(4).copied().unwrap_or(""),
            flags,
            "the flags of {path} in the .rpm"
        );
    }

    let info = output(&["rpm", "-qip", rpm]);
    assert!(info.contains(&format!("Version     : {VERSION}")), "{info}");
    assert!(info.contains("Release     : 1"), "{info}");
    let scripts = output(&["rpm", "-qp", "--scripts", rpm]);
    for scriptlet in ["preinstall", "postinstall", "preuninstall", "postuninstall"] {
        assert!(
            scripts.contains(&format!("{scriptlet} scriptlet")),
            "no {scriptlet} in the .rpm:\n{scripts}"
        );
    }
    assert!(scripts.contains("useradd --system"), "{scripts}");
    assert!(scripts.contains("WHATSAPI_PURGE_DATA"), "{scripts}");
    // The scriptlets are not run here (this machine is not an RPM system): at least they parse.
    for scriptlet in [
        "pre-install",
        "post-install",
        "pre-uninstall",
        "post-uninstall",
    ] {
        let path = format!(
            "{}/packaging/rpm/{scriptlet}.sh",
            env!("CARGO_MANIFEST_DIR")
        );
        output(&["sh", "-n", &path]);
    }

    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/packaging/rpmlint.toml");
    let rpmlint = Command::new("rpmlint")
        .args(["-c", config, rpm])
        .stdin(Stdio::null())
        .output()
        .expect("rpmlint (apt-get install rpmlint)");
    let said = text(&rpmlint);
    assert!(
        rpmlint.status.success() && said.contains(" 0 errors"),
        "rpmlint found errors:\n{said}"
    );
}

#[test]
fn the_unit_is_hardened_below_an_exposure_of_2() {
    let unit = concat!(env!("CARGO_MANIFEST_DIR"), "/packaging/whatsapi.service");
    let text = std::fs::read_to_string(unit).unwrap();
    for line in [
        "Type=notify",
        "NotifyAccess=main",
        "WatchdogSec=30s",
        "ExecReload=kill -HUP $MAINPID",
        "StateDirectory=whatsapi whatsapi-keys whatsapi-backups",
        "CapabilityBoundingSet=\n",
        "SystemCallFilter=@system-service",
        "ProtectProc=invisible",
        "PrivateUsers=true",
    ] {
        assert!(text.contains(line), "the unit lacks {line:?}");
    }
    let report = output(&["systemd-analyze", "security", "--offline=true", unit]);
    let level: f64 = report
        .lines()
        .find_map(|l| {
            l.split("Overall exposure level for whatsapi.service: ")
                .nth(1)
        })
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in:\n{report}"));
    assert!(level < 2.0, "exposure {level}:\n{report}");
}

#[test]
fn the_deb_installs_upgrades_removes_and_purges_on_this_machine() {
    let (deb, _) = packages();
    let deb = deb.to_str().unwrap().to_owned();
    let life = Lifecycle::start();
    let machine = &life.machine;

    // Install.
    let said = machine.must("install", &["dpkg", "-i", &deb]);
    assert!(said.contains("enabled, not started"), "install: {said}");
    let passwd = output(&["getent", "passwd", "whatsapi"]);
    assert!(
        passwd.contains(":/var/lib/whatsapi:/usr/sbin/nologin"),
        "install: the service user {passwd}"
    );
    for (path, expected) in [
        ("/etc/whatsapi", "750 root whatsapi"),
        ("/etc/whatsapi/config.toml", "640 root whatsapi"),
        ("/etc/whatsapi/master.key", "600 whatsapi whatsapi"),
        ("/var/lib/whatsapi", "700 whatsapi whatsapi"),
        ("/var/lib/whatsapi-keys", "700 whatsapi whatsapi"),
        ("/var/lib/whatsapi-backups", "700 whatsapi whatsapi"),
        ("/usr/bin/whatsapi", "755 root root"),
    ] {
        assert_eq!(machine.stat(path), expected, "install: {path}");
    }
    let key = machine.read("/etc/whatsapi/master.key");
    let conffiles = machine.must(
        "install",
        &["dpkg-query", "-W", "-f=${Conffiles}", "whatsapi"],
    );
    assert!(
        conffiles.contains("/etc/whatsapi/config.toml"),
        "install: conffiles {conffiles}"
    );

    // The unit as systemd reads it, with the program and the manual page it names now in place.
    let verify = machine.run(&[
        "systemd-analyze",
        "verify",
        "/usr/lib/systemd/system/whatsapi.service",
    ]);
    assert!(
        verify.status.success() && text(&verify).trim().is_empty(),
        "install: systemd-analyze verify:\n{}",
        text(&verify)
    );

    let doctor = as_service_user(machine, "doctor after install", &["doctor"], None);
    assert!(
        doctor.contains("verdict: healthy"),
        "doctor after install:\n{doctor}"
    );

    // The operator's edit: a port of the test's (free now), then the server as the service user.
    let port = common::free_port();
    machine.sh(
        "setting the port",
        &format!("sed -i 's/^# port = 8080$/port = {port}/' /etc/whatsapi/config.toml && grep -q '^port = {port}$' /etc/whatsapi/config.toml"),
    );
    let server = serve_as_service_user(machine);
    assert!(
        server.url.ends_with(&format!(":{port}")),
        "serve: {}",
        server.url
    );
    let (status, _, _) = server.get("/healthz");
    assert_eq!(status, 200, "serve: /healthz");
    assert!(
        machine
            .run(&["pgrep", "-u", "whatsapi", "-x", "whatsapi"])
            .status
            .success(),
        "serve: the server runs as the service user"
    );
    let account = as_service_user(
        machine,
        "account create",
        &[
            "account",
            "create",
            "--company",
            "Shop",
            "--name",
            "Owner",
            "--email",
            "owner@example.com",
            "--password-stdin",
        ],
        Some(PASSWORD),
    );
    let key_line = as_service_user(
        machine,
        "apikey create",
        &[
            "apikey",
            "create",
            "--account",
            account.trim(),
            "--name",
            "packages",
        ],
        None,
    );
    let api = Api {
        base: server.url.clone(),
        key: key_line.trim().to_owned(),
        agent: ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into(),
    };
    let (status, connection) = api.call(
        "POST",
        "/api/v1/connections",
        Some(json!({"kind": "sandbox", "name": "Sandbox"})),
        &[],
    );
    assert_eq!(status, 201, "serve: a sandbox connection {connection}");
    let (status, message) = api.send(
        json!({"connection_id": connection["id"], "to": "+96550001234",
        "type": "text", "text": {"body": "sent before the upgrade"}}),
    );
    assert_eq!(status, 202, "serve: a message {message}");
    let id = message["id"].as_str().unwrap().to_owned();
    api.wait_for(&id, &["sent", "delivered", "read"]);
    stop(machine, server);
    assert_eq!(
        machine
            .stat("/var/lib/whatsapi/whatsapi.db")
            .split(' ')
            .nth(1),
        Some("whatsapi"),
        "serve: the database's owner"
    );
    // The packaged [backup] dir is one the service user writes (the scheduled backups go there).
    let backup = "/var/lib/whatsapi-backups/by-hand.db";
    as_service_user(machine, "a backup by hand", &["backup", backup], None);
    assert_eq!(
        machine.stat(backup),
        "600 whatsapi whatsapi",
        "a backup by hand"
    );

    // Upgrade to the same version packaged again with a higher revision.
    machine.sh(
        "editing the configuration",
        "printf '\\n# edited by the operator before the upgrade\\n' >> /etc/whatsapi/config.toml",
    );
    let edited = machine.read("/etc/whatsapi/config.toml");
    let newer = tempfile::tempdir().unwrap();
    let build = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/packaging/build.sh"))
        .args([
            "--no-build",
            "--revision",
            "2",
            "--output",
            newer.path().to_str().unwrap(),
        ])
        .env(
            "CARGO_TARGET_DIR",
            packages_support::packages_dir().parent().unwrap(),
        )
        .stdin(Stdio::null())
        .output()
        .expect("packaging/build.sh");
    assert!(
        build.status.success(),
        "upgrade: packaging/build.sh --revision 2:\n{}",
        text(&build)
    );
    let newer_deb = std::fs::read_dir(newer.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "deb"))
        .expect("upgrade: the rebuilt .deb");
    let said = machine.must("upgrade", &["dpkg", "-i", newer_deb.to_str().unwrap()]);
    assert!(
        said.contains(&format!("upgraded from {VERSION}-1")),
        "upgrade: {said}"
    );
    assert_eq!(machine.dpkg_status(), "install ok installed", "upgrade");
    assert_eq!(
        machine.must(
            "upgrade",
            &["dpkg-query", "-W", "-f=${Version}", "whatsapi"]
        ),
        format!("{VERSION}-2"),
        "upgrade: the installed version"
    );
    // dpkg has finished: had the upgrade started the service, it would be running now.
    assert!(
        !machine.run(&["pgrep", "-u", "whatsapi"]).status.success(),
        "upgrade: a process of the service user runs after the upgrade of a stopped service"
    );
    assert_eq!(
        machine.read("/etc/whatsapi/config.toml"),
        edited,
        "upgrade: the edited configuration"
    );
    assert!(
        !machine.exists("/etc/whatsapi/config.toml.dpkg-dist"),
        "upgrade: no new default beside it"
    );
    assert_eq!(
        machine.read("/etc/whatsapi/master.key"),
        key,
        "upgrade: the master key"
    );
    assert_eq!(
        machine.stat("/etc/whatsapi/config.toml"),
        "640 root whatsapi",
        "upgrade: the configuration's mode"
    );
    assert_eq!(
        machine.stat("/etc/whatsapi"),
        "750 root whatsapi",
        "upgrade: /etc/whatsapi"
    );
    let server = serve_as_service_user(machine);
    let (status, kept) = api.call("GET", &format!("/api/v1/messages/{id}"), None, &[]);
    assert_eq!(status, 200, "upgrade: the message sent before it {kept}");
    assert_eq!(kept["id"], json!(id), "upgrade: the message sent before it");
    stop(machine, server);

    // Remove: the program goes, the configuration, the key and the data stay.
    machine.must("remove", &["dpkg", "--remove", "whatsapi"]);
    assert!(!machine.exists("/usr/bin/whatsapi"), "remove: the program");
    assert_eq!(machine.dpkg_status(), "deinstall ok config-files", "remove");
    assert_eq!(
        machine.read("/etc/whatsapi/config.toml"),
        edited,
        "remove: the configuration"
    );
    assert_eq!(
        machine.read("/etc/whatsapi/master.key"),
        key,
        "remove: the master key"
    );
    assert!(
        machine.exists("/var/lib/whatsapi/whatsapi.db"),
        "remove: the database"
    );

    // Purge without WHATSAPI_PURGE_DATA: nothing asked, everything of value kept, and said so.
    let said = machine.must(
        "purge without the variable",
        &["dpkg", "--purge", "whatsapi"],
    );
    assert_eq!(
        machine.dpkg_status(),
        "",
        "purge without the variable: dpkg still knows the package"
    );
    assert!(
        said.contains("only way into the backups"),
        "purge without the variable: {said}"
    );
    assert_eq!(
        machine.read("/etc/whatsapi/master.key"),
        key,
        "purge without the variable: the master key"
    );
    assert_eq!(
        machine.read("/etc/whatsapi/config.toml.kept"),
        edited,
        "purge without the variable: the configuration"
    );
    assert!(
        machine.exists("/var/lib/whatsapi/whatsapi.db"),
        "purge without the variable: the database"
    );
    assert!(
        machine.exists("/var/lib/whatsapi-backups/by-hand.db"),
        "purge without the variable: the backups"
    );
    assert!(
        machine.exists("/var/lib/whatsapi-keys"),
        "purge without the variable: the keystore"
    );

    // Reinstall (the key is found, not replaced), then purge with the variable: all of it goes.
    let said = machine.must("reinstall", &["dpkg", "-i", &deb]);
    assert!(
        said.contains("config.toml.kept"),
        "reinstall: where the kept configuration is: {said}"
    );
    assert_eq!(
        machine.read("/etc/whatsapi/master.key"),
        key,
        "reinstall: the master key"
    );
    let said = machine.must(
        "purge with the variable",
        &[
            "env",
            "WHATSAPI_PURGE_DATA=yes",
            "dpkg",
            "--purge",
            "whatsapi",
        ],
    );
    assert!(said.contains("deleted"), "purge with the variable: {said}");
    assert_eq!(machine.dpkg_status(), "", "purge with the variable");
    for path in packages_support::KEPT {
        assert!(
            !machine.exists(path),
            "purge with the variable: {path} is still there"
        );
    }
}
