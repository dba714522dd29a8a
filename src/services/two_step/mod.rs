//! Two-step sign-in: enrolment of an authenticator app, SMS as a second step, recovery codes, the code
//! step after the password, turning it off, and an owner's requirement of it. Each change is written to
//! the activity log in its own transaction; the pages email the person about it (`services::notify`).
//! Codes by SMS and phone verification: `texts`.

pub mod texts;

use crate::domain::client::ClientInfo;
use crate::domain::lang::Lang;
use crate::domain::two_step::{Authenticator, RECOVERY_CODES, SECRET_BYTES, Typed, read_code};
use crate::error::Result;
use crate::outbound::mail::Mailer;
use crate::services::notify;
use crate::store::activity::{self, Actor};
use crate::store::two_step::{self as factors, Purpose};
use crate::store::users::{TwoStep, User};
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

/// Who asks for a change of their own second steps: the browser (for the log) and how to email them.
pub struct Asker<'a> {
    pub client: &'a ClientInfo,
    pub mailer: &'a Mailer,
    /// The page's language, for a person who has not chosen one.
    pub lang: Lang,
}

impl Asker<'_> {
    fn from(&self) -> (String, String) {
        (self.client.ip.clone(), self.client.user_agent.clone())
    }

    /// Emails `user` about a change to how they sign in (`mail.<kind>_*`), in their language.
    pub async fn tell(&self, user: &User, kind: &str) {
        let lang = Lang::from_code(&user.locale).unwrap_or(self.lang);
        notify::sign_in_change(self.mailer, lang, &user.email, kind, self.client).await;
    }
}

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

/// Confirms the authenticator being enrolled with a first code; on success two-step sign-in is on, the
/// person is told, and ten recovery codes are returned (to show once). `None`: the code is not right.
pub async fn confirm_authenticator(
    db: &Db,
    issuer: &str,
    user: &User,
    (typed, asker): (&str, &Asker<'_>),
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
    let (owner, (ip, agent)) = (user.clone(), asker.from());
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
    if !confirmed {
        return Ok(None);
    }
    asker.tell(user, "two_step_on_authenticator").await;
    Ok(Some(codes))
}

/// Turns SMS to the verified number on as a second step, and tells the person. Returns the new recovery
/// codes when the person had none (to show once), `Some(vec![])` when they keep theirs, `None` without a
/// verified number.
pub async fn turn_on_sms(db: &Db, user: &User, asker: &Asker<'_>) -> Result<Option<Vec<String>>> {
    let (codes, hashes) = new_recovery_codes(db, user)?;
    let (owner, (ip, agent)) = (user.clone(), asker.from());
    let made = db
        .write_async(move |conn| {
            if !factors::set_sms(conn, owner.id, true)? {
                return Ok(None);
            }
            let made = keep_recovery_codes_unless_kept(conn, &owner, &hashes)?;
            record(conn, &owner, (&ip, &agent), "two_step_enabled", "sms")?;
            Ok(Some(made))
        })
        .await?;
    let Some(made) = made else {
        return Ok(None);
    };
    asker.tell(user, "two_step_on_sms").await;
    Ok(Some(if made { codes } else { Vec::new() }))
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
    /// A recovery code, now used (written to the log, and the person told).
    RecoveryCode,
}

/// What came of a code typed at a second step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checked {
    Proved(Proved),
    /// Not right; this many more tries are left in the window.
    Wrong {
        left: i64,
    },
    /// No tries are left in the window: the code was not even looked at.
    NoTriesLeft,
}

impl Checked {
    pub fn proved(self) -> bool {
        matches!(self, Checked::Proved(_))
    }
}

