//! The SMS provider of a site: `common::sms`'s stand-in, answering 200 `{"status": "queued"}` to every
//! request, or 500 once told to fail; what it received read as the generic provider's JSON body
//! (`BODY_TEMPLATE`), with the number in `to` and the code in `code`.

use crate::common::sms::{SmsRequest, SmsStandIn};
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

pub struct Provider {
    pub stand_in: SmsStandIn,
    failing: Arc<AtomicBool>,
}

/// One message the provider received.
#[derive(Debug, Clone)]
pub struct Sms {
    pub method: String,
    pub path: String,
    pub request: SmsRequest,
    /// The body as JSON; `Null` when it is not JSON.
    pub json: Value,
}

impl Sms {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.request.header(name)
    }

    /// A string field of the JSON body.
    pub fn field(&self, name: &str) -> Option<String> {
        self.json
            .get(name)
            .and_then(Value::as_str)
            .map(str::to_owned)
    }

    /// The number the message went to.
    pub fn to(&self) -> String {
        self.field("to").unwrap_or_default()
    }

    /// The code in the message.
    pub fn code(&self) -> String {
        self.field("code")
            .unwrap_or_else(|| panic!("the message has a code: {}", self.request.body))
    }
}

impl Provider {
    pub fn start() -> Provider {
        let failing = Arc::new(AtomicBool::new(false));
        let fails = failing.clone();
        let stand_in = SmsStandIn::start(move |_| {
            Some(if fails.load(Ordering::SeqCst) {
                (
                    500,
                    r#"{"error": "the stand-in was told to fail"}"#.to_owned(),
                )
            } else {
                (200, r#"{"status": "queued"}"#.to_owned())
            })
        });
        Provider { stand_in, failing }
    }

    /// Where the generic provider posts.
    pub fn send_url(&self) -> String {
        format!("{}/send", self.stand_in.url)
    }

    /// From now on, answers 500 (`fail(true)`) or 200 again (`fail(false)`).
    pub fn fail(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    /// Every message received so far, oldest first.
    pub fn received(&self) -> Vec<Sms> {
        self.stand_in
            .requests()
            .into_iter()
            .map(|request| Sms {
                method: request.method.clone(),
                path: request.path().to_owned(),
                json: serde_json::from_str(&request.body).unwrap_or(Value::Null),
                request,
            })
            .collect()
    }

    /// The messages to `number`, oldest first.
    pub fn sent_to(&self, number: &str) -> Vec<Sms> {
        self.received()
            .into_iter()
            .filter(|sms| sms.to() == number)
            .collect()
    }

    /// The code of the newest message to `number`.
    pub fn last_code_to(&self, number: &str) -> String {
        self.sent_to(number)
            .last()
            .unwrap_or_else(|| panic!("no SMS to {number}; received: {:?}", self.received()))
            .code()
    }
}
