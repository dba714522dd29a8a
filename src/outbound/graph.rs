//! The Graph API client: one `ureq::Agent` (connection reuse) with explicit timeouts, used from the
//! sender threads and blocking tasks, never from the async executor. It calls only under the addresses
//! `MetaTargets` allows and follows no redirects, so a connection cannot point it anywhere else.

use super::targets::MetaTargets;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// An error answered by Meta, in its own terms.
#[derive(Debug, Clone, PartialEq)]
pub struct MetaError {
    pub http_status: u16,
    pub code: i64,
    pub title: String,
    pub details: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SendError {
    Meta(MetaError),
    /// No usable answer (connection refused, timeout, a 5xx page without Meta's JSON): try again.
    Network(String),
    /// The call was not made: its address is not one this installation allows.
    Refused(String),
}

/// The agent's own refusal of an address, told apart from every other error (an operating system's
/// "permission denied" included).
#[derive(Debug)]
struct NotAllowed;

impl std::fmt::Display for NotAllowed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(
            "the connection's Graph API address is not one this installation allows \
             ([meta] allowed_base_urls)",
        )
    }
}

impl std::error::Error for NotAllowed {}

impl From<ureq::Error> for SendError {
    fn from(error: ureq::Error) -> SendError {
        match error {
            ureq::Error::Other(e) if e.is::<NotAllowed>() => SendError::Refused(e.to_string()),
            e => SendError::Network(e.to_string()),
        }
    }
}

/// The Graph API agent: every request's URL is checked against `targets` before it leaves. It keeps an
/// idle connection for each of up to `in_flight` calls at once (ureq keeps 10 in all by default, so with
/// more workers nearly every call would open a new connection: a TLS handshake per message).
pub fn agent(targets: &MetaTargets, in_flight: usize) -> ureq::Agent {
    let targets = Arc::new(targets.clone());
    let guard = move |request: ureq::http::Request<ureq::SendBody>,
                      next: ureq::middleware::MiddlewareNext| {
        let url = request.uri().to_string();
        if !targets.permits(&url) {
            return Err(ureq::Error::Other(Box::new(NotAllowed)));
        }
        next.handle(request)
    };
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .max_redirects_will_error(false)
        .timeout_connect(Some(Duration::from_secs(5)))
        .timeout_global(Some(Duration::from_secs(30)))
        .max_idle_connections(in_flight)
        .max_idle_connections_per_host(in_flight)
        .user_agent(concat!("whatsapi/", env!("CARGO_PKG_VERSION")))
        .middleware(guard)
        .build()
        .into()
}

/// How media files customers send are fetched: where they may come from, and the agent for Meta's
/// media hosts (one for the server, so connections are reused: https only, the addresses it connects to
/// checked as customers' webhook endpoints are, no redirects, up to five minutes for a large file).
pub struct MediaClient {
    pub targets: MetaTargets,
    pub agent: ureq::Agent,
}

impl MediaClient {
    pub fn new(targets: &MetaTargets) -> MediaClient {
        MediaClient {
            targets: targets.clone(),
            agent: crate::outbound::ssrf::agent(false, Duration::from_secs(300)),
        }
    }
}

/// A non-2xx answer: Meta's error when it sent one, else a network-class failure that names the status
/// only (never the body: an answer is shown to a tenant).
fn refusal(status: u16, answer: &Value) -> SendError {
    match meta_error(status, answer) {
        Some(error) => SendError::Meta(error),
        None => SendError::Network(format!("HTTP {status} without Meta's error body")),
    }
}

