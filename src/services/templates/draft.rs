//! A new template as a person writes it, checked against Meta's rules for its name, category, language,
//! header, body (variables `{{1}}`, `{{2}}`, ... with one example each), footer and buttons, and turned
//! into the body of `POST /{waba_id}/message_templates`. Every mistake is named with its field, so a
//! form can say each one next to the field it is about.

use serde_json::{Value, json};

pub const CATEGORIES: [&str; 3] = ["MARKETING", "UTILITY", "AUTHENTICATION"];

/// Meta's template languages (its codes); their names are in the catalogs under
/// `templates.languages.<code>`.
pub const LANGUAGES: [&str; 71] = [
    "af", "sq", "ar", "az", "bn", "bg", "ca", "zh_CN", "zh_HK", "zh_TW", "hr", "cs", "da", "nl",
    "en", "en_GB", "en_US", "et", "fil", "fi", "fr", "ka", "de", "el", "gu", "ha", "he", "hi",
    "hu", "id", "ga", "it", "ja", "kn", "kk", "rw_RW", "ko", "ky_KG", "lo", "lv", "lt", "mk", "ms",
    "ml", "mr", "nb", "fa", "pl", "pt_BR", "pt_PT", "pa", "ro", "ru", "sr", "sk", "sl", "es",
    "es_AR", "es_ES", "es_MX", "sw", "sv", "ta", "te", "th", "tr", "uk", "ur", "uz", "vi", "zu",
];

/// The header formats a template made here may have. A media header (image, video, document) needs its example uploaded through Meta's Resumable Upload
/// API, which the product does not call yet: such templates are made in Meta's WhatsApp Manager, and
/// synced here like any other.
pub const HEADERS: [&str; 2] = ["none", "text"];

/// The kinds of button a template may have, as the form names them.
pub const BUTTON_KINDS: [&str; 4] = ["none", "quick_reply", "url", "phone"];

/// Meta's limits.
const NAME_MAX: usize = 512;
const HEADER_MAX: usize = 60;
const BODY_MAX: usize = 1024;
const FOOTER_MAX: usize = 60;
const BUTTON_TEXT_MAX: usize = 25;
const BUTTONS_MAX: usize = 10;
const URL_BUTTONS_MAX: usize = 2;
const PHONE_BUTTONS_MAX: usize = 1;
const URL_MAX: usize = 2000;

/// One button as written: its kind, its text and (for a link or a phone) its value.
#[derive(Debug, Clone, Default)]
pub struct ButtonDraft {
    pub kind: String,
    pub text: String,
    pub value: String,
}

#[derive(Debug, Clone, Default)]
pub struct TemplateDraft {
    pub name: String,
    pub category: String,
    pub language: String,
    /// `none`, `text`, `image`, `video` or `document`.
    pub header: String,
    /// An example of the header's variable, for a text header with `{{1}}`.
    pub header_text: String,
    pub header_example: String,
    pub body: String,
    /// One example per variable of the body, in order.
    pub body_examples: Vec<String>,
    pub footer: String,
    pub buttons: Vec<ButtonDraft>,
}

/// A mistake: the field it is about (`name`, `body_examples`, `button_2`, ...) and its catalog key.
pub type Mistake = (String, &'static str);

/// The variables of a text in the order they first appear, as numbers; `None` when one is not a
/// positive number (`{{name}}`) or they do not run 1, 2, 3, ... .
pub fn numbered_variables(text: &str) -> Option<Vec<usize>> {
    let mut seen: Vec<usize> = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        let number: usize = after[..end].trim().parse().ok().filter(|n| *n > 0)?;
        if !seen.contains(&number) {
            seen.push(number);
        }
        rest = &after[end + 2..];
    }
    let mut sorted = seen.clone();
    sorted.sort_unstable();
    sorted
        .iter()
        .enumerate()
        .all(|(i, n)| *n == i + 1)
        .then_some(sorted)
}

fn count(text: &str) -> usize {
    text.chars().count()
}

