//! Helpers shared by the integration tests: a temporary installation, the real `whatsapi` binary, a real
//! server on a free port of 127.0.0.1. Each test module uses part of this.
#![allow(dead_code)]

pub mod api;
pub mod meta;
pub mod raw;
pub mod sms;
pub mod stripe;
pub mod web;
pub mod webdriver;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_whatsapi");

/// A throwaway installation: a data directory and a key file path inside a temporary directory.
pub struct Install {
    pub dir: tempfile::TempDir,
    /// More settings for every command, as WHATSAPI_ variables.
    pub env: Vec<(String, String)>,
}

impl Install {
    pub fn new() -> Install {
        Install {
            dir: tempfile::tempdir().expect("temp dir"),
            env: Vec::new(),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn data_dir(&self) -> PathBuf {
        self.path("data")
    }

    pub fn key_file(&self) -> PathBuf {
        self.path("master.key")
    }

    pub fn db_path(&self) -> PathBuf {
        self.data_dir().join("whatsapi.db")
    }

    /// The binary with this installation's paths set through the environment, and no stray WHATSAPI_ variables.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("WHATSAPI_") {
                cmd.env_remove(name);
            }
        }
        cmd.args(args)
            .current_dir(self.dir.path())
            .env("WHATSAPI_STORAGE__DATA_DIR", self.data_dir())
            .env("WHATSAPI_STORAGE__KEY_FILE", self.key_file())
            .env("WHATSAPI_SERVER__PORT", "0")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null());
        cmd
    }

    /// The binary with these arguments, started by `sh` after `setup` (e.g. `ulimit -n 1024`, `umask
    /// 022`), with this installation's settings.
    pub fn command_in_shell(&self, setup: &str, args: &[&str]) -> Command {
        let direct = self.command(args);
        let mut cmd = Command::new("sh");
        cmd.args(["-c", &format!("{setup} && exec \"$@\""), "sh", BIN])
            .args(args)
            .current_dir(self.dir.path())
            .stdin(Stdio::null());
        for (name, value) in direct.get_envs() {
            match value {
                Some(value) => cmd.env(name, value),
                None => cmd.env_remove(name),
            };
        }
        cmd
    }

    /// Runs a command to completion.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run whatsapi")
    }

    /// Runs a command to completion with one line typed on its standard input.
    pub fn run_typing(&self, args: &[&str], line: &str) -> Output {
        use std::io::Write;
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start whatsapi");
        // A command that refuses before reading closes its input: the write may fail, the output tells.
        let _ = writeln!(child.stdin.take().unwrap(), "{line}");
        child.wait_with_output().expect("run whatsapi")
    }

    /// Starts `whatsapi serve` and waits until it listens.
    pub fn serve(&self) -> Server {
        self.serve_with(self.command(&["serve"]))
    }

    pub fn serve_with(&self, mut cmd: Command) -> Server {
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start whatsapi serve");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let all_lines = lines.clone();
        // Keep reading stderr for the whole life of the server, so it never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut sent = false;
            let mut log = Vec::new();
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                all_lines.lock().unwrap().push(line.clone());
                if !sent {
                    log.push(line.clone());
                    if let Some(at) = line.find("listening on ") {
                        let _ = tx.send(Ok((line[at + 13..].trim().to_owned(), log.join("\n"))));
                        sent = true;
                    }
                }
            }
            if !sent {
                let _ = tx.send(Err(log.join("\n")));
            }
        });
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(Ok((url, log))) => Server {
                child,
                url,
                log,
                lines,
            },
            Ok(Err(log)) => {
                let _ = child.wait();
                panic!("the server did not start:\n{log}")
            }
            Err(_) => {
                let _ = child.kill();
                panic!("the server did not start within 30 s")
            }
        }
    }
}

pub struct Server {
    pub child: Child,
    pub url: String,
    /// What the server logged up to the moment it listened.
    pub log: String,
    /// Every line the server logged so far, read as it runs.
    pub lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Server {
    pub fn get(&self, path: &str) -> (u16, String, Vec<(String, String)>) {
        get(&format!("{}{path}", self.url))
    }

    /// How many lines logged so far contain `text`.
    pub fn logged(&self, text: &str) -> usize {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains(text))
            .count()
    }

    /// The first line logged (so far or within 20 s) that contains `text`.
    pub fn wait_for_line(&self, text: &str) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(line) = self.lines.lock().unwrap().iter().find(|l| l.contains(text)) {
                return line.clone();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the server never logged {text:?}:\n{}",
                self.lines.lock().unwrap().join("\n")
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The link `serve` prints last on a fresh install, for creating the first operator.
    pub fn setup_link(&self) -> String {
        self.wait_for_line("/setup/").trim().to_owned()
    }

    /// Sends SIGTERM, as `systemctl stop` does, and waits for the process to end.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        signal(&self.child, libc::SIGTERM);
        self.child.wait().expect("wait for whatsapi serve")
    }

