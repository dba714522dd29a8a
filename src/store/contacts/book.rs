//! The contacts as the business's address book: the list (search by the number's blind index, filter by
//! tag, a page at a time), one contact opened, adding and editing one (a name the business gives, its tags),
//! and opting one out or back in. Every query is bound to the account.

use super::place;
use crate::crypto::Key;
use crate::error::Result;
use crate::store::AccountId;
use crate::store::connections::ConnectionId;
use crate::store::keys::Keyring;
use rusqlite::{Connection, OptionalExtension, Row, params};

/// A contact, opened.
#[derive(Debug, Clone)]
pub struct Contact {
    pub id: i64,
    pub connection_id: ConnectionId,
    /// Digits only (or, for a customer Meta names only by a username, that id).
    pub phone: String,
    /// The number's blind index.
    pub phone_index: Vec<u8>,
    /// The name the business gave.
    pub name: Option<String>,
    /// The name the customer gave themselves on WhatsApp.
    pub profile_name: Option<String>,
    pub tags: Vec<String>,
    /// When a message last went either way; `None` if none ever did.
    pub last_message_at: Option<i64>,
    /// When the customer last wrote; `None` if never (added by hand or imported).
    pub last_inbound_at: Option<i64>,
    /// Since when the customer wants no messages from this number, and who said so (`keyword` or `person`).
    pub opted_out: Option<(i64, String)>,
}

impl Contact {
    /// The business's name for them, else their WhatsApp profile name.
    pub fn display_name(&self) -> Option<&str> {
        self.name.as_deref().or(self.profile_name.as_deref())
    }
}

/// Where a page of contacts starts: after this (last message time, 0 for never; contact id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub at: i64,
    pub id: i64,
}

impl Cursor {
    pub fn parse(text: &str) -> Option<Cursor> {
        let (at, id) = text.split_once('_')?;
        Some(Cursor {
            at: at.parse().ok()?,
            id: id.parse().ok()?,
        })
    }

    pub fn text(&self) -> String {
        format!("{}_{}", self.at, self.id)
    }

    pub fn of(contact: &Contact) -> Cursor {
        Cursor {
            at: contact.last_message_at.unwrap_or(0),
            id: contact.id,
        }
    }
}

/// Which contacts a list shows.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only the contacts with this number (its blind index).
    pub phone_index: Option<Vec<u8>>,
    /// Only the contacts with this tag.
    pub tag: Option<String>,
}

const COLUMNS: &str = "c.id, c.connection_id, c.phone, c.name, c.profile_name,
    c.last_message_at, c.last_inbound_at, c.opted_out_at, c.opted_out_by,
    (SELECT group_concat(tag, char(10)) FROM (SELECT tag FROM contact_tags t WHERE t.contact_id = c.id ORDER BY tag)),
    c.phone_index";

/// The order of the list: the most recent message first, contacts that never had one last.
const RECENT: &str = "coalesce(c.last_message_at, nullif(c.last_inbound_at, 0), 0)";

fn open_row(key: &Key, account: AccountId, r: &Row<'_>) -> Result<Contact> {
    let id: i64 = r.get(0)?;
    let text = |index: usize, column: &'static str| -> Result<Option<String>> {
        let sealed: Option<Vec<u8>> = r.get(index)?;
        sealed
            .map(|sealed| {
                let plain = key.open(&place(account, id, column), &sealed)?;
                Ok(String::from_utf8_lossy(&plain).into_owned())
            })
            .transpose()
    };
    let last_inbound: i64 = r.get(6)?;
    let opted_out_at: Option<i64> = r.get(7)?;
    let opted_out_by: Option<String> = r.get(8)?;
    let tags: Option<String> = r.get(9)?;
    Ok(Contact {
        id,
        connection_id: ConnectionId(r.get(1)?),
        phone: text(2, "phone")?.unwrap_or_default(),
        phone_index: r.get(10)?,
        name: text(3, "name")?,
        profile_name: text(4, "profile_name")?,
        tags: tags
            .map(|t| t.lines().map(str::to_owned).collect())
            .unwrap_or_default(),
        last_message_at: r
            .get::<_, Option<i64>>(5)?
            .filter(|at| *at > 0)
            .or((last_inbound > 0).then_some(last_inbound)),
        last_inbound_at: (last_inbound > 0).then_some(last_inbound),
        opted_out: opted_out_at.map(|at| (at, opted_out_by.unwrap_or_default())),
    })
}

