//! A connection's message templates, as Meta lists them: synced on demand (the API and the Templates
//! page) and on a schedule (`jobs::templates`); submitted for review (`draft` checks them first) and
//! deleted through Meta's template API. Review results come back in Meta's
//! `message_template_status_update` webhook (`services::meta_events`).

pub mod draft;

use crate::error::{Error, Result};
use crate::outbound::graph::{Graph, SendError, TemplateRefusal};
use crate::store::connections::{self, ConnectionId, ConnectionInfo};
use crate::store::{AccountId, Db, templates};
pub use draft::{Mistake, TemplateDraft};

/// Fetches the connection's templates from Meta and stores them; how many there are.
pub fn sync_connection(
    db: &Db,
    agent: &ureq::Agent,
    account: AccountId,
    connection: &ConnectionInfo,
) -> crate::error::Result<usize> {
    let id = connection.id;
    let token =
        db.read(|conn| Ok(connections::secrets(conn, db.keyring(), account, id)?.access_token))?;
    let listed = Graph::of(agent, connection, &token)
        .templates(&connection.waba_id)
        .map_err(|e| e.unavailable("the template list"))?;
    db.write(move |conn| templates::replace_for_connection(conn, account, id, &listed))
}

/// Why a template was not submitted.
#[derive(Debug)]
pub enum Refused {
    /// Mistakes of the draft, each with its field.
    Mistakes(Vec<Mistake>),
    /// Meta refused it: its words, and the field they are about when it is known.
    Meta {
        field: Option<&'static str>,
        words: String,
    },
    Failed(Error),
}

impl From<Error> for Refused {
    fn from(e: Error) -> Self {
        Refused::Failed(e)
    }
}

/// The account's connection with this id and its access token.
fn connection_of(
    db: &Db,
    account: AccountId,
    connection: ConnectionId,
) -> Result<(ConnectionInfo, zeroize::Zeroizing<String>)> {
    db.read(|conn| {
        let found = connections::find(conn, account, connection)?.ok_or(Error::NotFound)?;
        let token = connections::secrets(conn, db.keyring(), account, connection)?.access_token;
        Ok((found, token))
    })
}

/// Checks a draft, submits it to Meta for review, and records it with Meta's answer (pending, most
/// often). Blocking: call it from a blocking thread.
pub fn create(
    db: &Db,
    agent: &ureq::Agent,
    account: AccountId,
    connection: ConnectionId,
    draft: &TemplateDraft,
) -> std::result::Result<(), Refused> {
    let mistakes = draft.check();
    if !mistakes.is_empty() {
        return Err(Refused::Mistakes(mistakes));
    }
    let (found, token) = connection_of(db, account, connection)?;
    let request = draft.request();
    let created = match Graph::of(agent, &found, &token).create_template(&found.waba_id, &request) {
        Ok(created) => created,
        Err(TemplateRefusal {
            error: SendError::Meta(e),
            subcode,
            words,
        }) => {
            let words =
                words
                    .filter(|w| !w.is_empty())
                    .unwrap_or_else(|| match e.details.is_empty() {
                        true => e.title.clone(),
                        false => e.details.clone(),
                    });
            return Err(Refused::Meta {
                field: subcode.and_then(field_of_subcode),
                words,
            });
        }
        Err(other) => return Err(Refused::Failed(other.error.unavailable("the new template"))),
    };
    let components = request["components"].clone();
    let name = draft.name.trim().to_owned();
    let (language, category) = (draft.language.clone(), draft.category.clone());
    db.write(move |conn| {
        let submitted = templates::Submitted {
            name: &name,
            language: &language,
            category: created.category.as_deref().unwrap_or(&category),
            status: &created.status,
            meta_id: &created.id,
            components: &components,
        };
        templates::insert_submitted(conn, account, connection, &submitted)
    })?;
    Ok(())
}

/// The form's field one of Meta's template-creation subcodes is about (reference: 2388xxx).
fn field_of_subcode(subcode: i64) -> Option<&'static str> {
    match subcode {
        2388023 | 2388024 => Some("name"),
        2388026 => Some("language"),
        2388032 => Some("category"),
        2388043 | 2388293 | 2388299 => Some("body_examples"),
        2388040 | 2388072 => Some("body"),
        2388047 => Some("header_text"),
        2388073 => Some("footer"),
        _ => None,
    }
}

/// Deletes a template (every language of its name) at Meta and here. Blocking.
pub fn delete(
    db: &Db,
    agent: &ureq::Agent,
    account: AccountId,
    connection: ConnectionId,
    name: &str,
) -> Result<()> {
    let (found, token) = connection_of(db, account, connection)?;
    Graph::of(agent, &found, &token)
        .delete_template(&found.waba_id, name)
        .map_err(|e| e.unavailable("deleting the template"))?;
    let name = name.to_owned();
    db.write(move |conn| templates::delete_named(conn, account, connection, &name))?;
    Ok(())
}
