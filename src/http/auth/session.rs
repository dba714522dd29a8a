//! Sign-in sessions: a random 128-bit id in a session-only cookie (no Expires, no Max-Age), validated on
//! the server against idle and absolute limits on every request.

use super::client::ClientInfo;
use crate::config::Config;
use crate::error::Result;
use crate::store::sessions::Stage;
use crate::store::users::User;
use crate::store::{Db, now_ms, sessions, two_step};
use rocket::http::{Cookie, CookieJar, SameSite, Status};
use rocket::request::{FromRequest, Outcome, Request};

/// How often `last_seen_at` is written for an active session: often enough for the idle timeout, rarely
/// enough that browsing is not a stream of writes.
const TOUCH_EVERY_MS: i64 = 60_000;

pub fn cookie_name(config: &Config) -> &'static str {
    // The __Host- prefix makes browsers refuse the cookie unless it is Secure, for "/", and host-only.
    if config.secure_cookies() {
        "__Host-whatsapi_session"
    } else {
        "whatsapi_session"
    }
}

#[derive(Debug, Clone)]
pub struct Session {
    pub id_hash: Vec<u8>,
    pub user: User,
    pub csrf: String,
    /// What the person must do before anything else.
    pub gate: Gate,
}

/// What stands between a session and the pages: nothing, or one step only its own page takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    Open,
    /// Past the password only: a code is next (`/login/code`).
    SecondStep,
    /// Two-step sign-in is required of this person (by the account's owner, or for operators by the
    /// configuration) and they have none yet: enrolment is next (`/profile/two-step`).
    Enrol,
    /// `[accounts] verify_phone`, and the person has no verified number yet (`/profile/phone`).
    VerifyPhone,
}

impl Gate {
    /// The page that takes this step.
    pub fn page(self) -> &'static str {
        match self {
            Gate::Open => "/",
            Gate::SecondStep => "/login/code",
            Gate::Enrol => "/profile/two-step",
            Gate::VerifyPhone => "/profile/phone",
        }
    }
}

/// A session whatever its gate: for the pages of the steps themselves (the code, enrolment, the number)
/// and for signing out. Every other page takes `&Session`, which only an open session passes; a gated one
/// is refused and sent to its step's page (see `gated_to`).
#[derive(Debug, Clone, Copy)]
pub struct AnySession<'r>(pub &'r Session);

/// Set on a request refused because its session has a step to take first: where to send it.
struct GatedTo(Option<&'static str>);

/// The page of the step a refused request's session must take first, if that is why it was refused.
pub fn gated_to(req: &Request<'_>) -> Option<&'static str> {
    req.local_cache(|| GatedTo(None)).0
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for &'r Session {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        with_gate(req, |gate| gate == Gate::Open).await
    }
}

/// A session that may change its own second steps: an open one, or one sent to set two-step sign-in up.
#[derive(Debug, Clone, Copy)]
pub struct SettingUp<'r>(pub &'r Session);

/// A session past the password and any second step it has, whatever else it must do first: it may manage
/// its mobile number (which phone verification and codes by SMS need).
#[derive(Debug, Clone, Copy)]
pub struct PastSecondStep<'r>(pub &'r Session);

/// The session if `allowed` takes its gate; otherwise refused like `&Session`, and sent to its step.
async fn with_gate<'r>(
    req: &'r Request<'_>,
    allowed: fn(Gate) -> bool,
) -> Outcome<&'r Session, ()> {
    match req.local_cache_async(load(req)).await {
        Some(session) if allowed(session.gate) => Outcome::Success(session),
        Some(session) => {
            req.local_cache(|| GatedTo(Some(session.gate.page())));
            Outcome::Error((Status::Unauthorized, ()))
        }
        None => Outcome::Error((Status::Unauthorized, ())),
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for SettingUp<'r> {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        with_gate(req, |gate| matches!(gate, Gate::Open | Gate::Enrol))
            .await
            .map(SettingUp)
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for PastSecondStep<'r> {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        with_gate(req, |gate| gate != Gate::SecondStep)
            .await
            .map(PastSecondStep)
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for AnySession<'r> {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        match req.local_cache_async(load(req)).await {
            Some(session) => Outcome::Success(AnySession(session)),
            None => Outcome::Error((Status::Unauthorized, ())),
        }
    }
}

/// Set on a request whose session was ended because its account is suspended, so the sign-in page it
/// is sent to says so.
struct EndedBySuspension(bool);

/// Whether this request's session was ended because its account is suspended.
pub fn ended_by_suspension(req: &Request<'_>) -> bool {
    req.local_cache(|| EndedBySuspension(false)).0
}

