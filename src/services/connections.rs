//! WhatsApp numbers, for the API and the connections page: the typed requests that add or change one
//! (checked with nothing but the request and Meta's allowed addresses), and asking Meta about a number.

use super::trimmed;
use crate::config::META_GRAPH_URL;
use crate::domain::meta::errors;
use crate::error::{Error, Result};
use crate::outbound::graph::{Graph, SendError};
use crate::outbound::targets::MetaTargets;
use crate::services::billing::{Billing, Limit};
use crate::store::connection_identity::{self, Identity};
use crate::store::connections::{self, ConnectionChange, ConnectionInfo, NewConnection};
use crate::store::{AccountId, Db};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use zeroize::Zeroizing;

pub const DEFAULT_GRAPH_VERSION: &str = "v25.0";

/// `POST /api/v1/connections`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateConnection {
    /// `cloud` (a number on Meta's Cloud API) or `sandbox` (the built-in stand-in, which makes up its
    /// own ids and secrets).
    #[schema(example = "sandbox")]
    pub kind: Option<String>,
    pub name: Option<String>,
    /// Meta's id of the number (cloud).
    pub phone_number_id: Option<String>,
    /// Meta's WhatsApp Business Account id (cloud).
    pub waba_id: Option<String>,
    /// A system user's permanent token (cloud).
    pub access_token: Option<String>,
    /// The Meta app's secret, which signs its webhooks (cloud).
    pub app_secret: Option<String>,
    /// The token Meta sends back when the webhook is set up; made up when left out.
    pub verify_token: Option<String>,
    /// Default `v25.0`.
    pub graph_version: Option<String>,
    /// Default `https://graph.facebook.com`.
    pub graph_base_url: Option<String>,
    /// Messages per second the sender keeps to; default 80.
    pub throughput_mps: Option<i64>,
    /// Refuse anything but templates when the customer's 24-hour window is closed; default false.
    pub enforce_window: Option<bool>,
}

/// `PATCH /api/v1/connections/<id>`: what is given changes, the rest stays. The kind and Meta's ids
/// of a number cannot change (add another connection instead).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateConnection {
    pub name: Option<String>,
    pub access_token: Option<String>,
    pub app_secret: Option<String>,
    pub graph_version: Option<String>,
    pub graph_base_url: Option<String>,
    pub throughput_mps: Option<i64>,
    pub enforce_window: Option<bool>,
}

fn random_hex(bytes: usize) -> Result<String> {
    let random = crate::crypto::random_bytes::<32>()?;
    Ok(hex::encode(&random[..bytes.min(32)]))
}

impl CreateConnection {
    /// The connection to add, checked; the sandbox makes up its own ids and secrets.
    pub fn check(self, targets: &MetaTargets) -> Result<NewConnection> {
        let kind = trimmed(self.kind).unwrap_or_default();
        let name = trimmed(self.name).unwrap_or_default();
        let throughput_mps = self.throughput_mps.unwrap_or(80);
        let enforce_window = self.enforce_window.unwrap_or(false);
        let graph_version =
            trimmed(self.graph_version).unwrap_or_else(|| DEFAULT_GRAPH_VERSION.to_owned());
        let verify_token = Zeroizing::new(
            trimmed(self.verify_token)
                .filter(|t| !t.is_empty())
                .map_or_else(|| random_hex(16), Ok)?,
        );
        let new = match kind.as_str() {
            "sandbox" => {
                let digits = u64::from_be_bytes(crate::crypto::random_bytes()?) % 10_u64.pow(12);
                NewConnection {
                    kind,
                    name,
                    phone_number_id: format!("9{digits:012}"),
                    waba_id: format!("8{digits:012}"),
                    access_token: Zeroizing::new(format!("sandbox_{}", random_hex(24)?)),
                    app_secret: Zeroizing::new(random_hex(16)?),
                    verify_token,
                    graph_version,
                    graph_base_url: targets.sandbox_base().to_owned(),
                    throughput_mps,
                    enforce_window,
                }
            }
            "cloud" => NewConnection {
                kind,
                name,
                phone_number_id: trimmed(self.phone_number_id).unwrap_or_default(),
                waba_id: trimmed(self.waba_id).unwrap_or_default(),
                access_token: Zeroizing::new(trimmed(self.access_token).unwrap_or_default()),
                app_secret: Zeroizing::new(trimmed(self.app_secret).unwrap_or_default()),
                verify_token,
                graph_version,
                graph_base_url: targets.check_base_url(
                    &trimmed(self.graph_base_url).unwrap_or_else(|| META_GRAPH_URL.to_owned()),
                )?,
                throughput_mps,
                enforce_window,
            },
            _ => return Err(Error::invalid("kind", "must be cloud or sandbox")),
        };
        connections::validate(&new)?;
        Ok(new)
    }
}