impl TemplateDraft {
    /// Every mistake, in the order of the form.
    pub fn check(&self) -> Vec<Mistake> {
        let mut mistakes: Vec<Mistake> = Vec::new();
        let mut wrong = |field: &str, key: &'static str| mistakes.push((field.to_owned(), key));
        let name = self.name.trim();
        if name.is_empty() || count(name) > NAME_MAX {
            wrong("name", "templates.errors.name_missing");
        } else if !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            wrong("name", "templates.errors.name_format");
        }
        if !CATEGORIES.contains(&self.category.as_str()) {
            wrong("category", "templates.errors.category");
        }
        if !LANGUAGES.contains(&self.language.as_str()) {
            wrong("language", "templates.errors.language");
        }
        match self.header.as_str() {
            "none" | "" => {}
            "text" => {
                let text = self.header_text.trim();
                match numbered_variables(text) {
                    _ if text.is_empty() || count(text) > HEADER_MAX => {
                        wrong("header_text", "templates.errors.header_text")
                    }
                    Some(vars) if vars.len() > 1 => {
                        wrong("header_text", "templates.errors.header_variables")
                    }
                    None => wrong("header_text", "templates.errors.header_variables"),
                    Some(vars) if vars.len() == 1 && self.header_example.trim().is_empty() => {
                        wrong("header_example", "templates.errors.header_example")
                    }
                    Some(_) => {}
                }
            }
            _ => wrong("header", "templates.errors.header"),
        }
        let body = self.body.trim();
        match numbered_variables(body) {
            _ if body.is_empty() || count(body) > BODY_MAX => {
                wrong("body", "templates.errors.body")
            }
            None => wrong("body", "templates.errors.body_variables"),
            Some(vars) => {
                if !vars.is_empty() && (body.starts_with("{{") || body.ends_with("}}")) {
                    wrong("body", "templates.errors.body_edges");
                }
                let examples = self.examples();
                if examples.len() < vars.len() || examples.iter().any(|e| e.is_empty()) {
                    wrong("body_examples", "templates.errors.body_examples");
                }
            }
        }
        let footer = self.footer.trim();
        if count(footer) > FOOTER_MAX {
            wrong("footer", "templates.errors.footer");
        } else if footer.contains("{{") {
            wrong("footer", "templates.errors.footer_variables");
        }
        let (mut urls, mut phones) = (0, 0);
        for (i, button) in self.used_buttons() {
            let field = format!("button_{}", i + 1);
            let text = button.text.trim();
            if text.is_empty() || count(text) > BUTTON_TEXT_MAX {
                wrong(&field, "templates.errors.button_text");
                continue;
            }
            let value = button.value.trim();
            match button.kind.as_str() {
                "quick_reply" => {}
                "url" => {
                    urls += 1;
                    if !is_https(value) || value.len() > URL_MAX {
                        wrong(&field, "templates.errors.button_url");
                    } else if urls > URL_BUTTONS_MAX {
                        wrong(&field, "templates.errors.button_url_count");
                    }
                }
                "phone" => {
                    phones += 1;
                    if crate::domain::meta::validate::normalize_phone(value).is_none() {
                        wrong(&field, "templates.errors.button_phone");
                    } else if phones > PHONE_BUTTONS_MAX {
                        wrong(&field, "templates.errors.button_phone_count");
                    }
                }
                _ => wrong(&field, "templates.errors.button_kind"),
            }
        }
        if self.used_buttons().count() > BUTTONS_MAX {
            wrong("buttons", "templates.errors.buttons");
        }
        mistakes
    }

    /// The body's examples as typed, trimmed, as many as the body has variables (the rest ignored).
    fn examples(&self) -> Vec<&str> {
        let wanted = numbered_variables(self.body.trim()).map_or(0, |v| v.len());
        self.body_examples
            .iter()
            .map(|e| e.trim())
            .take(wanted)
            .collect()
    }

    fn used_buttons(&self) -> impl Iterator<Item = (usize, &ButtonDraft)> {
        self.buttons
            .iter()
            .enumerate()
            .filter(|(_, b)| !matches!(b.kind.as_str(), "" | "none"))
    }

    /// The components as Meta takes them (call after `check` found nothing).
    pub fn components(&self) -> Value {
        let mut components = Vec::new();
        if self.header == "text" {
            let text = self.header_text.trim();
            let mut header = json!({"type": "HEADER", "format": "TEXT", "text": text});
            if text.contains("{{") {
                header["example"] = json!({"header_text": [self.header_example.trim()]});
            }
            components.push(header);
        }
        let mut body = json!({"type": "BODY", "text": self.body.trim()});
        let examples = self.examples();
        if !examples.is_empty() {
            body["example"] = json!({ "body_text": [examples] });
        }
        components.push(body);
        if !self.footer.trim().is_empty() {
            components.push(json!({"type": "FOOTER", "text": self.footer.trim()}));
        }
        let buttons: Vec<Value> = self
            .used_buttons()
            .map(|(_, b)| match b.kind.as_str() {
                "url" => json!({"type": "URL", "text": b.text.trim(), "url": b.value.trim()}),
                // As it was checked: international, Western digits, nothing but the `+` and digits.
                "phone" => json!({"type": "PHONE_NUMBER", "text": b.text.trim(),
                                  "phone_number": crate::domain::meta::validate::normalize_phone(&b.value)
                                      .map(|digits| format!("+{digits}"))}),
                _ => json!({"type": "QUICK_REPLY", "text": b.text.trim()}),
            })
            .collect();
        if !buttons.is_empty() {
            components.push(json!({"type": "BUTTONS", "buttons": buttons}));
        }
        Value::Array(components)
    }

    /// The whole request to Meta.
    pub fn request(&self) -> Value {
        json!({
            "name": self.name.trim(),
            "language": self.language,
            "category": self.category,
            "components": self.components(),
        })
    }
}