async fn load(req: &Request<'_>) -> Option<Session> {
    let config = req.rocket().state::<Config>()?;
    let db = req.rocket().state::<Db>()?.clone();
    let value = req.cookies().get(cookie_name(config))?.value().to_owned();
    if value.len() != 32 || !value.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let now = now_ms();
    let (idle, absolute) = (config.sessions.idle_ms(), config.sessions.absolute_ms());
    let operators_need_two_step = config.accounts.require_two_step_for_operators;
    let read = db
        .read_async(move |conn| {
            let Some(row) = sessions::find_valid(conn, &value, now, idle, absolute)? else {
                return Ok(None);
            };
            let (suspended, required) = match row.user.account_id {
                Some(account) => two_step::suspended_and_required(conn, account)?,
                None => (false, operators_need_two_step),
            };
            Ok(Some((row, suspended, required)))
        })
        .await;
    // A session that cannot be read counts as none (the page asks to sign in), but never silently.
    let (row, suspended, two_step_required) = match read {
        Ok(found) => found?,
        Err(e) => {
            tracing::error!(error = %e, "cannot read a session; the request is treated as signed out");
            return None;
        }
    };
    if suspended {
        // The person of a suspended account is signed out at their next page, which says why.
        let id_hash = row.id_hash.clone();
        let _ = db.submit(move |conn| sessions::delete(conn, &id_hash));
        req.cookies()
            .remove(Cookie::build(cookie_name(config)).path("/"));
        req.local_cache(|| EndedBySuspension(true));
        return None;
    }
    if now - row.last_seen_at > TOUCH_EVERY_MS {
        let id_hash = row.id_hash.clone();
        let _ = db.submit(move |conn| sessions::touch(conn, &id_hash, now));
    }
    let user = &row.user;
    let gate = if row.stage == Stage::SecondStep {
        Gate::SecondStep
    } else if config.accounts.verify_phone
        && user.account_id.is_some()
        && !user.two_step.phone_verified
    {
        Gate::VerifyPhone
    } else if two_step_required && !user.two_step.on() {
        Gate::Enrol
    } else {
        Gate::Open
    };
    Some(Session {
        id_hash: row.id_hash,
        user: row.user,
        csrf: row.csrf_token,
        gate,
    })
}

/// Starts a session for `user`: a new id every time (a session id is never carried across a sign-in, nor
/// from the password step to the whole session), replacing any session this browser had. Beyond
/// `[sessions] max_per_person`, the person's least recently used sessions end. The address becomes one the
/// person is known to sign in from (see `throttle`).
pub async fn start(
    db: &Db,
    config: &Config,
    cookies: &CookieJar<'_>,
    (user, stage): (&User, Stage),
    client: &ClientInfo,
) -> Result<()> {
    let name = cookie_name(config);
    let previous = cookies.get(name).map(|c| sessions::hash_id(c.value()));
    let id = hex::encode(crate::crypto::random_bytes::<16>()?);
    let csrf = hex::encode(crate::crypto::random_bytes::<16>()?);
    let (user_id, ip, user_agent, id_for_db) = (
        user.id,
        client.ip.clone(),
        client.user_agent.clone(),
        id.clone(),
    );
    let address_key = crate::services::sign_in_throttle::address_key(db, &client.ip);
    let max_sessions = config.sessions.max_per_person;
    db.write_async(move |conn| {
        if let Some(previous) = previous {
            sessions::delete(conn, &previous)?;
        }
        let new = sessions::NewSession {
            id: &id_for_db,
            user: user_id,
            csrf_token: &csrf,
            ip: &ip,
            user_agent: &user_agent,
            now: now_ms(),
            stage,
        };
        sessions::insert(conn, &new)?;
        sessions::end_beyond(conn, user_id, max_sessions)?;
        match stage {
            Stage::Full => {
                crate::store::login_throttle::remember_address(conn, user_id, &address_key, new.now)
            }
            Stage::SecondStep => sessions::end_waiting_beyond(conn, user_id, 5).map(drop),
        }
    })
    .await?;
    cookies.add(session_cookie(name, id, config.secure_cookies()));
    Ok(())
}

fn session_cookie(name: &'static str, value: String, secure: bool) -> Cookie<'static> {
    // No expires and no max_age: the cookie ends with the browser session, as the privacy policy says.
    Cookie::build((name, value))
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .build()
}

/// Ends the current session, on the server and in the browser.
pub async fn end(
    db: &Db,
    config: &Config,
    cookies: &CookieJar<'_>,
    session: &Session,
) -> Result<()> {
    let id_hash = session.id_hash.clone();
    db.write_async(move |conn| sessions::delete(conn, &id_hash))
        .await?;
    cookies.remove(Cookie::build(cookie_name(config)).path("/"));
    Ok(())
}
