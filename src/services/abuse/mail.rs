//! Tells every operator about new signals: one email per operator and batch, in the operator's language,
//! listing each signal with its evidence. A batch is marked emailed only after every operator's email
//! left (or was filed), so a mail server that is down leaves it for the next run, and one marked is never
//! sent again, across restarts too. A stop between sending and marking sends that batch again at the
//! next run, which is the better side to err on.

use super::Around;
use super::words;
use crate::domain::lang::Lang;
use crate::error::Result;
use crate::outbound::mail::Email;
use crate::store::Db;
use crate::store::abuse_signals::{self, Signal};

/// Signals per email.
const BATCH: usize = 50;

/// Emails every signal not emailed yet; how many.
pub fn send_unemailed(db: &Db, around: &Around<'_>, now: i64) -> Result<usize> {
    let mut emailed = 0;
    loop {
        let (batch, operators) = db.read(|conn| {
            Ok((
                abuse_signals::unemailed(conn, BATCH)?,
                abuse_signals::operators(conn)?,
            ))
        })?;
        if batch.is_empty() {
            return Ok(emailed);
        }
        // A signal dismissed before its email needs none.
        let open: Vec<&Signal> = batch.iter().filter(|s| s.dismissed_at.is_none()).collect();
        if operators.is_empty() && !open.is_empty() {
            tracing::warn!(
                signals = open.len(),
                "no operator to email the abuse signals to; they are shown on /admin"
            );
        }
        if !open.is_empty() {
            for (to, locale) in &operators {
                let lang = Lang::from_code(locale).unwrap_or(Lang::En);
                around
                    .mailer
                    .send_blocking(&email(around, lang, to, &open))?;
            }
            emailed += open.len();
        }
        let done: Vec<_> = batch.iter().map(|s| (s.account, s.id)).collect();
        db.write(move |conn| abuse_signals::mark_emailed(conn, &done, now))?;
    }
}

fn email(around: &Around<'_>, lang: Lang, to: &str, signals: &[&Signal]) -> Email {
    let product = &around.mailer.product_name;
    let lines: Vec<String> = signals
        .iter()
        .map(|s| {
            lang.t("abuse.mail_line")
                .replace("{company}", &s.company)
                .replace("{account}", &s.account.get().to_string())
                .replace("{kind}", words::kind(lang, s.kind))
                .replace("{severity}", words::severity(lang, s.severity))
                .replace("{period}", &words::period(lang, s))
                .replace("{evidence}", &words::evidence(lang, s))
        })
        .collect();
    let count = lang.number(signals.len() as i64);
    let subject = lang
        .t("abuse.mail_subject")
        .replace("{count}", &count)
        .replace("{product}", product);
    let text = lang
        .t("abuse.mail_text")
        .replace("{count}", &count)
        .replace("{signals}", &lines.join("\n\n"))
        .replace("{link}", &format!("{}#signals", around.link));
    let footer = lang.t("mail.footer").replace("{product}", product);
    Email {
        to: to.to_owned(),
        subject,
        text: format!("{text}\n\n-- \n{footer}\n"),
    }
}
