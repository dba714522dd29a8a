//! The message log of the web pages: a page of the account's messages with their recipients opened and
//! their bodies left sealed (a body is opened only on the message's own page), filtered by status, number,
//! type and recipient (found through the recipient's blind index), and the account's numbers as the log
//! names them (the number Meta displays, else the name given to it).

use crate::domain::meta::validate;
use crate::error::{Error, Result};
use crate::store::connection_identity;
use crate::store::connections::{self, ConnectionId};
use crate::store::messages::{self, ListFilter, MessageId};
use crate::store::retention::Visible;
use crate::store::states::MessageStatus;
use crate::store::{AccountId, Db};

/// What a page of the log asks for.
#[derive(Debug, Clone, Default)]
pub struct LogQuery {
    pub status: Option<MessageStatus>,
    pub connection: Option<ConnectionId>,
    pub kind: Option<String>,
    /// A phone number as typed (`+965 5000 1234`, `0096550001234`...).
    pub to: Option<String>,
    /// Only messages older than this one (the last of the page before).
    pub before: Option<MessageId>,
    pub limit: usize,
}

/// A message as the log lists it: no body.
#[derive(Debug, Clone)]
pub struct LogEntry {
    pub id: MessageId,
    pub connection: ConnectionId,
    pub to: String,
    pub kind: String,
    pub status: MessageStatus,
    pub error_code: Option<i64>,
    pub error_title: Option<String>,
    pub error_details: Option<String>,
    pub created_at: i64,
}

/// A number of the account: its id and how the log names it.
#[derive(Debug, Clone)]
pub struct LogNumber {
    pub id: ConnectionId,
    pub name: String,
    /// The number Meta displays, once fetched.
    pub display_number: Option<String>,
}

impl LogNumber {
    /// The number as people read it, else its name.
    pub fn label(&self) -> &str {
        self.display_number.as_deref().unwrap_or(&self.name)
    }
}

/// A page of the log and the account's numbers. A recipient that is not a phone number is the error of
/// the field `to`.
pub async fn page(
    db: &Db,
    account: AccountId,
    visible: Visible,
    query: LogQuery,
) -> Result<(Vec<LogEntry>, Vec<LogNumber>)> {
    let recipient_index = match query.to.as_deref().map(str::trim) {
        Some(to) if !to.is_empty() => {
            let digits = validate::normalize_phone(to).ok_or_else(|| {
                Error::invalid("to", "must be a phone number in international format")
            })?;
            Some(db.keyring().phone_index(account, &digits)?)
        }
        _ => None,
    };
    let filter = ListFilter {
        status: query.status,
        connection: query.connection,
        recipient_index,
        kind: query.kind,
        since: None,
        until: None,
        before: query.before,
        limit: query.limit,
        visible,
    };
    let reader = db.clone();
    db.read_async(move |conn| {
        let entries = messages::list(conn, account, &filter)?
            .iter()
            .map(|m| {
                Ok(LogEntry {
                    id: m.id,
                    connection: m.connection_id,
                    to: messages::open_recipient(reader.keyring(), m)?,
                    kind: m.kind.clone(),
                    status: m.status,
                    error_code: m.error_code,
                    error_title: m.error_title.clone(),
                    error_details: m.error_details.clone(),
                    created_at: m.created_at,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((entries, numbers(conn, account)?))
    })
    .await
}

/// The account's numbers as the log names them.
pub fn numbers(conn: &rusqlite::Connection, account: AccountId) -> Result<Vec<LogNumber>> {
    let identities = connection_identity::list(conn, account)?;
    Ok(connections::list_for_account(conn, account)?
        .into_iter()
        .map(|c| LogNumber {
            display_number: identities
                .iter()
                .find(|(id, _)| *id == c.id)
                .and_then(|(_, i)| i.display_phone_number.clone()),
            id: c.id,
            name: c.name,
        })
        .collect())
}
