//! Scheduled backups on the real server: with `[backup] schedule` every second, backups appear in
//! `[backup] dir` (made 0700) under their UTC time, each whole and checked; `keep` leaves only the newest
//! of them and never touches another file; the last result is on /admin (in English and Arabic) and in
//! `whatsapi doctor`, a failure included, and doctor warns when the last success is older than two
//! periods of the schedule, or when none was made although one was due (not before the first is due).

mod backup_support;
mod common;

use backup_support::{
    backup_runs, backup_settings, get_in, good_backups, integrity, names_in, operator, section,
    serve_with_backups,
};
use common::{Install, mode_of, stdout, wait_until};

fn is_backup_name(name: &str) -> bool {
    name.len() == "whatsapi-20261208T030000Z.db".len()
        && name.starts_with("whatsapi-2")
        && name.ends_with("Z.db")
}

/// `whatsapi doctor` with the backups of `serve_with_backups`; its `backup` line.
fn doctor_line(install: &Install, dir: &std::path::Path) -> String {
    let mut cmd = install.command(&["doctor"]);
    backup_settings(&mut cmd, dir, 2);
    let output = cmd.output().unwrap();
    let report = stdout(&output);
    assert!(output.status.success(), "{report}");
    report
        .lines()
        .find(|l| l[6..].starts_with("backup "))
        .unwrap_or_else(|| panic!("no backup line:\n{report}"))
        .to_owned()
}

