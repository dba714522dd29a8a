//! Charts drawn on the server as SVG: plain data in, an SVG string out, for any page (the Usage page
//! today). No script and no `style=` attribute, so the CSP stays strict: every shape carries a class and
//! the colours live in `app.css` (its "Charts" section). Every text is escaped.
//!
//! A chart is an image (`role="img"`) named by its title and summary, which the caller words in the
//! page's language; the numbers on the axes are written in that language's digits. In a right-to-left
//! language the whole drawing is mirrored: the first value (the oldest day) is on the right, the value
//! axis stands on the right, and bars grow from the right.
//!
//! - [`stacked_bars`]: vertical bars per day, each split into series (messages by status; with one
//!   series, simple bars such as API calls per day).
//! - [`rates`]: lines of percentages per day (delivery and read rates); a day without a rate is a gap.
//! - [`ranked_bars`]: horizontal bars with their words (failures by error code).
//! - [`meter`]: a count against a limit (this month's messages against the plan's quota).

mod canvas;
mod meter;
mod ranked;
mod time;

#[cfg(test)]
mod tests;

pub use meter::meter;
pub use ranked::ranked_bars;
pub use time::{rates, stacked_bars};

use crate::domain::lang::Lang;

/// What every chart says about itself, in the page's language.
pub struct Chart<'a> {
    pub lang: Lang,
    /// A short name ("Messages per day").
    pub title: &'a str,
    /// One or two sentences with what the chart shows, for people who cannot see it.
    pub summary: &'a str,
}

/// One series of values, drawn in the colour of its class (`.chart .s-<class>` in the stylesheet).
pub struct Series<'a, T> {
    pub label: &'a str,
    /// Lower-case letters, digits and dashes; anything else is dropped.
    pub class: &'a str,
    pub values: &'a [T],
}

/// One horizontal bar: its words and its value.
pub struct Ranked<'a> {
    pub label: &'a str,
    pub value: u64,
}

/// A percentage: "93%" (Western digits in both languages).
pub fn percent(lang: Lang, value: f64) -> String {
    let rounded = if value.is_finite() {
        value.round().clamp(0.0, 1000.0) as i64
    } else {
        0
    };
    format!("{}{}", lang.number(rounded), lang.percent_sign())
}

/// A count in the language's digits and grouping.
pub fn count(lang: Lang, value: u64) -> String {
    lang.number(i64::try_from(value).unwrap_or(i64::MAX))
}

/// How a list of short items is separated in the language.
fn separator(lang: Lang) -> &'static str {
    match lang {
        Lang::En => ", ",
        Lang::Ar => "، ",
    }
}
