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
use crate::services::contacts::erase;
use crate::store::Db;
use rocket::serde::json::Json;
use rocket::{State, post, routes};

pub fn routes() -> Vec<rocket::Route> {
    routes![erase_contact]
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
