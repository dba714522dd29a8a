//! English and Arabic. Catalogs are TOML files compiled into the binary, one file per area of the
//! product under `assets/i18n/<lang>/`; every key exists in both languages (a test checks it). Pages take
//! the language from the request (`http::web::i18n`); emails from the recipient's saved choice.

use std::collections::HashMap;
use std::sync::LazyLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lang {
    En,
    Ar,
}

type Catalog = HashMap<String, String>;

#[derive(rust_embed::RustEmbed)]
#[folder = "assets/i18n"]
struct Catalogs;

/// Every file of one language, merged.
fn load(lang: &str) -> Catalog {
    let mut catalog = Catalog::new();
    for name in Catalogs::iter().filter(|name| name.starts_with(&format!("{lang}/"))) {
        let file = Catalogs::get(&name).expect("listed files exist");
        let text = std::str::from_utf8(&file.data).expect("catalogs are UTF-8");
        catalog.extend(parse(text));
    }
    catalog
}

fn parse(source: &str) -> Catalog {
    // Nested tables flatten to dotted keys: [login] title = "..." is "login.title".
    fn walk(prefix: &str, value: &toml::Value, out: &mut Catalog) {
        match value {
            toml::Value::Table(table) => {
                for (key, value) in table {
                    let path = if prefix.is_empty() {
                        key.clone()
                    } else {
                        format!("{prefix}.{key}")
                    };
                    walk(&path, value, out);
                }
            }
            toml::Value::String(text) => {
                out.insert(prefix.to_owned(), text.clone());
            }
            _ => {}
        }
    }
    let value: toml::Value = toml::from_str(source).expect("the built-in catalogs are valid TOML");
    let mut out = Catalog::new();
    walk("", &value, &mut out);
    out
}

const ARABIC_MONTHS: [&str; 12] = [
    "يناير",
    "فبراير",
    "مارس",
    "أبريل",
    "مايو",
    "يونيو",
    "يوليو",
    "أغسطس",
    "سبتمبر",
    "أكتوبر",
    "نوفمبر",
    "ديسمبر",
];

static EN: LazyLock<Catalog> = LazyLock::new(|| load("en"));
static AR: LazyLock<Catalog> = LazyLock::new(|| load("ar"));

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Ar];

    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ar => "ar",
        }
    }

    pub fn from_code(code: &str) -> Option<Lang> {
        match code.trim().to_ascii_lowercase().as_str() {
            "en" => Some(Lang::En),
            "ar" => Some(Lang::Ar),
            _ => None,
        }
    }

    pub fn dir(self) -> &'static str {
        match self {
            Lang::En => "ltr",
            Lang::Ar => "rtl",
        }
    }

    /// The language's own name, for the switch.
    pub fn native_name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::Ar => "العربية",
        }
    }

    fn catalog(self) -> &'static Catalog {
        match self {
            Lang::En => &EN,
            Lang::Ar => &AR,
        }
    }

    /// The text for `key`; English when this language lacks it, the key itself when both do.
    pub fn t(self, key: &str) -> &str {
        self.catalog()
            .get(key)
            .or_else(|| EN.get(key))
            .map(String::as_str)
            .unwrap_or(key)
    }

    /// Picks the first supported language of an Accept-Language header, by quality.
    pub fn from_accept_language(header: &str) -> Option<Lang> {
        let mut choices: Vec<(f32, Lang)> = header
            .split(',')
            .filter_map(|part| {
                let mut pieces = part.trim().split(';');
                let tag = pieces.next()?.trim();
                let quality = pieces
                    .find_map(|p| {
                        p.trim()
                            .strip_prefix("q=")
                            .and_then(|q| q.parse::<f32>().ok())
                    })
                    .unwrap_or(1.0);
                let primary = tag.split('-').next()?;
                Lang::from_code(primary).map(|lang| (quality, lang))
            })
            .collect();
        choices.sort_by(|a, b| b.0.total_cmp(&a.0));
        choices.first().map(|(_, lang)| *lang)
    }

    /// Formats a day (milliseconds since the epoch, its UTC date) for this language: "1 Jan 2027",
    /// "1 يناير 2027". For dates that name a day (a renewal, a trial's end, the month's reset).
    pub fn date(self, ms: i64) -> String {
        let Some(at) = chrono::DateTime::from_timestamp_millis(ms) else {
            return String::new();
        };
        match self {
            Lang::En => at.format("%-d %b %Y").to_string(),
            Lang::Ar => {
                use chrono::Datelike;
                format!(
                    "{} {} {}",
                    at.day(),
                    ARABIC_MONTHS[at.month0() as usize],
                    at.year()
                )
            }
        }
    }

    /// Formats a time (milliseconds since the epoch, shown in UTC) for this language.
    pub fn datetime(self, ms: i64) -> String {
        let Some(at) = chrono::DateTime::from_timestamp_millis(ms) else {
            return String::new();
        };
        match self {
            Lang::En => at.format("%-d %b %Y, %H:%M UTC").to_string(),
            Lang::Ar => {
                use chrono::{Datelike, Timelike};
                format!(
                    "{} {} {}، {:02}:{:02} UTC",
                    at.day(),
                    ARABIC_MONTHS[at.month0() as usize],
                    at.year(),
                    at.hour(),
                    at.minute()
                )
            }
        }
    }

    /// Formats a whole number with grouping: "1,234,567" in both languages. The product writes Western
    /// digits (0-9) in Arabic too, as Gulf business software does; phone numbers and ids are Western anyway,
    /// so a page never mixes two digit styles. `normalise_digits` lets people type either.
    pub fn number(self, n: i64) -> String {
        let digits = n.unsigned_abs().to_string();
        let mut grouped = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                grouped.push(',');
            }
            grouped.push(c);
        }
        let sign = if n < 0 { "-" } else { "" };
        format!("{sign}{grouped}")
    }

    /// The decimal point: "." in both languages (the digits are Western in both).
    pub fn decimal_point(self) -> &'static str {
        "."
    }

    /// The percent sign that goes with the language's digits: "%" in both.
    pub fn percent_sign(self) -> &'static str {
        "%"
    }

    /// A number of days, worded as the language wants it ("1 day", "90 days"; in Arabic the noun
    /// follows the number: "يومان", "3 أيام", "90 يومًا", "100 يوم").
    pub fn days(self, n: i64) -> String {
        let number = self.number(n);
        match self {
            Lang::En if n == 1 => "1 day".to_owned(),
            Lang::En => format!("{number} days"),
            Lang::Ar => match n {
                1 => "يوم واحد".to_owned(),
                2 => "يومان".to_owned(),
                _ => match n % 100 {
                    3..=10 => format!("{number} أيام"),
                    11..=99 => format!("{number} يومًا"),
                    _ => format!("{number} يوم"),
                },
            },
        }
    }
}

