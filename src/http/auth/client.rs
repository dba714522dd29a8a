//! Who is asking: the client's address and browser, for sessions, throttling and the activity log.
//!
//! The address is the connecting peer's, unless that peer is one of `[server] trusted_proxies`: then it is
//! the right-most address of X-Forwarded-For that is not a trusted proxy (each proxy appends the address
//! it saw, so everything to the left of that one was written by the client and may be forged), or the
//! proxy's own header when `client_ip_header` names one.

use crate::config::{Network, Server};
use rocket::http::HeaderMap;
use rocket::request::{FromRequest, Outcome, Request};
use std::net::IpAddr;

pub use crate::domain::client::ClientInfo;

/// The proxies whose forwarding headers are believed, kept in Rocket's managed state.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    networks: Vec<Network>,
    /// A single-address header such as X-Real-IP; `None` reads X-Forwarded-For.
    header: Option<String>,
}

impl TrustedProxies {
    pub fn from_config(server: &Server) -> TrustedProxies {
        let header = server.client_ip_header.trim();
        TrustedProxies {
            networks: server.trusted_networks(),
            header: (!header.is_empty() && !header.eq_ignore_ascii_case("X-Forwarded-For"))
                .then(|| header.to_owned()),
        }
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.networks.iter().any(|n| n.contains(ip))
    }

    /// The client's address for a request from `peer` carrying `headers`.
    pub fn client_address(&self, peer: IpAddr, headers: &HeaderMap<'_>) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.trusts(peer) {
            return peer;
        }
        if let Some(name) = &self.header {
            return headers
                .get_one(name)
                .and_then(parse_address)
                .unwrap_or(peer);
        }
        // Several X-Forwarded-For lines read as one list, in order.
        let hops: Vec<&str> = headers
            .get("X-Forwarded-For")
            .flat_map(|line| line.split(','))
            .collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            // A trusted proxy writes a valid address; anything else came from the client's side.
            let Some(address) = parse_address(hop) else {
                break;
            };
            client = address;
            if !self.trusts(address) {
                break;
            }
        }
        client
    }
}

/// An address as proxies write it: `203.0.113.7`, `2001:db8::1`, `[2001:db8::1]`, with or without a port.
fn parse_address(text: &str) -> Option<IpAddr> {
    let text = text.trim();
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    text.parse::<std::net::SocketAddr>()
        .ok()
        .map(|s| s.ip().to_canonical())
        .or_else(|| {
            let inner = text.strip_prefix('[')?.strip_suffix(']')?;
            inner.parse::<IpAddr>().ok().map(|ip| ip.to_canonical())
        })
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for ClientInfo {
    type Error = std::convert::Infallible;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        Outcome::Success(ClientInfo::of(req))
    }
}

impl ClientInfo {
    /// The client of this request.
    pub fn of(req: &Request<'_>) -> ClientInfo {
        let ip = match (req.remote(), req.rocket().state::<TrustedProxies>()) {
            (Some(peer), Some(proxies)) => proxies.client_address(peer.ip(), req.headers()),
            (Some(peer), None) => peer.ip().to_canonical(),
            (None, _) => {
                return ClientInfo {
                    ip: "unknown".into(),
                    user_agent: user_agent(req),
                };
            }
        };
        ClientInfo {
            ip: ip.to_string(),
            user_agent: user_agent(req),
        }
    }
}

fn user_agent(req: &Request<'_>) -> String {
    req.headers()
        .get_one("User-Agent")
        .unwrap_or("")
        .chars()
        .take(300)
        .collect()
}

impl ClientInfo {
    /// This client as the author of an entry in the activity log.
    pub fn actor(
        &self,
        account: Option<crate::store::AccountId>,
        user: Option<crate::store::users::UserId>,
    ) -> crate::store::activity::Actor<'_> {
        crate::store::activity::Actor {
            account,
            user,
            ip: &self.ip,
            user_agent: &self.user_agent,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rocket::http::Header;

    fn proxies(list: &[&str], header: &str) -> TrustedProxies {
        TrustedProxies::from_config(&Server {
            trusted_proxies: list.iter().map(|s| s.to_string()).collect(),
            client_ip_header: header.into(),
            ..Server::default()
        })
    }

    fn headers(lines: &[(&str, &str)]) -> HeaderMap<'static> {
        let mut map = HeaderMap::new();
        for (name, value) in lines {
            map.add(Header::new(name.to_string(), value.to_string()));
        }
        map
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn the_right_most_untrusted_forwarded_address_is_the_client() {
        let trusted = proxies(&["10.0.0.0/8"], "");
        let forged = headers(&[("X-Forwarded-For", "1.2.3.4, 198.51.100.7, 10.0.0.2")]);
        assert_eq!(
            trusted.client_address(ip("10.0.0.1"), &forged),
            ip("198.51.100.7")
        );
        let split = headers(&[
            ("X-Forwarded-For", "198.51.100.7"),
            ("X-Forwarded-For", "10.0.0.3"),
        ]);
        assert_eq!(
            trusted.client_address(ip("10.0.0.1"), &split),
            ip("198.51.100.7")
        );
        let garbage = headers(&[("X-Forwarded-For", "not-an-ip, 10.0.0.3")]);
        assert_eq!(
            trusted.client_address(ip("10.0.0.1"), &garbage),
            ip("10.0.0.3"),
            "the nearest hop known"
        );
        assert_eq!(
            trusted.client_address(ip("10.0.0.1"), &headers(&[])),
            ip("10.0.0.1"),
            "no header: the peer"
        );
    }

    #[test]
    fn headers_from_an_untrusted_peer_are_ignored() {
        let trusted = proxies(&["10.0.0.0/8"], "");
        let forged = headers(&[("X-Forwarded-For", "198.51.100.7")]);
        assert_eq!(
            trusted.client_address(ip("203.0.113.9"), &forged),
            ip("203.0.113.9")
        );
        assert_eq!(
            proxies(&[], "").client_address(ip("203.0.113.9"), &forged),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn a_proxy_header_of_its_own_is_read_from_trusted_peers_only() {
        let real_ip = proxies(&["127.0.0.1"], "X-Real-IP");
        let sent = headers(&[
            ("X-Real-IP", "198.51.100.7"),
            ("X-Forwarded-For", "192.0.2.1"),
        ]);
        assert_eq!(
            real_ip.client_address(ip("127.0.0.1"), &sent),
            ip("198.51.100.7")
        );
        assert_eq!(
            real_ip.client_address(ip("192.0.2.50"), &sent),
            ip("192.0.2.50")
        );
    }
}
