//! Who is signed in, and proof that a form came from our own page: the request guards of the pages.
//! Password rules and hashing are `services::passwords`; sign-in throttling `services::sign_in_throttle`.

pub mod client;
pub mod csrf;
pub mod roles;
pub mod session;

use crate::services::passwords;

pub use client::ClientInfo;
pub use csrf::{CsrfForm, HasCsrf};
pub use roles::{Admin, Member, Operator, Owner};
pub use session::{AnySession, Gate, PastSecondStep, Session, SettingUp};

/// Shared authentication state kept in Rocket's managed state.
pub struct Auth {
    pub hasher: passwords::Hasher,
}

impl Auth {
    pub fn new(config: &crate::config::Config) -> Auth {
        Auth {
            hasher: passwords::Hasher::new(config.accounts.password_hash_concurrency),
        }
    }
}
