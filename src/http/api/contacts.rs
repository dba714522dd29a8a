//! `POST /api/v1/contacts/erase`: a business erases one of its end customers (the right to deletion of the
//! people it writes to): every message to and from the number, on every number of the account, with what
//! was derived from them, and the contact. See `store::erasure::erase_customer` for what remains.

use super::ApiAuth;
use super::body::ApiJson;
use super::examples;
use super::requests::EraseContact;
use super::schema::contacts::ContactErased;
use super::schema::errors::WriteErrors;
use crate::error::{Error, Result};
use crate::store::{AccountId, Db, activity, erasure, now_ms};
use rocket::serde::json::Json;
use rocket::{State, post, routes};

pub fn routes() -> Vec<rocket::Route> {
    routes![erase_contact]
}

/// Erases the customer with this blind index and records it (with the counts, never the number).
pub(crate) async fn erase(
    db: &Db,
    account: AccountId,
    index: Vec<u8>,
    actor: (Option<crate::store::users::UserId>, String, String),
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

/// Erases a customer: every message to and from the number, on every number of the account.
#[utoipa::path(
    post,
    path = "/api/v1/contacts/erase",
    tag = "contacts",
    request_body(content = EraseContact, example = examples::erase_contact),
    responses(
        (status = 200, body = ContactErased, example = examples::contact_erased),
        WriteErrors,
    ),
)]
#[post("/api/v1/contacts/erase", data = "<request>")]
async fn erase_contact(
    auth: ApiAuth,
    request: Result<ApiJson<EraseContact>>,
    client: crate::domain::client::ClientInfo,
    db: &State<Db>,
) -> Result<Json<ContactErased>> {
    let digits = request?.0.check()?;
    let index = db.keyring().phone_index(auth.account, &digits)?;
    let deleted = erase(
        db,
        auth.account,
        index,
        (None, client.ip, client.user_agent),
    )
    .await?;
    // The counts by table, as the store reports them.
    let deleted =
        serde_json::from_value(deleted.to_json()).map_err(|e| Error::Internal(e.into()))?;
    Ok(Json(ContactErased {
        deleted,
        erased: true,
        phone: format!("+{digits}"),
    }))
}
