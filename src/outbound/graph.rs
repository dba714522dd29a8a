//! The Graph API client: one `ureq::Agent` (connection reuse) with explicit timeouts, used from the
//! sender threads and blocking tasks, never from the async executor. It calls only under the addresses
//! `MetaTargets` allows and follows no redirects, so a connection cannot point it anywhere else.

use super::targets::MetaTargets;
use serde::Deserialize;
use serde::de::DeserializeOwned;
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

impl SendError {
    /// This failure as the server's error for a call a person or a job asked for: `what` is what Meta
    /// was asked for ("the template list"), named when Meta refused it.
    pub fn unavailable(self, what: &str) -> crate::error::Error {
        crate::error::Error::Unavailable(match self {
            SendError::Meta(e) => format!("Meta refused {what}: (#{}) {}", e.code, e.title),
            SendError::Network(reason) => format!("Meta could not be reached: {reason}"),
            SendError::Refused(reason) => reason,
        })
    }
}

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

/// The Graph API as one number's (or one business account's) token reaches it: the agent, the
/// connection's base URL and API version, and the access token every call carries.
#[derive(Clone, Copy)]
pub struct Graph<'a> {
    pub agent: &'a ureq::Agent,
    pub base_url: &'a str,
    pub version: &'a str,
    pub token: &'a str,
}

impl<'a> Graph<'a> {
    /// The Graph API at a connection's address, with its access token.
    pub fn of(
        agent: &'a ureq::Agent,
        connection: &'a crate::store::connections::ConnectionInfo,
        token: &'a str,
    ) -> Graph<'a> {
        Graph {
            agent,
            base_url: &connection.graph_base_url,
            version: &connection.graph_version,
            token,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{}/{path}", self.base_url, self.version)
    }

    /// `call_once`, timed for the metrics by method and outcome.
    fn call(
        &self,
        url: &str,
        body: Option<&Value>,
        timeout: Option<Duration>,
    ) -> Result<ureq::http::Response<ureq::Body>, SendError> {
        let started = std::time::Instant::now();
        let result = self.call_once(url, body, timeout);
        let outcome = match &result {
            Ok(_) => "ok",
            Err(SendError::Meta(_)) => "meta_error",
            Err(SendError::Network(_)) => "network",
            Err(SendError::Refused(_)) => "not_allowed",
        };
        let method = if body.is_some() { "POST" } else { "GET" };
        crate::metrics::graph_call(method, outcome, started.elapsed());
        result
    }

