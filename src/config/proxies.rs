//! Reverse proxies whose forwarding headers are believed (`[server] trusted_proxies`).

use super::{ConfigError, Server, invalid};
use std::net::IpAddr;

/// One address or CIDR block, such as `10.0.0.5`, `10.0.0.0/8` or `fd00::/8`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    base: IpAddr,
    prefix: u8,
}

impl Network {
    pub fn parse(text: &str) -> Result<Network, String> {
        let text = text.trim();
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let base = address
            .parse::<IpAddr>()
            .map_err(|_| {
                format!("{text:?} is not an IP address or a CIDR block such as 10.0.0.0/8")
            })?
            .to_canonical();
        let longest = if base.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => longest,
            Some(prefix) => prefix
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= longest)
                .ok_or_else(|| format!("{text:?}: the prefix length must be 0 to {longest}"))?,
        };
        Ok(Network { base, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        in_block(ip.to_canonical(), self.base, self.prefix)
    }
}

/// Whether `ip` lies in the block of `base` and its first `prefix` bits (addresses of one family only).
pub fn in_block(ip: IpAddr, base: IpAddr, prefix: u8) -> bool {
    match (base, ip) {
        (IpAddr::V4(base), IpAddr::V4(ip)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            (base.to_bits() ^ ip.to_bits()) & mask == 0
        }
        (IpAddr::V6(base), IpAddr::V6(ip)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            (base.to_bits() ^ ip.to_bits()) & mask == 0
        }
        _ => false,
    }
}

impl Server {
    /// The trusted proxies, parsed (they were checked when the configuration was loaded).
    pub fn trusted_networks(&self) -> Vec<Network> {
        self.trusted_proxies
            .iter()
            .filter_map(|text| Network::parse(text).ok())
            .collect()
    }

    pub(super) fn validate_proxies(&self) -> Result<(), ConfigError> {
        for text in &self.trusted_proxies {
            Network::parse(text).map_err(|message| invalid("server.trusted_proxies", message))?;
        }
        // A header believed from anyone lets every client choose its own address.
        if !self.client_ip_header.trim().is_empty() && self.trusted_proxies.is_empty() {
            return Err(invalid(
                "server.client_ip_header",
                "list the proxy that sets it in server.trusted_proxies; the header is read only from those",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_blocks_are_matched_by_their_prefix() {
        let block = Network::parse("10.1.0.0/16").unwrap();
        assert!(block.contains("10.1.200.3".parse().unwrap()));
        assert!(!block.contains("10.2.0.1".parse().unwrap()));
        assert!(
            block.contains("::ffff:10.1.0.9".parse().unwrap()),
            "IPv4-mapped"
        );
        let one = Network::parse("127.0.0.1").unwrap();
        assert!(one.contains("127.0.0.1".parse().unwrap()));
        assert!(!one.contains("127.0.0.2".parse().unwrap()));
        let v6 = Network::parse("fd00::/8").unwrap();
        assert!(v6.contains("fd12::1".parse().unwrap()));
        assert!(!v6.contains("10.0.0.1".parse().unwrap()));
        assert!(
            Network::parse("0.0.0.0/0")
                .unwrap()
                .contains("203.0.113.9".parse().unwrap())
        );
        for wrong in ["10.0.0.0/33", "proxy.local", "10.0.0.0/x", ""] {
            assert!(Network::parse(wrong).is_err(), "{wrong}");
        }
    }
}
