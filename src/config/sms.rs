//! `[sms]`: placeholder until the gateway lands.
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Sms {
    pub provider: String,
}

impl Sms {
    pub fn enabled(&self) -> bool {
        !self.provider.is_empty() && self.provider != "none"
    }
}
