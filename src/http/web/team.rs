//! The team of an account: members and their roles, invitations by email, and joining through one.
//! Owners and admins manage it; members only see it. Nobody can remove or demote the owner.

use super::context::Ctx;
use super::page::{Page, render};
use super::{CsrfOnly, Reply};
use crate::error::{Error, Result};
use crate::http::auth::{Admin, CsrfForm, HasCsrf, Member, Owner, session};
use crate::services::billing::{Billing, Limit};
use crate::services::passwords;
use crate::store::activity;
use crate::store::sessions::Stage;
use crate::store::tokens::{self, NewToken, Purpose, Token};
use crate::store::users::{self, NewUser, Role, User, UserId};
use crate::store::{Db, accounts, now_ms};
use askama::Template;
use rocket::form::FromForm;
use rocket::http::Status;
use rocket::response::Redirect;
use rocket::{State, get, post, routes};
use std::sync::Arc;

const INVITE_TTL_MS: i64 = 7 * 24 * 3_600_000;

pub fn routes() -> Vec<rocket::Route> {
    routes![
        show_team,
        invite_member,
        change_role,
        remove_member,
        require_two_step,
        invitation_page,
        accept_invitation
    ]
}

#[derive(Template)]
#[template(path = "team.html")]
struct TeamPage<'a> {
    page: &'a Page,
    members: Vec<User>,
    invites: Vec<Token>,
    me: UserId,
    /// Whether the owner requires two-step sign-in of everyone (shown to the owner, who changes it).
    two_step_required: Option<bool>,
    notice: Option<String>,
    error: Option<&'a str>,
}

async fn team_page(
    page: &Page,
    member: &Member<'_>,
    db: &Db,
    done: Option<&str>,
    error: Option<&str>,
) -> Result<RawPage> {
    let (account, manager) = (member.account, member.manages_account());
    let owner = member.user().role == Role::Owner;
    let (members, invites, required) = db
        .read_async(move |conn| {
            let invites = if manager {
                tokens::open_invites(conn, account, now_ms())?
            } else {
                Vec::new()
            };
            let required = crate::store::two_step::required(conn, account)?;
            Ok((users::list_for_account(conn, account)?, invites, required))
        })
        .await?;
    let notice = page.notice("team", done);
    render(TeamPage {
        page,
        members,
        invites,
        me: member.user().id,
        two_step_required: owner.then_some(required),
        notice,
        error,
    })
}

type RawPage = rocket::response::content::RawHtml<String>;

#[get("/team?<done>")]
async fn show_team(
    page: Page,
    member: Member<'_>,
    db: &State<Db>,
    done: Option<&str>,
) -> Result<Reply> {
    Ok(Reply::Page((
        Status::Ok,
        team_page(&page, &member, db, done, None).await?,
    )))
}

csrf_form!(InviteForm { email, role });

#[derive(FromForm)]
struct RequireForm {
    #[field(default = String::new())]
    csrf: String,
    /// A checkbox: "on" when ticked, absent when not.
    #[field(default = false)]
    require: bool,
}

impl HasCsrf for RequireForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// The owner requires (or no longer requires) two-step sign-in of every person of the account: those
/// without it are sent to set it up at their next page.
#[post("/team/two-step", data = "<form>")]
async fn require_two_step(
    form: CsrfForm<RequireForm>,
    ctx: Ctx<'_>,
    owner: Owner<'_>,
) -> Result<Redirect> {
    let whose = (owner.account, owner.user());
    crate::services::two_step::set_required(ctx.db, whose, form.0.require, &ctx.asker()).await?;
    Ok(Redirect::to("/team?done=two_step"))
}
csrf_form!(RoleForm { role });

