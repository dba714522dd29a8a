//! `whatsapi purge`: the retention job, now. It deletes what the `[retention]` settings say is past its
//! time, exactly as the scheduled run does (and is recorded like one); `--dry-run` only counts. Safe while
//! the server runs (each batch is a short write of its own), but the server's writes wait for the lock
//! between its batches, so sending slows down meanwhile; the server's own run does not.

use anyhow::{Result, bail};
use clap::Args;
use whatsapi::config::Config;
use whatsapi::jobs::{self, scheduler};
use whatsapi::store::retention::{Counts, Policy};
use whatsapi::{logging, startup};

#[derive(Args)]
pub struct PurgeArgs {
    /// Only report what a run now would delete, table by table; delete nothing.
    #[arg(long)]
    dry_run: bool,
}

pub fn run(args: PurgeArgs, config: &Config) -> Result<()> {
    logging::init(config.log.level);
    startup::check_data_dir_owner(config)?;
    let path = config.db_path();
    if !path.is_file() {
        bail!(
            "there is no database at {}: nothing to purge",
            path.display()
        );
    }
    let db = startup::open_store(config, false)?;
    let policy = Policy::from_config(config);
    let cutoff = policy.cutoffs(whatsapi::store::now_ms()).messages;
    let before = chrono::DateTime::from_timestamp_millis(cutoff)
        .map(|at| at.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default();
    let scope = format!(
        "messages older than {} days (from before {before}), activity older than {} days, webhook deliveries \
         older than {} days, and expired sessions, links and idempotency keys",
        policy.message_days, policy.activity_days, policy.webhook_delivery_days
    );
    if args.dry_run {
        let (_, counts) = jobs::retention::dry_run(&db, &policy)?;
        println!("dry run, nothing was deleted; a retention run now would delete {scope}:");
        print_counts(&counts);
        return Ok(());
    }
    let job = jobs::retention_job(config);
    match scheduler::run_once(&db, &job) {
        Ok(outcome) => {
            println!("deleted {scope}:");
            print_counts(&Counts::from_json(&outcome["deleted"]));
            println!(
                "in {} ms ({} write transactions); {} free pages returned to the file system; write-ahead log {}",
                outcome["ms"],
                outcome["batches"],
                outcome["pages_released"],
                if outcome["checkpoint_complete"] == true {
                    "emptied"
                } else {
                    "not fully emptied (a reader was busy; the next run or the nightly maintenance finishes it)"
                }
            );
            Ok(())
        }
        Err(e) => {
            if let Some(partial) = e.downcast_ref::<scheduler::Partial>() {
                println!("deleted before the error:");
                print_counts(&Counts::from_json(&partial.outcome["deleted"]));
            }
            Err(e.context("the retention run failed"))
        }
    }
}

fn print_counts(counts: &Counts) {
    for (table, rows) in counts.iter() {
        println!("  {table:<20} {rows:>10}");
    }
    println!("  {:<20} {:>10}", "total", counts.total());
}
