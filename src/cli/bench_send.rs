//! `whatsapi bench send`: the whole path of a message on this machine. Starts the simulator as its own
//! process with a chosen latency, starts a server, creates an account, a key and connections pointing at
//! the simulator, then pushes messages through `POST /api/v1/messages` from concurrent clients until
//! every one is `sent`, and reports the rates, the POST's latency and the server's peak memory.

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct SendArgs {
    /// Messages to send in all.
    #[arg(long, default_value_t = 20_000)]
    messages: usize,
    /// Concurrent API clients.
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// The simulated Meta's answer time.
    #[arg(long, default_value_t = 50)]
    latency_ms: u64,
    /// The server's sender workers (in flight to Meta at once).
    #[arg(long, default_value_t = 512)]
    workers: usize,
    /// Connections to spread the messages over (Meta allows each number 1,000 messages per second).
    #[arg(long, default_value_t = 8)]
    connections: usize,
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn whatsapi(dir: &Path) -> Command {
    let mut cmd = Command::new(std::env::current_exe().expect("own path"));
    cmd.env("WHATSAPI_STORAGE__DATA_DIR", dir.join("data"))
        .env("WHATSAPI_STORAGE__KEY_FILE", dir.join("master.key"));
    cmd
}

fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

pub fn run(args: SendArgs) -> Result<()> {
    let dir = std::env::temp_dir().join(format!("whatsapi-bench-send-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let result = measure(&args, &dir);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn measure(args: &SendArgs, dir: &Path) -> Result<()> {
    let sandbox_port = free_port()?;
    let _sandbox = Killed(
        whatsapi(dir)
            .args([
                "sandbox",
                "--listen",
                &format!("127.0.0.1:{sandbox_port}"),
                "--latency-ms",
                &args.latency_ms.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start the sandbox")?,
    );
    let port = free_port()?;
    let mut server = Killed(
        whatsapi(dir)
            .arg("serve")
            .env("WHATSAPI_SERVER__PORT", port.to_string())
            .env("WHATSAPI_SENDER__WORKERS", args.workers.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("cannot start the server")?,
    );
    let stderr = server.0.stderr.take().context("no stderr")?;
    let mut lines = BufReader::new(stderr).lines();
    if !lines
        .by_ref()
        .map_while(Result::ok)
        .any(|l| l.contains("listening on"))
    {
        bail!("the server did not start");
    }
    std::thread::spawn(move || lines.for_each(drop));
    let base = format!("http://127.0.0.1:{port}");

    let mut create = whatsapi(dir)
        .args([
            "account",
            "create",
            "--company",
            "Bench",
            "--name",
            "Bench",
            "--email",
            "bench@bench.test",
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    create
        .stdin
        .take()
        .context("stdin")?
        .write_all(b"benchmark pass phrase\n")?;
    let account = String::from_utf8(create.wait_with_output()?.stdout)?
        .trim()
        .to_owned();
    let key_output = whatsapi(dir)
        .args(["apikey", "create", "--account", &account, "--name", "bench"])
        .output()?;
    let key = String::from_utf8(key_output.stdout)?.trim().to_owned();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let auth = format!("Bearer {key}");
    let mut connections = Vec::new();
    for n in 0..args.connections {
        let body = json!({"kind": "cloud", "name": format!("bench {n}"), "phone_number_id": format!("10654035224{n:04}"),
            "waba_id": "102290129340398", "access_token": "bench-token", "app_secret": "bench-secret",
            "graph_base_url": format!("http://127.0.0.1:{sandbox_port}"), "throughput_mps": 1000});
        let mut response = agent
            .post(format!("{base}/api/v1/connections"))
            .header("Authorization", &auth)
            .send_json(body)?;
        let created: Value = response.body_mut().read_json()?;
        connections.push(created["id"].as_str().context("connection id")?.to_owned());
    }

    println!(
        "sending {} messages from {} clients over {} connections; Meta latency {} ms, {} sender workers",
        args.messages, args.clients, args.connections, args.latency_ms, args.workers
    );
    let started = Instant::now();
    let per_client = args.messages.div_ceil(args.clients);
    let mut latencies: Vec<Duration> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..args.clients)
            .map(|client| {
                let (agent, auth, base, connections) = (agent.clone(), auth.clone(), base.clone(), connections.clone());
                scope.spawn(move || {
                    let mut latencies = Vec::with_capacity(per_client);
                    for n in 0..per_client {
                        let i = client * per_client + n;
                        if i >= args.messages {
                            break;
                        }
                        // Ending in 5: no sandbox error code does, so every message is a plain success.
                        let body = json!({"connection_id": connections[i % connections.len()], "to": format!("+9655{:06}5", i % 1_000_000),
                            "type": "text", "text": {"body": format!("benchmark message {i}")}});
                        let sent = Instant::now();
                        let accepted = agent.post(format!("{base}/api/v1/messages")).header("Authorization", &auth).send_json(body);
                        if matches!(accepted, Ok(ref r) if r.status().as_u16() == 202) {
                            latencies.push(sent.elapsed());
                        }
                    }
                    latencies
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_default())
            .collect()
    });
    let accepted_in = started.elapsed();
    let accepted = latencies.len();

    let db = rusqlite::Connection::open_with_flags(
        dir.join("data/whatsapi.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )?;
    let deadline = Instant::now() + Duration::from_secs(600);
    let sent_in = loop {
        let sent: i64 = db.query_row(
            "SELECT count(*) FROM messages WHERE status = 'sent'",
            [],
            |r| r.get(0),
        )?;
        if sent as usize >= accepted {
            break started.elapsed();
        }
        if Instant::now() > deadline {
            bail!("only {sent} of {accepted} messages were sent within 10 minutes");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    latencies.sort();
    println!(
        "accepted: {accepted} in {:.2} s = {:.0} msgs/s",
        accepted_in.as_secs_f64(),
        accepted as f64 / accepted_in.as_secs_f64()
    );
    println!(
        "sent:     {accepted} in {:.2} s = {:.0} msgs/s (end to end)",
        sent_in.as_secs_f64(),
        accepted as f64 / sent_in.as_secs_f64()
    );
    if !latencies.is_empty() {
        println!(
            "POST latency: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            percentile(&latencies, 0.5).as_secs_f64() * 1000.0,
            percentile(&latencies, 0.99).as_secs_f64() * 1000.0,
            latencies[latencies.len() - 1].as_secs_f64() * 1000.0
        );
    }
    println!(
        "server peak RSS: {:.1} MiB",
        peak_rss_kib(server.0.id()) as f64 / 1024.0
    );
    Ok(())
}
