//! Background threads: started when the server lifts off, stopped (and joined) when it shuts down.

pub mod abuse;
pub mod backup;
pub mod billing;
pub mod customer_webhooks;
pub mod maintenance;
pub mod policy_mail;
pub mod retention;
pub mod scheduler;
pub mod sender;
pub mod storage_watch;
pub mod templates;
pub mod watchdog;

use crate::config::{Config, parse_schedule};
use crate::outbound::mail::Mailer;
use crate::services::api_keys::KeysUsed;
use crate::services::billing::Billing;
use crate::services::outbox::Waker;
use crate::store::Db;
use parking_lot::Mutex;
use rocket::fairing::{AdHoc, Fairing};
use scheduler::{ScheduledJob, Scheduler};
use sender::SenderPool;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often API keys' last-used times are written and destroyed data keys forgotten.
const FLUSH_EVERY: Duration = Duration::from_secs(10);

/// The scheduled jobs this configuration asks for; `agent` is the server's Graph API agent.
pub fn scheduled_jobs(config: &Config, agent: ureq::Agent) -> Vec<ScheduledJob> {
    let schedule =
        |expr: &str| parse_schedule(expr).expect("schedules are validated when the config loads");
    let mut jobs = vec![
        ScheduledJob {
            name: maintenance::JOB,
            schedule: schedule(&config.storage.maintenance_schedule),
            run: Box::new(maintenance::maintenance_job),
        },
        ScheduledJob {
            name: templates::JOB,
            schedule: schedule(&config.sender.template_sync_schedule),
            run: Box::new(move |db| templates::template_sync_job(db, &agent)),
        },
        retention_job(config),
    ];
    if let Some(schedule) = config.backup.schedule() {
        let settings = config.backup.clone();
        jobs.push(ScheduledJob {
            name: backup::JOB,
            schedule,
            run: Box::new(move |db| backup::backup_job(db, &settings)),
        });
    }
    jobs
}

/// The retention job as this configuration sets it (also run on demand by `whatsapi purge`).
pub fn retention_job(config: &Config) -> ScheduledJob {
    let policy = crate::store::retention::Policy::from_config(config);
    ScheduledJob {
        name: retention::JOB,
        schedule: parse_schedule(&config.retention.schedule)
            .expect("schedules are validated when the config loads"),
        run: Box::new(move |db| retention::retention_job(db, &policy)),
    }
}

/// A thread that loops until its flag is set, parked between rounds.
type Looping = (Arc<AtomicBool>, JoinHandle<()>);

/// How long a thread told to stop is waited for at least, even once the time to stop has run out: one
/// that is ending its round is not reported as still working.
const LEAST_WAIT: Duration = Duration::from_millis(500);

/// How long past the time to stop the flusher's last round is waited for: it writes what the others
/// counted until the end (the month's counts, the usage tally, API keys' last use).
const FLUSHER_GRACE: Duration = Duration::from_secs(5);

/// Tells a looping thread to run its last round and end.
fn tell((stop, thread): &Looping) {
    stop.store(true, Ordering::Relaxed);
    thread.thread().unpark();
}

/// Waits for a looping thread told to stop (`tell`), until `deadline` at most.
fn join_looping((_, thread): Looping, deadline: Instant) {
    let name = thread.thread().name().unwrap_or("a background").to_owned();
    if !join_by(thread, deadline) {
        tracing::warn!("the {name} thread was still working when the time to stop ran out");
    }
}

/// Waits for `thread`, told to stop, to end: until `deadline`, and at least `LEAST_WAIT` from now; false
/// when it still runs then (it ends with the process).
pub(crate) fn join_by(thread: JoinHandle<()>, deadline: Instant) -> bool {
    let deadline = deadline.max(Instant::now() + LEAST_WAIT);
    while !thread.is_finished() {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = thread.join();
    true
}

struct Threads {
    scheduler: Scheduler,
    sender: SenderPool,
    deliveries: customer_webhooks::DeliveryPool,
    flusher: Looping,
    policy_mail: Looping,
    billing: Looping,
    storage_watch: Looping,
    /// None when `[abuse] enabled = false`.
    abuse: Option<Looping>,
}

impl Threads {
    /// Stops every thread, the sends and deliveries in progress finishing (or going back to their queue)
    /// by `deadline`; the flusher's last round comes after them, so what they counted is written, and is
    /// waited for a little past the deadline.
    fn stop(self, deadline: Instant) {
        let Threads {
            scheduler,
            sender,
            deliveries,
            flusher,
            policy_mail,
            billing,
            storage_watch,
            abuse,
        } = self;
        // All told first, so their last rounds run side by side with the sends and deliveries.
        scheduler.tell();
        let loops: Vec<Looping> = [policy_mail, billing, storage_watch]
            .into_iter()
            .chain(abuse)
            .collect();
        loops.iter().for_each(tell);
        let sends = std::thread::spawn(move || sender.stop(deadline));
        deliveries.stop(deadline);
        let _ = sends.join();
        scheduler.join(deadline);
        for looping in loops {
            join_looping(looping, deadline);
        }
        tell(&flusher);
        join_looping(flusher, deadline.max(Instant::now()) + FLUSHER_GRACE);
    }
}

#[derive(Default)]
struct Running(Mutex<Option<Threads>>);

/// Starts a thread that runs `round` at once, then every `period`, and once more when stopped
/// (`tell`); `round` sees the stop flag, to cut a long round short.
fn every(
    name: &str,
    period: Duration,
    mut round: impl FnMut(&AtomicBool) + Send + 'static,
) -> Looping {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let thread = std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            loop {
                round(&flag);
                if flag.load(Ordering::Relaxed) {
                    break;
                }
                std::thread::park_timeout(period);
            }
        })
        .unwrap_or_else(|e| panic!("cannot start the {name} thread: {e}"));
    (stop, thread)
}

