//! What the host of a URL names, read the way the system's resolver will read it when the request is made:
//! `getaddrinfo` takes `2130706433`, `0177.0.0.1`, `0x7f.1` and `127.1` as IPv4 addresses (the rules of
//! `inet_aton`), so the same host must be judged as that address, not as a name.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A URL's host, classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// An address, written in any form the resolver accepts.
    Address(IpAddr),
    /// A name, lower-cased and without the trailing dot of a fully qualified name.
    Name(String),
}

/// Classifies the host part of a URL (as `http::Uri::host` gives it: IPv6 in brackets).
pub fn classify(host: &str) -> Result<Host, String> {
    if let Some(inside) = host.strip_prefix('[') {
        return inside
            .strip_suffix(']')
            .and_then(|v6| v6.parse::<Ipv6Addr>().ok())
            .map(|v6| Host::Address(IpAddr::V6(v6)))
            .ok_or_else(|| format!("{host} is not a valid IPv6 address"));
    }
    if let Some(v4) = inet_aton(host) {
        return Ok(Host::Address(IpAddr::V4(v4)));
    }
    let name = host.to_ascii_lowercase();
    let name = name.strip_suffix('.').unwrap_or(&name);
    let plain = |label: &str| {
        !label.is_empty()
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if !name.split('.').all(plain) {
        return Err(format!("{host} is not a valid host name"));
    }
    // No top-level domain is numeric, so a name ending like a number is a malformed address that some
    // resolver might still read as one: refused rather than guessed at.
    let last = name.rsplit('.').next().unwrap_or_default();
    if last.bytes().all(|b| b.is_ascii_digit()) || looks_hex(last) {
        return Err(format!("{host} is not a valid IPv4 address"));
    }
    Ok(Host::Name(name.to_owned()))
}

fn looks_hex(label: &str) -> bool {
    let lower = label.to_ascii_lowercase();
    lower
        .strip_prefix("0x")
        .is_some_and(|digits| digits.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// An IPv4 address in any of the forms `inet_aton` accepts: one to four parts separated by dots, each
/// decimal, octal (leading `0`) or hexadecimal (leading `0x`); the last part fills all the bytes left
/// (`127.1` is 127.0.0.1, `2130706433` is 127.0.0.1). Anything else (an empty part, a trailing dot, a
/// digit out of its base, a part too large) is not an address.
pub fn inet_aton(text: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = text.split('.').collect();
    if parts.len() > 4 {
        return None;
    }
    let values = parts
        .iter()
        .map(|part| number(part))
        .collect::<Option<Vec<u64>>>()?;
    let (last, leading) = values.split_last()?;
    if leading.iter().any(|v| *v > 0xff) {
        return None;
    }
    let bytes_left = 4 - leading.len() as u32;
    if *last >= 1 << (8 * bytes_left) {
        return None;
    }
    let high = leading.iter().enumerate().fold(0u32, |acc, (i, v)| {
        acc | ((*v as u32) << (24 - 8 * i as u32))
    });
    Some(Ipv4Addr::from_bits(high | *last as u32))
}

/// One part of an `inet_aton` address, as C's `strtoul(part, _, 0)` reads it, when it is all number.
fn number(part: &str) -> Option<u64> {
    if !part.bytes().next()?.is_ascii_digit() {
        return None;
    }
    let (digits, radix) =
        if let Some(hex) = part.strip_prefix("0x").or_else(|| part.strip_prefix("0X")) {
            (hex, 16)
        } else if part.len() > 1 && part.starts_with('0') {
            (&part[1..], 8)
        } else {
            (part, 10)
        };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    // Leading zeros are allowed and do not count towards the size.
    let significant = digits.trim_start_matches('0');
    if significant.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(significant, radix)
        .ok()
        .filter(|v| *v <= u64::from(u32::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(host: &str) -> Option<String> {
        inet_aton(host).map(|ip| ip.to_string())
    }

    #[test]
    fn the_c_resolver_s_numeric_forms_are_read_as_addresses() {
        for (host, dotted) in [
            ("127.0.0.1", "127.0.0.1"),
            ("2130706433", "127.0.0.1"),
            ("0177.0.0.1", "127.0.0.1"),
            ("0177.0.0.01", "127.0.0.1"),
            ("0x7f000001", "127.0.0.1"),
            ("0X7F000001", "127.0.0.1"),
            ("0x7f.0.0.1", "127.0.0.1"),
            ("0x7f.1", "127.0.0.1"),
            ("127.1", "127.0.0.1"),
            ("127.0.1", "127.0.0.1"),
            ("0", "0.0.0.0"),
            ("00", "0.0.0.0"),
            ("0x0", "0.0.0.0"),
            ("017700000001", "127.0.0.1"),
            ("0x00000000007f000001", "127.0.0.1"),
            ("10.1", "10.0.0.1"),
            ("10.0x10203", "10.1.2.3"),
            ("192.168.257", "192.168.1.1"),
            ("169.254.43518", "169.254.169.254"),
            ("2852039166", "169.254.169.254"),
            ("0xa9fea9fe", "169.254.169.254"),
            ("1572395042", "93.184.216.34"),
            ("010.0.0.1", "8.0.0.1"),
            ("4294967295", "255.255.255.255"),
        ] {
            assert_eq!(address(host).as_deref(), Some(dotted), "{host}");
        }
    }

    #[test]
    fn what_is_not_a_c_address_is_not_read_as_one() {
        for host in [
            "",
            ".",
            "127.0.0.1.",
            "127..0.1",
            "1.2.3.4.5",
            "4294967296",
            "0x100000000",
            "256.0.0.1",
            "127.0.0.256",
            "127.0.65536",
            "127.16777216",
            "08.0.0.1",
            "0x",
            "0xg1",
            "+127.0.0.1",
            " 127.0.0.1",
            "127.0.0.1 ",
            "hooks.shop.test",
            "1e3",
            "99999999999999999999999",
        ] {
            assert_eq!(address(host), None, "{host:?}");
        }
    }

    #[test]
    fn hosts_are_classified() {
        assert_eq!(
            classify("0x7f.1"),
            Ok(Host::Address("127.0.0.1".parse().unwrap()))
        );
        assert_eq!(
            classify("[::127.0.0.1]"),
            Ok(Host::Address("::127.0.0.1".parse().unwrap()))
        );
        assert_eq!(
            classify("Hooks.Shop.TEST."),
            Ok(Host::Name("hooks.shop.test".into()))
        );
        assert_eq!(
            classify("xn--mgbh0fb.example"),
            Ok(Host::Name("xn--mgbh0fb.example".into()))
        );
        for bad in [
            "[::1",
            "[127.0.0.1]",
            "[fe80::1%25eth0]",
            "127.0.0.1.",
            "1.2.3.4.5",
            "999.1.1.1",
            "hooks.0x7f",
            "a..b",
            "hooks%2eshop.test",
            "hooks shop",
        ] {
            assert!(classify(bad).is_err(), "{bad}");
        }
    }
}
