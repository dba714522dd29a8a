//! Payment through Stripe (`[billing] provider = "stripe"`): the Billing page's two buttons (a Checkout
//! session for a plan, the customer portal for cards and invoices) and Stripe's webhooks, which move the
//! subscription. Without a provider none of this answers, and operators set the status by hand.
//!
//! A webhook is checked (`domain::stripe`), stored in its own commit, and only then applied, in a
//! second transaction that first marks it processed: a redelivered event (Stripe retries for days, and
//! may send one twice) is applied at most once, and one stored but never applied (a crash between the
//! two commits) is applied when Stripe sends it again.

mod events;

use super::Billing;
use crate::config::Provider;
use crate::domain::stripe::{Event, verify};
use crate::error::{Error, Result};
use crate::outbound::stripe::{CheckoutRequest, Stripe};
use crate::store::states::SubscriptionStatus;
use crate::store::users::Role;
use crate::store::{AccountId, Db, now_ms, payment_events, subscriptions, users};
use std::sync::Arc;

/// What a webhook POST came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// Applied now (or found not to concern us): the outcome recorded with the event.
    Processed { event: String, outcome: String },
    /// Processed before: nothing was applied again.
    Duplicate { event: String },
}

/// The webhook signing secret, when Stripe is this installation's provider.
fn webhook_secret(billing: &Billing) -> Result<&str> {
    if billing.settings.provider != Provider::Stripe {
        return Err(Error::NotFound);
    }
    billing
        .settings
        .stripe_webhook_secret
        .as_ref()
        .map(|s| s.expose())
        .ok_or(Error::NotFound)
}

/// Whether Stripe takes this installation's payments (the webhook and the buttons answer only then).
pub fn enabled(billing: &Billing) -> bool {
    billing.settings.provider == Provider::Stripe
}

/// Takes one webhook POST: the raw body exactly as received and its `Stripe-Signature` header.
pub async fn receive(
    db: &Db,
    billing: &Arc<Billing>,
    signature: Option<&str>,
    body: Vec<u8>,
) -> Result<Received> {
    let secret = webhook_secret(billing)?;
    let now = now_ms();
    verify(secret.as_bytes(), signature, &body, now.div_euclid(1000))
        .map_err(|refusal| Error::invalid("Stripe-Signature", refusal.message()))?;
    let event = Event::parse(&body).map_err(Error::BadRequest)?;
    // Kept before anything is applied or answered: from here on, a failure makes Stripe send it again
    // and the stored row is what is found then.
    let (id, kind, created) = (event.id.clone(), event.kind.clone(), event.created);
    let customer = event.object_ref("customer").map(str::to_owned);
    db.write_async(move |conn| {
        let received = payment_events::Received {
            id: &id,
            kind: &kind,
            customer: customer.as_deref(),
            created,
            body: &body,
        };
        payment_events::record(conn, received, now)
    })
    .await?;
    let event_id = event.id.clone();
    let applying = billing.clone();
    let applied = db
        .write_async(move |conn| events::apply(conn, &applying, &event, now_ms()))
        .await?;
    let Some(applied) = applied else {
        return Ok(Received::Duplicate { event: event_id });
    };
    if let Some(account) = applied.account {
        billing.forget(account);
    }
    Ok(Received::Processed {
        event: event_id,
        outcome: applied.outcome,
    })
}

/// Where Stripe sends the browser back to: the Billing page, with what happened.
fn billing_url(public_url: &str, query: &str) -> String {
    format!("{public_url}/billing{query}")
}

