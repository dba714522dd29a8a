//! Codes by SMS: made, kept as keyed hashes, sent through the operator's gateway within the resend limits.
//! SMS carries these codes and nothing else: this is the only caller of the gateway besides
//! `whatsapi sms test`.

use super::code_hash;
use crate::config::Config;
use crate::domain::lang::Lang;
use crate::domain::phone::MobileNumber;
use crate::domain::two_step::{CODE_TTL_MS, six_digits};
use crate::error::Result;
use crate::outbound::sms::{SmsGateway, SmsMessage};
use crate::store::two_step::{self as factors, Purpose, SmsLimits};
use crate::store::users::User;
use crate::store::{Db, now_ms};
use hmac::{KeyInit, Mac};

/// One SMS per number every 30 s; five per hour per number and per account.
pub const LIMITS: SmsLimits = SmsLimits {
    gap_ms: 30_000,
    per_hour: 5,
};

/// The operator's SMS gateway, when `[sms]` names one; kept in the server's state.
pub struct Texts {
    gateway: Option<SmsGateway>,
    product: String,
}

/// What came of asking for a code by SMS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    /// The gateway took it.
    Sent,
    /// Not sent: the limits allow the next one in this many milliseconds.
    Wait(i64),
    /// The gateway refused it or could not be reached (logged, without the code).
    Failed,
    /// No `[sms]` is configured.
    NoGateway,
}

impl Texts {
    pub fn new(config: &Config) -> Texts {
        Texts {
            gateway: SmsGateway::new(&config.sms),
            product: config.branding.product_name.clone(),
        }
    }

    /// Makes a code for `purpose`, keeps it for `user` (replacing the one before), and sends it to `number`
    /// in `lang`, if the resend limits allow one now. The limits count the request before the send, so a
    /// gateway that fails is not asked again and again.
    pub async fn send_code(
        &self,
        db: &Db,
        (user, purpose): (&User, Purpose),
        number: &MobileNumber,
        lang: Lang,
    ) -> Result<Sent> {
        let Some(gateway) = self.gateway.clone() else {
            return Ok(Sent::NoGateway);
        };
        let code = new_code()?;
        let hash = code_hash(db, user, purpose_label(purpose), &code);
        let number_hash = number_hash(db, number, (user, purpose));
        let (owner, e164, now) = (user.clone(), number.e164().to_owned(), now_ms());
        let keyring_db = db.clone();
        let taken = db
            .write_async(move |conn| {
                let taken = factors::take_sms(conn, &number_hash, owner.account_id, now, LIMITS)?;
                if taken.is_ok() {
                    factors::put_code(
                        conn,
                        keyring_db.keyring(),
                        &owner,
                        purpose,
                        &e164,
                        &hash,
                        (now, CODE_TTL_MS),
                    )?;
                }
                Ok(taken)
            })
            .await?;
        if let Err(wait) = taken {
            return Ok(Sent::Wait(wait));
        }
        let text = lang
            .t("sms.code_text")
            .replace("{product}", &self.product)
            .replace("{code}", &code);
        let (to, masked, lang_code) = (number.e164().to_owned(), number.masked(), lang.code());
        let sent = crate::blocking::run("SMS", move || {
            gateway.send(&SmsMessage {
                to: &to,
                text: &text,
                code: &code,
                lang: lang_code,
            })
        })
        .await?;
        Ok(match sent {
            Ok(()) => Sent::Sent,
            Err(e) => {
                tracing::warn!(to = %masked, error = %e, "a code could not be sent by SMS");
                Sent::Failed
            }
        })
    }
}

fn purpose_label(purpose: Purpose) -> &'static str {
    match purpose {
        Purpose::VerifyPhone => "verify phone",
        Purpose::SignIn => "sign in",
    }
}

/// Six digits from the operating system's CSPRNG.
fn new_code() -> Result<String> {
    loop {
        let random = u32::from_be_bytes(crate::crypto::random_bytes::<4>()?);
        if let Some(code) = six_digits(random) {
            return Ok(code);
        }
    }
}

/// A keyed hash of a number, for the resend limits: the table of sends names no number. A sign-in code
/// goes to the person's own verified number, so its limits are the person's: nobody else can use them
/// up by typing that number as theirs. A number being verified is anyone's to type, and shares one.
fn number_hash(db: &Db, number: &MobileNumber, (user, purpose): (&User, Purpose)) -> Vec<u8> {
    let key = db.keyring().derive(b"sms number");
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).expect("any key length works");
    mac.update(number.e164().as_bytes());
    if purpose == Purpose::SignIn {
        mac.update(b"\0");
        mac.update(&user.id.get().to_be_bytes());
    }
    mac.finalize().into_bytes().to_vec()
}

/// What a code sent by SMS and entered now comes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entered {
    /// Right, for this number.
    Right(MobileNumber),
    Wrong {
        left: i64,
    },
    /// None to enter: expired, its tries used up, or never sent.
    NeedNew,
}

/// Checks a code sent by SMS for `purpose`.
pub async fn check_code(
    db: &Db,
    user: &User,
    purpose: Purpose,
    code: &str,
    now: i64,
) -> Result<Entered> {
    let hash = code_hash(db, user, purpose_label(purpose), code);
    let (owner, keyring_db) = (user.clone(), db.clone());
    let checked = db
        .write_async(move |conn| {
            factors::check_code(
                conn,
                keyring_db.keyring(),
                &owner,
                purpose,
                &hash,
                now,
                crate::domain::two_step::CODE_ATTEMPTS,
            )
        })
        .await?;
    Ok(match checked {
        factors::Checked::Right(e164) => Entered::Right(MobileNumber::stored(e164)),
        factors::Checked::Wrong { left } => Entered::Wrong { left },
        factors::Checked::NeedNew => Entered::NeedNew,
    })
}

/// Sends a code to verify `number` as the person's number.
pub async fn ask_to_verify(
    texts: &Texts,
    db: &Db,
    user: &User,
    number: &MobileNumber,
    lang: Lang,
) -> Result<Sent> {
    texts
        .send_code(db, (user, Purpose::VerifyPhone), number, lang)
        .await
}

/// Verifies the number a code was sent to; on a right code it becomes the person's number, and they are
/// told.
pub async fn verify(db: &Db, user: &User, code: &str, asker: &super::Asker<'_>) -> Result<Entered> {
    let now = now_ms();
    let entered = check_code(db, user, Purpose::VerifyPhone, code, now).await?;
    if let Entered::Right(number) = &entered {
        let (owner, keyring_db, e164) = (user.clone(), db.clone(), number.e164().to_owned());
        let ((ip, agent), masked) = (asker.from(), number.masked());
        db.write_async(move |conn| {
            factors::set_verified_phone(conn, keyring_db.keyring(), &owner, &e164, now)?;
            super::record(conn, &owner, (&ip, &agent), "phone_verified", &masked)
        })
        .await?;
        asker.tell(user, "phone_verified").await;
    }
    Ok(entered)
}
