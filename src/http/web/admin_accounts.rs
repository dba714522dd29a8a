//! The operators' list of accounts on `/admin`: each account's plan and subscription, this month's
//! messages (the billing month's count) and how many of those sent failed, its last sign of life, and
//! whether it is suspended or its sending held. A row is one `AccountRow`: a column more is a field and
//! a cell more.

use super::i18n::Lang;
use super::page::Page;
use crate::error::Result;
use crate::services::billing::{Billing, Month};
use crate::store::accounts::{self, AccountSummary};
use crate::store::console::{self, MonthOutcomes};
use crate::store::holds::{self, Holds};
use crate::store::{Db, now_ms};

/// How many accounts the list shows, newest first.
const LISTED: usize = 500;

/// One account in the operators' list.
pub struct AccountRow {
    pub summary: AccountSummary,
    /// The plan's name in the page's language.
    pub plan_name: String,
    /// This month's messages, in the page's digits.
    pub messages: String,
    /// Failed of those sent or failed this month, in words ("25 %"); `None` before any was.
    pub failure_rate: Option<String>,
    /// The latest activity line, API key use or page seen.
    pub last_activity: Option<i64>,
    pub holds: Holds,
}

impl AccountRow {
    pub fn id(&self) -> i64 {
        self.summary.account.id.get()
    }
}

/// The rows of the list, newest account first.
pub async fn rows(page: &Page, db: &Db, billing: &Billing) -> Result<Vec<AccountRow>> {
    let now = now_ms();
    let since = Month::of(now).start_ms();
    let listed = db
        .read_async(move |conn| {
            accounts::list_all(conn, LISTED)?
                .into_iter()
                .map(|summary| {
                    let account = summary.account.id;
                    Ok((
                        summary,
                        console::month_outcomes(conn, account, since)?,
                        console::last_activity(conn, account)?,
                        holds::find(conn, account)?,
                    ))
                })
                .collect::<Result<Vec<_>>>()
        })
        .await?;
    let ids: Vec<_> = listed.iter().map(|(s, ..)| s.account.id).collect();
    let months = billing.usage.this_month_of(db, &ids, now).await?;
    let lang = page.lang;
    Ok(listed
        .into_iter()
        .zip(months)
        .map(|((summary, outcomes, last_activity, holds), messages)| {
            let plan = &summary.account.plan;
            AccountRow {
                plan_name: billing
                    .plan(plan)
                    .map_or(plan.as_str(), |p| p.name_in(lang.code()))
                    .to_owned(),
                messages: lang.number(i64::try_from(messages).unwrap_or(i64::MAX)),
                failure_rate: rate(lang, &outcomes, messages),
                last_activity,
                holds,
                summary,
            }
        })
        .collect())
}

fn rate(lang: Lang, outcomes: &MonthOutcomes, accepted: u64) -> Option<String> {
    outcomes
        .failure_rate(accepted)
        .map(|rate| percent(lang, rate))
}

/// A share (0 to 1) as a percentage in the language's words and digits, with one decimal when it has
/// one: "25 %", "2.5 %", "2.5%".
pub fn percent(lang: Lang, share: f64) -> String {
    let number = tenths(lang, (share * 1000.0).round() as i64);
    lang.t("admin.percent").replace("{n}", &number)
}

/// A number given in tenths, in the language's digits, with its decimal only when it has one: "25",
/// "2.5" (Western digits in both languages).
pub fn tenths(lang: Lang, tenths: i64) -> String {
    let whole = lang.number(tenths / 10);
    match (tenths % 10).abs() {
        0 => whole,
        decimal => {
            format!("{whole}{}{}", lang.decimal_point(), lang.number(decimal))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_share_reads_as_a_percentage_in_each_language() {
        assert_eq!(percent(Lang::En, 0.25), "25 %");
        assert_eq!(percent(Lang::En, 0.025), "2.5 %");
        assert_eq!(percent(Lang::En, 1.0), "100 %");
        assert_eq!(percent(Lang::Ar, 0.025), "2.5%");
    }
}
