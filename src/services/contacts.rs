//! A business's end customers: erasing one (the right to deletion of the people it writes to), for the
//! API and the inbox. See `store::erasure::erase_customer` for what remains.

use crate::error::Result;
use crate::store::users::UserId;
use crate::store::{AccountId, Db, activity, erasure, now_ms};

/// Erases the customer with this blind index and records it (with the counts, never the number).
pub async fn erase(
    db: &Db,
    account: AccountId,
    index: Vec<u8>,
    actor: (Option<UserId>, String, String),
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
    db.write_async(move |conn| {
        let (user, ip, user_agent) = &actor;
        let who = activity::Actor {
            account: Some(account),
            user: *user,
            ip,
            user_agent,
        };
        activity::record(conn, &who, "customer_erased", &detail, now_ms())
    })
    .await?;
    Ok(deleted)
}
