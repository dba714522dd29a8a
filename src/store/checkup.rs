//! Whether the store answers, one check for everyone who asks (`/healthz`, the `READY=1` of a start,
//! systemd's watchdog): a read on a reader connection, a write through the writer committed within a
//! bound, and writes still reaching the database file (`health::StorageHealth`).
//!
//! A full write queue is the load the server sheds by design (requests get 503 `overloaded`), not a
//! writer that has stopped: the writer then counts as answering when it committed since the caller's
//! last look, or does within the bound.

use super::Db;
use super::health::Trouble;
use super::writer::Queued;
use crate::error::Error;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// What a checkup found.
pub struct Checkup {
    /// A read through a reader connection; why it failed, in words.
    pub reads: Result<(), String>,
    /// The writer committed within the bound; why it did not, in words.
    pub writer: Result<(), String>,
    /// What stops writes from reaching the database file, and for how long it has.
    pub storage: Option<(Trouble, Duration)>,
}

impl Checkup {
    /// Reads, writes and the file: all answer.
    pub fn healthy(&self) -> bool {
        self.trouble().is_none()
    }

    /// What does not answer, in words for the log; None when everything does.
    pub fn trouble(&self) -> Option<String> {
        let mut troubles = Vec::new();
        if let Err(why) = &self.reads {
            troubles.push(format!("reads fail ({why})"));
        }
        if let Err(why) = &self.writer {
            troubles.push(format!("the writer {why}"));
        }
        if let Some((trouble, _)) = &self.storage {
            troubles.push(format!(
                "writes do not reach the file ({})",
                trouble.describe()
            ));
        }
        (!troubles.is_empty()).then(|| troubles.join("; "))
    }
}

/// The writer's side of checkups one caller repeats (the watchdog): a probe the writer has not answered
/// yet is waited for again rather than queuing a second one behind it, and the commits counted at the
/// last look tell a busy writer from a silent one. A fresh one (`Probe::default()`) for a single check.
#[derive(Default)]
pub struct Probe {
    waiting: Option<Queued<()>>,
    commits: Option<u64>,
}

/// How often a check waiting on a full queue looks at the writer's commits.
const LOOK_EVERY: Duration = Duration::from_millis(10);

impl Db {
    /// Whether the store answers now, the writer within `within` (blocks at most about that long).
    pub fn checkup(&self, within: Duration, probe: &mut Probe) -> Checkup {
        let reads = self
            .read(|conn| {
                Ok(conn.query_row("SELECT count(*) FROM settings", [], |r| r.get::<_, i64>(0))?)
            })
            .map(|_| ())
            .map_err(|e| e.to_string());
        let commits = || self.writer_stats().transactions.load(Ordering::Relaxed);
        let since = probe.commits.unwrap_or_else(commits);
        let writer = self.writer_answers(within, probe, since);
        probe.commits = Some(commits());
        // Looks at the file itself too: one deleted under the server is found here, not at the next write.
        self.health().file_is_ours();
        Checkup {
            reads,
            writer,
            storage: self.health().trouble(),
        }
    }

    fn writer_answers(
        &self,
        within: Duration,
        probe: &mut Probe,
        since: u64,
    ) -> Result<(), String> {
        let committed = |by: Instant| loop {
            if self.writer_stats().transactions.load(Ordering::Relaxed) > since {
                return true;
            }
            let now = Instant::now();
            if now >= by {
                return false;
            }
            std::thread::sleep(LOOK_EVERY.min(by - now));
        };
        let queued = match probe.waiting.take() {
            Some(queued) => queued,
            None => match self.probe_writer() {
                Ok(queued) => queued,
                Err(Error::Overloaded) => {
                    return match committed(Instant::now() + within) {
                        true => Ok(()),
                        false => Err(format!(
                            "has a full queue and committed nothing within {within:?}"
                        )),
                    };
                }
                Err(e) => return Err(format!("refused a write ({e})")),
            },
        };
        match queued.wait_for(within) {
            Some(Ok(())) => Ok(()),
            Some(Err(e)) => Err(format!("failed a write ({e})")),
            None => {
                probe.waiting = Some(queued);
                // Busy with a long queue ahead of the probe, but committing: not stuck.
                match committed(Instant::now()) {
                    true => Ok(()),
                    false => Err(format!("did not answer within {within:?}")),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreOptions;
    use crate::store::keystore::KeystoreFiles;
    use std::sync::mpsc;

    const WITHIN: Duration = Duration::from_millis(50);

    /// Holds the writer in a write until the returned sender is dropped, then fills its queue (of two).
    fn hold_and_fill(db: &Db) -> (mpsc::Sender<()>, Vec<Queued<()>>) {
        let (started, start) = mpsc::channel();
        let (release, released) = mpsc::channel::<()>();
        let mut held = vec![
            db.queue_write(move |_| {
                started.send(()).unwrap();
                let _ = released.recv();
                Ok(())
            })
            .unwrap(),
        ];
        start.recv().unwrap();
        held.extend((0..2).map(|_| db.queue_write(|_| Ok(())).unwrap()));
        assert!(matches!(db.probe_writer(), Err(Error::Overloaded)));
        (release, held)
    }

    #[test]
    fn a_full_queue_answers_while_the_writer_commits_and_not_once_it_stops() {
        let dir = tempfile::tempdir().unwrap();
        let options = StoreOptions {
            write_queue: 2,
            ..StoreOptions::default()
        };
        let db = Db::open(
            &dir.path().join("whatsapi.db"),
            &options,
            crate::crypto::Key::master([5; 32]),
            &KeystoreFiles::beside(&dir.path().join("master.key")),
        )
        .unwrap();
        let mut probe = Probe::default();
        // Positive control: an idle writer answers.
        let idle = db.checkup(WITHIN, &mut probe);
        assert!(idle.healthy(), "{:?}", idle.trouble());

        // Held in a write with its queue full: it commits nothing, so it does not answer.
        let (release, held) = hold_and_fill(&db);
        let stuck = db.checkup(WITHIN, &mut probe);
        assert!(stuck.reads.is_ok());
        let why = stuck.writer.unwrap_err();
        assert!(why.contains("full queue and committed nothing"), "{why}");

        // It commits what was queued, and is full again: it committed since the last look, so it answers.
        drop(release);
        held.into_iter().for_each(|q| q.wait().unwrap());
        let (release, held) = hold_and_fill(&db);
        let busy = db.checkup(WITHIN, &mut probe);
        assert!(busy.healthy(), "{:?}", busy.trouble());

        // Nothing committed since that look: no answer again.
        let again = db.checkup(WITHIN, &mut probe);
        assert!(again.writer.is_err());
        assert!(!again.healthy());
        drop(release);
        held.into_iter().for_each(|q| q.wait().unwrap());
        assert!(db.checkup(WITHIN, &mut Probe::default()).healthy());
    }
}
