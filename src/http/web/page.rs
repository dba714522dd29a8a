//! What every page needs: language, CSRF token, who is signed in, branding. Built once per request by a
//! request guard, and handed to the page's template.

use super::i18n::Lang;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::http::auth::{Session, csrf};
use crate::store::Db;
use crate::store::consents::{self, PageConsents, PolicyVersion};
use crate::store::users::User;
use askama::Template;
use rocket::request::{FromRequest, Outcome, Request};
use rocket::response::content::RawHtml;
use std::sync::atomic::{AtomicBool, Ordering};

pub struct Page {
    pub lang: Lang,
    pub csrf: String,
    pub user: Option<User>,
    pub product_name: String,
    pub support_email: String,
    /// The path of this page, so the language switch can come back to it.
    pub path: String,
    /// Whether people may register (the sign-in page links to registration only then).
    pub registration_open: bool,
    /// The privacy policy in force, while the signed-in person has not acknowledged it: every page shows
    /// a notice until they do.
    pub policy_notice: Option<PolicyVersion>,
    /// Since when the signed-in person gets product news (they opted in), if they do.
    pub product_news_since: Option<i64>,
    /// The account's subscription does not allow sending for good (past due, canceled, a trial that
    /// ended): every page of the account says so, in words, until it does.
    pub billing_banner: Option<String>,
    /// Set when `error_text` words a refusal because of the plan, so `form_error.html` adds the way to
    /// the Billing page without every page carrying one more field for it.
    links_billing: AtomicBool,
}

impl Page {
    /// The translated notice for a `?done=<key>` after a successful form, if `key` is one of the area's.
    pub fn notice(&self, area: &str, done: Option<&str>) -> Option<String> {
        let key = format!("{area}.done_{}", done?);
        let text = self.lang.t(&key);
        (text != key).then(|| text.to_owned())
    }

    /// A stored value (a plan, a role, a state) in words: `<group>.<value>` from the catalogs, the value
    /// itself when it has none.
    pub fn term(&self, group: &str, value: &str) -> String {
        let key = format!("{group}.{value}");
        match self.lang.t(&key) {
            text if text == key => value.to_owned(),
            text => text.to_owned(),
        }
    }

    pub fn t<'a>(&self, key: &'a str) -> &'a str {
        self.lang.t(key)
    }

    pub fn datetime(&self, ms: &i64) -> String {
        self.lang.datetime(*ms)
    }

    pub fn number(&self, n: &i64) -> String {
        self.lang.number(*n)
    }

    pub fn dir(&self) -> &'static str {
        self.lang.dir()
    }

    pub fn other_langs(&self) -> Vec<Lang> {
        Lang::ALL.into_iter().filter(|l| *l != self.lang).collect()
    }

    pub fn signed_in(&self) -> bool {
        self.user.is_some()
    }

    pub fn is_manager(&self) -> bool {
        self.user.as_ref().is_some_and(|u| u.role.manages_account())
    }

    pub fn is_operator(&self) -> bool {
        self.user.as_ref().is_some_and(|u| u.account_id.is_none())
    }

    /// Whether this page is one of those under the navigation's "More" menu (its summary is then marked,
    /// so people see where they are while the menu is closed).
    pub fn in_more_menu(&self) -> bool {
        const UNDER_MORE: [&str; 8] = [
            "/connections",
            "/api-keys",
            "/webhook-endpoints",
            "/team",
            "/usage",
            "/activity",
            "/billing",
            "/profile",
        ];
        UNDER_MORE
            .iter()
            .any(|prefix| self.path == *prefix || self.path.starts_with(&format!("{prefix}/")))
    }

    /// The notice about a policy version the person has not acknowledged yet, in words.
    pub fn policy_notice_text(&self, policy: &PolicyVersion) -> String {
        self.t("privacy.notice_text")
            .replace(
                "{version}",
                &super::privacy::version_label(self.lang, &policy.version),
            )
            .replace("{when}", &self.lang.datetime(policy.published_at))
    }

    /// Whether the person gets product news, in words, for the profile page.
    pub fn product_news_state(&self) -> String {
        match self.product_news_since {
            Some(since) => self
                .t("privacy.news_on_since")
                .replace("{when}", &self.lang.datetime(since)),
            None => self.t("privacy.news_off").to_owned(),
        }
    }

    /// A text with `{product}` replaced by the configured product name.
    pub fn with_product(&self, key: &str) -> String {
        self.t(key).replace("{product}", &self.product_name)
    }

    /// Whether the form's error is a refusal because of the plan (which the Billing page can lift).
    pub fn links_billing(&self) -> bool {
        self.links_billing.load(Ordering::Relaxed)
    }

    /// The translated text of an error, for showing next to a form.
    pub fn error_text(&self, error: &Error) -> String {
        if let Some(words) = super::plan::refusal(self.lang, error) {
            self.links_billing.store(true, Ordering::Relaxed);
            return words;
        }
        match error {
            Error::Invalid { field, message } => {
                let key = format!("errors.{field}");
                let translated = self.lang.t(&key);
                if translated == key {
                    message.clone()
                } else {
                    translated.to_owned()
                }
            }
            Error::Conflict(_) => self.t("errors.email_taken").to_owned(),
            Error::Overloaded => self.t("errors.overloaded").to_owned(),
            Error::SendingHeld => self.t("errors.sending_held").to_owned(),
            Error::RecipientOptedOut { .. } => self.t("errors.recipient_opted_out").to_owned(),
            Error::AccountSuspended => self.t("login.suspended").to_owned(),
            other => other.to_string(),
        }
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Page {
    type Error = std::convert::Infallible;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        Outcome::Success(Page::of(req).await)
    }
}

impl Page {
    /// The page for this request.
    pub async fn of(req: &Request<'_>) -> Page {
        let lang = req.guard::<Lang>().await.succeeded().unwrap_or(Lang::En);
        let user = req
            .guard::<&Session>()
            .await
            .succeeded()
            .map(|s| s.user.clone());
        let consents = match (&user, req.rocket().state::<Db>()) {
            (Some(user), Some(db)) => {
                let id = user.id;
                db.read_async(move |conn| consents::for_page(conn, id))
                    .await
                    .unwrap_or_else(|e| {
                        tracing::error!(error = %e, "cannot read the consents for a page");
                        PageConsents::default()
                    })
            }
            _ => PageConsents::default(),
        };
        let billing_banner = match user.as_ref().and_then(|u| u.account_id) {
            Some(account) => super::plan::banner_of(req, lang, account).await,
            None => None,
        };
        let (product_name, support_email, registration_open) = match req.rocket().state::<Config>()
        {
            Some(c) => (
                c.branding.product_name.clone(),
                c.branding.support_email.clone(),
                c.accounts.registration,
            ),
            None => ("WhatsAPI Pro".into(), String::new(), false),
        };
        Page {
            lang,
            csrf: csrf::token_for(req).await,
            user,
            product_name,
            support_email,
            path: req.uri().path().to_string(),
            registration_open,
            policy_notice: consents.policy_to_accept,
            product_news_since: consents.product_news_since,
            billing_banner,
            links_billing: AtomicBool::new(false),
        }
    }
}

/// Renders a template into a page, or a 500 if a template fails (which the type checker makes rare).
pub fn render(template: impl Template) -> Result<RawHtml<String>> {
    template
        .render()
        .map(RawHtml)
        .map_err(|e| Error::Internal(anyhow::anyhow!("template error: {e}")))
}
