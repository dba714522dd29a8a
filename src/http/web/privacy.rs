//! The privacy policy, rendered from the configuration so that it always names the real product, operator,
//! contact address and retention period.
//!
//! The text lives in the catalogs (`privacy.s<n>_title`, `privacy.s<n>_body`). A body is made of blocks
//! separated by a blank line; a block whose lines start with "- " is a list, and a list item "Label: text"
//! shows its label in bold. `{product}`, `{operator}`, `{contact}` and `{retention_period}` (the configured
//! `retention.message_days`, worded in the page's language) are filled in here. A paragraph or list item
//! that starts with a tag (`[billing]`, `[sms]`, `[mail]`, `[operator]`, `[contact]`, or `[!tag]` for its
//! opposite) is kept only when the configuration makes it true: the page names a payment provider, an SMS
//! gateway, an email relay, a company or a support address only when one is configured.
//!
//! Resellers replace the text with a file `privacy.<lang>.html` (an HTML fragment, the same
//! placeholders) in `branding.static_dir`; a language without its own file uses another language's.
//! Either way the page heads the text with the version in force and the day it was published.
//!
//! The consents a person gives or withdraws about the policy and product news live in `consent`.

mod consent;

use super::i18n::Lang;
use super::page::{Page, render};
use crate::config::{Branding, Config};
use crate::error::Result;
use crate::store::{Db, consents};
use askama::Template;
use rocket::response::content::RawHtml;
use rocket::{State, get, routes};
use std::path::Path;

/// Number of sections in the catalogs (`privacy.s1_*` to `privacy.s9_*`).
const SECTIONS: usize = 9;

pub fn routes() -> Vec<rocket::Route> {
    let mut all = routes![show_privacy];
    all.extend(consent::routes());
    all
}

/// A run of policy text. Configured names are isolated (`<bdi>`) so that a Latin name inside Arabic text,
/// or an Arabic name inside English text, keeps its punctuation in place.
enum Piece {
    Text(String),
    Name(String),
    Email(String),
}

struct Item {
    label: Option<Vec<Piece>>,
    text: Vec<Piece>,
}

enum Block {
    Paragraph(Vec<Piece>),
    List(Vec<Item>),
}

struct Section {
    number: String,
    title: String,
    blocks: Vec<Block>,
}

#[derive(Template)]
#[template(path = "privacy.html")]
struct PrivacyPage<'a> {
    page: &'a Page,
    version: String,
    published_at: i64,
    summary: String,
    lead: Vec<Piece>,
    sections: Vec<Section>,
    /// A reseller's own text, placeholders filled in and escaped; replaces the lead and the sections.
    replacement: Option<String>,
}

#[get("/privacy")]
async fn show_privacy(
    page: Page,
    config: &State<Config>,
    db: &State<Db>,
) -> Result<RawHtml<String>> {
    let policy = db.read_async(consents::policy_in_force).await?;
    let filler = Filler {
        branding: &config.branding,
        configured: Configured::of(config),
        // The period the retention job enforces (`retention.message_days`), so the page never promises
        // another one.
        retention_period: page.lang.days(i64::from(config.retention.message_days)),
    };
    let replacement = match &config.branding.static_dir {
        Some(dir) => replacement_text(dir, page.lang)
            .await
            .map(|html| filler.fill_html(&html)),
        None => None,
    };
    let sections = (1..=SECTIONS)
        .map(|n| Section {
            number: page.lang.number(n as i64),
            title: page.t(&format!("privacy.s{n}_title")).to_owned(),
            blocks: filler.blocks(page.t(&format!("privacy.s{n}_body"))),
        })
        .collect();
    render(PrivacyPage {
        page: &page,
        version: version_label(page.lang, &policy.version),
        published_at: policy.published_at,
        summary: policy.summary,
        lead: filler.pieces(page.t("privacy.lead")),
        sections,
        replacement,
    })
}

/// A version label as the language writes it: numbers in its digits, anything else as published.
pub(crate) fn version_label(lang: Lang, version: &str) -> String {
    match version.parse::<i64>() {
        Ok(n) => lang.number(n),
        Err(_) => version.to_owned(),
    }
}

