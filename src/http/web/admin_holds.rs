//! Suspending an account, holding its sending, and lifting either, from the account's page on /admin
//! (as `whatsapi account suspend` / `hold-sending` / `reactivate` / `release-hold` do from a shell).
//! Each change goes through `services::billing::holds`, is in the account's history as made by
//! "admin <their email>" and in the operator's activity log, and counts at once: the account's
//! standing in memory is forgotten.

use super::admin_account::{answer, by, existing};
use super::context::Ctx;
use super::{CsrfOnly, Reply};
use crate::error::Result;
use crate::http::auth::{CsrfForm, Operator};
use crate::services::billing::Billing;
use crate::services::billing::holds::{self, Change};
use crate::store::now_ms;
use rocket::{post, routes};
use std::sync::Arc;

pub fn routes() -> Vec<rocket::Route> {
    routes![suspend, reactivate, hold_sending, release_hold]
}

csrf_form!(ReasonForm { reason });

/// Makes the change as the signed-in operator, then shows the account's page saying what changed.
async fn change(
    ctx: &Ctx<'_>,
    operator: &Operator<'_>,
    id: i64,
    change: Change,
    done: &str,
) -> Result<Reply> {
    let billing = ctx.state::<Arc<Billing>>()?;
    let account = existing(ctx.db, id).await?;
    let (client, user, by) = (ctx.client.clone(), operator.user().id, by(operator));
    let changed = billing
        .change_hold(ctx.db, account, move |conn| {
            let actor = client.actor(None, Some(user));
            holds::apply(conn, account, &change, (&actor, &by), now_ms())
        })
        .await;
    answer(ctx, id, changed, done).await
}

#[post("/admin/accounts/<id>/suspend", data = "<form>")]
async fn suspend(
    id: i64,
    form: CsrfForm<ReasonForm>,
    ctx: Ctx<'_>,
    operator: Operator<'_>,
) -> Result<Reply> {
    let reason = form.0.reason;
    change(&ctx, &operator, id, Change::Suspend { reason }, "suspended").await
}

#[post("/admin/accounts/<id>/reactivate", data = "<_form>")]
async fn reactivate(
    id: i64,
    _form: CsrfForm<CsrfOnly>,
    ctx: Ctx<'_>,
    operator: Operator<'_>,
) -> Result<Reply> {
    change(&ctx, &operator, id, Change::Reactivate, "reactivated").await
}

#[post("/admin/accounts/<id>/hold", data = "<form>")]
async fn hold_sending(
    id: i64,
    form: CsrfForm<ReasonForm>,
    ctx: Ctx<'_>,
    operator: Operator<'_>,
) -> Result<Reply> {
    let reason = form.0.reason;
    change(
        &ctx,
        &operator,
        id,
        Change::HoldSending { reason },
        "sending_held",
    )
    .await
}

#[post("/admin/accounts/<id>/release", data = "<_form>")]
async fn release_hold(
    id: i64,
    _form: CsrfForm<CsrfOnly>,
    ctx: Ctx<'_>,
    operator: Operator<'_>,
) -> Result<Reply> {
    change(&ctx, &operator, id, Change::ReleaseHold, "hold_released").await
}
