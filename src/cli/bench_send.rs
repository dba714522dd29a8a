//! `whatsapi bench send`: the whole path of a message on this machine. Starts the simulator as its own
//! process with a chosen latency, starts a server, creates an account, a key and connections pointing at
//! the simulator, then pushes messages through `POST /api/v1/messages` from concurrent clients until
//! every one is `sent`, and reports the rates, the POST's latency and the server's peak memory.

use super::bench_server::{
    Io, Killed, api_key, cpu_seconds, free_port, in_temporary_dir, peak_rss_kib, percentile,
    start_server, whatsapi,
};
use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct SendArgs {
    /// Where to put the benchmark's database (a directory on the disk to measure); the system's
    /// temporary directory by default, which may be a tmpfs.
    #[arg(long)]
    dir: Option<std::path::PathBuf>,
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
    /// Have the simulator post each message's sent, delivered and read webhooks back, as Meta does.
    #[arg(long)]
    statuses: bool,
    /// Measure on this installation, made by `bench fill`, instead of an empty one (it is kept; the
    /// message list is then timed on the filled account).
    #[arg(long, conflicts_with = "dir")]
    data: Option<std::path::PathBuf>,
    /// Open loop: POST at this many requests per second in all, on a fixed schedule, and time each POST
    /// from when it was due (so a stalled server's queue counts); closed loop (each client POSTs when
    /// its last answer came) when absent.
    #[arg(long)]
    rate: Option<u32>,
    /// Have the server's retention job (the nightly purge) run 15 s after the server starts, while
    /// sending, and report it and the POSTs meanwhile (send for longer than that: --rate and --messages).
    #[arg(long)]
    purge: bool,
    /// Put the account on a plan with every limit set (requests per minute, messages per month,
    /// connections, members, endpoints), each too large to refuse anything: what enforcing a plan
    /// costs, against the same run without (the built-in plan has no limits).
    #[arg(long)]
    plan_limits: bool,
}

/// The built-in plan's id, with every limit set and none reached.
const METERED_PLAN: &str = r#"[{id="free", name="Free", messages_per_month=1000000000,
    api_requests_per_minute=100000000, connections=1000, members=1000, webhook_endpoints=1000}]"#;

pub fn run(args: SendArgs) -> Result<()> {
    match &args.data {
        Some(dir) => {
            println!("measuring on {} (made by bench fill)", dir.display());
            measure(&args, dir)
        }
        None => in_temporary_dir("send", args.dir.as_deref(), |dir| measure(&args, dir)),
    }
}

