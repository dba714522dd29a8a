//! `whatsapi bench webhooks`: how fast the server takes Meta's status webhooks. It sends messages
//! through the simulator so that real wamids exist, then posts signed status webhooks for them from
//! concurrent clients, first batched (up to 1,000 statuses per POST, as Meta may) and then one status per
//! POST, and reports statuses committed per second and the time to answer each POST (each answer comes
//! after the commit).

use super::bench_server::{
    Killed, api_key, free_port, in_temporary_dir, peak_rss_kib, percentile, start_server, whatsapi,
};
use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use whatsapi::http::sandbox::events::{StatusEvent, statuses_payload};

#[derive(clap::Args)]
pub struct WebhookArgs {
    /// Where to put the benchmark's database (a directory on the disk to measure); the system's
    /// temporary directory by default, which may be a tmpfs.
    #[arg(long)]
    dir: Option<std::path::PathBuf>,
    /// Messages whose statuses are posted: each gets `delivered` in the batched run and `read` in the
    /// one-per-POST run.
    #[arg(long, default_value_t = 20_000)]
    messages: usize,
    /// Concurrent posters.
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// Statuses per POST in the batched run (Meta sends at most 1,000).
    #[arg(long, default_value_t = 1000)]
    batch: usize,
}

const SECRET: &str = "bench-secret";
const CONNECTIONS: usize = 4;

pub fn run(args: WebhookArgs) -> Result<()> {
    in_temporary_dir("webhooks", args.dir.as_deref(), |dir| measure(&args, dir))
}

struct Post {
    url: String,
    body: Vec<u8>,
    signature: String,
    statuses: usize,
}

