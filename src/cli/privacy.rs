//! `whatsapi export` and `whatsapi account delete`: the rights of access and deletion for operators and
//! resellers (offboarding a customer). Both may run while the server does. A deletion made here is seen by
//! a running server at once in the database; what the server keeps in memory for a few seconds (API keys
//! checked in the last 5 s, a number's webhook credentials) expires on its own, and its cached copy of the
//! account's data key is useless once the sealed rows are gone.

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use std::io::{BufRead, BufWriter, IsTerminal, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use whatsapi::config::Config;
use whatsapi::outbound::mail::Mailer;
use whatsapi::services::deletions;
use whatsapi::store::{AccountId, accounts, erasure, export, now_ms};
use whatsapi::{logging, startup};

#[derive(Args)]
pub struct ExportArgs {
    /// The account to export.
    #[arg(long)]
    account: i64,
    /// Where to write the JSON document (schema: assets/export-schema.json); must not exist yet. It is
    /// created readable by its owner only.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

#[derive(Subcommand)]
pub enum AccountCommand {
    #[command(flatten)]
    People(super::people::AccountCommand),
    #[command(flatten)]
    Billing(super::billing::BillingCommand),
    #[command(flatten)]
    Holds(super::holds::HoldCommand),
    /// Delete an account and everything it holds: its people, sessions, API keys, numbers, messages,
    /// contacts, webhooks, activity and its data key. Asks for the company name unless --yes.
    Delete(DeleteArgs),
}

#[derive(Args)]
pub struct DeleteArgs {
    /// The account to delete.
    #[arg(long)]
    account: i64,
    /// Do not ask for confirmation.
    #[arg(long)]
    yes: bool,
}

/// A line on standard error that rewrites itself on a terminal, and prints every 10,000 rows otherwise.
struct Counter {
    tty: bool,
    last: u64,
}

impl Counter {
    fn new() -> Counter {
        Counter {
            tty: std::io::stderr().is_terminal(),
            last: 0,
        }
    }

    fn show(&mut self, what: &str, rows: u64) {
        let every = if self.tty { 500 } else { 10_000 };
        if rows >= self.last + every {
            self.last = rows;
            if self.tty {
                eprint!("\r{what}: {rows} rows ");
            } else {
                eprintln!("{what}: {rows} rows");
            }
        }
    }

    fn done(&self, what: &str, rows: u64) {
        if self.tty {
            eprint!("\r");
        }
        eprintln!("{what}: {rows} rows, done");
    }
}

pub fn export(args: ExportArgs, config: &Config) -> Result<()> {
    logging::init(config.log.level);
    startup::check_data_dir_owner(config)?;
    let db = startup::open_store(config, false)?;
    let account = AccountId::from_operator(args.account);
    if db.read(|conn| accounts::find(conn, account))?.is_none() {
        bail!("there is no account {}", account.get());
    }
    if !db.keyring().has_data_key(account)? {
        bail!(
            "account {0} has no data key: it was deleted after this copy of the database was made, so what it \
             held cannot be read; `whatsapi account delete --account {0}` removes its rows",
            account.get()
        );
    }
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&args.out)
        .with_context(|| {
            format!(
                "cannot create {} (an existing file is never overwritten)",
                args.out.display()
            )
        })?;
    let mut out = BufWriter::new(file);
    let mut counter = Counter::new();
    let written = export::open_reader(&db).and_then(|conn| {
        export::write_account(
            &conn,
            db.keyring(),
            account,
            now_ms(),
            &mut out,
            &mut |rows| counter.show("exported", rows),
        )
    });
    let rows = match written.map_err(anyhow::Error::from).and_then(|rows| {
        let file = out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        Ok(rows)
    }) {
        Ok(rows) => rows,
        Err(e) => {
            // A cut-off document must not pass for a whole one.
            let _ = std::fs::remove_file(&args.out);
            return Err(e.context("the export failed; the partial file was removed"));
        }
    };
    counter.done("exported", rows);
    println!(
        "account {} exported to {} ({rows} rows; schema whatsapi-export version {})",
        account.get(),
        args.out.display(),
        export::VERSION
    );
    Ok(())
}

pub fn account(command: AccountCommand, config: &Config) -> Result<()> {
    match command {
        AccountCommand::People(command) => super::people::account(command, config),
        AccountCommand::Billing(command) => super::billing::run(command, config),
        AccountCommand::Holds(command) => super::holds::run(command, config),
        AccountCommand::Delete(args) => delete(args, config),
    }
}

fn delete(args: DeleteArgs, config: &Config) -> Result<()> {
    logging::init(config.log.level);
    startup::check_data_dir_owner(config)?;
    let db = startup::open_store(config, false)?;
    let account = AccountId::from_operator(args.account);
    let Some(found) = db.read(|conn| accounts::find(conn, account))? else {
        bail!("there is no account {}", account.get());
    };
    // An account restored from a backup made before it was deleted has no data key: its name and its
    // owner's address are sealed for good, so it is confirmed by its id and no email can be sent.
    let keyless = !db.keyring().has_data_key(account)?;
    let (name, confirmation, asked) = if keyless {
        (
            "(no data key: sealed)".to_owned(),
            account.get().to_string(),
            "its id",
        )
    } else {
        (found.company.clone(), found.company, "the company name")
    };
    let holding = db.read(|conn| erasure::count_account_rows(conn, account))?;
    eprintln!(
        "account {} \"{name}\" holds {} rows:",
        account.get(),
        holding.total()
    );
    for (table, rows) in holding.iter() {
        eprintln!("  {table:<20} {rows:>10}");
    }
    if !args.yes {
        eprint!("This deletes all of it for good. Type {asked} to confirm (or run with --yes): ");
        std::io::stderr().flush()?;
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read the confirmation")?;
        if line.trim() != confirmation {
            bail!("not confirmed: nothing was deleted");
        }
    }
    // A paid subscription ends first: a deleted account must not be charged any more.
    let stripe = whatsapi::outbound::stripe::Stripe::new(&config.billing);
    whatsapi::services::billing::stripe::cancel_before_deletion(
        &db,
        &config.billing,
        &stripe,
        account,
    )?;
    let mut counter = Counter::new();
    let mailer = Mailer::new(config)?;
    let mut confirmed_to = None;
    let (deleted, batches) = erasure::delete_account(
        &db,
        account,
        &mut |_, rows| counter.show("deleted", rows),
        |to| {
            deletions::confirm(&mailer, to);
            confirmed_to = Some(to.email.clone());
        },
    )?;
    counter.done("deleted", deleted.total());
    for (table, rows) in deleted.iter() {
        println!("  {table:<20} {rows:>10}");
    }
    println!(
        "account {} \"{name}\" was deleted with all of its data ({} rows in {batches} transactions); its data key is destroyed",
        account.get(),
        deleted.total(),
    );
    match confirmed_to {
        Some(email) => println!("a confirmation was sent to the owner, {email}"),
        None => println!(
            "no confirmation was sent: the account has no owner whose address can be read (none, or it \
             was sealed with the destroyed key)"
        ),
    }
    Ok(())
}
