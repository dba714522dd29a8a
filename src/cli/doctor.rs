//! `whatsapi doctor`: checks what can go wrong on a host and prints one line per check and a verdict.
//! It only reads: it never creates a key, a database or a directory.

use anyhow::Result;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::ExitCode;
use whatsapi::config::Config;
use whatsapi::crypto::{self, KeyFileError};
use whatsapi::outbound::targets::MetaTargets;
use whatsapi::store::keystore::{self, KeystoreFiles, Known, MirrorState};
use whatsapi::store::{self, keys, migrations};

/// Below this much free space the data directory is a problem; below ten times as much, a warning.

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

    let keystore_files = config.keystore_files();
    let keystore = keystore_files
        .path
        .exists()
        .then(|| Known::read_file(&keystore_files.path));
    if db_exists {
        let retired = match &keystore {
            Some(Ok(known)) => known.retired_masters.clone(),
            _ => Default::default(),
        };
        check_database(&mut report, &db_path, key.as_ref(), &retired);
        check_graph_addresses(&mut report, &db_path, &MetaTargets::new(&config));
        check_keystore(&mut report, &db_path, &keystore_files, keystore);
        check_backups(&mut report, &db_path, &config);
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
    check_disk(
        &mut report,
        &config.storage.data_dir,
        config.storage.min_free_mb << 20,
    );
    Ok(verdict(&report))
}