/// Checks a code typed at a second step (signing in, a password reset, turning two-step sign-in off,
/// renewing the recovery codes): from the authenticator (each 30-second step once), sent by SMS, or a
/// recovery code (each once). Each try is counted first, per person (`store::two_step::CODE_TRIES` in a
/// window), so guesses are bounded however many sessions or requests make them; a right code clears them.
pub async fn check(
    db: &Db,
    issuer: &str,
    user: &User,
    (typed, asker): (&str, &Asker<'_>),
) -> Result<Checked> {
    let (id, now) = (user.id, now_ms());
    if !db
        .write_async(move |conn| factors::take_code_try(conn, id, now))
        .await?
    {
        return Ok(Checked::NoTriesLeft);
    }
    let proved = match read_code(typed) {
        Typed::Digits(code) => digits_prove(db, issuer, user, &code, now).await?,
        Typed::Recovery(code) => {
            let hash = code_hash(db, user, "recovery", &code);
            let (owner, (ip, agent)) = (user.clone(), asker.from());
            let used = db
                .write_async(move |conn| {
                    if !factors::use_recovery_code(conn, owner.id, &hash, now)? {
                        return Ok(false);
                    }
                    let left = factors::recovery_codes_left(conn, owner.id)?;
                    let detail = left.to_string();
                    record(conn, &owner, (&ip, &agent), "recovery_code_used", &detail)?;
                    Ok(true)
                })
                .await?;
            if used {
                asker.tell(user, "recovery_code_used").await;
            }
            used.then_some(Proved::RecoveryCode)
        }
        Typed::Nothing => None,
    };
    match proved {
        Some(proved) => {
            db.write_async(move |conn| factors::clear_code_tries(conn, id))
                .await?;
            Ok(Checked::Proved(proved))
        }
        None => {
            let left = db
                .read_async(move |conn| factors::code_tries_left(conn, id))
                .await?;
            Ok(Checked::Wrong { left })
        }
    }
}

/// Six digits: the authenticator's code of a step not used yet, or the SMS code of signing in.
async fn digits_prove(
    db: &Db,
    issuer: &str,
    user: &User,
    code: &str,
    now: i64,
) -> Result<Option<Proved>> {
    if user.two_step.authenticator {
        let (owner, keyring_db) = (user.clone(), db.clone());
        let stored = db
            .read_async(move |conn| factors::authenticator(conn, keyring_db.keyring(), &owner))
            .await?;
        if let Some((secret, true)) = stored
            && let Some(step) = authenticator(secret, issuer, user)?.check(code, now)
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
        && let Entered::Right(_) = texts::check_code(db, user, Purpose::SignIn, code, now).await?
    {
        return Ok(Some(Proved::Sms));
    }
    Ok(None)
}

/// Replaces the person's recovery codes with ten new ones (the old stop working) after a right code, and
/// tells them. `Err(checked)` when the code did not prove the second step.
pub async fn renew_recovery_codes(
    db: &Db,
    issuer: &str,
    user: &User,
    (typed, asker): (&str, &Asker<'_>),
) -> Result<std::result::Result<Vec<String>, Checked>> {
    let checked = check(db, issuer, user, (typed, asker)).await?;
    if !checked.proved() {
        return Ok(Err(checked));
    }
    let (codes, hashes) = new_recovery_codes(db, user)?;
    let (owner, (ip, agent)) = (user.clone(), asker.from());
    db.write_async(move |conn| {
        factors::replace_recovery_codes(conn, owner.id, &hashes)?;
        record(conn, &owner, (&ip, &agent), "recovery_codes_renewed", "")
    })
    .await?;
    asker.tell(user, "recovery_codes_renewed").await;
    Ok(Ok(codes))
}

/// Turns two-step sign-in off (the caller checked the password and a current code), and tells the person.
pub async fn turn_off(db: &Db, user: &User, asker: &Asker<'_>) -> Result<()> {
    let (owner, (ip, agent)) = (user.clone(), asker.from());
    db.write_async(move |conn| {
        factors::turn_off(conn, owner.id)?;
        record(conn, &owner, (&ip, &agent), "two_step_disabled", "")
    })
    .await?;
    asker.tell(user, "two_step_off").await;
    Ok(())
}

/// Removes the person's number (and SMS as a second step with it), and tells them.
pub async fn remove_phone(db: &Db, user: &User, asker: &Asker<'_>) -> Result<()> {
    let (owner, (ip, agent)) = (user.clone(), asker.from());
    db.write_async(move |conn| {
        factors::remove_phone(conn, owner.id)?;
        record(conn, &owner, (&ip, &agent), "phone_removed", "")
    })
    .await?;
    asker.tell(user, "phone_removed").await;
    Ok(())
}

/// The owner's choice to require two-step sign-in of every person of the account.
pub async fn set_required(
    db: &Db,
    (account, owner): (AccountId, &User),
    on: bool,
    asker: &Asker<'_>,
) -> Result<()> {
    let (owner, (ip, agent)) = (owner.clone(), asker.from());
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

/// What the two-step page shows of a person, read now (a change of this request is in it; the session's
/// copy of the person is from before).
#[derive(Debug, Clone, Default)]
pub struct Status {
    pub two_step: TwoStep,
    /// The number (masked) and whether it is verified.
    pub phone: Option<(String, bool)>,
    pub recovery_codes_left: i64,
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
        let two_step = crate::store::users::find(conn, owner.id)?
            .map(|now| now.two_step)
            .unwrap_or_default();
        Ok(Status {
            two_step,
            phone,
            recovery_codes_left: factors::recovery_codes_left(conn, owner.id)?,
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
