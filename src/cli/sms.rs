//! `whatsapi sms test --to NUMBER`: sends the fixed test message through the configured `[sms]` gateway,
//! so an operator knows codes will arrive before anyone needs one. Exit 0 when the provider accepted it,
//! 1 when it refused or could not be reached, 2 when there is no gateway or the number is not E.164.

use anyhow::Result;
use clap::Subcommand;
use std::process::ExitCode;
use whatsapi::config::Config;
use whatsapi::logging;
use whatsapi::outbound::sms::{SmsGateway, is_e164};

#[derive(Subcommand)]
pub enum SmsCommand {
    /// Send a test message ("<product name>: a test message from your server. No action needed.")
    /// through the [sms] gateway; prints "accepted by <provider>", or why not.
    Test {
        /// The number, in E.164 form: + and the country code (e.g. +966501234567).
        #[arg(long)]
        to: String,
    },
}

pub fn run(command: SmsCommand, config: &Config) -> Result<ExitCode> {
    logging::init(config.log.level);
    let SmsCommand::Test { to } = command;
    let to = to.trim();
    let Some(gateway) = SmsGateway::new(&config.sms) else {
        eprintln!(
            "error: no SMS gateway is configured: set [sms] provider (\"http\", \"twilio\", \"vonage\" or \"unifonic\") and its settings"
        );
        return Ok(ExitCode::from(2));
    };
    if !is_e164(to) {
        eprintln!(
            "error: --to is not a number in E.164 form: + then the country code and number, 8 to 15 digits (e.g. +966501234567)"
        );
        return Ok(ExitCode::from(2));
    }
    match gateway.send_test(to, &config.branding.product_name) {
        Ok(()) => {
            println!("accepted by {}", gateway.provider_name());
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            eprintln!("error: {error}");
            Ok(ExitCode::FAILURE)
        }
    }
}
