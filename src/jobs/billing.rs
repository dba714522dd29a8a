//! The server's billing round (`services::billing::lifecycle` and `notices`): at its start and every
//! minute, ended trials become past due, the notices the dates call for are queued, and every unsent
//! notice is emailed. At start, it catches up with whatever happened while the server was off.

use crate::outbound::mail::Mailer;
use crate::services::billing::notices::{self, FailedBefore, Sent};
use crate::services::billing::{Billing, lifecycle};
use crate::store::{Db, now_ms};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

/// How often the round runs: a trial's end or a quota email waits for it at most this long.
pub const EVERY: Duration = Duration::from_secs(60);

/// The round (see `super::every`); `link` is the Billing page's address, for the emails.
pub fn round(
    db: Db,
    billing: Arc<Billing>,
    mailer: Mailer,
    link: String,
) -> impl FnMut(&AtomicBool) + Send + 'static {
    let mut failed_before = FailedBefore::new();
    move |stop| {
        let advanced = lifecycle::advance(&db, &billing, now_ms()).unwrap_or_else(|e| {
            // The notices already queued still go out.
            tracing::error!(error = %e, "cannot move subscriptions on or queue their notices");
            lifecycle::Advanced::default()
        });
        match notices::send_unsent(&db, &billing, &mailer, &link, &mut failed_before, stop) {
            Ok(sent) if sent != Sent::default() || advanced != lifecycle::Advanced::default() => {
                tracing::info!(?advanced, ?sent, "billing round")
            }
            // Logged at debug too, so a test can wait for a round that did nothing.
            Ok(_) => tracing::debug!("billing round: nothing to do"),
            Err(e) => tracing::error!(error = %e, "cannot send the billing notices"),
        }
    }
}
