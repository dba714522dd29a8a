//! Who is asking, as far as the product needs to know: for sessions, sign-in throttling, the activity log
//! and the "new sign-in" email. Worked out from a request by `http::auth::client`.

#[derive(Debug, Clone)]
pub struct ClientInfo {
    /// The client's address (behind a trusted proxy, the one the proxy saw).
    pub ip: String,
    pub user_agent: String,
}
