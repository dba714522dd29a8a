//! Which addresses a customer's webhook may reach: only globally reachable unicast ones. The tables follow
//! IANA's IPv4 and IPv6 Special-Purpose Address Registries (every block not marked globally reachable),
//! plus multicast; IPv6 forms that carry an IPv4 address are judged by that IPv4 address.

use crate::config::in_block;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address is refused, in words for the customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The address as it was given.
    pub address: IpAddr,
    /// The IPv4 address an IPv6 address carries, when that is what was judged.
    pub carried: Option<Ipv4Addr>,
    /// What kind of address it is, with its article ("a loopback address").
    pub kind: &'static str,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.carried {
            Some(v4) => write!(f, "{} (carrying {v4}, {})", self.address, self.kind),
            None => write!(f, "{} ({})", self.address, self.kind),
        }
    }
}

/// IPv4 blocks refused, the more specific first so that the reason given is the most precise.
const V4_REFUSED: &[(Ipv4Addr, u8, &str)] = &[
    (Ipv4Addr::new(0, 0, 0, 0), 32, "the unspecified address"),
    (Ipv4Addr::new(0, 0, 0, 0), 8, "a \"this network\" address"),
    (Ipv4Addr::new(10, 0, 0, 0), 8, "a private address"),
    (
        Ipv4Addr::new(100, 64, 0, 0),
        10,
        "a shared (carrier-grade NAT) address",
    ),
    (Ipv4Addr::new(127, 0, 0, 0), 8, "a loopback address"),
    // Cloud metadata services answer at 169.254.169.254.
    (Ipv4Addr::new(169, 254, 0, 0), 16, "a link-local address"),
    (Ipv4Addr::new(172, 16, 0, 0), 12, "a private address"),
    // The whole block, although two anycast addresses in it (PCP, TURN) are global: no webhook lives there.
    (
        Ipv4Addr::new(192, 0, 0, 0),
        24,
        "an IETF protocol assignment address",
    ),
    (Ipv4Addr::new(192, 0, 2, 0), 24, "a documentation address"),
    (
        Ipv4Addr::new(192, 88, 99, 0),
        24,
        "a (deprecated) 6to4 relay anycast address",
    ),
    (Ipv4Addr::new(192, 168, 0, 0), 16, "a private address"),
    (Ipv4Addr::new(198, 18, 0, 0), 15, "a benchmarking address"),
    (
        Ipv4Addr::new(198, 51, 100, 0),
        24,
        "a documentation address",
    ),
    (Ipv4Addr::new(203, 0, 113, 0), 24, "a documentation address"),
    (Ipv4Addr::new(224, 0, 0, 0), 4, "a multicast address"),
    (
        Ipv4Addr::new(255, 255, 255, 255),
        32,
        "the broadcast address",
    ),
    (Ipv4Addr::new(240, 0, 0, 0), 4, "a reserved address"),
];

/// IPv6 blocks refused outright (the forms carrying IPv4 are handled before these).
const V6_REFUSED: &[(Ipv6Addr, u8, &str)] = &[
    (Ipv6Addr::UNSPECIFIED, 128, "the unspecified address"),
    (Ipv6Addr::LOCALHOST, 128, "a loopback address"),
    // Local-use translation (RFC 8215) is by definition the operator's own network, and where the IPv4
    // address sits depends on a prefix length only that network knows.
    (
        Ipv6Addr::new(0x64, 0xff9b, 1, 0, 0, 0, 0, 0),
        48,
        "a local-use IPv4/IPv6 translation address",
    ),
    (
        Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, 0, 0),
        64,
        "a discard-only address",
    ),
    // 6to4 (RFC 3056, deprecated by RFC 7526) and Teredo (RFC 4380) are tunnels: a host with such an
    // interface unwraps the packet towards an IPv4 address inside it (for Teredo an obfuscated client
    // and a server address both), which may be private. No webhook server needs them, so they are refused
    // whole rather than decoded.
    (
        Ipv6Addr::new(0x2002, 0, 0, 0, 0, 0, 0, 0),
        16,
        "a 6to4 address (IPv6 tunnelled over IPv4)",
    ),
    (
        Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0),
        32,
        "a Teredo address (IPv6 tunnelled over IPv4)",
    ),
    (
        Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 0),
        48,
        "a benchmarking address",
    ),
    // The rest of the IETF block (ORCHID, AMT, AS112, anycast services): no webhook lives there either.
    (
        Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0),
        23,
        "an IETF protocol assignment address",
    ),
    (
        Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0),
        32,
        "a documentation address",
    ),
    (
        Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0),
        20,
        "a documentation address",
    ),
    (
        Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0),
        7,
        "a unique local (private) address",
    ),
    (
        Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0),
        10,
        "a link-local address",
    ),
    (
        Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0),
        10,
        "a (deprecated) site-local address",
    ),
    (
        Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0),
        8,
        "a multicast address",
    ),
];

/// Only 2000::/3 is allocated for global unicast; everything outside it that is not listed above (and
/// does not carry an IPv4 address) is reserved.
const V6_GLOBAL_UNICAST: (Ipv6Addr, u8) = (Ipv6Addr::new(0x2000, 0, 0, 0, 0, 0, 0, 0), 3);

