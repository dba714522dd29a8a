//! A business's end customers, as its address book: adding one by hand, giving one a name and tags,
//! opting one out of messages or back in (by hand, or by the customer's keyword as Meta's webhooks bring
//! it), importing and exporting them as CSV (`csv.rs`), and erasing one (the right to deletion of the
//! people it writes to), for the pages and the API. See `store::erasure::erase_customer` for what remains.

use crate::config::Keyword;
use crate::domain::meta::webhook::MetaError;
use crate::domain::phone::{MobileNumber, NotMobile};
use crate::error::{Error, Result};
use crate::outbound::customer_webhooks::emit::Emitter;
use crate::store::connections::{self, ConnectionId};
use crate::store::contacts::{self, Contact, Entry, OptedOutBy};
use crate::store::keys::Keyring;
use crate::store::states::MessageStatus;
use crate::store::users::UserId;
use crate::store::{AccountId, Db, activity, erasure, messages, now_ms};
use rusqlite::Connection;

pub mod csv;

/// The most tags a contact has.
pub const MAX_TAGS: usize = 10;
/// The longest tag, in characters.
pub const MAX_TAG: usize = 24;
/// The longest name the business gives, in characters.
pub const MAX_NAME: usize = 80;

/// Who changes a contact, for the activity log: the person (none for the API), their address and browser.
pub type Actor = (Option<UserId>, String, String);

fn record(
    conn: &Connection,
    account: AccountId,
    actor: &Actor,
    action: &str,
    detail: &str,
) -> Result<()> {
    let (user, ip, user_agent) = actor;
    let who = activity::Actor {
        account: Some(account),
        user: *user,
        ip,
        user_agent,
    };
    activity::record(conn, &who, action, detail, now_ms())
}

/// Why a contact's fields are refused: the catalog key of the words (under `contacts.refused`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Number(NotMobile),
    TooManyTags,
    BadTag,
    NameTooLong,
}

impl Refusal {
    pub fn key(self) -> &'static str {
        match self {
            Refusal::Number(NotMobile::Unreadable) => "contacts.refused.number_unreadable",
            Refusal::Number(NotMobile::Invalid) => "contacts.refused.number_invalid",
            Refusal::Number(NotMobile::NotMobile) => "contacts.refused.number_not_mobile",
            Refusal::TooManyTags => "contacts.refused.too_many_tags",
            Refusal::BadTag => "contacts.refused.bad_tag",
            Refusal::NameTooLong => "contacts.refused.name_too_long",
        }
    }

    /// The field of a form or a file's column it concerns.
    pub fn field(self) -> &'static str {
        match self {
            Refusal::Number(_) => "number",
            Refusal::TooManyTags | Refusal::BadTag => "tags",
            Refusal::NameTooLong => "name",
        }
    }
}

/// A customer's number as typed: international (`+`, `00`, or digits with the country code, as a
/// spreadsheet keeps them), checked with the numbering plans; Arabic-Indic digits read as Western ones.
/// Digits only.
pub fn number(typed: &str) -> std::result::Result<String, Refusal> {
    let western = crate::domain::lang::normalise_digits(typed);
    let typed = western.trim();
    let international =
        if typed.starts_with(|c: char| c.is_ascii_digit()) && !typed.starts_with("00") {
            format!("+{typed}")
        } else {
            typed.to_owned()
        };
    let number = MobileNumber::parse(&international).map_err(Refusal::Number)?;
    Ok(number.e164().trim_start_matches('+').to_owned())
}

/// Tags as typed: separated by `;`, `|`, `,` or spaces; each a short word of letters, digits, `-` or `_`;
/// repeated ones once (case aside), at most `MAX_TAGS`, in lower case.
pub fn tags(typed: &str) -> std::result::Result<Vec<String>, Refusal> {
    let mut out: Vec<String> = Vec::new();
    for tag in typed.split(|c: char| matches!(c, ';' | '|' | ',') || c.is_whitespace()) {
        if tag.is_empty() {
            continue;
        }
        let tag = tag.to_lowercase();
        let word = |c: char| c.is_alphanumeric() || c == '-' || c == '_';
        if tag.chars().count() > MAX_TAG || !tag.chars().all(word) {
            return Err(Refusal::BadTag);
        }
        if !out.contains(&tag) {
            out.push(tag);
        }
    }
    if out.len() > MAX_TAGS {
        return Err(Refusal::TooManyTags);
    }
    out.sort();
    Ok(out)
}

