//! `whatsapi restore FILE`: puts a backup in place of the database. It holds the data directory's lock from
//! start to end (so it refuses while a server runs), copies the backup into the data directory and checks
//! that copy (integrity, schema, master key, keystore) before anything is replaced, keeps the replaced
//! database aside, and says what the restored copy lacks. SIGTERM or SIGINT before the swap stops it
//! with nothing changed; once the swap began, it finishes it. Exit status 0: restored; 1: refused, nothing
//! changed.

use anyhow::Result;
use std::path::PathBuf;
use std::process::ExitCode;
use whatsapi::config::Config;
use whatsapi::crypto;
use whatsapi::store::backup::restore::{self, Inspection, Staged};
use whatsapi::store::files::same_file;
use whatsapi::store::keystore::Known;
use whatsapi::store::migrations;

#[derive(clap::Args)]
pub struct RestoreArgs {
    /// The backup to put in place of the database: a file that `whatsapi backup` or the scheduled backups
    /// ([backup] dir) wrote. It is copied, never changed; the replaced database is kept beside the new one.
    pub file: PathBuf,
}

fn refused(why: impl std::fmt::Display) -> Result<ExitCode> {
    eprintln!("refused: {why}\nnothing was changed");
    Ok(ExitCode::from(1))
}

pub fn run(args: RestoreArgs, config: &Config) -> Result<ExitCode> {
    let file = &args.file;
    let shown = file.display().to_string();
    if !file.is_file() {
        return refused(format!("{shown} is not a file"));
    }
    // Held until the end: no server may start on the database while it is being replaced.
    let _lock = match whatsapi::startup::lock_data_dir(config) {
        Ok(lock) => lock,
        Err(e) => return refused(format!("{e:#}")),
    };
    let database = config.db_path();
    if same_file(file, &database) {
        return refused(format!("{shown} is the database itself"));
    }
    let master = match crypto::read_key_file(&config.storage.key_file) {
        Ok(key) => key,
        Err(e) => {
            return refused(format!(
                "{e}; the backup can only be checked and read with it"
            ));
        }
    };
    let keystore = config.keystore_files().path;
    let known = if keystore.exists() {
        match Known::read_file(&keystore) {
            Ok(known) => Some(known),
            Err(e) => {
                return refused(format!(
                    "cannot read the keystore {}: {e}",
                    keystore.display()
                ));
            }
        }
    } else {
        None
    };
    let staged = Staged::copy(file, &database)?;
    let inspection =
        match restore::inspect(staged.path(), &shown, &master, (known.as_ref(), &keystore)) {
            Ok(inspection) => inspection,
            Err(refusal) => return refused(refusal),
        };
    let bytes = std::fs::metadata(staged.path())?.len();
    #[cfg(debug_assertions)]
    pause_if_asked();
    // SIGTERM or Ctrl-C while the backup was copied and checked: stop before anything is replaced (the
    // copy is removed). From here the swap runs to its end, a few renames.
    if let Err(stopped) = whatsapi::signals::check() {
        return refused(format!("stopped at {}", stopped.name()));
    }
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
    let replaced = staged.put_in_place(&database, &stamp)?;
    println!(
        "restored {shown} as the database {} ({bytes} bytes, {} account(s), schema version {}; integrity check: ok)",
        database.display(),
        inspection.accounts,
        inspection.schema_version
    );
    match replaced.split_first() {
        Some((aside, with)) => {
            let with: Vec<String> = with.iter().map(|f| f.display().to_string()).collect();
            let with = if with.is_empty() {
                String::new()
            } else {
                format!(" (with {}, which belong to it)", with.join(" and "))
            };
            println!(
                "the database it replaced is kept as {}{with}; delete it once the restored one serves as it should",
                aside.display()
            );
        }
        None => println!("there was no database to replace"),
    }
    print_lacks(&inspection);
    println!(
        "start the server (`systemctl start whatsapi`, or `whatsapi serve`) and check it with `whatsapi doctor`"
    );
    Ok(ExitCode::SUCCESS)
}

/// What the restored copy does not hold, and what its first start does.
fn print_lacks(inspection: &Inspection) {
    println!("what the restored copy lacks:");
    println!("  - everything written after the backup was made");
    if inspection.sealed_directory {
        // A backup holds neither; another copy (a database kept aside by a restore) may.
        println!(
            "  - sign-ins and one-time links (backups hold none): everyone signs in again, and links sent \
             before the backup no longer work"
        );
        println!(
            "  - its people directory (companies, people's names and email addresses, the activity log's \
             details) is sealed, as in every backup: the next start unseals it"
        );
    }
    if !inspection.keyless.is_empty() {
        let ids: Vec<String> = inspection
            .keyless
            .iter()
            .map(|a| a.get().to_string())
            .collect();
        println!(
            "  - {} account(s) without a data key in the keystore (deleted after the backup was made): {}; what \
             they hold cannot be read, and `whatsapi account delete --account ID` removes their rows",
            ids.len(),
            ids.join(", ")
        );
    }
    if inspection.schema_version < migrations::LATEST {
        println!(
            "the next start upgrades its schema from version {} to {}",
            inspection.schema_version,
            migrations::LATEST
        );
    }
    if let Some(retired) = inspection.retired_master {
        println!(
            "it was sealed with the master key {retired:08x}, which a rotation replaced: the next start seals it \
             with the current key"
        );
    }
    if inspection.keys_inside {
        println!(
            "its data keys are still inside it (made before the keystore): the next start moves them into an \
             empty keystore, or drops them when the keystore holds keys already"
        );
    }
}

/// Tests only (debug builds; not WHATSAPI_, which is configuration): while the file this variable names
/// exists, the restore waits after the copy was checked, where a signal may come.
#[cfg(debug_assertions)]
fn pause_if_asked() {
    let Some(file) = std::env::var_os("DEBUG_WHATSAPI_RESTORE_PAUSE_FILE").map(PathBuf::from)
    else {
        return;
    };
    eprintln!("test hook: the restore waits before the swap");
    while file.exists() {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
