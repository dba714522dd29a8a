//! The emails the product sends, one function each, in the recipient's language. A failure to send is
//! logged and never undoes what the email reports (the password was changed whether or not the alert left).

use crate::domain::client::ClientInfo;
use crate::domain::lang::Lang;
use crate::outbound::mail::{Email, Mailer};

async fn send(mailer: &Mailer, lang: Lang, to: &str, key: &str, replacements: &[(&str, &str)]) {
    let mut subject = lang.t(&format!("mail.{key}_subject")).to_owned();
    let mut text = lang.t(&format!("mail.{key}_text")).to_owned();
    for (name, value) in replacements {
        let placeholder = format!("{{{name}}}");
        subject = subject.replace(&placeholder, value);
        text = text.replace(&placeholder, value);
    }
    let footer = lang
        .t("mail.footer")
        .replace("{product}", &mailer.product_name);
    let email = Email {
        to: to.to_owned(),
        subject,
        text: format!("{text}\n\n-- \n{footer}\n"),
    };
    if let Err(e) = mailer.send(email).await {
        tracing::error!(error = %e, kind = key, "could not send an email");
    }
}

pub async fn password_reset_link(mailer: &Mailer, lang: Lang, to: &str, link: &str) {
    send(mailer, lang, to, "password_reset", &[("link", link)]).await;
}

pub async fn password_changed(mailer: &Mailer, lang: Lang, to: &str, client: &ClientInfo) {
    sign_in_change(mailer, lang, to, "password_changed", client).await;
}

pub async fn new_sign_in(mailer: &Mailer, lang: Lang, to: &str, client: &ClientInfo) {
    sign_in_change(mailer, lang, to, "new_sign_in", client).await;
}

/// Tells a person of a change to how their account is signed in to (two-step sign-in, recovery codes,
/// the mobile number): `kind` names the email (`mail.<kind>_subject` and `_text`).
pub async fn sign_in_change(
    mailer: &Mailer,
    lang: Lang,
    to: &str,
    kind: &str,
    client: &ClientInfo,
) {
    let when = lang.datetime(crate::store::now_ms());
    send(
        mailer,
        lang,
        to,
        kind,
        &[
            ("when", &when),
            ("ip", &client.ip),
            ("browser", &client.user_agent),
        ],
    )
    .await;
}

pub async fn confirm_email(mailer: &Mailer, lang: Lang, to: &str, link: &str) {
    send(mailer, lang, to, "confirm_email", &[("link", link)]).await;
}

/// Tells the current address that a change away from it was asked for.
pub async fn email_change_requested(mailer: &Mailer, lang: Lang, to: &str, new_email: &str) {
    send(
        mailer,
        lang,
        to,
        "email_change_requested",
        &[("new_email", new_email)],
    )
    .await;
}

pub async fn invitation(
    mailer: &Mailer,
    lang: Lang,
    to: &str,
    company: &str,
    inviter: &str,
    link: &str,
) {
    send(
        mailer,
        lang,
        to,
        "invitation",
        &[("company", company), ("inviter", inviter), ("link", link)],
    )
    .await;
}

/// An email from the catalogs for `key`, built as `send` builds it, for senders that run on a blocking
/// thread (the fan-out of a policy notice, the command line).
fn compose(
    mailer: &Mailer,
    lang: Lang,
    to: &str,
    key: &str,
    replacements: &[(&str, &str)],
) -> Email {
    let mut subject = lang.t(&format!("mail.{key}_subject")).to_owned();
    let mut text = lang.t(&format!("mail.{key}_text")).to_owned();
    for (name, value) in replacements {
        let placeholder = format!("{{{name}}}");
        subject = subject.replace(&placeholder, value);
        text = text.replace(&placeholder, value);
    }
    let footer = lang
        .t("mail.footer")
        .replace("{product}", &mailer.product_name);
    Email {
        to: to.to_owned(),
        subject,
        text: format!("{text}\n\n-- \n{footer}\n"),
    }
}

