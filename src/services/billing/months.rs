//! Calendar months in UTC: the period of the monthly message quota.

use chrono::{DateTime, Datelike, TimeZone, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Month {
    pub year: i32,
    /// 1 to 12.
    pub month: u32,
}

impl Month {
    /// The month a moment (milliseconds since the epoch) falls in.
    pub fn of(at_ms: i64) -> Month {
        let at = DateTime::<Utc>::from_timestamp_millis(at_ms).unwrap_or_default();
        Month {
            year: at.year(),
            month: at.month(),
        }
    }

    pub fn next(self) -> Month {
        if self.month == 12 {
            Month {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Month {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    /// Its first millisecond.
    pub fn start_ms(self) -> i64 {
        Utc.with_ymd_and_hms(self.year, self.month, 1, 0, 0, 0)
            .single()
            .map(|t| t.timestamp_millis())
            .unwrap_or_default()
    }

    /// When its count starts again: the first millisecond of the next month.
    pub fn resets_at_ms(self) -> i64 {
        self.next().start_ms()
    }

    /// "2026-12", as stored.
    pub fn key(self) -> String {
        format!("{:04}-{:02}", self.year, self.month)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_roll_over_at_midnight_utc_and_at_the_year() {
        let dec = Month::of(
            Utc.with_ymd_and_hms(2026, 12, 31, 23, 59, 59)
                .unwrap()
                .timestamp_millis(),
        );
        assert_eq!(dec.key(), "2026-12");
        assert_eq!(
            dec.resets_at_ms(),
            Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0)
                .unwrap()
                .timestamp_millis()
        );
        assert_eq!(Month::of(dec.resets_at_ms()).key(), "2027-01");
        assert_eq!(Month::of(dec.resets_at_ms() - 1), dec);
        assert_eq!(Month::of(dec.start_ms()), dec);
        assert_eq!(Month::of(dec.start_ms() - 1).key(), "2026-11");
    }
}
