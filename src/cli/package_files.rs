//! What the packages ship besides the binary, generated from the binary itself: the manual page and the
//! shell completions (from the same clap definition the command line is parsed with), and the default
//! configuration the packages install as `/etc/whatsapi/config.toml` (the example with the packaged paths,
//! as `whatsapi init` writes it). `packaging/build.sh` runs `whatsapi package-files DIR` on the release
//! binary; `whatsapi completions SHELL` prints a completion script for people who install by hand.

use anyhow::{Context, Result};
use clap::Args;
use clap_complete::Shell;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The paths the packages use (the same as `whatsapi init`'s defaults, with the keystore where the
/// service can write it).
const DATA_DIR: &str = "/var/lib/whatsapi";
const KEY_FILE: &str = "/etc/whatsapi/master.key";
const KEYSTORE: &str = "/var/lib/whatsapi-keys/master.keystore";
/// A state directory of the unit's own, so the service may write it (`ProtectSystem=strict`).
const BACKUP_DIR: &str = "/var/lib/whatsapi-backups";

#[derive(Args)]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell.
    #[arg(value_enum)]
    shell: Shell,
}

#[derive(Args)]
pub struct PackageFilesArgs {
    /// The directory to write into (created when missing; files in it are replaced).
    dir: PathBuf,
}

/// Prints the completion script of `shell` for the whole command line. For bash, save it as
/// `/usr/share/bash-completion/completions/whatsapi`; for zsh, as `_whatsapi` in a directory of `$fpath`.
pub fn completions(args: CompletionsArgs, mut command: clap::Command) -> Result<()> {
    let name = command.get_name().to_owned();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, name, &mut script);
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(&script).and_then(|()| stdout.flush()) {
        // Read only in part (`| head`): not an error of ours.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        written => Ok(written.context("cannot write the completion script")?),
    }
}

/// Writes the manual pages (`man/whatsapi.1` and one per command), `whatsapi.bash`, `_whatsapi` (zsh) and
/// `config.toml` into `args.dir`.
pub fn run(args: PackageFilesArgs, command: clap::Command) -> Result<()> {
    let dir = &args.dir;
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    // One page per command (whatsapi.1, whatsapi-serve.1, whatsapi-admin-create.1, …), as clap lays them.
    let pages = dir.join("man");
    fs::create_dir_all(&pages).with_context(|| format!("cannot create {}", pages.display()))?;
    clap_mangen::generate_to(command.clone(), &pages)
        .with_context(|| format!("cannot write the manual pages into {}", pages.display()))?;

    let mut command = command;
    for (shell, file) in [(Shell::Bash, "whatsapi.bash"), (Shell::Zsh, "_whatsapi")] {
        let mut script = Vec::new();
        clap_complete::generate(shell, &mut command, "whatsapi", &mut script);
        write(&dir.join(file), &script)?;
    }

    let config = super::init::render_config(&super::init::Places {
        data_dir: Path::new(DATA_DIR),
        key_file: Path::new(KEY_FILE),
        keystore: Some(Path::new(KEYSTORE)),
        backup_dir: Some(Path::new(BACKUP_DIR)),
    })?;
    write(&dir.join("config.toml"), config.as_bytes())?;

    for file in ["man", "whatsapi.bash", "_whatsapi", "config.toml"] {
        println!("{}", dir.join(file).display());
    }
    Ok(())
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}
