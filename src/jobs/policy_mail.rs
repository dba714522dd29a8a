//! The server's thread for the privacy-policy notices (`services::policy_mail`): at its start and every
//! minute, so what a stop or a mail server that was down left behind goes out.

use crate::outbound::mail::Mailer;
use crate::services::policy_mail::{OnFailure, Sent, send_due};
use crate::store::Db;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

/// How often the server looks for emails that are due.
pub const EVERY: Duration = Duration::from_secs(60);

/// The server's round (see `super::every`): sends what is due, the queue a stop or a mail server that
/// was down left behind included.
pub fn round(db: Db, mailer: Mailer, link: String) -> impl FnMut(&AtomicBool) + Send + 'static {
    move |stop| match send_due(&db, &mailer, &link, OnFailure::RetryLater, stop) {
        Ok(done) if done != Sent::default() => tracing::info!(?done, "privacy policy notices"),
        Ok(_) => {}
        Err(e) => tracing::error!(error = %e, "cannot send the privacy policy notices"),
    }
}
