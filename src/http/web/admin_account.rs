//! One account on the operators' page: its plan and subscription, this month's messages, its suspension
//! or hold of sending with the reasons, its numbers with what Meta says of their quality, its people with
//! their last sign-in, its recent activity, and the history of every change with who made it; operators
//! move it to another plan or status here (each change recorded as "admin <their email>"), as `whatsapi
//! account set-plan` / `set-status` do from a shell, and suspend it or hold its sending (`admin_holds`).

use super::Reply;
use super::context::Ctx;
use super::page::{Page, render};
use super::usage::figures::Figures;
use crate::config::Plan;
use crate::error::{Error, Result};
use crate::http::auth::{CsrfForm, Operator};
use crate::services::billing::{self, Billing};
use crate::services::usage::{self, GroupBy};
use crate::store::accounts::{self, Account};
use crate::store::activity::{self, Activity};
use crate::store::connections::{self, ConnectionInfo};
use crate::store::holds::{self, HoldChange, Holds};
use crate::store::states::SubscriptionStatus;
use crate::store::subscriptions::{self, Change, Subscription};
use crate::store::users::{self, User};
use crate::store::{AccountId, Db, console, now_ms};
use askama::Template;
use rocket::http::Status;
use rocket::response::Redirect;
use rocket::{get, post, routes};
use std::sync::Arc;

/// How many changes the page shows, newest first.
const HISTORY: usize = 50;
/// How many lines of the account's activity the page shows, newest first.
const ACTIVITY: usize = 50;

pub fn routes() -> Vec<rocket::Route> {
    routes![show_account, change_plan, change_status]
}

#[derive(Template)]
#[template(path = "admin_account.html")]
struct AccountPage<'a> {
    page: &'a Page,
    account: Account,
    subscription: Subscription,
    plan_name: String,
    plans: &'a [Plan],
    statuses: &'static [&'static str],
    /// This month's messages, and the plan's quota if it has one.
    used: String,
    quota: Option<String>,
    history: Vec<Change>,
    holds: Holds,
    hold_history: Vec<HoldChange>,
    connections: Vec<ConnectionInfo>,
    /// Each person with their last sign-in, as the activity log still has it.
    members: Vec<(User, Option<i64>)>,
    /// The account's latest activity, each line with the name of who did it.
    activity: Vec<(Activity, String)>,
    /// The account's usage charts of the last 30 days.
    usage: Figures,
    notice: Option<String>,
    error: Option<&'a str>,
}

/// What the page reads of the account besides its subscription.
struct Held {
    holds: Holds,
    hold_history: Vec<HoldChange>,
    connections: Vec<ConnectionInfo>,
    members: Vec<(User, Option<i64>)>,
    activity: Vec<(Activity, String)>,
}

fn held(conn: &rusqlite::Connection, account: AccountId) -> crate::error::Result<Held> {
    let people = users::list_for_account(conn, account)?;
    let signed_in = console::last_sign_ins(conn, account)?;
    let name_of = |line: &Activity| {
        line.user_id
            .and_then(|id| people.iter().find(|u| u.id == id))
            .map_or_else(String::new, |u| u.name.clone())
    };
    let activity = activity::list_for_account(conn, account, ACTIVITY)?
        .into_iter()
        .map(|line| {
            let name = name_of(&line);
            (line, name)
        })
        .collect();
    Ok(Held {
        holds: holds::find(conn, account)?,
        hold_history: holds::history(conn, account, HISTORY)?,
        connections: connections::list_for_account(conn, account)?,
        members: people
            .into_iter()
            .map(|u| {
                let at = signed_in.get(&u.id).copied();
                (u, at)
            })
            .collect(),
        activity,
    })
}

impl AccountPage<'_> {
    /// The browser or program of an activity line, in words.
    fn browser(&self, line: &Activity) -> String {
        line.display().agent.words(
            self.page.t("activity.on"),
            self.page.t("activity.unknown_browser"),
        )
    }

    /// A plan's name in the page's language; its id when the configuration no longer has it.
    fn plan_name_of(&self, id: &str) -> String {
        self.plans
            .iter()
            .find(|p| p.id == id)
            .map_or(id, |p| p.name_in(self.page.lang.code()))
            .to_owned()
    }

    /// The trial's end as the date field takes it.
    fn trial_ends_value(&self) -> String {
        self.subscription
            .trial_ends_at
            .and_then(chrono::DateTime::from_timestamp_millis)
            .map(|at| at.format("%Y-%m-%d").to_string())
            .unwrap_or_default()
    }
}