/// Tells one person, in their language, that a new version of the privacy policy is in force, with the
/// operator's summary of changes and a link to it. Blocking: the queue of these emails is sent from a
/// background thread or the command line (`jobs::policy_mail`), never inside a request.
pub fn policy_published_blocking(
    mailer: &Mailer,
    recipient: &crate::store::consents::Recipient,
    policy: &crate::store::consents::PolicyVersion,
    link: &str,
) -> crate::error::Result<()> {
    let lang = Lang::from_code(&recipient.locale).unwrap_or(Lang::En);
    let when = lang.datetime(policy.published_at);
    let version = match policy.version.parse::<i64>() {
        Ok(n) => lang.number(n),
        Err(_) => policy.version.clone(),
    };
    let changes = if policy.summary.is_empty() {
        String::new()
    } else {
        lang.t("mail.policy_changes")
            .replace("{summary}", &policy.summary)
    };
    let email = compose(
        mailer,
        lang,
        &recipient.email,
        "policy_published",
        &[
            ("product", &mailer.product_name),
            ("version", &version),
            ("when", &when),
            ("changes", &changes),
            ("link", link),
        ],
    );
    mailer.send_blocking(&email)
}

/// One product-news email, which only people who opted in get: the operator's subject and text, then how
/// to stop them, with the person's own one-click link, also given as `List-Unsubscribe` (RFC 2369) with
/// `List-Unsubscribe-Post` (RFC 8058) so mail programs can offer the button themselves.
pub fn product_news_blocking(
    mailer: &Mailer,
    recipient: &crate::store::consents::Recipient,
    subject: &str,
    body: &str,
    unsubscribe_link: &str,
) -> crate::error::Result<()> {
    let lang = Lang::from_code(&recipient.locale).unwrap_or(Lang::En);
    let footer = lang
        .t("mail.news_footer")
        .replace("{product}", &mailer.product_name)
        .replace("{link}", unsubscribe_link);
    let email = Email {
        to: recipient.email.clone(),
        subject: subject.to_owned(),
        text: format!("{}\n\n-- \n{footer}\n", body.trim_end()),
    };
    mailer.send_blocking_with_headers(
        &email,
        &[
            ("List-Unsubscribe", format!("<{unsubscribe_link}>")),
            (
                "List-Unsubscribe-Post",
                "List-Unsubscribe=One-Click".to_owned(),
            ),
        ],
    )
}

/// One billing notice to an account's owner (`services::billing::notices`): the email of its kind from
/// the catalogs (`mail.billing_<kind>_subject` and `_text`). Blocking: the billing round's thread sends
/// it, and marks the notice sent only when this succeeded.
pub fn billing_notice_blocking(
    mailer: &Mailer,
    lang: Lang,
    to: &str,
    kind: crate::store::states::NoticeKind,
    replacements: &[(&str, &str)],
) -> crate::error::Result<()> {
    let key = format!("billing_{}", kind.as_str());
    mailer.send_blocking(&compose(mailer, lang, to, &key, replacements))
}

/// Confirms to the owner that the account and everything it held were deleted. Blocking: the deletion
/// runs on a blocking thread (or the command line), and the email leaves once it has finished.
pub fn account_deleted_blocking(mailer: &Mailer, lang: Lang, to: &str, company: &str) {
    let when = lang.datetime(crate::store::now_ms());
    let email = compose(
        mailer,
        lang,
        to,
        "account_deleted",
        &[("company", company), ("when", &when)],
    );
    if let Err(e) = mailer.send_blocking(&email) {
        tracing::error!(error = %e, kind = "account_deleted", "could not send an email");
    }
}

/// Confirms to a member that their user was deleted.
pub async fn user_deleted(mailer: &Mailer, lang: Lang, to: &str, company: &str) {
    let when = lang.datetime(crate::store::now_ms());
    send(
        mailer,
        lang,
        to,
        "user_deleted",
        &[("company", company), ("when", &when)],
    )
    .await;
}
