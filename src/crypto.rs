//! Field encryption: XChaCha20-Poly1305 envelopes bound to where they are stored.
//!
//! Envelope: `version (1) | key id (4, big endian) | nonce (24, random) | ciphertext + tag`.
//! The associated data names the account, table, column and row, and repeats version and key id, so a
//! ciphertext copied to another row, column or account, or relabelled with another key id, fails to open.
//! Account data keys are themselves sealed with the master key (the key file) in the same envelope.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};
use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use zeroize::Zeroizing;

pub const ENVELOPE_VERSION: u8 = 1;
const HEADER_LEN: usize = 1 + 4 + 24;
const TAG_LEN: usize = 16;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    #[error("the encrypted value is malformed")]
    Malformed,
    #[error("the encrypted value uses envelope version {0}, which this version cannot read")]
    UnknownVersion(u8),
    #[error("the encrypted value was sealed with key {0:08x}, which is not available")]
    UnknownKey(u32),
    #[error("the encrypted value does not belong here or was altered")]
    Forged,
    #[error("the system random number generator failed")]
    Random,
}

/// Where a value lives. Sealing binds the ciphertext to exactly this place.
#[derive(Debug, Clone, Copy)]
pub struct Aad<'a> {
    pub account: i64,
    pub table: &'a str,
    pub column: &'a str,
    pub row: i64,
}

impl Aad<'_> {
    fn bytes(&self, version: u8, key_id: u32) -> Vec<u8> {
        let mut out = Vec::with_capacity(48 + self.table.len() + self.column.len());
        out.extend_from_slice(b"whatsapi/field");
        out.push(version);
        out.extend_from_slice(&key_id.to_be_bytes());
        out.extend_from_slice(&self.account.to_be_bytes());
        // Length prefixes keep ("ab", "c") and ("a", "bc") apart.
        for part in [self.table, self.column] {
            out.extend_from_slice(&(part.len() as u32).to_be_bytes());
            out.extend_from_slice(part.as_bytes());
        }
        out.extend_from_slice(&self.row.to_be_bytes());
        out
    }
}

/// Whether two secrets are equal, taking the same time wherever they differ (length aside).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A 256-bit key with its id. Used both for the master key and for account data keys.
#[derive(Clone)]
pub struct Key {
    id: u32,
    bytes: Zeroizing<[u8; 32]>,
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({:08x})", self.id)
    }
}

pub fn random_bytes<const N: usize>() -> Result<[u8; N], CryptoError> {
    let mut out = [0u8; N];
    getrandom::fill(&mut out).map_err(|_| CryptoError::Random)?;
    Ok(out)
}

impl Key {
    /// A new random data key with a random id.
    pub fn generate() -> Result<Key, CryptoError> {
        let id = u32::from_be_bytes(random_bytes()?);
        Ok(Key {
            id,
            bytes: Zeroizing::new(random_bytes()?),
        })
    }

    /// A master key: its id is derived from the key itself, so the same file always has the same id.
    pub fn master(bytes: [u8; 32]) -> Key {
        let digest = Sha256::new()
            .chain_update(b"whatsapi/master-key-id")
            .chain_update(bytes)
            .finalize();
        let id = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
        Key {
            id,
            bytes: Zeroizing::new(bytes),
        }
    }

    pub fn from_parts(id: u32, bytes: [u8; 32]) -> Key {
        Key {
            id,
            bytes: Zeroizing::new(bytes),
        }
    }

    pub fn id(&self) -> u32 {
        self.id
    }

