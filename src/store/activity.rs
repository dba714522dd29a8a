//! The activity log: who did what, from which address and browser.

use super::AccountId;
use super::users::UserId;
use crate::error::Result;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

/// An entry of the log, as `list_for_account` returns it.
pub type Activity = Entry;

#[derive(Clone, Copy)]
pub struct Actor<'a> {
    pub account: Option<AccountId>,
    pub user: Option<UserId>,
    pub ip: &'a str,
    pub user_agent: &'a str,
}

impl Actor<'static> {
    /// No person and no browser: the product itself, a payment provider's event, or an operator whose
    /// address does not belong in the account's log.
    pub fn nobody(account: Option<AccountId>) -> Actor<'static> {
        Actor {
            account,
            user: None,
            ip: "",
            user_agent: "",
        }
    }
}

pub fn record(
    conn: &Connection,
    actor: &Actor<'_>,
    action: &str,
    detail: &str,
    now: i64,
) -> Result<()> {
    conn.execute(
        "INSERT INTO activity_log (account_id, user_id, action, detail, ip, user_agent, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            actor.account.map(|a| a.0),
            actor.user.map(|u| u.0),
            action,
            detail,
            actor.ip,
            actor.user_agent,
            now
        ],
    )?;
    Ok(())
}

/// Every action the product records in an account's log, in the order the Activity page offers them
/// (`activity.action.<name>` in the catalogs words each one).
pub const ACTIONS: &[&str] = &[
    "signed_in",
    "sign_in_failed",
    "signed_out",
    "session_revoked",
    "other_sessions_revoked",
    "password_changed",
    "password_reset",
    "email_change_requested",
    "email_changed",
    "profile_name_changed",
    "company_details_changed",
    "api_key_created",
    "api_key_revoked",
    "connection_added",
    "connection_changed",
    "connection_removed",
    "member_invited",
    "member_joined",
    "member_role_changed",
    "member_removed",
    "member_deleted_themselves",
    "webhook_endpoint_created",
    "webhook_endpoint_changed",
    "webhook_endpoint_paused",
    "webhook_endpoint_resumed",
    "webhook_endpoint_removed",
    "personal_data_exported",
    "account_exported",
    "account_deletion_requested",
    "customer_erased",
    "contact_added",
    "contact_edited",
    "contact_opted_out",
    "contact_opted_in",
    "contacts_imported",
    "contacts_exported",
    "plan_changed",
    "status_changed",
    "account_suspended",
    "account_reactivated",
    "registered",
    "account_created",
    "privacy_policy_accepted",
    "product_news_given",
    "product_news_withdrawn",
    "two_step_enabled",
    "two_step_disabled",
    "recovery_codes_renewed",
    "recovery_code_used",
    "phone_verified",
    "phone_removed",
    "two_step_required",
    "two_step_not_required",
];

/// Which entries of an account's log to list: newest first, at most `limit`, older than `before`.
#[derive(Debug, Clone)]
pub struct Filter {
    pub account: AccountId,
    /// Only this person's entries.
    pub user: Option<UserId>,
    /// Only this action.
    pub action: Option<String>,
    /// From this moment on (milliseconds, included).
    pub from: Option<i64>,
    /// Before this moment (milliseconds, excluded).
    pub to: Option<i64>,
    /// After the entry this cursor names (the `cursor` of the last entry of the page before).
    pub before: Option<Cursor>,
    pub limit: usize,
}

impl Filter {
    /// The newest `limit` entries of the account, unfiltered.
    pub fn account(account: AccountId, limit: usize) -> Filter {
        Filter {
            account,
            user: None,
            action: None,
            from: None,
            to: None,
            before: None,
            limit,
        }
    }
}

/// Where a page of the log ends: its last entry's time and id, written `<created_at>.<id>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    created_at: i64,
    id: i64,
}

