//! The Usage page's charts and words, from a report by day: what each chart shows and how it is
//! summarised for people who cannot see it.

use super::super::charts::{self, Chart, Ranked, Series};
use super::super::page::Page;
use crate::services::usage::UsageReport;
use chrono::{Datelike, NaiveDate};

/// The charts of a range, as SVG (the operators' page of an account shows them too).
pub(in crate::http::web) struct Figures {
    pub messages: String,
    pub rates: String,
    /// `None` when no message failed (the page says so in words).
    pub failures: Option<String>,
    pub api: String,
}

pub(super) fn count(page: &Page, value: u64) -> String {
    charts::count(page.lang, value)
}

/// The first millisecond of a UTC day.
pub(super) fn day_ms(day: NaiveDate) -> i64 {
    day.and_hms_opt(0, 0, 0)
        .map_or(0, |at| at.and_utc().timestamp_millis())
}

fn date(page: &Page, key: &str) -> String {
    NaiveDate::parse_from_str(key, "%Y-%m-%d")
        .map_or_else(|_| key.to_owned(), |day| page.lang.date(day_ms(day)))
}

/// "1 Dec 2026 to 30 Dec 2026", in the page's language.
pub(super) fn period(page: &Page, report: &UsageReport) -> String {
    page.t("usage.period")
        .replace("{from}", &date(page, &report.from))
        .replace("{to}", &date(page, &report.to))
}

/// An error code in words: the page's language, else "Error 12345".
pub(super) fn error_words(page: &Page, code: i64) -> String {
    let key = format!("meta_errors.{code}");
    match page.t(&key) {
        words if words != key => words.to_owned(),
        _ => page
            .t("usage.error_code")
            .replace("{code}", &code.to_string()),
    }
}

/// This month's messages against the plan's quota, as a meter.
pub(super) fn month(page: &Page, used: u64, quota: Option<u64>) -> String {
    let text = match quota {
        Some(quota) => page
            .t("usage.month_of")
            .replace("{used}", &count(page, used))
            .replace("{quota}", &count(page, quota)),
        None => page
            .t("usage.month_unlimited")
            .replace("{used}", &count(page, used)),
    };
    let chart = Chart {
        lang: page.lang,
        title: page.t("usage.month"),
        summary: &text,
    };
    charts::meter(&chart, used, quota, &text)
}

/// The days' labels: the day and month ("1 Dec"), with the year too when the range spans two years.
fn day_labels(page: &Page, report: &UsageReport) -> Vec<String> {
    let days: Vec<Option<NaiveDate>> = report
        .rows
        .iter()
        .map(|row| NaiveDate::parse_from_str(&row.key, "%Y-%m-%d").ok())
        .collect();
    let years = |d: &Option<NaiveDate>| d.map(|d| d.year());
    let one_year = days.first().map(years) == days.last().map(years);
    days.iter()
        .zip(&report.rows)
        .map(|(day, row)| match day {
            Some(day) if one_year => {
                let full = page.lang.date(day_ms(*day));
                // The date without its year: the period above the charts says it.
                full.rsplit_once(' ')
                    .map_or(full.clone(), |(day_month, _)| day_month.to_owned())
            }
            Some(day) => page.lang.date(day_ms(*day)),
            None => row.key.clone(),
        })
        .collect()
}

fn rate(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| (part as f64 / whole as f64 * 100.0).min(100.0))
}

impl Figures {
    /// The messages chart of a report by day. Each message counts once, in its furthest status; a status
    /// can be counted on a later day than the one before it, so a day's part never goes below zero.
    pub fn messages(page: &Page, report: &UsageReport) -> String {
        let labels = day_labels(page, report);
        let column = |f: &dyn Fn(&crate::services::usage::UsageRow) -> u64| -> Vec<u64> {
            report.rows.iter().map(f).collect()
        };
        let read = column(&|r| r.read);
        let delivered = column(&|r| r.delivered.saturating_sub(r.read));
        let sent = column(&|r| r.sent.saturating_sub(r.delivered));
        let failed = column(&|r| r.failed);
        let t = &report.totals;
        let (from, to) = (date(page, &report.from), date(page, &report.to));
        let summary = page
            .t("usage.messages_summary")
            .replace("{from}", &from)
            .replace("{to}", &to)
            .replace("{sent}", &count(page, t.sent))
            .replace("{delivered}", &count(page, t.delivered))
            .replace("{read}", &count(page, t.read))
            .replace("{failed}", &count(page, t.failed));
        charts::stacked_bars(
            &Chart {
                lang: page.lang,
                title: page.t("usage.messages_title"),
                summary: &summary,
            },
            &labels,
            &[
                Series {
                    label: page.t("usage.read"),
                    class: "read",
                    values: &read,
                },
                Series {
                    label: page.t("usage.delivered_not_read"),
                    class: "delivered",
                    values: &delivered,
                },
                Series {
                    label: page.t("usage.sent_not_delivered"),
                    class: "sent",
                    values: &sent,
                },
                Series {
                    label: page.t("usage.failed_label"),
                    class: "failed",
                    values: &failed,
                },
            ],
        )
    }

