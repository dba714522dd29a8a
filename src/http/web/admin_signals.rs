//! The abuse signals on the operators' page (`/admin`, section `#signals`, `admin_signals.html`): the open
//! ones with their account, kind, severity and evidence in words, each with a Dismiss button; the dismissed
//! ones folded below; and how many each account has open, for the accounts list.

use super::Reply;
use super::context::Ctx;
use super::page::Page;
use crate::error::{Error, Result};
use crate::http::auth::{CsrfForm, Operator};
use crate::services::abuse::words;
use crate::store::abuse_signals::{self, Signal, SignalId};
use crate::store::{AccountId, Db, activity, now_ms};
use rocket::response::Redirect;
use rocket::{post, routes};
use std::collections::HashMap;

/// Signals the page lists at most, of each kind of list.
const SHOWN: usize = 200;

pub fn routes() -> Vec<rocket::Route> {
    routes![dismiss]
}

/// One signal as the page shows it, in the page's language.
pub struct SignalRow {
    pub id: i64,
    pub account: i64,
    pub company: String,
    /// The kind's name (`failure_rate`, ...), and in words.
    pub code: &'static str,
    pub kind: &'static str,
    /// `low`, `medium` or `high`.
    pub severity: &'static str,
    pub severity_words: &'static str,
    pub period: String,
    pub evidence: String,
    pub raised_at: i64,
    pub emailed: bool,
    /// Who dismissed it and when, in words (dismissed ones only).
    pub dismissed: String,
}

impl SignalRow {
    fn of(page: &Page, signal: &Signal) -> SignalRow {
        let lang = page.lang;
        let dismissed = match (signal.dismissed_at, &signal.dismissed_by) {
            (Some(at), Some(who)) => page
                .t("abuse.dismissed_by")
                .replace("{when}", &lang.datetime(at))
                .replace("{who}", who),
            (Some(at), None) => page
                .t("abuse.dismissed_at")
                .replace("{when}", &lang.datetime(at)),
            (None, _) => String::new(),
        };
        SignalRow {
            id: signal.id.get(),
            account: signal.account.get(),
            company: signal.company.clone(),
            code: signal.kind.as_str(),
            kind: words::kind(lang, signal.kind),
            severity: signal.severity.as_str(),
            severity_words: words::severity(lang, signal.severity),
            period: words::period(lang, signal),
            evidence: words::evidence(lang, signal),
            raised_at: signal.raised_at,
            emailed: signal.emailed_at.is_some(),
            dismissed,
        }
    }

    /// The badge's look for the severity.
    pub fn badge(&self) -> &'static str {
        match self.severity {
            "high" => "badge danger",
            "medium" => "badge warning",
            _ => "badge neutral",
        }
    }
}

/// The page's section of signals.
pub struct SignalsSection {
    pub open: Vec<SignalRow>,
    pub dismissed: Vec<SignalRow>,
    /// Open signals per account id.
    counts: HashMap<i64, i64>,
}

impl SignalsSection {
    /// How many signals of this account are open.
    pub fn open_count(&self, account: i64) -> i64 {
        self.counts.get(&account).copied().unwrap_or(0)
    }
}

/// The section for `/admin`, in the page's language.
pub async fn section(page: &Page, db: &Db) -> Result<SignalsSection> {
    let (open, dismissed, counts) = db
        .read_async(|conn| {
            Ok((
                abuse_signals::open(conn, SHOWN)?,
                abuse_signals::dismissed(conn, SHOWN)?,
                abuse_signals::open_counts(conn)?,
            ))
        })
        .await?;
    Ok(SignalsSection {
        open: open.iter().map(|s| SignalRow::of(page, s)).collect(),
        dismissed: dismissed.iter().map(|s| SignalRow::of(page, s)).collect(),
        counts: counts.into_iter().map(|(a, n)| (a.get(), n)).collect(),
    })
}

csrf_form!(DismissForm {});

/// Dismisses an open signal: it leaves the open list, and the abuse job does not raise it again for the
/// same period. Recorded in the activity log as the operator's own line.
#[post("/admin/accounts/<account>/signals/<id>/dismiss", data = "<form>")]
async fn dismiss(
    account: i64,
    id: i64,
    form: CsrfForm<DismissForm>,
    ctx: Ctx<'_>,
    operator: Operator<'_>,
) -> Result<Reply> {
    let _ = form;
    let (client, by) = (ctx.client.clone(), operator.user().id);
    let (account, signal) = (AccountId::from_operator(account), SignalId::from_raw(id));
    ctx.db
        .write_async(move |conn| {
            let found = abuse_signals::find(conn, account, signal)?.ok_or(Error::NotFound)?;
            let now = now_ms();
            if abuse_signals::dismiss(conn, account, signal, by, now)? {
                let detail = format!(
                    "signal {} ({}) of account {}",
                    found.id.get(),
                    found.kind.as_str(),
                    found.account.get()
                );
                activity::record(
                    conn,
                    &client.actor(None, Some(by)),
                    "abuse_signal_dismissed",
                    &detail,
                    now,
                )?;
            }
            Ok(())
        })
        .await?;
    Ok(Reply::Redirect(Redirect::to(
        "/admin?done=signal_dismissed#signals",
    )))
}
