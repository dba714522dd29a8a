//! Changes operators make by hand, on `/admin` and with `whatsapi account set-status`, read the same way
//! by both.

use crate::error::{Error, Result};
use crate::store::activity::{self, Actor};
use crate::store::states::SubscriptionStatus;
use crate::store::subscriptions::StatusChange;
use crate::store::{AccountId, now_ms};
use rusqlite::Connection;

/// Records an operator's change of an account's plan or status ("plan pro", "status active") in the
/// operators' own activity log, in the transaction of the change: their address and browser do not
/// belong in the customer's log and export, whose history says `by` already.
pub fn log_change(
    conn: &Connection,
    operator: &Actor<'_>,
    account: AccountId,
    change: &str,
) -> Result<()> {
    let detail = format!("account {}: {change}", account.get());
    activity::record(
        conn,
        &Actor {
            account: None,
            ..*operator
        },
        "subscription_changed",
        &detail,
        now_ms(),
    )
}

/// The status an operator asked for by name and, only with `trialing`, the day its trial ends
/// ("2027-01-15": the trial ends as that day starts, 00:00 UTC). Without a day a trial keeps the end it
/// has.
pub fn status_change(status: &str, trial_ends: Option<&str>) -> Result<StatusChange> {
    let status: SubscriptionStatus = status.trim().parse().map_err(|_| {
        Error::invalid(
            "status",
            format!(
                "{:?} is not a status; choose one of {}",
                status.trim(),
                SubscriptionStatus::NAMES.join(", ")
            ),
        )
    })?;
    let trial_ends_at = match trial_ends.map(str::trim).filter(|day| !day.is_empty()) {
        None => None,
        Some(_) if status != SubscriptionStatus::Trialing => {
            return Err(Error::invalid(
                "trial_ends",
                "a trial end date goes only with the status trialing",
            ));
        }
        Some(day) => Some(day_start(day)?),
    };
    Ok(StatusChange {
        trial_ends_at,
        ..StatusChange::to(status)
    })
}

/// The first millisecond (UTC) of a day written YYYY-MM-DD.
fn day_start(day: &str) -> Result<i64> {
    chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d")
        .ok()
        .and_then(|date| date.and_hms_opt(0, 0, 0))
        .map(|start| start.and_utc().timestamp_millis())
        .ok_or_else(|| {
            Error::invalid(
                "trial_ends",
                format!("{day:?} is not a date written YYYY-MM-DD"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_and_a_trials_last_day_are_read_and_mistakes_named() {
        let change = status_change("trialing", Some("1970-01-02")).unwrap();
        assert_eq!(change.status, SubscriptionStatus::Trialing);
        assert_eq!(change.trial_ends_at, Some(86_400_000));
        let change = status_change(" past_due ", Some("")).unwrap();
        assert_eq!(change.status, SubscriptionStatus::PastDue);
        assert_eq!(change.trial_ends_at, None);
        let err = status_change("paused", None).unwrap_err().to_string();
        assert!(
            err.contains("trialing, active, past_due, canceled"),
            "{err}"
        );
        let err = status_change("active", Some("2027-01-15")).unwrap_err();
        assert!(err.to_string().contains("only with"), "{err}");
        let err = status_change("trialing", Some("15/01/2027")).unwrap_err();
        assert!(err.to_string().contains("YYYY-MM-DD"), "{err}");
    }
}
