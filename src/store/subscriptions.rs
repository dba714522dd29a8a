//! Each account's plan and subscription status, and the history of their changes with who made them.

use super::AccountId;
use super::states::SubscriptionStatus;
use crate::error::{Error, Result};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Subscription {
    pub plan: String,
    pub status: SubscriptionStatus,
    pub trial_ends_at: Option<i64>,
    pub past_due_since: Option<i64>,
    /// The payment provider's customer (Stripe's `cus_...`).
    pub customer_ref: Option<String>,
    pub subscription_ref: Option<String>,
    /// When the paid period ends, as the provider last said.
    pub renews_at: Option<i64>,
    pub changed_at: i64,
}

/// How a new account starts.
#[derive(Debug, Clone)]
pub struct Start {
    pub plan: String,
    /// `Some`: trialing until then; `None`: active.
    pub trial_ends_at: Option<i64>,
}

impl Default for Start {
    /// The built-in plan, active: for accounts made without a configuration (tests, tools).
    fn default() -> Self {
        Start {
            plan: "free".into(),
            trial_ends_at: None,
        }
    }
}

const COLUMNS: &str = "plan, status, trial_ends_at, past_due_since, customer_ref, subscription_ref, renews_at, changed_at";

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Subscription> {
    Ok(Subscription {
        plan: r.get(0)?,
        status: r.get(1)?,
        trial_ends_at: r.get(2)?,
        past_due_since: r.get(3)?,
        customer_ref: r.get(4)?,
        subscription_ref: r.get(5)?,
        renews_at: r.get(6)?,
        changed_at: r.get(7)?,
    })
}

/// Starts a new account's subscription (its row was made with the account, active on its plan): a
/// trial when it has one; recorded as the first line of its history.
pub(super) fn start(conn: &Connection, account: AccountId, start: &Start, now: i64) -> Result<()> {
    if let Some(ends) = start.trial_ends_at {
        conn.execute(
            "UPDATE subscriptions SET status = 'trialing', trial_ends_at = ?2 WHERE account_id = ?1",
            params![account.0, ends],
        )?;
    }
    record(conn, account, now, "account created")
}

pub fn find(conn: &Connection, account: AccountId) -> Result<Subscription> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM subscriptions WHERE account_id = ?1"
    ))?
    .query_row([account.0], from_row)
    .optional()?
    .ok_or(Error::NotFound)
}

/// Writes the history row of the subscription as it now is.
fn record(conn: &Connection, account: AccountId, now: i64, by: &str) -> Result<()> {
    conn.execute(
        "INSERT INTO subscription_changes (account_id, at, plan, status, by)
         SELECT account_id, ?2, plan, status, ?3 FROM subscriptions WHERE account_id = ?1",
        params![account.0, now, by],
    )?;
    Ok(())
}

/// Moves the account to another plan. False when it was on it already (nothing is recorded).
pub fn set_plan(
    conn: &Connection,
    account: AccountId,
    plan: &str,
    by: &str,
    now: i64,
) -> Result<bool> {
    let changed = conn.execute(
        "UPDATE subscriptions SET plan = ?2, changed_at = ?3 WHERE account_id = ?1 AND plan <> ?2",
        params![account.0, plan, now],
    )? > 0;
    if changed {
        record(conn, account, now, by)?;
        // Who made it stays in the subscription's history: an operator's address is not for the account's log.
        let detail = plan.to_owned();
        let nobody = super::activity::Actor::nobody(Some(account));
        super::activity::record(conn, &nobody, "plan_changed", &detail, now)?;
    }
    Ok(changed)
}

/// A status to move to, and the dates that go with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusChange {
    pub status: SubscriptionStatus,
    /// For `trialing`: when the trial ends (kept as it is when `None`).
    pub trial_ends_at: Option<i64>,
    /// For `past_due`: since when (the moment of the change when `None`; an account already past due
    /// keeps its date, so its grace period does not start again).
    pub past_due_since: Option<i64>,
}

impl StatusChange {
    pub fn to(status: SubscriptionStatus) -> StatusChange {
        StatusChange {
            status,
            trial_ends_at: None,
            past_due_since: None,
        }
    }
}

/// Moves the account's subscription to a status. False when nothing changed (nothing is recorded).
pub fn set_status(
    conn: &Connection,
    account: AccountId,
    change: StatusChange,
    by: &str,
    now: i64,
) -> Result<bool> {
    let before = find(conn, account)?;
    let past_due_since = match change.status {
        SubscriptionStatus::PastDue => Some(
            change
                .past_due_since
                .or(before.past_due_since)
                .unwrap_or(now),
        ),
        _ => None,
    };
    let trial_ends_at = change.trial_ends_at.or(before.trial_ends_at);
    // A trial needs an end ahead: one kept from an ended trial would be moved back to past due (and
    // perhaps stopped) by the next billing round, and one without an end would never end.
    if change.status == SubscriptionStatus::Trialing && trial_ends_at.is_none_or(|end| end <= now) {
        return Err(Error::invalid(
            "trial_ends",
            "give the day the trial ends (YYYY-MM-DD, in the future): the account has no trial end ahead",
        ));
    }
    if before.status == change.status
        && before.past_due_since == past_due_since
        && before.trial_ends_at == trial_ends_at
    {
        return Ok(false);
    }
    conn.execute(
        "UPDATE subscriptions SET status = ?2, past_due_since = ?3, trial_ends_at = ?4, changed_at = ?5
         WHERE account_id = ?1",
        params![account.0, change.status, past_due_since, trial_ends_at, now],
    )?;
    record(conn, account, now, by)?;
    let detail = change.status.to_string();
    let nobody = super::activity::Actor::nobody(Some(account));
    super::activity::record(conn, &nobody, "status_changed", &detail, now)?;
    Ok(true)
}