/// `retired`: master keys a rotation replaced, which a restored backup may still name.
fn check_database(
    report: &mut Report,
    db_path: &Path,
    key: Option<&crypto::Key>,
    retired: &BTreeSet<u32>,
) {
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
            Ok(Some(expected)) if retired.contains(&expected) => report.line(
                Verdict::Ok,
                "key match",
                format!(
                    "a backup sealed with the key {expected:08x}, which a rotation replaced: the next start \
                     seals it with {:08x}",
                    key.id()
                ),
            ),
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
    // Work a stop left for the next start (absent tables: a schema the next start upgrades).
    let waiting = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap_or(0);
    let deletions = waiting("SELECT count(*) FROM account_deletions");
    if deletions > 0 {
        report.line(
            Verdict::Warn,
            "deletions",
            format!("{deletions} account deletion(s) under way or cut off: the server finishes them at its start"),
        );
    }
    let mails = waiting("SELECT count(*) FROM policy_mail");
    if mails > 0 {
        report.line(
            Verdict::Warn,
            "policy mail",
            format!(
                "{mails} email(s) about the privacy policy not sent yet: the server tries again at its \
                 start and every minute (is [smtp] reachable?)"
            ),
        );
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

/// Connections whose Graph API address the operator's list does not allow (saved before the list, or
/// before it changed): their queues are held at the first send, so say so before anyone wonders.
fn check_graph_addresses(report: &mut Report, db_path: &Path, targets: &MetaTargets) {
    let Ok(conn) = store::connect(db_path, whatsapi::config::Synchronous::Full, true) else {
        return; // check_database said why
    };
    let addresses: rusqlite::Result<Vec<String>> = conn
        .prepare("SELECT graph_base_url FROM connections")
        .and_then(|mut stmt| stmt.query_map([], |r| r.get(0))?.collect());
    let Ok(addresses) = addresses else {
        return; // a schema the next start upgrades
    };
    let refused = addresses
        .iter()
        .filter(|url| targets.check_base_url(url).is_err())
        .count();
    if refused > 0 {
        report.line(
            Verdict::Warn,
            "graph addresses",
            format!(
                "{refused} connection(s) use a Graph API address [meta] allowed_base_urls does not allow: \
                 nothing is sent for them until the address is changed (or allowed)"
            ),
        );
    } else {
        report.line(
            Verdict::Ok,
            "graph addresses",
            format!(
                "all {} connection(s) use allowed addresses",
                addresses.len()
            ),
        );
    }
}

fn check_keystore(
    report: &mut Report,
    db_path: &Path,
    files: &KeystoreFiles,
    keystore: Option<rusqlite::Result<Known>>,
) {
    let database = store::connect(db_path, whatsapi::config::Synchronous::Full, true);
    let keys_in_database = database.as_ref().is_ok_and(|conn| {
        conn.query_row(
            "SELECT count(*) > 0 FROM sqlite_schema WHERE type = 'table' AND name = 'data_keys'",
            [],
            |r| r.get(0),
        )
        .unwrap_or(false)
    });
    let accounts: i64 = database
        .as_ref()
        .ok()
        .and_then(|conn| {
            conn.query_row("SELECT count(*) FROM accounts", [], |r| r.get(0))
                .ok()
        })
        .unwrap_or(0);
    let shown = files.path.display();
    if keys_in_database {
        return report.line(
            Verdict::Ok,
            "keystore",
            format!(
                "the data keys are still in the database (made before the keystore): the next start moves \
                 them to {shown}"
            ),
        );
    }
    let known = match keystore {
        None if accounts == 0 => {
            return report.line(
                Verdict::Warn,
                "keystore",
                format!("{shown} does not exist yet (the first start creates it)"),
            );
        }
        None => {
            return report.line(
                Verdict::Fail,
                "keystore",
                format!(
                    "{shown} does not exist; the database has {accounts} account(s) whose data keys belong \
                     there: restore it or a mirror of it"
                ),
            );
        }
        Some(Err(e)) => {
            return report.line(
                Verdict::Fail,
                "keystore",
                format!("cannot read {shown}: {e}"),
            );
        }
        Some(Ok(known)) => known,
    };
    if known.knows_nothing() && accounts > 0 {
        return report.line(
            Verdict::Fail,
            "keystore",
            format!(
                "{shown} is empty, but the database has {accounts} account(s) whose data keys belong there: \
                 restore it or a mirror of it"
            ),
        );
    }
    report.line(
        Verdict::Ok,
        "keystore",
        format!(
            "{shown} ({} data keys, {} destroyed)",
            known.keys.len(),
            known.destroyed.len()
        ),
    );
    let keyless = database
        .as_ref()
        .ok()
        .and_then(|conn| keys::accounts_without_key(conn, &known).ok())
        .unwrap_or_default();
    if !keyless.is_empty() {
        let ids: Vec<String> = keyless.iter().map(|a| a.get().to_string()).collect();
        report.line(
            Verdict::Warn,
            "data keys",
            format!(
                "accounts {} have no data key (deleted after this copy of the database was made); \
                 `whatsapi account delete --account ID` removes their rows",
                ids.join(", ")
            ),
        );
    }
    for mirror in &files.mirrors {
        let (verdict, detail) = check_mirror(mirror, &known);
        report.line(
            verdict,
            "keystore mirror",
            format!("{}: {detail}", mirror.display()),
        );
    }
}

/// A mirror's state (`keystore::mirror_state`) as a line of the report.
fn check_mirror(mirror: &Path, keystore: &Known) -> (Verdict, String) {
    let state = keystore::mirror_state(mirror, keystore);
    let verdict = match &state {
        _ if state.fails() => Verdict::Fail,
        MirrorState::Empty | MirrorState::Behind => Verdict::Warn,
        _ => Verdict::Ok,
    };
    let detail = match state {
        MirrorState::UpToDate => "up to date".to_owned(),
        MirrorState::NotYet => "does not exist yet (the next start creates it)".to_owned(),
        MirrorState::NoDirectory => {
            "its directory does not exist: the server will not start".to_owned()
        }
        MirrorState::Empty => {
            "empty (its first copy was cut off): the next start writes it".to_owned()
        }
        MirrorState::Behind => {
            "behind the keystore: the next start brings it up to date".to_owned()
        }
        MirrorState::Ahead(ahead) => format!(
            "has a newer key or a newer deletion for the accounts {ahead:?}: the keystore is an \
             older copy and the server will not start; if the mirror is right, copy it over the keystore"
        ),
        MirrorState::Unreadable(e) => {
            format!("cannot be read ({e}): the server will not start until it can")
        }
    };
    (verdict, detail)
}

/// The last scheduled backup: a warning when it failed, or when backups are scheduled and the last success
/// is older than two periods of the schedule (or there is none).
fn check_backups(report: &mut Report, db_path: &Path, config: &Config) {
    use whatsapi::services::backups::{self, Run, Standing};
    let read = store::connect(db_path, whatsapi::config::Synchronous::Full, true)
        .map_err(whatsapi::error::Error::from)
        .and_then(|conn| backups::read(&conn));
    let Ok(state) = read else {
        return; // check_database said why
    };
    let schedule = config.backup.schedule();
    let now = chrono::Utc::now();
    let ago = |at: i64| age(now.timestamp_millis().saturating_sub(at));
    let made = |run: &Run| {
        format!(
            "{} ({} bytes, integrity check {}), {} ago",
            run.file.as_deref().unwrap_or("?"),
            run.bytes.unwrap_or(0),
            run.integrity.as_deref().unwrap_or("?"),
            ago(run.finished_at)
        )
    };
    let last_success = || match &state.last_success {
        Some(run) => format!("the last good one is {}", made(run)),
        None => "none ever succeeded".to_owned(),
    };
    let every = format!("[backup] schedule {:?}", config.backup.schedule);
    let standing = state.standing(schedule.as_ref(), now);
    let detail = match standing {
        Standing::Off => match &state.last_success {
            Some(run) => format!(
                "not scheduled ([backup] schedule is empty); the last one is {}",
                made(run)
            ),
            None => {
                "not scheduled ([backup] schedule is empty); `whatsapi backup PATH` writes one now"
                    .to_owned()
            }
        },
        Standing::Ok => format!(
            "last backup ok: {}",
            made(state.last_success.as_ref().expect("a success"))
        ),
        Standing::Waiting => match schedule.as_ref().and_then(|s| state.first_due(s)) {
            Some(due) => format!(
                "none made yet on {every}; the first is due at {} UTC",
                due.format("%Y-%m-%d %H:%M")
            ),
            None => format!(
                "none made yet on {every}; no server has run this schedule yet (it makes them while \
                 it runs)"
            ),
        },
        Standing::Never => {
            format!(
                "none made on {every} although one was due (the server makes them while it runs; is \
                 it running?)"
            )
        }
        Standing::Failed => {
            let last = state.last.as_ref().expect("a failure");
            format!(
                "the last backup failed {} ago: {}; {}",
                ago(last.finished_at),
                last.error.as_deref().unwrap_or("?"),
                last_success()
            )
        }
        Standing::Stale => format!(
            "{}: older than two periods of {every}; is the server running?",
            last_success()
        ),
    };
    let verdict = if standing.warns() {
        Verdict::Warn
    } else {
        Verdict::Ok
    };
    report.line(verdict, "backup", detail);
}

/// How long ago, in words: minutes, hours and minutes, or days and hours.
fn age(ms: i64) -> String {
    let minutes = ms.max(0) / 60_000;
    match minutes {
        0 => "less than a minute".to_owned(),
        1..60 => format!("{minutes} min"),
        60..2_880 => format!("{} h {} min", minutes / 60, minutes % 60),
        _ => format!("{} d {} h", minutes / 1_440, minutes % 1_440 / 60),
    }
}

/// Free space: a failure under `[storage] min_free_mb`, a warning under five times it.
fn check_disk(report: &mut Report, data_dir: &Path, min_free: u64) {
    let probe = if data_dir.exists() {
        data_dir
    } else {
        data_dir.parent().unwrap_or(Path::new("."))
    };
    match whatsapi::store::health::free_bytes(probe) {
        Ok(free) if free < min_free => report.line(
            Verdict::Fail,
            "disk",
            format!("only {} MiB free at {}", free >> 20, probe.display()),
        ),
        Ok(free) if free < 5 * min_free => report.line(
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