/// The reseller's text for this language, else for another language, read at each request so that a
/// changed file shows at once.
async fn replacement_text(dir: &Path, lang: Lang) -> Option<String> {
    let others = Lang::ALL.into_iter().filter(|l| *l != lang);
    for candidate in std::iter::once(lang).chain(others) {
        let path = dir.join(format!("privacy.{}.html", candidate.code()));
        match rocket::tokio::fs::read_to_string(&path).await {
            Ok(text) => return Some(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::error!(path = %path.display(), error = %e, "cannot read the privacy policy text")
            }
        }
    }
    None
}

/// What the configuration turns on, for the policy's tagged paragraphs and list items.
#[derive(Debug, Clone, Copy, Default)]
struct Configured {
    /// Payments through Stripe (`[billing] provider = "stripe"`).
    billing: bool,
    /// An SMS gateway (`[sms]`).
    sms: bool,
    /// An SMTP relay (`[smtp] host`).
    mail: bool,
    /// `branding.operator_name`.
    operator: bool,
    /// Someone to write to: `branding.support_email`, else the operator.
    contact: bool,
}

impl Configured {
    fn of(config: &Config) -> Configured {
        let branding = &config.branding;
        let operator = !branding.operator_name.trim().is_empty();
        Configured {
            billing: config.billing.provider == crate::config::Provider::Stripe,
            sms: config.sms.enabled(),
            mail: !config.smtp.host.trim().is_empty(),
            operator,
            contact: operator || !branding.support_email.trim().is_empty(),
        }
    }

    /// Whether a tag (`billing`, `!sms`, ...) holds; an unknown tag never does.
    fn holds(self, tag: &str) -> bool {
        let (wanted, name) = match tag.strip_prefix('!') {
            Some(name) => (false, name),
            None => (true, tag),
        };
        let value = match name {
            "billing" => self.billing,
            "sms" => self.sms,
            "mail" => self.mail,
            "operator" => self.operator,
            "contact" => self.contact,
            _ => return false,
        };
        value == wanted
    }

    /// The text without its tag when the tag holds (or it has none), nothing when it does not.
    fn keep(self, text: &str) -> Option<&str> {
        let text = text.trim_start();
        match text.strip_prefix('[').and_then(|rest| rest.split_once(']')) {
            Some((tag, rest)) if !tag.contains(char::is_whitespace) => {
                self.holds(tag).then_some(rest.trim_start())
            }
            _ => Some(text),
        }
    }
}

struct Filler<'a> {
    branding: &'a Branding,
    configured: Configured,
    retention_period: String,
}