/// A name as typed: trimmed, without control characters, at most `MAX_NAME` characters.
pub fn name(typed: &str) -> std::result::Result<String, Refusal> {
    let name: String = typed
        .trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if name.chars().count() > MAX_NAME {
        return Err(Refusal::NameTooLong);
    }
    Ok(name)
}

/// The account's contact, or 404.
pub async fn find(db: &Db, account: AccountId, id: i64) -> Result<Contact> {
    let key_db = db.clone();
    db.read_async(move |conn| contacts::find(conn, key_db.keyring(), account, id))
        .await?
        .ok_or(Error::NotFound)
}

/// What a person typed to add a contact.
pub struct NewContact<'a> {
    pub connection: ConnectionId,
    pub number: &'a str,
    pub name: &'a str,
    pub tags: &'a str,
}

/// Adds a contact by hand on one of the account's numbers (or gives the one there this name and these
/// tags); its id. A refused field is `Error::Invalid` naming it, with the refusal's catalog key.
pub async fn add(db: &Db, account: AccountId, actor: Actor, new: &NewContact<'_>) -> Result<i64> {
    let invalid = |r: Refusal| Error::invalid(r.field(), r.key());
    let digits = number(new.number).map_err(invalid)?;
    let name = name(new.name).map_err(invalid)?;
    let tags = tags(new.tags).map_err(invalid)?;
    let index = db.keyring().phone_index(account, &digits)?;
    let (write_db, connection) = (db.clone(), new.connection);
    db.write_async(move |conn| {
        connections::find(conn, account, connection)?
            .ok_or_else(|| Error::invalid("connection_id", "contacts.refused.connection"))?;
        let entry = Entry {
            connection,
            digits: &digits,
            index: &index,
            name: (!name.is_empty()).then_some(name.as_str()),
            tags: Some(&tags),
        };
        let (id, added) = contacts::save(conn, write_db.keyring(), account, &entry, now_ms())?;
        let action = if added {
            "contact_added"
        } else {
            "contact_edited"
        };
        record(conn, account, &actor, action, &format!("contact {id}"))?;
        Ok(id)
    })
    .await
}

/// Gives the account's contact a name (empty: none, so the WhatsApp profile name shows) and tags.
pub async fn edit(
    db: &Db,
    account: AccountId,
    actor: Actor,
    id: i64,
    (typed_name, typed_tags): (&str, &str),
) -> Result<()> {
    let invalid = |r: Refusal| Error::invalid(r.field(), r.key());
    let name = name(typed_name).map_err(invalid)?;
    let tags = tags(typed_tags).map_err(invalid)?;
    let write_db = db.clone();
    db.write_async(move |conn| {
        if !contacts::edit(
            conn,
            write_db.keyring(),
            account,
            id,
            &name,
            &tags,
            now_ms(),
        )? {
            return Err(Error::NotFound);
        }
        record(
            conn,
            account,
            &actor,
            "contact_edited",
            &format!("contact {id}"),
        )
    })
    .await
}

/// A person opts the account's contact out of messages from its number (`out`), or back in. Recorded in
/// the activity log, with who did it.
pub async fn opt_out_by_hand(
    db: &Db,
    account: AccountId,
    actor: Actor,
    id: i64,
    out: bool,
) -> Result<()> {
    let keyring = db.clone();
    db.write_async(move |conn| {
        let now = now_ms();
        let state = out.then_some((now, OptedOutBy::Person));
        if contacts::set_opt_out(conn, account, id, state)? {
            if out {
                fail_queued(conn, keyring.keyring(), account, id, now)?;
            }
            let action = if out {
                "contact_opted_out"
            } else {
                "contact_opted_in"
            };
            record(conn, account, &actor, action, &format!("contact {id}"))?;
        } else if !contacts::exists(conn, account, id)? {
            return Err(Error::NotFound);
        }
        Ok(())
    })
    .await
}

