//! Sends the queued emails about a new version of the privacy policy (`store::policy_mail`): from a thread
//! of the server (`jobs::policy_mail`), right after a version is published on /admin, and from
//! `whatsapi policy publish`. Claims keep two senders (the server and the command line) from sending one
//! email twice.

use crate::error::Result;
use crate::outbound::mail::Mailer;
use crate::services::notify;
use crate::store::policy_mail::{self, PolicyMail};
use crate::store::{Db, now_ms};
use std::sync::atomic::{AtomicBool, Ordering};

/// Emails claimed at a time.
const BATCH: i64 = 50;

/// What to do with an email that could not be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFailure {
    /// Count the try and wait before the next one (the server).
    RetryLater,
    /// Leave it due at once, for the server to send (the command line).
    LeaveForServer,
}

/// What one pass did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Sent {
    pub sent: usize,
    pub failed: usize,
    pub given_up: usize,
}

/// Sends every email that is due. The first failure ends the pass (the mail server is likely down, and
/// each try can take its whole timeout); what was claimed and not tried is given back. `stop` ends it
/// between two emails.
pub fn send_due(
    db: &Db,
    mailer: &Mailer,
    link: &str,
    on_failure: OnFailure,
    stop: &AtomicBool,
) -> Result<Sent> {
    let mut done = Sent::default();
    while !stop.load(Ordering::Relaxed) {
        let now = now_ms();
        let mut batch = db.write(move |conn| policy_mail::claim(conn, now, BATCH))?;
        if batch.is_empty() {
            return Ok(done);
        }
        batch.reverse();
        while let Some(mail) = batch.pop() {
            if stop.load(Ordering::Relaxed) {
                batch.push(mail);
                give_back(db, batch)?;
                return Ok(done);
            }
            match notify::policy_published_blocking(mailer, &mail.recipient, &mail.policy, link) {
                Ok(()) => {
                    db.write(move |conn| policy_mail::sent(conn, &mail))?;
                    done.sent += 1;
                }
                Err(e) => {
                    tracing::error!(error = %e, user = mail.recipient.user.get(), "could not send the privacy policy notice");
                    done.failed += 1;
                    match on_failure {
                        OnFailure::RetryLater => {
                            let now = now_ms();
                            if db.write(move |conn| policy_mail::failed(conn, &mail, now))? {
                                done.given_up += 1;
                            }
                        }
                        OnFailure::LeaveForServer => batch.push(mail),
                    }
                    give_back(db, batch)?;
                    return Ok(done);
                }
            }
        }
    }
    Ok(done)
}

fn give_back(db: &Db, mails: Vec<PolicyMail>) -> Result<()> {
    if mails.is_empty() {
        return Ok(());
    }
    let now = now_ms();
    db.write(move |conn| policy_mail::release(conn, &mails, now))
}
