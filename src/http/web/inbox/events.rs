//! `GET /inbox/events`: the inbox's changes as Server-Sent Events, for the signed-in member's account
//! only: `message` (a new message in a conversation, either direction, with the unread count after an
//! inbound one), `status` (a message to a customer moved to sent, delivered, read or failed), `unread`
//! (a conversation was read), and `reload` when this stream fell behind and lost changes (the page reads
//! itself again). Ids, statuses and counts only: the page fetches what it shows.
//!
//! A stream ends at the server's shutdown, so a stop is not held up, and after `STREAM_LIFE`, so the
//! browser reconnects and the session is checked again.

use crate::http::auth::Member;
use crate::store::Db;
use crate::store::live::{Change, Direction, Received};
use rocket::response::stream::{Event, EventStream};
use rocket::tokio::time::{Duration, sleep};
use rocket::{Shutdown, State, get};
use serde_json::json;

/// How long one stream lasts before the browser reconnects (and its session is checked again).
const STREAM_LIFE: Duration = Duration::from_secs(300);
/// A comment this often keeps proxies from closing a quiet stream.
const HEARTBEAT: Duration = Duration::from_secs(15);
/// How soon a browser reconnects after a stream ends.
const RETRY: Duration = Duration::from_secs(2);

/// A change as an event: its name and its JSON.
fn event(change: Change) -> Event {
    let (name, data) = match change {
        Change::Message {
            contact,
            message,
            direction,
            unread,
        } => (
            "message",
            json!({
                "conversation": contact.to_string(),
                "message": message.to_string(),
                "direction": match direction {
                    Direction::Inbound => "inbound",
                    Direction::Outbound => "outbound",
                },
                "unread": unread,
            }),
        ),
        Change::Status {
            contact,
            message,
            status,
        } => (
            "status",
            json!({
                "conversation": contact.map(|c| c.to_string()),
                "message": message.to_string(),
                "status": status,
            }),
        ),
        Change::Unread { contact, unread } => (
            "unread",
            json!({"conversation": contact.to_string(), "unread": unread}),
        ),
    };
    Event::json(&data).event(name)
}

#[get("/inbox/events")]
pub(super) fn inbox_events(
    member: Member<'_>,
    db: &State<Db>,
    mut shutdown: Shutdown,
) -> EventStream![Event + 'static] {
    let mut listener = db.live().listen(member.account);
    EventStream! {
        // Listening from here on: the page knows it may miss nothing after this.
        yield Event::data("listening").event("ready").with_retry(RETRY);
        let ends = sleep(STREAM_LIFE);
        rocket::tokio::pin!(ends);
        loop {
            let received = rocket::tokio::select! {
                received = listener.next() => received,
                _ = &mut shutdown => break,
                _ = &mut ends => break,
            };
            match received {
                Received::Change(change) => yield event(change),
                Received::Missed => yield Event::data("missed").event("reload"),
                Received::Closed => break,
            }
        }
    }
    .heartbeat(HEARTBEAT)
}