    /// Stops it as the service manager does (SIGTERM) and waits, at most 20 s, for it to end (whatever
    /// it holds in memory is written and a backup under way is finished first).
    pub fn stop(mut self) {
        signal(&self.child, libc::SIGTERM);
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while self.child.try_wait().unwrap().is_none() {
            assert!(
                std::time::Instant::now() < deadline,
                "the server did not stop:\n{}",
                self.lines.lock().unwrap().join("\n")
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Ends the process at once, as a power cut or the OOM killer would.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends `signal` to a child process.
pub fn signal(child: &Child, signal: i32) {
    let pid = i32::try_from(child.id()).expect("a pid");
    #[allow(unsafe_code)]
    // SAFETY: kill(2) only sends a signal to the process the test started.
    let sent = unsafe { libc::kill(pid, signal) };
    assert_eq!(sent, 0, "cannot signal the process");
}

/// A GET that returns status, body and headers whatever the status.
pub fn get(url: &str) -> (u16, String, Vec<(String, String)>) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut response = agent.get(url).call().expect("request");
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let body = response.body_mut().read_to_string().unwrap_or_default();
    (status, body, headers)
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub fn mode_of(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

/// Runs a command that must exit by itself within `limit`, capturing its output. One that keeps running (for
/// example a server that started when it should have refused) is killed and fails the test.
pub fn run_within(mut cmd: Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start whatsapi");
    // Read both pipes while waiting, so a chatty command never blocks on a full pipe.
    let read = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let out = read(child.stdout.take().map(|p| Box::new(p) as _));
    let err = read(child.stderr.take().map(|p| Box::new(p) as _));
    let deadline = std::time::Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if std::time::Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{cmd:?} was still running after {limit:?}; stderr:\n{}",
                String::from_utf8_lossy(&err.join().unwrap_or_default())
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out.join().expect("stdout"),
        stderr: err.join().expect("stderr"),
    }
}

/// The value of a response header (names compared without regard to case), or "" when it is absent.
pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `whatsapi sandbox` as its own process (stopped when dropped), standing in for Meta.
pub struct Sandbox {
    pub child: Child,
    pub url: String,
}

impl Sandbox {
    /// Starts the simulator on a port the system chooses, with these extra arguments, and waits until it
    /// listens.
    pub fn start(extra: &[&str]) -> Sandbox {
        Sandbox::start_at("127.0.0.1:0", extra)
    }

    /// Starts the simulator listening on `listen` (another that listened there has ended).
    pub fn start_at(listen: &str, extra: &[&str]) -> Sandbox {
        let mut child = Command::new(BIN)
            .args(["sandbox", "--listen", listen])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start whatsapi sandbox");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        // Keep reading for the simulator's whole life, so it never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(at) = line.find("sandbox listening on ") {
                    let _ = tx.send(line[at + 21..].trim().to_owned());
                }
            }
        });
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(url) => Sandbox { child, url },
            Err(_) => {
                let _ = child.kill();
                panic!("the sandbox did not start")
            }
        }
    }

    /// The setting that lets a server call this simulator as it would call Meta.
    pub fn allowed(&self) -> (String, String) {
        (
            "WHATSAPI_META__ALLOWED_BASE_URLS".into(),
            format!("[\"{}\"]", self.url),
        )
    }

    /// The simulator's own report: messages received per id (`counts`), connections it accepted
    /// (`connections`, this call's own included) and the most calls in flight at once.
    pub fn report(&self) -> serde_json::Value {
        ureq::get(format!("{}/_sandbox/received", self.url))
            .header("Connection", "close")
            .call()
            .expect("the simulator's report")
            .body_mut()
            .read_json()
            .expect("the simulator's report")
    }

    /// Tells the simulator where one number's status webhooks go, as Meta's dashboard does.
    pub fn set_webhook(&self, phone_number_id: &str, url: &str, secret: &str) {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let response = agent
            .post(format!("{}/_sandbox/webhooks", self.url))
            .send_json(serde_json::json!({"phone_number_id": phone_number_id, "url": url, "secret": secret}))
            .expect("set the sandbox's webhook");
        assert_eq!(response.status().as_u16(), 200);
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A customer's webhook endpoint that answers 200 to everything.
pub fn ok_endpoint() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hooks", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            answer_ok(stream);
        }
    });
    url
}

fn answer_ok(mut stream: std::net::TcpStream) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut length = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        if line == "\r\n" {
            break;
        }
        if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    let _ = std::io::Read::read_exact(&mut reader, &mut body);
    let _ = std::io::Write::write_all(
        &mut stream,
        b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
    );
}

/// A server whose sandbox reports statuses within a fraction of a second, with no scheduled retention run
/// during a test, that may deliver webhooks to the test's own plain-HTTP endpoint.
pub fn serve_quick(install: &Install) -> Server {
    let mut cmd = install.command(&["serve"]);
    cmd.env("WHATSAPI_RETENTION__SCHEDULE", "0 0 0 29 2 *")
        .env("WHATSAPI_WEBHOOKS__ALLOW_INSECURE_TARGETS", "true")
        .env("WHATSAPI_SANDBOX__SENT_AFTER_MS", "20")
        .env("WHATSAPI_SANDBOX__DELIVERED_AFTER_MS", "40")
        .env("WHATSAPI_SANDBOX__READ_AFTER_MS", "60");
    install.serve_with(cmd)
}

/// Waits up to 20 seconds for `done`, failing the test with `what` after that.
pub fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting: {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
