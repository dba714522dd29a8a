//! One Stripe event applied to an account, in the transaction that marks the event processed. Each change
//! is recorded in the subscription's history with `by = "stripe <event id>"`.
//!
//! | Event | What it does |
//! | --- | --- |
//! | `checkout.session.completed` | links Stripe's customer and subscription to the account named by `client_reference_id`, when the session is one our Checkout request made (`metadata.account` the same, `metadata.plan` a plan sold here) and the account has no other Stripe customer (nor another live subscription: a second one paid is logged for a refund, not linked); once paid, the plan the session was for and `active` |
//! | `customer.subscription.updated` | the plan of `items.data[0].price`, the status (below), the end of the paid period (`renews_at`) |
//! | `customer.subscription.deleted` | `canceled`, and the subscription unlinked (the account may buy again) |
//! | `invoice.paid` | `active` |
//! | `invoice.payment_failed` | `past_due` (an account already past due keeps its date, so its grace period does not start again) and one `payment_failed` notice per invoice |
//!
//! Stripe's subscription statuses: `trialing`, `active`, `past_due` and `canceled` are ours; `unpaid`
//! (Stripe gave up retrying) and `paused` (a trial ended without a card) are `past_due`, so the account
//! sends for its grace period and then stops, as when our own trial ends unpaid; `incomplete` (the first
//! payment of a new subscription has not succeeded yet) changes nothing, and `incomplete_expired` (it
//! never did) only unlinks that subscription: the account keeps the plan and status it had, and may buy
//! again.
//!
//! Stripe may deliver events late and out of order. An event about a customer that Stripe created before
//! the newest one already applied for that customer carries an older state and is not applied ("stale");
//! an event about another subscription than the account's (an old one) is not applied either.

use crate::config::Plan;
use crate::domain::stripe::{Event, reference};
use crate::error::Result;
use crate::services::billing::Billing;
use crate::store::states::{NoticeKind, SubscriptionStatus};
use crate::store::subscriptions::{self, StatusChange, Subscription};
use crate::store::{AccountId, billing_notices, payment_events};
use rusqlite::Connection;
use serde_json::Value;

/// What applying an event did: the account it moved, if any, and the outcome stored with the event.
#[derive(Debug)]
pub(super) struct Applied {
    pub account: Option<AccountId>,
    pub outcome: String,
}

impl Applied {
    fn ignored(why: impl std::fmt::Display) -> Applied {
        Applied {
            account: None,
            outcome: format!("ignored: {why}"),
        }
    }

    /// The outcome of an applied event starts with `payment_events::APPLIED`: later events are judged
    /// stale against it.
    fn done(account: AccountId, what: &[String]) -> Applied {
        Applied {
            account: Some(account),
            outcome: format!("{}: {}", payment_events::APPLIED, what.join(", ")),
        }
    }
}

/// Applies the event unless it was processed before (`None`).
pub(super) fn apply(
    conn: &Connection,
    billing: &Billing,
    event: &Event,
    now: i64,
) -> Result<Option<Applied>> {
    if !payment_events::claim(conn, &event.id, "processing", now)? {
        return Ok(None);
    }
    let step = Step {
        conn,
        billing,
        event,
        now,
        by: format!("stripe {}", event.id),
    };
    let applied = match event.kind.as_str() {
        "checkout.session.completed" => step.checkout_completed()?,
        "customer.subscription.updated" => step.subscription_updated()?,
        "customer.subscription.deleted" => step.subscription_deleted()?,
        "invoice.paid" => step.invoice(false)?,
        "invoice.payment_failed" => step.invoice(true)?,
        other => Applied::ignored(format!("{other} is not an event this server acts on")),
    };
    payment_events::set_outcome(conn, &event.id, &applied.outcome)?;
    Ok(Some(applied))
}

/// The account an event applies to, or the outcome of not applying it.
type Found = std::result::Result<(AccountId, Subscription), Applied>;

