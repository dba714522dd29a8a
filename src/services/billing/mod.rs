//! Plans and subscriptions as requests meet them: what an account's plan allows, whether it may send,
//! its API request rate and its monthly messages. Everything a request checks is in memory (the
//! subscription for a few seconds, the rate and the month's count for good, written in batches), so
//! enforcing a plan adds no database write to a request.

pub mod holds;
pub mod lifecycle;
mod months;
pub mod notices;
mod operator;
mod rate;
pub mod stripe;
mod usage;

pub use months::Month;
pub use operator::{log_change, status_change};
pub use rate::{RateDecision, RateLimits};
pub use usage::{Reached, Reservation, Usage};

use crate::config::{self, Config, Feature, Plan};
use crate::error::{Error, Result};
use crate::store::holds::{self as account_holds, Holds};
use crate::store::states::SubscriptionStatus;
use crate::store::subscriptions::{self, Start, StatusChange, Subscription};
use crate::store::{AccountId, Db, now_ms};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

const DAY_MS: i64 = 86_400_000;

/// How long an account's subscription is trusted without reading it again: a change made here is seen
/// at once, one made by another process (`whatsapi account set-status`) within this.
const SUBSCRIPTION_TRUSTED_FOR: Duration = Duration::from_secs(5);

/// An account's plan and subscription, and its operator's suspension or hold of sending, as the
/// configuration and the store have them now.
#[derive(Debug, Clone)]
pub struct Standing {
    pub plan: Plan,
    pub subscription: Subscription,
    pub holds: Holds,
}

/// Whether an account may send now, and why not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sending {
    Allowed,
    /// Past due and still in the grace period, which ends then.
    InGrace {
        stops_at: i64,
    },
    /// Past due after the grace period, or canceled.
    Stopped,
}

impl Standing {
    /// Whether the account may send at `now`: trialing (the billing job moves an ended trial to past
    /// due; until it runs, the trial's end counts as the start of the grace period), active, or past due
    /// for less than `grace_days`.
    pub fn sending(&self, now: i64, grace_days: u32) -> Sending {
        let grace = i64::from(grace_days) * DAY_MS;
        let s = &self.subscription;
        let past_due_since = match s.status {
            SubscriptionStatus::Active => return Sending::Allowed,
            SubscriptionStatus::Canceled => return Sending::Stopped,
            SubscriptionStatus::Trialing => match s.trial_ends_at {
                Some(end) if end <= now => end,
                _ => return Sending::Allowed,
            },
            SubscriptionStatus::PastDue => s.past_due_since.unwrap_or(s.changed_at),
        };
        let stops_at = past_due_since + grace;
        if now < stops_at {
            Sending::InGrace { stops_at }
        } else {
            Sending::Stopped
        }
    }

    /// Refuses everything to a suspended account (its API keys, at the API's door).
    pub fn check_open(&self) -> Result<()> {
        match self.holds.suspended {
            Some(_) => Err(Error::AccountSuspended),
            None => Ok(()),
        }
    }

    /// Refuses a feature the plan does not include.
    pub fn require(&self, feature: Feature) -> Result<()> {
        if self.plan.has(feature) {
            Ok(())
        } else {
            Err(Error::PlanFeature {
                feature: feature.as_str(),
                plan: self.plan.id.clone(),
            })
        }
    }
}

/// One of the things a plan counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Connections,
    Members,
    WebhookEndpoints,
}

impl Limit {
    pub fn as_str(self) -> &'static str {
        match self {
            Limit::Connections => "connections",
            Limit::Members => "members",
            Limit::WebhookEndpoints => "webhook_endpoints",
        }
    }

    pub fn of(self, plan: &Plan) -> Option<u32> {
        match self {
            Limit::Connections => plan.connections,
            Limit::Members => plan.members,
            Limit::WebhookEndpoints => plan.webhook_endpoints,
        }
    }

    /// Refuses one more when `in_use` already reach the plan's number. Called in the transaction that
    /// adds it, with the count read there, so two requests at once cannot both take the last one.
    pub fn check(self, plan: &Plan, in_use: i64) -> Result<()> {
        match self.of(plan) {
            Some(limit) if in_use >= i64::from(limit) => Err(Error::PlanLimit {
                limit: self.as_str(),
                allowed: limit,
                plan: plan.id.clone(),
            }),
            _ => Ok(()),
        }
    }
}

/// The billing state the server keeps in memory; managed by Rocket and shared with the jobs.
pub struct Billing {
    plans: config::Plans,
    pub settings: config::Billing,
    standings: Mutex<HashMap<AccountId, (Arc<Standing>, Instant)>>,
    pub rates: RateLimits,
    pub usage: Usage,
}

