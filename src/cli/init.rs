//! `whatsapi init`: the files a package installs on first setup. Each file is created when missing and
//! left alone when present, so running it again (on upgrade) changes nothing.

use anyhow::{Context, Result, bail};
use clap::Args;
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use whatsapi::config::{self, Config};
use whatsapi::crypto;

#[derive(Args)]
/// The configuration file is written where `--config` points (default /etc/whatsapi/config.toml).
pub struct InitArgs {
    /// Where to write the master key (keep it outside the data directory).
    #[arg(long, value_name = "PATH", default_value = "/etc/whatsapi/master.key")]
    key_file: PathBuf,
    /// The data directory the configuration should name.
    #[arg(long, value_name = "PATH", default_value = "/var/lib/whatsapi")]
    data_dir: PathBuf,
    /// The keystore the configuration should name (outside the data directory; written by the server).
    /// Default: beside the key file.
    #[arg(long, value_name = "PATH")]
    keystore: Option<PathBuf>,
    /// Where the configuration should have scheduled backups written (`[backup] dir`; outside the data
    /// directory). Default: the built-in one.
    #[arg(long, value_name = "PATH")]
    backup_dir: Option<PathBuf>,
}

/// Where a configuration keeps its files: the data, the key, and (when not the defaults) the keystore and
/// the scheduled backups.
pub struct Places<'a> {
    pub data_dir: &'a Path,
    pub key_file: &'a Path,
    pub keystore: Option<&'a Path>,
    pub backup_dir: Option<&'a Path>,
}

/// The example configuration with the storage paths filled in.
pub fn render_config(places: &Places) -> Result<String> {
    let (data_dir, key_file) = (places.data_dir, places.key_file);
    let quote = |p: &Path| toml::Value::String(p.display().to_string()).to_string();
    let mut text = config::EXAMPLE.to_owned();
    let keystore = places
        .keystore
        .map(|path| ("# keystore = \"\"", format!("keystore = {}", quote(path))));
    let backup_dir = places.backup_dir.map(|path| {
        (
            "# dir = \"./whatsapi-backups\"",
            format!("dir = {}", quote(path)),
        )
    });
    for (line, value) in [
        (
            "# data_dir = \"./whatsapi-data\"",
            format!("data_dir = {}", quote(data_dir)),
        ),
        (
            "# key_file = \"./whatsapi-master.key\"",
            format!("key_file = {}", quote(key_file)),
        ),
    ]
    .into_iter()
    .chain(keystore)
    .chain(backup_dir)
    {
        if !text.contains(line) {
            bail!("the built-in example configuration lacks the line {line:?}");
        }
        text = text.replacen(line, &value, 1);
    }
    Ok(text)
}

pub fn run(args: InitArgs, config_file: Option<&Path>) -> Result<()> {
    let config_file = config_file.unwrap_or(Path::new(config::SYSTEM_CONFIG));
    let mut config = Config::default();
    config.storage.data_dir = args.data_dir.clone();
    config.storage.key_file = args.key_file.clone();
    config.storage.keystore = args.keystore.clone().unwrap_or_default();
    config.validate()?;

    if config_file.exists() {
        println!("{} exists; left unchanged", config_file.display());
    } else {
        let text = render_config(&Places {
            data_dir: &args.data_dir,
            key_file: &args.key_file,
            keystore: args.keystore.as_deref(),
            backup_dir: args.backup_dir.as_deref(),
        })?;
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o640)
            .open(config_file)
            .with_context(|| format!("cannot create {}", config_file.display()))?;
        // Readable by the service's group whatever the umask (the process runs with 0077).
        file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o640))
            .with_context(|| format!("cannot set the mode of {}", config_file.display()))?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        println!("wrote {}", config_file.display());
    }

    if args.key_file.exists() {
        crypto::read_key_file(&args.key_file)?;
        println!("{} exists; left unchanged", args.key_file.display());
    } else {
        let key = crypto::create_key_file(&args.key_file)?;
        println!(
            "wrote the master key {:08x} to {} (mode 0600); keep a copy apart from backups of the data",
            key.id(),
            args.key_file.display()
        );
    }
    Ok(())
}
