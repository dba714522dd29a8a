//! Customers' webhook endpoints, for the API and the endpoints page: the typed requests that add or
//! change one (checked without the network first, the host name resolved last), and adding one.

use super::trimmed;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::outbound::customer_webhooks::signing;
use crate::outbound::ssrf;
use crate::services::billing::{Billing, Limit};
use crate::store::endpoints::{self, Endpoint, EndpointChange, NewEndpoint};
use crate::store::{AccountId, Db, now_ms};
use serde::Deserialize;
use utoipa::ToSchema;

/// `POST /api/v1/webhook-endpoints`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEndpoint {
    /// Where events are posted: https (http only where the server allows it), not inside the network.
    #[schema(example = "https://hooks.example.com/whatsapp")]
    pub url: Option<String>,
    /// Up to 200 characters.
    pub description: Option<String>,
    /// Which events it receives; all when left out.
    pub event_types: Option<Vec<String>>,
}

/// `PATCH /api/v1/webhook-endpoints/<id>`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateEndpoint {
    pub url: Option<String>,
    pub description: Option<String>,
    pub event_types: Option<Vec<String>>,
    /// true pauses deliveries, false resumes them.
    pub paused: Option<bool>,
}

/// A new endpoint that passed every check needing no network.
#[derive(Debug)]
pub struct CheckedEndpoint {
    pub url: String,
    pub description: String,
    pub event_types: Vec<String>,
}

const MAX_DESCRIPTION: usize = 200;

fn checked_description(description: Option<String>) -> Result<Option<String>> {
    let description = trimmed(description);
    if description
        .as_ref()
        .is_some_and(|d| d.chars().count() > MAX_DESCRIPTION)
    {
        return Err(Error::invalid(
            "description",
            format!("must be at most {MAX_DESCRIPTION} characters"),
        ));
    }
    Ok(description)
}

/// Checks what can be checked of a URL without the network; a host name is left to resolve.
fn checked_url(url: &str, config: &Config) -> Result<Option<ssrf::PendingName>> {
    ssrf::check_url(url, config.webhooks.allow_insecure_targets)
        .map_err(|why| Error::invalid("url", why))
}

impl CreateEndpoint {
    /// The endpoint to add, and the host name still to resolve (the route does, after every check that
    /// costs nothing).
    pub fn check(self, config: &Config) -> Result<(CheckedEndpoint, Option<ssrf::PendingName>)> {
        let url = trimmed(self.url).unwrap_or_default();
        let name = checked_url(&url, config)?;
        let description = checked_description(self.description)?.unwrap_or_default();
        let event_types = self.event_types.unwrap_or_else(|| {
            endpoints::EVENT_TYPES
                .iter()
                .map(|t| (*t).to_owned())
                .collect()
        });
        endpoints::check_event_types(&event_types)?;
        Ok((
            CheckedEndpoint {
                url,
                description,
                event_types,
            },
            name,
        ))
    }
}

impl UpdateEndpoint {
    pub fn check(self, config: &Config) -> Result<(EndpointChange, Option<ssrf::PendingName>)> {
        let url = trimmed(self.url);
        let name = match &url {
            Some(url) => checked_url(url, config)?,
            None => None,
        };
        if let Some(types) = &self.event_types {
            endpoints::check_event_types(types)?;
        }
        let change = EndpointChange {
            url,
            description: checked_description(self.description)?,
            event_types: self.event_types,
            paused: self.paused,
        };
        Ok((change, name))
    }
}

/// Resolves the URL's host name, if it has one, and refuses it when it leads inside the network. Done
/// last, after every check that costs nothing.
pub async fn resolved(name: Option<ssrf::PendingName>) -> Result<()> {
    let Some(name) = name else { return Ok(()) };
    ssrf::check_name(name, ssrf::SystemLookup, ssrf::SAVE_LOOKUP_LIMIT)
        .await
        .map_err(|why| Error::invalid("url", why))
}

/// Creates an endpoint, within the plan's `webhook_endpoints`; the answer is the only time its signing
/// secret is shown. `also` writes in the same transaction what the caller records with it (the activity
/// log).
pub async fn create(
    db: &Db,
    (config, billing): (&Config, &Billing),
    account: AccountId,
    request: CreateEndpoint,
    also: impl FnOnce(&rusqlite::Connection, &Endpoint) -> Result<()> + Send + 'static,
) -> Result<(Endpoint, String)> {
    let (checked, name) = request.check(config)?;
    resolved(name).await?;
    let plan = billing.standing(db, account).await?.plan.clone();
    let secret = signing::new_secret()?;
    let keyring_db = db.clone();
    let shown = secret.clone();
    let created = db
        .write_async(move |conn| {
            // Counted in the transaction: two requests at once cannot both take the last one.
            Limit::WebhookEndpoints.check(&plan, endpoints::count(conn, account)?)?;
            let new = NewEndpoint {
                url: &checked.url,
                description: &checked.description,
                event_types: &checked.event_types,
                secret: &secret,
            };
            let created = endpoints::insert(conn, keyring_db.keyring(), account, &new, now_ms())?;
            also(conn, &created)?;
            Ok(created)
        })
        .await?;
    Ok((created, shown))
}