impl Billing {
    pub fn new(config: &Config) -> Arc<Billing> {
        Arc::new(Billing {
            plans: config.plans.clone(),
            settings: config.billing.clone(),
            standings: Mutex::new(HashMap::new()),
            rates: RateLimits::default(),
            usage: Usage::default(),
        })
    }

    pub fn plans(&self) -> &[Plan] {
        &self.plans
    }

    pub fn plan(&self, id: &str) -> Option<&Plan> {
        self.plans.find(id)
    }

    /// The account's plan and subscription, from memory when read in the last seconds.
    pub async fn standing(&self, db: &Db, account: AccountId) -> Result<Arc<Standing>> {
        if let Some((standing, at)) = self.standings.lock().get(&account)
            && at.elapsed() < SUBSCRIPTION_TRUSTED_FOR
        {
            return Ok(standing.clone());
        }
        let (subscription, holds) = db
            .read_async(move |conn| {
                Ok((
                    subscriptions::find(conn, account)?,
                    account_holds::find(conn, account)?,
                ))
            })
            .await?;
        let standing = Arc::new(self.standing_of(subscription, holds)?);
        let mut standings = self.standings.lock();
        if standings.len() > 100_000 {
            standings.retain(|_, (_, at)| at.elapsed() < SUBSCRIPTION_TRUSTED_FOR);
        }
        standings.insert(account, (standing.clone(), Instant::now()));
        Ok(standing)
    }

    fn standing_of(&self, subscription: Subscription, holds: Holds) -> Result<Standing> {
        // The start refuses a configuration without a plan in use; another process may have set one since.
        let plan = self.plan(&subscription.plan).cloned().ok_or_else(|| {
            Error::Internal(anyhow::anyhow!(
                "plan {:?} is not in the configuration",
                subscription.plan
            ))
        })?;
        Ok(Standing {
            plan,
            subscription,
            holds,
        })
    }

    /// Forgets what memory holds of the account's subscription, after a change.
    pub fn forget(&self, account: AccountId) {
        self.standings.lock().remove(&account);
    }

    /// Refuses to send for an account that is suspended, whose sending is held, or whose subscription
    /// stopped sending.
    pub fn check_sending(&self, standing: &Standing, now: i64) -> Result<()> {
        standing.check_open()?;
        if standing.holds.sending_held.is_some() {
            return Err(Error::SendingHeld);
        }
        match standing.sending(now, self.settings.grace_days) {
            Sending::Stopped => Err(Error::SubscriptionInactive {
                status: standing.subscription.status.as_str(),
            }),
            _ => Ok(()),
        }
    }

    /// Moves an account to another plan, recording who did it; `log` writes the operator's activity
    /// line ("plan pro") in the same transaction, when it changed.
    pub async fn set_plan(
        &self,
        db: &Db,
        (account, plan, by): (AccountId, &str, &str),
        log: impl FnOnce(&rusqlite::Connection, &str) -> Result<()> + Send + 'static,
    ) -> Result<bool> {
        if self.plan(plan).is_none() {
            return Err(Error::invalid(
                "plan",
                format!("no plan {plan:?}; the plans are {}", self.plan_ids()),
            ));
        }
        let (plan, by) = (plan.to_owned(), by.to_owned());
        let changed = db
            .write_async(move |conn| {
                let changed = subscriptions::set_plan(conn, account, &plan, &by, now_ms())?;
                if changed {
                    log(conn, &format!("plan {plan}"))?;
                }
                Ok(changed)
            })
            .await?;
        self.forget(account);
        Ok(changed)
    }

    /// Moves an account's subscription to a status, recording who or what did it; `log` as for
    /// `set_plan` ("status active").
    pub async fn set_status(
        &self,
        db: &Db,
        (account, change, by): (AccountId, StatusChange, &str),
        log: impl FnOnce(&rusqlite::Connection, &str) -> Result<()> + Send + 'static,
    ) -> Result<bool> {
        let by = by.to_owned();
        let changed = db
            .write_async(move |conn| {
                let changed = subscriptions::set_status(conn, account, change, &by, now_ms())?;
                if changed {
                    log(conn, &format!("status {}", change.status))?;
                }
                Ok(changed)
            })
            .await?;
        self.forget(account);
        Ok(changed)
    }

    pub fn plan_ids(&self) -> String {
        self.plans.ids()
    }
}