#[post("/team/invite", data = "<form>")]
async fn invite_member(
    form: CsrfForm<InviteForm>,
    ctx: Ctx<'_>,
    admin: Admin<'_>,
) -> Result<Reply> {
    let billing = ctx.state::<Arc<Billing>>()?;
    let Ctx {
        page,
        client,
        db,
        config,
        mailer,
        ..
    } = ctx;
    let account = admin.account;
    let plan = billing.standing(db, account).await?.plan.clone();
    let form = form.0;
    let role = Role::parse(&form.role).filter(|r| matches!(r, Role::Admin | Role::Member));
    let checked = users::normalize_email(&form.email).and_then(|email| {
        role.map(|role| (email, role))
            .ok_or_else(|| Error::invalid("role", "choose admin or member"))
    });
    let (email, role) = match checked {
        Ok(valid) => valid,
        Err(e) => {
            let message = page.error_text(&e);
            let html = team_page(&page, &admin, db, None, Some(&message)).await?;
            return Ok(Reply::Page((Status::UnprocessableEntity, html)));
        }
    };
    let token = tokens::generate()?;
    let (stored, invited, inviter) = (token.clone(), email.clone(), admin.user().id);
    let company = db
        .write_async(move |conn| {
            if users::find_by_email(conn, &invited)?.is_some() {
                return Err(Error::Conflict(
                    "an account with this email address already exists".into(),
                ));
            }
            let now = now_ms();
            // Counted in the transaction: two invitations at once cannot both take the last seat.
            Limit::Members.check(&plan, tokens::members_and_invited(conn, account, now)?)?;
            let new = NewToken {
                purpose: Purpose::Invite,
                account_id: Some(account),
                user_id: Some(inviter),
                email: &invited,
                role: role.as_str(),
                now,
                ttl_ms: INVITE_TTL_MS,
            };
            tokens::insert(conn, &stored, &new)?;
            let actor = client.actor(Some(account), Some(inviter));
            activity::record(conn, &actor, "member_invited", &invited, now)?;
            Ok(accounts::find(conn, account)?
                .map(|a| a.company)
                .unwrap_or_default())
        })
        .await;
    let company = match company {
        Ok(company) => company,
        // An address already taken, or the plan's number of people (open invitations included)
        // reached: said in words.
        Err(e @ (Error::Conflict(_) | Error::PlanLimit { .. })) => {
            let message = page.error_text(&e);
            let html = team_page(&page, &admin, db, None, Some(&message)).await?;
            return Ok(Reply::Page((e.status(), html)));
        }
        Err(e) => return Err(e),
    };
    let link = format!("{}/invite/{token}", config.server.public_url);
    crate::services::notify::invitation(
        mailer,
        page.lang,
        &email,
        &company,
        &admin.user().name,
        &link,
    )
    .await;
    Ok(Reply::Redirect(Redirect::to("/team?done=invited")))
}

#[post("/team/<member>/role", data = "<form>")]
async fn change_role(
    member: i64,
    form: CsrfForm<RoleForm>,
    ctx: Ctx<'_>,
    admin: Admin<'_>,
) -> Result<Redirect> {
    let role = Role::parse(&form.0.role)
        .ok_or_else(|| Error::invalid("role", "choose admin or member"))?;
    super::managed_change(&ctx, &admin, "member_role_changed", move |conn, account| {
        users::set_role(conn, account, UserId::from_raw(member), role)?;
        Ok(format!("{}: {role}", email_of(conn, account, member)?))
    })
    .await?;
    Ok(Redirect::to("/team?done=role_changed"))
}

#[post("/team/<member>/remove", data = "<_form>")]
async fn remove_member(
    member: i64,
    _form: CsrfForm<CsrfOnly>,
    ctx: Ctx<'_>,
    admin: Admin<'_>,
) -> Result<Redirect> {
    if UserId::from_raw(member) == admin.user().id {
        return Err(Error::Forbidden);
    }
    super::managed_change(&ctx, &admin, "member_removed", move |conn, account| {
        let email = email_of(conn, account, member)?;
        users::remove_member(conn, account, UserId::from_raw(member))?;
        Ok(email)
    })
    .await?;
    Ok(Redirect::to("/team?done=removed"))
}

/// The email address of a person of the account, for the activity log.
fn email_of(
    conn: &rusqlite::Connection,
    account: crate::store::AccountId,
    id: i64,
) -> Result<String> {
    users::list_for_account(conn, account)?
        .into_iter()
        .find(|u| u.id.get() == id)
        .map(|u| u.email)
        .ok_or(Error::NotFound)
}

