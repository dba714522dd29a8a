//! The abuse job (`services::abuse`): at the server's start and every `[abuse] every_secs`, the signals of
//! abuse and fraud in what was recorded are raised, the accounts of high ones held (`auto_hold`), and the
//! operators emailed about new ones.

use crate::config::Abuse;
use crate::outbound::mail::Mailer;
use crate::services::abuse::{self, Around};
use crate::services::api_keys::KeysUsed;
use crate::services::billing::Billing;
use crate::store::{Db, now_ms};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How long between two runs.
pub fn every(settings: &Abuse) -> Duration {
    Duration::from_secs(settings.every_secs)
}

/// The round (see `super::every`); `link` is the operators' page, for the emails.
pub fn round(
    db: Db,
    settings: Abuse,
    (keys, billing): (Arc<KeysUsed>, Arc<Billing>),
    mailer: Mailer,
    link: String,
) -> impl FnMut(&AtomicBool) + Send + 'static {
    move |stop| {
        // The round a stop asks for (see `super::every`) is not needed: nothing is held in between.
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let around = Around {
            addresses: &keys.addresses,
            billing: &billing,
            mailer: &mailer,
            link: &link,
        };
        match abuse::run(&db, &settings, &around, now_ms()) {
            Ok(checked) if checked.raised > 0 || checked.emailed > 0 => {
                tracing::info!(?checked, "abuse check")
            }
            Ok(checked) => tracing::debug!(accounts = checked.accounts, "abuse check: nothing new"),
            Err(e) => {
                tracing::error!(error = %e, "the abuse check failed; it runs again at the next round")
            }
        }
    }
}
