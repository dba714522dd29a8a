//! Delivers events to customers' endpoints: worker threads claim due deliveries with a lease, post each
//! one signed, and record what the endpoint answered. A failed attempt is retried on the configured
//! schedule (with jitter, and later if the endpoint's Retry-After asks), then dead-lettered; 410 Gone
//! pauses the endpoint. Deliveries leased by a process that stopped are taken up again at start.

use crate::config::Webhooks;
use crate::outbound::customer_webhooks::{self as events, Outcome};
use crate::outbound::ssrf;
use crate::services::health::{self, Beat};
use crate::store::deliveries::{self, Attempted, Due, Next};
use crate::store::rollups::Line;
use crate::store::states::UsageEvent;
use crate::store::{Db, endpoints, now_ms};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;
use zeroize::Zeroizing;

/// Deliveries one worker claims at a time.
const CLAIM: usize = 8;
/// How long a worker rests when nothing is due.
const IDLE: Duration = Duration::from_millis(200);
/// The longest Retry-After honoured.
const RETRY_AFTER_CAP_SECS: u64 = 86_400;

pub struct DeliveryPool {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl DeliveryPool {
    pub fn start(db: Db, settings: &Webhooks) -> DeliveryPool {
        match db.write(deliveries::release_orphans) {
            Ok(0) => {}
            Ok(n) => tracing::warn!(
                deliveries = n,
                "retrying webhook deliveries that were in flight when the last run stopped"
            ),
            Err(e) => tracing::error!(error = %e, "cannot release webhook deliveries"),
        }
        let stop = Arc::new(AtomicBool::new(false));
        let timeout = Duration::from_secs(settings.timeout_secs);
        let allow_insecure = settings.allow_insecure_targets;
        let agent = ssrf::agent(allow_insecure, timeout);
        let threads = (0..settings.workers.max(1))
            .map(|n| {
                let (db, stop, agent) = (db.clone(), stop.clone(), agent.clone());
                let (delays, lease) = (
                    settings.retry_delays_secs.clone(),
                    timeout.as_millis() as i64 * CLAIM as i64 + 60_000,
                );
                std::thread::Builder::new()
                    .name(format!("webhooks-{n}"))
                    .spawn(move || {
                        while !stop.load(Ordering::Relaxed) {
                            health::beat(Beat::Deliveries);
                            let now = now_ms();
                            let claimed = db.write(move |conn| {
                                deliveries::claim(conn, now, now + lease, CLAIM)
                            });
                            match claimed {
                                Ok(due) if !due.is_empty() => {
                                    for (at, one) in due.iter().enumerate() {
                                        if stop.load(Ordering::Relaxed) {
                                            put_back(&db, &due[at..]);
                                            break;
                                        }
                                        health::beat(Beat::Deliveries);
                                        deliver(&db, &agent, allow_insecure, &delays, one);
                                    }
                                }
                                Ok(_) => std::thread::sleep(IDLE),
                                Err(e) => {
                                    tracing::error!(error = %e, "cannot claim webhook deliveries");
                                    std::thread::sleep(IDLE * 5);
                                }
                            }
                        }
                    })
                    .expect("cannot start a webhook delivery thread")
            })
            .collect();
        DeliveryPool { stop, threads }
    }