    /// One call with the token: the answer when it is a 2xx, else what went wrong as a `SendError`
    /// (an address this installation does not allow, a transport failure, Meta's error envelope).
    fn call_once(
        &self,
        url: &str,
        body: Option<&Value>,
        timeout: Option<Duration>,
    ) -> Result<ureq::http::Response<ureq::Body>, SendError> {
        let authorization = format!("Bearer {}", self.token);
        let response = match body {
            Some(body) => self
                .agent
                .post(url)
                .header("Authorization", &authorization)
                .send_json(body)?,
            None => {
                let request = self.agent.get(url).header("Authorization", &authorization);
                match timeout {
                    Some(limit) => request
                        .config()
                        .timeout_global(Some(limit))
                        .build()
                        .call()?,
                    None => request.call()?,
                }
            }
        };
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            let answer: Value = response.into_body().read_json().unwrap_or(Value::Null);
            return Err(refusal(status, &answer));
        }
        Ok(response)
    }

    /// One call whose 2xx answer is JSON read as `T` (a body that is no JSON reads as `null`), with its
    /// status; an answer that is not a `T` is a network-class failure "HTTP <status> without <missing>".
    fn call_json<T: DeserializeOwned>(
        &self,
        url: &str,
        body: Option<&Value>,
        missing: &str,
    ) -> Result<(u16, T), SendError> {
        let mut response = self.call(url, body, None)?;
        let status = response.status().as_u16();
        let answer: Value = response.body_mut().read_json().unwrap_or(Value::Null);
        serde_json::from_value(answer)
            .map(|parsed| (status, parsed))
            .map_err(|_| SendError::Network(format!("HTTP {status} without {missing}")))
    }

    /// `POST {base}/{version}/{phone_number_id}/messages`; the wamid on success.
    pub fn send_message(&self, phone_number_id: &str, body: &Value) -> Result<String, SendError> {
        #[derive(Deserialize)]
        struct Sent {
            messages: Vec<SentId>,
        }
        #[derive(Deserialize)]
        struct SentId {
            id: String,
        }
        const MISSING: &str = "a message id";
        let url = self.url(&format!("{phone_number_id}/messages"));
        let (status, sent): (u16, Sent) = self.call_json(&url, Some(body), MISSING)?;
        sent.messages
            .into_iter()
            .next()
            .map(|m| m.id)
            .ok_or_else(|| SendError::Network(format!("HTTP {status} without {MISSING}")))
    }

    /// `GET {base}/{version}/{phone_number_id}`: the number as Meta knows it (verified name, display
    /// number, quality rating), or Meta's error. Used by "check connection".
    pub fn phone_number(&self, phone_number_id: &str) -> Result<PhoneNumber, SendError> {
        let url = self.url(&format!(
            "{phone_number_id}?fields=verified_name,display_phone_number,quality_rating"
        ));
        // A 2xx that is no JSON at all is a number Meta tells nothing about.
        let (_, number): (u16, Option<PhoneNumber>) = self.call_json(&url, None, "the number")?;
        Ok(number.unwrap_or_default())
    }

    /// Every template of a WhatsApp Business Account, following Meta's `paging.next` links (at most 50
    /// pages).
    pub fn templates(&self, waba_id: &str) -> Result<Vec<Value>, SendError> {
        let mut url = self.url(&format!(
            "{waba_id}/message_templates?fields=id,name,language,status,category,components,rejected_reason&limit=100"
        ));
        let mut all = Vec::new();
        for _ in 0..50 {
            // An answer that is no JSON at all is an empty last page, as Meta's own clients read it.
            let (_, page): (u16, Option<TemplatePage>) =
                self.call_json(&url, None, "a template list")?;
            let Some(page) = page else {
                return Ok(all);
            };
            all.extend(page.data);
            match page.paging.and_then(|p| p.next) {
                Some(next) => url = next,
                None => return Ok(all),
            }
        }
        Ok(all)
    }

    /// `POST {base}/{version}/{waba_id}/message_templates`: submits a template for review; Meta's id,
    /// status (`PENDING`, sometimes at once `APPROVED` or `REJECTED`) and category. A refusal keeps
    /// Meta's subcode and the words it wrote for a person (`error_user_msg`).
    pub fn create_template(
        &self,
        waba_id: &str,
        template: &Value,
    ) -> Result<CreatedTemplate, TemplateRefusal> {
        let url = self.url(&format!("{waba_id}/message_templates"));
        let started = std::time::Instant::now();
        let result = (|| {
            let response = self
                .agent
                .post(&url)
                .header("Authorization", &format!("Bearer {}", self.token))
                .send_json(template)
                .map_err(|e| TemplateRefusal::of(e.into()))?;
            let status = response.status().as_u16();
            let answer: Value = response.into_body().read_json().unwrap_or(Value::Null);
            if !(200..300).contains(&status) {
                let error = &answer["error"];
                return Err(TemplateRefusal {
                    error: refusal(status, &answer),
                    subcode: error["error_subcode"].as_i64(),
                    words: error["error_user_msg"].as_str().map(str::to_owned),
                });
            }
            serde_json::from_value(answer).map_err(|_| {
                TemplateRefusal::of(SendError::Network(format!(
                    "HTTP {status} without a template id"
                )))
            })
        })();
        let outcome = match &result {
            Ok(_) => "ok",
            Err(TemplateRefusal {
                error: SendError::Meta(_),
                ..
            }) => "meta_error",
            Err(TemplateRefusal {
                error: SendError::Network(_),
                ..
            }) => "network",
            Err(TemplateRefusal {
                error: SendError::Refused(_),
                ..
            }) => "not_allowed",
        };
        crate::metrics::graph_call("POST", outcome, started.elapsed());
        result
    }

    /// `DELETE {base}/{version}/{waba_id}/message_templates?name=`: deletes a template in every
    /// language. The name is Meta's (lowercase letters, digits, underscores), so it needs no escaping; any
    /// other name is refused before the call.
    pub fn delete_template(&self, waba_id: &str, name: &str) -> Result<(), SendError> {
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(SendError::Refused("not a template name".into()));
        }
        let url = self.url(&format!("{waba_id}/message_templates?name={name}"));
        let started = std::time::Instant::now();
        let result = (|| {
            let response = self
                .agent
                .delete(&url)
                .header("Authorization", &format!("Bearer {}", self.token))
                .call()?;
            let status = response.status().as_u16();
            if !(200..300).contains(&status) {
                let answer: Value = response.into_body().read_json().unwrap_or(Value::Null);
                return Err(refusal(status, &answer));
            }
            Ok(())
        })();
        let outcome = match &result {
            Ok(_) => "ok",
            Err(SendError::Meta(_)) => "meta_error",
            Err(SendError::Network(_)) => "network",
            Err(SendError::Refused(_)) => "not_allowed",
        };
        crate::metrics::graph_call("DELETE", outcome, started.elapsed());
        result
    }

    /// Where to download a media file Meta received, as `GET {base}/{version}/{media_id}` answers it:
    /// `url` (valid for five minutes), `mime_type`. The number is named, as Meta allows, so media of
    /// another number is refused.
    pub fn media_info(
        &self,
        media_id: &str,
        phone_number_id: &str,
    ) -> Result<MediaInfo, SendError> {
        // The id comes from a webhook payload: only Meta's characters, so it cannot change the path or
        // query.
        if media_id.is_empty()
            || !media_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(SendError::Refused("not a media id".into()));
        }
        let url = self.url(&format!("{media_id}?phone_number_id={phone_number_id}"));
        self.call_json(&url, None, "a media URL")
            .map(|(_, info)| info)
    }

    /// `GET <url>` from `media_info`, with the same token (Meta refuses it without), through this
    /// graph's agent (the one its `MediaSource` calls for). The body is read by the caller as it
    /// arrives, never kept.
    pub fn download_media(&self, url: &str) -> Result<MediaDownload, SendError> {
        let response = self.call(url, None, Some(Duration::from_secs(300)))?;
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
}

