//! The TLS certificate while the server runs: what is served and until when, and a renewed certificate
//! taken in without a restart, on SIGHUP and when the files change (checked every ten minutes). Open
//! connections keep the certificate they were made with; a pair that does not parse or match is not
//! taken, and the one served before stays.

use crate::config::Config;
use chrono::{DateTime, NaiveDate, Utc};
use rocket::fairing::AdHoc;
use rocket::tokio::signal::unix::{Signal, SignalKind, signal};
use rocket::tokio::time::{Instant, interval_at};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// How often the certificate and key files are looked at for a change.
pub const CHECK_EVERY: Duration = Duration::from_secs(600);

/// Tests only (debug builds; not WHATSAPI_, which is configuration): the files are looked at every
/// this many seconds instead of `CHECK_EVERY`.
#[cfg(debug_assertions)]
pub const CHECK_HOOK: &str = "DEBUG_WHATSAPI_TLS_CHECK_SECS";

fn check_every() -> Duration {
    #[cfg(debug_assertions)]
    if let Some(secs) = std::env::var(CHECK_HOOK).ok().and_then(|s| s.parse().ok()) {
        return Duration::from_secs(secs);
    }
    CHECK_EVERY
}

/// Started at liftoff when the server serves HTTPS: reloads on SIGHUP and on a change of the files.
pub fn reloader(config: &Config) -> AdHoc {
    let files = config
        .server
        .tls_cert
        .clone()
        .zip(config.server.tls_key.clone());
    AdHoc::on_liftoff("TLS certificate reload", move |rocket| {
        Box::pin(async move {
            let Some((cert, key)) = files else {
                return;
            };
            if let Ok(der) = rocket::check_tls_pair(&cert, &key) {
                announce(&cert, &der);
            }
            // Until here a SIGHUP was ignored (`signals::install`); from here on it reloads the pair.
            match signal(SignalKind::hangup()) {
                Ok(hangups) => {
                    rocket::tokio::spawn(watch(cert, key, hangups, rocket.shutdown()));
                }
                Err(e) => tracing::warn!(
                    "cannot listen for SIGHUP ({e}); a renewed TLS certificate is taken when its files change"
                ),
            }
        })
    })
}

fn announce(cert: &Path, der: &[u8]) {
    match not_after(der) {
        Some(end) if end < Utc::now() => tracing::warn!(
            "the TLS certificate {} expired on {}: browsers refuse it; renew it and send SIGHUP",
            cert.display(),
            end.format("%Y-%m-%d %H:%M UTC")
        ),
        Some(end) => tracing::info!(
            "serving the TLS certificate {} (expires {})",
            cert.display(),
            end.format("%Y-%m-%d %H:%M UTC")
        ),
        None => tracing::info!("serving the TLS certificate {}", cert.display()),
    }
}

async fn watch(cert: PathBuf, key: PathBuf, mut hangups: Signal, shutdown: rocket::Shutdown) {
    let mut seen = modified(&cert, &key);
    let check_every = check_every();
    let mut every = interval_at(Instant::now() + check_every, check_every);
    rocket::tokio::pin!(shutdown);
    loop {
        let why = rocket::tokio::select! {
            _ = &mut shutdown => return,
            Some(()) = hangups.recv() => "on SIGHUP",
            _ = every.tick() => {
                if modified(&cert, &key) == seen {
                    continue;
                }
                "as its files changed"
            }
        };
        let stamp = modified(&cert, &key);
        match crate::blocking::run("TLS reload", rocket::reload_tls).await {
            Ok(Ok(der)) => {
                seen = stamp;
                let expires = not_after(&der)
                    .map(|end| format!(" (expires {})", end.format("%Y-%m-%d %H:%M UTC")))
                    .unwrap_or_default();
                tracing::info!(
                    "reloaded the TLS certificate {} {why}{expires}",
                    cert.display()
                );
            }
            Ok(Err(e)) => tracing::warn!(
                "did not reload the TLS certificate {why}: {e}; still serving the one loaded before"
            ),
            Err(e) => tracing::warn!("did not reload the TLS certificate {why}: {e}"),
        }
    }
}

fn modified(cert: &Path, key: &Path) -> [Option<SystemTime>; 2] {
    [cert, key].map(|path| std::fs::metadata(path).and_then(|m| m.modified()).ok())
}

/// One DER element: its tag, its contents and what follows it.
fn element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (length, rest) = match first {
        0..=0x7f => (first as usize, rest),
        0x81..=0x84 => {
            let count = (first & 0x7f) as usize;
            let bytes = rest.get(..count)?;
            let length = bytes.iter().fold(0usize, |n, b| (n << 8) | *b as usize);
            (length, &rest[count..])
        }
        _ => return None,
    };
    let contents = rest.get(..length)?;
    Some((tag, contents, &rest[length..]))
}

/// When an X.509 certificate (DER) stops being valid: `notAfter` of its validity.
pub fn not_after(der: &[u8]) -> Option<DateTime<Utc>> {
    const SEQUENCE: u8 = 0x30;
    let (SEQUENCE, certificate, _) = element(der)? else {
        return None;
    };
    let (SEQUENCE, mut fields, _) = element(certificate)? else {
        return None;
    };
    // [0] version (optional), then serial number, signature algorithm, issuer; validity comes next.
    if element(fields)?.0 == 0xa0 {
        fields = element(fields)?.2;
    }
    for _ in 0..3 {
        fields = element(fields)?.2;
    }
    let (SEQUENCE, validity, _) = element(fields)? else {
        return None;
    };
    let (tag, time, _) = element(element(validity)?.2)?;
    let text = std::str::from_utf8(time).ok()?;
    let full = match tag {
        // UTCTime: YYMMDDHHMMSSZ, years 50-99 are 19xx.
        0x17 => format!("{}{text}", if text.get(..2)? >= "50" { "19" } else { "20" }),
        // GeneralizedTime: YYYYMMDDHHMMSSZ.
        0x18 => text.to_owned(),
        _ => return None,
    };
    let number = |range: std::ops::Range<usize>| full.get(range)?.parse::<u32>().ok();
    let date = NaiveDate::from_ymd_opt(number(0..4)? as i32, number(4..6)?, number(6..8)?)?;
    let time = date.and_hms_opt(number(8..10)?, number(10..12)?, number(12..14)?)?;
    Some(time.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn certificate_until(year: i32) -> Vec<u8> {
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params.not_after = rcgen::date_time_ymd(year, 5, 6);
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn the_end_of_validity_is_read_from_the_certificate() {
        // Until 2049 the date is a UTCTime (two-digit year), from 2050 a GeneralizedTime.
        for year in [2031, 2051] {
            let end = not_after(&certificate_until(year)).expect("a validity");
            assert_eq!(end.format("%Y-%m-%d").to_string(), format!("{year}-05-06"));
        }
    }

    #[test]
    fn what_is_not_a_certificate_has_no_end() {
        assert_eq!(not_after(b""), None);
        assert_eq!(not_after(b"\x30\x82\xff"), None);
        assert_eq!(not_after(&[0x30, 0x03, 0x02, 0x01, 0x01]), None);
    }
}