/// How a new account starts under this configuration: the default plan, trialing for `trial_days` when
/// there is a trial.
pub fn start(config: &Config, now: i64) -> Start {
    Start {
        plan: config.billing.default_plan.clone(),
        trial_ends_at: (config.billing.trial_days > 0)
            .then(|| now + i64::from(config.billing.trial_days) * DAY_MS),
    }
}

/// Refuses a configuration that lost a plan accounts are on, naming them (at start, before serving).
pub fn check_plans_in_use(config: &Config, db: &Db) -> anyhow::Result<()> {
    let in_use = db.read(subscriptions::plans_in_use)?;
    let missing: Vec<String> = in_use
        .into_iter()
        .filter(|(plan, _, _)| config.plan(plan).is_none())
        .map(|(plan, count, ids)| {
            let ids: Vec<String> = ids.iter().map(i64::to_string).collect();
            let more = if count > ids.len() as i64 {
                ", ..."
            } else {
                ""
            };
            format!(
                "plan {plan:?} is used by {count} account(s) (ids {}{more})",
                ids.join(", ")
            )
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    anyhow::bail!(
        "{} but is not in the configuration's [[plans]] ({}). Put it back, or move those accounts first with `whatsapi account set-plan --account ID --plan PLAN`.",
        missing.join("; "),
        config.plan_ids()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn standing(
        status: SubscriptionStatus,
        trial_ends_at: Option<i64>,
        since: Option<i64>,
    ) -> Standing {
        Standing {
            plan: Plan::unlimited("p", "P"),
            subscription: Subscription {
                plan: "p".into(),
                status,
                trial_ends_at,
                past_due_since: since,
                customer_ref: None,
                subscription_ref: None,
                renews_at: None,
                changed_at: 0,
            },
            holds: Holds::default(),
        }
    }

    #[test]
    fn a_trial_then_its_grace_period_send_and_then_sending_stops() {
        let day = DAY_MS;
        let trial = standing(SubscriptionStatus::Trialing, Some(10 * day), None);
        assert_eq!(trial.sending(9 * day, 7), Sending::Allowed);
        // The job has not moved it yet: the trial's end starts the grace period.
        assert_eq!(
            trial.sending(11 * day, 7),
            Sending::InGrace { stops_at: 17 * day }
        );
        assert_eq!(trial.sending(17 * day, 7), Sending::Stopped);
        let past_due = standing(SubscriptionStatus::PastDue, None, Some(10 * day));
        assert_eq!(
            past_due.sending(16 * day, 7),
            Sending::InGrace { stops_at: 17 * day }
        );
        assert_eq!(past_due.sending(17 * day, 7), Sending::Stopped);
        assert_eq!(past_due.sending(11 * day, 0), Sending::Stopped);
        let canceled = standing(SubscriptionStatus::Canceled, None, None);
        assert_eq!(canceled.sending(0, 7), Sending::Stopped);
        let active = standing(SubscriptionStatus::Active, Some(0), Some(0));
        assert_eq!(active.sending(100 * day, 7), Sending::Allowed);
    }

    #[test]
    fn a_suspended_or_held_account_sends_nothing_and_a_suspended_one_is_refused_everything() {
        use crate::store::holds::Hold;
        let billing = Billing::new(&Config::default());
        let hold = || {
            Some(Hold {
                at: 0,
                reason: String::new(),
            })
        };
        let mut held = standing(SubscriptionStatus::Active, None, None);
        assert!(billing.check_sending(&held, 0).is_ok() && held.check_open().is_ok());
        held.holds.sending_held = hold();
        let err = billing.check_sending(&held, 0).unwrap_err();
        assert_eq!(err.code().as_str(), "sending_held");
        assert!(held.check_open().is_ok(), "held, the account still works");
        let mut suspended = standing(SubscriptionStatus::Active, None, None);
        suspended.holds.suspended = hold();
        for err in [
            suspended.check_open().unwrap_err(),
            billing.check_sending(&suspended, 0).unwrap_err(),
        ] {
            assert_eq!(err.code().as_str(), "account_suspended");
            assert_eq!(err.status().code, 403);
        }
    }

    #[test]
    fn a_limit_refuses_only_past_the_plans_number() {
        let mut plan = Plan::unlimited("p", "P");
        assert!(Limit::Connections.check(&plan, 1_000_000).is_ok());
        plan.connections = Some(2);
        assert!(Limit::Connections.check(&plan, 1).is_ok());
        let err = Limit::Connections.check(&plan, 2).unwrap_err();
        assert_eq!(err.code().as_str(), "plan_limit");
        assert!(Limit::Members.check(&plan, 99).is_ok());
    }
}