    /// The charts of a report by day.
    pub fn of(page: &Page, report: &UsageReport) -> Figures {
        let lang = page.lang;
        let labels = day_labels(page, report);
        let rows = &report.rows;
        let column = |f: &dyn Fn(&crate::services::usage::UsageRow) -> u64| -> Vec<u64> {
            rows.iter().map(f).collect()
        };
        let api = column(&|r| r.api_calls);
        let t = &report.totals;
        let (from, to) = (date(page, &report.from), date(page, &report.to));
        let messages = Figures::messages(page, report);

        let delivery: Vec<Option<f64>> = rows.iter().map(|r| rate(r.delivered, r.sent)).collect();
        let reads: Vec<Option<f64>> = rows.iter().map(|r| rate(r.read, r.delivered)).collect();
        let summary = match (rate(t.delivered, t.sent), rate(t.read, t.delivered)) {
            (Some(delivery), read) => page
                .t("usage.rates_summary")
                .replace("{delivery}", &charts::percent(lang, delivery))
                .replace("{read}", &charts::percent(lang, read.unwrap_or(0.0))),
            (None, _) => page.t("usage.rates_nothing").to_owned(),
        };
        let rates = charts::rates(
            &Chart {
                lang,
                title: page.t("usage.rates_title"),
                summary: &summary,
            },
            &labels,
            &[
                Series {
                    label: page.t("usage.delivery_rate"),
                    class: "delivery-rate",
                    values: &delivery,
                },
                Series {
                    label: page.t("usage.read_rate"),
                    class: "read-rate",
                    values: &reads,
                },
            ],
        );

        let failures = report.failures.first().map(|most| {
            let labels: Vec<String> = report
                .failures
                .iter()
                .map(|f| format!("{} · {}", f.code, error_words(page, f.code)))
                .collect();
            let bars: Vec<Ranked> = labels
                .iter()
                .zip(&report.failures)
                .map(|(label, f)| Ranked {
                    label,
                    value: f.count,
                })
                .collect();
            let summary = page
                .t("usage.failures_summary")
                .replace("{count}", &count(page, t.failed))
                .replace(
                    "{error}",
                    &format!("{} ({})", most.code, error_words(page, most.code)),
                );
            charts::ranked_bars(
                &Chart {
                    lang,
                    title: page.t("usage.failures_title"),
                    summary: &summary,
                },
                &bars,
            )
        });

        let summary = page
            .t("usage.api_summary")
            .replace("{count}", &count(page, t.api_calls))
            .replace("{from}", &from)
            .replace("{to}", &to);
        let api = charts::stacked_bars(
            &Chart {
                lang,
                title: page.t("usage.api_title"),
                summary: &summary,
            },
            &labels,
            &[Series {
                label: page.t("usage.api_calls_label"),
                class: "api",
                values: &api,
            }],
        );
        Figures {
            messages,
            rates,
            failures,
            api,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::domain::lang::Lang;
    use crate::domain::meta::errors::explain;

    /// Every code Meta's errors are worded for has words in both languages, the English ones the
    /// same as the API's.
    #[test]
    fn known_error_codes_have_words_in_both_languages() {
        // Every code Meta's errors have words for (codes are below 200,000), so a code added to
        // `explain` without its words on the page fails here.
        let codes: Vec<i64> = (0..200_000).filter(|c| explain(*c).is_some()).collect();
        assert!(
            codes.contains(&131049) && codes.contains(&131050),
            "the spam-like codes"
        );
        for code in codes {
            let key = format!("meta_errors.{code}");
            assert_eq!(Some(Lang::En.t(&key)), explain(code), "{code}");
            let arabic = Lang::Ar.t(&key);
            assert!(arabic != key && arabic != Lang::En.t(&key), "{code}");
        }
        assert_eq!(explain(131000), None, "an unknown code has no words");
    }
}
