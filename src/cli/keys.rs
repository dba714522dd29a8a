//! `whatsapi keys rotate`.

use anyhow::Result;
use clap::Subcommand;
use whatsapi::config::Config;
use whatsapi::store::rotation;
use whatsapi::{logging, startup};

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Seal every account data key with a new master key (resumable; the server must be stopped).
    Rotate,
}

pub fn run(command: KeysCommand, config: &Config) -> Result<()> {
    match command {
        KeysCommand::Rotate => {
            logging::init(config.log.level);
            let _lock = startup::lock_data_dir(config)?;
            let report = rotation::rotate(
                &config.db_path(),
                &config.storage.key_file,
                &config.keystore_files(),
                config.storage.synchronous,
            )?;
            println!(
                "rotated the master key {:08x} -> {:08x}: {} data keys resealed; {} now holds the new key",
                report.old_key_id,
                report.new_key_id,
                report.resealed,
                config.storage.key_file.display()
            );
            println!(
                "the old key is kept in {}: backups made before now need it; delete it once they have expired",
                report.retired_key_file.display()
            );
        }
    }
    Ok(())
}
