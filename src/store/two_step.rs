//! A person's second steps: the mobile number and its verification, the authenticator app's secret, recovery
//! codes, the codes sent by SMS, the SMS resend limits, and an account's requirement of two-step sign-in.
//!
//! The number and the secret are sealed with the data key of the person's account (an operator's with the
//! installation's, `keys::INSTALLATION`); codes are kept only as keyed hashes made by the service.

use super::users::{User, UserId};
use super::{AccountId, keys::Keyring};
use crate::crypto::Aad;
use crate::error::Result;
use rusqlite::{Connection, OptionalExtension, params};
use zeroize::Zeroizing;

const HOUR_MS: i64 = 3_600_000;

fn place<'a>(user: &User, table: &'a str, column: &'a str) -> Aad<'a> {
    Aad {
        account: user.account_id.map_or(0, |a| a.get()),
        table,
        column,
        row: user.id.get(),
    }
}

fn seal(keyring: &Keyring, aad: &Aad<'_>, plain: &[u8], user: &User) -> Result<Vec<u8>> {
    Ok(keyring.key_of(user.account_id)?.seal(aad, plain)?)
}

fn open(
    keyring: &Keyring,
    aad: &Aad<'_>,
    sealed: &[u8],
    user: &User,
) -> Result<Zeroizing<Vec<u8>>> {
    Ok(keyring.key_of(user.account_id)?.open(aad, sealed)?)
}

fn text(bytes: Zeroizing<Vec<u8>>) -> String {
    String::from_utf8_lossy(&bytes).into_owned()
}

// ---- the mobile number ----

/// The person's number (E.164) and whether it is verified.
pub fn phone(conn: &Connection, keyring: &Keyring, user: &User) -> Result<Option<(String, bool)>> {
    let row: Option<(Option<Vec<u8>>, Option<i64>)> = conn
        .prepare_cached("SELECT phone, phone_verified_at FROM users WHERE id = ?1")?
        .query_row([user.id.get()], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((Some(sealed), verified)) = row else {
        return Ok(None);
    };
    let number = text(open(
        keyring,
        &place(user, "users", "phone"),
        &sealed,
        user,
    )?);
    Ok(Some((number, verified.is_some())))
}

/// Keeps `e164` as the person's verified number (a code sent to it was entered).
pub fn set_verified_phone(
    conn: &Connection,
    keyring: &Keyring,
    user: &User,
    e164: &str,
    now: i64,
) -> Result<()> {
    let sealed = seal(
        keyring,
        &place(user, "users", "phone"),
        e164.as_bytes(),
        user,
    )?;
    conn.prepare_cached("UPDATE users SET phone = ?2, phone_verified_at = ?3 WHERE id = ?1")?
        .execute(params![user.id.get(), sealed, now])?;
    Ok(())
}

/// Forgets the person's number, and SMS as their second step with it.
pub fn remove_phone(conn: &Connection, user: UserId) -> Result<()> {
    conn.prepare_cached(
        "UPDATE users SET phone = NULL, phone_verified_at = NULL, sms_two_step = 0 WHERE id = ?1",
    )?
    .execute([user.get()])?;
    conn.prepare_cached("DELETE FROM one_time_codes WHERE user_id = ?1")?
        .execute([user.get()])?;
    Ok(())
}

// ---- the authenticator app ----

/// Keeps a new authenticator secret, not yet confirmed; replaces one that was never confirmed. Returns
/// false (and keeps nothing) when the person already has a confirmed one.
pub fn start_authenticator(
    conn: &Connection,
    keyring: &Keyring,
    user: &User,
    secret: &[u8],
) -> Result<bool> {
    let sealed = seal(keyring, &place(user, "users", "totp_secret"), secret, user)?;
    let changed = conn
        .prepare_cached(
            "UPDATE users SET totp_secret = ?2, totp_last_step = 0
             WHERE id = ?1 AND totp_enabled_at IS NULL",
        )?
        .execute(params![user.id.get(), sealed])?;
    Ok(changed == 1)
}

/// The authenticator secret, and whether it is confirmed.
pub fn authenticator(
    conn: &Connection,
    keyring: &Keyring,
    user: &User,
) -> Result<Option<(Zeroizing<Vec<u8>>, bool)>> {
    let row: Option<(Option<Vec<u8>>, Option<i64>)> = conn
        .prepare_cached("SELECT totp_secret, totp_enabled_at FROM users WHERE id = ?1")?
        .query_row([user.id.get()], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((Some(sealed), enabled)) = row else {
        return Ok(None);
    };
    let secret = open(keyring, &place(user, "users", "totp_secret"), &sealed, user)?;
    Ok(Some((secret, enabled.is_some())))
}

/// Takes the 30-second step a right code was for, once: false when a code of this step (or a later one)
/// was already accepted. One statement, so two requests with the same code cannot both pass.
pub fn use_authenticator_step(conn: &Connection, user: UserId, step: i64) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "UPDATE users SET totp_last_step = ?2 WHERE id = ?1 AND totp_last_step < ?2",
        )?
        .execute(params![user.get(), step])?
        == 1)
}

