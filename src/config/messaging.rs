//! `[messaging]`: the words a customer writes to stop messages (opt out) and to have them again (opt in).

use super::{Config, ConfigError, invalid};
use serde::{Deserialize, Serialize};

/// The longest keyword, in characters.
pub const MAX_WORD: usize = 32;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Messaging {
    /// A customer's message that is exactly one of these (case, spaces and Arabic letter forms aside)
    /// opts them out of messages from that number: every send to them is refused until they opt in.
    pub opt_out_words: Vec<String>,
    /// A customer's message that is exactly one of these opts them back in.
    pub opt_in_words: Vec<String>,
}

impl Default for Messaging {
    fn default() -> Self {
        Messaging {
            opt_out_words: vec!["STOP".into(), "إيقاف".into()],
            opt_in_words: vec!["START".into(), "بدء".into()],
        }
    }
}

/// What a customer's message asks for, if it is a keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyword {
    OptOut,
    OptIn,
}

impl Messaging {
    /// Whether `text` is one of the keywords, and which.
    pub fn keyword(&self, text: &str) -> Option<Keyword> {
        let typed = normalize(text);
        if typed.is_empty() {
            return None;
        }
        let is = |words: &[String]| words.iter().any(|w| normalize(w) == typed);
        if is(&self.opt_out_words) {
            Some(Keyword::OptOut)
        } else if is(&self.opt_in_words) {
            Some(Keyword::OptIn)
        } else {
            None
        }
    }
}

/// A word as it is compared: lower case, without spaces, Arabic diacritics or tatweel, and with the forms
/// of alef written as a bare alef (people type "ايقاف" for "إيقاف").
pub fn normalize(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '\u{0640}' | '\u{064B}'..='\u{0652}'))
        .map(|c| match c {
            'أ' | 'إ' | 'آ' | 'ٱ' => 'ا',
            c => c,
        })
        .flat_map(char::to_lowercase)
        .collect()
}

impl Config {
    pub(super) fn validate_messaging(&self) -> Result<(), ConfigError> {
        let m = &self.messaging;
        for (key, words) in [
            ("messaging.opt_out_words", &m.opt_out_words),
            ("messaging.opt_in_words", &m.opt_in_words),
        ] {
            for word in words {
                let length = normalize(word).chars().count();
                if length == 0 || length > MAX_WORD {
                    return Err(invalid(
                        key,
                        format!("each word has 1 to {MAX_WORD} characters besides spaces"),
                    ));
                }
            }
        }
        if let Some(both) = m
            .opt_out_words
            .iter()
            .find(|w| m.opt_in_words.iter().any(|i| normalize(i) == normalize(w)))
        {
            return Err(invalid(
                "messaging.opt_in_words",
                format!("\"{both}\" is also an opt-out word; a word can only do one of the two"),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_match_whatever_the_case_spaces_and_alef() {
        let m = Messaging::default();
        for text in [
            "STOP",
            " stop ",
            "Stop\n",
            "S TOP",
            "إيقاف",
            "ايقاف",
            " إيـقاف ",
        ] {
            assert_eq!(m.keyword(text), Some(Keyword::OptOut), "{text:?}");
        }
        for text in ["START", "start", "بدء"] {
            assert_eq!(m.keyword(text), Some(Keyword::OptIn), "{text:?}");
        }
        for text in ["stop please", "STOPP", "", "   ", "Hello"] {
            assert_eq!(m.keyword(text), None, "{text:?}");
        }
    }

    #[test]
    fn a_word_that_would_do_both_or_nothing_is_refused() {
        let mut config = Config::default();
        config.messaging.opt_in_words = vec!["stop".into()];
        assert!(config.validate_messaging().is_err());
        config.messaging.opt_in_words = vec![" ".into()];
        assert!(config.validate_messaging().is_err());
        config.messaging.opt_in_words = vec!["UNSTOP".into()];
        assert!(config.validate_messaging().is_ok());
    }
}
