//! What the backup and restore tests (tests/backup_schedule.rs, tests/restore.rs) share: a server with
//! scheduled backups, stopping it as the service manager does, the backup job's record, the rows of every
//! table of a database file, and an operator's browser.
#![allow(dead_code)]

use crate::common::api::{PASSWORD, with_password};
use crate::common::raw::{Answer, Browser, request};
use crate::common::{Install, Server};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

pub const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0";

/// `serve` with a backup every second into `dir`, keeping `keep`, and no other job during the test.
pub fn serve_with_backups(install: &Install, dir: &Path, keep: u32) -> Server {
    let mut cmd = install.command(&["serve"]);
    backup_settings(&mut cmd, dir, keep);
    cmd.env("WHATSAPI_RETENTION__SCHEDULE", "0 0 0 29 2 *")
        .env("WHATSAPI_STORAGE__MAINTENANCE_SCHEDULE", "0 0 0 29 2 *")
        .env("WHATSAPI_SANDBOX__SENT_AFTER_MS", "20")
        .env("WHATSAPI_SANDBOX__DELIVERED_AFTER_MS", "40")
        .env("WHATSAPI_SANDBOX__READ_AFTER_MS", "60");
    install.serve_with(cmd)
}

/// The `[backup]` settings of `serve_with_backups`, for another command (`doctor`).
pub fn backup_settings(cmd: &mut Command, dir: &Path, keep: u32) {
    cmd.env("WHATSAPI_BACKUP__SCHEDULE", "* * * * * *")
        .env("WHATSAPI_BACKUP__DIR", dir)
        .env("WHATSAPI_BACKUP__KEEP", keep.to_string());
}

/// A finished run of the backup job, as `job_runs` records it.
#[derive(Debug, Clone)]
pub struct BackupRun {
    pub started_at: i64,
    pub finished_at: i64,
    pub file: Option<String>,
    pub error: Option<String>,
}

/// The finished backup runs, oldest first.
pub fn backup_runs(install: &Install) -> Vec<BackupRun> {
    let conn = rusqlite::Connection::open_with_flags(
        install.db_path(),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    conn.prepare(
        "SELECT started_at, finished_at, outcome, error FROM job_runs
         WHERE job = 'backup' AND finished_at IS NOT NULL ORDER BY started_at, id",
    )
    .unwrap()
    .query_map([], |r| {
        let outcome: String = r.get(2)?;
        let outcome: serde_json::Value = serde_json::from_str(&outcome).unwrap();
        Ok(BackupRun {
            started_at: r.get(0)?,
            finished_at: r.get(1)?,
            file: outcome["file"].as_str().map(str::to_owned),
            error: r.get(3)?,
        })
    })
    .unwrap()
    .collect::<rusqlite::Result<_>>()
    .unwrap()
}

/// The successful backup runs, oldest first.
pub fn good_backups(install: &Install) -> Vec<BackupRun> {
    backup_runs(install)
        .into_iter()
        .filter(|run| run.error.is_none())
        .collect()
}

/// The rows of every table of the database at `path` (opened read-only), by table.
pub fn row_counts(path: &Path) -> BTreeMap<String, i64> {
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let tables: Vec<String> = conn
        .prepare(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
        )
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    tables
        .into_iter()
        .map(|table| {
            let rows = conn
                .query_row(&format!("SELECT count(*) FROM \"{table}\""), [], |r| {
                    r.get(0)
                })
                .unwrap();
            (table, rows)
        })
        .collect()
}

/// SQLite's integrity check of the file at `path`.
pub fn integrity(path: &Path) -> String {
    rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .unwrap()
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap()
}

/// An operator made from the command line, signed in.
pub fn operator(install: &Install, server: &Server) -> Browser {
    with_password(
        install,
        &[
            "admin",
            "create",
            "--email",
            "op@host.test",
            "--name",
            "Op",
            "--password-stdin",
        ],
    );
    Browser::new(&server.url, FIREFOX).signed_in("op@host.test", PASSWORD)
}

/// A GET as `browser`, in `language`.
pub fn get_in(browser: &Browser, path: &str, language: &str) -> Answer {
    let mut headers = vec![
        ("User-Agent", browser.user_agent.as_str()),
        ("Accept-Language", language),
    ];
    if let Some(cookie) = &browser.cookie {
        headers.push(("Cookie", cookie));
    }
    request(&browser.base, "GET", path, &headers, "")
}

/// The element with this id (its opening tag to the end of its section), whole.
pub fn section<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in:\n{html}"));
    let end = html[start..]
        .find("</section>")
        .map_or(html.len(), |e| start + e);
    &html[start..end]
}

/// A command that must refuse: exit status 1. Returns its stderr.
pub fn refused(output: Output) -> String {
    let err = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(
        output.status.code(),
        Some(1),
        "expected a refusal: {:?}\nstdout: {}\nstderr: {err}",
        output.status,
        String::from_utf8_lossy(&output.stdout)
    );
    err
}

/// The file names in `dir`, sorted.
pub fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}