/// Confirms the authenticator secret with the step of its first right code.
pub fn confirm_authenticator(conn: &Connection, user: UserId, step: i64, now: i64) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "UPDATE users SET totp_enabled_at = ?3, totp_last_step = ?2
             WHERE id = ?1 AND totp_enabled_at IS NULL AND totp_secret IS NOT NULL",
        )?
        .execute(params![user.get(), step, now])?
        == 1)
}

/// Turns SMS to the verified number on or off as a second step. False when turning it on without a
/// verified number.
pub fn set_sms(conn: &Connection, user: UserId, on: bool) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "UPDATE users SET sms_two_step = ?2 WHERE id = ?1 AND (?2 = 0 OR phone_verified_at IS NOT NULL)",
        )?
        .execute(params![user.get(), on])?
        == 1)
}

/// Turns two-step sign-in off: the authenticator secret, SMS as a step and the recovery codes go.
pub fn turn_off(conn: &Connection, user: UserId) -> Result<()> {
    conn.prepare_cached(
        "UPDATE users SET totp_secret = NULL, totp_enabled_at = NULL, totp_last_step = 0, sms_two_step = 0
         WHERE id = ?1",
    )?
    .execute([user.get()])?;
    conn.prepare_cached("DELETE FROM recovery_codes WHERE user_id = ?1")?
        .execute([user.get()])?;
    Ok(())
}

// ---- recovery codes ----

/// Replaces the person's recovery codes with these (keyed hashes).
pub fn replace_recovery_codes(conn: &Connection, user: UserId, hashes: &[Vec<u8>]) -> Result<()> {
    conn.prepare_cached("DELETE FROM recovery_codes WHERE user_id = ?1")?
        .execute([user.get()])?;
    let mut insert =
        conn.prepare_cached("INSERT INTO recovery_codes (user_id, code_hash) VALUES (?1, ?2)")?;
    for hash in hashes {
        insert.execute(params![user.get(), hash])?;
    }
    Ok(())
}

/// Uses a recovery code: true once for each code, never again.
pub fn use_recovery_code(conn: &Connection, user: UserId, hash: &[u8], now: i64) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "UPDATE recovery_codes SET used_at = ?3
             WHERE user_id = ?1 AND code_hash = ?2 AND used_at IS NULL",
        )?
        .execute(params![user.get(), hash, now])?
        == 1)
}

/// Recovery codes not used yet.
pub fn recovery_codes_left(conn: &Connection, user: UserId) -> Result<i64> {
    Ok(conn
        .prepare_cached(
            "SELECT count(*) FROM recovery_codes WHERE user_id = ?1 AND used_at IS NULL",
        )?
        .query_row([user.get()], |r| r.get(0))?)
}

// ---- codes sent by SMS ----

/// What a code sent by SMS is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    VerifyPhone,
    SignIn,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::VerifyPhone => "verify_phone",
            Purpose::SignIn => "sign_in",
        }
    }
}

