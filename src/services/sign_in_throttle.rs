//! Throttling of password guesses at sign-in, kept in the database (`store::login_throttle` has the
//! windows and limits). An attempt is reserved before its password is hashed, so guesses sent all at once
//! are refused before they cost a hash, and a restart forgives nothing.

use crate::domain::client::ClientInfo;
use crate::error::Result;
use crate::store::login_throttle::{self, Attempt, Refusal, Reservation};
use crate::store::{Db, sessions};
use hmac::{KeyInit, Mac};

/// A keyed hash, so the table of attempts names no email and no address.
fn keyed(db: &Db, kind: &[u8], value: &str) -> Vec<u8> {
    let key = db.keyring().derive(b"login throttle");
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).expect("any key length works");
    mac.update(kind);
    mac.update(b"\0");
    mac.update(value.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

fn email_key(db: &Db, email: &str) -> Vec<u8> {
    keyed(db, b"email", &email.trim().to_lowercase())
}

/// How a person's known addresses and the throttle's windows name an address: an IPv6 client by its
/// /64, since one subscriber usually holds a whole /64 and could take a new address for every guess.
pub fn address_key(db: &Db, ip: &str) -> Vec<u8> {
    keyed(db, b"address", &network_of(ip))
}

fn network_of(ip: &str) -> String {
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        _ => ip.to_owned(),
    }
}

/// An attempt allowed to have its password checked; say how it went.
#[must_use]
pub struct Reserved {
    reservation: Reservation,
    email_key: Vec<u8>,
    address_key: Vec<u8>,
}

/// Reserves an attempt for `email` from this client, or says which limit refuses it.
pub async fn reserve(
    db: &Db,
    email: &str,
    client: &ClientInfo,
    now: i64,
) -> Result<std::result::Result<Reserved, Refusal>> {
    let email = email.trim().to_owned();
    let email_key = email_key(db, &email);
    let address_key = address_key(db, &client.ip);
    let browser = sessions::browser_fingerprint(&client.user_agent);
    let (email_for_db, email_key_for_db, address_key_for_db) =
        (email, email_key.clone(), address_key.clone());
    let outcome = db
        .write_async(move |conn| {
            login_throttle::reserve(
                conn,
                &Attempt {
                    email: &email_for_db,
                    email_key: &email_key_for_db,
                    address_key: &address_key_for_db,
                    browser: &browser,
                    now,
                },
            )
        })
        .await?;
    Ok(outcome.map(|reservation| Reserved {
        reservation,
        email_key,
        address_key,
    }))
}

impl Reserved {
    /// The password was wrong: this attempt counts as a failure for the rest of the window.
    /// `also` writes in the same transaction what the caller records with it (the failure in the
    /// person's activity log).
    pub async fn failed(
        self,
        db: &Db,
        also: impl FnOnce(&rusqlite::Connection) -> Result<()> + Send + 'static,
    ) -> Result<()> {
        let reservation = self.reservation;
        db.write_async(move |conn| {
            login_throttle::failed(conn, reservation)?;
            also(conn)
        })
        .await
    }

    /// The password was right: the reservation is released and this pair's failures forgiven.
    pub async fn succeeded(self, db: &Db) -> Result<()> {
        let Reserved {
            reservation,
            email_key,
            address_key,
        } = self;
        db.write_async(move |conn| {
            login_throttle::succeeded(conn, reservation, &email_key, &address_key)
        })
        .await
    }

    /// The password could not be checked (the server failed): the attempt does not count.
    pub async fn released(self, db: &Db) -> Result<()> {
        let reservation = self.reservation;
        db.write_async(move |conn| login_throttle::release(conn, reservation))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::network_of;

    #[test]
    fn an_ipv6_client_is_known_by_its_64_and_others_by_their_address() {
        assert_eq!(network_of("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::/64");
        assert_eq!(
            network_of("2001:db8:1:2:ffff::9"),
            network_of("2001:db8:1:2:3:4:5:6")
        );
        assert_ne!(network_of("2001:db8:1:3::1"), network_of("2001:db8:1:2::1"));
        assert_eq!(network_of("203.0.113.7"), "203.0.113.7");
        assert_eq!(network_of("unknown"), "unknown");
    }
}
