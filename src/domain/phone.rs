//! A person's mobile number: read from what they typed, checked against the numbering plans of
//! libphonenumber (through the `phonenumber` crate), kept and sent in E.164 (`+` and digits).

use std::fmt;

/// A valid mobile number in E.164.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MobileNumber(String);

/// Why what was typed is not a mobile number, in words a page can show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotMobile {
    /// Not a number in international form.
    Unreadable,
    /// A number no country's plan has.
    Invalid,
    /// A valid number that cannot receive SMS (a landline, a toll-free or premium number).
    NotMobile,
}

impl NotMobile {
    /// The words' key under `[phone]` in the catalogs.
    pub fn key(self) -> &'static str {
        match self {
            NotMobile::Unreadable => "phone.bad_unreadable",
            NotMobile::Invalid => "phone.bad_invalid",
            NotMobile::NotMobile => "phone.bad_not_mobile",
        }
    }
}

impl MobileNumber {
    /// Reads a number typed as `+CC...` or `00CC...`, with spaces, dashes, dots or brackets.
    pub fn parse(typed: &str) -> Result<MobileNumber, NotMobile> {
        let typed = crate::domain::lang::normalise_digits(typed);
        let typed = typed.trim();
        let international = match typed.strip_prefix("00") {
            Some(rest) => format!("+{rest}"),
            None => typed.to_owned(),
        };
        let allowed = |c: char| c.is_ascii_digit() || " -.()+".contains(c);
        if !international.starts_with('+')
            || international.len() > 32
            || !international.chars().all(allowed)
        {
            return Err(NotMobile::Unreadable);
        }
        let number = phonenumber::parse(None, &international).map_err(|_| NotMobile::Unreadable)?;
        if !number.is_valid() {
            return Err(NotMobile::Invalid);
        }
        use phonenumber::Type;
        let kind = number.number_type(&phonenumber::metadata::DATABASE);
        if !matches!(
            kind,
            Type::Mobile | Type::FixedLineOrMobile | Type::PersonalNumber | Type::Pager
        ) {
            return Err(NotMobile::NotMobile);
        }
        Ok(MobileNumber(
            number.format().mode(phonenumber::Mode::E164).to_string(),
        ))
    }

    /// A number this server stored itself (already checked when it was added).
    pub fn stored(e164: String) -> MobileNumber {
        MobileNumber(e164)
    }

    pub fn e164(&self) -> &str {
        &self.0
    }

    /// The number with all but its last two digits hidden, for pages, emails and logs.
    pub fn masked(&self) -> String {
        let digits = self.0.trim_start_matches('+');
        let shown = digits.len().saturating_sub(2);
        format!("+{}{}", "•".repeat(shown), &digits[shown..])
    }
}

impl fmt::Display for MobileNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mobile_numbers_are_read_in_any_usual_spelling_and_kept_in_e164() {
        for typed in [
            "+966501234567",
            "+966 50 123 4567",
            "00966-50-123-4567",
            " +966 (50) 123.4567 ",
        ] {
            assert_eq!(
                MobileNumber::parse(typed).unwrap().e164(),
                "+966501234567",
                "{typed}"
            );
        }
        assert_eq!(
            MobileNumber::parse("+44 7400 123456").unwrap().e164(),
            "+447400123456"
        );
    }

    #[test]
    fn what_is_not_a_mobile_number_is_refused_with_its_reason() {
        assert_eq!(
            MobileNumber::parse("0501234567"),
            Err(NotMobile::Unreadable)
        );
        assert_eq!(MobileNumber::parse("+966abc"), Err(NotMobile::Unreadable));
        for unknown in ["+999123456789", "+9665", "+966 50 123"] {
            assert!(
                matches!(
                    MobileNumber::parse(unknown),
                    Err(NotMobile::Unreadable | NotMobile::Invalid)
                ),
                "{unknown}"
            );
        }
        // A Riyadh landline.
        assert_eq!(
            MobileNumber::parse("+966 11 234 5678"),
            Err(NotMobile::NotMobile)
        );
    }

    #[test]
    fn a_masked_number_shows_its_last_two_digits_only() {
        let number = MobileNumber::parse("+966501234567").unwrap();
        assert_eq!(number.masked(), "+••••••••••67");
    }
}
