//! Background threads: started when the server lifts off, stopped (and joined) when it shuts down.

pub mod maintenance;
pub mod scheduler;

use crate::config::{Config, parse_schedule};
use crate::store::Db;
use rocket::fairing::{AdHoc, Fairing};
use scheduler::{ScheduledJob, Scheduler};
use std::sync::Mutex;

/// The scheduled jobs this configuration asks for.
pub fn scheduled_jobs(config: &Config) -> Vec<ScheduledJob> {
    let schedule =
        |expr: &str| parse_schedule(expr).expect("schedules are validated when the config loads");
    vec![ScheduledJob {
        name: maintenance::JOB,
        schedule: schedule(&config.storage.maintenance_schedule),
        run: maintenance::maintenance_job,
    }]
}

#[derive(Default)]
struct Running(Mutex<Option<Scheduler>>);

pub fn fairing() -> impl Fairing {
    AdHoc::on_ignite("background jobs", |rocket| async move {
        rocket
            .manage(Running::default())
            .attach(AdHoc::on_liftoff("start background jobs", |rocket| {
                Box::pin(async move {
                    let (Some(config), Some(db), Some(running)) = (
                        rocket.state::<Config>(),
                        rocket.state::<Db>(),
                        rocket.state::<Running>(),
                    ) else {
                        return;
                    };
                    let scheduler = Scheduler::start(db.clone(), scheduled_jobs(config));
                    *running.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(scheduler);
                })
            }))
            .attach(AdHoc::on_shutdown("stop background jobs", |rocket| {
                Box::pin(async move {
                    let scheduler = rocket
                        .state::<Running>()
                        .and_then(|r| r.0.lock().ok()?.take());
                    if let Some(scheduler) = scheduler {
                        let _ = rocket::tokio::task::spawn_blocking(move || scheduler.stop()).await;
                    }
                })
            }))
    })
}
