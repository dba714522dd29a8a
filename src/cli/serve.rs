//! `whatsapi serve`: the start-up in stages (configuration, lock, key and store, launch), each of which a
//! SIGTERM stops cleanly; then the server, which tells systemd when it is ready (it listens and the store
//! answers), pings its watchdog while its threads answer, and says when it stops. The last thing it
//! prints on a fresh install is the link that creates the first operator.

use anyhow::{Context, Result};
use rocket::fairing::{Fairing, Info, Kind};
use rocket::{Orbit, Rocket};
use whatsapi::config::Config;
use whatsapi::jobs::watchdog::Watchdog;
use whatsapi::store::Db;
use whatsapi::{logging, signals, startup, systemd};

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
    let setup_link = whatsapi::http::web::admin::setup_link(&db, &config)?;
    let address = std::net::SocketAddr::from((config.server.address, config.server.port));
    whatsapi::server_limits::raise_open_files_limit();
    signals::check()?;
    systemd::status("starting the server");
    let rocket = whatsapi::build_rocket(config, db).attach(Announce {
        setup_link,
        watchdog: parking_lot::Mutex::new(None),
    });
    if let Err(e) = rocket::execute(rocket.launch()) {
        // Rocket's own words ("binding failed: Address already in use") do not say which address.
        if let rocket::error::ErrorKind::Bind(io) = e.kind()
            && io.kind() == std::io::ErrorKind::AddrInUse
        {
            anyhow::bail!(
                "cannot listen on {address}: another program (perhaps another whatsapi) is using it; \
                 stop it or set server.port to a free port"
            );
        }
        return Err(e).context("the server stopped");
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

/// Once the server listens: READY=1 after a read and a write went through the store, the watchdog, the
/// setup link; at the stop, STOPPING=1 first.
struct Announce {
    setup_link: Option<String>,
    watchdog: parking_lot::Mutex<Option<Watchdog>>,
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
        let Some(db) = rocket.state::<Db>() else {
            return;
        };
        if let Err(e) = store_answers(db).await {
            tracing::error!(error = %e, "the store does not answer; stopping");
            rocket.shutdown().notify();
            return;
        }
        let scheme = if rocket.config().tls_enabled() {
            "https"
        } else {
            "http"
        };
        let (address, port) = (rocket.config().address, rocket.config().port);
        systemd::ready(&format!("ready: listening on {scheme}://{address}:{port}"));
        if let Some(interval) = systemd::watchdog_interval() {
            *self.watchdog.lock() = Some(Watchdog::start(db.clone(), interval));
        }
        if let Some(link) = &self.setup_link {
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
        let stopping = format!(
            "stopping: finishing the requests, sends and deliveries in progress (at most {secs} s)"
        );
        systemd::stopping(&stopping);
        tracing::info!("{stopping}");
        let watchdog = self.watchdog.lock().take();
        if let Some(watchdog) = watchdog {
            let _ = whatsapi::blocking::run("stopping the watchdog", move || watchdog.stop()).await;
        }
    }
}

/// A read on a reader connection and a write through the writer, both answered.
async fn store_answers(db: &Db) -> whatsapi::error::Result<()> {
    db.read_async(|conn| Ok(whatsapi::store::migrations::version(conn)?))
        .await?;
    db.write_async(|_| Ok(())).await
}
