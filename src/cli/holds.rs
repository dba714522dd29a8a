//! `whatsapi account suspend`, `reactivate`, `hold-sending` and `release-hold`: operators stop an
//! account, or only its sending, from a shell, as the account's page on /admin does. They write through
//! the same store as the server and may run while it does: the server trusts an account's standing for
//! at most 5 s, so it follows within that. Each change is in the account's history of holds as made by
//! "command line", and in the activity log.

use super::people::cli_actor;
use anyhow::{Result, bail};
use clap::Subcommand;
use whatsapi::config::Config;
use whatsapi::error::Error;
use whatsapi::services::billing::holds::{self, Change};
use whatsapi::store::holds::Holds;
use whatsapi::store::{AccountId, Db, now_ms};
use whatsapi::{logging, startup};

/// Who the account's history names for these changes.
const BY: &str = "command line";

#[derive(Subcommand)]
pub enum HoldCommand {
    /// Suspend an account: its people cannot sign in, its API keys are refused (403
    /// account_suspended) and nothing is sent until it is reactivated. Its data stays.
    Suspend {
        /// The account to suspend.
        #[arg(long)]
        account: i64,
        /// Why, for the account's history (operators see it; the account's people do not).
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Lift an account's suspension and any hold of its sending; its queued messages go out.
    Reactivate {
        /// The account to reactivate.
        #[arg(long)]
        account: i64,
    },
    /// Hold an account's sending: new messages are refused (403 sending_held) and queued ones wait,
    /// neither sent nor lost, until the hold is released. Everything else works.
    HoldSending {
        /// The account whose sending to hold.
        #[arg(long)]
        account: i64,
        /// Why, for the account's history.
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Release the hold of an account's sending: its queued messages go out, each once.
    ReleaseHold {
        /// The account whose sending to release.
        #[arg(long)]
        account: i64,
    },
}

pub fn run(command: HoldCommand, config: &Config) -> Result<()> {
    logging::init(config.log.level);
    let (account, change) = match command {
        HoldCommand::Suspend { account, reason } => (account, Change::Suspend { reason }),
        HoldCommand::Reactivate { account } => (account, Change::Reactivate),
        HoldCommand::HoldSending { account, reason } => (account, Change::HoldSending { reason }),
        HoldCommand::ReleaseHold { account } => (account, Change::ReleaseHold),
    };
    let db = startup::open_store(config, false)?;
    let account = AccountId::from_operator(account);
    let before = holds_of(&db, account)?;
    let applied = change.clone();
    let changed =
        db.write(move |conn| holds::apply(conn, account, &applied, (&cli_actor(), BY), now_ms()));
    let changed = match changed {
        Ok(changed) => changed,
        Err(Error::Invalid { message, .. }) => bail!("account {}: {message}", account.get()),
        Err(e) => return Err(e.into()),
    };
    let id = account.get();
    let line = match (&change, changed) {
        (Change::Suspend { .. }, true) => format!("account {id}: suspended"),
        (Change::Suspend { .. }, false) => {
            format!("account {id} is suspended already: nothing changed")
        }
        (Change::Reactivate, true) => {
            format!("account {id}: reactivated (it was {})", words(&before))
        }
        (Change::Reactivate, false) => {
            format!("account {id} is neither suspended nor held: nothing changed")
        }
        (Change::HoldSending { .. }, true) => {
            format!("account {id}: sending held; its messages wait until the hold is released")
        }
        (Change::HoldSending { .. }, false) => {
            format!("account {id}'s sending is held already: nothing changed")
        }
        (Change::ReleaseHold, true) => format!("account {id}: sending released"),
        (Change::ReleaseHold, false) => {
            format!("account {id}'s sending is not held: nothing changed")
        }
    };
    println!("{line}");
    if changed && matches!(change, Change::ReleaseHold) && before.suspended.is_some() {
        println!(
            "account {id} is still suspended: `whatsapi account reactivate --account {id}` lifts that"
        );
    }
    Ok(())
}

/// The account's holds, or a refusal naming the id when there is no such account.
fn holds_of(db: &Db, account: AccountId) -> Result<Holds> {
    match db.read(|conn| whatsapi::store::holds::find(conn, account)) {
        Ok(found) => Ok(found),
        Err(Error::NotFound) => bail!("there is no account {}", account.get()),
        Err(e) => Err(e.into()),
    }
}

/// What held an account, in words.
fn words(holds: &Holds) -> &'static str {
    match (&holds.suspended, &holds.sending_held) {
        (Some(_), Some(_)) => "suspended, and its sending held",
        (Some(_), None) => "suspended",
        (None, _) => "holding its sending",
    }
}
