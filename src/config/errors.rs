//! Configuration errors in the product's words: which key of which section, in which file or environment
//! variable, and what would be right ("did you mean `port`?", "a number from 1 to 65535"). Figment's own
//! wording (`for key "default.server.portt"`) names neither the section as the file writes it nor the
//! variable to fix.

use rocket::figment::error::{Actual, Kind};
use rocket::figment::{Error, Source};

/// One sentence per error figment found.
pub(super) fn describe(errors: Error) -> String {
    errors
        .into_iter()
        .map(|e| sentence(&e))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Where a value came from: a file, or a `WHATSAPI_` environment variable.
enum Origin {
    File(String),
    Environment(String),
    Unknown,
}

impl Origin {
    fn of(error: &Error) -> Origin {
        let Some(metadata) = &error.metadata else {
            return Origin::Unknown;
        };
        match &metadata.source {
            Some(Source::File(path)) => Origin::File(path.display().to_string()),
            _ if metadata.name.contains("environment") => {
                Origin::Environment(variable_of(&error.path))
            }
            _ => Origin::Unknown,
        }
    }

    /// " in FILE" / " in the environment variable NAME" / "".
    fn suffix(&self) -> String {
        match self {
            Origin::File(path) => format!(" in {path}"),
            Origin::Environment(name) => format!(" in the environment variable {name}"),
            Origin::Unknown => String::new(),
        }
    }
}

/// The environment variable that set `path`: the path may stop short of the variable's last key (an
/// unknown section), so the variable is looked up rather than rebuilt.
fn variable_of(path: &[String]) -> String {
    let built = format!(
        "{}{}",
        super::ENV_PREFIX,
        path.join("__").to_ascii_uppercase()
    );
    let mut names: Vec<String> = std::env::vars_os()
        .filter_map(|(name, _)| name.into_string().ok())
        .filter(|name| {
            let upper = name.to_ascii_uppercase();
            upper == built || upper.starts_with(&format!("{built}__"))
        })
        .collect();
    names.sort();
    names.into_iter().next().unwrap_or(built)
}

/// `[server]`, `[[plans]] number 2`, or "" at the top.
fn section_of(path: &[String]) -> String {
    let mut names = Vec::new();
    let mut item = None;
    for part in path {
        match part.parse::<usize>() {
            Ok(index) => item = Some(index),
            Err(_) => names.push(part.as_str()),
        }
    }
    if names.is_empty() {
        return String::new();
    }
    match item {
        Some(index) => format!("[[{}]] number {}", names.join("."), index + 1),
        None => format!("[{}]", names.join(".")),
    }
}

fn sentence(error: &Error) -> String {
    let origin = Origin::of(error);
    let path = &error.path;
    let (parent, key) = match path.split_last() {
        Some((key, parent)) => (section_of(parent), key.as_str()),
        None => (String::new(), ""),
    };
    match &error.kind {
        Kind::UnknownField(field, known) => {
            unknown_key(field, parent_of(path, field), known, &origin)
        }
        Kind::InvalidType(actual, expected) | Kind::InvalidValue(actual, expected) => {
            let expected = expected_words(key, expected);
            format!(
                "{} must be {expected} (found {}){}",
                key_name(&parent, key),
                actual_words(actual),
                origin.suffix()
            )
        }
        Kind::UnknownVariant(found, allowed) => format!(
            "{} must be one of {} (found {found:?}){}",
            key_name(&parent, key),
            quoted(allowed),
            origin.suffix()
        ),
        Kind::MissingField(field) => {
            let section = section_of(path);
            let place = match section.is_empty() {
                true => "the configuration".to_owned(),
                false => section,
            };
            format!("{place} needs the key `{field}`{}", origin.suffix())
        }
        Kind::Message(message) if path.is_empty() => match &origin {
            // A file that is not TOML: figment passes on the parser's report, several lines long.
            Origin::File(file) => format!("{file} is not valid TOML: {}", toml_report(message)),
            _ => format!("{message}{}", origin.suffix()),
        },
        Kind::Message(message) => {
            format!("{}: {message}{}", key_name(&parent, key), origin.suffix())
        }
        other => {
            let place = match path.is_empty() {
                true => "the configuration".to_owned(),
                false => key_name(&parent, key),
            };
            format!("{place}: {other}{}", origin.suffix())
        }
    }
}

/// The path of the section holding `field` (figment's path ends with the field when it knows it).
fn parent_of<'a>(path: &'a [String], field: &str) -> &'a [String] {
    match path.split_last() {
        Some((last, parent)) if last == field => parent,
        _ => path,
    }
}

