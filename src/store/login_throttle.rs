//! Sign-in attempts in the database, for throttling password guesses.
//!
//! An attempt is reserved before its password is checked, in the writer (which runs one write at a
//! time), and an attempt in flight counts as used: however many guesses arrive at once, no more are checked
//! than the limits allow. A failure stays for the window; a success deletes its reservation and the
//! failures of its (email, address) pair. Being rows, the windows survive a restart.
//!
//! Three windows of 15 minutes: one email from one address (5), one address for any email (30), and one
//! email from anywhere (100). The per-address limit would lock out everyone behind a shared address (an
//! office, a reverse proxy), and the per-email one would let an attacker lock the owner out by failing
//! from many addresses; so neither refuses a person from an address they signed in from before, and the
//! address limit does not refuse a browser they signed in with before. A user agent is no secret,
//! though: an attacker may copy a common one. So a known browser on an unknown address still has a
//! window of its own on that address (30 per browser), and faces the per-email limit at twice the count:
//! every guess stays bounded, while the owner gets through an attack made with other browsers.

use super::users::UserId;
use crate::error::Result;
use rusqlite::{Connection, OptionalExtension, params};

pub const WINDOW_MS: i64 = 15 * 60 * 1000;
pub const PER_EMAIL_AND_ADDRESS: i64 = 5;
pub const PER_ADDRESS: i64 = 30;
pub const PER_EMAIL: i64 = 100;
/// The per-email limit for a browser the person signed in with before, from an address they did not.
pub const PER_EMAIL_KNOWN_BROWSER: i64 = 2 * PER_EMAIL;
/// Addresses remembered per person; the least recently used are forgotten first.
const KNOWN_ADDRESSES_PER_PERSON: i64 = 50;

/// One sign-in attempt, as the throttle sees it: keyed hashes, never the email or address themselves.
pub struct Attempt<'a> {
    /// The email as typed, trimmed: finds the person (emails compare without regard to case).
    pub email: &'a str,
    pub email_key: &'a [u8],
    pub address_key: &'a [u8],
    /// `sessions::browser_fingerprint` of the user agent.
    pub browser: &'a [u8],
    pub now: i64,
}

/// Which limit refused an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    EmailAndAddress,
    Address,
    Email,
}

impl Refusal {
    pub fn name(self) -> &'static str {
        match self {
            Refusal::EmailAndAddress => "email and address",
            Refusal::Address => "address",
            Refusal::Email => "email",
        }
    }
}

/// A reserved attempt, to be turned into a failure or released.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reservation(pub i64);

/// Reserves an attempt, or says which limit refuses it. Also forgets attempts older than the window.
pub fn reserve(
    conn: &Connection,
    attempt: &Attempt<'_>,
) -> Result<std::result::Result<Reservation, Refusal>> {
    let since = attempt.now - WINDOW_MS;
    conn.prepare_cached("DELETE FROM login_attempts WHERE at <= ?1")?
        .execute([since])?;
    let count = |sql: &str, keys: &[&[u8]]| -> Result<i64> {
        let mut stmt = conn.prepare_cached(sql)?;
        let n = match keys {
            [one] => stmt.query_row(params![one, since], |r| r.get(0))?,
            [a, b] => stmt.query_row(params![a, b, since], |r| r.get(0))?,
            _ => 0,
        };
        Ok(n)
    };
    let (known_browser, known_address) = known(conn, attempt)?;
    let pair = count(
        "SELECT count(*) FROM login_attempts WHERE email_key = ?1 AND address_key = ?2 AND at > ?3",
        &[attempt.email_key, attempt.address_key],
    )?;
    if pair >= PER_EMAIL_AND_ADDRESS {
        return Ok(Err(Refusal::EmailAndAddress));
    }
    if !known_address {
        let address = if known_browser {
            count(
                "SELECT count(*) FROM login_attempts WHERE address_key = ?1 AND browser_key = ?2 AND at > ?3",
                &[attempt.address_key, attempt.browser],
            )?
        } else {
            count(
                "SELECT count(*) FROM login_attempts WHERE address_key = ?1 AND at > ?2",
                &[attempt.address_key],
            )?
        };
        if address >= PER_ADDRESS {
            return Ok(Err(Refusal::Address));
        }
    }
    if !known_address {
        let email = count(
            "SELECT count(*) FROM login_attempts WHERE email_key = ?1 AND at > ?2",
            &[attempt.email_key],
        )?;
        let limit = if known_browser {
            PER_EMAIL_KNOWN_BROWSER
        } else {
            PER_EMAIL
        };
        if email >= limit {
            return Ok(Err(Refusal::Email));
        }
    }
    conn.prepare_cached(
        "INSERT INTO login_attempts (email_key, address_key, browser_key, at, failed)
         VALUES (?1, ?2, ?3, ?4, 0)",
    )?
    .execute(params![
        attempt.email_key,
        attempt.address_key,
        attempt.browser,
        attempt.now
    ])?;
    Ok(Ok(Reservation(conn.last_insert_rowid())))
}

