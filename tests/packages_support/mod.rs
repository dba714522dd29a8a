//! What tests/packages.rs needs to install the packages on this machine: commands run as root (directly,
//! or through passwordless sudo), a lock so that two runs never install at once, and a guard that leaves
//! the machine as it was found, whatever happens to the test.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Where the test looks for the packages: `<target>/packages`, as `packaging/build.sh` writes them.
pub fn packages_dir() -> PathBuf {
    let bin = Path::new(env!("CARGO_BIN_EXE_whatsapi"));
    bin.parent()
        .and_then(Path::parent)
        .expect("the target directory")
        .join("packages")
}

/// The .deb and .rpm of this version, revision 1; fails when either is missing.
pub fn packages() -> (PathBuf, PathBuf) {
    let dir = packages_dir();
    let deb = dir.join(format!(
        "whatsapi_{VERSION}-1_{}.deb",
        output(&["dpkg", "--print-architecture"]).trim()
    ));
    let rpm = dir.join(format!(
        "whatsapi-{VERSION}-1.{}.rpm",
        output(&["uname", "-m"]).trim()
    ));
    for package in [&deb, &rpm] {
        assert!(
            package.is_file(),
            "{} is missing: run packaging/build.sh first (tests/run-all.sh does)",
            package.display()
        );
    }
    (deb, rpm)
}

/// A command's standard output; fails the test when it cannot run or fails.
pub fn output(args: &[&str]) -> String {
    let out = Command::new(args[0])
        .args(&args[1..])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", args[0]));
    assert!(out.status.success(), "{args:?} failed:\n{}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Standard output and standard error together, for assertion messages.
pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// This machine, as root: the test's own user when it is root, else passwordless sudo.
pub struct Machine {
    sudo: bool,
}

impl Machine {
    /// Fails the test, saying why, when neither root nor passwordless sudo is at hand.
    pub fn root() -> Machine {
        if output(&["id", "-u"]).trim() == "0" {
            return Machine { sudo: false };
        }
        let sudo = Command::new("sudo")
            .args(["-n", "true"])
            .stdin(Stdio::null())
            .output()
            .map(|out| out.status.success())
            .unwrap_or(false);
        assert!(
            sudo,
            "installing the packages needs root: run the tests as root, or give this user passwordless sudo"
        );
        Machine { sudo: true }
    }

    /// `args` as root, from `/`, with none of the test's WHATSAPI_ settings.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = if self.sudo {
            let mut cmd = Command::new("sudo");
            cmd.arg("-n").args(args);
            cmd
        } else {
            let mut cmd = Command::new(args[0]);
            cmd.args(&args[1..]);
            cmd
        };
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("WHATSAPI_") {
                cmd.env_remove(name);
            }
        }
        cmd.current_dir("/").stdin(Stdio::null());
        cmd
    }

    /// Runs `args` as root to its end.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {args:?}: {e}"))
    }

    /// Runs `args` as root; `step` names what fails when it does.
    pub fn must(&self, step: &str, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{step}: {args:?} failed:\n{}",
            text(&out)
        );
        text(&out)
    }

    /// Runs a shell script as root and returns its standard output.
    pub fn sh(&self, step: &str, script: &str) -> String {
        let out = self.run(&["sh", "-c", script]);
        assert!(
            out.status.success(),
            "{step}: `{script}` failed:\n{}",
            text(&out)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn exists(&self, path: &str) -> bool {
        self.run(&["test", "-e", path]).status.success()
    }

    /// "mode owner group" of `path`, e.g. "600 whatsapi whatsapi".
    pub fn stat(&self, path: &str) -> String {
        self.sh(
            &format!("stat {path}"),
            &format!("stat -c '%a %U %G' '{path}'"),
        )
        .trim()
        .to_owned()
    }

    pub fn read(&self, path: &str) -> String {
        self.sh(&format!("read {path}"), &format!("cat '{path}'"))
    }

    /// dpkg's status of the package: "" when dpkg does not know it, else e.g. "install ok installed".
    pub fn dpkg_status(&self) -> String {
        let out = self.run(&["dpkg-query", "-W", "-f=${Status}", "whatsapi"]);
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    pub fn user_exists(&self) -> bool {
        self.run(&["getent", "passwd", "whatsapi"]).status.success()
    }

    /// Purges the package, deleting its configuration and data, when dpkg knows it.
    pub fn purge_all(&self) {
        if !self.dpkg_status().is_empty() {
            self.must(
                "purging an earlier installation",
                &[
                    "env",
                    "WHATSAPI_PURGE_DATA=yes",
                    "dpkg",
                    "--purge",
                    "whatsapi",
                ],
            );
        }
    }
}

/// `path` → (permissions as `ls` shows them, "owner/group") in `dpkg-deb -c`'s listing.
pub fn deb_listing(deb: &str) -> Vec<(String, String, String)> {
    output(&["dpkg-deb", "-c", deb])
        .lines()
        .map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let path = fields[5].trim_start_matches('.').to_owned();
            (path, fields[0].to_owned(), fields[1].to_owned())
        })
        .collect()
}