impl Filler<'_> {
    fn blocks(&self, body: &str) -> Vec<Block> {
        body.split("\n\n")
            .map(str::trim)
            .filter(|block| !block.is_empty())
            .filter_map(|block| {
                if block.starts_with("- ") {
                    let items: Vec<Item> = block
                        .lines()
                        .filter_map(|line| {
                            self.configured.keep(line.trim().trim_start_matches("- "))
                        })
                        .map(|line| self.item(line))
                        .collect();
                    (!items.is_empty()).then_some(Block::List(items))
                } else {
                    self.configured
                        .keep(block)
                        .map(|block| Block::Paragraph(self.pieces(block)))
                }
            })
            .collect()
    }

    fn item(&self, line: &str) -> Item {
        let line = line.trim();
        match line.split_once(": ") {
            Some((label, text)) => Item {
                label: Some(self.pieces(&format!("{label}:"))),
                text: self.pieces(text),
            },
            None => Item {
                label: None,
                text: self.pieces(line),
            },
        }
    }

    /// Splits text at its placeholders and puts the configured values in their place.
    fn pieces(&self, text: &str) -> Vec<Piece> {
        const PLACEHOLDERS: [&str; 3] = ["{product}", "{operator}", "{contact}"];
        let text = text.replace("{retention_period}", &self.retention_period);
        let mut pieces = Vec::new();
        let mut rest = text.as_str();
        while let Some((at, placeholder)) = PLACEHOLDERS
            .iter()
            .filter_map(|p| rest.find(p).map(|at| (at, *p)))
            .min()
        {
            if at > 0 {
                pieces.push(Piece::Text(rest[..at].to_owned()));
            }
            pieces.push(self.value(placeholder));
            rest = &rest[at + placeholder.len()..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_owned()));
        }
        pieces
    }

    /// A reseller's HTML with the placeholders replaced by the configured values, escaped.
    fn fill_html(&self, html: &str) -> String {
        let branding = self.branding;
        let contact = if branding.support_email.is_empty() {
            &branding.operator_name
        } else {
            &branding.support_email
        };
        html.replace("{product}", &super::escape(&branding.product_name))
            .replace("{operator}", &super::escape(&branding.operator_name))
            .replace("{contact}", &super::escape(contact))
            .replace("{retention_period}", &super::escape(&self.retention_period))
    }

    fn value(&self, placeholder: &str) -> Piece {
        let branding = self.branding;
        match placeholder {
            "{product}" => Piece::Name(branding.product_name.clone()),
            // Without a support address, the operator is the contact.
            "{contact}" if !branding.support_email.is_empty() => {
                Piece::Email(branding.support_email.clone())
            }
            _ => Piece::Name(branding.operator_name.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The whole built-in policy in one language, as plain text, with what `configured` turns on.
    fn policy(lang: Lang, configured: Configured, branding: &Branding) -> String {
        let filler = Filler {
            branding,
            configured,
            retention_period: lang.days(30),
        };
        let text = |pieces: &[Piece]| {
            pieces
                .iter()
                .map(|p| match p {
                    Piece::Text(s) | Piece::Name(s) | Piece::Email(s) => s.as_str(),
                })
                .collect::<String>()
        };
        let mut out = text(&filler.pieces(lang.t("privacy.lead")));
        for n in 1..=SECTIONS {
            for block in filler.blocks(lang.t(&format!("privacy.s{n}_body"))) {
                match block {
                    Block::Paragraph(pieces) => out.push_str(&text(&pieces)),
                    Block::List(items) => {
                        for item in items {
                            if let Some(label) = item.label {
                                out.push_str(&text(&label));
                            }
                            out.push_str(&text(&item.text));
                            out.push('\n');
                        }
                    }
                }
                out.push('\n');
            }
        }
        out
    }

    fn unbranded() -> Branding {
        Branding {
            operator_name: String::new(),
            support_email: String::new(),
            ..Branding::default()
        }
    }

    #[test]
    fn the_default_branding_names_no_company_and_no_address() {
        let branding = Branding::default();
        assert!(branding.operator_name.is_empty() && branding.support_email.is_empty());
    }

    #[test]
    fn processors_are_named_only_when_configured() {
        let branding = unbranded();
        for lang in Lang::ALL {
            let bare = policy(lang, Configured::default(), &branding);
            for absent in ["Stripe", "SMS", "الرسائل النصية", "SMTP", "[", "{", "@"] {
                assert!(!bare.contains(absent), "{lang:?} names {absent}:\n{bare}");
            }
            assert!(bare.contains("Meta"), "{bare}");
            let all = Configured {
                billing: true,
                sms: true,
                mail: true,
                operator: false,
                contact: false,
            };
            let full = policy(lang, all, &branding);
            assert!(full.contains("Stripe"), "{full}");
            assert!(
                full.contains("SMS") || full.contains("الرسائل النصية"),
                "{full}"
            );
            assert!(!full.contains('['), "tags never show: {full}");
        }
    }

    #[test]
    fn the_operator_and_contact_appear_only_when_configured() {
        let branding = Branding {
            operator_name: "Souq Co".into(),
            support_email: "help@souq.test".into(),
            ..Branding::default()
        };
        let configured = Configured {
            operator: true,
            contact: true,
            ..Configured::default()
        };
        for lang in Lang::ALL {
            let text = policy(lang, configured, &branding);
            assert!(
                text.contains("Souq Co") && text.contains("help@souq.test"),
                "{text}"
            );
            let bare = policy(lang, Configured::default(), &unbranded());
            assert!(!bare.contains("Souq") && !bare.contains("help@"), "{bare}");
        }
    }

    #[test]
    fn a_tag_keeps_or_drops_its_text() {
        let on = Configured {
            sms: true,
            ..Configured::default()
        };
        assert_eq!(on.keep("[sms] Texts"), Some("Texts"));
        assert_eq!(on.keep("[!sms] No texts"), None);
        assert_eq!(on.keep("[billing] Pay"), None);
        assert_eq!(on.keep("[!billing] Free"), Some("Free"));
        assert_eq!(on.keep("[unknown] x"), None);
        assert_eq!(on.keep("Plain [text]"), Some("Plain [text]"));
    }
}