/// Opens Stripe Checkout for a plan: the URL of the session to send the browser to. Refused for a plan
/// without a Stripe price (an operator assigns those) and for an account that already pays through
/// Stripe (a second subscription would charge it twice: plans change in the portal).
pub async fn checkout(
    db: &Db,
    billing: &Billing,
    stripe: &Stripe,
    public_url: &str,
    account: AccountId,
    plan_id: &str,
) -> Result<String> {
    if !enabled(billing) {
        return Err(Error::NotFound);
    }
    let plan = billing.plan(plan_id).ok_or_else(|| {
        Error::invalid(
            "plan",
            format!("no plan {plan_id:?}; the plans are {}", billing.plan_ids()),
        )
    })?;
    let price = plan.stripe_price.clone().ok_or_else(|| {
        Error::invalid(
            "stripe_price",
            format!(
                "the plan {:?} cannot be bought online (it has no stripe_price); an operator assigns it",
                plan.id
            ),
        )
    })?;
    let (subscription, email) = db
        .read_async(move |conn| {
            let owner = users::list_for_account(conn, account)?
                .into_iter()
                .find(|u| u.role == Role::Owner)
                .map(|u| u.email)
                .unwrap_or_default();
            Ok((subscriptions::find(conn, account)?, owner))
        })
        .await?;
    if subscription.subscription_ref.is_some()
        && subscription.status != SubscriptionStatus::Canceled
    {
        return Err(Error::invalid(
            "subscription",
            "this account already pays through Stripe; change or cancel its plan in the billing portal",
        ));
    }
    let (stripe, plan_id) = (stripe.clone(), plan.id.clone());
    let (success, cancel) = (
        billing_url(public_url, "?checkout=success"),
        billing_url(public_url, "?checkout=canceled"),
    );
    let session = crate::blocking::run("Stripe checkout", move || {
        stripe.checkout_session(&CheckoutRequest {
            price: &price,
            plan: &plan_id,
            account: account.get(),
            customer: subscription.customer_ref.as_deref(),
            email: &email,
            success_url: &success,
            cancel_url: &cancel,
        })
    })
    .await?
    .map_err(|e| {
        tracing::warn!(account = account.get(), error = %e, "a Stripe Checkout session could not be created");
        Error::from(e)
    })?;
    Ok(session.url)
}

/// Opens Stripe's customer portal (cards, invoices, cancelling): the URL to send the browser to.
/// Refused until the account has a Stripe customer, which its first Checkout makes.
pub async fn portal(
    db: &Db,
    billing: &Billing,
    stripe: &Stripe,
    public_url: &str,
    account: AccountId,
) -> Result<String> {
    if !enabled(billing) {
        return Err(Error::NotFound);
    }
    let subscription = db
        .read_async(move |conn| subscriptions::find(conn, account))
        .await?;
    let customer = subscription.customer_ref.ok_or_else(|| {
        Error::invalid(
            "customer",
            "buy a plan first: this account has no Stripe customer yet",
        )
    })?;
    let (stripe, back) = (stripe.clone(), billing_url(public_url, ""));
    let session = crate::blocking::run("Stripe portal", move || {
        stripe.portal_session(&customer, &back)
    })
    .await?
    .map_err(|e| {
        tracing::warn!(account = account.get(), error = %e, "a Stripe portal session could not be created");
        Error::from(e)
    })?;
    Ok(session.url)
}

/// Before an account is deleted: ends its Stripe subscription, so that a deleted account is not charged
/// any more (blocking; the deletion waits on it). Refused when Stripe cannot do it now: nothing is
/// deleted then, and the deletion can be tried again.
pub fn cancel_before_deletion(
    db: &Db,
    settings: &crate::config::Billing,
    stripe: &Stripe,
    account: AccountId,
) -> Result<()> {
    if settings.provider != Provider::Stripe {
        return Ok(());
    }
    let subscription = match db.read(move |conn| subscriptions::find(conn, account)) {
        Ok(found) => found.subscription_ref,
        Err(Error::NotFound) => return Ok(()),
        Err(e) => return Err(e),
    };
    let Some(subscription) = subscription else {
        return Ok(());
    };
    stripe.cancel_subscription(&subscription).map_err(|e| {
        tracing::error!(account = account.get(), %subscription, error = %e, "cannot cancel the Stripe subscription of an account being deleted");
        Error::Unavailable(format!(
            "Stripe could not end the account's subscription ({e}), so nothing was deleted: try again in a moment"
        ))
    })?;
    tracing::info!(account = account.get(), %subscription, "the Stripe subscription of an account being deleted was ended");
    Ok(())
}