/// Whether the person with this email signed in before with this browser, and from this address.
fn known(conn: &Connection, attempt: &Attempt<'_>) -> Result<(bool, bool)> {
    let user: Option<i64> = conn
        .prepare_cached("SELECT id FROM users WHERE email = ?1")?
        .query_row([attempt.email.trim()], |r| r.get(0))
        .optional()?;
    let Some(user) = user else {
        return Ok((false, false));
    };
    let browser = conn
        .prepare_cached("SELECT 1 FROM known_browsers WHERE user_id = ?1 AND fingerprint = ?2")?
        .exists(params![user, attempt.browser])?;
    let address = conn
        .prepare_cached("SELECT 1 FROM known_addresses WHERE user_id = ?1 AND address_key = ?2")?
        .exists(params![user, attempt.address_key])?;
    Ok((browser, address))
}

/// The password was wrong: the reservation becomes a failure that counts for the rest of the window.
pub fn failed(conn: &Connection, reservation: Reservation) -> Result<()> {
    conn.prepare_cached("UPDATE login_attempts SET failed = 1 WHERE id = ?1")?
        .execute([reservation.0])?;
    Ok(())
}

/// The password could not be checked: the reservation is dropped and counts for nothing.
pub fn release(conn: &Connection, reservation: Reservation) -> Result<()> {
    conn.prepare_cached("DELETE FROM login_attempts WHERE id = ?1")?
        .execute([reservation.0])?;
    Ok(())
}

/// The password was right: the reservation is released and the pair's failures forgiven.
pub fn succeeded(
    conn: &Connection,
    reservation: Reservation,
    email_key: &[u8],
    address_key: &[u8],
) -> Result<()> {
    conn.prepare_cached("DELETE FROM login_attempts WHERE id = ?1")?
        .execute([reservation.0])?;
    conn.prepare_cached(
        "DELETE FROM login_attempts WHERE email_key = ?1 AND address_key = ?2 AND failed = 1",
    )?
    .execute(params![email_key, address_key])?;
    Ok(())
}