fn measure(args: &WebhookArgs, dir: &std::path::Path) -> Result<()> {
    let sandbox_port = free_port()?;
    let _sandbox = Killed(
        whatsapi(dir)
            .args(["sandbox", "--listen", &format!("127.0.0.1:{sandbox_port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start the sandbox")?,
    );
    let (server, base) = start_server(
        dir,
        &[
            ("WHATSAPI_SENDER__WORKERS", "256".into()),
            // The simulator stands in for Meta: the server may call it.
            (
                "WHATSAPI_META__ALLOWED_BASE_URLS",
                format!("[\"http://127.0.0.1:{sandbox_port}\"]"),
            ),
        ],
    )?;
    let auth = format!("Bearer {}", api_key(dir)?);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut connections = Vec::new();
    for n in 0..CONNECTIONS {
        let body = json!({"kind": "cloud", "name": format!("bench {n}"), "phone_number_id": format!("10654035224{n:04}"),
            "waba_id": "102290129340398", "access_token": "bench-token", "app_secret": SECRET,
            "graph_base_url": format!("http://127.0.0.1:{sandbox_port}"), "throughput_mps": 1000});
        let created: Value = agent
            .post(format!("{base}/api/v1/connections"))
            .header("Authorization", &auth)
            .send_json(body)?
            .body_mut()
            .read_json()?;
        connections.push(created["id"].as_str().context("connection id")?.to_owned());
    }
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..args.clients {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= args.messages {
                        break;
                    }
                    let body = json!({"connection_id": connections[i % CONNECTIONS], "to": format!("+9655{:06}5", i % 1_000_000),
                        "type": "text", "text": {"body": format!("benchmark message {i}")}});
                    let _ = agent
                        .post(format!("{base}/api/v1/messages"))
                        .header("Authorization", &auth)
                        .send_json(body);
                }
            });
        }
    });
    let db = rusqlite::Connection::open_with_flags(
        dir.join("data/whatsapi.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )?;
    let deadline = Instant::now() + Duration::from_secs(300);
    while db.query_row(
        "SELECT count(*) FROM messages WHERE status = 'sent'",
        [],
        |r| r.get::<_, i64>(0),
    )? < args.messages as i64
    {
        if Instant::now() > deadline {
            bail!("the messages were not all sent within 5 minutes");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut sent: Vec<(String, String, String, String)> = Vec::new();
    let mut stmt = db.prepare(
        "SELECT m.id, m.wamid, c.phone_number_id, c.webhook_key FROM messages m JOIN connections c ON c.id = m.connection_id ORDER BY c.id, m.id",
    )?;
    for row in stmt.query_map([], |r| {
        Ok((
            r.get::<_, i64>(0)?.to_string(),
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
        ))
    })? {
        sent.push(row?);
    }
    drop(stmt);

    println!(
        "{} messages sent; posting their statuses from {} clients",
        sent.len(),
        args.clients
    );
    let batched = posts(&base, &sent, "delivered", args.batch.clamp(1, 1000));
    report(
        &format!("batched ({} per POST)", args.batch),
        &agent,
        &batched,
        args.clients,
    )?;
    let single = posts(&base, &sent, "read", 1);
    report("one per POST", &agent, &single, args.clients)?;

    let (stored, read): (i64, i64) = db.query_row(
        "SELECT (SELECT count(*) FROM message_statuses), (SELECT count(*) FROM messages WHERE status = 'read')",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    println!("stored statuses: {stored}; messages now read: {read}");
    // Every status answered 200 must be stored: a rate of statuses lost is no rate at all.
    let posted = 2 * sent.len() as i64;
    if stored < posted || read < sent.len() as i64 {
        bail!(
            "{posted} statuses were answered 200 but {stored} are stored ({read} of {} messages read)",
            sent.len()
        );
    }
    println!(
        "server peak RSS: {:.1} MiB",
        peak_rss_kib(server.0.id()) as f64 / 1024.0
    );
    Ok(())
}

/// Signed POST bodies for one status of every message, `per_post` statuses each, one number per POST.
fn posts(
    base: &str,
    sent: &[(String, String, String, String)],
    status: &'static str,
    per_post: usize,
) -> Vec<Post> {
    let now = whatsapi::store::now_ms() / 1000;
    let mut all = Vec::new();
    for chunk in sent.chunk_by(|a, b| a.2 == b.2) {
        for group in chunk.chunks(per_post) {
            let (phone, key) = (&group[0].2, &group[0].3);
            let events: Vec<StatusEvent> = group
                .iter()
                .map(|(id, wamid, _, _)| StatusEvent {
                    wamid: wamid.clone(),
                    status,
                    recipient: "96550000005".into(),
                    callback: Some(id.clone()),
                    at_seconds: now,
                })
                .collect();
            let body = statuses_payload("102290129340398", phone, &events);
            all.push(Post {
                url: format!("{base}/webhooks/meta/{key}"),
                signature: whatsapi::domain::meta::webhook::sign(SECRET.as_bytes(), &body),
                body,
                statuses: events.len(),
            });
        }
    }
    all
}

fn report(name: &str, agent: &ureq::Agent, posts: &[Post], clients: usize) -> Result<()> {
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    let results: Vec<(Duration, bool)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..clients)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(post) = posts.get(i) else { break };
                        let at = Instant::now();
                        let answered = agent
                            .post(&post.url)
                            .header("Content-Type", "application/json")
                            .header("X-Hub-Signature-256", &post.signature)
                            .send(&post.body[..]);
                        let ok = matches!(answered, Ok(ref r) if r.status().as_u16() == 200);
                        mine.push((at.elapsed(), ok));
                    }
                    mine
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_default())
            .collect()
    });
    let elapsed = started.elapsed();
    let refused = results.iter().filter(|(_, ok)| !ok).count();
    if refused > 0 {
        bail!("{refused} of {} POSTs were not answered 200", posts.len());
    }
    let statuses: usize = posts.iter().map(|p| p.statuses).sum();
    let mut latencies: Vec<Duration> = results.into_iter().map(|(d, _)| d).collect();
    latencies.sort();
    println!(
        "{name}: {statuses} statuses in {} POSTs, {:.2} s = {:.0} statuses/s committed; answer p50 {:.2} ms, p99 {:.2} ms",
        posts.len(),
        elapsed.as_secs_f64(),
        statuses as f64 / elapsed.as_secs_f64(),
        percentile(&latencies, 0.5).as_secs_f64() * 1000.0,
        percentile(&latencies, 0.99).as_secs_f64() * 1000.0,
    );
    Ok(())
}
