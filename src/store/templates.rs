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
}

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
    conn.execute(
        "DELETE FROM templates WHERE connection_id = ?1 AND account_id = ?2",
        params![connection.0, account.0],
    )?;
    let mut insert = conn.prepare_cached(
        "INSERT OR REPLACE INTO templates (account_id, connection_id, name, language, category, status, body_params,
                                          header_params, components, synced_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
    let mut stored = 0;
    for template in listed {
        let (Some(name), Some(language)) =
            (template["name"].as_str(), template["language"].as_str())
        else {
            continue;
        };
        let components = &template["components"];
        insert.execute(params![
            account.0,
            connection.0,
            name,
            language,
            template["category"].as_str().unwrap_or_default(),
            template["status"].as_str().unwrap_or("UNKNOWN"),
            count_in(components, "BODY"),
            count_in(components, "HEADER"),
            components.to_string(),
            now
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
            "SELECT connection_id, name, language, category, status, body_params, header_params, synced_at FROM templates
             WHERE account_id = ?1 AND connection_id = ?2 AND name = ?3 AND language = ?4",
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
    })
}

pub fn list_for_account(conn: &Connection, account: AccountId) -> Result<Vec<Template>> {
    let mut stmt = conn.prepare(
        "SELECT connection_id, name, language, category, status, body_params, header_params, synced_at FROM templates
         WHERE account_id = ?1 ORDER BY name, language",
    )?;
    Ok(stmt
        .query_map([account.0], from_row)?
        .collect::<rusqlite::Result<_>>()?)
}

/// Records a template's new review status from Meta's `message_template_status_update`.
pub fn set_status(
    conn: &Connection,
    account: AccountId,
    connection: ConnectionId,
    name: &str,
    language: &str,
    status: &str,
) -> Result<()> {
    conn.execute(
        "UPDATE templates SET status = ?4
         WHERE connection_id = ?1 AND name = ?2 AND language = ?3 AND account_id = ?5",
        params![connection.0, name, language, status, account.0],
    )?;
    Ok(())
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
