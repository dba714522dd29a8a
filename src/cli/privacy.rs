//! `whatsapi export`: the right of access and portability for operators and resellers. It may run while
//! the server does.

use anyhow::{Context, Result, bail};
use clap::Args;
use std::io::{BufWriter, IsTerminal};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use whatsapi::config::Config;
use whatsapi::store::{AccountId, accounts, export, now_ms};
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
    let account = AccountId(args.account);
    if db.read(|conn| accounts::find(conn, account))?.is_none() {
        bail!("there is no account {}", account.0);
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
        account.0,
        args.out.display(),
        export::VERSION
    );
    Ok(())
}