/// `POST {base}/{version}/{phone_number_id}/messages`; the wamid on success.
pub fn send_message(
    agent: &ureq::Agent,
    base_url: &str,
    version: &str,
    phone_number_id: &str,
    token: &str,
    body: &Value,
) -> Result<String, SendError> {
    let url = format!("{base_url}/{version}/{phone_number_id}/messages");
    let mut response = agent
        .post(&url)
        .header("Authorization", &format!("Bearer {token}"))
        .send_json(body)?;
    let status = response.status().as_u16();
    let answer: Value = response.body_mut().read_json().unwrap_or(Value::Null);
    if (200..300).contains(&status) {
        return answer["messages"][0]["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| SendError::Network(format!("HTTP {status} without a message id")));
    }
    Err(refusal(status, &answer))
}

/// Reads Meta's error envelope `{"error": {"code", "message", "error_data": {"details"}}}`.
pub fn meta_error(http_status: u16, answer: &Value) -> Option<MetaError> {
    let error = answer.get("error")?;
    let code = error.get("code")?.as_i64()?;
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or_default();
    // Meta writes "(#130429) Rate limit hit"; the title is what follows the code.
    let title = message
        .split_once(") ")
        .map_or(message, |(_, rest)| rest)
        .to_owned();
    let details = error["error_data"]["details"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    Some(MetaError {
        http_status,
        code,
        title,
        details,
    })
}

/// `GET {base}/{version}/{phone_number_id}`: the number as Meta knows it (verified name, display number,
/// quality rating), or Meta's error. Used by "check connection".
pub fn phone_number(
    agent: &ureq::Agent,
    base_url: &str,
    version: &str,
    phone_number_id: &str,
    token: &str,
) -> Result<Value, SendError> {
    let url = format!(
        "{base_url}/{version}/{phone_number_id}?fields=verified_name,display_phone_number,quality_rating"
    );
    let mut response = agent
        .get(&url)
        .header("Authorization", &format!("Bearer {token}"))
        .call()?;
    let status = response.status().as_u16();
    let answer: Value = response.body_mut().read_json().unwrap_or(Value::Null);
    if (200..300).contains(&status) {
        return Ok(answer);
    }
    Err(refusal(status, &answer))
}

/// Every template of a WhatsApp Business Account, following Meta's `paging.next` links (at most 50 pages).
pub fn templates(
    agent: &ureq::Agent,
    base_url: &str,
    version: &str,
    waba_id: &str,
    token: &str,
) -> Result<Vec<Value>, SendError> {
    let mut url = format!(
        "{base_url}/{version}/{waba_id}/message_templates?fields=name,language,status,category,components&limit=100"
    );
    let mut all = Vec::new();
    for _ in 0..50 {
        let mut response = agent
            .get(&url)
            .header("Authorization", &format!("Bearer {token}"))
            .call()?;
        let status = response.status().as_u16();
        let page: Value = response.body_mut().read_json().unwrap_or(Value::Null);
        if !(200..300).contains(&status) {
            return Err(refusal(status, &page));
        }
        all.extend(page["data"].as_array().cloned().unwrap_or_default());
        match page["paging"]["next"].as_str() {
            Some(next) => url = next.to_owned(),
            None => return Ok(all),
        }
    }
    Ok(all)
}

/// Where to download a media file Meta received, as `GET {base}/{version}/{media_id}` answers it: `url`
/// (valid for five minutes), `mime_type`, `sha256`, `file_size`, `id`. The number is named, as Meta
/// allows, so media of another number is refused.
pub fn media_info(
    agent: &ureq::Agent,
    base_url: &str,
    version: &str,
    media_id: &str,
    phone_number_id: &str,
    token: &str,
) -> Result<Value, SendError> {
    // The id comes from a webhook payload: only Meta's characters, so it cannot change the path or query.
    if media_id.is_empty()
        || !media_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(SendError::Refused("not a media id".into()));
    }
    let url = format!("{base_url}/{version}/{media_id}?phone_number_id={phone_number_id}");
    let mut response = agent
        .get(&url)
        .header("Authorization", &format!("Bearer {token}"))
        .call()?;
    let status = response.status().as_u16();
    let answer: Value = response.body_mut().read_json().unwrap_or(Value::Null);
    if (200..300).contains(&status) && answer["url"].is_string() {
        return Ok(answer);
    }
    Err(refusal(status, &answer))
}

/// A media download under way: Meta's content type and length, and the bytes to read.
pub struct MediaDownload {
    pub content_type: Option<String>,
    pub length: Option<u64>,
    pub body: ureq::BodyReader<'static>,
}

/// The largest media file Meta delivers (a document); anything longer is cut off with an error.
pub const MEDIA_LIMIT: u64 = 100 * 1024 * 1024;

/// `GET <url>` from `media_info`, with the same token (Meta refuses it without), through the agent its
/// `MediaSource` calls for. The body is read by the caller as it arrives, never kept.
pub fn download_media(
    agent: &ureq::Agent,
    url: &str,
    token: &str,
) -> Result<MediaDownload, SendError> {
    let response = agent
        .get(url)
        .header("Authorization", &format!("Bearer {token}"))
        .config()
        .timeout_global(Some(Duration::from_secs(300)))
        .build()
        .call()?;
    let status = response.status().as_u16();
    if !(200..300).contains(&status) {
        let answer: Value = response.into_body().read_json().unwrap_or(Value::Null);
        return Err(refusal(status, &answer));
    }
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = response.into_body();
    Ok(MediaDownload {
        content_type,
        length: body.content_length(),
        body: body.into_with_config().limit(MEDIA_LIMIT).reader(),
    })
}