/// A number, phone number or code as typed, with Arabic-Indic (٠-٩) and Eastern Arabic-Indic (۰-۹) digits
/// turned into Western ones, the Arabic decimal separator (٫) into "." and the Arabic thousands
/// separator (٬) into ","; everything else is left as it is. Applied to every numeric form field, so a
/// phone's Arabic keyboard is as good as a Western one.
pub fn normalise_digits(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\u{0660}'..='\u{0669}' => char::from(b'0' + (c as u32 - 0x0660) as u8),
            '\u{06F0}'..='\u{06F9}' => char::from(b'0' + (c as u32 - 0x06F0) as u8),
            '\u{066B}' => '.',
            '\u{066C}' => ',',
            c => c,
        })
        .collect()
}

impl Lang {
    /// A time to the second (milliseconds since the epoch, in UTC, which it says), for logs: "8 Dec 2026,
    /// 14:03:07 UTC".
    pub fn datetime_seconds(self, ms: i64) -> String {
        use chrono::{Datelike, Timelike};
        let Some(at) = chrono::DateTime::from_timestamp_millis(ms) else {
            return String::new();
        };
        match self {
            Lang::En => at.format("%-d %b %Y, %H:%M:%S UTC").to_string(),
            Lang::Ar => format!(
                "{} {} {}، {:02}:{:02}:{:02} UTC",
                at.day(),
                ARABIC_MONTHS[at.month0() as usize],
                at.year(),
                at.hour(),
                at.minute(),
                at.second()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_catalogs_have_the_same_keys() {
        let mut en: Vec<_> = EN.keys().collect();
        let mut ar: Vec<_> = AR.keys().collect();
        en.sort();
        ar.sort();
        assert_eq!(en, ar);
        assert!(!en.is_empty());
    }

    #[test]
    fn accept_language_picks_the_best_supported_language() {
        assert_eq!(
            Lang::from_accept_language("ar-KW,ar;q=0.9,en;q=0.8"),
            Some(Lang::Ar)
        );
        assert_eq!(
            Lang::from_accept_language("fr-FR, en;q=0.5, ar;q=0.7"),
            Some(Lang::Ar)
        );
        assert_eq!(Lang::from_accept_language("de"), None);
    }

    #[test]
    fn numbers_and_dates_use_western_digits_in_both_languages() {
        assert_eq!(Lang::En.number(1234567), "1,234,567");
        assert_eq!(Lang::Ar.number(1234567), "1,234,567");
        assert_eq!(Lang::Ar.number(-42), "-42");
        assert_eq!(Lang::En.datetime(0), "1 Jan 1970, 00:00 UTC");
        assert_eq!(Lang::Ar.datetime(0), "1 يناير 1970، 00:00 UTC");
        assert_eq!(Lang::En.date(0), "1 Jan 1970");
        assert_eq!(Lang::Ar.date(0), "1 يناير 1970");
        assert_eq!(Lang::En.days(1), "1 day");
        assert_eq!(Lang::En.days(3650), "3,650 days");
        assert_eq!(Lang::Ar.days(2), "يومان");
        assert_eq!(Lang::Ar.days(7), "7 أيام");
        assert_eq!(Lang::Ar.days(90), "90 يومًا");
        assert_eq!(Lang::Ar.days(100), "100 يوم");
        assert_eq!(Lang::Ar.days(365), "365 يومًا");
        for lang in Lang::ALL {
            for text in [lang.number(9876543210), lang.datetime(1_800_000_000_000)] {
                assert!(!text.chars().any(is_eastern_digit), "{text}");
            }
        }
    }

    fn is_eastern_digit(c: char) -> bool {
        matches!(c, '\u{0660}'..='\u{066C}' | '\u{06F0}'..='\u{06F9}')
    }

    #[test]
    fn typed_arabic_indic_and_eastern_digits_read_as_western_ones() {
        assert_eq!(normalise_digits("٠١٢٣٤٥٦٧٨٩"), "0123456789");
        assert_eq!(normalise_digits("۰۱۲۳۴۵۶۷۸۹"), "0123456789");
        assert_eq!(normalise_digits("+٩٦٥ ٥٠٠٠ ١٢٣٤"), "+965 5000 1234");
        assert_eq!(normalise_digits("٢٫٥"), "2.5");
        assert_eq!(normalise_digits("١٬٠٠٠"), "1,000");
        assert_eq!(normalise_digits("Code 12 ab"), "Code 12 ab");
        assert_eq!(normalise_digits("مرحبا"), "مرحبا");
    }
}