/// Keeps the code just sent to `e164` as the one to enter for `purpose`, replacing an earlier one.
pub fn put_code(
    conn: &Connection,
    keyring: &Keyring,
    user: &User,
    purpose: Purpose,
    e164: &str,
    code_hash: &[u8],
    (now, ttl_ms): (i64, i64),
) -> Result<()> {
    let sealed = seal(
        keyring,
        &place(user, "one_time_codes", purpose.as_str()),
        e164.as_bytes(),
        user,
    )?;
    // Codes nobody entered in time go with the next one anyone asks for: they are few, each sealed and
    // its person's.
    conn.prepare_cached("DELETE FROM one_time_codes WHERE expires_at <= ?1")?
        .execute([now])?;
    conn.prepare_cached(
        "INSERT OR REPLACE INTO one_time_codes (user_id, purpose, phone, code_hash, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![user.id.get(), purpose.as_str(), sealed, code_hash, now, now + ttl_ms])?;
    Ok(())
}

/// What came of entering a code sent by SMS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checked {
    /// Right: the code is used up; the number it was sent to.
    Right(String),
    /// Wrong; this many tries are left on it.
    Wrong { left: i64 },
    /// Its tries are used up, or it expired, or none was sent: a new one is needed.
    NeedNew,
}

/// Checks a code for `purpose` (its keyed hash), counting a wrong try against it.
pub fn check_code(
    conn: &Connection,
    keyring: &Keyring,
    user: &User,
    purpose: Purpose,
    code_hash: &[u8],
    now: i64,
    attempts: i64,
) -> Result<Checked> {
    let row: Option<(Vec<u8>, Vec<u8>, i64, i64)> = conn
        .prepare_cached(
            "SELECT phone, code_hash, expires_at, attempts FROM one_time_codes
             WHERE user_id = ?1 AND purpose = ?2",
        )?
        .query_row(params![user.id.get(), purpose.as_str()], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .optional()?;
    let Some((phone, stored, expires_at, tried)) = row else {
        return Ok(Checked::NeedNew);
    };
    if now >= expires_at || tried >= attempts {
        return Ok(Checked::NeedNew);
    }
    if crate::crypto::constant_time_eq(&stored, code_hash) {
        conn.prepare_cached("DELETE FROM one_time_codes WHERE user_id = ?1 AND purpose = ?2")?
            .execute(params![user.id.get(), purpose.as_str()])?;
        let place = place(user, "one_time_codes", purpose.as_str());
        return Ok(Checked::Right(text(open(keyring, &place, &phone, user)?)));
    }
    conn.prepare_cached(
        "UPDATE one_time_codes SET attempts = attempts + 1 WHERE user_id = ?1 AND purpose = ?2",
    )?
    .execute(params![user.id.get(), purpose.as_str()])?;
    Ok(Checked::Wrong {
        left: attempts - tried - 1,
    })
}

// ---- SMS resend limits ----

/// How many SMS one number, and one account, may be sent.
#[derive(Debug, Clone, Copy)]
pub struct SmsLimits {
    /// At least this long between two SMS to one number.
    pub gap_ms: i64,
    /// At most this many in an hour to one number, and (separately) for one account.
    pub per_hour: i64,
}

/// Records an SMS to be sent to the number (its keyed hash) for `account`, if the limits allow it now;
/// otherwise says how long to wait. Run in the writer, so two requests at once cannot both take the last.
pub fn take_sms(
    conn: &Connection,
    number_hash: &[u8],
    account: Option<AccountId>,
    now: i64,
    limits: SmsLimits,
) -> Result<std::result::Result<(), i64>> {
    let since = now - HOUR_MS;
    conn.prepare_cached("DELETE FROM sms_sends WHERE sent_at <= ?1")?
        .execute([since])?;
    // The sends of the last hour: how many, the first and the last. No more than the limit are ever
    // recorded, so a full hour frees its first place when its first send is an hour old.
    let hour = |sql: &str, key: &dyn rusqlite::ToSql| -> Result<(i64, Option<i64>, Option<i64>)> {
        Ok(conn
            .prepare_cached(sql)?
            .query_row(params![key, since], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?)
    };
    let (count, first, last) = hour(
        "SELECT count(*), min(sent_at), max(sent_at) FROM sms_sends
         WHERE number_hash = ?1 AND sent_at > ?2",
        &number_hash,
    )?;
    if let Some(last) = last
        && now - last < limits.gap_ms
    {
        return Ok(Err(limits.gap_ms - (now - last)));
    }
    let full = |(count, first, _): (i64, Option<i64>, Option<i64>)| {
        (count >= limits.per_hour).then(|| first.map_or(1, |t| (t + HOUR_MS - now).max(1)))
    };
    if let Some(wait) = full((count, first, last)) {
        return Ok(Err(wait));
    }
    if let Some(account) = account {
        let sends = hour(
            "SELECT count(*), min(sent_at), max(sent_at) FROM sms_sends
             WHERE account_id = ?1 AND sent_at > ?2",
            &account.get(),
        )?;
        if let Some(wait) = full(sends) {
            return Ok(Err(wait));
        }
    }
    conn.prepare_cached(
        "INSERT INTO sms_sends (number_hash, account_id, sent_at) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![number_hash, account.map(|a| a.get()), now])?;
    Ok(Ok(()))
}

// ---- tries at the second step ----

/// Tries at a person's second step a window allows.
pub const CODE_TRIES: i64 = 5;
pub const CODE_TRIES_WINDOW_MS: i64 = 15 * 60_000;

/// Takes one try at the person's second step, if the window allows one more: counted before the code is
/// checked, in the writer, so that tries sent at once cannot pass the limit. False: none left now.
pub fn take_code_try(conn: &Connection, user: UserId, now: i64) -> Result<bool> {
    conn.prepare_cached("DELETE FROM second_step_tries WHERE user_id = ?1 AND tried_at <= ?2")?
        .execute(params![user.get(), now - CODE_TRIES_WINDOW_MS])?;
    let tried: i64 = conn
        .prepare_cached("SELECT count(*) FROM second_step_tries WHERE user_id = ?1")?
        .query_row([user.get()], |r| r.get(0))?;
    if tried >= CODE_TRIES {
        return Ok(false);
    }
    conn.prepare_cached("INSERT INTO second_step_tries (user_id, tried_at) VALUES (?1, ?2)")?
        .execute(params![user.get(), now])?;
    Ok(true)
}

/// Tries left in the window after this one (after `take_code_try`).
pub fn code_tries_left(conn: &Connection, user: UserId) -> Result<i64> {
    let tried: i64 = conn
        .prepare_cached("SELECT count(*) FROM second_step_tries WHERE user_id = ?1")?
        .query_row([user.get()], |r| r.get(0))?;
    Ok((CODE_TRIES - tried).max(0))
}

/// A right code: the person's tries start again.
pub fn clear_code_tries(conn: &Connection, user: UserId) -> Result<()> {
    conn.prepare_cached("DELETE FROM second_step_tries WHERE user_id = ?1")?
        .execute([user.get()])?;
    Ok(())
}

// ---- the account's requirement ----

/// What a session needs of its account on every page, in one read: whether the account is suspended, and
/// whether its owner requires two-step sign-in.
pub fn suspended_and_required(conn: &Connection, account: AccountId) -> Result<(bool, bool)> {
    Ok(conn
        .prepare_cached(
            "SELECT status = 'suspended', require_two_step FROM accounts WHERE id = ?1",
        )?
        .query_row([account.get()], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
        .unwrap_or((false, false)))
}

/// Whether the account's owner requires two-step sign-in of every person of the account.
pub fn required(conn: &Connection, account: AccountId) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT require_two_step FROM accounts WHERE id = ?1")?
        .query_row([account.get()], |r| r.get(0))
        .optional()?
        .unwrap_or(false))
}

pub fn set_required(conn: &Connection, account: AccountId, on: bool) -> Result<()> {
    conn.prepare_cached("UPDATE accounts SET require_two_step = ?2 WHERE id = ?1")?
        .execute(params![account.get(), on])?;
    Ok(())
}
