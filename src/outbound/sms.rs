//! Placeholder until the gateway lands.
#[derive(Clone)]
pub struct SmsGateway;
pub struct SmsMessage<'a> {
    pub to: &'a str,
    pub text: &'a str,
    pub code: &'a str,
    pub lang: &'a str,
}
#[derive(Debug)]
pub struct SmsError;
impl std::fmt::Display for SmsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not configured")
    }
}
impl SmsGateway {
    pub fn new(_config: &crate::config::Sms) -> Option<SmsGateway> {
        None
    }
    pub fn send(&self, _message: &SmsMessage<'_>) -> Result<(), SmsError> {
        Err(SmsError)
    }
    pub fn provider_name(&self) -> &'static str {
        "none"
    }
}
