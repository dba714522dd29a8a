//! The mistakes of a refused form, each about one field: its words, shown next to the field as
//! `<p class="field-error" id="<id>-error">`, and the field's `aria-describedby` and `aria-invalid`, so a
//! screen reader reads the hint and the mistake with the field (app.js then puts the focus on the first).

/// Mistakes by field name. A field's id is its name with `-` for `_`, after the page's `prefix`; its hint
/// and its error are `<id>-hint` and `<id>-error`.
#[derive(Default)]
pub struct FieldErrors {
    prefix: &'static str,
    errors: Vec<(String, String)>,
}

impl FieldErrors {
    /// `errors` as (field, words).
    pub fn new(prefix: &'static str, errors: Vec<(String, String)>) -> FieldErrors {
        FieldErrors { prefix, errors }
    }

    /// The words of the mistake about `field`, if there is one.
    pub fn words(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, words)| words.as_str())
    }

    /// ` aria-describedby="..." aria-invalid="true"` of `field`: its hint, if it has one, and its mistake.
    pub fn attrs(&self, field: &str, hint: bool) -> String {
        let id = format!("{}{}", self.prefix, field.replace('_', "-"));
        let invalid = self.words(field).is_some();
        let ids: Vec<String> = [(hint, "hint"), (invalid, "error")]
            .into_iter()
            .filter(|(shown, _)| *shown)
            .map(|(_, what)| format!("{id}-{what}"))
            .collect();
        let mut out = String::new();
        if !ids.is_empty() {
            out.push_str(&format!(" aria-describedby=\"{}\"", ids.join(" ")));
        }
        if invalid {
            out.push_str(" aria-invalid=\"true\"");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_points_at_its_hint_and_its_mistake() {
        let errors = FieldErrors::new("t-", vec![("body_text".into(), "Too long".into())]);
        assert_eq!(errors.words("body_text"), Some("Too long"));
        assert_eq!(
            errors.attrs("body_text", true),
            " aria-describedby=\"t-body-text-hint t-body-text-error\" aria-invalid=\"true\""
        );
        assert_eq!(
            errors.attrs("name", true),
            " aria-describedby=\"t-name-hint\""
        );
        assert_eq!(errors.attrs("name", false), "");
    }
}
