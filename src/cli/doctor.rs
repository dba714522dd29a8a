//! `whatsapi doctor`: checks what can go wrong on a host and prints one line per check and a verdict.
//! It only reads: it never creates a key, a database or a directory.

use anyhow::Result;
use std::path::Path;
use std::process::ExitCode;
use whatsapi::config::Config;
use whatsapi::crypto::{self, KeyFileError};
use whatsapi::store::keystore::KeystoreFiles;
use whatsapi::store::{self, keys, migrations};

/// Below this much free space the data directory is a problem; below ten times as much, a warning.
const MIN_FREE_BYTES: u64 = 100 * 1024 * 1024;

#[derive(Clone, Copy, PartialEq)]
enum Verdict {
    Ok,
    Warn,
    Fail,
}

struct Report {
    failures: usize,
    warnings: usize,
}

impl Report {
    fn line(&mut self, verdict: Verdict, check: &str, detail: impl AsRef<str>) {
        let word = match verdict {
            Verdict::Ok => "ok  ",
            Verdict::Warn => {
                self.warnings += 1;
                "warn"
            }
            Verdict::Fail => {
                self.failures += 1;
                "FAIL"
            }
        };
        println!("{word}  {check:<12} {}", detail.as_ref());
    }
}

pub fn run(config_path: Option<&Path>) -> Result<ExitCode> {
    let mut report = Report {
        failures: 0,
        warnings: 0,
    };
    let config = match Config::load(config_path) {
        Ok(config) => {
            report.line(Verdict::Ok, "config", "valid");
            config
        }
        Err(e) => {
            report.line(Verdict::Fail, "config", e.to_string());
            return Ok(verdict(&report));
        }
    };
    if let Err(e) = whatsapi::startup::check_data_dir_owner(&config) {
        report.line(Verdict::Fail, "user", e.to_string());
        return Ok(verdict(&report));
    }
    let db_path = config.db_path();
    let db_exists = db_path.is_file();

    let key = match crypto::read_key_file(&config.storage.key_file) {
        Ok(key) => {
            report.line(
                Verdict::Ok,
                "key file",
                format!(
                    "{} (key {:08x}, mode 600)",
                    config.storage.key_file.display(),
                    key.id()
                ),
            );
            Some(key)
        }
        Err(KeyFileError::Missing(path)) if !db_exists => {
            report.line(
                Verdict::Warn,
                "key file",
                format!("{path} does not exist yet (the first start creates it)"),
            );
            None
        }
        Err(e) => {
            report.line(Verdict::Fail, "key file", e.to_string());
            None
        }
    };

    if db_exists {
        check_database(&mut report, &db_path, key.as_ref());
        check_keystore(&mut report, &db_path, &config.keystore_files());
    } else {
        report.line(
            Verdict::Warn,
            "database",
            format!(
                "{} does not exist yet (the first start creates it)",
                db_path.display()
            ),
        );
    }
    check_disk(&mut report, &config.storage.data_dir);
    Ok(verdict(&report))
}

fn check_database(report: &mut Report, db_path: &Path, key: Option<&crypto::Key>) {
    let conn = match store::connect(db_path, whatsapi::config::Synchronous::Full, true) {
        Ok(conn) => conn,
        Err(e) => {
            return report.line(
                Verdict::Fail,
                "database",
                format!("cannot open {}: {e}", db_path.display()),
            );
        }
    };
    match migrations::version(&conn) {
        Ok(v) if v == migrations::LATEST => {
            report.line(Verdict::Ok, "schema", format!("version {v} (the latest)"))
        }
        Ok(v) if v < migrations::LATEST => report.line(
            Verdict::Warn,
            "schema",
            format!(
                "version {v}, {} is the latest: the next start (or `whatsapi migrate`) upgrades it",
                migrations::LATEST
            ),
        ),
        Ok(v) => report.line(
            Verdict::Fail,
            "schema",
            format!(
                "version {v} is newer than this whatsapi ({}); run the newer version",
                migrations::LATEST
            ),
        ),
        Err(e) => report.line(Verdict::Fail, "schema", e.to_string()),
    }
    if keys::rotation_pending(&conn).unwrap_or(false) {
        report.line(
            Verdict::Fail,
            "key rotation",
            "interrupted: run `whatsapi keys rotate` again to finish it",
        );
    }
    if let Some(key) = key {
        match keys::database_master_key_id(&conn) {
            Ok(Some(expected)) if expected == key.id() => {
                report.line(Verdict::Ok, "key match", "the key file opens this database")
            }
            Ok(Some(expected)) => report.line(
                Verdict::Fail,
                "key match",
                format!(
                    "the database was sealed with key {expected:08x}, the key file holds {:08x}",
                    key.id()
                ),
            ),
            Ok(None) => report.line(
                Verdict::Warn,
                "key match",
                "the database has no key check yet",
            ),
            Err(e) => report.line(Verdict::Fail, "key match", e.to_string()),
        }
    }
    let integrity: rusqlite::Result<Vec<String>> = conn
        .prepare("PRAGMA integrity_check")
        .and_then(|mut stmt| stmt.query_map([], |r| r.get(0))?.collect());
    match integrity {
        Ok(lines) if lines == ["ok"] => {
            report.line(Verdict::Ok, "integrity", "PRAGMA integrity_check: ok")
        }
        Ok(lines) => report.line(Verdict::Fail, "integrity", lines.join("; ")),
        Err(e) => report.line(Verdict::Fail, "integrity", e.to_string()),
    }
}

