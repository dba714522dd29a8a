//! Command-line parsing and dispatch.

mod bench;
mod bench_fill;
mod bench_send;
mod bench_server;
mod bench_webhooks;
mod billing;
mod doctor;
mod holds;
mod init;
mod keys;
mod package_files;
mod people;
mod policy;
mod privacy;
mod purge;
mod restore;
mod serve;
mod sms;

use anyhow::Result;
use clap::{CommandFactory, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use whatsapi::config::Config;
use whatsapi::{logging, startup, store};

#[derive(Parser)]
#[command(
    name = "whatsapi",
    version,
    about = "Self-hosted WhatsApp Business API platform",
    propagate_version = true
)]
struct Cli {
    /// Configuration file (default: /etc/whatsapi/config.toml when it exists, else built-in defaults).
    /// WHATSAPI_<SECTION>__<KEY> environment variables override it.
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (creates the data directory, and on a fresh install the master key).
    Serve,
    /// Write a configuration file and a master key file for a new installation (for packagers).
    Init(init::InitArgs),
    /// Bring the database schema up to date and exit.
    Migrate,
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Check configuration, key, database integrity and free disk space, and print a verdict.
    Doctor,
    /// Write a consistent copy of the live database to PATH (safe while the server runs).
    Backup {
        /// Where to write the backup; must not exist yet.
        path: PathBuf,
    },
    /// Put a backup in place of the database (with the server stopped). The backup is checked first
    /// (integrity, master key, keystore); the replaced database is kept beside it. Exit status 1: refused,
    /// nothing changed.
    Restore(restore::RestoreArgs),
    /// Delete what the [retention] settings say is past its time, now (as the scheduled job does);
    /// --dry-run only counts.
    Purge(purge::PurgeArgs),
    /// Manage operators (the people who run this installation).
    #[command(subcommand)]
    Admin(people::AdminCommand),
    /// Manage business accounts.
    #[command(subcommand)]
    Account(privacy::AccountCommand),
    /// Write all of an account's data to FILE as one JSON document (the right of access and portability).
    Export(privacy::ExportArgs),
    /// Manage API keys.
    #[command(subcommand)]
    Apikey(people::ApiKeyCommand),
    /// Manage the master key.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Publish a new version of the privacy policy.
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
    /// Send product news to the people who opted in.
    #[command(subcommand)]
    News(policy::NewsCommand),
    /// Run the Meta simulator alone, as a separate process (for benchmarks and crash tests). Every
    /// recipient is delivered, except the reserved test range +1 555 0199 followed by one of Meta's error
    /// codes (e.g. +15550199131026: undeliverable, +15550199130429: rate limit), which gets that error.
    Sandbox {
        /// Address to listen on (port 0: any free port; the log says which).
        #[arg(long, default_value = "127.0.0.1:9000")]
        listen: std::net::SocketAddr,
        /// How long to wait before answering, as Meta's round trip would.
        #[arg(long, default_value_t = 0)]
        latency_ms: u64,
        /// Post each accepted message's sent, delivered and read webhooks to this URL (a connection's
        /// webhook URL); `PHONE_NUMBER_ID=URL` for one number's. May be repeated. Also settable while
        /// it runs: `POST /_sandbox/webhooks {"url", "secret", "phone_number_id"}`.
        #[arg(long)]
        webhook_url: Vec<String>,
        /// The app secret the webhooks are signed with (X-Hub-Signature-256), as Meta signs them.
        #[arg(long, default_value = "sandbox-app-secret")]
        webhook_secret: String,
        /// Milliseconds after acceptance that each status is posted.
        #[arg(long, default_value_t = 100)]
        sent_after_ms: u64,
        #[arg(long, default_value_t = 1000)]
        delivered_after_ms: u64,
        #[arg(long, default_value_t = 3000)]
        read_after_ms: u64,
    },
    /// The SMS gateway of one-time codes ([sms]).
    #[command(subcommand)]
    Sms(sms::SmsCommand),
    /// Measure this machine: store write throughput, server footprint.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Print the shell completion script for SHELL (the packages install bash's and zsh's).
    Completions(package_files::CompletionsArgs),
    /// Write the manual page, the completions and the default configuration the packages ship (for
    /// packaging/build.sh).
    #[command(hide = true)]
    PackageFiles(package_files::PackageFilesArgs),
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Validate the configuration (and that the TLS certificate and key belong together) and print the
    /// effective values (secrets masked).
    Check,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // Only the server's and the migrations' start-up stop cleanly at a signal (and the simulator hands it
    // to Rocket), and a restore stops before it replaces anything; every other command ends at one as it
    // always did.
    if !matches!(
        cli.command,
        Command::Serve | Command::Migrate | Command::Sandbox { .. } | Command::Restore(_)
    ) {
        whatsapi::signals::keep_default();
    }
    match run(cli) {
        Ok(code) => code,
        Err(e) if let Some(stopped) = serve::stopped(&e) => {
            tracing::info!("{stopped}; nothing was left half done");
            whatsapi::systemd::stopping(&stopped.to_string());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn load(cli_config: &Option<PathBuf>) -> Result<Config> {
    Ok(Config::load(cli_config.as_deref())?)
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Serve => serve::run(cli.config.as_deref())?,
        Command::Init(args) => init::run(args, cli.config.as_deref())?,
        Command::Migrate => {
            let config = load(&cli.config)?;
            logging::init(config.log.level);
            let _lock = startup::lock_data_dir(&config)?;
            let db = startup::open_store(&config, true)?;
            let version = db.read(|conn| Ok(store::migrations::version(conn)?))?;
            println!(
                "the database {} is at schema version {version} (the latest)",
                db.path().display()
            );
        }
        Command::Config(ConfigCommand::Check) => {
            let config = load(&cli.config)?;
            startup::check_tls(&config)?;
            println!("# the configuration is valid; effective values (secrets masked):");
            print!("{}", config.to_toml());
        }
        Command::Doctor => return doctor::run(cli.config.as_deref()),
        Command::Backup { path } => {
            let config = load(&cli.config)?;
            startup::check_data_dir_owner(&config)?;
            if !config.db_path().is_file() {
                anyhow::bail!("there is no database at {}", config.db_path().display());
            }
            // The store, for the data keys that seal the backup's directory.
            let db = startup::open_store(&config, false)?;
            let started = std::time::Instant::now();
            let report = store::backup::backup(&config.db_path(), &path, db.keyring())?;
            println!(
                "backup written to {} ({} pages, {} bytes) in {:.1?}; integrity check: {}",
                path.display(),
                report.pages,
                report.bytes,
                started.elapsed(),
                report.integrity
            );
            println!(
                "neither the master key nor the data keys are in the backup: it is read with {} and the keystore {} \
                 (keep a copy of the key, and mirror the keystore with storage.keystore_mirrors); \
                 `whatsapi restore` puts it back",
                config.storage.key_file.display(),
                config.keystore_files().path.display()
            );
        }
        Command::Restore(args) => return restore::run(args, &load(&cli.config)?),
        Command::Purge(args) => purge::run(args, &load(&cli.config)?)?,
        Command::Admin(command) => people::admin(command, &load(&cli.config)?)?,
        Command::Account(command) => privacy::account(command, &load(&cli.config)?)?,
        Command::Export(args) => privacy::export(args, &load(&cli.config)?)?,
        Command::Apikey(command) => people::api_key(command, &load(&cli.config)?)?,
        Command::Keys(command) => keys::run(command, &load(&cli.config)?)?,
        Command::Policy(command) => policy::policy(command, &load(&cli.config)?)?,
        Command::News(command) => policy::news(command, &load(&cli.config)?)?,
        Command::Sms(command) => return sms::run(command, &load(&cli.config)?),
        Command::Bench(command) => bench::run(command)?,
        Command::Completions(args) => package_files::completions(args, Cli::command())?,
        Command::PackageFiles(args) => package_files::run(args, Cli::command())?,
        Command::Sandbox {
            listen,
            latency_ms,
            webhook_url,
            webhook_secret,
            sent_after_ms,
            delivered_after_ms,
            read_after_ms,
        } => {
            logging::init(whatsapi::config::LogLevel::Info);
            let delays = whatsapi::config::Sandbox {
                sent_after_ms,
                delivered_after_ms,
                read_after_ms,
                ..whatsapi::config::Sandbox::default()
            }
            .delays();
            whatsapi::http::sandbox::run_standalone(whatsapi::http::sandbox::StandaloneOptions {
                listen,
                latency_ms,
                webhook_urls: webhook_url,
                webhook_secret,
                delays,
            })?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
