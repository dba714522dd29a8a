//! Who is signed in, and proof that a form came from our own page.

pub mod client;
pub mod csrf;
pub mod password;
pub mod roles;
pub mod session;
pub mod throttle;

pub use client::ClientInfo;
pub use csrf::{CsrfForm, HasCsrf};
pub use roles::{Admin, Member, Operator, Owner};
pub use session::Session;

/// Shared authentication state kept in Rocket's managed state.
pub struct Auth {
    pub hasher: password::Hasher,
}

impl Auth {
    pub fn new(config: &crate::config::Config) -> Auth {
        Auth {
            hasher: password::Hasher::new(config.accounts.password_hash_concurrency),
        }
    }
}
