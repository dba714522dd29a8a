//! Two-step sign-in: enrolment of an authenticator app, SMS as a second step, recovery codes, the code
//! step after the password, turning it off, and an owner's requirement of it. Each change is written to
//! the activity log in its own transaction; the pages email the person about it (`services::notify`).
//! Codes by SMS and phone verification: `texts`.

pub mod texts;

use crate::domain::two_step::{Authenticator, RECOVERY_CODES, SECRET_BYTES, Typed, read_code};
use crate::error::Result;
use crate::store::activity::{self, Actor};
use crate::store::two_step::{self as factors, Purpose};
use crate::store::users::User;
use crate::store::{AccountId, Db, now_ms};
use hmac::{KeyInit, Mac};
use rusqlite::Connection;
use zeroize::Zeroizing;

pub use texts::{Entered, Sent, Texts};

/// A keyed hash of a code for one person and purpose: a copy of the database does not give the codes, and
/// a hash of one person's code says nothing about another's.
fn code_hash(db: &Db, user: &User, purpose: &str, code: &str) -> Vec<u8> {
    let key = db.keyring().derive(b"two-step codes");
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).expect("any key length works");
    mac.update(&user.id.get().to_be_bytes());
    mac.update(purpose.as_bytes());
    mac.update(b"\0");
    mac.update(code.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// An entry of the person's own change in the account's log (an operator's has no account's log).
fn record(
    conn: &Connection,
    user: &User,
    (ip, user_agent): (&str, &str),
    action: &str,
    detail: &str,
) -> Result<()> {
    let actor = Actor {
        account: user.account_id,
        user: Some(user.id),
        ip,
        user_agent,
    };
    activity::record(conn, &actor, action, detail, now_ms())
}

/// The browser a change came from, for the log.
pub type From<'a> = (&'a str, &'a str);

/// The person's authenticator app, made from the stored secret.
fn authenticator(secret: Zeroizing<Vec<u8>>, issuer: &str, user: &User) -> Result<Authenticator> {
    Authenticator::new(secret.to_vec(), issuer, &user.email)
        .map_err(|e| crate::error::Error::Internal(anyhow::anyhow!("authenticator secret: {e}")))
}

/// Starts enrolling an authenticator app: a new secret, kept sealed until confirmed (one never confirmed
/// is replaced). `None` when the person already has one.
pub async fn start_authenticator(
    db: &Db,
    issuer: &str,
    user: &User,
) -> Result<Option<Authenticator>> {
    let secret = crate::crypto::random_bytes::<SECRET_BYTES>()?.to_vec();
    let (owner, keyring_db, kept) = (user.clone(), db.clone(), secret.clone());
    let started = db
        .write_async(move |conn| {
            factors::start_authenticator(conn, keyring_db.keyring(), &owner, &kept)
        })
        .await?;
    if !started {
        return Ok(None);
    }
    Ok(Some(authenticator(Zeroizing::new(secret), issuer, user)?))
}

/// The authenticator being enrolled (not confirmed yet), to show its QR code again.
pub async fn pending_authenticator(
    db: &Db,
    issuer: &str,
    user: &User,
) -> Result<Option<Authenticator>> {
    let (owner, keyring_db) = (user.clone(), db.clone());
    let stored = db
        .read_async(move |conn| factors::authenticator(conn, keyring_db.keyring(), &owner))
        .await?;
    match stored {
        Some((secret, false)) => Ok(Some(authenticator(secret, issuer, user)?)),
        _ => Ok(None),
    }
}

/// Confirms the authenticator being enrolled with a first code; on success two-step sign-in is on and
/// ten recovery codes are returned (to show once). `None`: the code is not right.
pub async fn confirm_authenticator(
    db: &Db,
    issuer: &str,
    user: &User,
    (typed, from): (&str, From<'_>),
) -> Result<Option<Vec<String>>> {
    let Some(app) = pending_authenticator(db, issuer, user).await? else {
        return Ok(None);
    };
    let Typed::Digits(code) = read_code(typed) else {
        return Ok(None);
    };
    let now = now_ms();
    let Some(step) = app.check(&code, now) else {
        return Ok(None);
    };
    let (codes, hashes) = new_recovery_codes(db, user)?;
    let (owner, ip, agent) = (user.clone(), from.0.to_owned(), from.1.to_owned());
    let confirmed = db
        .write_async(move |conn| {
            if !factors::confirm_authenticator(conn, owner.id, step, now)? {
                return Ok(false);
            }
            keep_recovery_codes_unless_kept(conn, &owner, &hashes)?;
            record(
                conn,
                &owner,
                (&ip, &agent),
                "two_step_enabled",
                "authenticator",
            )?;
            Ok(true)
        })
        .await?;
    Ok(confirmed.then_some(codes))
}

/// Turns SMS to the verified number on as a second step. Returns the new recovery codes when the person
/// had none (to show once), `Some(vec![])` when they keep theirs, `None` without a verified number.
pub async fn turn_on_sms(db: &Db, user: &User, from: From<'_>) -> Result<Option<Vec<String>>> {
    let (codes, hashes) = new_recovery_codes(db, user)?;
    let (owner, ip, agent) = (user.clone(), from.0.to_owned(), from.1.to_owned());
    db.write_async(move |conn| {
        if !factors::set_sms(conn, owner.id, true)? {
            return Ok(None);
        }
        let made = keep_recovery_codes_unless_kept(conn, &owner, &hashes)?;
        record(conn, &owner, (&ip, &agent), "two_step_enabled", "sms")?;
        Ok(Some(if made { codes } else { Vec::new() }))
    })
    .await
}

/// Ten new recovery codes and their keyed hashes.
fn new_recovery_codes(db: &Db, user: &User) -> Result<(Vec<String>, Vec<Vec<u8>>)> {
    let mut codes = Vec::with_capacity(RECOVERY_CODES);
    for _ in 0..RECOVERY_CODES {
        let random = crate::crypto::random_bytes::<8>()?;
        codes.push(crate::domain::two_step::recovery_code(random));
    }
    let hashes = codes
        .iter()
        .map(|code| code_hash(db, user, "recovery", code))
        .collect();
    Ok((codes, hashes))
}

/// Keeps these recovery codes if the person has none left; whether it did.
fn keep_recovery_codes_unless_kept(
    conn: &Connection,
    user: &User,
    hashes: &[Vec<u8>],
) -> Result<bool> {
    if factors::recovery_codes_left(conn, user.id)? > 0 {
        return Ok(false);
    }
    factors::replace_recovery_codes(conn, user.id, hashes)?;
    Ok(true)
}

/// Which second step a code proved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proved {
    Authenticator,
    Sms,
    /// A recovery code, now used.
    RecoveryCode,
}

/// Checks a code typed at a second step: from the authenticator (each 30-s step once), sent by SMS, or a
/// recovery code (each once). `None` when it proves nothing.
pub async fn check(db: &Db, issuer: &str, user: &User, typed: &str) -> Result<Option<Proved>> {
    let now = now_ms();
    match read_code(typed) {
        Typed::Digits(code) => {
            if user.two_step.authenticator {
                let (owner, keyring_db) = (user.clone(), db.clone());
                let stored = db
                    .read_async(move |conn| {
                        factors::authenticator(conn, keyring_db.keyring(), &owner)
                    })
                    .await?;
                if let Some((secret, true)) = stored
                    && let Some(step) = authenticator(secret, issuer, user)?.check(&code, now)
                {
                    let id = user.id;
                    let fresh = db
                        .write_async(move |conn| factors::use_authenticator_step(conn, id, step))
                        .await?;
                    if fresh {
                        return Ok(Some(Proved::Authenticator));
                    }
                }
            }
            if user.two_step.sms
                && let Entered::Right(_) =
                    texts::check_code(db, user, Purpose::SignIn, &code, now).await?
            {
                return Ok(Some(Proved::Sms));
            }
            Ok(None)
        }
        Typed::Recovery(code) => {
            let hash = code_hash(db, user, "recovery", &code);
            let id = user.id;
            let used = db
                .write_async(move |conn| factors::use_recovery_code(conn, id, &hash, now))
                .await?;
            Ok(used.then_some(Proved::RecoveryCode))
        }
        Typed::Nothing => Ok(None),
    }
}

/// Replaces the person's recovery codes with ten new ones (the old stop working), after a right code.
pub async fn renew_recovery_codes(
    db: &Db,
    issuer: &str,
    user: &User,
    (typed, from): (&str, From<'_>),
) -> Result<Option<Vec<String>>> {
    if check(db, issuer, user, typed).await?.is_none() {
        return Ok(None);
    }
    let (codes, hashes) = new_recovery_codes(db, user)?;
    let (owner, ip, agent) = (user.clone(), from.0.to_owned(), from.1.to_owned());
    db.write_async(move |conn| {
        factors::replace_recovery_codes(conn, owner.id, &hashes)?;
        record(conn, &owner, (&ip, &agent), "recovery_codes_renewed", "")
    })
    .await?;
    Ok(Some(codes))
}

/// Writes the use of a recovery code to the log, with how many are left.
pub async fn record_recovery_code_used(db: &Db, user: &User, from: From<'_>) -> Result<i64> {
    let (owner, ip, agent) = (user.clone(), from.0.to_owned(), from.1.to_owned());
    db.write_async(move |conn| {
        let left = factors::recovery_codes_left(conn, owner.id)?;
        record(
            conn,
            &owner,
            (&ip, &agent),
            "recovery_code_used",
            &left.to_string(),
        )?;
        Ok(left)
    })
    .await
}

/// Turns two-step sign-in off (the caller checked the password and a current code).
pub async fn turn_off(db: &Db, user: &User, from: From<'_>) -> Result<()> {
    let (owner, ip, agent) = (user.clone(), from.0.to_owned(), from.1.to_owned());
    db.write_async(move |conn| {
        factors::turn_off(conn, owner.id)?;
        record(conn, &owner, (&ip, &agent), "two_step_disabled", "")
    })
    .await
}

/// Removes the person's number (and SMS as a second step with it).
pub async fn remove_phone(db: &Db, user: &User, from: From<'_>) -> Result<()> {
    let (owner, ip, agent) = (user.clone(), from.0.to_owned(), from.1.to_owned());
    db.write_async(move |conn| {
        factors::remove_phone(conn, owner.id)?;
        record(conn, &owner, (&ip, &agent), "phone_removed", "")
    })
    .await
}

/// The owner's choice to require two-step sign-in of every person of the account.
pub async fn set_required(
    db: &Db,
    (account, owner): (AccountId, &User),
    on: bool,
    from: From<'_>,
) -> Result<()> {
    let (owner, ip, agent) = (owner.clone(), from.0.to_owned(), from.1.to_owned());
    db.write_async(move |conn| {
        factors::set_required(conn, account, on)?;
        let action = if on {
            "two_step_required"
        } else {
            "two_step_not_required"
        };
        record(conn, &owner, (&ip, &agent), action, "")
    })
    .await
}

/// What the two-step page shows of a person.
#[derive(Debug, Clone, Default)]
pub struct Status {
    /// The number (masked) and whether it is verified.
    pub phone: Option<(String, bool)>,
    pub recovery_codes_left: i64,
    /// The account's owner requires two-step sign-in.
    pub required: bool,
}

pub async fn status(db: &Db, user: &User) -> Result<Status> {
    let (owner, keyring_db) = (user.clone(), db.clone());
    db.read_async(move |conn| {
        let phone = factors::phone(conn, keyring_db.keyring(), &owner)?.map(|(e164, verified)| {
            (
                crate::domain::phone::MobileNumber::stored(e164).masked(),
                verified,
            )
        });
        Ok(Status {
            phone,
            recovery_codes_left: factors::recovery_codes_left(conn, owner.id)?,
            required: match owner.account_id {
                Some(account) => factors::required(conn, account)?,
                None => false,
            },
        })
    })
    .await
}

/// The person's verified number, for sending a sign-in code.
pub async fn verified_phone(
    db: &Db,
    user: &User,
) -> Result<Option<crate::domain::phone::MobileNumber>> {
    let (owner, keyring_db) = (user.clone(), db.clone());
    let phone = db
        .read_async(move |conn| factors::phone(conn, keyring_db.keyring(), &owner))
        .await?;
    Ok(match phone {
        Some((e164, true)) => Some(crate::domain::phone::MobileNumber::stored(e164)),
        _ => None,
    })
}

/// Sends a sign-in code by SMS to the person's verified number.
pub async fn send_sign_in_code(
    texts: &Texts,
    db: &Db,
    user: &User,
    lang: crate::domain::lang::Lang,
) -> Result<Sent> {
    let Some(number) = verified_phone(db, user).await? else {
        return Ok(Sent::Failed);
    };
    texts
        .send_code(db, (user, Purpose::SignIn), &number, lang)
        .await
}
