//! The account's plan at the API's door: the account must not be suspended, the API must be in the plan (and the inbox or webhooks for
//! their routes), and the plan's requests per minute are counted, all keys together. Every answer to a
//! counted request carries the `RateLimit-Policy` and `RateLimit` headers (IETF httpapi draft), so
//! clients can slow down before they are refused. Every request with a live key is counted in the
//! account's usage (key, route, class of the answer) when it is answered.

use crate::config::Feature;
use crate::error::{Error, Result};
use crate::services::api_keys::ApiAuth;
use crate::services::billing::{Billing, RateDecision};
use crate::store::rollups::Line;
use crate::store::states::UsageEvent;
use crate::store::{Db, now_ms};
use rocket::fairing::{Fairing, Info, Kind};
use rocket::{Request, Response};
use std::sync::Arc;

/// What the rate limit said to this request, for its answer's headers.
#[derive(Default)]
struct Counted(Option<RateDecision>);

/// The key a request was let in with, for its line in the usage.
#[derive(Default)]
struct Caller(Option<ApiAuth>);

/// The part of the product an API path belongs to, besides the API itself.
fn feature_of(path: &str) -> Option<Feature> {
    if path.starts_with("/api/v1/conversations") {
        Some(Feature::Inbox)
    } else if path.starts_with("/api/v1/webhook-endpoints") {
        Some(Feature::Webhooks)
    } else {
        None
    }
}

/// Lets an authenticated request in, or says why the plan refuses it.
pub async fn admit(req: &Request<'_>, db: &Db, auth: ApiAuth) -> Result<()> {
    req.local_cache(|| Caller(Some(auth)));
    let billing = req
        .rocket()
        .state::<Arc<Billing>>()
        .ok_or(Error::StoreClosed)?;
    let standing = billing.standing(db, auth.account).await?;
    standing.check_open()?;
    standing.require(Feature::Api)?;
    if let Some(feature) = feature_of(req.uri().path().as_str()) {
        standing.require(feature)?;
    }
    let Some(per_minute) = standing.plan.api_requests_per_minute else {
        return Ok(());
    };
    let decision = billing.rates.take(auth.account, per_minute);
    req.local_cache(|| Counted(Some(decision)));
    if decision.allowed {
        Ok(())
    } else {
        Err(Error::RateLimited {
            limit: per_minute,
            retry_after: decision.retry_after_secs,
        })
    }
}

/// Adds the rate limit's headers to the answers of counted requests, and counts every request made with
/// a live key in its account's usage.
pub struct RateLimitHeaders;

#[rocket::async_trait]
impl Fairing for RateLimitHeaders {
    fn info(&self) -> Info {
        Info {
            name: "RateLimit headers",
            kind: Kind::Response,
        }
    }

    async fn on_response<'r>(&self, req: &'r Request<'_>, res: &mut Response<'r>) {
        if let Some(decision) = req.local_cache(Counted::default).0 {
            res.set_raw_header("RateLimit-Policy", decision.policy_header());
            res.set_raw_header("RateLimit", decision.header());
        }
        if let (Some(auth), Some(db)) = (
            req.local_cache(Caller::default).0,
            req.rocket().state::<Db>(),
        ) {
            let route = req
                .route()
                .map_or(String::new(), |r| format!("{} {}", req.method(), r.uri));
            db.tally().add(
                Line::new(auth.account, UsageEvent::ApiCall, now_ms()).api_call(
                    auth.key,
                    &route,
                    res.status().code,
                ),
            );
        }
    }
}