impl Cursor {
    pub fn parse(text: &str) -> Option<Cursor> {
        let (created_at, id) = text.split_once('.')?;
        Some(Cursor {
            created_at: created_at.parse().ok()?,
            id: id.parse().ok()?,
        })
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.created_at, self.id)
    }
}

/// One line of an account's log, as stored.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub id: i64,
    pub user_id: Option<UserId>,
    pub action: String,
    pub detail: String,
    pub ip: String,
    pub user_agent: String,
    pub created_at: i64,
}

/// What a page shows of an entry besides its stored text: the catalog key of the action's words (the
/// action itself when the catalogs do not have it) and the browser or program it came from.
#[derive(Debug, Clone)]
pub struct Display {
    pub action_key: String,
    pub agent: crate::domain::user_agent::Agent,
}

impl Entry {
    /// The cursor that continues after this entry.
    pub fn cursor(&self) -> Cursor {
        Cursor {
            created_at: self.created_at,
            id: self.id,
        }
    }

    pub fn display(&self) -> Display {
        Display {
            action_key: format!("activity.action.{}", self.action),
            agent: crate::domain::user_agent::parse(&self.user_agent),
        }
    }
}

/// A page of the account's log, newest first.
pub fn list(conn: &Connection, filter: &Filter) -> Result<Vec<Entry>> {
    let (before_at, before_id) = filter
        .before
        .map_or((None, None), |c| (Some(c.created_at), Some(c.id)));
    let mut stmt = conn.prepare_cached(
        "SELECT id, user_id, action, detail, ip, user_agent, created_at FROM activity_log
         WHERE account_id = ?1
           AND (?2 IS NULL OR user_id = ?2)
           AND (?3 IS NULL OR action = ?3)
           AND (?4 IS NULL OR created_at >= ?4)
           AND (?5 IS NULL OR created_at < ?5)
           AND (?6 IS NULL OR created_at < ?6 OR (created_at = ?6 AND id < ?7))
         ORDER BY created_at DESC, id DESC LIMIT ?8",
    )?;
    let rows = stmt.query_map(
        params![
            filter.account.0,
            filter.user.map(|u| u.0),
            filter.action,
            filter.from,
            filter.to,
            before_at,
            before_id,
            filter.limit as i64
        ],
        |r| {
            Ok(Entry {
                id: r.get(0)?,
                user_id: r.get::<_, Option<i64>>(1)?.map(UserId),
                action: r.get(2)?,
                detail: r.get(3)?,
                ip: r.get(4)?,
                user_agent: r.get(5)?,
                created_at: r.get(6)?,
            })
        },
    )?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Records a change made through the API, by no person: the detail names what changed and the key that
/// made it ("hooks.example.com, API key "deploy"").
pub fn record_through_key(
    conn: &Connection,
    actor: &Actor<'_>,
    key: super::api_keys::ApiKeyId,
    action: &str,
    what: &str,
) -> Result<()> {
    let name: Option<String> = conn
        .query_row(
            "SELECT name FROM api_keys WHERE id = ?1 AND account_id = ?2",
            params![key.get(), actor.account.map(|a| a.0)],
            |r| r.get(0),
        )
        .optional()?;
    let key = format!("API key \u{201c}{}\u{201d}", name.unwrap_or_default());
    let detail = if what.is_empty() {
        key
    } else {
        format!("{what}, {key}")
    };
    let actor = Actor {
        user: None,
        ..*actor
    };
    record(conn, &actor, action, &detail, super::now_ms())
}

/// The host of a URL, for a detail that names an endpoint without its path or query (which may hold a
/// customer's token).
pub fn url_host(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    host.to_owned()
}

/// The newest `limit` entries of the account.
pub fn list_for_account(conn: &Connection, account: AccountId, limit: usize) -> Result<Vec<Entry>> {
    list(conn, &Filter::account(account, limit))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(dir: &std::path::Path) -> Connection {
        let conn = crate::store::test_file(dir, "activity.db");
        conn.execute_batch(
            "INSERT INTO accounts (id, company, created_at) VALUES (1, 'Shop', 0), (2, 'Other', 0);
             INSERT INTO users (id, account_id, role, email, name, password_hash, created_at, password_changed_at)
             VALUES (10, 1, 'owner', 'o@shop.test', 'O', 'x', 0, 0), (11, 1, 'member', 'm@shop.test', 'M', 'x', 0, 0),
                    (20, 2, 'owner', 'o@other.test', 'P', 'x', 0, 0);",
        )
        .unwrap();
        conn
    }

    fn add(conn: &Connection, account: i64, user: i64, action: &str, at: i64) {
        let actor = Actor {
            account: Some(AccountId(account)),
            user: Some(UserId(user)),
            ip: "192.0.2.1",
            user_agent: "curl/8.5.0",
        };
        record(conn, &actor, action, "", at).unwrap();
    }

    fn actions(entries: &[Entry]) -> Vec<(&str, i64)> {
        entries
            .iter()
            .map(|e| (e.action.as_str(), e.created_at))
            .collect()
    }

    #[test]
    fn the_log_is_listed_newest_first_by_person_action_and_dates_and_paged() {
        let dir = tempfile::tempdir().unwrap();
        let conn = store(dir.path());
        add(&conn, 1, 10, "signed_in", 100);
        add(&conn, 1, 11, "signed_in", 200);
        add(&conn, 1, 10, "api_key_created", 200);
        add(&conn, 1, 11, "signed_out", 300);
        add(&conn, 2, 20, "signed_in", 250);
        let all = list(&conn, &Filter::account(AccountId(1), 10)).unwrap();
        assert_eq!(
            actions(&all),
            [
                ("signed_out", 300),
                ("api_key_created", 200),
                ("signed_in", 200),
                ("signed_in", 100)
            ],
            "newest first, and never another account's"
        );
        let member = Filter {
            user: Some(UserId(11)),
            ..Filter::account(AccountId(1), 10)
        };
        assert_eq!(
            actions(&list(&conn, &member).unwrap()),
            [("signed_out", 300), ("signed_in", 200)]
        );
        let sign_ins = Filter {
            action: Some("signed_in".into()),
            from: Some(150),
            to: Some(300),
            ..Filter::account(AccountId(1), 10)
        };
        assert_eq!(
            actions(&list(&conn, &sign_ins).unwrap()),
            [("signed_in", 200)]
        );
        // Two a page: the second starts after the first's last entry, even at the same moment.
        let first = list(&conn, &Filter::account(AccountId(1), 2)).unwrap();
        let cursor = Cursor::parse(&first[1].cursor().to_string()).unwrap();
        let second = Filter {
            before: Some(cursor),
            ..Filter::account(AccountId(1), 2)
        };
        assert_eq!(
            actions(&list(&conn, &second).unwrap()),
            [("signed_in", 200), ("signed_in", 100)]
        );
        assert_eq!(Cursor::parse("x.1"), None);
        assert_eq!(Cursor::parse("12"), None);
    }

    #[test]
    fn an_entry_shows_its_action_key_and_browser() {
        let dir = tempfile::tempdir().unwrap();
        let conn = store(dir.path());
        add(&conn, 1, 10, "signed_in", 100);
        let shown = list_for_account(&conn, AccountId(1), 1).unwrap()[0].display();
        assert_eq!(shown.action_key, "activity.action.signed_in");
        assert_eq!(shown.agent.words("on", "?"), "curl 8.5");
    }

    #[test]
    fn an_endpoint_is_named_by_its_host_alone() {
        assert_eq!(
            url_host("https://hooks.example.com/in?token=secret"),
            "hooks.example.com"
        );
        assert_eq!(
            url_host("http://user:pw@127.0.0.1:8080/x"),
            "127.0.0.1:8080"
        );
        assert_eq!(url_host("https://[2001:db8::1]:8443"), "[2001:db8::1]:8443");
    }
}
