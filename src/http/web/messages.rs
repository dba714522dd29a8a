//! The message log in the web interface: a page of the account's messages with the number that sent each,
//! its recipient, type, status (Meta's error in words) and time to the second; search by recipient and
//! filters shown as chips that are removed one by one; older pages through the cursor. A message's text is
//! opened on its own page, with its timeline. The log refreshes itself while messages are moving.

use super::context::Ctx;
use super::page::{Page, render};
use crate::domain::meta::errors;
use crate::error::{Error, Result};
use crate::http::auth::Member;
use crate::http::pager::Pager;
use crate::services::message_log::{self as log, LogEntry, LogNumber, LogQuery};
use crate::store::connections::ConnectionId;
use crate::store::messages::{self, MessageId};
use crate::store::states::MessageStatus;
use askama::Template;
use rocket::http::Status;
use rocket::response::content::RawHtml;
use rocket::{get, routes};

pub fn routes() -> Vec<rocket::Route> {
    routes![message_log, message_detail]
}

/// How many messages a page of the log lists.
const PAGE_SIZE: usize = 50;

/// The types a message can have, for the type filter.
const KINDS: &[&str] = &[
    "text",
    "template",
    "image",
    "video",
    "audio",
    "document",
    "sticker",
    "location",
    "contacts",
    "interactive",
    "reaction",
];

/// Meta's error of a message, for people: the sentence in the page's language, and Meta's own words.
struct ErrorShown {
    code: i64,
    words: String,
    meta: String,
}

fn error_shown(
    page: &Page,
    code: Option<i64>,
    title: Option<&str>,
    details: Option<&str>,
) -> Option<ErrorShown> {
    code.map(|code| ErrorShown {
        code,
        words: errors::words(page.lang, code),
        meta: [title, details]
            .into_iter()
            .flatten()
            .filter(|t| !t.is_empty())
            .collect::<Vec<_>>()
            .join(": "),
    })
}

/// A message of the log, prepared for the page.
struct Row {
    id: String,
    from: String,
    to: String,
    kind: String,
    status: String,
    error: Option<ErrorShown>,
    created_at: i64,
}

fn row(page: &Page, entry: &LogEntry, numbers: &[LogNumber]) -> Row {
    Row {
        id: entry.id.get().to_string(),
        from: numbers
            .iter()
            .find(|n| n.id == entry.connection)
            .map_or_else(
                || entry.connection.get().to_string(),
                |n| n.label().to_owned(),
            ),
        to: format!("+{}", entry.to.trim_start_matches('+')),
        kind: page.term("message_type", &entry.kind),
        status: entry.status.as_str().to_owned(),
        error: error_shown(
            page,
            entry.error_code,
            entry.error_title.as_deref(),
            entry.error_details.as_deref(),
        ),
        created_at: entry.created_at,
    }
}

/// A filter in force, shown as a chip with the link that removes it.
struct Chip {
    name: &'static str,
    label: String,
    remove: String,
}

/// The filters of a request, as given (the links keep them as they were typed).
#[derive(Default, Clone)]
struct Filters {
    status: String,
    connection: String,
    kind: String,
    to: String,
}

