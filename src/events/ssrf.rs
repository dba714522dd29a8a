//! Customers choose the URLs the server posts to, so those URLs must not reach inside the operator's
//! network. The URL must be https; its host is resolved when the connection is made and every address
//! is checked (so a name that changes its answer after it was saved gains nothing); redirects are not
//! followed and no proxy from the environment is used. The operator can allow plain http and private
//! targets for development (`webhooks.allow_insecure_targets`).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;
use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};

/// Whether an address is one a customer's webhook must not reach: loopback, private, link-local
/// (cloud metadata lives at 169.254.169.254), carrier-grade NAT, unspecified, multicast, reserved.
pub fn forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return forbidden_v4(v4);
            }
            let segments = v6.segments();
            // NAT64 (64:ff9b::/96) carries an IPv4 address in its last 32 bits.
            if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                let [a, b] = [segments[6], segments[7]];
                let v4 = Ipv4Addr::new((a >> 8) as u8, a as u8, (b >> 8) as u8, b as u8);
                return forbidden_v4(v4);
            }
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (segments[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (segments[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (segments[0] & 0xffc0) == 0xfec0 // site-local fec0::/10 (deprecated)
                || segments[0] == 0x2001 && segments[1] == 0xdb8 // documentation
        }
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT 100.64.0.0/10
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240 // reserved
}

/// Checks a URL when an endpoint is saved: a clear reason when it can never be used.
pub fn check_url(url: &str, allow_insecure: bool) -> Result<(), String> {
    let parsed: Uri = url
        .parse()
        .map_err(|_| "must be a full URL such as https://example.com/hooks".to_owned())?;
    let host = parsed
        .host()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| "must name a host".to_owned())?;
    match parsed.scheme_str() {
        Some("https") => {}
        Some("http") if allow_insecure => {}
        Some("http") => return Err("must use https".into()),
        _ => return Err("must be an https URL".into()),
    }
    if url.len() > 2000 {
        return Err("must be at most 2000 characters".into());
    }
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = literal.parse::<IpAddr>()
        && forbidden(ip)
        && !allow_insecure
    {
        return Err(format!("{ip} is a private, loopback or link-local address"));
    }
    if !allow_insecure && (host == "localhost" || host.ends_with(".localhost")) {
        return Err("localhost is not reachable from outside".into());
    }
    Ok(())
}

/// A resolver that refuses forbidden addresses, wrapped around another resolver (the system's).
pub struct GuardedResolver<R> {
    inner: R,
    allow_insecure: bool,
}

impl<R> fmt::Debug for GuardedResolver<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GuardedResolver")
            .field("allow_insecure", &self.allow_insecure)
            .finish()
    }
}

impl<R: Resolver> Resolver for GuardedResolver<R> {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let addresses = self.inner.resolve(uri, config, timeout)?;
        if !self.allow_insecure
            && let Some(bad) = addresses.iter().find(|a| forbidden(a.ip()))
        {
            return Err(ureq::Error::Io(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!(
                    "{} resolves to {}, which is not a public address",
                    uri.host().unwrap_or(""),
                    bad.ip()
                ),
            )));
        }
        Ok(addresses)
    }
}

/// The HTTP client for customers' endpoints: guarded resolution, no redirects, no proxy, timeouts.
pub fn agent(allow_insecure: bool, timeout: Duration) -> ureq::Agent {
    agent_with(DefaultResolver::default(), allow_insecure, timeout)
}

pub fn agent_with(resolver: impl Resolver, allow_insecure: bool, timeout: Duration) -> ureq::Agent {
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .max_redirects_will_error(false)
        .proxy(None)
        .https_only(!allow_insecure)
        .timeout_connect(Some(timeout.min(Duration::from_secs(10))))
        .timeout_global(Some(timeout))
        .user_agent(concat!("whatsapi-webhooks/", env!("CARGO_PKG_VERSION")))
        .build();
    ureq::Agent::with_parts(
        config,
        DefaultConnector::default(),
        GuardedResolver {
            inner: resolver,
            allow_insecure,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_special_addresses_are_forbidden() {
        for ip in [
            "127.0.0.1",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00:ec2::254",
            "fe80::1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "224.0.0.1",
        ] {
            assert!(forbidden(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "93.184.216.34",
            "2606:2800:220:1:248:1893:25c8:1946",
            "8.8.8.8",
        ] {
            assert!(!forbidden(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn urls_are_checked_when_saved() {
        assert!(check_url("https://hooks.example.com/x", false).is_ok());
        assert!(check_url("http://hooks.example.com/x", false).is_err());
        assert!(check_url("https://127.0.0.1/x", false).is_err());
        assert!(check_url("https://169.254.169.254/latest/meta-data", false).is_err());
        assert!(check_url("https://[::1]:8443/x", false).is_err());
        assert!(check_url("https://localhost/x", false).is_err());
        assert!(check_url("ftp://example.com/x", false).is_err());
        assert!(check_url("http://127.0.0.1:9000/x", true).is_ok());
    }

    /// Stands in for DNS: every name resolves to 10.0.0.1.
    #[derive(Debug)]
    struct InternalDns;

    impl Resolver for InternalDns {
        fn resolve(
            &self,
            uri: &Uri,
            _: &Config,
            _: NextTimeout,
        ) -> Result<ResolvedSocketAddrs, ureq::Error> {
            let mut addresses = self.empty();
            let port = uri.port_u16().unwrap_or(443);
            addresses.push(std::net::SocketAddr::new([10, 0, 0, 1].into(), port));
            Ok(addresses)
        }
    }

    #[test]
    fn a_name_resolving_to_a_private_address_is_refused_at_connect_time() {
        let agent = agent_with(InternalDns, false, Duration::from_secs(2));
        let error = agent
            .post("https://hooks.example.com/x")
            .send("{}")
            .unwrap_err();
        assert!(error.to_string().contains("10.0.0.1"), "{error}");
    }
}