struct Step<'a> {
    conn: &'a Connection,
    billing: &'a Billing,
    event: &'a Event,
    now: i64,
    by: String,
}

impl Step<'_> {
    fn object(&self) -> &Value {
        &self.event.data.object
    }

    /// The account whose Stripe customer the event is about, unless the event is stale.
    fn account(&self) -> Result<Found> {
        let Some(customer) = self.event.object_ref("customer") else {
            return Ok(Err(Applied::ignored("the event names no customer")));
        };
        let Some(account) = subscriptions::account_of_customer(self.conn, customer)? else {
            return Ok(Err(Applied::ignored(format!(
                "no account has the Stripe customer {customer}"
            ))));
        };
        if let Some(stale) = self.stale(customer)? {
            return Ok(Err(stale));
        }
        Ok(Ok((account, subscriptions::find(self.conn, account)?)))
    }

    /// The outcome of a stale event: Stripe created one about this customer later, and it was applied.
    fn stale(&self, customer: &str) -> Result<Option<Applied>> {
        Ok(
            match payment_events::newest_applied(self.conn, customer, &self.event.id)? {
                Some(newest) if newest > self.event.created => Some(Applied {
                    account: None,
                    outcome: format!(
                        "stale: an event Stripe created later ({newest}, this one {}) was applied already",
                        self.event.created
                    ),
                }),
                _ => None,
            },
        )
    }

    /// Refuses an event about another subscription than the one linked to the account.
    fn other_subscription(&self, ours: &Subscription, named: Option<&str>) -> Option<Applied> {
        match (ours.subscription_ref.as_deref(), named) {
            (Some(ours), Some(theirs)) if ours != theirs => Some(Applied::ignored(format!(
                "about the subscription {theirs}, not the account's {ours}"
            ))),
            _ => None,
        }
    }

    fn set_status(&self, account: AccountId, change: StatusChange) -> Result<String> {
        let changed = subscriptions::set_status(self.conn, account, change, &self.by, self.now)?;
        let status = change.status.as_str();
        Ok(if changed {
            status.to_owned()
        } else {
            format!("already {status}")
        })
    }

    /// Moves the account to `plan`; what to say of it.
    fn set_plan(&self, account: AccountId, plan: &Plan) -> Result<String> {
        let changed = subscriptions::set_plan(self.conn, account, &plan.id, &self.by, self.now)?;
        Ok(if changed {
            format!("plan {}", plan.id)
        } else {
            format!("already plan {}", plan.id)
        })
    }

    /// The plan sold at this Stripe price.
    fn plan_of_price(&self, price: &str) -> Option<&Plan> {
        self.billing
            .plans()
            .iter()
            .find(|p| p.stripe_price.as_deref() == Some(price))
    }

    fn checkout_completed(&self) -> Result<Applied> {
        let session = self.object();
        if session["mode"].as_str() != Some("subscription") {
            return Ok(Applied::ignored(
                "a Checkout session that is not for a subscription",
            ));
        }
        let reference_id = session["client_reference_id"].as_str().unwrap_or_default();
        let Ok(number) = reference_id.parse::<i64>() else {
            return Ok(Applied::ignored(format!(
                "client_reference_id {reference_id:?} is not one of our accounts"
            )));
        };
        let Some(account) = subscriptions::account_of_reference(self.conn, number)? else {
            return Ok(Applied::ignored(format!("there is no account {number}")));
        };
        // Anyone may open one of the operator's Payment Links with `?client_reference_id=<any id>`: only
        // a session our own Checkout request made (it writes the account and the plan in the metadata,
        // which a visitor cannot set) names an account.
        let metadata = &session["metadata"];
        if metadata["account"].as_str() != Some(reference_id) {
            return Ok(Applied::ignored(format!(
                "client_reference_id {reference_id:?} without the same metadata.account: not a Checkout session this server created"
            )));
        }
        let Some(sold) = metadata["plan"]
            .as_str()
            .and_then(|id| self.billing.plan(id))
            .filter(|plan| plan.stripe_price.is_some())
        else {
            return Ok(Applied::ignored(format!(
                "metadata.plan {:?} is no plan sold here: not a Checkout session this server created",
                metadata["plan"].as_str().unwrap_or_default()
            )));
        };
        let Some(customer) = self.event.object_ref("customer") else {
            return Ok(Applied::ignored("the session names no customer"));
        };
        if let Some(other) = subscriptions::account_of_customer(self.conn, customer)?
            && other != account
        {
            return Ok(Applied::ignored(format!(
                "the Stripe customer {customer} is account {}'s, not account {number}'s",
                other.get()
            )));
        }
        let ours = subscriptions::find(self.conn, account)?;
        if let Some(theirs) = ours.customer_ref.as_deref()
            && theirs != customer
        {
            return Ok(Applied::ignored(format!(
                "account {number} is the Stripe customer {theirs}, not {customer}"
            )));
        }
        // A late session (delivered again after the subscription it made was deleted, say) must not link
        // the ended subscription again.
        if let Some(stale) = self.stale(customer)? {
            return Ok(stale);
        }
        let subscription = self.event.object_ref("subscription");
        // Two sessions both paid (two tabs, or clicks either side of the Idempotency-Key's slot): the
        // first subscription keeps charging, so the second is not linked over it; one must be refunded.
        if let (Some(live), Some(second)) = (ours.subscription_ref.as_deref(), subscription)
            && live != second
            && ours.status != SubscriptionStatus::Canceled
        {
            tracing::warn!(
                account = number,
                customer,
                live,
                second,
                event = %self.event.id,
                "a second Stripe subscription was paid for an account that has a live one; cancel and refund one of them in Stripe"
            );
            return Ok(Applied::ignored(format!(
                "account {number} already has the live subscription {live}; {second} was not linked: cancel and refund one of them in Stripe"
            )));
        }
        subscriptions::link_provider(self.conn, account, Some(customer), subscription, None)?;
        let mut done = vec![format!("linked {customer}")];
        // An asynchronous payment (a bank debit) completes the session unpaid: `invoice.paid` and the
        // subscription's update follow once the money is there.
        let payment = session["payment_status"].as_str().unwrap_or_default();
        if !matches!(payment, "paid" | "no_payment_required") {
            done.push(format!("waiting for the payment ({payment})"));
            return Ok(Applied::done(account, &done));
        }
        match self.plan_of_session(session, sold) {
            Some(plan) => done.push(self.set_plan(account, plan)?),
            None => done.push("the session names no plan sold here; the plan is unchanged".into()),
        }
        done.push(self.set_status(account, StatusChange::to(SubscriptionStatus::Active))?);
        Ok(Applied::done(account, &done))
    }

    /// The plan a Checkout session was for: its first line's price when the event carries the lines
    /// (expanded), else `sold`, the plan our Checkout request put in its metadata.
    fn plan_of_session<'p>(&'p self, session: &Value, sold: &'p Plan) -> Option<&'p Plan> {
        match reference(&session["line_items"]["data"][0]["price"]) {
            Some(price) => self.plan_of_price(price),
            None => Some(sold),
        }
    }

    fn subscription_updated(&self) -> Result<Applied> {
        let (account, ours) = match self.account()? {
            Ok(found) => found,
            Err(skipped) => return Ok(skipped),
        };
        let object = self.object();
        let id = self.event.object_ref("id");
        if let Some(skipped) = self.other_subscription(&ours, id) {
            return Ok(skipped);
        }
        let status = object["status"].as_str().unwrap_or_default();
        let change = match status {
            "trialing" => {
                let trial_ends_at = object["trial_end"].as_i64().map(|s| s.saturating_mul(1000));
                // A trial that already ended (a late event): Stripe's next event says what followed.
                if trial_ends_at.is_none_or(|end| end <= self.now) {
                    return Ok(Applied::ignored(
                        "a trial without an end ahead: the event that follows its end will say the status",
                    ));
                }
                StatusChange {
                    status: SubscriptionStatus::Trialing,
                    trial_ends_at,
                    past_due_since: None,
                }
            }
            "active" => StatusChange::to(SubscriptionStatus::Active),
            "past_due" | "unpaid" | "paused" => StatusChange::to(SubscriptionStatus::PastDue),
            "canceled" => StatusChange::to(SubscriptionStatus::Canceled),
            "incomplete" => {
                return Ok(Applied::ignored(
                    "the subscription is incomplete: its first payment has not succeeded yet, so nothing changes",
                ));
            }
            "incomplete_expired" => {
                let unlinked = match id {
                    Some(id) => subscriptions::unlink_subscription(self.conn, account, id)?,
                    None => false,
                };
                let what = format!(
                    "the subscription never started (incomplete_expired){}; the plan and status are unchanged",
                    if unlinked { ", unlinked" } else { "" }
                );
                return Ok(Applied::done(account, &[what]));
            }
            other => {
                return Ok(Applied::ignored(format!(
                    "unknown subscription status {other:?}"
                )));
            }
        };
        subscriptions::link_provider(self.conn, account, None, id, period_end(object))?;
        let mut done = Vec::new();
        let item = &object["items"]["data"][0];
        match reference(&item["price"]) {
            Some(price) => match self.plan_of_price(price) {
                Some(plan) => done.push(self.set_plan(account, plan)?),
                None => done.push(format!("price {price} is no plan's; the plan is unchanged")),
            },
            None => done.push("no price; the plan is unchanged".into()),
        }
        done.push(self.set_status(account, change)?);
        Ok(Applied::done(account, &done))
    }

    fn subscription_deleted(&self) -> Result<Applied> {
        let (account, ours) = match self.account()? {
            Ok(found) => found,
            Err(skipped) => return Ok(skipped),
        };
        if let Some(skipped) = self.other_subscription(&ours, self.event.object_ref("id")) {
            return Ok(skipped);
        }
        let mut done =
            vec![self.set_status(account, StatusChange::to(SubscriptionStatus::Canceled))?];
        // Without it, the account may buy again (a live subscription refuses a second Checkout).
        if let Some(id) = self.event.object_ref("id")
            && subscriptions::unlink_subscription(self.conn, account, id)?
        {
            done.push(format!("{id} unlinked"));
        }
        Ok(Applied::done(account, &done))
    }

    fn invoice(&self, failed: bool) -> Result<Applied> {
        let (account, ours) = match self.account()? {
            Ok(found) => found,
            Err(skipped) => return Ok(skipped),
        };
        let invoice = self.object();
        // Where the invoice names its subscription: `subscription` before API version 2025-03-31,
        // `parent.subscription_details.subscription` since.
        let subscription = self
            .event
            .object_ref("subscription")
            .or_else(|| reference(&invoice["parent"]["subscription_details"]["subscription"]));
        if let Some(skipped) = self.other_subscription(&ours, subscription) {
            return Ok(skipped);
        }
        if !failed {
            let done = self.set_status(account, StatusChange::to(SubscriptionStatus::Active))?;
            return Ok(Applied::done(account, &[done]));
        }
        let mut done =
            vec![self.set_status(account, StatusChange::to(SubscriptionStatus::PastDue))?];
        // One notice per invoice: Stripe's retries of the same invoice fail again without another email.
        let period = invoice["id"].as_str().unwrap_or(&self.event.id);
        if billing_notices::queue(
            self.conn,
            account,
            NoticeKind::PaymentFailed,
            period,
            self.now,
        )? {
            done.push(format!("payment_failed notice queued for {period}"));
        }
        Ok(Applied::done(account, &done))
    }
}

/// When the paid period ends, in milliseconds: the subscription's `current_period_end` before API
/// version 2025-03-31, its first item's since.
fn period_end(subscription: &Value) -> Option<i64> {
    subscription["current_period_end"]
        .as_i64()
        .or_else(|| subscription["items"]["data"][0]["current_period_end"].as_i64())
        .map(|s| s.saturating_mul(1000))
}
