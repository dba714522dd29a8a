//! Where an account's rows are: every table with an `account_id` column (or a foreign key to `accounts`),
//! and every table whose rows cascade from one of those, found in the schema so that a table added later
//! is not forgotten, in an order that deletes rows that point at a row before it.

use super::Counts;
use crate::error::Result;
use crate::store::AccountId;
use crate::store::retention::BATCH;
use rusqlite::Connection;
use std::collections::{BTreeMap, BTreeSet};

/// A table that holds rows of an account, and how to find them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holding {
    pub table: String,
    /// The column naming the account (`account_id`), or the column pointing at a parent that does.
    pub column: String,
    /// For a table without an account column: (parent table, parent column pointed at, parent's
    /// account column). Its rows are those whose parent is the account's.
    pub via: Option<(String, String, String)>,
    /// What identifies a row for a batch: `rowid`, or the primary key of a WITHOUT ROWID table.
    key: Vec<String>,
}

impl Holding {
    /// The SQL condition (account as ?1) selecting the account's rows.
    pub fn condition(&self) -> String {
        match &self.via {
            None => format!("\"{}\" = ?1", self.column),
            Some((parent, to, account_column)) => format!(
                "\"{}\" IN (SELECT \"{to}\" FROM \"{parent}\" WHERE \"{account_column}\" = ?1)",
                self.column
            ),
        }
    }

    /// The key columns, comma-separated.
    fn key(&self) -> String {
        let columns: Vec<String> = self.key.iter().map(|k| format!("\"{k}\"")).collect();
        columns.join(", ")
    }
}

struct TableInfo {
    name: String,
    columns: Vec<String>,
    primary_key: Vec<String>,
    without_rowid: bool,
    /// (column, parent table, parent column, on delete)
    foreign_keys: Vec<(String, String, Option<String>, String)>,
}

