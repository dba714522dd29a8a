//! The conversation list, on the inbox page and beside an open conversation: each customer's name and
//! number, the newest message, the unread count, the time and the 24-hour window; searched by number or
//! name, filtered to open, resolved or one's own conversations.

use super::bubbles::{inbound_bubble, outbound_bubble};
use super::window_text;
use crate::error::Result;
use crate::http::pager::Pager;
use crate::http::web::page::Page;
use crate::services::conversations::{self as service, ListQuery};
use crate::store::conversations::Cursor;
use crate::store::retention::Visible;
use crate::store::users::UserId;
use crate::store::{AccountId, Db, connections, now_ms, users};

pub(super) const PAGE_SIZE: usize = 50;
/// Characters of the newest message shown in the list.
const PREVIEW_CHARS: usize = 90;

/// A conversation in the list.
pub(super) struct Row {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) phone: String,
    pub(super) number: String,
    pub(super) preview: String,
    /// The newest message is ours.
    pub(super) ours: bool,
    pub(super) at: i64,
    pub(super) unread: i64,
    pub(super) open: bool,
    pub(super) window: String,
    pub(super) resolved: bool,
    pub(super) assignee: Option<String>,
    pub(super) current: bool,
}

/// A filter of the list, as a link.
pub(super) struct Chip {
    pub(super) label: String,
    pub(super) href: String,
    pub(super) on: bool,
}

/// The list as a page shows it.
pub(super) struct List {
    pub(super) rows: Vec<Row>,
    pub(super) next: Option<String>,
    pub(super) q: String,
    pub(super) show: &'static str,
    /// The list's query to keep on links into conversations (`?q=..&show=..`, or empty).
    pub(super) keep: String,
    pub(super) chips: Vec<Chip>,
    /// The account's members (id, name), for assigning.
    pub(super) members: Vec<(i64, String)>,
}

/// What the list is asked for.
pub(super) struct Asked<'a> {
    pub(super) q: Option<&'a str>,
    pub(super) show: Option<&'a str>,
    pub(super) cursor: Option<&'a str>,
    pub(super) current: Option<i64>,
}

const SHOWS: [&str; 4] = ["all", "open", "resolved", "mine"];

fn query_string(q: &str, show: &str) -> String {
    let mut parts = Vec::new();
    if !q.is_empty() {
        parts.push(format!("q={}", urlencoding(q)));
    }
    if show != "all" {
        parts.push(format!("show={show}"));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

fn urlencoding(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The newest message in words: its text, or its type.
fn preview(page: &Page, last: Option<&serde_json::Value>) -> (String, bool) {
    let Some(item) = last else {
        return (String::new(), false);
    };
    let ours = item["direction"].as_str() != Some("inbound");
    let bubble = if ours {
        outbound_bubble(page, item)
    } else {
        inbound_bubble(page, item)
    };
    let text = bubble
        .text
        .unwrap_or_else(|| page.term("inbox_kind", &bubble.kind));
    let mut short: String = text.chars().take(PREVIEW_CHARS).collect();
    if text.chars().count() > PREVIEW_CHARS {
        short.push('…');
    }
    (short.replace('\n', " "), ours)
}

pub(super) async fn load(
    page: &Page,
    db: &Db,
    (account, me): (AccountId, UserId),
    asked: Asked<'_>,
    visible: Visible,
) -> Result<List> {
    let q = asked.q.unwrap_or_default().trim().to_owned();
    let show = SHOWS
        .into_iter()
        .find(|s| Some(*s) == asked.show)
        .unwrap_or("all");
    let pager = Pager::lenient(asked.cursor, PAGE_SIZE, Cursor::parse);
    let query = ListQuery {
        resolved: match show {
            "open" => Some(false),
            "resolved" => Some(true),
            _ => None,
        },
        assignee: (show == "mine").then_some(me),
        search: q.clone(),
        after: pager.after,
        limit: PAGE_SIZE,
    };
    let (listed, pages) = service::list_page(db, account, query, visible).await?;
    let (numbers, members) = db
        .read_async(move |conn| {
            let numbers: Vec<(i64, String)> = connections::list_for_account(conn, account)?
                .into_iter()
                .map(|c| (c.id.get(), c.name))
                .collect();
            let members: Vec<(i64, String)> = users::list_for_account(conn, account)?
                .into_iter()
                .map(|u| (u.id.get(), u.name))
                .collect();
            Ok((numbers, members))
        })
        .await?;
    let next = if pages {
        pager.next_cursor(&listed, |l| {
            Some(
                Cursor {
                    at: l.conversation.last_message_at,
                    id: l.conversation.contact_id,
                }
                .text(),
            )
        })
    } else {
        None
    };
    let now = now_ms();
    let rows = listed
        .iter()
        .map(|l| {
            let c = &l.conversation;
            let window = service::window(c, now);
            let phone = service::display_phone(c);
            let (preview, ours) = preview(page, l.last.as_ref());
            Row {
                id: c.contact_id.to_string(),
                name: c
                    .display_name()
                    .map_or_else(|| phone.clone(), str::to_owned),
                phone,
                number: numbers
                    .iter()
                    .find(|(id, _)| *id == c.connection_id.get())
                    .map(|(_, name)| name.clone())
                    .unwrap_or_default(),
                preview,
                ours,
                at: c.last_message_at,
                unread: c.unread,
                open: window.is_open(),
                window: window_text(page, window, now),
                resolved: c.resolved,
                assignee: c.assignee.and_then(|a| {
                    members
                        .iter()
                        .find(|(id, _)| *id == a.get())
                        .map(|(_, name)| name.clone())
                }),
                current: Some(c.contact_id) == asked.current,
            }
        })
        .collect();
    let chips = SHOWS
        .into_iter()
        .map(|s| Chip {
            label: page.t(&format!("inbox.show_{s}")).to_owned(),
            href: format!("/inbox{}", query_string(&q, s)),
            on: s == show,
        })
        .collect();
    Ok(List {
        rows,
        next,
        keep: query_string(&q, show),
        q,
        show,
        chips,
        members,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_s_query_is_kept_in_links() {
        assert_eq!(query_string("", "all"), "");
        assert_eq!(query_string("", "mine"), "?show=mine");
        assert_eq!(
            query_string("سارة 1", "open"),
            "?q=%D8%B3%D8%A7%D8%B1%D8%A9%201&show=open"
        );
    }
}
