//! The privacy policy, rendered from the configuration so that it always names the real operator, contact
//! address and retention period.

use super::page::{Page, render};
use crate::config::Config;
use crate::error::Result;
use crate::store::{Db, consents};
use askama::Template;
use rocket::response::content::RawHtml;
use rocket::{State, get, routes};

/// How long message logs are kept. The retention settings will take its place.
pub const MESSAGE_RETENTION_DAYS: i64 = 90;

/// The policy's sections, in order; each has a title and a body in the catalogs (`privacy.s<n>_*`).
const SECTIONS: [&str; 9] = ["s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9"];

pub fn routes() -> Vec<rocket::Route> {
    routes![show_privacy]
}

struct Section {
    title: String,
    paragraphs: Vec<String>,
}

#[derive(Template)]
#[template(path = "privacy.html")]
struct PrivacyPage<'a> {
    page: &'a Page,
    version: String,
    sections: Vec<Section>,
}

#[get("/privacy")]
async fn show_privacy(
    page: Page,
    config: &State<Config>,
    db: &State<Db>,
) -> Result<RawHtml<String>> {
    let version = db.read_async(consents::privacy_policy_version).await?;
    let branding = &config.branding;
    let retention = page.lang.number(MESSAGE_RETENTION_DAYS);
    let fill = |text: &str| {
        text.replace("{product}", &branding.product_name)
            .replace("{operator}", &branding.operator_name)
            .replace("{contact}", &branding.support_email)
            .replace("{retention_days}", &retention)
    };
    let sections = SECTIONS
        .iter()
        .map(|id| Section {
            title: fill(page.t(&format!("privacy.{id}_title"))),
            paragraphs: page
                .t(&format!("privacy.{id}_body"))
                .split("\n\n")
                .map(fill)
                .collect(),
        })
        .collect();
    render(PrivacyPage {
        page: &page,
        version,
        sections,
    })
}
