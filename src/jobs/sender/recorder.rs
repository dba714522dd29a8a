//! Sends recorded together. Most calls to Meta end in `sent`; instead of one writer job per message (its own
//! savepoint and statement), workers hand their sends to one recorder thread, which writes every send that
//! arrived while it waited for the last commit with one statement, and answers each worker once that commit
//! is durable. The worker waits, as it would for its own write, so a send is never forgotten in memory.

use super::deliver::recorded;
use crate::store::Db;
use crate::store::messages::{self, Sent};
use crate::store::states::MessageStatus;
use std::sync::{Arc, mpsc};
use std::thread;

/// Most sends written by one statement.
const MOST_PER_WRITE: usize = 1024;

struct Waiting {
    sent: Sent,
    done: mpsc::SyncSender<()>,
}

pub(super) struct Recorder {
    tx: mpsc::Sender<Waiting>,
}

impl Recorder {
    /// Starts the recorder thread; it ends when the recorder is dropped, after writing what it was given.
    pub(super) fn start(db: Db) -> Recorder {
        let (tx, rx) = mpsc::channel();
        thread::Builder::new()
            .name("sender-recorder".into())
            .spawn(move || run(&db, &rx))
            .expect("cannot start the sender's recorder thread");
        Recorder { tx }
    }

    /// Records that Meta accepted a claimed message; returns once that is committed (or the recorder gave
    /// up, which it logs).
    pub(super) fn sent(&self, sent: Sent) {
        let (done, wait) = mpsc::sync_channel(1);
        if self.tx.send(Waiting { sent, done }).is_ok() {
            let _ = wait.recv();
        }
    }
}

fn run(db: &Db, rx: &mpsc::Receiver<Waiting>) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MOST_PER_WRITE {
            match rx.try_recv() {
                Ok(waiting) => batch.push(waiting),
                Err(_) => break,
            }
        }
        let rows: Vec<Sent> = batch.iter().map(|w| w.sent.clone()).collect();
        let moved: Vec<_> = rows.iter().map(|s| (s.account, s.id)).collect();
        if recorded(
            db,
            Arc::new(move |conn| messages::mark_all_sent(conn, &rows)),
        ) {
            crate::services::conversations::publish_statuses(db, &moved, MessageStatus::Sent);
        }
        for waiting in batch {
            let _ = waiting.done.send(());
        }
    }
}
