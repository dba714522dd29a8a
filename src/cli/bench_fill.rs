//! `whatsapi bench fill`: an installation that has been busy for months, made in minutes. Creates an account
//! and connections through the real server, then writes N sent messages spread over the last days, each
//! with its sent, delivered and read statuses and the webhook payloads they came in, through the store's own
//! code (sealed with the account's key, in group-committed batches). `bench send --data DIR` then measures
//! on it; one day more than the default retention is filled, so `whatsapi purge` has a day to delete.

use super::bench_server::{api_key, start_server};
use anyhow::{Context, Result};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::Instant;
use whatsapi::config::Config;
use whatsapi::domain::meta::webhook::StatusUpdate;
use whatsapi::store::connections::ConnectionId;
use whatsapi::store::keys::Keyring;
use whatsapi::store::messages::{self, MessageId, NewMessage, SealedMessage};
use whatsapi::store::{AccountId, Db, now_ms, payloads, statuses};

const DAY_MS: i64 = 86_400_000;
/// Messages sealed, then queued to the writer, at a time.
const BATCH: usize = 5_000;

#[derive(clap::Args)]
pub struct FillArgs {
    /// The installation to create (it must not exist yet; it is kept, for `bench send --data`).
    #[arg(long)]
    dir: PathBuf,
    /// Messages to write.
    #[arg(long, default_value_t = 1_000_000)]
    messages: u64,
    /// Days to spread them over, ending now.
    #[arg(long, default_value_t = 91)]
    days: u64,
    /// Connections of the account to spread them over.
    #[arg(long, default_value_t = 8)]
    connections: usize,
    /// Messages per customer (recipients are `messages / this` distinct numbers).
    #[arg(long, default_value_t = 10)]
    per_customer: u64,
}

/// Where `fill` leaves the filled account's API key, for `bench send --data`.
pub fn key_file(dir: &Path) -> PathBuf {
    dir.join("bench-api-key")
}

pub fn run(args: FillArgs) -> Result<()> {
    anyhow::ensure!(
        !args.dir.exists(),
        "{} exists already: give a new directory",
        args.dir.display()
    );
    std::fs::create_dir_all(&args.dir)?;
    let dir = args.dir.as_path();
    // The account, its key and its connections are made the way a customer makes them.
    let (server, base) = start_server(dir, &[])?;
    let key = api_key(dir)?;
    std::fs::write(key_file(dir), &key)?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    for n in 0..args.connections {
        let body = json!({"kind": "sandbox", "name": format!("filled {n}")});
        let response = agent
            .post(format!("{base}/api/v1/connections"))
            .header("Authorization", format!("Bearer {key}"))
            .send_json(body)?;
        anyhow::ensure!(
            response.status().as_u16() == 201,
            "cannot create a connection: {}",
            response.status()
        );
    }
    drop(server);

    let mut config = Config::default();
    config.storage.data_dir = dir.join("data");
    config.storage.key_file = dir.join("master.key");
    let db = whatsapi::startup::open_store(&config, false)?;
    let (account, connections) = db.read(|conn| {
        let account: i64 = conn.query_row("SELECT id FROM accounts", [], |r| r.get(0))?;
        let mut stmt = conn.prepare("SELECT id FROM connections WHERE account_id = ?1")?;
        let ids = stmt
            .query_map([account], |r| r.get(0).map(ConnectionId::from_raw))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok((AccountId::from_operator(account), ids))
    })?;
    println!(
        "filling {} with {} messages over {} days ({} connections, 3 statuses each)",
        dir.display(),
        args.messages,
        args.days,
        connections.len()
    );
    let started = Instant::now();
    let now = now_ms();
    let first = now - args.days as i64 * DAY_MS;
    let step = (args.days as i64 * DAY_MS) as f64 / args.messages.max(1) as f64;
    let customers = (args.messages / args.per_customer.max(1)).max(1);
    // A large page cache for this one writer: a batch touches pages all over the indexes, and with SQLite's
    // default it would spill half-written pages to the log again and again.
    db.write(|conn| Ok(conn.execute_batch("PRAGMA cache_size = -1000000")?))?;
    let plan = Plan {
        account,
        connections,
        first,
        step,
        customers,
    };
    let sealing_db = db.clone();
    let total = args.messages;
    // Sealing the next batch (on a second thread) overlaps writing this one.
    let (batches, ready) = std::sync::mpsc::sync_channel::<Result<Vec<Filled>>>(2);
    let maker = std::thread::spawn(move || {
        let mut from = 0;
        while from < total {
            let upto = (from + BATCH as u64).min(total);
            let batch = (from..upto)
                .map(|n| plan.message(sealing_db.keyring(), n))
                .collect();
            if batches.send(batch).is_err() {
                return;
            }
            from = upto;
        }
    });
    let mut written = 0;
    let mut report_at = Instant::now();
    for rows in ready {
        let rows = rows?;
        let count = rows.len() as u64;
        // One job per message (each in its own savepoint, as the server's writes are); the writer commits
        // them together. Within one large savepoint, every statement would cost SQLite more than the last.
        let pending: Vec<_> = rows
            .into_iter()
            .map(|row| db.queue_write(move |conn| row.write(conn, account)))
            .collect::<whatsapi::error::Result<_>>()?;
        for done in pending {
            done.wait()?;
        }
        written += count;
        if report_at.elapsed().as_secs() >= 10 || written == total {
            report_at = Instant::now();
            let seconds = started.elapsed().as_secs_f64();
            println!(
                "{written} messages in {seconds:.0} s ({:.0} per second)",
                written as f64 / seconds
            );
        }
    }
    maker
        .join()
        .map_err(|_| anyhow::anyhow!("the thread making messages panicked"))?;
    report_size(db, &config, args.messages)
}