    pub fn expose(&self) -> &[u8; 32] {
        &self.bytes
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&(*self.bytes).into())
    }

    pub fn seal(&self, aad: &Aad<'_>, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let nonce: [u8; 24] = random_bytes()?;
        let ad = aad.bytes(ENVELOPE_VERSION, self.id);
        let sealed = self
            .cipher()
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad: &ad,
                },
            )
            .map_err(|_| CryptoError::Malformed)?;
        let mut out = Vec::with_capacity(HEADER_LEN + sealed.len());
        out.push(ENVELOPE_VERSION);
        out.extend_from_slice(&self.id.to_be_bytes());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    pub fn open(&self, aad: &Aad<'_>, envelope: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let header = Header::parse(envelope)?;
        if header.key_id != self.id {
            return Err(CryptoError::UnknownKey(header.key_id));
        }
        let ad = aad.bytes(header.version, header.key_id);
        let nonce =
            XNonce::try_from(&envelope[5..HEADER_LEN]).map_err(|_| CryptoError::Malformed)?;
        self.cipher()
            .decrypt(
                &nonce,
                Payload {
                    msg: &envelope[HEADER_LEN..],
                    aad: &ad,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| CryptoError::Forged)
    }
}

/// The readable part of an envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub version: u8,
    pub key_id: u32,
}

impl Header {
    pub fn parse(envelope: &[u8]) -> Result<Header, CryptoError> {
        if envelope.len() < HEADER_LEN + TAG_LEN {
            return Err(CryptoError::Malformed);
        }
        if envelope[0] != ENVELOPE_VERSION {
            return Err(CryptoError::UnknownVersion(envelope[0]));
        }
        let key_id = u32::from_be_bytes([envelope[1], envelope[2], envelope[3], envelope[4]]);
        Ok(Header {
            version: envelope[0],
            key_id,
        })
    }
}

/// Why a key file cannot be used. Each message says what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("the master key file {0} does not exist")]
    Missing(String),
    #[error(
        "the master key file {path} can be read by group or others (mode {mode:o}); \
         run `chmod 600 {path}` and make it owned by the user that runs whatsapi"
    )]
    TooOpen { path: String, mode: u32 },
    #[error("the master key file {0} is not a whatsapi key (expected 64 hexadecimal characters)")]
    Format(String),
    #[error(
        "the master key file {0} already exists; refusing to overwrite a key (data sealed with it would be lost)"
    )]
    Exists(String),
    #[error("cannot use the master key file {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// Reads the master key from its file, refusing a file that others can read.
pub fn read_key_file(path: &Path) -> Result<Key, KeyFileError> {
    let shown = path.display().to_string();
    let meta = match fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(KeyFileError::Missing(shown));
        }
        Err(source) => {
            return Err(KeyFileError::Io {
                path: shown,
                source,
            });
        }
    };
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyFileError::TooOpen { path: shown, mode });
    }
    let text = Zeroizing::new(fs::read_to_string(path).map_err(|source| KeyFileError::Io {
        path: shown.clone(),
        source,
    })?);
    let mut bytes = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(text.trim(), bytes.as_mut()).map_err(|_| KeyFileError::Format(shown))?;
    Ok(Key::master(*bytes))
}

/// Writes a new random master key to `path` with mode 0600. Never overwrites an existing file.
pub fn create_key_file(path: &Path) -> Result<Key, KeyFileError> {
    let shown = path.display().to_string();
    let bytes = random_bytes::<32>().map_err(|_| KeyFileError::Io {
        path: shown.clone(),
        source: std::io::Error::other("no randomness available"),
    })?;
    let key = Key::master(bytes);
    write_key_file(path, &key)?;
    Ok(key)
}

pub fn write_key_file(path: &Path, key: &Key) -> Result<(), KeyFileError> {
    let shown = path.display().to_string();
    let io = |source| KeyFileError::Io {
        path: shown.clone(),
        source,
    };
    let mut file = match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(KeyFileError::Exists(shown));
        }
        Err(e) => return Err(io(e)),
    };
    let text = Zeroizing::new(format!("{}\n", hex::encode(key.expose())));
    file.write_all(text.as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)?;
    sync_parent(path).map_err(io)
}

/// Makes a new directory entry durable (a renamed or created key file must survive a power cut).
pub fn sync_parent(path: &Path) -> std::io::Result<()> {
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::File::open(parent)?.sync_all()
}
