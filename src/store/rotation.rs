//! `whatsapi keys rotate`: seals every account data key in the keystore with a new master key.
//!
//! Resumable at every point. The new key is written to `<key file>.next` and its id recorded in the
//! database before any data key is resealed; data keys are resealed in small committed batches (the
//! keystore's mirrors follow each one); the check value moves to the new key last; only then is the key
//! file swapped (the old one is kept, renamed, because backups taken before the rotation hold the check
//! value sealed with it). Running the command again after a crash finishes the job.

use super::files::with_suffix;
use super::keys::{self, ROTATION_TARGET};
use super::keystore::{Keystore, KeystoreFiles, SealedKey};
use super::migrations;
use crate::config::Synchronous;
use crate::crypto::{self, Key};
use anyhow::{Context, Result, bail};
use rusqlite::{Connection, params};
use std::path::{Path, PathBuf};

pub struct Rotation {
    conn: Connection,
    keystore: Keystore,
    old: Key,
    new: Key,
    key_file: PathBuf,
    next_file: PathBuf,
}

#[derive(Debug)]
pub struct RotationReport {
    pub resealed: usize,
    pub old_key_id: u32,
    pub new_key_id: u32,
    pub retired_key_file: PathBuf,
}

pub fn next_key_file(key_file: &Path) -> PathBuf {
    with_suffix(key_file, ".next")
}

impl Rotation {
    /// Starts a rotation, or picks up an interrupted one.
    pub fn prepare(
        db_path: &Path,
        key_file: &Path,
        keystore: &KeystoreFiles,
        synchronous: Synchronous,
    ) -> Result<Rotation> {
        let conn =
            super::connect(db_path, synchronous, false).context("cannot open the database")?;
        migrations::run(&conn, db_path)?;
        if !keystore.path.exists() {
            bail!(
                "there is no keystore at {}; start the server once (it moves the data keys there) or point storage.keystore at it",
                keystore.path.display()
            );
        }
        let path = keystore.path.display().to_string();
        let keystore = Keystore::open(keystore).map_err(|e| anyhow::anyhow!(e.detail()))?;
        keystore
            .check_mirrors()
            .map_err(|e| anyhow::anyhow!("{path}: {}", e.detail()))?;
        let old = crypto::read_key_file(key_file)?;
        let next_file = next_key_file(key_file);
        let target = keys::setting(&conn, ROTATION_TARGET)?;
        let new = match target {
            Some(id) => {
                let new = crypto::read_key_file(&next_file).with_context(|| {
                    format!(
                        "the interrupted rotation needs its new key in {}",
                        next_file.display()
                    )
                })?;
                if id != new.id().to_be_bytes() {
                    bail!(
                        "{} does not hold the key the interrupted rotation started with",
                        next_file.display()
                    );
                }
                new
            }
            None if keys::master_matches(&conn, &old)? => {
                // A `.next` file without a recorded rotation is left from a crash before anything used it.
                if next_file.exists() {
                    std::fs::remove_file(&next_file)
                        .with_context(|| format!("cannot remove {}", next_file.display()))?;
                }
                let new = crypto::create_key_file(&next_file)?;
                conn.execute(
                    "INSERT INTO settings (name, value) VALUES (?1, ?2)",
                    params![ROTATION_TARGET, new.id().to_be_bytes().to_vec()],
                )?;
                new
            }
            None => match crypto::read_key_file(&next_file) {
                // The database already moved to the new key; only the file swap is left.
                Ok(new) if keys::master_matches(&conn, &new)? => new,
                _ => bail!(
                    "the key file {} does not belong to the database {}; nothing was changed",
                    key_file.display(),
                    db_path.display()
                ),
            },
        };
        Ok(Rotation {
            conn,
            keystore,
            old,
            new,
            key_file: key_file.to_owned(),
            next_file,
        })
    }

    pub fn new_key_id(&self) -> u32 {
        self.new.id()
    }

    /// Reseals up to `limit` data keys in one transaction; returns how many (0 when none are left).
    pub fn reseal_batch(&self, limit: usize) -> Result<usize> {
        let rows = self
            .keystore
            .sealed_with_other_than(self.new.id(), limit)
            .map_err(|e| anyhow::anyhow!(e.detail()))?;
        let mut resealed = Vec::with_capacity(rows.len());
        for row in &rows {
            let key =
                keys::unseal_data_key(&self.old, row.account, &row.sealed).with_context(|| {
                    format!(
                        "the data key of account {} does not open with the current key",
                        row.account.0
                    )
                })?;
            resealed.push(SealedKey {
                account: row.account,
                master_key_id: self.new.id(),
                sealed: keys::seal_data_key(&self.new, row.account, &key)?,
            });
        }
        self.keystore
            .reseal(&resealed)
            .map_err(|e| anyhow::anyhow!(e.detail()))?;
        Ok(rows.len())
    }

    /// Moves the check value to the new key, clears the rotation mark and swaps the key files.
    pub fn finish(self, resealed: usize) -> Result<RotationReport> {
        self.keystore
            .retire_master(self.old.id())
            .map_err(|e| anyhow::anyhow!(e.detail()))?;
        let tx = self.conn.unchecked_transaction()?;
        keys::write_master_check(&tx, &self.new)?;
        tx.execute("DELETE FROM settings WHERE name = ?1", [ROTATION_TARGET])?;
        tx.commit()?;

        let retired = with_suffix(&self.key_file, &format!(".retired-{:08x}", self.old.id()));
        if self.next_file.exists() {
            // A link, then an atomic rename over the key file: at no point is there no key file.
            match std::fs::hard_link(&self.key_file, &retired) {
                Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
                    return Err(e).with_context(|| {
                        format!("cannot keep the old key as {}", retired.display())
                    });
                }
                _ => {}
            }
            std::fs::rename(&self.next_file, &self.key_file).with_context(|| {
                format!("cannot move the new key to {}", self.key_file.display())
            })?;
            crypto::sync_parent(&self.key_file)?;
        }
        Ok(RotationReport {
            resealed,
            old_key_id: self.old.id(),
            new_key_id: self.new.id(),
            retired_key_file: retired,
        })
    }
}

/// Runs a whole rotation (or finishes an interrupted one). The server must not be running.
pub fn rotate(
    db_path: &Path,
    key_file: &Path,
    keystore: &KeystoreFiles,
    synchronous: Synchronous,
) -> Result<RotationReport> {
    let rotation = Rotation::prepare(db_path, key_file, keystore, synchronous)?;
    let mut resealed = 0;
    loop {
        let n = rotation.reseal_batch(256)?;
        if n == 0 {
            break;
        }
        resealed += n;
    }
    rotation.finish(resealed)
}