impl Filters {
    fn pairs(&self) -> [(&'static str, &str); 4] {
        [
            ("status", &self.status),
            ("connection", &self.connection),
            ("type", &self.kind),
            ("to", &self.to),
        ]
    }

    /// The log's address with these filters, less `without`, and `extra` added.
    fn link(&self, without: &str, extra: Option<(&str, &str)>) -> String {
        let query: Vec<String> = self
            .pairs()
            .into_iter()
            .filter(|(name, value)| *name != without && !value.is_empty())
            .chain(extra)
            .map(|(name, value)| format!("{name}={}", urlencoding(value)))
            .collect();
        if query.is_empty() {
            "/messages".to_owned()
        } else {
            format!("/messages?{}", query.join("&"))
        }
    }

    fn chips(&self, page: &Page, numbers: &[LogNumber]) -> Vec<Chip> {
        let mut chips = Vec::new();
        if !self.to.is_empty() {
            chips.push(Chip {
                name: "to",
                label: format!("{} {}", page.t("messages.to"), self.to),
                remove: self.link("to", None),
            });
        }
        if !self.status.is_empty() {
            chips.push(Chip {
                name: "status",
                label: format!(
                    "{}: {}",
                    page.t("messages.status"),
                    page.term("message_status", &self.status)
                ),
                remove: self.link("status", None),
            });
        }
        if !self.connection.is_empty() {
            let label = numbers
                .iter()
                .find(|n| n.id.get().to_string() == self.connection)
                .map_or(self.connection.as_str(), |n| n.label());
            chips.push(Chip {
                name: "connection",
                label: format!("{}: {label}", page.t("messages.from")),
                remove: self.link("connection", None),
            });
        }
        if !self.kind.is_empty() {
            chips.push(Chip {
                name: "type",
                label: format!(
                    "{}: {}",
                    page.t("messages.type"),
                    page.term("message_type", &self.kind)
                ),
                remove: self.link("type", None),
            });
        }
        chips
    }
}

/// A query string value, percent-encoded.
fn urlencoding(value: &str) -> String {
    let mut out = String::new();
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[derive(Template)]
#[template(path = "messages.html")]
struct LogPage<'a> {
    page: &'a Page,
    rows: Vec<Row>,
    numbers: Vec<(String, String)>,
    kinds: Vec<(&'static str, String)>,
    filters: Filters,
    chips: Vec<Chip>,
    clear: String,
    search_error: Option<String>,
    older: Option<String>,
    moving: bool,
}

impl LogPage<'_> {
    /// A time to the second, in UTC (which the column's title says).
    fn seconds(&self, ms: &i64) -> String {
        self.page.lang.datetime_seconds(*ms)
    }
}

/// The log's query string: its filters and the cursor of an older page.
#[derive(rocket::form::FromForm, Default)]
struct LogParams<'r> {
    status: Option<&'r str>,
    connection: Option<&'r str>,
    #[field(name = "type")]
    kind: Option<&'r str>,
    to: Option<&'r str>,
    cursor: Option<&'r str>,
}

#[get("/messages?<params..>")]
async fn message_log(
    ctx: Ctx<'_>,
    member: Member<'_>,
    params: LogParams<'_>,
) -> Result<(Status, RawHtml<String>)> {
    let (visible, page, db, account) = (ctx.visible(), ctx.page, ctx.db, member.account);
    let filters = Filters {
        status: params
            .status
            .filter(|s| MessageStatus::NAMES.contains(s))
            .unwrap_or_default()
            .to_owned(),
        connection: params
            .connection
            .filter(|c| c.parse::<i64>().is_ok())
            .unwrap_or_default()
            .to_owned(),
        kind: params
            .kind
            .filter(|k| KINDS.contains(k))
            .unwrap_or_default()
            .to_owned(),
        to: params.to.map(str::trim).unwrap_or_default().to_owned(),
    };
    let pager = Pager::lenient(params.cursor, PAGE_SIZE, |text| {
        text.parse()
            .ok()
            .filter(|id: &i64| *id >= 0)
            .map(MessageId::from_raw)
    });
    let query = LogQuery {
        status: filters.status.parse().ok(),
        connection: filters.connection.parse().ok().map(ConnectionId::from_raw),
        kind: (!filters.kind.is_empty()).then(|| filters.kind.clone()),
        to: (!filters.to.is_empty()).then(|| filters.to.clone()),
        before: pager.after,
        limit: pager.limit,
    };
    let (entries, numbers, search_error) = match log::page(db, account, visible, query).await {
        Ok((entries, numbers)) => (entries, numbers, None),
        Err(Error::Invalid { .. }) => {
            let numbers = db
                .read_async(move |conn| log::numbers(conn, account))
                .await?;
            (
                Vec::new(),
                numbers,
                Some(page.t("messages.search_invalid").to_owned()),
            )
        }
        Err(e) => return Err(e),
    };
    let older = pager
        .next_cursor(&entries, |e| Some(e.id.get().to_string()))
        .map(|cursor| filters.link("", Some(("cursor", &cursor))));
    let rows: Vec<Row> = entries.iter().map(|e| row(&page, e, &numbers)).collect();
    let moving = rows
        .iter()
        .any(|r| matches!(r.status.as_str(), "queued" | "sending"));
    let chips = filters.chips(&page, &numbers);
    let kinds = KINDS
        .iter()
        .map(|k| (*k, page.term("message_type", k)))
        .collect();
    let status_code = if search_error.is_some() {
        Status::UnprocessableEntity
    } else {
        Status::Ok
    };
    let html = render(LogPage {
        page: &page,
        rows,
        numbers: numbers
            .iter()
            .map(|n| (n.id.get().to_string(), n.label().to_owned()))
            .collect(),
        kinds,
        clear: "/messages".to_owned(),
        filters,
        chips,
        search_error,
        older,
        moving,
    })?;
    Ok((status_code, html))
}

