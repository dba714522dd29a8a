//! The Graph API client for sending: one `ureq::Agent` (connection reuse) with explicit timeouts, used
//! from the sender threads, never from the async executor.

use serde_json::Value;
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
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(Duration::from_secs(5)))
        .timeout_global(Some(Duration::from_secs(30)))
        .max_idle_connections_per_host(256)
        .user_agent(concat!("whatsapi/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
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
        .send_json(body)
        .map_err(|e| SendError::Network(e.to_string()))?;
    let status = response.status().as_u16();
    let answer: Value = response.body_mut().read_json().unwrap_or(Value::Null);
    if (200..300).contains(&status) {
        return answer["messages"][0]["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| SendError::Network(format!("HTTP {status} without a message id")));
    }
    meta_error(status, &answer)
        .map(SendError::Meta)
        .map_or_else(
            || {
                Err(SendError::Network(format!(
                    "HTTP {status} without Meta's error body"
                )))
            },
            Err,
        )
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
        .call()
        .map_err(|e| SendError::Network(e.to_string()))?;
    let status = response.status().as_u16();
    let answer: Value = response.body_mut().read_json().unwrap_or(Value::Null);
    if (200..300).contains(&status) {
        return Ok(answer);
    }
    match meta_error(status, &answer) {
        Some(error) => Err(SendError::Meta(error)),
        None => Err(SendError::Network(format!(
            "HTTP {status} without Meta's error body"
        ))),
    }
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
            .call()
            .map_err(|e| SendError::Network(e.to_string()))?;
        let status = response.status().as_u16();
        let page: Value = response.body_mut().read_json().unwrap_or(Value::Null);
        if !(200..300).contains(&status) {
            return Err(meta_error(status, &page)
                .map(SendError::Meta)
                .unwrap_or_else(|| {
                    SendError::Network(format!("HTTP {status} without Meta's error body"))
                }));
        }
        all.extend(page["data"].as_array().cloned().unwrap_or_default());
        match page["paging"]["next"].as_str() {
            Some(next) => url = next.to_owned(),
            None => return Ok(all),
        }
    }
    Ok(all)
}