/// A running `whatsapi serve` as the service user, with the installed configuration.
pub fn serve_as_service_user(machine: &Machine) -> crate::common::Server {
    let cmd = machine.command(&[
        "setpriv",
        "--reuid=whatsapi",
        "--regid=whatsapi",
        "--init-groups",
        "--",
        "/usr/bin/whatsapi",
        "serve",
        "--config",
        "/etc/whatsapi/config.toml",
    ]);
    crate::common::Install::new().serve_with(cmd)
}

/// The service user's command line, with the installed configuration (found without `--config`).
pub fn as_service_user(
    machine: &Machine,
    step: &str,
    args: &[&str],
    input: Option<&str>,
) -> String {
    use std::io::Write;
    let mut argv = vec!["runuser", "-u", "whatsapi", "--", "whatsapi"];
    argv.extend(args);
    let mut child = machine
        .command(&argv)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runuser");
    if let Some(line) = input {
        writeln!(child.stdin.take().unwrap(), "{line}").unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{step}: whatsapi {args:?} failed:\n{}",
        text(&out)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Stops a server started by `serve_as_service_user`; through sudo, the server outlives the killed sudo.
pub fn stop(machine: &Machine, server: crate::common::Server) {
    drop(server);
    if output(&["id", "-u"]).trim() != "0" {
        let _ = machine.run(&["pkill", "-KILL", "-u", "whatsapi", "-x", "whatsapi"]);
    }
}

/// The paths the package creates and keeps, which must not exist before the test.
pub const KEPT: [&str; 4] = [
    "/etc/whatsapi",
    "/var/lib/whatsapi",
    "/var/lib/whatsapi-keys",
    "/var/lib/whatsapi-backups",
];

/// Holds the machine for one run of the lifecycle: taken after an exclusive lock, it purges what an
/// earlier run left, checks that nothing of another installation is there, and when dropped (even by a
/// failing assertion) purges the package, deletes what it created and the user when it created it.
pub struct Lifecycle {
    pub machine: Machine,
    user_existed: bool,
    _lock: File,
}

impl Lifecycle {
    pub fn start() -> Lifecycle {
        let machine = Machine::root();
        let lock = File::create(std::env::temp_dir().join("whatsapi-packages-test.lock"))
            .expect("the lock file of the packages test");
        lock.lock().expect("the lock of the packages test");
        machine.purge_all();
        for path in KEPT {
            assert!(
                !machine.exists(path),
                "{path} exists while the package is not installed: it may belong to an installation this test \
                 must not touch; move it away and run the test again"
            );
        }
        let user_existed = machine.user_exists();
        Lifecycle {
            machine,
            user_existed,
            _lock: lock,
        }
    }
}

impl Drop for Lifecycle {
    fn drop(&mut self) {
        let machine = &self.machine;
        if !machine.dpkg_status().is_empty() {
            let _ = machine.run(&[
                "env",
                "WHATSAPI_PURGE_DATA=yes",
                "dpkg",
                "--purge",
                "whatsapi",
            ]);
        }
        // What a purge without the variable kept: created by this run, since none of it was there before.
        let mut rm = vec!["rm", "-rf"];
        rm.extend(KEPT);
        let _ = machine.run(&rm);
        if !self.user_existed {
            if machine.user_exists() {
                let _ = machine.run(&["userdel", "whatsapi"]);
            }
            if machine
                .run(&["getent", "group", "whatsapi"])
                .status
                .success()
            {
                let _ = machine.run(&["groupdel", "whatsapi"]);
            }
        }
    }
}