fn tables(conn: &Connection) -> Result<Vec<TableInfo>> {
    let mut stmt = conn.prepare(
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )?;
    let listed: Vec<(String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut out = Vec::new();
    for (name, sql) in listed {
        let mut columns = Vec::new();
        let mut primary_key = Vec::new();
        let mut info =
            conn.prepare("SELECT name, pk FROM pragma_table_info(?1) ORDER BY pk, cid")?;
        for row in info.query_map([&name], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
        })? {
            let (column, pk) = row?;
            if pk > 0 {
                primary_key.push(column.clone());
            }
            columns.push(column);
        }
        let mut fks = conn.prepare(
            "SELECT \"from\", \"table\", \"to\", on_delete FROM pragma_foreign_key_list(?1)",
        )?;
        let foreign_keys = fks
            .query_map([&name], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        out.push(TableInfo {
            without_rowid: sql.to_ascii_uppercase().contains("WITHOUT ROWID"),
            name,
            columns,
            primary_key,
            foreign_keys,
        });
    }
    Ok(out)
}

/// Every table holding rows of an account, in the order they are deleted (a table before the tables it
/// points at). `accounts` itself is not listed.
pub fn holdings(conn: &Connection) -> Result<Vec<Holding>> {
    let tables = tables(conn)?;
    let account_column = |t: &TableInfo| -> Option<String> {
        if t.name == "accounts" {
            return None;
        }
        t.foreign_keys
            .iter()
            .find(|(_, parent, _, _)| parent == "accounts")
            .map(|(from, ..)| from.clone())
            .or_else(|| t.columns.iter().find(|c| *c == "account_id").cloned())
    };
    let with_account: BTreeMap<&str, String> = tables
        .iter()
        .filter_map(|t| account_column(t).map(|c| (t.name.as_str(), c)))
        .collect();
    let mut found = Vec::new();
    for t in &tables {
        let key = if t.without_rowid {
            t.primary_key.clone()
        } else {
            vec!["rowid".to_owned()]
        };
        if let Some(column) = with_account.get(t.name.as_str()) {
            found.push(Holding {
                table: t.name.clone(),
                column: column.clone(),
                via: None,
                key,
            });
            continue;
        }
        // Rows that go when an account's row goes (ON DELETE CASCADE): the people's sessions, consents, ...
        for (from, parent, to, on_delete) in &t.foreign_keys {
            let Some(parent_column) = with_account.get(parent.as_str()) else {
                continue;
            };
            if !on_delete.eq_ignore_ascii_case("CASCADE") || parent == &t.name {
                continue;
            }
            let parent_key = to.clone().unwrap_or_else(|| {
                tables
                    .iter()
                    .find(|p| &p.name == parent)
                    .and_then(|p| p.primary_key.first().cloned())
                    .unwrap_or_else(|| "rowid".to_owned())
            });
            found.push(Holding {
                table: t.name.clone(),
                column: from.clone(),
                via: Some((parent.clone(), parent_key, parent_column.clone())),
                key: key.clone(),
            });
        }
    }
    // A table goes before every table it points at, so no cascade deletes more than a batch.
    let points_at = |name: &str| -> BTreeSet<String> {
        tables
            .iter()
            .find(|t| t.name == name)
            .map(|t| {
                t.foreign_keys
                    .iter()
                    .map(|(_, parent, ..)| parent.clone())
                    .filter(|p| p != name)
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut left: Vec<Holding> = found;
    let mut ordered = Vec::with_capacity(left.len());
    while !left.is_empty() {
        let pointed: BTreeSet<String> = left.iter().flat_map(|h| points_at(&h.table)).collect();
        let (ready, rest): (Vec<Holding>, Vec<Holding>) =
            left.into_iter().partition(|h| !pointed.contains(&h.table));
        if ready.is_empty() {
            // A cycle (none today): the rest in name order; the account row's cascade finishes the job.
            ordered.extend(rest);
            break;
        }
        ordered.extend(ready);
        left = rest;
    }
    Ok(ordered)
}

/// How many rows of the account each table still holds (those with none are left out).
pub fn count_account_rows(conn: &Connection, account: AccountId) -> Result<Counts> {
    let mut counts = Counts::default();
    for h in holdings(conn)? {
        let n: i64 = conn.query_row(
            &format!(
                "SELECT count(*) FROM \"{}\" WHERE {}",
                h.table,
                h.condition()
            ),
            [account.0],
            |r| r.get(0),
        )?;
        counts.add(&h.table, n as u64);
    }
    Ok(counts)
}

/// Deletes up to `BATCH` of the account's rows of one table; how many.
pub fn delete_batch(conn: &Connection, holding: &Holding, account: AccountId) -> Result<u64> {
    let key = holding.key();
    let sql = format!(
        "DELETE FROM \"{table}\" WHERE ({key}) IN (SELECT {key} FROM \"{table}\" WHERE {condition} LIMIT {BATCH})",
        table = holding.table,
        condition = holding.condition()
    );
    Ok(conn.prepare_cached(&sql)?.execute([account.0])? as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_of_an_account_is_found_and_ordered_before_what_it_points_at() {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::store::connect(
            &dir.path().join("t.db"),
            crate::config::Synchronous::Normal,
            false,
        )
        .unwrap();
        crate::store::migrations::run(&conn, &dir.path().join("t.db")).unwrap();
        let found = holdings(&conn).unwrap();
        let position = |t: &str| {
            found
                .iter()
                .position(|h| h.table == t)
                .unwrap_or_else(|| panic!("{t} is not found"))
        };
        for table in ["messages", "users", "webhook_attempts", "contacts"] {
            assert!(found[position(table)].via.is_none(), "{table}");
        }
        for table in ["sessions", "consents", "known_browsers"] {
            assert_eq!(
                found[position(table)].via.as_ref().unwrap().0,
                "users",
                "{table}"
            );
        }
        assert!(position("message_statuses") < position("messages"));
        assert!(position("message_statuses") < position("webhook_payloads"));
        assert!(position("webhook_attempts") < position("webhook_deliveries"));
        assert!(position("webhook_deliveries") < position("webhook_events"));
        assert!(position("inbound_messages") < position("contacts"));
        assert!(position("sessions") < position("users"));
        assert!(position("messages") < position("connections"));
        assert!(
            !found
                .iter()
                .any(|h| h.table == "accounts" || h.table == "settings")
        );
    }
}
