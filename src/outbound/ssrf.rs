//! Customers choose the URLs the server posts to, so those URLs must not reach inside the operator's
//! network. When an endpoint is saved its URL must be https, carry no user name or password, and name a
//! public address: an address in any form the system's resolver accepts (`0x7f.1`, `[::ffff:10.0.0.1]`,
//! ...) is judged as the address it means, and a name is resolved (off the async executor, for at most
//! a few seconds) and refused if it resolves to any address that is not public. Each delivery checks the
//! URL again, and the host is resolved again when the connection is made with every address checked (so a
//! name that changes its answer after it was saved gains nothing); redirects are not followed and no
//! proxy from the environment is used. The operator can allow plain http and private targets for
//! development (`webhooks.allow_insecure_targets`).

mod addresses;
mod host;

pub use addresses::{Refusal, refusal};

use host::Host;
use std::fmt;
use std::net::{IpAddr, ToSocketAddrs};
use std::time::Duration;
use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};

/// Names that only ever mean this machine or its local network (RFC 6761 `localhost`, RFC 6762 `local`,
/// RFC 8375 `home.arpa`, ICANN's private-use `internal`), refused without asking a resolver.
const LOCAL_NAMES: &[&str] = &["localhost", "local", "home.arpa", "internal"];

/// How long saving an endpoint waits for its host name to resolve.
pub const SAVE_LOOKUP_LIMIT: Duration = Duration::from_secs(5);

/// A host name that passed every check that needs no network, still to be resolved ([`check_name`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingName {
    pub host: String,
    pub port: u16,
}

/// Checks a URL without the network, when an endpoint is saved and again before each delivery: a clear
/// reason when it can never be used. A host name that must still be resolved is returned.
pub fn check_url(url: &str, allow_insecure: bool) -> Result<Option<PendingName>, String> {
    if url.len() > 2000 {
        return Err("must be at most 2000 characters".into());
    }
    let parsed: Uri = url
        .parse()
        .map_err(|_| "must be a full URL such as https://example.com/hooks".to_owned())?;
    let authority = parsed
        .authority()
        .filter(|a| !a.host().is_empty())
        .ok_or_else(|| "must name a host".to_owned())?;
    // A password in the URL would be stored and shown with it; the signature is what proves the sender.
    if authority.as_str().contains('@') {
        return Err(
            "must not contain a user name or password (check the webhook-signature header instead)"
                .into(),
        );
    }
    let written = authority.host();
    let host = host::classify(written)?;
    // The address comes before the scheme: switching to https would not make it reachable.
    if !allow_insecure {
        match &host {
            Host::Address(ip) => refuse_address(written, *ip)?,
            Host::Name(name) => refuse_local_name(name)?,
        }
    }
    let default_port = match parsed.scheme_str() {
        Some("https") => 443,
        Some("http") if allow_insecure => 80,
        Some("http") => return Err("must use https".into()),
        _ => return Err("must be an https URL".into()),
    };
    Ok(match host {
        Host::Name(name) if !allow_insecure => Some(PendingName {
            host: name,
            port: authority.port_u16().unwrap_or(default_port),
        }),
        _ => None,
    })
}

fn refuse_address(written: &str, ip: IpAddr) -> Result<(), String> {
    let Some(refused) = refusal(ip) else {
        return Ok(());
    };
    let bare = written.trim_start_matches('[').trim_end_matches(']');
    if bare.eq_ignore_ascii_case(&ip.to_string()) {
        Err(format!("{refused} is not a public address"))
    } else {
        // Another way of writing it (`0x7f.1`, `2130706433`): say which address it means.
        Err(format!("{written} is {refused}, not a public address"))
    }
}

fn refuse_local_name(name: &str) -> Result<(), String> {
    let local = LOCAL_NAMES.iter().find(|local| {
        name == **local
            || name
                .strip_suffix(**local)
                .is_some_and(|rest| rest.ends_with('.'))
    });
    match local {
        Some(local) => Err(format!(
            "{name} is a local name (.{local}), not reachable from outside"
        )),
        None => Ok(()),
    }
}

/// Looks host names up when an endpoint is saved: the system's resolver in the server, a stand-in in
/// tests.
pub trait Lookup: Send + 'static {
    fn lookup(&self, host: &str, port: u16) -> std::io::Result<Vec<IpAddr>>;
}

/// The system's resolver (`getaddrinfo`), as the connection will use it.
pub struct SystemLookup;

impl Lookup for SystemLookup {
    fn lookup(&self, host: &str, port: u16) -> std::io::Result<Vec<IpAddr>> {
        Ok((host, port).to_socket_addrs()?.map(|a| a.ip()).collect())
    }
}

/// Resolves a host name when its endpoint is saved, on a blocking thread and for at most `limit`, and
/// refuses it when any address it resolves to is not public: the rule every connection applies, so an
/// endpoint that could never be delivered to is refused up front. A name that does not resolve (or not
/// within `limit`) is accepted: its owner may set up DNS after the endpoint, and the check at connection
/// time stands guard whatever the name resolves to later.
pub async fn check_name(
    name: PendingName,
    lookup: impl Lookup,
    limit: Duration,
) -> Result<(), String> {
    let (host, port) = (name.host.clone(), name.port);
    let resolving = crate::blocking::run("name lookup", move || lookup.lookup(&host, port));
    let Ok(Ok(Ok(addresses))) = rocket::tokio::time::timeout(limit, resolving).await else {
        return Ok(());
    };
    match addresses.into_iter().find_map(refusal) {
        Some(refused) => Err(format!(
            "{} resolves to {refused}, not a public address",
            name.host
        )),
        None => Ok(()),
    }
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
            && let Some(refused) = addresses.iter().find_map(|a| refusal(a.ip()))
        {
            return Err(ureq::Error::Io(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!(
                    "{} resolves to {refused}, not a public address",
                    uri.host().unwrap_or("")
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
mod tests;