    /// Stops claiming; each worker finishes the delivery it is making, and puts the others it claimed
    /// back in the queue. Waits until `deadline` at most: a delivery still unanswered then is left leased,
    /// and the next start takes it up again.
    pub fn stop(self, deadline: std::time::Instant) {
        self.stop.store(true, Ordering::Relaxed);
        let unfinished = self
            .threads
            .into_iter()
            .map(|thread| super::join_by(thread, deadline))
            .filter(|joined| !joined)
            .count();
        if unfinished > 0 {
            tracing::warn!(
                workers = unfinished,
                "deliveries to customers' webhooks were still unanswered when the time to stop ran out \
                 ([server] shutdown_secs); they are made again at the next start"
            );
        }
    }
}

/// Deliveries claimed and not attempted go back to the queue (the server is stopping).
fn put_back(db: &Db, claimed: &[Due]) {
    let claimed = claimed.to_vec();
    if let Err(e) = db.write(move |conn| deliveries::put_back(conn, &claimed)) {
        tracing::warn!(error = %e, "cannot put claimed webhook deliveries back; the next start takes them up");
    }
}

fn deliver(db: &Db, agent: &ureq::Agent, allow_insecure: bool, delays: &[u64], due: &Due) {
    // The URL is checked again as at save: one saved while the operator allowed insecure targets, or
    // under older rules, is refused here with its reason instead of being tried.
    let outcome = match ssrf::check_url(&due.url, allow_insecure) {
        Err(why) => not_attempted(format!("refused before connecting: {why}")),
        Ok(_) => match load(db, due) {
            Ok((secret, body)) => events::attempt(agent, &due.url, &secret, due.event_id, &body),
            Err(e) => not_attempted(format!("could not read the event: {e}")),
        },
    };
    let now = now_ms();
    let next = next_step(due.attempts, &outcome, delays, now);
    crate::metrics::customer_delivery(match next {
        Next::Delivered => "delivered",
        Next::RetryAt(_) => "retried",
        Next::DeadLetter => "dead_lettered",
    });
    let attempted = Attempted {
        code: outcome.code.map(i64::from),
        error: outcome.error.clone(),
        duration_ms: outcome.duration.as_millis() as i64,
    };
    let (due, gone, account) = (due.clone(), outcome.gone(), due.account_id);
    let recorded = db.write(move |conn| {
        deliveries::record_attempt(conn, &due, &attempted, next, now)?;
        if gone {
            endpoints::pause_gone(conn, due.account_id, due.endpoint_id, now)?;
        }
        Ok(())
    });
    match recorded {
        Ok(()) => {
            let event = match next {
                Next::Delivered => UsageEvent::WebhookDelivered,
                Next::RetryAt(_) => UsageEvent::WebhookRetried,
                Next::DeadLetter => UsageEvent::WebhookFailed,
            };
            db.tally().add(Line::new(account, event, now));
        }
        Err(e) => tracing::error!(error = %e, "cannot record a webhook delivery attempt"),
    }
}

/// The endpoint's signing secret (kept zeroized) and the event's body.
fn load(db: &Db, due: &Due) -> crate::error::Result<(Zeroizing<String>, Vec<u8>)> {
    let (keyring_db, due) = (db.clone(), due.clone());
    db.read(move |conn| {
        let secret =
            endpoints::secret(conn, keyring_db.keyring(), due.account_id, due.endpoint_id)?;
        let body =
            deliveries::event_body(conn, keyring_db.keyring(), due.account_id, due.event_id)?;
        Ok((secret, body))
    })
}

fn not_attempted(error: String) -> Outcome {
    Outcome {
        code: None,
        error: Some(error),
        duration: Duration::ZERO,
        retry_after: None,
    }
}

/// What follows an attempt: done, another try later, or the dead-letter list.
pub fn next_step(attempts_before: i64, outcome: &Outcome, delays: &[u64], now: i64) -> Next {
    if outcome.delivered() {
        return Next::Delivered;
    }
    if outcome.gone() {
        return Next::DeadLetter;
    }
    let Some(delay) = delays.get(attempts_before.max(0) as usize) else {
        return Next::DeadLetter;
    };
    // ±20 % jitter, so endpoints that failed together are not retried together.
    let jitter = f64::from(u32::from_be_bytes(
        crate::crypto::random_bytes().unwrap_or_default(),
    )) / f64::from(u32::MAX);
    let mut wait_ms = (*delay as f64 * 1000.0 * (0.8 + 0.4 * jitter)) as i64;
    if let Some(asked) = outcome.retry_after {
        wait_ms = wait_ms.max(asked.min(RETRY_AFTER_CAP_SECS) as i64 * 1000);
    }
    Next::RetryAt(now + wait_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(code: Option<u16>, retry_after: Option<u64>) -> Outcome {
        Outcome {
            code,
            error: Some("x".into()),
            duration: Duration::ZERO,
            retry_after,
        }
    }

    #[test]
    fn retries_follow_the_schedule_then_dead_letter() {
        let delays = [10, 100];
        let Next::RetryAt(at) = next_step(0, &failed(Some(500), None), &delays, 0) else {
            panic!("a first failure is retried");
        };
        assert!((8_000..=12_000).contains(&at), "{at}");
        let Next::RetryAt(at) = next_step(1, &failed(None, None), &delays, 0) else {
            panic!("a second failure is retried");
        };
        assert!((80_000..=120_000).contains(&at), "{at}");
        assert_eq!(
            next_step(2, &failed(Some(500), None), &delays, 0),
            Next::DeadLetter
        );
        assert_eq!(
            next_step(0, &failed(Some(410), None), &delays, 0),
            Next::DeadLetter
        );
        let Next::RetryAt(at) = next_step(0, &failed(Some(429), Some(600)), &delays, 0) else {
            panic!("a throttled delivery is retried");
        };
        assert_eq!(at, 600_000, "Retry-After is honoured when longer");
    }
}
