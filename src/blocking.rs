//! Work that blocks (SQLite reads, password hashing, calls to Meta, mail) runs on tokio's blocking threads,
//! so it never holds an executor thread that other requests need. One helper awaits it and turns a task
//! that died (it panicked) into an internal error naming the work.

use crate::error::{Error, Result};

/// Runs `work` on a blocking thread and returns what it returned.
pub async fn run<T: Send + 'static>(
    what: &'static str,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T> {
    rocket::tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Error::Internal(anyhow::anyhow!("the {what} task failed: {e}")))
}

/// Work that goes on after the request is answered (a streamed download, emails sent after the page):
/// started on a blocking thread and not awaited. It reports its own outcome (it logs), since nobody waits
/// for it.
pub fn detach(work: impl FnOnce() + Send + 'static) {
    drop(rocket::tokio::task::spawn_blocking(work));
}