fn in_v4(ip: Ipv4Addr, network: Ipv4Addr, prefix: u8) -> bool {
    in_block(ip.into(), network.into(), prefix)
}

fn in_v6(ip: Ipv6Addr, network: Ipv6Addr, prefix: u8) -> bool {
    in_block(ip.into(), network.into(), prefix)
}

/// The IPv4 address an IPv6 address stands for, in the forms where the IPv4 address is what is reached:
/// IPv4-mapped `::ffff:0:0/96`, IPv4-translated (SIIT) `::ffff:0:0:0/96`, IPv4-compatible `::/96`
/// (deprecated; `::` and `::1` are excluded, they mean themselves) and NAT64 `64:ff9b::/96`.
fn carried_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let last_32 = Ipv4Addr::from_bits(ip.to_bits() as u32);
    let carrying =
        matches!(
            s[..6],
            [0, 0, 0, 0, 0, 0xffff] | [0, 0, 0, 0, 0xffff, 0] | [0x64, 0xff9b, 0, 0, 0, 0]
        ) || (s[..6] == [0; 6] && ip != Ipv6Addr::UNSPECIFIED && ip != Ipv6Addr::LOCALHOST);
    carrying.then_some(last_32)
}

fn refused_v4(ip: Ipv4Addr) -> Option<&'static str> {
    V4_REFUSED
        .iter()
        .find(|(network, prefix, _)| in_v4(ip, *network, *prefix))
        .map(|(_, _, kind)| *kind)
}

