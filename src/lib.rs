//! WhatsAPI Pro: a self-hosted WhatsApp Business API platform in one executable.
//! `main.rs` is the command line; everything else lives here so tests can build the same server.

pub mod blocking;
pub mod config;
pub mod crypto;
pub mod domain;
pub mod error;
pub mod http;
pub mod jobs;
pub mod logging;
pub mod metrics;
#[cfg(test)]
mod mutation;
pub mod outbound;
pub mod server_limits;
pub mod services;
pub mod signals;
pub mod startup;
pub mod store;
pub mod systemd;

use config::Config;
use http::{api, auth, meta_inbound, payment_inbound, sandbox, web};
use outbound::{graph, mail, stripe, targets};
use rocket::fairing::AdHoc;
use rocket::figment::Figment;
use rocket::{Build, Rocket};
use store::Db;

/// Builds the HTTP server from a validated configuration and an open store.
pub fn build_rocket(config: Config, db: Db) -> Rocket<Build> {
    let limits = server_limits::connection_limits(&config, server_limits::open_files_limit());
    let limits_line = limits.describe(&config);
    let targets = targets::MetaTargets::new(&config);
    let mailer = mail::Mailer::new(&config)
        .expect("the mail settings were validated with the configuration");
    let mut figment = Figment::from(rocket::Config::default())
        .merge(("address", config.server.address))
        .merge(("port", config.server.port))
        .merge((
            "secret_key",
            hex::encode(db.keyring().derive(b"rocket secret_key")),
        ))
        .merge(("ident", "whatsapi"))
        .merge(("cli_colors", false))
        .merge(("log_level", rocket::config::LogLevel::Off))
        // Rocket would believe its header from anyone; the client's address is worked out by
        // `auth::client` from the peer and `[server] trusted_proxies` instead.
        .merge(("ip_header", false))
        .merge(("max_connections", limits.max_connections))
        .merge(("idle_timeout", limits.idle_timeout_secs))
        // A file sent from the inbox goes up to Meta's largest media but documents (16 MB).
        .merge(("limits.file", services::conversations::UPLOAD_LIMIT))
        .merge((
            "limits.data-form",
            services::conversations::UPLOAD_LIMIT + 64 * 1024,
        ));
    let (grace, mercy) = shutdown_periods(config.server.shutdown_secs);
    figment = figment
        .merge(("shutdown.grace", grace))
        .merge(("shutdown.mercy", mercy));
    if let (Some(cert), Some(key)) = (&config.server.tls_cert, &config.server.tls_key) {
        figment = figment.merge(("tls.certs", cert)).merge(("tls.key", key));
    }
    // Browsers reach the server over TLS when it serves HTTPS itself, or through a proxy at an https
    // public URL: HSTS then, as the session cookie is `Secure` and `__Host-` then.
    let tls = config.secure_cookies();
    metrics::configure(&config.metrics);
    let metrics_routes = match config.metrics.enabled {
        true => http::metrics::routes(),
        false => Vec::new(),
    };
    rocket::custom(figment)
        .mount("/", web::routes())
        .mount("/", api::routes())
        .mount("/", sandbox::routes())
        .mount("/", meta_inbound::routes())
        .mount("/", payment_inbound::routes())
        .mount("/", metrics_routes)
        .register("/", web::catchers())
        .attach(rocket::shield::Shield::new())
        .attach(web::SecurityHeaders { tls })
        .attach(api::RateLimitHeaders)
        .attach(http::metrics::RequestMetrics)
        .attach(jobs::fairing())
        .attach(startup::tls::reloader(&config))
        .attach(signals::fairing())
        .attach(AdHoc::on_liftoff("announce", move |rocket| {
            let limits_line = limits_line.clone();
            Box::pin(async move {
                let scheme = if rocket.config().tls_enabled() {
                    "https"
                } else {
                    "http"
                };
                tracing::info!("{limits_line}");
                tracing::info!(
                    "listening on {scheme}://{}:{}",
                    rocket.config().address,
                    rocket.config().port
                );
            })
        }))
        .manage(auth::Auth::new(&config))
        .manage(auth::client::TrustedProxies::from_config(&config.server))
        .manage(mailer)
        .manage(std::sync::Arc::new(services::api_keys::KeysUsed::default()))
        .manage(services::billing::Billing::new(&config))
        .manage(stripe::Stripe::new(&config.billing))
        .manage(services::outbox::Waker::default())
        .manage(sandbox::SandboxState::with_status_feed(
            config.sandbox.delays(),
            false,
        ))
        .manage(meta_inbound::Receivers::new(config.messaging.clone()))
        .manage(graph::agent(&targets, graph_calls_at_once(&config)))
        .manage(graph::MediaClient::new(&targets))
        .manage(targets)
        .manage(web::ResetEmails::default())
        .manage(services::two_step::Texts::new(&config))
        .manage(web::ApiDocument(api::openapi::document_json))
        .manage(config)
        .manage(db)
}

/// Graph API calls the server makes at once: its sender workers, and a few more for pages and API calls
/// (checking a number, syncing templates, fetching media).
fn graph_calls_at_once(config: &Config) -> usize {
    config.sender.max_workers + 16
}

/// Rocket's two periods of a stop within `[server] shutdown_secs`: connections finish their requests
/// during the grace, then are closed during the mercy; Rocket gives up one second after both.
fn shutdown_periods(shutdown_secs: u64) -> (u32, u32) {
    let total = u32::try_from(shutdown_secs).unwrap_or(u32::MAX).max(1);
    let mercy = (total / 5).min(2);
    (total - mercy - 1, mercy)
}