/// A customer's keyword, in the transaction that stores their message: opts them out of the number's
/// messages (or back in), and says so in the activity log (as the customer's doing, with no person).
pub fn apply_keyword(
    conn: &Connection,
    keyring: &Keyring,
    account: AccountId,
    contact: i64,
    keyword: Keyword,
    at: i64,
) -> Result<()> {
    let (state, action) = match keyword {
        Keyword::OptOut => (Some((at, OptedOutBy::Keyword)), "contact_opted_out"),
        Keyword::OptIn => (None, "contact_opted_in"),
    };
    if contacts::set_opt_out(conn, account, contact, state)? {
        if keyword == Keyword::OptOut {
            fail_queued(conn, keyring, account, contact, now_ms())?;
        }
        let who = activity::Actor::nobody(Some(account));
        activity::record(
            conn,
            &who,
            action,
            &format!("contact {contact} by keyword"),
            now_ms(),
        )?;
    }
    Ok(())
}

/// In the transaction that opts a contact out: the messages to them still waiting in the queue fail
/// (the customer asked to stop before they were sent; those already handed to Meta go on), and the
/// account's webhook endpoints are told, as for any failed message.
fn fail_queued(
    conn: &Connection,
    keyring: &Keyring,
    account: AccountId,
    contact: i64,
    now: i64,
) -> Result<()> {
    let Some((connection, index)) = contacts::recipient_of(conn, account, contact)? else {
        return Ok(());
    };
    // Meta's own code for a customer who stopped a business's messages, so the pages explain it in words.
    let error = MetaError {
        code: 131050,
        title: "recipient_opted_out".to_owned(),
        details:
            "The customer opted out of messages from this number before this message was sent; \
                  it was not sent."
                .to_owned(),
    };
    let failed = messages::fail_queued_to(
        conn,
        account,
        connection,
        &index,
        (error.code, &error.title, &error.details),
        now,
    )?;
    let events = Emitter::new(conn, keyring, account, now);
    for id in failed {
        events.message_status(
            id.get(),
            connection,
            MessageStatus::Failed.as_str(),
            None,
            now,
            Some(&error),
        )?;
    }
    Ok(())
}

/// Erases the account's contact (its customer, on every number of the account).
pub async fn erase_contact(
    db: &Db,
    account: AccountId,
    id: i64,
    actor: Actor,
) -> Result<erasure::Counts> {
    let contact = find(db, account, id).await?;
    erase(db, account, contact.phone_index, actor).await
}

/// Erases the customer with this blind index and records it (with the counts, never the number).
pub async fn erase(
    db: &Db,
    account: AccountId,
    index: Vec<u8>,
    actor: Actor,
) -> Result<erasure::Counts> {
    let erase_db = db.clone();
    let deleted = crate::blocking::run("erasure", move || {
        erasure::erase_customer(&erase_db, account, index)
    })
    .await??;
    let detail = format!(
        "{} messages, {} received",
        deleted.get("messages"),
        deleted.get("inbound_messages")
    );
    db.write_async(move |conn| record(conn, account, &actor, "customer_erased", &detail))
        .await?;
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_read_as_a_spreadsheet_keeps_them() {
        assert_eq!(number("+965 5000 1234").as_deref(), Ok("96550001234"));
        assert_eq!(number("0096550001234").as_deref(), Ok("96550001234"));
        assert_eq!(number("96550001234").as_deref(), Ok("96550001234"));
        // As an Arabic keyboard types it, without the `+`.
        assert_eq!(number("٩٦٥٥٠٠٠١٢٣٤").as_deref(), Ok("96550001234"));
        assert_eq!(number("hello"), Err(Refusal::Number(NotMobile::Unreadable)));
        assert!(number("+9655").is_err());
    }

    #[test]
    fn tags_are_short_words_a_few_per_contact() {
        assert_eq!(
            tags("VIP; riyadh|vip , جملة").unwrap(),
            ["riyadh", "vip", "جملة"]
        );
        assert_eq!(tags("").unwrap(), Vec::<String>::new());
        assert_eq!(tags("a;b;c;d;e;f;g;h;i;j;k"), Err(Refusal::TooManyTags));
        assert_eq!(tags("=cmd()"), Err(Refusal::BadTag));
        assert_eq!(tags(&"x".repeat(MAX_TAG + 1)), Err(Refusal::BadTag));
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(name("  Sara\tAli ").unwrap(), "Sara Ali");
        assert_eq!(name(&"n".repeat(MAX_NAME + 1)), Err(Refusal::NameTooLong));
    }
}