/// Why a customer's webhook may not reach this address; `None` for a globally reachable unicast address.
pub fn refusal(ip: IpAddr) -> Option<Refusal> {
    let (carried, kind) = match ip {
        IpAddr::V4(v4) => (None, refused_v4(v4)?),
        IpAddr::V6(v6) => match carried_v4(v6) {
            Some(v4) => (Some(v4), refused_v4(v4)?),
            None => {
                let listed = V6_REFUSED
                    .iter()
                    .find(|(network, prefix, _)| in_v6(v6, *network, *prefix))
                    .map(|(_, _, kind)| *kind);
                let outside = !in_v6(v6, V6_GLOBAL_UNICAST.0, V6_GLOBAL_UNICAST.1);
                (
                    None,
                    listed.or(outside.then_some("a reserved address outside global unicast"))?,
                )
            }
        },
    };
    Some(Refusal {
        address: ip,
        carried,
        kind,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(ip: &str) -> Option<&'static str> {
        refusal(ip.parse().unwrap()).map(|r| r.kind)
    }

    #[test]
    fn the_tables_name_whole_networks() {
        for (network, prefix, _) in V4_REFUSED {
            assert!(*prefix <= 32);
            let host_bits = u32::MAX.checked_shr(u32::from(*prefix)).unwrap_or(0);
            assert_eq!(network.to_bits() & host_bits, 0, "{network}/{prefix}");
        }
        for (network, prefix, _) in V6_REFUSED {
            assert!(*prefix <= 128);
            let host_bits = u128::MAX.checked_shr(u32::from(*prefix)).unwrap_or(0);
            assert_eq!(network.to_bits() & host_bits, 0, "{network}/{prefix}");
        }
    }

    #[test]
    fn special_purpose_ipv4_ranges_are_refused() {
        for (ip, expected) in [
            ("127.0.0.1", "a loopback address"),
            ("127.255.255.254", "a loopback address"),
            ("10.0.0.1", "a private address"),
            ("172.16.5.4", "a private address"),
            ("172.31.255.255", "a private address"),
            ("192.168.1.1", "a private address"),
            ("169.254.169.254", "a link-local address"),
            ("100.64.0.1", "a shared (carrier-grade NAT) address"),
            ("100.127.255.255", "a shared (carrier-grade NAT) address"),
            ("0.0.0.0", "the unspecified address"),
            ("0.1.2.3", "a \"this network\" address"),
            ("192.0.0.1", "an IETF protocol assignment address"),
            ("192.0.0.170", "an IETF protocol assignment address"),
            ("192.0.2.10", "a documentation address"),
            ("198.51.100.7", "a documentation address"),
            ("203.0.113.99", "a documentation address"),
            ("198.18.0.1", "a benchmarking address"),
            ("198.19.255.255", "a benchmarking address"),
            ("192.88.99.1", "a (deprecated) 6to4 relay anycast address"),
            ("224.0.0.1", "a multicast address"),
            ("239.255.255.250", "a multicast address"),
            ("240.0.0.1", "a reserved address"),
            ("254.1.2.3", "a reserved address"),
            ("255.255.255.255", "the broadcast address"),
        ] {
            assert_eq!(kind(ip), Some(expected), "{ip}");
        }
    }

    #[test]
    fn public_ipv4_addresses_pass_including_the_neighbours_of_refused_blocks() {
        for ip in [
            "93.184.216.34",
            "8.8.8.8",
            "1.1.1.1",
            "9.255.255.255",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.1.255",
            "192.0.3.0",
            "192.31.196.1",
            "192.88.98.255",
            "192.169.0.0",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
        ] {
            assert_eq!(kind(ip), None, "{ip}");
        }
    }

    #[test]
    fn special_purpose_ipv6_ranges_are_refused() {
        for (ip, expected) in [
            ("::1", "a loopback address"),
            ("::", "the unspecified address"),
            ("fd00:ec2::254", "a unique local (private) address"),
            ("fc00::1", "a unique local (private) address"),
            ("fe80::1", "a link-local address"),
            ("febf:ffff::1", "a link-local address"),
            ("fec0::1", "a (deprecated) site-local address"),
            ("ff02::1", "a multicast address"),
            ("ff0e::1", "a multicast address"),
            ("2001:db8::1", "a documentation address"),
            ("2001:db8:ffff::1", "a documentation address"),
            ("3fff::1", "a documentation address"),
            ("3fff:fff:ffff::1", "a documentation address"),
            ("2001:2::1", "a benchmarking address"),
            ("2001:10::1", "an IETF protocol assignment address"),
            ("2001:1ff::1", "an IETF protocol assignment address"),
            ("100::1", "a discard-only address"),
            ("100::ffff:ffff:ffff:ffff", "a discard-only address"),
            ("100:0:0:1::1", "a reserved address outside global unicast"),
            ("5f00::1", "a reserved address outside global unicast"),
            ("4000::1", "a reserved address outside global unicast"),
            ("1::1", "a reserved address outside global unicast"),
            (
                "64:ff9b:1::a00:1",
                "a local-use IPv4/IPv6 translation address",
            ),
            (
                "64:ff9b:1:ffff::5db8:d822",
                "a local-use IPv4/IPv6 translation address",
            ),
        ] {
            assert_eq!(kind(ip), Some(expected), "{ip}");
        }
    }

    #[test]
    fn ipv6_carrying_ipv4_is_judged_by_the_ipv4_address() {
        for (ip, carried) in [
            ("::127.0.0.1", "127.0.0.1"),
            ("::7f00:1", "127.0.0.1"),
            ("::10.0.0.1", "10.0.0.1"),
            ("::169.254.169.254", "169.254.169.254"),
            ("::ffff:127.0.0.1", "127.0.0.1"),
            ("::ffff:10.0.0.1", "10.0.0.1"),
            ("::ffff:0:127.0.0.1", "127.0.0.1"),
            ("::ffff:0:192.168.0.1", "192.168.0.1"),
            ("64:ff9b::127.0.0.1", "127.0.0.1"),
            ("64:ff9b::a00:1", "10.0.0.1"),
            ("64:ff9b::a9fe:a9fe", "169.254.169.254"),
            ("::0.0.0.2", "0.0.0.2"),
        ] {
            let refused = refusal(ip.parse().unwrap()).unwrap_or_else(|| panic!("{ip} passed"));
            assert_eq!(refused.carried, Some(carried.parse().unwrap()), "{ip}");
            assert!(refused.to_string().contains(carried), "{refused}");
        }
        // The same forms carrying a public address are as good as that address.
        for ip in [
            "::ffff:93.184.216.34",
            "::ffff:0:93.184.216.34",
            "64:ff9b::93.184.216.34",
            "64:ff9b::5db8:d822",
            "::93.184.216.34",
        ] {
            assert_eq!(kind(ip), None, "{ip}");
        }
    }

    #[test]
    fn tunnels_to_ipv4_are_refused_whatever_they_carry() {
        for ip in [
            "2002:7f00:1::1",                       // 6to4 around 127.0.0.1
            "2002:a00:1::",                         // 6to4 around 10.0.0.1
            "2002:5db8:d822::1",                    // 6to4 around a public address: still a tunnel
            "2001:0:4136:e378:8000:63bf:80ff:fffe", // Teredo, client 127.0.0.1 obfuscated
            "2001::1",
        ] {
            let kind = kind(ip).unwrap_or_else(|| panic!("{ip} passed"));
            assert!(kind.contains("tunnelled over IPv4"), "{ip}: {kind}");
        }
    }

    #[test]
    fn public_ipv6_addresses_pass() {
        for ip in [
            "2606:2800:220:1::1",
            "2606:2800:220:1:248:1893:25c8:1946",
            "2001:4860:4860::8888",
            "2001:200::1", // just past the IETF block 2001::/23
            "2a00:1450:4001::1",
            "3ffe::1",
            "3fff:1000::1", // just past the documentation block 3fff::/20
        ] {
            assert_eq!(kind(ip), None, "{ip}");
        }
    }

    #[test]
    fn a_refusal_reads_as_words() {
        let refused = refusal("::ffff:10.0.0.1".parse().unwrap()).unwrap();
        assert_eq!(
            refused.to_string(),
            "::ffff:10.0.0.1 (carrying 10.0.0.1, a private address)"
        );
        let refused = refusal("127.0.0.1".parse().unwrap()).unwrap();
        assert_eq!(refused.to_string(), "127.0.0.1 (a loopback address)");
    }
}
