//! Sends recorded together. Most calls to Meta end in `sent`; instead of one writer job per message (its own
//! savepoint and statement), workers hand their sends to one recorder thread, which writes every send that
//! arrived while it waited for the last commit with one statement, and answers each worker once that commit
//! is durable. The worker waits, as it would for its own write, so a send is never forgotten in memory.

use super::deliver::record;
use crate::store::Db;
use crate::store::messages::{self, MessageId};
use std::sync::{Arc, mpsc};
use std::thread;

/// Most sends written by one statement.
const MOST_PER_WRITE: usize = 1024;

struct Sent {
    id: MessageId,
    wamid: String,
    at: i64,
    done: mpsc::SyncSender<()>,
}

pub(super) struct Recorder {
    tx: mpsc::Sender<Sent>,
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

    /// Records that Meta accepted message `id` as `wamid` at `at`; returns once that is committed (or the
    /// recorder gave up, which it logs).
    pub(super) fn sent(&self, id: MessageId, wamid: String, at: i64) {
        let (done, wait) = mpsc::sync_channel(1);
        if self
            .tx
            .send(Sent {
                id,
                wamid,
                at,
                done,
            })
            .is_ok()
        {
            let _ = wait.recv();
        }
    }
}

fn run(db: &Db, rx: &mpsc::Receiver<Sent>) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MOST_PER_WRITE {
            match rx.try_recv() {
                Ok(sent) => batch.push(sent),
                Err(_) => break,
            }
        }
        let rows: Vec<(MessageId, String, i64)> = batch
            .iter()
            .map(|s| (s.id, s.wamid.clone(), s.at))
            .collect();
        record(
            db,
            Arc::new(move |conn| messages::mark_all_sent(conn, &rows)),
        );
        for sent in batch {
            let _ = sent.done.send(());
        }
    }
}