/// Remembers that `user` signed in from this address, keeping the most recent few per person.
pub fn remember_address(
    conn: &Connection,
    user: UserId,
    address_key: &[u8],
    now: i64,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO known_addresses (user_id, address_key, last_seen_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (user_id, address_key) DO UPDATE SET last_seen_at = excluded.last_seen_at",
    )?
    .execute(params![user.0, address_key, now])?;
    conn.prepare_cached(
        "DELETE FROM known_addresses WHERE user_id = ?1 AND address_key NOT IN (
             SELECT address_key FROM known_addresses WHERE user_id = ?1
             ORDER BY last_seen_at DESC LIMIT ?2)",
    )?
    .execute(params![user.0, KNOWN_ADDRESSES_PER_PERSON])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let conn = crate::store::connect(&path, crate::config::Synchronous::Normal, false).unwrap();
        crate::store::migrations::run(&conn, &path).unwrap();
        conn.execute_batch(
            "INSERT INTO users (id, role, email, name, password_hash, created_at, password_changed_at)
             VALUES (1, 'operator', 'owner@shop.test', 'Owner', 'x', 0, 0);
             INSERT INTO known_browsers (user_id, fingerprint, first_seen_at) VALUES (1, x'b0', 0);",
        )
        .unwrap();
        (dir, conn)
    }

    fn attempt<'a>(email: &'a str, address: &'a [u8], browser: &'a [u8], now: i64) -> Attempt<'a> {
        Attempt {
            email,
            email_key: email.as_bytes(),
            address_key: address,
            browser,
            now,
        }
    }

    fn fail(conn: &Connection, a: &Attempt<'_>) -> std::result::Result<(), Refusal> {
        let reservation = reserve(conn, a).unwrap()?;
        failed(conn, reservation).unwrap();
        Ok(())
    }

    #[test]
    fn in_flight_attempts_count_and_the_window_passes() {
        let (_dir, conn) = store();
        let guess = attempt("owner@shop.test", b"attacker", b"x", 1000);
        for _ in 0..PER_EMAIL_AND_ADDRESS {
            reserve(&conn, &guess).unwrap().unwrap();
        }
        assert_eq!(
            reserve(&conn, &guess).unwrap(),
            Err(Refusal::EmailAndAddress),
            "five in flight are five used"
        );
        let later = attempt("owner@shop.test", b"attacker", b"x", 1000 + WINDOW_MS);
        assert!(reserve(&conn, &later).unwrap().is_ok(), "the window passed");
        assert_eq!(
            conn.query_row("SELECT count(*) FROM login_attempts", [], |r| r
                .get::<_, i64>(0))
                .unwrap(),
            1,
            "old attempts are swept"
        );
    }

    #[test]
    fn success_releases_its_reservation_and_forgives_the_pair() {
        let (_dir, conn) = store();
        let a = attempt("owner@shop.test", b"office", b"x", 1000);
        for _ in 0..PER_EMAIL_AND_ADDRESS - 1 {
            fail(&conn, &a).unwrap();
        }
        let right = reserve(&conn, &a).unwrap().unwrap();
        succeeded(&conn, right, a.email_key, a.address_key).unwrap();
        for _ in 0..PER_EMAIL_AND_ADDRESS {
            fail(&conn, &a).unwrap();
        }
    }

    #[test]
    fn a_known_browser_or_address_passes_the_address_limit_others_do_not() {
        let (_dir, conn) = store();
        for n in 0..PER_ADDRESS {
            fail(
                &conn,
                &attempt(&format!("user{n}@shop.test"), b"nat", b"x", 1000),
            )
            .unwrap();
        }
        assert_eq!(
            reserve(&conn, &attempt("stranger@shop.test", b"nat", b"x", 1000)).unwrap(),
            Err(Refusal::Address)
        );
        assert_eq!(
            reserve(&conn, &attempt("owner@shop.test", b"nat", b"new", 1000)).unwrap(),
            Err(Refusal::Address),
            "the owner, but neither browser nor address known"
        );
        assert!(
            reserve(&conn, &attempt("owner@shop.test", b"nat", b"\xb0", 1000))
                .unwrap()
                .is_ok()
        );
        remember_address(&conn, UserId(1), b"nat", 1000).unwrap();
        assert!(
            reserve(&conn, &attempt("owner@shop.test", b"nat", b"new", 1000))
                .unwrap()
                .is_ok()
        );
    }

    #[test]
    fn a_copied_user_agent_gets_a_bounded_window_of_its_own_on_the_address() {
        let (_dir, conn) = store();
        // Guesses at many accounts from one address, all with the owner's browser string.
        for n in 0..PER_ADDRESS {
            let email = format!("user{n}@shop.test");
            fail(&conn, &attempt(&email, b"nat", b"\xb0", 1000)).unwrap();
        }
        assert_eq!(
            reserve(&conn, &attempt("user99@shop.test", b"nat", b"\xb0", 1000)).unwrap(),
            Err(Refusal::Address),
            "spraying with a known browser string stops at the address limit"
        );
        assert_eq!(
            reserve(&conn, &attempt("owner@shop.test", b"nat", b"\xb0", 1000)).unwrap(),
            Err(Refusal::Address),
            "that browser's window on the address is used up"
        );
    }

    #[test]
    fn guesses_from_many_addresses_stop_at_the_email_limit_but_not_at_known_addresses() {
        let (_dir, conn) = store();
        remember_address(&conn, UserId(1), b"office", 1000).unwrap();
        for n in 0..PER_EMAIL {
            let address = format!("bot{n}");
            fail(
                &conn,
                &attempt("owner@shop.test", address.as_bytes(), b"x", 1000),
            )
            .unwrap();
        }
        assert_eq!(
            reserve(&conn, &attempt("owner@shop.test", b"bot-new", b"x", 1000)).unwrap(),
            Err(Refusal::Email)
        );
        assert!(
            reserve(&conn, &attempt("owner@shop.test", b"office", b"x", 1000))
                .unwrap()
                .is_ok()
        );
        // A known browser from a new address gets through, up to a higher ceiling of its own.
        for n in 0..PER_EMAIL - 1 {
            let address = format!("hotel{n}");
            fail(
                &conn,
                &attempt("owner@shop.test", address.as_bytes(), b"\xb0", 1000),
            )
            .unwrap();
        }
        assert_eq!(
            reserve(
                &conn,
                &attempt("owner@shop.test", b"hotel-new", b"\xb0", 1000)
            )
            .unwrap(),
            Err(Refusal::Email)
        );
        assert!(
            reserve(&conn, &attempt("owner@shop.test", b"office", b"\xb0", 1000))
                .unwrap()
                .is_ok()
        );
    }
}