/// The account's contacts, the most recent first, `limit` of them after `after`.
pub fn list(
    conn: &Connection,
    keyring: &Keyring,
    account: AccountId,
    filter: &Filter,
    after: Option<Cursor>,
    limit: usize,
) -> Result<Vec<Contact>> {
    let key = keyring.data_key(account)?;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM contacts c
         WHERE c.account_id = ?1
           AND (?2 IS NULL OR c.phone_index = ?2)
           AND (?3 IS NULL OR EXISTS (SELECT 1 FROM contact_tags t
                                      WHERE t.contact_id = c.id AND t.account_id = ?1 AND t.tag = ?3))
           AND (?4 IS NULL OR {RECENT} < ?4 OR ({RECENT} = ?4 AND c.id < ?5))
         ORDER BY {RECENT} DESC, c.id DESC LIMIT ?6"
    ))?;
    let mut rows = stmt.query(params![
        account.0,
        filter.phone_index,
        filter.tag,
        after.map(|c| c.at),
        after.map(|c| c.id),
        limit as i64
    ])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(open_row(&key, account, r)?);
    }
    Ok(out)
}

/// One contact of the account; `None` for another account's.
pub fn find(
    conn: &Connection,
    keyring: &Keyring,
    account: AccountId,
    id: i64,
) -> Result<Option<Contact>> {
    let key = keyring.data_key(account)?;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM contacts c WHERE c.id = ?1 AND c.account_id = ?2"
    ))?;
    let mut rows = stmt.query(params![id, account.0])?;
    match rows.next()? {
        Some(r) => Ok(Some(open_row(&key, account, r)?)),
        None => Ok(None),
    }
}

/// The account's contacts in id order after `after_id`, for an export read in batches.
pub fn batch(
    conn: &Connection,
    keyring: &Keyring,
    account: AccountId,
    after_id: i64,
    limit: usize,
) -> Result<Vec<Contact>> {
    let key = keyring.data_key(account)?;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM contacts c WHERE c.account_id = ?1 AND c.id > ?2 ORDER BY c.id LIMIT ?3"
    ))?;
    let mut rows = stmt.query(params![account.0, after_id, limit as i64])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(open_row(&key, account, r)?);
    }
    Ok(out)
}

/// The tags the account uses, in order.
pub fn tags_in_use(conn: &Connection, account: AccountId) -> Result<Vec<String>> {
    Ok(conn
        .prepare_cached("SELECT DISTINCT tag FROM contact_tags WHERE account_id = ?1 ORDER BY tag")?
        .query_map([account.0], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?)
}

/// A contact the business adds or updates (by hand or from a file).
pub struct Entry<'a> {
    pub connection: ConnectionId,
    /// Digits only.
    pub digits: &'a str,
    pub index: &'a [u8],
    /// The name to give; `None` keeps the one it has.
    pub name: Option<&'a str>,
    /// The tags to set; `None` keeps the ones it has.
    pub tags: Option<&'a [String]>,
}

/// Adds the contact on that number, or updates the one there; its id and whether it was added. The
/// connection must be the account's (the caller checked it).
pub fn save(
    conn: &Connection,
    keyring: &Keyring,
    account: AccountId,
    entry: &Entry<'_>,
    now: i64,
) -> Result<(i64, bool)> {
    let existing: Option<i64> = conn
        .prepare_cached(
            "SELECT id FROM contacts WHERE connection_id = ?1 AND phone_index = ?2 AND account_id = ?3",
        )?
        .query_row(params![entry.connection.0, entry.index, account.0], |r| {
            r.get(0)
        })
        .optional()?;
    let (id, added) = match existing {
        Some(id) => (id, false),
        None => {
            let id = crate::store::ids::time_ordered()?;
            let key = keyring.data_key(account)?;
            let phone = key.seal(&place(account, id, "phone"), entry.digits.as_bytes())?;
            // Never wrote: last_inbound_at 0.
            conn.prepare_cached(
                "INSERT INTO contacts (id, account_id, connection_id, phone_index, phone, last_inbound_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, 0)",
            )?
            .execute(params![id, account.0, entry.connection.0, entry.index, phone])?;
            (id, true)
        }
    };
    set(conn, keyring, account, id, entry.name, entry.tags, now)?;
    Ok((id, added))
}