/// The keys a keystore file holds (account id and sealed key), read without creating or changing it.
fn keystore_keys(path: &Path) -> rusqlite::Result<Vec<(i64, Vec<u8>)>> {
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let mut stmt = conn.prepare("SELECT account_id, sealed FROM data_keys ORDER BY account_id")?;
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect()
}

fn check_keystore(report: &mut Report, db_path: &Path, files: &KeystoreFiles) {
    let accounts: Vec<i64> = store::connect(db_path, whatsapi::config::Synchronous::Full, true)
        .and_then(|conn| {
            conn.prepare("SELECT id FROM accounts ORDER BY id")?
                .query_map([], |r| r.get(0))?
                .collect()
        })
        .unwrap_or_default();
    let shown = files.path.display();
    if !files.path.exists() {
        let verdict = if accounts.is_empty() {
            Verdict::Warn
        } else {
            Verdict::Fail
        };
        return report.line(
            verdict,
            "keystore",
            format!(
                "{shown} does not exist; the database has {} account(s) whose data keys belong there{}",
                accounts.len(),
                if accounts.is_empty() { " (the first start creates it)" } else { ": restore it or a mirror of it" }
            ),
        );
    }
    let keys = match keystore_keys(&files.path) {
        Ok(keys) => keys,
        Err(e) => {
            return report.line(
                Verdict::Fail,
                "keystore",
                format!("cannot read {shown}: {e}"),
            );
        }
    };
    report.line(
        Verdict::Ok,
        "keystore",
        format!("{shown} ({} data keys)", keys.len()),
    );
    let keyless: Vec<String> = accounts
        .iter()
        .filter(|a| keys.binary_search_by_key(*a, |(id, _)| *id).is_err())
        .map(i64::to_string)
        .collect();
    if !keyless.is_empty() {
        report.line(
            Verdict::Warn,
            "data keys",
            format!(
                "accounts {} have no data key (deleted after this copy of the database was made); \
                 `whatsapi account delete --account ID` removes their rows",
                keyless.join(", ")
            ),
        );
    }
    for mirror in &files.mirrors {
        let (verdict, detail) = match keystore_keys(mirror) {
            Ok(copy) if copy == keys => (Verdict::Ok, "up to date".to_owned()),
            Ok(_) => (
                Verdict::Warn,
                "differs from the keystore; the next start brings it up to date".to_owned(),
            ),
            Err(e) => (
                Verdict::Warn,
                format!("cannot be read ({e}); the server will not start until it can be written"),
            ),
        };
        report.line(
            verdict,
            "keystore mirror",
            format!("{}: {detail}", mirror.display()),
        );
    }
}

fn check_disk(report: &mut Report, data_dir: &Path) {
    let probe = if data_dir.exists() {
        data_dir
    } else {
        data_dir.parent().unwrap_or(Path::new("."))
    };
    match free_bytes(probe) {
        Ok(free) if free < MIN_FREE_BYTES => report.line(
            Verdict::Fail,
            "disk",
            format!("only {} MiB free at {}", free >> 20, probe.display()),
        ),
        Ok(free) if free < 10 * MIN_FREE_BYTES => report.line(
            Verdict::Warn,
            "disk",
            format!("{} MiB free at {}", free >> 20, probe.display()),
        ),
        Ok(free) => report.line(
            Verdict::Ok,
            "disk",
            format!("{} MiB free at {}", free >> 20, probe.display()),
        ),
        Err(e) => report.line(
            Verdict::Warn,
            "disk",
            format!("cannot measure free space: {e}"),
        ),
    }
}

/// Free space available to this user on the file system holding `path`.
#[allow(unsafe_code)]
fn free_bytes(path: &Path) -> std::io::Result<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())?;
    let mut stats = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: c_path is a valid NUL-terminated string and stats points to writable memory of the right type.
    let rc = unsafe { libc::statvfs(c_path.as_ptr(), stats.as_mut_ptr()) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: statvfs returned 0, so it filled the struct.
    let stats = unsafe { stats.assume_init() };
    // The field types differ between platforms (u32 on some), hence the casts.
    #[allow(clippy::unnecessary_cast)]
    Ok(stats.f_bavail as u64 * stats.f_frsize as u64)
}

fn verdict(report: &Report) -> ExitCode {
    if report.failures == 0 {
        println!("verdict: healthy ({} warning(s))", report.warnings);
        ExitCode::SUCCESS
    } else {
        println!(
            "verdict: {} problem(s) found; fix the lines marked FAIL",
            report.failures
        );
        ExitCode::FAILURE
    }
}