async fn account_page(
    ctx: &Ctx<'_>,
    id: i64,
    notice: Option<String>,
    error: Option<&str>,
) -> Result<Reply> {
    let billing = ctx.state::<Arc<Billing>>()?;
    let (page, db) = (&ctx.page, ctx.db);
    let account = AccountId::from_operator(id);
    let (found, subscription, history, held) = db
        .read_async(move |conn| {
            let found = accounts::find(conn, account)?.ok_or(Error::NotFound)?;
            let subscription = subscriptions::find(conn, account)?;
            Ok((
                found,
                subscription,
                subscriptions::history(conn, account, HISTORY)?,
                held(conn, account)?,
            ))
        })
        .await?;
    let now = now_ms();
    let used = billing.usage.this_month(db, account, now).await?;
    let (from, to) = usage::range(None, None, now)?;
    let by_day = usage::report(db, account, from, to, GroupBy::Day).await?;
    let plan = billing.plan(&subscription.plan);
    let number = |n: u64| page.number(&i64::try_from(n).unwrap_or(i64::MAX));
    let html = render(AccountPage {
        page,
        plan_name: plan.map_or(subscription.plan.clone(), |p| {
            p.name_in(page.lang.code()).to_owned()
        }),
        quota: plan.and_then(|p| p.messages_per_month).map(number),
        used: number(used),
        account: found,
        subscription,
        plans: billing.plans(),
        statuses: SubscriptionStatus::NAMES,
        history,
        holds: held.holds,
        hold_history: held.hold_history,
        connections: held.connections,
        members: held.members,
        activity: held.activity,
        usage: Figures::of(page, &by_day),
        notice,
        error,
    })?;
    let status = if error.is_some() {
        Status::UnprocessableEntity
    } else {
        Status::Ok
    };
    Ok(Reply::Page((status, html)))
}

#[get("/admin/accounts/<id>?<done>")]
async fn show_account(
    id: i64,
    done: Option<&str>,
    ctx: Ctx<'_>,
    _operator: Operator<'_>,
) -> Result<Reply> {
    let notice = ctx.page.notice("admin", done);
    account_page(&ctx, id, notice, None).await
}

csrf_form!(PlanForm { plan });

/// Who the history names for a change made on this page.
pub(super) fn by(operator: &Operator<'_>) -> String {
    format!("admin {}", operator.user().email)
}

/// After a change: the account's page again, saying whether anything changed; or the page with the
/// refusal in words.
pub(super) async fn answer(
    ctx: &Ctx<'_>,
    id: i64,
    changed: Result<bool>,
    done: &str,
) -> Result<Reply> {
    match changed {
        Ok(true) => Ok(Reply::Redirect(Redirect::to(format!(
            "/admin/accounts/{id}?done={done}"
        )))),
        Ok(false) => Ok(Reply::Redirect(Redirect::to(format!(
            "/admin/accounts/{id}?done=unchanged"
        )))),
        Err(e @ Error::Invalid { .. }) => {
            let message = ctx.page.error_text(&e);
            account_page(ctx, id, None, Some(&message)).await
        }
        Err(e) => Err(e),
    }
}

/// Records the change in the activity log too, where operators' other actions are: as the operator's
/// own line (no account), so the operator's address and browser stay out of the account's log and export.
/// Writes the operator's activity line with the change, in its transaction.
fn log(
    ctx: &Ctx<'_>,
    operator: &Operator<'_>,
    account: AccountId,
) -> impl FnOnce(&rusqlite::Connection, &str) -> Result<()> + Send + 'static {
    let (client, user) = (ctx.client.clone(), operator.user().id);
    move |conn, change| billing::log_change(conn, &client.actor(None, Some(user)), account, change)
}

#[post("/admin/accounts/<id>/plan", data = "<form>")]
async fn change_plan(
    id: i64,
    form: CsrfForm<PlanForm>,
    ctx: Ctx<'_>,
    operator: Operator<'_>,
) -> Result<Reply> {
    let billing = ctx.state::<Arc<Billing>>()?;
    let account = existing(ctx.db, id).await?;
    let plan = form.0.plan;
    let log = log(&ctx, &operator, account);
    let changed = billing
        .set_plan(ctx.db, (account, plan.trim(), &by(&operator)), log)
        .await;
    answer(&ctx, id, changed, "plan_changed").await
}

#[derive(rocket::form::FromForm)]
struct StatusForm {
    #[field(default = String::new())]
    csrf: String,
    status: String,
    #[field(default = String::new())]
    trial_ends: String,
}

impl crate::http::auth::HasCsrf for StatusForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

#[post("/admin/accounts/<id>/status", data = "<form>")]
async fn change_status(
    id: i64,
    form: CsrfForm<StatusForm>,
    ctx: Ctx<'_>,
    operator: Operator<'_>,
) -> Result<Reply> {
    let billing_state = ctx.state::<Arc<Billing>>()?;
    let account = existing(ctx.db, id).await?;
    let form = form.0;
    let changed = match billing::status_change(&form.status, Some(&form.trial_ends)) {
        Ok(change) => {
            let log = log(&ctx, &operator, account);
            billing_state
                .set_status(ctx.db, (account, change, &by(&operator)), log)
                .await
        }
        Err(e) => Err(e),
    };
    answer(&ctx, id, changed, "status_changed").await
}

/// The account, or 404 before anything is written for an id that names none.
pub(super) async fn existing(db: &Db, id: i64) -> Result<AccountId> {
    let account = AccountId::from_operator(id);
    db.read_async(move |conn| accounts::find(conn, account))
        .await?
        .map(|_| account)
        .ok_or(Error::NotFound)
}
