//! Plans, subscriptions and the payment provider: `[billing]` and `[[plans]]`.

use super::{Config, ConfigError, Secret, invalid};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Billing {
    /// The plan of a new account.
    pub default_plan: String,
    /// Days a new account is `trialing`; when the trial ends without payment it becomes `past_due`.
    /// 0: a new account is `active` at once.
    pub trial_days: u32,
    /// Days a `past_due` account still sends; after them it sends nothing until it pays again.
    pub grace_days: u32,
    /// Who takes payments: "" (none: operators set the status by hand) or "stripe".
    pub provider: Provider,
    /// Stripe's secret API key (`sk_...`).
    pub stripe_secret_key: Option<Secret>,
    /// The signing secret of the Stripe webhook endpoint pointed at `/webhooks/stripe` (`whsec_...`).
    pub stripe_webhook_secret: Option<Secret>,
    /// Where Stripe's API is: `https://`, or `http://` on 127.0.0.1, ::1 or localhost (a stand-in).
    pub stripe_base_url: String,
}

impl Default for Billing {
    fn default() -> Self {
        Billing {
            default_plan: "free".into(),
            trial_days: 0,
            grace_days: 7,
            provider: Provider::None,
            stripe_secret_key: None,
            stripe_webhook_secret: None,
            stripe_base_url: STRIPE_API_URL.into(),
        }
    }
}

pub const STRIPE_API_URL: &str = "https://api.stripe.com";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Provider {
    #[serde(rename = "")]
    None,
    #[serde(rename = "stripe")]
    Stripe,
}

/// What a plan allows. Every limit is optional: absent is unlimited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    pub id: String,
    /// Shown to customers.
    pub name: String,
    /// The name in other languages, by language code (`ar = "..."`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub names: BTreeMap<String, String>,
    /// The price as customers read it ("29 EUR / month"); shown on the Billing page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<String>,
    /// Messages accepted per calendar month (UTC), all connections together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages_per_month: Option<u64>,
    /// API requests per minute per account, all keys together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_requests_per_minute: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connections: Option<u32>,
    /// People in the account, the owner and pending invitations included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub members: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_endpoints: Option<u32>,
    /// The parts of the product the plan includes; the others' pages and API routes are refused.
    #[serde(default = "Feature::all")]
    pub features: Vec<Feature>,
    /// The Stripe price a subscription to this plan is for (`price_...`); without one, the plan cannot
    /// be bought through Checkout (an operator assigns it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stripe_price: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Feature {
    /// The developer API (`/api/v1`) and the API keys page.
    Api,
    /// The inbox and conversations (pages and `/api/v1/conversations`).
    Inbox,
    /// Customers' webhook endpoints (the Webhooks page and `/api/v1/webhook-endpoints`).
    Webhooks,
}

impl Feature {
    pub fn all() -> Vec<Feature> {
        vec![Feature::Api, Feature::Inbox, Feature::Webhooks]
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Feature::Api => "api",
            Feature::Inbox => "inbox",
            Feature::Webhooks => "webhooks",
        }
    }
}

impl Plan {
    /// The built-in plan of an installation that sells nothing: no limits, every feature.
    pub fn unlimited(id: &str, name: &str) -> Plan {
        Plan {
            id: id.into(),
            name: name.into(),
            names: BTreeMap::new(),
            price: None,
            messages_per_month: None,
            api_requests_per_minute: None,
            connections: None,
            members: None,
            webhook_endpoints: None,
            features: Feature::all(),
            stripe_price: None,
        }
    }

    pub fn has(&self, feature: Feature) -> bool {
        self.features.contains(&feature)
    }

    /// The plan's name in a language (by code), else its `name`.
    pub fn name_in(&self, lang: &str) -> &str {
        self.names.get(lang).unwrap_or(&self.name)
    }
}

/// The `[[plans]]` of the file, or the one built-in plan without limits when it has none.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Plans(pub Vec<Plan>);

