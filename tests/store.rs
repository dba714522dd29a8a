//! The store: pragmas, migrations, the group-committing writer, and durability across kill -9.

mod common;

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use whatsapi::crypto::Key;
use whatsapi::error::Error;
use whatsapi::store::{Db, StoreOptions, migrations};

fn fresh_db(dir: &std::path::Path) -> Db {
    Db::open(
        &dir.join("whatsapi.db"),
        &StoreOptions::default(),
        Key::master([9; 32]),
        &whatsapi::store::keystore::KeystoreFiles::beside(&dir.join("master.key")),
    )
    .unwrap()
}

fn create_rows_table(db: &Db) {
    db.write(|conn| {
        Ok(conn.execute_batch("CREATE TABLE rows (id INTEGER PRIMARY KEY, thread INTEGER NOT NULL, n INTEGER NOT NULL)")?)
    })
    .unwrap();
}

fn count(db: &Db, sql: &'static str) -> i64 {
    db.read(|conn| Ok(conn.query_row(sql, [], |r| r.get(0))?))
        .unwrap()
}

#[test]
fn the_file_is_in_wal_mode_with_the_designed_pragmas() {
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_db(dir.path());
    let (journal, auto_vacuum, foreign_keys, secure_delete): (String, i64, i64, i64) = db
        .read(|conn| {
            Ok(conn.query_row(
                "SELECT (SELECT journal_mode FROM pragma_journal_mode), (SELECT auto_vacuum FROM pragma_auto_vacuum),
                        (SELECT foreign_keys FROM pragma_foreign_keys), (SELECT secure_delete FROM pragma_secure_delete)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )?)
        })
        .unwrap();
    assert_eq!(journal, "wal");
    assert_eq!(auto_vacuum, 2, "incremental auto-vacuum");
    assert_eq!(foreign_keys, 1);
    assert_eq!(secure_delete, 1);
    // Readers refuse writes: every write goes through the writer.
    let refused = db.read(|conn| Ok(conn.execute("DELETE FROM settings", [])?));
    assert!(refused.is_err());
}

#[test]
fn migrations_run_from_empty_and_running_them_again_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let schema = |db: &Db| -> Vec<String> {
        db.read(|conn| {
            let mut stmt =
                conn.prepare("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name")?;
            Ok(stmt
                .query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?)
        })
        .unwrap()
    };
    let db = fresh_db(dir.path());
    let version = db.read(|conn| Ok(migrations::version(conn)?)).unwrap();
    assert_eq!(version, migrations::LATEST);
    let first = schema(&db);
    assert!(
        first
            .iter()
            .any(|sql| sql.contains("CREATE TABLE accounts"))
    );
    drop(db);

    let db = fresh_db(dir.path());
    assert_eq!(
        db.read(|conn| Ok(migrations::version(conn)?)).unwrap(),
        migrations::LATEST
    );
    assert_eq!(schema(&db), first);
}