fn measure(args: &SendArgs, dir: &Path) -> Result<()> {
    let sandbox_port = free_port()?;
    let mut settings = vec![
        ("WHATSAPI_SENDER__WORKERS", args.workers.to_string()),
        // The simulator stands in for Meta: the server may call it.
        (
            "WHATSAPI_META__ALLOWED_BASE_URLS",
            format!("[\"http://127.0.0.1:{sandbox_port}\"]"),
        ),
    ];
    if args.plan_limits {
        settings.push(("WHATSAPI_PLANS", METERED_PLAN.to_owned()));
    }
    println!(
        "plan: {}",
        if args.plan_limits {
            "every limit set (none reached)"
        } else {
            "no limits"
        }
    );
    let server_started = whatsapi::store::now_ms();
    if args.purge {
        let at = chrono::Utc::now() + chrono::Duration::seconds(15);
        settings.push((
            "WHATSAPI_RETENTION__SCHEDULE",
            at.format("%S %M %H * * *").to_string(),
        ));
    }
    let (server, base) = start_server(dir, &settings)?;
    let key = api_key(dir)?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let auth = format!("Bearer {key}");
    let (mut connections, mut webhook_urls) = (Vec::new(), Vec::new());
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
        webhook_urls.push(format!(
            "{}={}",
            created["phone_number_id"]
                .as_str()
                .context("phone number id")?,
            created["webhook_url"].as_str().context("webhook url")?
        ));
    }
    let mut sandbox_args = vec![
        "sandbox".to_owned(),
        "--listen".into(),
        format!("127.0.0.1:{sandbox_port}"),
        "--latency-ms".into(),
        args.latency_ms.to_string(),
    ];
    if args.statuses {
        sandbox_args.extend(["--webhook-secret".into(), "bench-secret".into()]);
        for url in &webhook_urls {
            sandbox_args.extend(["--webhook-url".into(), url.clone()]);
        }
    }
    let sandbox = Killed(
        whatsapi(dir)
            .args(&sandbox_args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start the sandbox")?,
    );
    let up = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", sandbox_port)).is_err() {
        if Instant::now() > up {
            bail!("the sandbox did not start");
        }
        std::thread::sleep(Duration::from_millis(20));
    }

    println!(
        "sending {} messages from {} clients over {} connections; Meta latency {} ms, {} sender workers",
        args.messages, args.clients, args.connections, args.latency_ms, args.workers
    );
    let (server_pid, sandbox_pid) = (server.0.id(), sandbox.0.id());
    let cpu_before = (cpu_seconds(server_pid), cpu_seconds(sandbox_pid));
    let io_before = Io::of(server_pid);
    let refused = std::sync::atomic::AtomicUsize::new(0);
    // Ids begin with their time: this run's messages are those from here on.
    let first_id = (whatsapi::store::now_ms() - 1) << 22;
    let started = Instant::now();
    let started_ms = whatsapi::store::now_ms();
    let per_client = args.messages.div_ceil(args.clients);
    let timed: Vec<(Instant, Duration)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..args.clients)
            .map(|client| {
                let (agent, auth, base, connections, refused) = (agent.clone(), auth.clone(), base.clone(), connections.clone(), &refused);
                scope.spawn(move || {
                    let mut latencies = Vec::with_capacity(per_client);
                    for n in 0..per_client {
                        // Open loop: message i is due at i / rate after the start; clients take turns.
                        let i = match args.rate {
                            Some(_) => n * args.clients + client,
                            None => client * per_client + n,
                        };
                        if i >= args.messages {
                            break;
                        }
                        let due = args.rate.map(|rate| started + Duration::from_secs_f64(i as f64 / f64::from(rate.max(1))));
                        if let Some(wait) = due.and_then(|due| due.checked_duration_since(Instant::now())) {
                            std::thread::sleep(wait);
                        }
                        // Ending in 5: no sandbox error code does, so every message is a plain success.
                        let body = json!({"connection_id": connections[i % connections.len()], "to": format!("+9655{:06}5", i % 1_000_000),
                            "type": "text", "text": {"body": format!("benchmark message {i}")}});
                        let sent = due.unwrap_or_else(Instant::now);
                        let accepted = agent.post(format!("{base}/api/v1/messages")).header("Authorization", &auth).send_json(body);
                        if matches!(accepted, Ok(ref r) if r.status().as_u16() == 202) {
                            latencies.push((sent, sent.elapsed()));
                        } else {
                            // Counted and reported: a run with refusals measures something else.
                            refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
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
    let accepted = timed.len();
    let mut latencies: Vec<Duration> = timed.iter().map(|(_, took)| *took).collect();
    let refused = refused.into_inner();
    if refused > 0 {
        bail!(
            "{refused} of {} POSTs were not answered 202: the figures would leave them out",
            args.messages
        );
    }

    let db = rusqlite::Connection::open_with_flags(
        dir.join("data/whatsapi.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )?;
    let deadline = Instant::now() + Duration::from_secs(600);
    let sent_in = loop {
        let sent: i64 = db.query_row(
            "SELECT count(*) FROM messages WHERE id >= ?1 AND status IN ('sent', 'delivered', 'read')",
            [first_id],
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
    let read_in = if args.statuses {
        loop {
            let read: i64 = db.query_row(
                "SELECT count(*) FROM messages WHERE id >= ?1 AND status = 'read'",
                [first_id],
                |r| r.get(0),
            )?;
            if read as usize >= accepted {
                break Some(started.elapsed());
            }
            if Instant::now() > deadline {
                bail!("only {read} of {accepted} messages were read within 10 minutes");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    } else {
        None
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
        let looped = match args.rate {
            Some(rate) => format!("open loop at {rate} POSTs/s: each timed from when it was due"),
            None => "closed loop: each client waits for its answer before its next POST, which \
                     understates the tail under overload (--rate for an open loop)"
                .into(),
        };
        println!(
            "POST latency: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({looped})",
            percentile(&latencies, 0.5).as_secs_f64() * 1000.0,
            percentile(&latencies, 0.99).as_secs_f64() * 1000.0,
            latencies[latencies.len() - 1].as_secs_f64() * 1000.0
        );
    }
    if let Some(read_in) = read_in {
        let (statuses, posts): (i64, i64) = db.query_row(
            "SELECT (SELECT count(*) FROM message_statuses WHERE id >= ?1),
                    (SELECT count(*) FROM webhook_payloads WHERE id >= ?1)",
            [first_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        println!(
            "statuses: all {accepted} read {:.2} s after the first POST; {statuses} statuses stored from {posts} webhook POSTs",
            read_in.as_secs_f64()
        );
    }
    if args.purge {
        let (from, to, outcome) = retention_run(&db, server_started)?;
        // When each POST was due, on the wall clock the job's times are on.
        let mut during: Vec<Duration> = timed
            .iter()
            .filter(|(at, _)| {
                let due = started_ms + (*at - started).as_millis() as i64;
                (from..=to).contains(&due)
            })
            .map(|(_, took)| *took)
            .collect();
        during.sort();
        let deleted = &outcome["deleted"];
        println!(
            "retention job: {:.1} s, {} rows deleted ({} messages, {} statuses, {} payloads) in {} transactions",
            (to - from) as f64 / 1000.0,
            outcome["total"],
            deleted["messages"],
            deleted["message_statuses"],
            deleted["webhook_payloads"],
            outcome["batches"]
        );
        if !during.is_empty() {
            println!(
                "  {} POSTs meanwhile: p50 {:.2} ms, p99 {:.2} ms",
                during.len(),
                percentile(&during, 0.5).as_secs_f64() * 1000.0,
                percentile(&during, 0.99).as_secs_f64() * 1000.0
            );
        }
    }
    let per_message = |seconds: f64| seconds * 1e6 / accepted as f64;
    println!(
        "CPU per message: server {:.0} µs, simulator {:.0} µs (user + system, from /proc)",
        per_message(cpu_seconds(server_pid) - cpu_before.0),
        per_message(cpu_seconds(sandbox_pid) - cpu_before.1)
    );
    println!(
        "storage I/O of the server (/proc/<pid>/io): {}",
        Io::of(server_pid).per_message(&io_before, accepted)
    );
    let connections_opened: Value = agent
        .get(format!("http://127.0.0.1:{sandbox_port}/_sandbox/received"))
        .call()?
        .body_mut()
        .read_json()?;
    println!(
        "connections to the simulator: {} opened for {accepted} messages (this report's own included); \
         most calls in flight at once: {}",
        connections_opened["connections"], connections_opened["most_in_flight"]
    );
    let list_key = match &args.data {
        Some(dir) => std::fs::read_to_string(super::bench_fill::key_file(dir))
            .context("the filled account's API key")?,
        None => key.clone(),
    };
    time_lists(&agent, &base, list_key.trim())?;
    println!(
        "server peak RSS: {:.1} MiB",
        peak_rss_kib(server.0.id()) as f64 / 1024.0
    );
    Ok(())
}

/// The server's retention run since `since` (ms): when it started and ended, and what it reported; waits
/// for it to end (two minutes at most).
fn retention_run(db: &rusqlite::Connection, since: i64) -> Result<(i64, i64, Value)> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let run: Option<(i64, Option<i64>, String)> = db
            .query_row(
                "SELECT started_at, finished_at, outcome FROM job_runs
                 WHERE job = 'retention' AND started_at >= ?1 ORDER BY started_at DESC LIMIT 1",
                [since],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .ok();
        if let Some((from, Some(to), outcome)) = run {
            return Ok((from, to, serde_json::from_str(&outcome)?));
        }
        if Instant::now() > deadline {
            bail!("the retention job did not run (or end) during the benchmark");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The message list's latency with each filter, on the account of `key`: 100 pages each, one at a time.
fn time_lists(agent: &ureq::Agent, base: &str, key: &str) -> Result<()> {
    let auth = format!("Bearer {key}");
    let get = |query: &str| -> Result<Value> {
        let mut response = agent
            .get(format!("{base}/api/v1/messages?{query}"))
            .header("Authorization", &auth)
            .call()?;
        if response.status().as_u16() != 200 {
            bail!(
                "GET /api/v1/messages?{query} answered {}",
                response.status()
            );
        }
        Ok(response.body_mut().read_json()?)
    };
    let newest = get("limit=1")?;
    let Some(message) = newest["data"].get(0) else {
        bail!("the account has no messages to list");
    };
    let (connection, to) = (
        message["connection_id"].as_str().unwrap_or_default(),
        message["to"]
            .as_str()
            .unwrap_or_default()
            .replace('+', "%2B"),
    );
    // 45 days back: the middle of a filled history, for a deep cursor and a day's range there.
    let middle = message["timestamps"]["created"]
        .as_i64()
        .context("the message's creation time")?
        - 45 * 86_400_000;
    let middle = middle.max(0);
    let filters = [
        ("newest first".to_owned(), "limit=50".to_owned()),
        ("status=queued".into(), "status=queued&limit=50".into()),
        ("status=failed".into(), "status=failed&limit=50".into()),
        ("status=read".into(), "status=read&limit=50".into()),
        (
            "connection_id".into(),
            format!("connection_id={connection}&limit=50"),
        ),
        ("to".into(), format!("to={to}&limit=50")),
        (
            "since/until (a day)".into(),
            format!("since={}&until={}&limit=50", middle, middle + 86_400_000),
        ),
        (
            "deep cursor".into(),
            format!("cursor={}&limit=50", middle << 22),
        ),
    ];
    println!("message list, 100 pages each (one at a time):");
    for (name, query) in &filters {
        let mut took: Vec<Duration> = (0..100)
            .map(|_| {
                let at = Instant::now();
                get(query).map(|_| at.elapsed())
            })
            .collect::<Result<_>>()?;
        took.sort();
        println!(
            "  {name:<22} p50 {:.2} ms, p99 {:.2} ms",
            percentile(&took, 0.5).as_secs_f64() * 1000.0,
            percentile(&took, 0.99).as_secs_f64() * 1000.0
        );
    }
    Ok(())
}
