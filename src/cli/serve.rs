//! `whatsapi serve`: the start-up in stages (configuration, lock, key and store, launch), each of which a
//! SIGTERM stops cleanly; then the server, which tells systemd when it is ready (it listens and the store
//! answers), pings its watchdog while its threads answer, and says when it stops. The last thing it
//! prints on a fresh install is the link that creates the first operator. A store that does not answer
//! once the server listens fails the start (exit status 1, so systemd's `Restart=on-failure` acts).

use anyhow::{Context, Result};
use parking_lot::Mutex;
use rocket::fairing::{Fairing, Info, Kind};
use rocket::{Orbit, Rocket};
use std::sync::Arc;
use std::time::Duration;
use whatsapi::config::Config;
use whatsapi::jobs::watchdog::Watchdog;
use whatsapi::store::Db;
use whatsapi::store::checkup::Probe;
use whatsapi::{logging, signals, startup, systemd};

/// How long the store has to answer once the server listens before the start counts as failed.
const STORE_ANSWERS_WITHIN: Duration = Duration::from_secs(30);

pub fn run(config_path: Option<&std::path::Path>) -> Result<()> {
    let mut config = Config::load(config_path)?;
    // Before anything is created: the address and port, the TLS pair.
    startup::preflight(&config)?;
    config
        .choose_free_port()
        .context("cannot find a free port")?;
    logging::init(config.log.level);
    signals::check()?;
    let _lock = startup::lock_data_dir(&config)?;
    let _backup_dir = whatsapi::jobs::backup::prepare(&config.backup)?;
    systemd::status("opening the store");
    signals::check()?;
    let db = startup::open_store(&config, true)?;
    whatsapi::services::billing::check_plans_in_use(&config, &db)?;
    let address = std::net::SocketAddr::from((config.server.address, config.server.port));
    whatsapi::server_limits::raise_open_files_limit();
    signals::check()?;
    systemd::status("starting the server");
    let failed = Arc::new(Mutex::new(None));
    let rocket = whatsapi::build_rocket(config, db).attach(Announce {
        failed: failed.clone(),
        watchdog: Mutex::new(None),
    });
    let rocket = match rocket::execute(rocket.launch()) {
        Ok(rocket) => rocket,
        // Rocket's own words ("binding failed: Address already in use") do not say which address.
        Err(e) => match e.kind() {
            rocket::error::ErrorKind::Bind(io) => return Err(startup::cannot_listen(address, io)),
            _ => return Err(e).context("the server stopped"),
        },
    };
    if let Some(why) = failed.lock().take() {
        // The store's writer may never answer again: closing the store would wait for it for ever.
        std::mem::forget(rocket);
        anyhow::bail!(
            "the store did not answer at start ({why}); nothing was served. See the log above, then \
             `whatsapi doctor`"
        );
    }
    tracing::info!("the server stopped cleanly");
    Ok(())
}

/// The stop a signal asked for during start-up, if that is what ended it (the command then ends well).
pub fn stopped(error: &anyhow::Error) -> Option<signals::Stopped> {
    error.chain().find_map(|cause| {
        cause
            .downcast_ref::<signals::Stopped>()
            .copied()
            .or_else(
                || match cause.downcast_ref::<whatsapi::store::OpenError>() {
                    Some(whatsapi::store::OpenError::Stopped(stopped)) => Some(*stopped),
                    _ => None,
                },
            )
    })
}

/// Once the server listens: READY=1 after the store answered (`store::checkup`), the watchdog, the
/// setup link; at the stop, STOPPING=1 first. A store that does not answer stops the server, whose
/// start then failed (`failed`).
struct Announce {
    failed: Arc<Mutex<Option<String>>>,
    watchdog: Mutex<Option<Watchdog>>,
}

#[rocket::async_trait]
impl Fairing for Announce {
    fn info(&self) -> Info {
        Info {
            name: "readiness",
            kind: Kind::Liftoff | Kind::Shutdown,
        }
    }

    async fn on_liftoff(&self, rocket: &Rocket<Orbit>) {
        let (Some(db), Some(config)) = (rocket.state::<Db>(), rocket.state::<Config>()) else {
            return;
        };
        // A stop asked for already (the stop signals' fairing has begun it): neither READY=1 nor the link.
        if signals::stop_requested().is_some() {
            return;
        }
        let checked = db.clone();
        let trouble = whatsapi::blocking::run("the store's first checkup", move || {
            let trouble = checked
                .checkup(STORE_ANSWERS_WITHIN, &mut Probe::default())
                .trouble();
            // Said here, on its own thread: the other start-up work may be waiting for the same store.
            if let Some(why) = &trouble {
                tracing::error!("the store does not answer ({why}); stopping");
            }
            trouble
        })
        .await
        .unwrap_or_else(|e| Some(e.to_string()));
        if let Some(why) = trouble {
            *self.failed.lock() = Some(why);
            rocket.shutdown().notify();
            return;
        }
        // Nor when one was asked for while the store was checked.
        if signals::stop_requested().is_some() {
            return;
        }
        let (db, config) = (db.clone(), config.clone());
        let setup_link = whatsapi::blocking::run("the operator's setup link", move || {
            whatsapi::http::web::admin::setup_link(&db, &config)
        })
        .await;
        let setup_link = match setup_link {
            Ok(Ok(link)) => link,
            Ok(Err(e)) | Err(e) => {
                let why = format!("cannot make the operator's setup link: {e}");
                tracing::error!("{why}; stopping");
                *self.failed.lock() = Some(why);
                rocket.shutdown().notify();
                return;
            }
        };
        if signals::stop_requested().is_some() {
            return;
        }
        let scheme = if rocket.config().tls_enabled() {
            "https"
        } else {
            "http"
        };
        let (address, port) = (rocket.config().address, rocket.config().port);
        systemd::ready(&format!("ready: listening on {scheme}://{address}:{port}"));
        if let (Some(interval), Some(db)) = (systemd::watchdog_interval(), rocket.state::<Db>()) {
            *self.watchdog.lock() = Some(Watchdog::start(db.clone(), interval));
        }
        if let Some(link) = setup_link {
            // Apart from the log, as the last lines: what a newcomer must do next.
            eprintln!(
                "\nNo operator yet. Open this link in a browser to create the first operator \
                 (it works once, within 24 hours):\n\n    {link}\n"
            );
        }
    }

    async fn on_shutdown(&self, rocket: &Rocket<Orbit>) {
        let secs = rocket
            .state::<Config>()
            .map_or(0, |c| c.server.shutdown_secs);
        let watchdog = self.watchdog.lock().take();
        // No ping may follow STOPPING=1.
        if let Some(watchdog) = &watchdog {
            watchdog.halt();
        }
        let stopping = format!(
            "stopping: finishing the requests, sends and deliveries in progress (at most {secs} s)"
        );
        systemd::stopping(&stopping);
        tracing::info!("{stopping}");
        if let Some(watchdog) = watchdog {
            let _ = whatsapi::blocking::run("stopping the watchdog", move || watchdog.stop()).await;
        }
    }
}