#[test]
fn scheduled_backups_appear_and_only_the_newest_are_kept() {
    let install = Install::new();
    let dir = install.path("backups");
    let server = serve_with_backups(&install, &dir, 2);
    wait_until("a first scheduled backup", || {
        !good_backups(&install).is_empty()
    });
    assert_eq!(
        mode_of(&dir),
        0o700,
        "the server made the directory private"
    );
    // Files of the operator's own in the same directory, one named almost like a backup.
    let others = [
        ("notes.txt", "where the backups go"),
        ("whatsapi.db", "a copy made by hand"),
        ("whatsapi-20200101T000000Z.db.old", "an old backup, renamed"),
    ];
    for (name, text) in others {
        std::fs::write(dir.join(name), text).unwrap();
    }
    wait_until("four scheduled backups", || {
        good_backups(&install).len() >= 4
    });

    // While it runs: the last result on /admin and in doctor.
    let browser = operator(&install, &server);
    let page = get_in(&browser, "/admin", "en");
    assert_eq!(page.status, 200);
    let backups = section(&page.body, "backups");
    assert!(backups.contains(r#"data-standing="ok""#), "{backups}");
    assert!(
        backups.contains("Up to date") && backups.contains("Completed"),
        "{backups}"
    );
    assert!(
        backups.contains(r#"data-cell="integrity">ok<"#),
        "{backups}"
    );
    assert!(backups.contains("keeps the newest 2"), "{backups}");
    // The file shown is one the job wrote (perhaps a newer one than read above).
    let shown = backups
        .split(r#"data-cell="file">"#)
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .unwrap();
    assert!(is_backup_name(shown), "{shown}");
    assert!(
        backup_runs(&install)
            .iter()
            .any(|run| run.file.as_deref().is_some_and(|f| f.ends_with(shown))),
        "{shown}"
    );
    let arabic = get_in(&browser, "/admin", "ar");
    let backups = section(&arabic.body, "backups");
    assert!(
        backups.contains("النسخ الاحتياطية") && backups.contains("اكتملت"),
        "{backups}"
    );
    let line = doctor_line(&install, &dir);
    assert!(
        line.starts_with("ok    backup       last backup ok: "),
        "{line}"
    );
    assert!(line.contains("integrity check ok"), "{line}");
    assert!(line.contains(dir.to_str().unwrap()), "{line}");

    // A second server given the same directory would remove the first one's backups: it does not start.
    let other = Install::new();
    let mut cmd = other.command(&["serve"]);
    backup_settings(&mut cmd, &dir, 2);
    let output = cmd.output().unwrap();
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{err}");
    assert!(
        err.contains("another whatsapi server makes its scheduled backups in"),
        "{err}"
    );

    // Stopped (a backup under way finishes first): the two newest remain, whole, and nothing else went.
    server.stop();
    let runs = good_backups(&install);
    assert!(runs.len() >= 4);
    assert!(backup_runs(&install).iter().all(|run| run.error.is_none()));
    let newest: Vec<String> = runs[runs.len() - 2..]
        .iter()
        .map(|run| {
            let file = run.file.clone().unwrap();
            file.rsplit('/').next().unwrap().to_owned()
        })
        .collect();
    let names = names_in(&dir);
    let kept: Vec<String> = names
        .iter()
        .filter(|n| is_backup_name(n))
        .cloned()
        .collect();
    assert_eq!(kept, newest, "{names:?}");
    for name in &kept {
        assert_eq!(integrity(&dir.join(name)), "ok");
        assert_eq!(mode_of(&dir.join(name)), 0o600);
    }
    for (name, text) in others {
        assert_eq!(std::fs::read_to_string(dir.join(name)).unwrap(), text);
    }
    // Beside them only the lock the server held on the directory.
    assert!(
        names.contains(&".whatsapi-backup.lock".to_owned()),
        "{names:?}"
    );
    assert_eq!(names.len(), kept.len() + others.len() + 1, "{names:?}");
}

#[test]
fn a_failed_backup_shows_on_admin_and_in_doctor_until_one_succeeds() {
    let install = Install::new();
    // A backup directory that cannot be made (a file is where its parent should be) is refused at start.
    let blocked = install.path("blocked");
    std::fs::write(&blocked, "not a directory").unwrap();
    let mut cmd = install.command(&["serve"]);
    backup_settings(&mut cmd, &blocked.join("backups"), 2);
    let output = cmd.output().unwrap();
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{err}");
    assert!(err.contains("cannot create the backup directory"), "{err}");
    assert!(
        !install.db_path().exists(),
        "refused before the database was made"
    );

    // Started with a good directory, which then goes away while the server runs (a link to nowhere in
    // its place, which cannot be made a directory).
    let dir = install.path("backups");
    let server = serve_with_backups(&install, &dir, 2);
    wait_until("a first backup", || !good_backups(&install).is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
    std::os::unix::fs::symlink(install.path("nowhere"), &dir).unwrap();
    wait_until("a failed backup", || {
        backup_runs(&install)
            .last()
            .is_some_and(|run| run.error.is_some())
    });
    let run = backup_runs(&install).pop().unwrap();
    let error = run.error.expect("the backup failed");
    assert!(
        error.contains("cannot create the backup directory"),
        "{error}"
    );

    let browser = operator(&install, &server);
    let page = get_in(&browser, "/admin", "en");
    let backups = section(&page.body, "backups");
    assert!(backups.contains(r#"data-standing="failed""#), "{backups}");
    assert!(
        backups.contains("cannot create the backup directory"),
        "{backups}"
    );
    assert!(backups.contains("The last backup failed"), "{backups}");
    let arabic = get_in(&browser, "/admin", "ar");
    assert!(section(&arabic.body, "backups").contains("فشلت آخر نسخة احتياطية"));
    let line = doctor_line(&install, &dir);
    assert!(
        line.starts_with("warn  backup       the last backup failed"),
        "{line}"
    );
    assert!(
        line.contains("cannot create the backup directory"),
        "{line}"
    );
    assert!(line.contains("the last good one is"), "{line}");

    // The way cleared, the next backups succeed and the page and doctor say so.
    std::fs::remove_file(&dir).unwrap();
    let failures = backup_runs(&install).len();
    wait_until("a backup after the failure", || {
        backup_runs(&install)
            .iter()
            .skip(failures)
            .any(|run| run.error.is_none())
    });
    wait_until("the last backup good", || {
        backup_runs(&install)
            .last()
            .is_some_and(|run| run.error.is_none())
    });
    let page = get_in(&browser_of(&browser, &server), "/admin", "en");
    let backups = section(&page.body, "backups");
    assert!(backups.contains(r#"data-standing="ok""#), "{backups}");
    let line = doctor_line(&install, &dir);
    assert!(
        line.starts_with("ok    backup       last backup ok: "),
        "{line}"
    );
    server.stop();
}

/// The same signed-in browser against a restarted server (another port).
fn browser_of(browser: &common::raw::Browser, server: &common::Server) -> common::raw::Browser {
    common::raw::Browser {
        base: server.url.clone(),
        ..browser.clone()
    }
}

#[test]
fn doctor_warns_when_no_backup_succeeded_for_two_periods() {
    let install = Install::new();
    let dir = install.path("backups");
    let nightly = |install: &Install| {
        let mut cmd = install.command(&["doctor"]);
        cmd.env("WHATSAPI_BACKUP__SCHEDULE", "0 0 3 * * *")
            .env("WHATSAPI_BACKUP__DIR", &dir);
        let report = stdout(&cmd.output().unwrap());
        report
            .lines()
            .find(|l| l[6..].starts_with("backup "))
            .unwrap_or_else(|| panic!("{report}"))
            .to_owned()
    };
    assert!(install.run(&["migrate"]).status.success());
    // Scheduled, none made yet, and no server ran the schedule: none was due.
    let line = nightly(&install);
    assert!(
        line.starts_with("ok    backup       none made yet on [backup] schedule")
            && line.contains("no server has run this schedule yet"),
        "{line}"
    );
    // Not scheduled: nothing to warn about.
    let report = stdout(&install.run(&["doctor"]));
    assert!(
        report.contains("ok    backup       not scheduled ([backup] schedule is empty)"),
        "{report}"
    );

    let server = serve_with_backups(&install, &dir, 2);
    wait_until("a scheduled backup", || !good_backups(&install).is_empty());
    server.stop();
    let line = nightly(&install);
    assert!(
        line.starts_with("ok    backup       last backup ok: "),
        "{line}"
    );
    // The same backup, as if made three days ago: two nightly runs were missed since.
    let conn = rusqlite::Connection::open(install.db_path()).unwrap();
    conn.execute(
        "UPDATE job_runs SET started_at = started_at - 3 * 86400000, finished_at = finished_at - 3 * 86400000
         WHERE job = 'backup'",
        [],
    )
    .unwrap();
    drop(conn);
    let line = nightly(&install);
    assert!(
        line.starts_with("warn  backup       the last good one is "),
        "{line}"
    );
    assert!(line.contains("older than two periods"), "{line}");
    assert!(line.contains(", 3 d 0 h ago"), "{line}");
}

/// The noted start of the backups' schedule moved `days` into the past, as if the server had run it since.
fn schedule_started_days_ago(install: &Install, days: i64) {
    let conn = rusqlite::Connection::open(install.db_path()).unwrap();
    let value: Vec<u8> = conn
        .query_row(
            "SELECT value FROM settings WHERE name = 'schedule_since.backup'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let value = String::from_utf8(value).unwrap();
    let (at, schedule) = value.split_once(' ').unwrap();
    let earlier = at.parse::<i64>().unwrap() - days * 86_400_000;
    conn.execute(
        "UPDATE settings SET value = ?1 WHERE name = 'schedule_since.backup'",
        [format!("{earlier} {schedule}").into_bytes()],
    )
    .unwrap();
}

#[test]
fn a_fresh_nightly_schedule_warns_only_once_its_first_backup_was_due() {
    let install = Install::new();
    let dir = install.path("backups");
    let nightly = |cmd: &mut std::process::Command| {
        cmd.env("WHATSAPI_BACKUP__SCHEDULE", "0 0 3 * * *")
            .env("WHATSAPI_BACKUP__DIR", &dir);
    };
    let doctor = || {
        let mut cmd = install.command(&["doctor"]);
        nightly(&mut cmd);
        let report = stdout(&cmd.output().unwrap());
        report
            .lines()
            .find(|l| l[6..].starts_with("backup "))
            .unwrap_or_else(|| panic!("{report}"))
            .to_owned()
    };
    let mut cmd = install.command(&["serve"]);
    nightly(&mut cmd);
    let server = install.serve_with(cmd);
    let browser = operator(&install, &server);

    // Just set up: the first backup is due tonight, nothing to warn about.
    let page = get_in(&browser, "/admin", "en");
    let backups = section(&page.body, "backups");
    assert!(backups.contains(r#"data-standing="waiting""#), "{backups}");
    assert!(backups.contains(r#"id="first-backup-due""#), "{backups}");
    assert!(!backups.contains("alert warning"), "{backups}");
    let arabic = get_in(&browser, "/admin", "ar");
    assert!(section(&arabic.body, "backups").contains("لا نسخة احتياطية بعد: موعد الأولى"));
    let line = doctor();
    assert!(
        line.starts_with("ok    backup       none made yet on [backup] schedule")
            && line.contains("the first is due at ")
            && line.contains(" 03:00 UTC"),
        "{line}"
    );

    // Two nights later without a backup (the server stopped every night at three): a warning.
    schedule_started_days_ago(&install, 2);
    let page = get_in(&browser, "/admin", "en");
    let backups = section(&page.body, "backups");
    assert!(backups.contains(r#"data-standing="never""#), "{backups}");
    assert!(
        backups.contains("No backup has been made on this schedule, although one was due."),
        "{backups}"
    );
    let line = doctor();
    assert!(
        line.starts_with("warn  backup       none made on [backup] schedule")
            && line.contains("although one was due"),
        "{line}"
    );
    server.stop();
}
