//! Who is asking: the client's address and browser, for sessions, throttling and the activity log.

use rocket::request::{FromRequest, Outcome, Request};

#[derive(Debug, Clone)]
pub struct ClientInfo {
    pub ip: String,
    pub user_agent: String,
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for ClientInfo {
    type Error = std::convert::Infallible;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        // client_ip() follows the configured proxy header only (none by default), so it cannot be forged.
        let ip = req
            .client_ip()
            .map(|ip| ip.to_string())
            .unwrap_or_else(|| "unknown".into());
        let user_agent = req
            .headers()
            .get_one("User-Agent")
            .unwrap_or("")
            .chars()
            .take(300)
            .collect();
        Outcome::Success(ClientInfo { ip, user_agent })
    }
}

impl ClientInfo {
    /// This client as the author of an entry in the activity log.
    pub fn actor(
        &self,
        account: Option<crate::store::AccountId>,
        user: Option<crate::store::users::UserId>,
    ) -> crate::store::activity::Actor<'_> {
        crate::store::activity::Actor {
            account,
            user,
            ip: &self.ip,
            user_agent: &self.user_agent,
        }
    }
}
