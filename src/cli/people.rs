//! `whatsapi admin create` and `whatsapi account create`: provisioning by script, for operators and
//! resellers. They write through the same store as the server, and may run while it does.

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use std::io::BufRead;
use whatsapi::config::Config;
use whatsapi::services::{billing, passwords};
use whatsapi::store::accounts::{self, NewAccount};
use whatsapi::store::activity::{self, Actor};
use whatsapi::store::now_ms;
use whatsapi::store::users::{self, NewUser, Role};
use whatsapi::{logging, startup};

#[derive(Subcommand)]
pub enum AdminCommand {
    /// Create an operator (who runs this installation); prints the new user id.
    Create {
        /// The operator's email address (they sign in with it).
        #[arg(long)]
        email: String,
        /// The operator's name.
        #[arg(long)]
        name: String,
        /// Read the password from the first line of standard input.
        #[arg(long, required = true)]
        password_stdin: bool,
    },
}

#[derive(Subcommand)]
pub enum AccountCommand {
    /// Create a business account with its owner; prints only the account id.
    Create(NewAccountArgs),
}

#[derive(Args)]
pub struct NewAccountArgs {
    /// The business's name.
    #[arg(long)]
    company: String,
    /// The owner's name.
    #[arg(long)]
    name: String,
    /// The owner's email address (they sign in with it).
    #[arg(long)]
    email: String,
    /// The business's country (free text, at most 100 characters).
    #[arg(long, default_value = "")]
    country: String,
    /// The business's phone number (digits, spaces and + - ( ) only).
    #[arg(long, default_value = "")]
    phone: String,
    /// Read the owner's password from the first line of standard input.
    #[arg(long, required = true)]
    password_stdin: bool,
}

/// The first line of standard input, without its line ending, checked against the password policy.
fn password_from_stdin(email: &str) -> Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from standard input")?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    if let Err(e) = passwords::check_policy(&password, email) {
        bail!("password: {e}");
    }
    Ok(password)
}

pub(super) fn cli_actor() -> Actor<'static> {
    Actor {
        account: None,
        user: None,
        ip: "cli",
        user_agent: "whatsapi command line",
    }
}

pub fn admin(command: AdminCommand, config: &Config) -> Result<()> {
    let AdminCommand::Create { email, name, .. } = command;
    logging::init(config.log.level);
    let password = password_from_stdin(&email)?;
    let hash = passwords::hash_blocking(&password)?;
    let db = startup::open_store(config, false)?;
    let id = db.write(move |conn| {
        let new = NewUser {
            account_id: None,
            role: Role::Operator,
            email: &email,
            name: &name,
            password_hash: &hash,
            locale: "en",
        };
        let id = users::insert(conn, &new)?;
        activity::record(conn, &cli_actor(), "operator_created", &email, now_ms())?;
        Ok(id)
    })?;
    println!("{}", id.get());
    Ok(())
}

pub fn account(command: AccountCommand, config: &Config) -> Result<()> {
    let AccountCommand::Create(args) = command;
    logging::init(config.log.level);
    let password = password_from_stdin(&args.email)?;
    let hash = passwords::hash_blocking(&password)?;
    let db = startup::open_store(config, false)?;
    let keyring_db = db.clone();
    let start = billing::start(config, now_ms());
    let id = db.write(move |conn| {
        let new = NewAccount {
            company: args.company,
            country: args.country,
            phone: args.phone,
            start,
        };
        let account = accounts::create(conn, keyring_db.keyring(), &new)?;
        let owner = NewUser {
            account_id: Some(account),
            role: Role::Owner,
            email: &args.email,
            name: &args.name,
            password_hash: &hash,
            locale: "en",
        };
        users::insert(conn, &owner)?;
        let actor = Actor {
            account: Some(account),
            ..cli_actor()
        };
        activity::record(conn, &actor, "account_created", "", now_ms())?;
        Ok(account)
    })?;
    println!("{}", id.get());
    Ok(())
}

#[derive(Subcommand)]
pub enum ApiKeyCommand {
    /// Create an API key for an account; prints the key, the only time it is shown.
    Create {
        #[arg(long)]
        account: i64,
        #[arg(long)]
        name: String,
    },
}

pub fn api_key(command: ApiKeyCommand, config: &Config) -> Result<()> {
    let ApiKeyCommand::Create { account, name } = command;
    logging::init(config.log.level);
    let db = startup::open_store(config, false)?;
    let account = whatsapi::store::AccountId::from_operator(account);
    let key = db.write(move |conn| {
        if accounts::find(conn, account)?.is_none() {
            return Err(whatsapi::error::Error::invalid(
                "account",
                "no such account",
            ));
        }
        let (_, key) = whatsapi::store::api_keys::create(conn, account, &name, None)?;
        let actor = Actor {
            account: Some(account),
            ..cli_actor()
        };
        activity::record(conn, &actor, "api_key_created", &name, now_ms())?;
        Ok(key)
    })?;
    println!("{key}");
    Ok(())
}
