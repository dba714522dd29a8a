//! Message templates as Meta reports them, kept per connection so a template message can be checked
//! (name, language, status, number of parameters) before it is queued.

use super::AccountId;
use super::connections::ConnectionId;
use crate::error::Result;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Clone, Serialize)]
pub struct Template {
    pub connection_id: String,
    pub name: String,
    pub language: String,
    pub category: String,
    pub status: String,
    pub body_params: i64,
    pub header_params: i64,
    pub synced_at: i64,
    /// Meta's components (header, body, footer, buttons) as it lists them.
    pub components: Value,
    /// Why Meta rejected it (empty unless it did).
    pub reason: String,
}

const COLUMNS: &str = "connection_id, name, language, category, status, body_params, header_params, synced_at, components, reason";

/// Distinct `{{...}}` placeholders in a text: `{{1}}`, `{{2}}` or named ones.
pub fn placeholders(text: &str) -> i64 {
    let mut found = std::collections::HashSet::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        found.insert(after[..end].trim().to_owned());
        rest = &after[end + 2..];
    }
    found.len() as i64
}

fn count_in(components: &Value, kind: &str) -> i64 {
    components
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| {
            c["type"]
                .as_str()
                .is_some_and(|t| t.eq_ignore_ascii_case(kind))
        })
        .filter_map(|c| c["text"].as_str())
        .map(placeholders)
        .sum()
}