impl Default for Plans {
    fn default() -> Self {
        let mut free = Plan::unlimited("free", "Free");
        free.names.insert("ar".into(), "مجانية".into());
        Plans(vec![free])
    }
}

impl Plans {
    /// The plan with this id.
    pub fn find(&self, id: &str) -> Option<&Plan> {
        self.0.iter().find(|p| p.id == id)
    }

    /// The plans' ids, for messages.
    pub fn ids(&self) -> String {
        self.0
            .iter()
            .map(|p| p.id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl std::ops::Deref for Plans {
    type Target = [Plan];

    fn deref(&self) -> &[Plan] {
        &self.0
    }
}

impl Config {
    /// The plan with this id.
    pub fn plan(&self, id: &str) -> Option<&Plan> {
        self.plans.find(id)
    }

    pub(super) fn validate_billing(&mut self) -> Result<(), ConfigError> {
        if self.plans.is_empty() {
            return Err(invalid("plans", "at least one [[plans]] is needed"));
        }
        let mut seen = std::collections::HashSet::new();
        for plan in self.plans.iter() {
            let id_ok = !plan.id.is_empty()
                && plan.id.len() <= 64
                && plan
                    .id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !id_ok {
                return Err(invalid(
                    "plans.id",
                    format!(
                        "{:?} must be 1 to 64 letters, digits, - or _ (it is stored with each account)",
                        plan.id
                    ),
                ));
            }
            if !seen.insert(plan.id.as_str()) {
                return Err(invalid(
                    "plans.id",
                    format!("two plans have the id {:?}", plan.id),
                ));
            }
            if plan.name.trim().is_empty() {
                return Err(invalid(
                    "plans.name",
                    format!("plan {:?} needs a name", plan.id),
                ));
            }
            if plan.api_requests_per_minute == Some(0) {
                return Err(invalid(
                    "plans.api_requests_per_minute",
                    format!(
                        "plan {:?}: at least 1 (leave it out for no limit; take \"api\" out of features to refuse the API)",
                        plan.id
                    ),
                ));
            }
        }
        if self.plan(&self.billing.default_plan).is_none() {
            return Err(invalid(
                "billing.default_plan",
                format!(
                    "{:?} is not one of the plans ({})",
                    self.billing.default_plan,
                    self.plan_ids()
                ),
            ));
        }
        if self.billing.trial_days > 365 {
            return Err(invalid("billing.trial_days", "at most 365 days"));
        }
        if self.billing.grace_days > 365 {
            return Err(invalid("billing.grace_days", "at most 365 days"));
        }
        let base = self.billing.stripe_base_url.trim().trim_end_matches('/');
        // Every call carries the secret key (sk_live_...): unencrypted only to this machine.
        let normalized = super::normalize_base_url(base)
            .map_err(|why| invalid("billing.stripe_base_url", why))?;
        let refused = match normalized.strip_prefix("http://") {
            Some(authority) => !is_this_machine(authority),
            None => !normalized.starts_with("https://"),
        };
        if refused {
            return Err(invalid(
                "billing.stripe_base_url",
                "must start with https:// (http:// only for a local stand-in on 127.0.0.1, ::1 or localhost: the secret key goes with every call)",
            ));
        }
        self.billing.stripe_base_url = base.to_owned();
        if self.billing.provider == Provider::Stripe {
            for (key, value) in [
                ("billing.stripe_secret_key", &self.billing.stripe_secret_key),
                (
                    "billing.stripe_webhook_secret",
                    &self.billing.stripe_webhook_secret,
                ),
            ] {
                if value.as_ref().is_none_or(|s| s.expose().trim().is_empty()) {
                    return Err(invalid(key, "is needed when billing.provider = \"stripe\""));
                }
            }
        }
        Ok(())
    }

    /// The plans' ids, for messages.
    pub fn plan_ids(&self) -> String {
        self.plans.ids()
    }
}

/// Whether a normalised `host[:port][/path]` names this machine's loopback: 127.0.0.1, ::1 or localhost.
pub(super) fn is_this_machine(authority: &str) -> bool {
    let authority = authority.split('/').next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    matches!(host, "127.0.0.1" | "::1" | "localhost")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rocket::figment::Figment;
    use rocket::figment::providers::{Format, Serialized, Toml};

    fn load(toml: &str) -> Result<Config, String> {
        let mut config: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::string(toml))
            .extract()
            .map_err(|e| e.to_string())?;
        config.validate().map_err(|e| e.to_string())?;
        Ok(config)
    }

    #[test]
    fn plans_in_the_file_replace_the_built_in_one_and_absent_limits_are_unlimited() {
        let config = load(
            r#"
            [billing]
            default_plan = "trial"
            [[plans]]
            id = "trial"
            name = "Trial"
            messages_per_month = 100
            [[plans]]
            id = "pro"
            name = "Pro"
            names = { ar = "احترافي" }
            features = ["api"]
            "#,
        )
        .unwrap();
        assert_eq!(config.plan_ids(), "trial, pro");
        let trial = config.plan("trial").unwrap();
        assert_eq!(trial.messages_per_month, Some(100));
        assert_eq!(trial.connections, None);
        assert_eq!(trial.features, Feature::all());
        let pro = config.plan("pro").unwrap();
        assert!(pro.has(Feature::Api) && !pro.has(Feature::Inbox));
        assert_eq!(pro.name_in("ar"), "احترافي");
        assert_eq!(pro.name_in("en"), "Pro");
    }

    #[test]
    fn a_default_plan_that_is_not_a_plan_is_named() {
        let err = load("[[plans]]\nid = \"pro\"\nname = \"Pro\"\n").unwrap_err();
        assert!(
            err.contains("billing.default_plan") && err.contains("pro"),
            "{err}"
        );
        let err = load("[[plans]]\nid = \"a b\"\nname = \"x\"\n").unwrap_err();
        assert!(err.starts_with("plans.id"), "{err}");
        let err = load(
            "[billing]\ndefault_plan = \"x\"\n[[plans]]\nid = \"x\"\nname = \"X\"\n[[plans]]\nid = \"x\"\nname = \"Y\"\n",
        )
        .unwrap_err();
        assert!(err.contains("two plans"), "{err}");
    }

    #[test]
    fn stripe_needs_its_secrets() {
        let err = load("[billing]\nprovider = \"stripe\"\n").unwrap_err();
        assert!(err.starts_with("billing.stripe_secret_key"), "{err}");
        load("[billing]\nprovider = \"stripe\"\nstripe_secret_key = \"sk_test_1\"\nstripe_webhook_secret = \"whsec_1\"\n")
            .unwrap();
    }

    #[test]
    fn stripes_api_is_reached_over_https_or_http_on_this_machine_only() {
        let with = |url: &str| load(&format!("[billing]\nstripe_base_url = \"{url}\"\n"));
        for accepted in [
            "https://api.stripe.com",
            "https://stripe-proxy.example.com:8443/",
            "http://127.0.0.1:4242",
            "http://localhost:4242/",
            "HTTP://LOCALHOST",
            "http://[::1]:4242",
        ] {
            assert!(with(accepted).is_ok(), "{accepted}: {:?}", with(accepted));
        }
        for refused in [
            "http://api.stripe.com",
            "http://10.0.0.5:4242",
            "http://127.0.0.2:4242",
            "http://localhost.example.com",
            "http://127.0.0.1.nip.io",
            "http://[::2]:4242",
            "http://user@127.0.0.1:4242",
            "ftp://127.0.0.1",
            "api.stripe.com",
        ] {
            let err = with(refused).unwrap_err();
            assert!(
                err.starts_with("billing.stripe_base_url"),
                "{refused}: {err}"
            );
        }
    }
}
