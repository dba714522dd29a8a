//! `whatsapi account set-plan` and `whatsapi account set-status`: operators move an account to another
//! plan or subscription status from a shell (support, scripts, a payment handled elsewhere). They write
//! through the same store as the server and may run while it does: the server trusts an account's
//! subscription for at most 5 s, so it follows the change within that. Each change is in the account's
//! history as made by "command line".

use super::people::cli_actor;
use anyhow::{Result, bail};
use clap::Subcommand;
use whatsapi::config::Config;
use whatsapi::services::billing;
use whatsapi::store::states::SubscriptionStatus;
use whatsapi::store::subscriptions::{self, Subscription};
use whatsapi::store::{AccountId, Db, now_ms};
use whatsapi::{logging, startup};

/// Who the account's history names for these changes.
const BY: &str = "command line";

#[derive(Subcommand)]
pub enum BillingCommand {
    /// Move an account to another plan (one of the configuration's [[plans]]); prints what changed.
    SetPlan {
        /// The account to move.
        #[arg(long)]
        account: i64,
        /// The plan's id.
        #[arg(long)]
        plan: String,
    },
    /// Set an account's subscription status; prints what changed. past_due sends for billing.grace_days
    /// more days, canceled stops sending at once.
    SetStatus {
        /// The account to change.
        #[arg(long)]
        account: i64,
        /// trialing, active, past_due or canceled.
        #[arg(long)]
        status: String,
        /// With trialing: the day the trial ends (it ends as that day starts, 00:00 UTC). Without it, a
        /// trial keeps the end it has.
        #[arg(long, value_name = "YYYY-MM-DD")]
        trial_ends: Option<String>,
    },
}

pub fn run(command: BillingCommand, config: &Config) -> Result<()> {
    logging::init(config.log.level);
    match command {
        BillingCommand::SetPlan { account, plan } => set_plan(config, account, &plan),
        BillingCommand::SetStatus {
            account,
            status,
            trial_ends,
        } => set_status(config, account, &status, trial_ends.as_deref()),
    }
}

/// The account's subscription, or a refusal naming the id when there is no such account.
fn subscription(db: &Db, account: AccountId) -> Result<Subscription> {
    match db.read(|conn| subscriptions::find(conn, account)) {
        Ok(found) => Ok(found),
        Err(whatsapi::error::Error::NotFound) => bail!("there is no account {}", account.get()),
        Err(e) => Err(e.into()),
    }
}

fn set_plan(config: &Config, account: i64, plan: &str) -> Result<()> {
    let plan = plan.trim().to_owned();
    // Refused before the store is opened: a typo changes nothing.
    if config.plan(&plan).is_none() {
        bail!(
            "there is no plan {plan:?}; the plans are {}",
            config.plan_ids()
        );
    }
    let db = startup::open_store(config, false)?;
    let account = AccountId::from_operator(account);
    let before = subscription(&db, account)?;
    let id = plan.clone();
    let changed = db.write(move |conn| {
        let changed = subscriptions::set_plan(conn, account, &id, BY, now_ms())?;
        if changed {
            billing::log_change(conn, &cli_actor(), account, &format!("plan {id}"))?;
        }
        Ok(changed)
    })?;
    if changed {
        println!("account {}: plan {} -> {plan}", account.get(), before.plan);
    } else {
        println!(
            "account {} is on plan {plan} already: nothing changed",
            account.get()
        );
    }
    Ok(())
}

fn set_status(config: &Config, account: i64, status: &str, trial_ends: Option<&str>) -> Result<()> {
    let change = billing::status_change(status, trial_ends).map_err(|e| anyhow::anyhow!("{e}"))?;
    let db = startup::open_store(config, false)?;
    let account = AccountId::from_operator(account);
    let before = subscription(&db, account)?;
    let changed = db.write(move |conn| {
        let changed = subscriptions::set_status(conn, account, change, BY, now_ms())?;
        if changed {
            let detail = format!("status {}", change.status);
            billing::log_change(conn, &cli_actor(), account, &detail)?;
        }
        Ok(changed)
    })?;
    if !changed {
        println!(
            "account {} is {} already: nothing changed",
            account.get(),
            before.status
        );
        return Ok(());
    }
    let after = subscription(&db, account)?;
    let mut line = format!(
        "account {}: status {} -> {}",
        account.get(),
        before.status,
        after.status
    );
    if after.status == SubscriptionStatus::Trialing
        && let Some(end) = after.trial_ends_at
    {
        line.push_str(&format!(
            " (the trial ends {})",
            whatsapi::error::utc_minute(end)
        ));
    }
    if let Some(since) = after.past_due_since {
        let stops = since + i64::from(config.billing.grace_days) * 86_400_000;
        line.push_str(&format!(
            " (past due since {}; sending stops {})",
            whatsapi::error::utc_minute(since),
            whatsapi::error::utc_minute(stops)
        ));
    }
    println!("{line}");
    Ok(())
}