/// Writes gathered bookkeeping (API keys' last use, the month's message counts, the usage roll-ups) every
/// few seconds, and once more when stopping; and forgets the data keys that `whatsapi account delete` destroyed meanwhile.
fn start_flusher(db: Db, used: Arc<KeysUsed>, billing: Arc<Billing>) -> Looping {
    every("flusher", FLUSH_EVERY, move |_| {
        used.flush(&db);
        billing.usage.flush(&db, crate::store::now_ms());
        db.flush_usage();
        if let Err(e) = db.keyring().forget_destroyed() {
            tracing::warn!(error = %e, "cannot read the keystore's destroyed keys");
        }
    })
}

pub fn fairing() -> impl Fairing {
    AdHoc::on_ignite("background jobs", |rocket| async move {
        rocket
            .manage(Running::default())
            .attach(AdHoc::on_liftoff("start background jobs", |rocket| {
                Box::pin(async move {
                    let (
                        Some(config),
                        Some(db),
                        Some(running),
                        Some(waker),
                        Some(used),
                        Some(mailer),
                        Some(agent),
                        Some(billing_state),
                    ) = (
                        rocket.state::<Config>(),
                        rocket.state::<Db>(),
                        rocket.state::<Running>(),
                        rocket.state::<Waker>(),
                        rocket.state::<Arc<KeysUsed>>(),
                        rocket.state::<Mailer>(),
                        rocket.state::<ureq::Agent>(),
                        rocket.state::<Arc<Billing>>(),
                    )
                    else {
                        return;
                    };
                    let threads = Threads {
                        scheduler: Scheduler::start(
                            db.clone(),
                            scheduled_jobs(config, agent.clone()),
                        ),
                        sender: SenderPool::start(
                            db.clone(),
                            sender::PoolSettings {
                                min_workers: config.sender.min_workers,
                                max_workers: config.sender.max_workers,
                                agent: agent.clone(),
                                lease: std::time::Duration::from_secs(config.sender.lease_secs),
                            },
                            waker,
                        ),
                        deliveries: customer_webhooks::DeliveryPool::start(
                            db.clone(),
                            &config.webhooks,
                        ),
                        flusher: start_flusher(db.clone(), used.clone(), billing_state.clone()),
                        policy_mail: every(
                            "policy-mail",
                            policy_mail::EVERY,
                            policy_mail::round(db.clone(), mailer.clone(), config.privacy_link()),
                        ),
                        billing: every(
                            "billing",
                            billing::EVERY,
                            billing::round(
                                db.clone(),
                                billing_state.clone(),
                                mailer.clone(),
                                format!("{}/billing", config.server.public_url),
                            ),
                        ),
                        abuse: config.abuse.enabled.then(|| {
                            every(
                                "abuse",
                                abuse::every(&config.abuse),
                                abuse::round(
                                    db.clone(),
                                    config.abuse.clone(),
                                    (used.clone(), billing_state.clone()),
                                    mailer.clone(),
                                    format!("{}/admin", config.server.public_url),
                                ),
                            )
                        }),
                        storage_watch: {
                            let (db, storage) = (db.clone(), config.storage.clone());
                            let mut last_warning = None;
                            every("storage-watch", storage_watch::EVERY, move |_| {
                                storage_watch::round(
                                    &db,
                                    Duration::from_secs(storage.fail_after_secs),
                                    storage.min_free_mb,
                                    &mut last_warning,
                                )
                            })
                        },
                    };
                    *running.0.lock() = Some(threads);
                    crate::services::deletions::resume(db.clone(), mailer.clone());
                })
            }))
            .attach(AdHoc::on_shutdown("stop background jobs", |rocket| {
                Box::pin(async move {
                    let threads = rocket.state::<Running>().and_then(|r| r.0.lock().take());
                    let secs = rocket
                        .state::<Config>()
                        .map_or(crate::config::SHUTDOWN_SECS, |c| c.server.shutdown_secs);
                    let deadline = Instant::now() + Duration::from_secs(secs);
                    if let Some(threads) = threads {
                        let _ =
                            crate::blocking::run("stopping the background threads", move || {
                                threads.stop(deadline)
                            })
                            .await;
                    }
                })
            }))
    })
}
