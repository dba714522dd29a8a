//! Role guards: a handler that takes `Member`, `Admin`, `Owner` or `Operator` runs only for a signed-in
//! person with that role, so no handler can forget the check.
//!
//! Without a session the guard fails with 401 (pages send the person to sign in); with the wrong role it
//! fails with 403; the operators' guard fails with 404 either way. The role is read from the person's
//! row on every request, so a demotion counts at once.

use super::session::{AnySession, Session};
use crate::store::AccountId;
use crate::store::users::{Role, User};
use rocket::http::Status;
use rocket::request::{FromRequest, Outcome, Request};
use std::ops::Deref;

/// Proof that the request comes from a person of an account: its owner, an admin or a member (not an
/// operator, who has no account).
#[derive(Debug, Clone, Copy)]
pub struct Member<'r> {
    pub session: &'r Session,
    pub account: AccountId,
}

impl<'r> Member<'r> {
    pub fn user(&self) -> &'r User {
        &self.session.user
    }

    /// Whether this person manages the account's team and settings (owner or admin).
    pub fn manages_account(&self) -> bool {
        self.session.user.role.manages_account()
    }
}

/// Proof that the request comes from a person who manages an account: its owner or an admin.
#[derive(Debug, Clone, Copy)]
pub struct Admin<'r>(Member<'r>);

/// Proof that the request comes from the owner of an account.
#[derive(Debug, Clone, Copy)]
pub struct Owner<'r>(Member<'r>);

/// Proof that the request comes from an operator of the installation.
#[derive(Debug, Clone, Copy)]
pub struct Operator<'r> {
    pub session: &'r Session,
}

impl<'r> Operator<'r> {
    pub fn user(&self) -> &'r User {
        &self.session.user
    }
}

impl<'r> Deref for Admin<'r> {
    type Target = Member<'r>;
    fn deref(&self) -> &Member<'r> {
        &self.0
    }
}

impl<'r> Deref for Owner<'r> {
    type Target = Member<'r>;
    fn deref(&self) -> &Member<'r> {
        &self.0
    }
}

/// The roles that pass each guard.
fn member_of(session: &Session, allowed: fn(Role) -> bool) -> Option<AccountId> {
    session
        .user
        .account_id
        .filter(|_| allowed(session.user.role))
}

/// The signed-in person's session if `allowed` takes their role; 401 without a session, 403 otherwise.
async fn signed_in<'r, T>(
    req: &'r Request<'_>,
    allowed: impl FnOnce(&'r Session) -> Option<T>,
) -> Outcome<T, ()> {
    match req.guard::<&'r Session>().await {
        Outcome::Success(session) => match allowed(session) {
            Some(proof) => Outcome::Success(proof),
            None => Outcome::Error((Status::Forbidden, ())),
        },
        Outcome::Error((status, _)) => Outcome::Error((status, ())),
        Outcome::Forward(status) => Outcome::Forward(status),
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Member<'r> {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        signed_in(req, |session| {
            let account = member_of(session, |_| true)?;
            Some(Member { session, account })
        })
        .await
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Admin<'r> {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        signed_in(req, |session| {
            let account = member_of(session, Role::manages_account)?;
            Some(Admin(Member { session, account }))
        })
        .await
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Owner<'r> {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        signed_in(req, |session| {
            let account = member_of(session, |role| role == Role::Owner)?;
            Some(Owner(Member { session, account }))
        })
        .await
    }
}

/// The operators' pages are not there for anyone else: signed in or not, they answer 404, as a path
/// that does not exist does, so they do not even tell that they exist.
#[rocket::async_trait]
impl<'r> FromRequest<'r> for Operator<'r> {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        match req.guard::<&'r Session>().await {
            Outcome::Success(session) if session.user.role == Role::Operator => {
                Outcome::Success(Operator { session })
            }
            // An operator whose session has a step to take first (the code, or setting two-step sign-in
            // up) is sent to it, as anyone else is; every other visitor finds nothing.
            _ => match req.guard::<AnySession<'r>>().await {
                Outcome::Success(AnySession(session)) if session.user.role == Role::Operator => {
                    Outcome::Error((Status::Unauthorized, ()))
                }
                _ => Outcome::Error((Status::NotFound, ())),
            },
        }
    }
}