impl Graph<'_> {
    /// `POST {base}/{version}/{phone_number_id}/media` (multipart: `messaging_product`, `type`, `file`):
    /// uploads a file for the number to send by id; Meta's media id.
    pub fn upload_media(
        &self,
        phone_number_id: &str,
        mime: &str,
        filename: &str,
        bytes: &[u8],
    ) -> Result<String, SendError> {
        #[derive(Deserialize)]
        struct Uploaded {
            id: String,
        }
        let boundary = format!(
            "whatsapi{}",
            hex::encode(crate::crypto::random_bytes::<12>().unwrap_or_default())
        );
        let body = multipart(&boundary, mime, filename, bytes);
        let url = self.url(&format!("{phone_number_id}/media"));
        let started = std::time::Instant::now();
        let answer = self
            .agent
            .post(&url)
            .header("Authorization", &format!("Bearer {}", self.token))
            .header(
                "Content-Type",
                &format!("multipart/form-data; boundary={boundary}"),
            )
            .send(&body[..]);
        let result = match answer {
            Err(e) => Err(SendError::from(e)),
            Ok(response) => {
                let status = response.status().as_u16();
                let answer: Value = response.into_body().read_json().unwrap_or(Value::Null);
                if (200..300).contains(&status) {
                    serde_json::from_value::<Uploaded>(answer)
                        .map(|u| u.id)
                        .map_err(|_| {
                            SendError::Network(format!("HTTP {status} without a media id"))
                        })
                } else {
                    Err(refusal(status, &answer))
                }
            }
        };
        let outcome = match &result {
            Ok(_) => "ok",
            Err(SendError::Meta(_)) => "meta_error",
            Err(SendError::Network(_)) => "network",
            Err(SendError::Refused(_)) => "not_allowed",
        };
        crate::metrics::graph_call("POST", outcome, started.elapsed());
        result
    }
}

/// The multipart body of a media upload. The file name is reduced to characters safe in a header.
fn multipart(boundary: &str, mime: &str, filename: &str, bytes: &[u8]) -> Vec<u8> {
    let name: String = filename
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .take(100)
        .collect();
    let name = if name.is_empty() { "file".into() } else { name };
    let mut body = Vec::with_capacity(bytes.len() + 512);
    for (field, value) in [("messaging_product", "whatsapp"), ("type", mime)] {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: {mime}\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    body
}

/// A number as Meta describes it.
#[derive(Debug, Default, Deserialize, serde::Serialize)]
#[serde(default)]
pub struct PhoneNumber {
    pub verified_name: Option<String>,
    pub display_phone_number: Option<String>,
    pub quality_rating: Option<String>,
}

/// Meta's refusal of a template: the error, with Meta's subcode (2388024: the name exists in that
/// language, ...) and its words for a person, when it gave them.
#[derive(Debug)]
pub struct TemplateRefusal {
    pub error: SendError,
    pub subcode: Option<i64>,
    pub words: Option<String>,
}

impl TemplateRefusal {
    fn of(error: SendError) -> TemplateRefusal {
        TemplateRefusal {
            error,
            subcode: None,
            words: None,
        }
    }
}

/// Meta's answer to a template submitted for review.
#[derive(Debug, Deserialize)]
pub struct CreatedTemplate {
    pub id: String,
    pub status: String,
    #[serde(default)]
    pub category: Option<String>,
}

/// One page of a business account's templates.
#[derive(Deserialize)]
struct TemplatePage {
    #[serde(default)]
    data: Vec<Value>,
    paging: Option<Paging>,
}

#[derive(Deserialize)]
struct Paging {
    next: Option<String>,
}

/// Where a media file is, as Meta answers for its id.
#[derive(Debug, Deserialize)]
pub struct MediaInfo {
    pub url: String,
    pub mime_type: Option<String>,
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

/// A media download under way: Meta's content type and length, and the bytes to read.
pub struct MediaDownload {
    pub content_type: Option<String>,
    pub length: Option<u64>,
    pub body: ureq::BodyReader<'static>,
}

/// The largest media file Meta delivers (a document); anything longer is cut off with an error.
pub const MEDIA_LIMIT: u64 = 100 * 1024 * 1024;
