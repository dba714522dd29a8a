//! Meta's webhooks, one URL per connection: `GET /webhooks/meta/<key>` answers Meta's verification
//! handshake, `POST` takes events. A POST is answered 200 only after what it carried is committed, so a
//! crash before the commit makes Meta retry instead of losing the event.

pub use crate::services::meta_events::{IngestError, Ingested, Receivers, ingest};

use crate::store::{Db, connections};
use rocket::data::{Data, ToByteUnit};
use rocket::http::Status;
use rocket::request::{FromRequest, Outcome, Request};
use rocket::{FromForm, State, get, post, routes};

/// Meta sends up to 3 MB per POST; a little headroom over that.
pub const BODY_LIMIT_BYTES: u64 = 3 * 1024 * 1024 + 64 * 1024;

pub fn routes() -> Vec<rocket::Route> {
    routes![verify, receive]
}

#[derive(FromForm)]
struct Hub<'r> {
    mode: Option<&'r str>,
    challenge: Option<&'r str>,
    verify_token: Option<&'r str>,
}

/// Meta's handshake: the challenge is echoed only for the connection's own verify token.
#[get("/webhooks/meta/<key>?<hub>")]
async fn verify(key: &str, hub: Hub<'_>, db: &State<Db>) -> (Status, String) {
    let (key, keyring_db) = (key.to_owned(), db.inner().clone());
    let expected = db
        .read_async(move |conn| {
            let Some(found) = connections::find_by_webhook_key(conn, &key)? else {
                return Ok(None);
            };
            let secrets =
                connections::secrets(conn, keyring_db.keyring(), found.account_id, found.id)?;
            Ok(Some(secrets.verify_token))
        })
        .await;
    let Ok(Some(expected)) = expected else {
        return (Status::NotFound, "unknown webhook".into());
    };
    let given = hub.verify_token.unwrap_or_default();
    let matches = crate::crypto::constant_time_eq(given.as_bytes(), expected.as_bytes());
    match (hub.mode, hub.challenge) {
        (Some("subscribe"), Some(challenge)) if matches => (Status::Ok, challenge.to_owned()),
        _ => (Status::Forbidden, "verify token does not match".into()),
    }
}

/// The raw `X-Hub-Signature-256` header, if any.
struct HubSignature(Option<String>);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for HubSignature {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        Outcome::Success(HubSignature(
            req.headers()
                .get_one("X-Hub-Signature-256")
                .map(str::to_owned),
        ))
    }
}

#[post("/webhooks/meta/<key>", data = "<data>")]
async fn receive(
    key: &str,
    signature: HubSignature,
    data: Data<'_>,
    db: &State<Db>,
    receivers: &State<Receivers>,
) -> (Status, &'static str) {
    let body = match data.open(BODY_LIMIT_BYTES.bytes()).into_bytes().await {
        Ok(body) if body.is_complete() => body.into_inner(),
        Ok(_) => return (Status::PayloadTooLarge, "payload too large"),
        Err(_) => return (Status::BadRequest, "could not read the body"),
    };
    let ingested = ingest(db, receivers, key, signature.0.as_deref(), body).await;
    crate::http::metrics::meta_webhook(&ingested);
    match ingested {
        Ok(_) => (Status::Ok, "EVENT_RECEIVED"),
        Err(refused) => {
            match &refused {
                IngestError::Store(e) => {
                    tracing::error!(error = %e, "a Meta webhook could not be stored; Meta will retry it")
                }
                IngestError::Malformed(why) => {
                    tracing::warn!(%why, "refused a signed Meta webhook that is not a WhatsApp payload")
                }
                _ => {}
            }
            (refused.status(), refused.text())
        }
    }
}