#[test]
fn sixty_four_threads_writing_a_thousand_rows_each_all_land() {
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_db(dir.path());
    create_rows_table(&db);
    let before = db.writer_stats().transactions.load(Ordering::Relaxed);
    let ids: Vec<Vec<i64>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..64i64)
            .map(|thread| {
                let db = db.clone();
                scope.spawn(move || {
                    (0..1000i64)
                        .map(|n| {
                            db.write(move |conn| {
                                conn.execute(
                                    "INSERT INTO rows (thread, n) VALUES (?1, ?2)",
                                    (thread, n),
                                )?;
                                Ok(conn.last_insert_rowid())
                            })
                            .unwrap()
                        })
                        .collect()
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let distinct: HashSet<i64> = ids.iter().flatten().copied().collect();
    assert_eq!(
        distinct.len(),
        64_000,
        "every caller got its own committed row"
    );
    assert_eq!(count(&db, "SELECT count(*) FROM rows"), 64_000);
    assert_eq!(
        count(&db, "SELECT count(DISTINCT thread * 1000 + n) FROM rows"),
        64_000
    );
    let transactions = db.writer_stats().transactions.load(Ordering::Relaxed) - before;
    assert!(
        transactions < 64_000,
        "writes were grouped into fewer commits ({transactions})"
    );
}

#[test]
fn a_failing_or_panicking_write_rolls_back_only_itself() {
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_db(dir.path());
    create_rows_table(&db);
    let failed = db.write(|conn| {
        conn.execute("INSERT INTO rows (thread, n) VALUES (1, 1)", [])?;
        Err::<(), _>(Error::BadRequest("second step failed".into()))
    });
    assert!(matches!(failed, Err(Error::BadRequest(_))));
    let panicked = db.write(|conn| -> whatsapi::error::Result<()> {
        conn.execute("INSERT INTO rows (thread, n) VALUES (2, 2)", [])?;
        panic!("bug in a write job");
    });
    assert!(panicked.is_err());
    // Jobs that run in the same batch as failing ones still commit.
    let barrier = Arc::new(std::sync::Barrier::new(16));
    std::thread::scope(|scope| {
        for thread in 0..16i64 {
            let (db, barrier) = (db.clone(), barrier.clone());
            scope.spawn(move || {
                barrier.wait();
                let result = db.write(move |conn| {
                    conn.execute("INSERT INTO rows (thread, n) VALUES (?1, 3)", [thread + 10])?;
                    if thread % 2 == 0 {
                        Err(Error::Conflict("even threads fail".into()))
                    } else {
                        Ok(())
                    }
                });
                assert_eq!(result.is_ok(), thread % 2 == 1);
            });
        }
    });
    assert_eq!(
        count(&db, "SELECT count(*) FROM rows WHERE n IN (1, 2)"),
        0,
        "nothing half-written"
    );
    assert_eq!(count(&db, "SELECT count(*) FROM rows WHERE n = 3"), 8);
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM rows WHERE n = 3 AND thread % 2 = 0"
        ),
        0
    );
}

#[test]
fn async_callers_resolve_after_the_commit() {
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_db(dir.path());
    create_rows_table(&db);
    let runtime = rocket::tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let ids = runtime.block_on(async {
        let writes = (0..200i64).map(|n| {
            let db = db.clone();
            async move {
                db.write_async(move |conn| {
                    conn.execute("INSERT INTO rows (thread, n) VALUES (0, ?1)", [n])?;
                    Ok(conn.last_insert_rowid())
                })
                .await
                .unwrap()
            }
        });
        let mut ids = Vec::new();
        for write in writes {
            ids.push(write.await);
        }
        let total = db.read_async(|conn| {
            Ok(conn.query_row("SELECT count(*) FROM rows", [], |r| r.get::<_, i64>(0))?)
        });
        assert_eq!(total.await.unwrap(), 200);
        ids
    });
    assert_eq!(ids.len(), 200);
}

#[test]
fn a_committed_write_survives_kill_9_of_the_process() {
    let install = common::Install::new();
    let dir = install.path("bench");
    let mut child = install
        .command(&[
            "bench",
            "store",
            "--mode",
            "group",
            "--threads",
            "8",
            "--rows",
            "1000000",
            "--print-committed",
        ])
        .args(["--dir", dir.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut committed = Vec::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        committed.push(
            line.strip_prefix("committed ")
                .unwrap()
                .parse::<i64>()
                .unwrap(),
        );
        if committed.len() == 3000 {
            break;
        }
    }
    // SIGKILL: no destructor, no flush, no checkpoint runs.
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(committed.len(), 3000);

    let conn = rusqlite::Connection::open(dir.join("bench-group.db")).unwrap();
    let mut stmt = conn
        .prepare("SELECT 1 FROM bench_rows WHERE id = ?1")
        .unwrap();
    let missing: Vec<i64> = committed
        .iter()
        .copied()
        .filter(|id| !stmt.exists([id]).unwrap())
        .collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged rows were lost, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
}

#[test]
fn a_second_process_can_write_while_the_store_is_open() {
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_db(dir.path());
    create_rows_table(&db);
    let path = dir.path().join("whatsapi.db");
    // Another connection, as another process would have (the CLI), writing while our writer writes.
    let other = std::thread::spawn(move || {
        let conn = whatsapi::store::connect(&path, Default::default(), false).unwrap();
        for n in 0..500 {
            conn.execute_batch(&format!(
                "BEGIN IMMEDIATE; INSERT INTO rows (thread, n) VALUES (99, {n}); COMMIT;"
            ))
            .unwrap();
        }
    });
    for n in 0..500i64 {
        db.write(move |conn| Ok(conn.execute("INSERT INTO rows (thread, n) VALUES (1, ?1)", [n])?))
            .unwrap();
    }
    other.join().unwrap();
    assert_eq!(count(&db, "SELECT count(*) FROM rows"), 1000);
}