/// How the n-th message looks: when, to whom, on which connection.
struct Plan {
    account: AccountId,
    connections: Vec<ConnectionId>,
    first: i64,
    step: f64,
    customers: u64,
}

/// One message with everything Meta would have reported about it.
struct Filled {
    message: SealedMessage,
    wamid: String,
    sent_at: i64,
    statuses: Vec<(i64, Vec<u8>, StatusUpdate)>,
}

impl Plan {
    fn message(&self, keyring: &Keyring, n: u64) -> Result<Filled> {
        let created_at = self.first + (n as f64 * self.step) as i64;
        let id = MessageId::from_raw((created_at << 22) | (n as i64 & 0x3f_ffff));
        let to = format!("9715{:08}", mix(n % self.customers) % 100_000_000);
        let connection = self.connections[(n % self.connections.len() as u64) as usize];
        let body = json!({"type": "text", "text": {"body": format!("Your order {n} has shipped and arrives on Tuesday.")}});
        let body = serde_json::to_vec(&body)?;
        let account = self.account;
        let index = keyring.phone_index(account, &to)?;
        let message = messages::seal(
            keyring,
            &NewMessage {
                id,
                account_id: account,
                connection_id: connection,
                recipient: &to,
                recipient_index: &index,
                kind: "text",
                body: &body,
                now: created_at,
            },
        )?;
        let wamid = format!("wamid.HBgM{:016X}{:016X}A", mix(n), mix(!n));
        let sent_at = created_at + 300;
        let statuses = ["sent", "delivered", "read"]
            .iter()
            .enumerate()
            .map(|(i, status)| {
                let at = sent_at + i as i64 * 5_000;
                let payload_id = ((at + 200) << 22) | ((n as i64 * 3 + i as i64) & 0x3f_ffff);
                let payload = status_payload(&wamid, status, at, &to, id);
                let sealed =
                    payloads::seal(keyring, account, payload_id, payload.to_string().as_bytes())?;
                let update = StatusUpdate {
                    wamid: wamid.clone(),
                    status: (*status).into(),
                    at,
                    callback: Some(id.get().to_string()),
                    error: None,
                    pricing: None,
                };
                Ok((payload_id, sealed, update))
            })
            .collect::<Result<_>>()?;
        Ok(Filled {
            message,
            wamid,
            sent_at,
            statuses,
        })
    }
}

impl Filled {
    fn write(
        &self,
        conn: &rusqlite::Connection,
        account: AccountId,
    ) -> whatsapi::error::Result<()> {
        messages::insert(conn, &self.message)?;
        messages::mark_all_sent(
            conn,
            &[messages::Sent {
                account,
                id: self.message.id(),
                wamid: self.wamid.clone(),
                at: self.sent_at,
            }],
        )?;
        for (payload_id, sealed, update) in &self.statuses {
            let received = update.at + 200;
            payloads::insert(
                conn,
                *payload_id,
                account,
                self.message.connection_id(),
                sealed,
                received,
            )?;
            statuses::apply(conn, account, *payload_id, update, received)?;
        }
        Ok(())
    }
}

/// A status webhook as Meta posts it, about the size of a real one.
fn status_payload(wamid: &str, status: &str, at: i64, to: &str, id: MessageId) -> Value {
    json!({"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{
        "field": "messages", "value": {"messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550199000", "phone_number_id": "106540352242922"},
        "statuses": [{"id": wamid, "status": status, "timestamp": (at / 1000).to_string(), "recipient_id": to,
            "biz_opaque_callback_data": id.get().to_string(),
            "conversation": {"id": "4a7c3f1b9e2d8a6f0c5b1e3d7a9f2c4e", "origin": {"type": "utility"}},
            "pricing": {"billable": true, "pricing_model": "PMP", "category": "utility", "type": "regular"}}]}}]}]})
}

/// Spreads consecutive numbers over the whole range (splitmix64), so recipients and wamids land all over
/// their indexes, as real ones do.
fn mix(n: u64) -> u64 {
    let mut z = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The file's size once the store is closed (which moves the write-ahead log into it).
fn report_size(db: Db, config: &Config, messages: u64) -> Result<()> {
    drop(db);
    let bytes = std::fs::metadata(config.db_path())
        .context("the database file")?
        .len();
    println!(
        "database file: {:.1} MiB, {:.0} bytes per message with its statuses and payloads",
        bytes as f64 / 1048576.0,
        bytes as f64 / messages.max(1) as f64
    );
    Ok(())
}
