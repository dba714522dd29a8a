//! `whatsapi policy publish` and `whatsapi news send`: the operator's side of the privacy policy's versions
//! and of the optional product news. Both write through the same store as the server and may run while
//! it does; the emails leave from here, one by one, through the configured mailer (or the outbox).

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use std::sync::atomic::AtomicBool;
use whatsapi::config::Config;
use whatsapi::outbound::mail::Mailer;
use whatsapi::services::notify;
use whatsapi::services::policy_mail::{OnFailure, send_due};
use whatsapi::store::activity::{self, Actor};
use whatsapi::store::consents::{self, PRODUCT_NEWS};
use whatsapi::store::{now_ms, policy_mail};
use whatsapi::{logging, startup};

#[derive(Subcommand)]
pub enum PolicyCommand {
    /// Publish a new version of the privacy policy: every signed-in person sees a notice until they
    /// acknowledge it, and everyone gets an email about it.
    // --version names the policy's version here, not this program's.
    #[command(disable_version_flag = true)]
    Publish(PublishArgs),
}

#[derive(Args)]
pub struct PublishArgs {
    /// The new version's label (at most 32 characters), e.g. 2 or 2025-06.
    #[arg(long)]
    version: String,
    /// What changed, in a few words (shown in the notice, the email and on /privacy).
    #[arg(long, default_value = "")]
    summary: String,
}

#[derive(Subcommand)]
pub enum NewsCommand {
    /// Email product news to the people who opted in (nobody else), each with their own one-click link
    /// that stops them.
    Send(SendArgs),
}

#[derive(Args)]
pub struct SendArgs {
    /// The subject of the email.
    #[arg(long)]
    subject: String,
    /// A file holding the text of the email (plain text, UTF-8).
    #[arg(long, value_name = "PATH")]
    body_file: std::path::PathBuf,
}

fn cli_actor() -> Actor<'static> {
    Actor {
        account: None,
        user: None,
        ip: "cli",
        user_agent: "whatsapi command line",
    }
}

pub fn policy(command: PolicyCommand, config: &Config) -> Result<()> {
    let PolicyCommand::Publish(args) = command;
    logging::init(config.log.level);
    let mailer = Mailer::new(config)?;
    let db = startup::open_store(config, false)?;
    let (policy, queued) = db.write(move |conn| {
        let now = now_ms();
        let policy = consents::publish_policy(conn, &args.version, &args.summary, None, now)?;
        activity::record(
            conn,
            &cli_actor(),
            "privacy_policy_published",
            &policy.version,
            now,
        )?;
        let queued = policy_mail::queue(conn, &policy.version, None, now)?;
        Ok((policy, queued))
    })?;
    println!(
        "version {} of the privacy policy is in force; telling {queued} people by email",
        policy.version
    );
    let stop = AtomicBool::new(false);
    let done = send_due(
        &db,
        &mailer,
        &config.privacy_link(),
        OnFailure::LeaveForServer,
        &stop,
    )?;
    let left = db.read(policy_mail::pending)?;
    println!("{} of {queued} emails sent", done.sent);
    if left > 0 {
        bail!(
            "{left} emails could not be sent now (see the log): they stay queued, and the server sends them \
             (at its start and every minute); everyone sees the notice when they sign in meanwhile"
        );
    }
    Ok(())
}

pub fn news(command: NewsCommand, config: &Config) -> Result<()> {
    let NewsCommand::Send(args) = command;
    logging::init(config.log.level);
    let body = std::fs::read_to_string(&args.body_file)
        .with_context(|| format!("cannot read {}", args.body_file.display()))?;
    if args.subject.trim().is_empty() || body.trim().is_empty() {
        bail!("the subject and the text must not be empty");
    }
    let mailer = Mailer::new(config)?;
    let db = startup::open_store(config, false)?;
    let recipients = db.read(|conn| consents::opted_in(conn, PRODUCT_NEWS))?;
    let mut failed = 0;
    for recipient in &recipients {
        let token = consents::withdrawal_token(db.keyring(), recipient.user, PRODUCT_NEWS);
        let link = format!("{}/unsubscribe/{token}", config.server.public_url);
        if let Err(e) =
            notify::product_news_blocking(&mailer, recipient, &args.subject, &body, &link)
        {
            tracing::error!(error = %e, user = recipient.user.get(), "could not send product news");
            failed += 1;
        }
    }
    println!(
        "product news sent to {} of {} people who opted in",
        recipients.len() - failed,
        recipients.len()
    );
    if failed > 0 {
        bail!("{failed} emails could not be sent (see the log)");
    }
    Ok(())
}
