//! `GET /api/v1/usage`: the account's usage over a range of UTC days, by day, connection or message type.

use super::ApiAuth;
use super::examples;
use super::query::Query;
use super::schema::errors::ReadErrors;
use crate::error::Result;
use crate::services::usage::{self, GroupBy, UsageReport};
use crate::store::{Db, now_ms};
use rocket::serde::json::Json;
use rocket::{State, get, routes};

pub fn routes() -> Vec<rocket::Route> {
    routes![get_usage]
}

/// Messages, customers' messages, failures, API calls, webhook deliveries and sign-ins, counted per UTC
/// day. Counts are kept for 13 months (the operator may configure another period).
#[utoipa::path(
    get,
    path = "/api/v1/usage",
    tag = "usage",
    params(
        ("from" = Option<String>, Query, description = "The first UTC day, YYYY-MM-DD; default 29 days before `to`."),
        ("to" = Option<String>, Query, description = "The last UTC day, included, YYYY-MM-DD; default today. At most 400 days in all."),
        ("group_by" = Option<GroupBy>, Query, description = "The rows: one per `day` (default), per `connection` or per message `type`."),
    ),
    responses(
        (status = 200, body = UsageReport, example = examples::usage_report),
        ReadErrors,
    ),
)]
#[get("/api/v1/usage")]
async fn get_usage(auth: ApiAuth, query: Query, db: &State<Db>) -> Result<Json<UsageReport>> {
    let query = query.allow(&["from", "to", "group_by"])?;
    let date = |name| {
        query
            .text(name)
            .map(|text| usage::parse_date(name, text))
            .transpose()
    };
    let (from, to) = usage::range(date("from")?, date("to")?, now_ms())?;
    let group_by = query
        .one_of("group_by", GroupBy::NAMES)?
        .and_then(|g| GroupBy::parse(&g))
        .unwrap_or(GroupBy::Day);
    Ok(Json(
        usage::report(db, auth.account, from, to, group_by).await?,
    ))
}
