//! What to do about an error from Meta, decided by its `error.code` (Meta says not to rely on HTTP
//! statuses or titles).

use crate::domain::lang::Lang;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// A passing fault at Meta or on the way: try again soon.
    RetrySoon,
    /// This number is over a rate limit: slow the whole connection down.
    BackOffNumber,
    /// Too many messages to this recipient: wait 4^n seconds for this one.
    BackOffRecipient,
    /// The access token no longer works: hold the connection's queue until someone fixes it.
    CredentialsBroken,
    /// Retrying will not help: the message fails with Meta's error.
    Final,
}

impl ErrorClass {
    /// The class as a word, as it is serialized (`retry_soon`, `final`, ...).
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorClass::RetrySoon => "retry_soon",
            ErrorClass::BackOffNumber => "back_off_number",
            ErrorClass::BackOffRecipient => "back_off_recipient",
            ErrorClass::CredentialsBroken => "credentials_broken",
            ErrorClass::Final => "final",
        }
    }
}

pub fn classify(code: i64) -> ErrorClass {
    match code {
        1 | 2 | 131000 | 131016 | 133004 => ErrorClass::RetrySoon,
        4 | 80007 | 130429 | 131057 => ErrorClass::BackOffNumber,
        131056 => ErrorClass::BackOffRecipient,
        0 | 190 => ErrorClass::CredentialsBroken,
        _ => ErrorClass::Final,
    }
}

/// The error in words, for people reading the message log.
pub fn explain(code: i64) -> Option<&'static str> {
    Some(match code {
        0 | 190 => "The access token has expired or was revoked: update it on the connection.",
        4 | 80007 | 130429 => {
            "Meta's rate limit for this number was reached; sending resumes automatically."
        }
        131026 => "The message could not be delivered: the number may not be on WhatsApp.",
        131047 => "More than 24 hours since the customer last wrote: send a template.",
        131048 => "Meta limited this number for spam; check its quality rating.",
        131049 => {
            "Meta chose not to deliver this message, to keep the customer's experience good; send fewer marketing messages."
        }
        131050 => "The customer stopped marketing messages from this business.",
        131056 => {
            "Too many messages to this customer in a short time; it is retried after a pause."
        }
        131051 => "This message type is not supported.",
        132000 => "The number of template parameters does not match the template.",
        132001 => "The template does not exist in this language or is not approved.",
        131030 => "The recipient is not in the test number's allowed list.",
        100 => "Meta refused a parameter of the message.",
        368 => "The WhatsApp Business Account is restricted for a policy violation.",
        _ => return None,
    })
}

/// Every code the catalogs word (`meta_errors.<code>` in `assets/i18n/<lang>/meta_errors.toml`), for the
/// pages: every code `classify` names and every code `explain` words, and the other codes of Meta's table.
pub const WORDED: &[i64] = &[
    0, 1, 2, 3, 4, 10, 100, 190, 200, 368, 80007, 130429, 130472, 131000, 131005, 131008, 131009,
    131016, 131021, 131026, 131030, 131031, 131037, 131042, 131045, 131047, 131048, 131049, 131050,
    131051, 131052, 131053, 131056, 131057, 131063, 131064, 132000, 132001, 132005, 132007, 132012,
    132015, 132016, 132068, 132069, 133004, 133010, 135000,
];

/// Meta's error in words in the page's language: the code's sentence, else one that names the code (the
/// page shows Meta's own title and details beside it). The API keeps Meta's text and `explain`.
pub fn words(lang: Lang, code: i64) -> String {
    let key = format!("meta_errors.{code}");
    match lang.t(&key) {
        text if text != key => text.to_owned(),
        _ => lang
            .t("meta_errors.unknown")
            .replace("{code}", &code.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every code the classification names, and every code worded for the API, has its sentence in both
    /// languages (the English one the API's own where the API has one); an unknown code gets the fallback.
    #[test]
    fn every_classified_code_has_words_in_both_languages() {
        let named = [
            1, 2, 131000, 131016, 133004, 4, 80007, 130429, 131057, 131056, 0, 190,
        ];
        let explained: Vec<i64> = (0..200_000).filter(|c| explain(*c).is_some()).collect();
        assert!(explained.contains(&131026) && explained.contains(&368));
        for code in named.iter().chain(&explained).chain(WORDED) {
            assert!(WORDED.contains(code), "{code} is listed");
            let key = format!("meta_errors.{code}");
            let (en, ar) = (Lang::En.t(&key), Lang::Ar.t(&key));
            assert!(en != key && ar != key && ar != en, "{code}");
            assert!(
                !ar.chars().any(|c| ('\u{660}'..='\u{669}').contains(&c)),
                "{code}: Western digits"
            );
            if let Some(api) = explain(*code) {
                assert_eq!(en, api, "{code}");
            }
            assert_eq!(words(Lang::Ar, *code), ar);
        }
        let unknown = words(Lang::En, 999_999);
        assert!(unknown.contains("999999"), "{unknown}");
        assert!(words(Lang::Ar, 999_999).contains("999999"));
    }

    #[test]
    fn codes_map_to_the_designed_classes() {
        assert_eq!(classify(131000), ErrorClass::RetrySoon);
        assert_eq!(classify(130429), ErrorClass::BackOffNumber);
        assert_eq!(classify(131056), ErrorClass::BackOffRecipient);
        assert_eq!(classify(190), ErrorClass::CredentialsBroken);
        assert_eq!(classify(131026), ErrorClass::Final);
        assert_eq!(classify(131047), ErrorClass::Final);
        for class in [
            ErrorClass::RetrySoon,
            ErrorClass::BackOffNumber,
            ErrorClass::Final,
        ] {
            assert_eq!(
                serde_json::to_value(class).unwrap(),
                serde_json::json!(class.as_str())
            );
        }
    }
}
