//! `whatsapi bench`: measurements an operator can repeat on their own machine.
//! `store` pushes rows through the writer from many threads, with group commit and with one transaction
//! per row; `footprint` starts a server and reports the binary's size and the server's memory.

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use whatsapi::config::Synchronous;
use whatsapi::crypto::{Key, random_bytes};
use whatsapi::store::keystore::KeystoreFiles;
use whatsapi::store::{Db, StoreOptions};

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Rows per second through the store's writer: group commit versus one transaction per row.
    Store {
        #[arg(long, default_value_t = 64)]
        threads: usize,
        /// Rows each thread writes (each waits for its commit before the next).
        #[arg(long, default_value_t = 1000)]
        rows: usize,
        #[arg(long, value_enum, default_value_t = Mode::Both)]
        mode: Mode,
        /// Directory for the database files (default: a temporary directory, removed afterwards).
        #[arg(long, value_name = "PATH")]
        dir: Option<PathBuf>,
        /// Print `committed <id>` for every row once its commit returned (for crash tests: kill the process,
        /// then every printed id must be in the file).
        #[arg(long)]
        print_committed: bool,
    },
    /// Binary size and the resident memory of a freshly started, idle server.
    Footprint,
    /// Messages per second end to end through the API, the sender and a simulated Meta.
    Send(super::bench_send::SendArgs),
    /// An installation busy for months, made in minutes: messages with their statuses over 91 days.
    Fill(super::bench_fill::FillArgs),
    /// Signed Meta status webhooks accepted and committed per second, batched and one per POST.
    Webhooks(super::bench_webhooks::WebhookArgs),
}

#[derive(Clone, Copy, PartialEq, clap::ValueEnum)]
pub enum Mode {
    Both,
    Group,
    PerRow,
}

pub fn run(command: BenchCommand) -> Result<()> {
    match command {
        BenchCommand::Store {
            threads,
            rows,
            mode,
            dir,
            print_committed,
        } => {
            let (dir, temporary) = match dir {
                Some(dir) => (dir, false),
                None => (
                    std::env::temp_dir().join(format!("whatsapi-bench-{}", std::process::id())),
                    true,
                ),
            };
            std::fs::create_dir_all(&dir)?;
            let mut rates = Vec::new();
            for (name, max_batch) in [("group", 4096), ("per-row", 1)] {
                if mode == Mode::Both || (mode == Mode::Group) == (name == "group") {
                    rates.push(store_run(
                        &dir,
                        name,
                        max_batch,
                        threads,
                        rows,
                        print_committed,
                    )?);
                }
            }
            if let [group, per_row] = rates[..] {
                println!(
                    "group commit is {:.1}x the rows per second of one transaction per row",
                    group / per_row
                );
            }
            if temporary {
                std::fs::remove_dir_all(&dir)?;
            }
            Ok(())
        }
        BenchCommand::Footprint => footprint(),
        BenchCommand::Send(args) => super::bench_send::run(args),
        BenchCommand::Webhooks(args) => super::bench_webhooks::run(args),
        BenchCommand::Fill(args) => super::bench_fill::run(args),
    }
}

fn store_run(
    dir: &Path,
    name: &str,
    max_batch: usize,
    threads: usize,
    rows: usize,
    print: bool,
) -> Result<f64> {
    let path = dir.join(format!("bench-{name}.db"));
    let options = StoreOptions {
        synchronous: Synchronous::Full,
        readers: 1,
        max_batch,
        ..StoreOptions::default()
    };
    let keystore = KeystoreFiles::beside(&dir.join(format!("bench-{name}.key")));
    let db = Db::open(&path, &options, Key::master(random_bytes()?), &keystore)?;
    db.write(|conn| {
        Ok(conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS bench_rows (id INTEGER PRIMARY KEY, thread INTEGER NOT NULL, body BLOB NOT NULL)",
        )?)
    })?;
    let before = db.writer_stats().transactions.load(Ordering::Relaxed);
    let started = Instant::now();
    std::thread::scope(|scope| -> Result<()> {
        let workers: Vec<_> = (0..threads)
            .map(|thread| {
                let db = db.clone();
                scope.spawn(move || -> Result<()> {
                    // About the size of an encrypted message body.
                    let body = vec![thread as u8; 256];
                    for _ in 0..rows {
                        let body = body.clone();
                        let id = db.write(move |conn| {
                            conn.execute(
                                "INSERT INTO bench_rows (thread, body) VALUES (?1, ?2)",
                                (thread as i64, body),
                            )?;
                            Ok(conn.last_insert_rowid())
                        })?;
                        if print {
                            let mut out = std::io::stdout().lock();
                            writeln!(out, "committed {id}")?;
                            out.flush()?;
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        for worker in workers {
            worker
                .join()
                .map_err(|_| anyhow::anyhow!("a bench thread panicked"))??;
        }
        Ok(())
    })?;
    let elapsed = started.elapsed().as_secs_f64();
    let transactions = db.writer_stats().transactions.load(Ordering::Relaxed) - before;
    let total = threads * rows;
    let stored: i64 =
        db.read(|conn| Ok(conn.query_row("SELECT count(*) FROM bench_rows", [], |r| r.get(0))?))?;
    if stored < total as i64 {
        bail!("only {stored} of {total} rows are in the table");
    }
    let rate = total as f64 / elapsed;
    println!(
        "{name:>8}: {total} rows from {threads} threads in {elapsed:.2} s = {rate:.0} rows/s \
         ({transactions} transactions, {:.1} rows per commit)",
        total as f64 / transactions.max(1) as f64
    );
    Ok(rate)
}

fn footprint() -> Result<()> {
    let exe = std::env::current_exe()?;
    let size = std::fs::metadata(&exe)?.len();
    println!(
        "binary: {} ({:.2} MiB)",
        exe.display(),
        size as f64 / 1048576.0
    );
    let dir = std::env::temp_dir().join(format!("whatsapi-footprint-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let mut child = Command::new(&exe)
        .arg("serve")
        .env("WHATSAPI_SERVER__PORT", "0")
        .env("WHATSAPI_STORAGE__DATA_DIR", dir.join("data"))
        .env("WHATSAPI_STORAGE__KEY_FILE", dir.join("master.key"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot start the server")?;
    let stderr = child.stderr.take().context("no stderr")?;
    let mut url = None;
    for line in BufReader::new(stderr).lines() {
        let line = line?;
        if let Some(at) = line.find("listening on ") {
            url = Some(line[at + "listening on ".len()..].trim().to_owned());
            break;
        }
    }
    let result = (|| -> Result<()> {
        let url = url.context("the server did not start")?;
        let mut response = ureq::get(format!("{url}/healthz")).call()?;
        let health = response.body_mut().read_to_string()?;
        // Let start-up work (migrations, first writes) settle before reading memory.
        std::thread::sleep(Duration::from_secs(2));
        let status = std::fs::read_to_string(format!("/proc/{}/status", child.id()))?;
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .map(|l| l[name.len()..].trim().to_owned())
                .unwrap_or_default()
        };
        println!("healthz: {health}");
        println!(
            "idle server: VmRSS {} (peak VmHWM {})",
            field("VmRSS:"),
            field("VmHWM:")
        );
        Ok(())
    })();
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    result
}