fn key_name(section: &str, key: &str) -> String {
    match section.is_empty() {
        true => format!("`{key}`"),
        false => format!("{section} {key}"),
    }
}

fn unknown_key(field: &str, parent: &[String], known: &[&str], origin: &Origin) -> String {
    let section = section_of(parent);
    let (what, of) = match section.is_empty() {
        true => (format!("unknown section `{field}`"), "in"),
        false => (format!("unknown key `{field}` in {section}"), "of"),
    };
    let place = match origin {
        Origin::File(path) => format!(" {of} {path}"),
        Origin::Environment(name) => format!(" (environment variable {name})"),
        Origin::Unknown => String::new(),
    };
    let hint = match closest(field, known) {
        Some(near) => format!("did you mean `{near}`?"),
        None if section.is_empty() => format!("the sections are {}", quoted(known)),
        None => format!("the keys of {section} are {}", quoted(known)),
    };
    format!("{what}{place}; {hint}")
}

/// The known name nearest to a mistyped one, when it is near enough to be what was meant.
fn closest<'a>(typed: &str, known: &[&'a str]) -> Option<&'a str> {
    let typed = typed.to_ascii_lowercase();
    known
        .iter()
        .map(|name| (strsim::damerau_levenshtein(&typed, name), *name))
        .filter(|(distance, name)| match name.len() {
            ..=4 => *distance <= 1,
            5..=8 => *distance <= 2,
            _ => *distance <= 3,
        })
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, name)| name)
}

fn quoted(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Serde's name of the expected type, in words.
fn expected_words(key: &str, expected: &str) -> String {
    match expected {
        "u16" if key == "port" => "a number from 1 to 65535, or 0 for any free port".to_owned(),
        "u8" => format!("a whole number from 0 to {}", u8::MAX),
        "u16" => format!("a whole number from 0 to {}", u16::MAX),
        "u32" | "u64" | "usize" => "a whole number, 0 or more".to_owned(),
        "i8" | "i16" | "i32" | "i64" | "isize" => "a whole number".to_owned(),
        "f32" | "f64" => "a number".to_owned(),
        "a boolean" => "true or false".to_owned(),
        "a string" | "a borrowed string" => "text in quotes".to_owned(),
        "path string" => "a file path in quotes".to_owned(),
        "IP address" => "an IP address (e.g. \"127.0.0.1\" or \"::\")".to_owned(),
        "a sequence" => "a list, e.g. [\"a\", \"b\"]".to_owned(),
        other if other.starts_with("struct ") || other.starts_with("a map") => {
            "a section of keys".to_owned()
        }
        other => other.to_owned(),
    }
}

fn actual_words(actual: &Actual) -> String {
    match actual {
        Actual::Str(text) => format!("{text:?}"),
        Actual::Unsigned(n) => n.to_string(),
        Actual::Signed(n) => n.to_string(),
        Actual::Float(n) => n.to_string(),
        Actual::Bool(b) => b.to_string(),
        Actual::Char(c) => format!("{:?}", c.to_string()),
        Actual::Seq => "a list".to_owned(),
        Actual::Map => "a section".to_owned(),
        other => other.to_string(),
    }
}

/// The TOML parser's report on one line: where, and what.
fn toml_report(message: &str) -> String {
    let mut lines = message.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next().unwrap_or_default();
    let place = first
        .strip_prefix("TOML parse error at ")
        .unwrap_or(first)
        .to_owned();
    // After the place come the quoted line and a caret; the last lines say what is wrong.
    let what: Vec<&str> = lines
        .filter(|l| !l.contains('|') && !l.starts_with('^'))
        .collect();
    match what.is_empty() {
        true => place,
        false => format!("{} ({place})", what.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_near_name_is_suggested_and_a_far_one_is_not() {
        let known = ["address", "port", "public_url", "tls_cert", "tls_key"];
        assert_eq!(closest("portt", &known), Some("port"));
        assert_eq!(closest("Prot", &known), Some("port"));
        assert_eq!(closest("tls_crt", &known), Some("tls_cert"));
        assert_eq!(closest("publicurl", &known), Some("public_url"));
        assert_eq!(closest("colour", &known), None);
        assert_eq!(closest("foo", &["log", "sms"]), None);
    }

    #[test]
    fn sections_are_written_as_in_the_file() {
        let path = |parts: &[&str]| parts.iter().map(|p| p.to_string()).collect::<Vec<_>>();
        assert_eq!(section_of(&path(&["server"])), "[server]");
        assert_eq!(section_of(&path(&["plans", "1"])), "[[plans]] number 2");
        assert_eq!(section_of(&path(&[])), "");
    }
}