#[derive(Template)]
#[template(path = "invitation.html")]
struct InvitationPage<'a> {
    page: &'a Page,
    token: &'a str,
    company: &'a str,
    email: &'a str,
    name: &'a str,
    error: Option<&'a str>,
}

async fn open_invitation(db: &Db, token: &str) -> Result<Option<(Token, String)>> {
    let token = token.to_owned();
    db.read_async(move |conn| {
        let Some(found) = tokens::peek(conn, Purpose::Invite, &token, now_ms())? else {
            return Ok(None);
        };
        let account = found.account_id.ok_or(Error::NotFound)?;
        let company = accounts::find(conn, account)?
            .map(|a| a.company)
            .unwrap_or_default();
        Ok(Some((found, company)))
    })
    .await
}

#[get("/invite/<token>")]
async fn invitation_page(token: &str, page: Page, db: &State<Db>) -> Result<Reply> {
    let Some((invite, company)) = open_invitation(db, token).await? else {
        return super::expired_link(&page);
    };
    let error = page.signed_in().then(|| page.t("team.sign_out_first"));
    let html = render(InvitationPage {
        page: &page,
        token,
        company: &company,
        email: &invite.email,
        name: "",
        error,
    })?;
    Ok(Reply::Page((Status::Ok, html)))
}

#[derive(FromForm)]
struct JoinForm {
    #[field(default = String::new())]
    csrf: String,
    name: String,
    password: String,
    #[field(default = false)]
    accept_privacy: bool,
}

impl HasCsrf for JoinForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

#[post("/invite/<token>", data = "<form>")]
async fn accept_invitation(token: &str, form: CsrfForm<JoinForm>, ctx: Ctx<'_>) -> Result<Reply> {
    let Ctx {
        page,
        client,
        auth,
        db,
        config,
        cookies,
        ..
    } = ctx;
    let Some((invite, company)) = open_invitation(db, token).await? else {
        return super::expired_link(&page);
    };
    let form = form.0;
    let refuse = |message: &str| -> Result<Reply> {
        let html = render(InvitationPage {
            page: &page,
            token,
            company: &company,
            email: &invite.email,
            name: &form.name,
            error: Some(message),
        })?;
        Ok(Reply::Page((Status::UnprocessableEntity, html)))
    };
    let problem = if page.signed_in() {
        Some(page.t("team.sign_out_first").to_owned())
    } else if !form.accept_privacy {
        Some(page.t("register.must_accept").to_owned())
    } else {
        passwords::check_policy(&form.password, &invite.email)
            .err()
            .map(|e| page.error_text(&e))
    };
    if let Some(message) = problem {
        return refuse(&message);
    }
    let hash = auth.hasher.hash(&form.password).await?;
    let (token_value, name, lang, joiner) = (
        token.to_owned(),
        form.name.clone(),
        page.lang,
        client.clone(),
    );
    let joined = db
        .write_async(move |conn| {
            let now = now_ms();
            // Consumed in the same transaction that creates the user: an invitation makes exactly one member.
            let Some(invite) = tokens::consume(conn, Purpose::Invite, &token_value, now)? else {
                return Ok(None);
            };
            let account = invite.account_id.ok_or(Error::NotFound)?;
            let role = Role::parse(&invite.role).unwrap_or(Role::Member);
            let new = NewUser {
                account_id: Some(account),
                role,
                email: &invite.email,
                name: &name,
                password_hash: &hash,
                locale: lang.code(),
            };
            users::admit(
                conn,
                &new,
                &joiner.actor(Some(account), None),
                "member_joined",
            )
            .map(Some)
        })
        .await;
    let user = match joined {
        Ok(Some(user)) => user,
        Ok(None) => return super::expired_link(&page),
        Err(e @ (Error::Invalid { .. } | Error::Conflict(_))) => {
            return refuse(&page.error_text(&e));
        }
        Err(e) => return Err(e),
    };
    session::start(db, config, cookies, (&user, Stage::Full), &client).await?;
    Ok(Reply::Redirect(Redirect::to("/")))
}
