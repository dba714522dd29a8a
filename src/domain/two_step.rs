//! The rules of two-step sign-in that do no I/O: authenticator codes (RFC 6238 through `totp-rs`), the QR
//! code an app scans (drawn as SVG by `qrcode`), what a typed code is, and recovery codes.

use totp_rs::{Builder, Totp};

/// A code sent by SMS is valid this long.
pub const CODE_TTL_MS: i64 = 5 * 60_000;
/// Wrong tries a code sent by SMS takes; then a new one is needed.
pub const CODE_ATTEMPTS: i64 = 5;
/// Recovery codes made at once.
pub const RECOVERY_CODES: usize = 10;
/// Bytes of an authenticator secret: 160 bits, as RFC 4226 recommends.
pub const SECRET_BYTES: usize = 20;

/// An authenticator app's account: a secret shared once through a QR code.
pub struct Authenticator(Totp);

impl Authenticator {
    /// SHA-1, 6 digits, 30-second steps, one step either side accepted: what every authenticator app
    /// reads from an `otpauth://` URI. `issuer` and `account` may not hold a colon (the URI's separator).
    pub fn new(secret: Vec<u8>, issuer: &str, account: &str) -> Result<Authenticator, String> {
        let clean = |text: &str| text.replace(':', " ").trim().to_owned();
        Builder::new()
            .with_secret(secret)
            .with_issuer(Some(clean(issuer)))
            .with_account_name(clean(account))
            .build()
            .map(Authenticator)
            .map_err(|e| e.to_string())
    }

    /// The `otpauth://totp/...` URI an app takes, also shown as text for apps on the same device.
    pub fn uri(&self) -> String {
        self.0.to_url().unwrap_or_default()
    }

    /// The 30-second step a code is right for at `unix_ms` (within one step either side), if any.
    pub fn check(&self, code: &str, unix_ms: i64) -> Option<i64> {
        let secs = u64::try_from(unix_ms / 1000).ok()?;
        self.0.check(code, secs).map(|step| step as i64)
    }

    /// The URI as a QR code: an `<svg>` element to put in a page as it is (no style, no script).
    pub fn qr_svg(&self) -> String {
        let Ok(code) = qrcode::QrCode::new(self.uri().as_bytes()) else {
            return String::new();
        };
        let svg = code
            .render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(200, 200)
            .quiet_zone(true)
            .build();
        // The XML declaration is for a file of its own; inside a page it is not allowed.
        match svg.find("<svg") {
            Some(at) => svg[at..].to_owned(),
            None => String::new(),
        }
    }
}

/// What a person typed into a code field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Typed {
    /// Six digits: from an authenticator app or an SMS.
    Digits(String),
    /// A recovery code, in its one spelling (lower case, with the dash).
    Recovery(String),
    /// Neither.
    Nothing,
}

const RECOVERY_ALPHABET: &[u8; 32] = b"abcdefghijkmnpqrstuvwxyz23456789";

/// Reads a code field: spaces and dashes between digits are allowed ("123 456"), Arabic-Indic digits
/// too ("١٢٣ ٤٥٦"), a recovery code in either case, with or without its dash.
pub fn read_code(typed: &str) -> Typed {
    let kept: String = crate::domain::lang::normalise_digits(typed)
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect::<String>()
        .to_ascii_lowercase();
    if kept.len() == 6 && kept.bytes().all(|b| b.is_ascii_digit()) {
        return Typed::Digits(kept);
    }
    if kept.len() == 10 && kept.bytes().all(|b| RECOVERY_ALPHABET.contains(&b)) {
        return Typed::Recovery(format!("{}-{}", &kept[..5], &kept[5..]));
    }
    Typed::Nothing
}

/// A recovery code from 50 random bits: ten characters of an alphabet without look-alikes (no 0, 1, l, o).
pub fn recovery_code(random: [u8; 8]) -> String {
    let mut bits = u64::from_be_bytes(random);
    let mut code = String::with_capacity(11);
    for i in 0..10 {
        if i == 5 {
            code.push('-');
        }
        code.push(RECOVERY_ALPHABET[(bits & 31) as usize] as char);
        bits >>= 5;
    }
    code
}

/// Six digits from a random number, uniform: values above the last whole million are refused by the caller
/// drawing again (`None`).
pub fn six_digits(random: u32) -> Option<String> {
    const LIMIT: u32 = u32::MAX - (u32::MAX % 1_000_000);
    (random < LIMIT).then(|| format!("{:06}", random % 1_000_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app() -> Authenticator {
        // RFC 6238's SHA-1 test secret.
        Authenticator::new(
            b"12345678901234567890".to_vec(),
            "Shop: Pro",
            "sara@example.com",
        )
        .unwrap()
    }

    #[test]
    fn codes_follow_rfc_6238_with_one_step_either_side() {
        let app = app();
        // RFC 6238 appendix B: T = 59 s gives 94287082 in 8 digits, so 287082 in 6.
        assert_eq!(app.check("287082", 59_000), Some(1));
        assert_eq!(app.check("287082", 59_000 + 30_000), Some(1));
        assert_eq!(app.check("287082", 59_000 + 60_000), None);
        assert_eq!(app.check("287083", 59_000), None);
    }

    #[test]
    fn the_uri_names_the_issuer_without_its_colon_and_the_qr_code_is_an_svg_element() {
        let app = app();
        let uri = app.uri();
        assert!(uri.starts_with("otpauth://totp/"), "{uri}");
        assert!(
            uri.contains("secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"),
            "{uri}"
        );
        assert!(
            !uri.contains("Shop:%20Pro") && !uri.contains("Shop: Pro"),
            "{uri}"
        );
        let svg = app.qr_svg();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"), "{svg}");
        assert!(!svg.contains("<?xml") && !svg.contains("style") && !svg.contains("script"));
    }

    #[test]
    fn typed_codes_are_read_in_their_usual_spellings() {
        assert_eq!(read_code(" 123 456 "), Typed::Digits("123456".into()));
        assert_eq!(read_code("12345"), Typed::Nothing);
        assert_eq!(
            read_code("ABCDE-fghij"),
            Typed::Recovery("abcde-fghij".into())
        );
        assert_eq!(
            read_code("abcdefghij"),
            Typed::Recovery("abcde-fghij".into())
        );
        assert_eq!(read_code("abcde-fghi0"), Typed::Nothing);
        assert_eq!(read_code(""), Typed::Nothing);
    }

    #[test]
    fn recovery_codes_read_back_as_themselves_and_six_digits_are_uniform() {
        let code = recovery_code([7, 1, 2, 3, 4, 5, 6, 255]);
        assert_eq!(read_code(&code), Typed::Recovery(code.clone()));
        assert_eq!(six_digits(42), Some("000042".into()));
        assert_eq!(six_digits(u32::MAX), None);
        assert_eq!(six_digits(1_999_999), Some("999999".into()));
    }
}