/// Links the account to the payment provider's customer and subscription, and the end of the paid period.
pub fn link_provider(
    conn: &Connection,
    account: AccountId,
    customer_ref: Option<&str>,
    subscription_ref: Option<&str>,
    renews_at: Option<i64>,
) -> Result<()> {
    conn.execute(
        "UPDATE subscriptions SET customer_ref = coalesce(?2, customer_ref),
                subscription_ref = coalesce(?3, subscription_ref), renews_at = coalesce(?4, renews_at)
         WHERE account_id = ?1",
        params![account.0, customer_ref, subscription_ref, renews_at],
    )?;
    Ok(())
}

/// Forgets the provider's subscription linked to the account, if it is this one (it ended, or never
/// started): the account may then buy again. The customer stays linked. True when it was linked.
pub fn unlink_subscription(
    conn: &Connection,
    account: AccountId,
    subscription_ref: &str,
) -> Result<bool> {
    Ok(conn.execute(
        "UPDATE subscriptions SET subscription_ref = NULL WHERE account_id = ?1 AND subscription_ref = ?2",
        params![account.0, subscription_ref],
    )? > 0)
}

/// The account whose payment provider's customer this is (a payment event names only the customer).
pub fn account_of_customer(conn: &Connection, customer_ref: &str) -> Result<Option<AccountId>> {
    Ok(conn
        .query_row(
            "SELECT account_id FROM subscriptions WHERE customer_ref = ?1",
            [customer_ref],
            |r| r.get(0).map(AccountId),
        )
        .optional()?)
}

/// The account with this number, if there is one: a payment event names the account we gave the
/// provider ourselves (Checkout's `client_reference_id`), and the event's signature vouches for it.
pub fn account_of_reference(conn: &Connection, reference: i64) -> Result<Option<AccountId>> {
    Ok(conn
        .query_row(
            "SELECT account_id FROM subscriptions WHERE account_id = ?1",
            [reference],
            |r| r.get(0).map(AccountId),
        )
        .optional()?)
}

/// One row of an account's history.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub at: i64,
    pub plan: String,
    pub status: SubscriptionStatus,
    pub by: String,
}

/// The account's changes, newest first.
pub fn history(conn: &Connection, account: AccountId, limit: usize) -> Result<Vec<Change>> {
    let mut stmt = conn.prepare(
        "SELECT at, plan, status, by FROM subscription_changes WHERE account_id = ?1
         ORDER BY at DESC, id DESC LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![account.0, limit as i64], |r| {
        Ok(Change {
            at: r.get(0)?,
            plan: r.get(1)?,
            status: r.get(2)?,
            by: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Trials that end before `before`, with their end (operator-wide: for the billing job).
pub fn trials_ending_before(conn: &Connection, before: i64) -> Result<Vec<(AccountId, i64)>> {
    let mut stmt = conn.prepare(
        "SELECT account_id, trial_ends_at FROM subscriptions
         WHERE status = 'trialing' AND trial_ends_at < ?1",
    )?;
    let rows = stmt.query_map([before], |r| Ok((AccountId(r.get(0)?), r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Accounts past due since before `before`, with the date (operator-wide: for the billing job).
pub fn past_due_since_before(conn: &Connection, before: i64) -> Result<Vec<(AccountId, i64)>> {
    let mut stmt = conn.prepare(
        "SELECT account_id, past_due_since FROM subscriptions
         WHERE status = 'past_due' AND past_due_since < ?1",
    )?;
    let rows = stmt.query_map([before], |r| Ok((AccountId(r.get(0)?), r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Each plan accounts are on, with how many and up to five of their ids (operator-wide: the start's
/// check that no plan in use left the configuration).
pub fn plans_in_use(conn: &Connection) -> Result<Vec<(String, i64, Vec<i64>)>> {
    let mut stmt = conn.prepare(
        "SELECT plan, count(*), (SELECT group_concat(account_id) FROM
                   (SELECT account_id FROM subscriptions s2 WHERE s2.plan = s.plan ORDER BY account_id LIMIT 5))
         FROM subscriptions s GROUP BY plan ORDER BY plan",
    )?;
    let rows = stmt.query_map([], |r| {
        let ids: String = r.get(2)?;
        Ok((
            r.get(0)?,
            r.get(1)?,
            ids.split(',').filter_map(|id| id.parse().ok()).collect(),
        ))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