impl UpdateConnection {
    /// The change to apply; the store checks the result as a whole when it applies it.
    pub fn check(self, targets: &MetaTargets) -> Result<ConnectionChange> {
        Ok(ConnectionChange {
            name: trimmed(self.name),
            access_token: trimmed(self.access_token).map(Zeroizing::new),
            app_secret: trimmed(self.app_secret).map(Zeroizing::new),
            graph_version: trimmed(self.graph_version),
            graph_base_url: trimmed(self.graph_base_url)
                .map(|url| targets.check_base_url(&url))
                .transpose()?,
            throughput_mps: self.throughput_mps,
            enforce_window: self.enforce_window,
        })
    }
}

/// `POST /api/v1/connections/<id>/check`: what Meta (or the sandbox) says about the number, or why it
/// could not be asked.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(untagged)]
pub enum ConnectionCheck {
    Reached(NumberFound),
    Failed(CheckFailed),
}

/// Meta's fields as Meta gave them (null when it left one out).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NumberFound {
    pub display_phone_number: Option<String>,
    /// Always true.
    pub ok: bool,
    pub quality_rating: Option<String>,
    pub verified_name: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CheckFailed {
    pub error: CheckError,
    /// Always false.
    pub ok: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CheckError {
    /// Meta's error code; null when Meta was not reached.
    pub code: Option<i64>,
    pub details: Option<String>,
    /// What to do about Meta's error, when the code is a known one. Left out when Meta was not reached.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explanation: Option<Option<String>>,
    pub title: String,
}

/// The outcome of asking Meta about a connection's number, as `{"ok": true, ...}` or `{"ok": false, "error": ...}`.
pub async fn check(
    db: &Db,
    agent: &ureq::Agent,
    account: AccountId,
    connection: ConnectionInfo,
) -> Result<ConnectionCheck> {
    let keyring_db = db.clone();
    let connection_id = connection.id;
    let token = db
        .read_async(move |conn| {
            Ok(
                connections::secrets(conn, keyring_db.keyring(), account, connection_id)?
                    .access_token,
            )
        })
        .await?;
    let agent = agent.clone();
    let answer = crate::blocking::run("check", move || {
        Graph::of(&agent, &connection, &token).phone_number(&connection.phone_number_id)
    })
    .await?;
    let failed = |code, title: &str, details, explanation| {
        ConnectionCheck::Failed(CheckFailed {
            error: CheckError {
                code,
                details,
                explanation,
                title: title.to_owned(),
            },
            ok: false,
        })
    };
    Ok(match answer {
        Ok(number) => ConnectionCheck::Reached(NumberFound {
            display_phone_number: number.display_phone_number,
            ok: true,
            quality_rating: number.quality_rating,
            verified_name: number.verified_name,
        }),
        Err(SendError::Meta(error)) => failed(
            Some(error.code),
            &error.title,
            Some(error.details),
            Some(errors::explain(error.code).map(str::to_owned)),
        ),
        Err(SendError::Network(reason)) => {
            failed(None, "Meta could not be reached", Some(reason), None)
        }
        Err(SendError::Refused(reason)) => failed(
            None,
            "The connection's Graph API address is not allowed",
            Some(reason),
            None,
        ),
    })
}

/// Adds a number to the account, within its plan's `connections`; `also` writes in the same
/// transaction what the caller records with it (the pages' activity log).
pub async fn create(
    db: &Db,
    billing: &Billing,
    account: AccountId,
    new: NewConnection,
    also: impl FnOnce(&rusqlite::Connection, &ConnectionInfo) -> Result<()> + Send + 'static,
) -> Result<ConnectionInfo> {
    let plan = billing.standing(db, account).await?.plan.clone();
    let keyring_db = db.clone();
    db.write_async(move |conn| {
        // Counted in the transaction: two requests at once cannot both take the last one.
        Limit::Connections.check(&plan, connections::count(conn, account)?)?;
        let created = connections::insert(conn, keyring_db.keyring(), account, &new)?;
        also(conn, &created)?;
        Ok(created)
    })
    .await
}

/// Asks Meta (or the sandbox) about a number, as `check` does, and keeps what it answered: the number as
/// people dial it and the verified business name, shown on the Numbers page and in the message log.
pub async fn check_and_record(
    db: &Db,
    agent: &ureq::Agent,
    account: AccountId,
    connection: ConnectionInfo,
) -> Result<ConnectionCheck> {
    let id = connection.id;
    let checked = check(db, agent, account, connection).await?;
    if let ConnectionCheck::Reached(found) = &checked {
        let identity = Identity {
            display_phone_number: found.display_phone_number.clone(),
            verified_name: found.verified_name.clone(),
        };
        db.write_async(move |conn| connection_identity::record(conn, account, id, &identity))
            .await?;
    }
    Ok(checked)
}