/// Replaces a connection's templates with what Meta just listed.
pub fn replace_for_connection(
    conn: &Connection,
    account: AccountId,
    connection: ConnectionId,
    listed: &[Value],
) -> Result<usize> {
    let now = super::now_ms();
    // Meta's list names a rejection's reason only when asked (`rejected_reason`); the webhook's is kept.
    let mut kept = conn.prepare_cached(
        "SELECT name, language, reason FROM templates WHERE connection_id = ?1 AND account_id = ?2 AND reason != ''",
    )?;
    let reasons: std::collections::HashMap<(String, String), String> = kept
        .query_map(params![connection.0, account.0], |r| {
            Ok(((r.get(0)?, r.get(1)?), r.get(2)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    conn.execute(
        "DELETE FROM templates WHERE connection_id = ?1 AND account_id = ?2",
        params![connection.0, account.0],
    )?;
    let mut insert = conn.prepare_cached(
        "INSERT OR REPLACE INTO templates (account_id, connection_id, name, language, category, status, body_params,
                                          header_params, components, synced_at, reason, meta_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?;
    let mut stored = 0;
    for template in listed {
        let (Some(name), Some(language)) =
            (template["name"].as_str(), template["language"].as_str())
        else {
            continue;
        };
        let components = &template["components"];
        let status = template["status"].as_str().unwrap_or("UNKNOWN");
        let reason = match template["rejected_reason"].as_str() {
            Some(given) if !given.is_empty() && given != "NONE" => given.to_owned(),
            _ if status == "REJECTED" => reasons
                .get(&(name.to_owned(), language.to_owned()))
                .cloned()
                .unwrap_or_default(),
            _ => String::new(),
        };
        insert.execute(params![
            account.0,
            connection.0,
            name,
            language,
            template["category"].as_str().unwrap_or_default(),
            status,
            count_in(components, "BODY"),
            count_in(components, "HEADER"),
            components.to_string(),
            now,
            reason,
            template["id"].as_str().unwrap_or_default(),
        ])?;
        stored += 1;
    }
    conn.execute(
        "UPDATE connections SET templates_synced_at = ?3 WHERE id = ?1 AND account_id = ?2",
        params![connection.0, account.0, now],
    )?;
    Ok(stored)
}

/// Whether the connection's templates were ever synced (before that, nothing can be checked locally).
pub fn synced(conn: &Connection, account: AccountId, connection: ConnectionId) -> Result<bool> {
    Ok(conn
        .query_row(
            "SELECT templates_synced_at IS NOT NULL FROM connections WHERE id = ?1 AND account_id = ?2",
            params![connection.0, account.0],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or(false))
}

pub fn find(
    conn: &Connection,
    account: AccountId,
    connection: ConnectionId,
    name: &str,
    language: &str,
) -> Result<Option<Template>> {
    Ok(conn
        .query_row(
            &format!(
                "SELECT {COLUMNS} FROM templates
                 WHERE account_id = ?1 AND connection_id = ?2 AND name = ?3 AND language = ?4"
            ),
            params![account.0, connection.0, name, language],
            from_row,
        )
        .optional()?)
}

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Template> {
    Ok(Template {
        connection_id: r.get::<_, i64>(0)?.to_string(),
        name: r.get(1)?,
        language: r.get(2)?,
        category: r.get(3)?,
        status: r.get(4)?,
        body_params: r.get(5)?,
        header_params: r.get(6)?,
        synced_at: r.get(7)?,
        components: serde_json::from_str(&r.get::<_, String>(8)?).unwrap_or(Value::Null),
        reason: r.get(9)?,
    })
}

pub fn list_for_account(conn: &Connection, account: AccountId) -> Result<Vec<Template>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM templates WHERE account_id = ?1 ORDER BY name, language"
    ))?;
    Ok(stmt
        .query_map([account.0], from_row)?
        .collect::<rusqlite::Result<_>>()?)
}

/// Records a template's new review status from Meta's `message_template_status_update`, with the
/// reason of a rejection (cleared otherwise); how many rows it changed (none for a template this
/// connection does not have).
pub fn set_status(
    conn: &Connection,
    account: AccountId,
    connection: ConnectionId,
    review: &Review<'_>,
) -> Result<usize> {
    Ok(conn.execute(
        "UPDATE templates SET status = ?4, reason = ?5, status_at = ?6
         WHERE connection_id = ?1 AND name = ?2 AND language = ?3 AND account_id = ?7",
        params![
            connection.0,
            review.name,
            review.language,
            review.status,
            review.reason.unwrap_or_default(),
            super::now_ms(),
            account.0
        ],
    )?)
}

/// A template's review as Meta reports it.
pub struct Review<'a> {
    pub name: &'a str,
    pub language: &'a str,
    pub status: &'a str,
    pub reason: Option<&'a str>,
}

/// A template just submitted to Meta, as Meta answered (`PENDING`, or at once `APPROVED`/`REJECTED`).
pub struct Submitted<'a> {
    pub name: &'a str,
    pub language: &'a str,
    pub category: &'a str,
    pub status: &'a str,
    pub meta_id: &'a str,
    pub components: &'a Value,
}

/// Records a template submitted from this server, so it shows (pending) before the next sync. Nothing
/// is written for a connection that is not the account's.
pub fn insert_submitted(
    conn: &Connection,
    account: AccountId,
    connection: ConnectionId,
    template: &Submitted<'_>,
) -> Result<()> {
    let now = super::now_ms();
    conn.execute(
        "INSERT INTO templates (account_id, connection_id, name, language, category, status, body_params,
                                header_params, components, synced_at, meta_id, status_at)
         SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?10
         WHERE EXISTS (SELECT 1 FROM connections WHERE id = ?2 AND account_id = ?1)
         ON CONFLICT (connection_id, name, language) DO UPDATE SET
             category = excluded.category, status = excluded.status, body_params = excluded.body_params,
             header_params = excluded.header_params, components = excluded.components,
             meta_id = excluded.meta_id, reason = '', status_at = excluded.status_at
         WHERE account_id = excluded.account_id",
        params![
            account.0,
            connection.0,
            template.name,
            template.language,
            template.category,
            template.status,
            count_in(template.components, "BODY"),
            count_in(template.components, "HEADER"),
            template.components.to_string(),
            now,
            template.meta_id,
        ],
    )?;
    Ok(())
}

/// Forgets a template in every language (Meta deletes a name in all of them); how many rows went.
pub fn delete_named(
    conn: &Connection,
    account: AccountId,
    connection: ConnectionId,
    name: &str,
) -> Result<usize> {
    Ok(conn.execute(
        "DELETE FROM templates WHERE account_id = ?1 AND connection_id = ?2 AND name = ?3",
        params![account.0, connection.0, name],
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_counted_once_each() {
        assert_eq!(placeholders("Hi {{1}}, order {{2}} ships {{2}}"), 2);
        assert_eq!(placeholders("Dear {{customer_name}}"), 1);
        assert_eq!(placeholders("No variables"), 0);
    }
}