/// Whether the contact is the account's.
pub fn exists(conn: &Connection, account: AccountId, id: i64) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM contacts WHERE id = ?1 AND account_id = ?2")?
        .query_row(params![id, account.0], |_| Ok(()))
        .optional()?
        .is_some())
}

/// The account's contact as the messages to it are filed: its number and its blind index.
pub fn recipient_of(
    conn: &Connection,
    account: AccountId,
    id: i64,
) -> Result<Option<(ConnectionId, Vec<u8>)>> {
    Ok(conn
        .prepare_cached(
            "SELECT connection_id, phone_index FROM contacts WHERE id = ?1 AND account_id = ?2",
        )?
        .query_row(params![id, account.0], |r| {
            Ok((ConnectionId(r.get(0)?), r.get(1)?))
        })
        .optional()?)
}

/// Gives a contact a name (empty: none) and tags; false if it is not the account's.
pub fn edit(
    conn: &Connection,
    keyring: &Keyring,
    account: AccountId,
    id: i64,
    name: &str,
    tags: &[String],
    now: i64,
) -> Result<bool> {
    if !exists(conn, account, id)? {
        return Ok(false);
    }
    set(conn, keyring, account, id, Some(name), Some(tags), now)?;
    Ok(true)
}

fn set(
    conn: &Connection,
    keyring: &Keyring,
    account: AccountId,
    id: i64,
    name: Option<&str>,
    tags: Option<&[String]>,
    now: i64,
) -> Result<()> {
    if let Some(name) = name {
        let sealed = match name.trim() {
            "" => None,
            name => Some(
                keyring
                    .data_key(account)?
                    .seal(&place(account, id, "name"), name.as_bytes())?,
            ),
        };
        conn.prepare_cached("UPDATE contacts SET name = ?3 WHERE id = ?1 AND account_id = ?2")?
            .execute(params![id, account.0, sealed])?;
    }
    if let Some(tags) = tags {
        conn.prepare_cached("DELETE FROM contact_tags WHERE contact_id = ?1 AND account_id = ?2")?
            .execute(params![id, account.0])?;
        let mut insert = conn.prepare_cached(
            "INSERT OR IGNORE INTO contact_tags (contact_id, account_id, tag) VALUES (?1, ?2, ?3)",
        )?;
        for tag in tags {
            insert.execute(params![id, account.0, tag])?;
        }
    }
    conn.prepare_cached("UPDATE contacts SET saved_at = ?3 WHERE id = ?1 AND account_id = ?2")?
        .execute(params![id, account.0, now])?;
    Ok(())
}

/// Who opted a customer out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptedOutBy {
    /// The customer, with one of the opt-out words.
    Keyword,
    /// A person of the account, on the contact's page.
    Person,
}

impl OptedOutBy {
    pub fn as_str(self) -> &'static str {
        match self {
            OptedOutBy::Keyword => "keyword",
            OptedOutBy::Person => "person",
        }
    }
}

/// Opts the contact out (`Some`: since when, by whom) or back in (`None`); false if it is not the
/// account's or was already so. Opting out again keeps the first time.
pub fn set_opt_out(
    conn: &Connection,
    account: AccountId,
    id: i64,
    out: Option<(i64, OptedOutBy)>,
) -> Result<bool> {
    let changed = match out {
        Some((at, by)) => conn
            .prepare_cached(
                "UPDATE contacts SET opted_out_at = ?3, opted_out_by = ?4
                 WHERE id = ?1 AND account_id = ?2 AND opted_out_at IS NULL",
            )?
            .execute(params![id, account.0, at, by.as_str()])?,
        None => conn
            .prepare_cached(
                "UPDATE contacts SET opted_out_at = NULL, opted_out_by = NULL
                 WHERE id = ?1 AND account_id = ?2 AND opted_out_at IS NOT NULL",
            )?
            .execute(params![id, account.0])?,
    };
    Ok(changed > 0)
}
