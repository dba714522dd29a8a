//! The message log in the web interface: every message of the account with its status, Meta's error in
//! words, and a page per message with its timeline. The log refreshes itself while messages are moving.

use super::context::Ctx;
use super::page::{Page, render};
use crate::error::{Error, Result};
use crate::http::auth::Member;
use crate::store::connections;
use crate::store::messages::{self, ListFilter, MessageId};
use askama::Template;
use rocket::response::content::RawHtml;
use rocket::{get, routes};
use serde_json::Value;

pub fn routes() -> Vec<rocket::Route> {
    routes![message_log, message_detail]
}

/// A message prepared for a page.
struct Row {
    id: String,
    to: String,
    kind: String,
    status: String,
    error: Option<String>,
    created_at: i64,
    timeline: Vec<(&'static str, i64)>,
    body: String,
}

fn row(message: &Value) -> Row {
    let error = message.get("error").filter(|e| !e.is_null()).map(|e| {
        let words = e["explanation"]
            .as_str()
            .or(e["title"].as_str())
            .unwrap_or_default();
        format!("#{} {words}", e["code"])
    });
    let stamps = &message["timestamps"];
    let timeline = ["created", "sent", "delivered", "read", "failed"]
        .into_iter()
        .filter_map(|step| stamps[step].as_i64().map(|at| (step, at)))
        .collect();
    Row {
        id: message["id"].as_str().unwrap_or_default().to_owned(),
        to: message["to"].as_str().unwrap_or_default().to_owned(),
        kind: message["type"].as_str().unwrap_or_default().to_owned(),
        status: message["status"].as_str().unwrap_or_default().to_owned(),
        error,
        created_at: stamps["created"].as_i64().unwrap_or_default(),
        timeline,
        body: serde_json::to_string_pretty(&message["message"]).unwrap_or_default(),
    }
}

#[derive(Template)]
#[template(path = "messages.html")]
struct LogPage<'a> {
    page: &'a Page,
    rows: Vec<Row>,
    connections: Vec<(String, String)>,
    status: &'a str,
    connection: &'a str,
    moving: bool,
}

#[get("/messages?<status>&<connection>")]
async fn message_log(
    ctx: Ctx<'_>,
    member: Member<'_>,
    status: Option<&str>,
    connection: Option<&str>,
) -> Result<RawHtml<String>> {
    let (visible, page, db, account) = (ctx.visible(), ctx.page, ctx.db, member.account);
    let status_filter = status.and_then(|s| s.parse().ok());
    let connection_filter = connection
        .and_then(|c| c.parse().ok())
        .map(connections::ConnectionId::from_raw);
    let view_db = db.clone();
    let (list, connection_names) = db
        .read_async(move |conn| {
            let filter = ListFilter {
                status: status_filter,
                connection: connection_filter,
                recipient_index: None,
                since: None,
                until: None,
                before: None,
                limit: 100,
                visible,
            };
            let list = messages::list(conn, account, &filter)?
                .iter()
                .map(|m| crate::services::messages::to_json(&view_db, m))
                .collect::<Result<Vec<_>>>()?;
            let names = connections::list_for_account(conn, account)?
                .into_iter()
                .map(|c| (c.id.get().to_string(), c.name))
                .collect();
            Ok((list, names))
        })
        .await?;
    let rows: Vec<Row> = list.iter().map(row).collect();
    let moving = rows
        .iter()
        .any(|r| matches!(r.status.as_str(), "queued" | "sending"));
    render(LogPage {
        page: &page,
        rows,
        connections: connection_names,
        status: status.unwrap_or(""),
        connection: connection.unwrap_or(""),
        moving,
    })
}

#[derive(Template)]
#[template(path = "message.html")]
struct DetailPage<'a> {
    page: &'a Page,
    message: Row,
}

#[get("/messages/<id>")]
async fn message_detail(id: &str, ctx: Ctx<'_>, member: Member<'_>) -> Result<RawHtml<String>> {
    let (visible, page, db, account) = (ctx.visible(), ctx.page, ctx.db, member.account);
    let id = MessageId::from_raw(id.parse().map_err(|_| Error::NotFound)?);
    let view_db = db.clone();
    let message = db
        .read_async(move |conn| {
            let message = messages::find(conn, account, id, visible)?.ok_or(Error::NotFound)?;
            crate::services::messages::to_json(&view_db, &message)
        })
        .await?;
    render(DetailPage {
        page: &page,
        message: row(&message),
    })
}
