//! Passwords: argon2id with OWASP's parameters (19 MiB, t=2, p=1: the crate's defaults), 12 to 128
//! characters, no composition rules, common passwords refused. Hashing runs on blocking threads behind a
//! semaphore: each hash takes 19 MiB and tens of milliseconds, so a burst of sign-ins must queue here
//! instead of starving the executor that serves the API.

use crate::error::{Error, Result};
use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use rocket::tokio::sync::Semaphore;
use std::collections::HashSet;
use std::sync::{Arc, LazyLock};
use zeroize::Zeroizing;

pub const MIN_LENGTH: usize = 12;
pub const MAX_LENGTH: usize = 128;

/// The most common passwords of 6 characters or more (from the zxcvbn project's list, MIT licence).
static COMMON: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("../../assets/common-passwords.txt")
        .lines()
        .collect()
});

/// Refuses passwords that are too short, too long, or common (also with digits or symbols tacked on,
/// such as "password2026!").
pub fn check_policy(password: &str, email: &str) -> Result<()> {
    let length = password.chars().count();
    if length < MIN_LENGTH {
        return Err(Error::invalid(
            "password",
            format!("use at least {MIN_LENGTH} characters"),
        ));
    }
    if length > MAX_LENGTH {
        return Err(Error::invalid(
            "password",
            format!("use at most {MAX_LENGTH} characters"),
        ));
    }
    let lower = password.to_lowercase();
    let core = lower
        .trim_end_matches(|c: char| !c.is_alphabetic())
        .trim_start_matches(|c: char| !c.is_alphabetic());
    let local_part = email.split('@').next().unwrap_or("").to_lowercase();
    let repeats_short_word = (1..=lower.len() / 2).any(|n| {
        lower.len().is_multiple_of(n)
            && lower.is_char_boundary(n)
            && lower == lower[..n].repeat(lower.len() / n)
    });
    if COMMON.contains(lower.as_str())
        || COMMON.contains(core)
        || (!local_part.is_empty() && core == local_part)
        || repeats_short_word
    {
        return Err(Error::invalid(
            "password",
            "this password is too common; choose another",
        ));
    }
    Ok(())
}

/// Hashes on the calling thread: for the command line, outside the server.
pub fn hash_blocking(password: &str) -> Result<String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|e| Error::Internal(anyhow::anyhow!("password hashing failed: {e}")))
}

#[derive(Clone)]
pub struct Hasher {
    permits: Arc<Semaphore>,
}

impl Hasher {
    /// `concurrency` 0 means one hash per CPU core.
    pub fn new(concurrency: usize) -> Hasher {
        let n = if concurrency == 0 {
            std::thread::available_parallelism().map_or(2, |n| n.get())
        } else {
            concurrency
        };
        Hasher {
            permits: Arc::new(Semaphore::new(n)),
        }
    }

    pub async fn hash(&self, password: &str) -> Result<String> {
        let password = Zeroizing::new(password.to_owned());
        self.run(move || hash_blocking(&password)).await
    }

    /// Whether `password` matches `hash`. A malformed hash counts as no match.
    pub async fn verify(&self, password: &str, hash: String) -> Result<bool> {
        let password = Zeroizing::new(password.to_owned());
        self.run(move || {
            // One line per check, so an operator (or a test) can count the hashes guesses cost.
            tracing::debug!("password checked");
            Ok(Argon2::default()
                .verify_password(password.as_bytes(), hash.as_str())
                .is_ok())
        })
        .await
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| Error::Unavailable("shutting down".into()))?;
        crate::blocking::run("hashing", work).await?
    }
}

/// A hash of a random password, verified against when the email is unknown, so that an unknown email
/// takes as long to refuse as a wrong password.
pub static DECOY_HASH: LazyLock<String> = LazyLock::new(|| {
    let password = crate::crypto::random_bytes::<16>().unwrap_or_default();
    Argon2::default()
        .hash_password(&password)
        .map(|h| h.to_string())
        .unwrap_or_default()
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_refuses_short_long_and_common_passwords() {
        assert!(check_policy("short", "a@b.co").is_err());
        assert!(check_policy(&"x".repeat(129), "a@b.co").is_err());
        assert!(
            check_policy("password2026!", "a@b.co").is_err(),
            "common word with digits tacked on"
        );
        assert!(check_policy("qwertyuiop123", "a@b.co").is_err());
        assert!(
            check_policy("abcabcabcabc", "a@b.co").is_err(),
            "repetition"
        );
        assert!(
            check_policy("fatimaalsabah1", "fatimaalsabah@example.com").is_err(),
            "the email's name"
        );
        assert!(check_policy("correct horse battery staple", "a@b.co").is_ok());
        assert!(
            check_policy("كلمة سر طويلة جدا", "a@b.co").is_ok(),
            "any script, no composition rules"
        );
    }
}