/// A message's page: everything the log shows, its text opened, and its timeline.
struct Detail {
    id: String,
    from: String,
    to: String,
    kind: String,
    raw_kind: String,
    status: String,
    error: Option<ErrorShown>,
    timeline: Vec<(&'static str, i64)>,
    /// The text of a text message (or a media caption), shown as typed.
    text: Option<String>,
    body: String,
}

#[derive(Template)]
#[template(path = "message.html")]
struct DetailPage<'a> {
    page: &'a Page,
    message: Detail,
}

impl DetailPage<'_> {
    fn seconds(&self, ms: &i64) -> String {
        self.page.lang.datetime_seconds(*ms)
    }
}

#[get("/messages/<id>")]
async fn message_detail(id: &str, ctx: Ctx<'_>, member: Member<'_>) -> Result<RawHtml<String>> {
    let (visible, page, db, account) = (ctx.visible(), ctx.page, ctx.db, member.account);
    let id = MessageId::from_raw(id.parse().map_err(|_| Error::NotFound)?);
    let view_db = db.clone();
    let (message, numbers) = db
        .read_async(move |conn| {
            let message = messages::find(conn, account, id, visible)?.ok_or(Error::NotFound)?;
            Ok((
                crate::services::messages::to_json(&view_db, &message)?,
                log::numbers(conn, account)?,
            ))
        })
        .await?;
    let error = &message["error"];
    let stamps = &message["timestamps"];
    let kind = message["type"].as_str().unwrap_or_default().to_owned();
    let content = &message["message"];
    let text = ["body", "caption"]
        .into_iter()
        .find_map(|field| content[field].as_str())
        .map(str::to_owned);
    let connection = message["connection_id"].as_str().unwrap_or_default();
    let detail = Detail {
        id: message["id"].as_str().unwrap_or_default().to_owned(),
        from: numbers
            .iter()
            .find(|n| n.id.get().to_string() == connection)
            .map_or_else(|| connection.to_owned(), |n| n.label().to_owned()),
        to: format!(
            "+{}",
            message["to"]
                .as_str()
                .unwrap_or_default()
                .trim_start_matches('+')
        ),
        kind: page.term("message_type", &kind),
        raw_kind: kind,
        status: message["status"].as_str().unwrap_or_default().to_owned(),
        error: error_shown(
            &page,
            error["code"].as_i64(),
            error["title"].as_str(),
            error["details"].as_str(),
        ),
        timeline: ["created", "sent", "delivered", "read", "failed"]
            .into_iter()
            .filter_map(|step| stamps[step].as_i64().map(|at| (step, at)))
            .collect(),
        text,
        body: serde_json::to_string_pretty(content).unwrap_or_default(),
    };
    render(DetailPage {
        page: &page,
        message: detail,
    })
}
