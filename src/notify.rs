//! The emails the product sends, one function each, in the recipient's language. A failure to send is
//! logged and never undoes what the email reports (the password was changed whether or not the alert left).

use crate::auth::ClientInfo;
use crate::mail::{Email, Mailer};
use crate::web::i18n::Lang;

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
    let when = lang.datetime(crate::store::now_ms());
    send(
        mailer,
        lang,
        to,
        "password_changed",
        &[
            ("when", &when),
            ("ip", &client.ip),
            ("browser", &client.user_agent),
        ],
    )
    .await;
}

pub async fn new_sign_in(mailer: &Mailer, lang: Lang, to: &str, client: &ClientInfo) {
    let when = lang.datetime(crate::store::now_ms());
    send(
        mailer,
        lang,
        to,
        "new_sign_in",
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