fn is_https(link: &str) -> bool {
    link.strip_prefix("https://")
        .is_some_and(|rest| !rest.is_empty() && !rest.contains(char::is_whitespace))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> TemplateDraft {
        TemplateDraft {
            name: "order_ready".into(),
            category: "UTILITY".into(),
            language: "en_US".into(),
            header: "none".into(),
            body: "Hi {{1}}, order {{2}} is ready.".into(),
            body_examples: vec!["Sara".into(), "A-12".into()],
            ..TemplateDraft::default()
        }
    }

    #[test]
    fn a_good_template_becomes_metas_request() {
        let draft = good();
        assert!(draft.check().is_empty(), "{:?}", draft.check());
        let request = draft.request();
        assert_eq!(request["components"][0]["type"], "BODY");
        assert_eq!(
            request["components"][0]["example"]["body_text"],
            json!([["Sara", "A-12"]])
        );
    }

    #[test]
    fn a_phone_button_goes_to_meta_as_it_was_checked() {
        let mut draft = good();
        draft.buttons = vec![ButtonDraft {
            kind: "phone".into(),
            text: "Call us".into(),
            // As typed on an Arabic keyboard, with the 00 prefix and spaces.
            value: "00٩٦٥ ٥٠٠٠ ١٢٣٤".into(),
        }];
        assert!(draft.check().is_empty(), "{:?}", draft.check());
        let buttons = &draft.request()["components"][1]["buttons"];
        assert_eq!(buttons[0]["phone_number"], "+96550001234", "{buttons}");
    }

    #[test]
    fn each_mistake_is_named_with_its_field() {
        let mut draft = good();
        draft.name = "Order Ready".into();
        draft.body_examples = vec!["Sara".into()];
        draft.footer = "{{1}}".into();
        draft.buttons = vec![ButtonDraft {
            kind: "url".into(),
            text: "Track".into(),
            value: "http://x".into(),
        }];
        let fields: Vec<String> = draft.check().into_iter().map(|(f, _)| f).collect();
        assert_eq!(fields, ["name", "body_examples", "footer", "button_1"]);
    }

    #[test]
    fn variables_must_run_from_one() {
        assert_eq!(
            numbered_variables("a {{1}} b {{2}} {{1}}"),
            Some(vec![1, 2])
        );
        assert_eq!(numbered_variables("a {{2}} b"), None);
        assert_eq!(numbered_variables("a {{name}} b"), None);
        assert_eq!(numbered_variables("plain"), Some(vec![]));
    }
}
