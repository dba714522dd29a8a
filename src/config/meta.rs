//! Where the server may call Meta: the Graph API addresses a connection may use, and the hosts media
//! files are downloaded from. A connection's address is chosen by a tenant, so without this list any
//! account could make the server call inside the operator's network.

use super::{Config, ConfigError, invalid};
use serde::{Deserialize, Serialize};
use ureq::http::Uri;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Meta {
    /// Graph API base URLs a connection may use (the built-in sandbox's own is always allowed).
    pub allowed_base_urls: Vec<String>,
    /// Hosts media files may be downloaded from, with their subdomains; https only.
    pub media_hosts: Vec<String>,
}

pub const META_GRAPH_URL: &str = "https://graph.facebook.com";

impl Default for Meta {
    fn default() -> Self {
        Meta {
            allowed_base_urls: vec![META_GRAPH_URL.to_owned()],
            // Where Meta's media URLs point (lookaside.fbsbx.com today) and its other CDN domains.
            media_hosts: ["fbsbx.com", "fbcdn.net", "whatsapp.net", "facebook.com"]
                .map(str::to_owned)
                .to_vec(),
        }
    }
}

/// A URL as `scheme://host[:port][/path]`, lower-case scheme and host, the default port and a final
/// slash left out, so that two spellings of one address compare equal. Refuses what a Graph API base
/// must not have: another scheme, credentials, a query or fragment, dot segments.
pub fn normalize_base_url(url: &str) -> Result<String, String> {
    let url = url.trim();
    let (origin, path, query) = split_url(url)?;
    if query.is_some() {
        return Err(format!("{url} must not have a query string"));
    }
    Ok(format!("{origin}{}", path.trim_end_matches('/')))
}

/// The origin (`scheme://host[:port]`, normalised), the path and the query of an http(s) URL.
pub fn split_url(url: &str) -> Result<(String, String, Option<String>), String> {
    if url.contains('#') {
        return Err(format!("{url} must not have a fragment"));
    }
    let uri: Uri = url
        .parse()
        .map_err(|_| format!("{url} is not a URL such as https://graph.facebook.com"))?;
    let scheme = uri.scheme_str().unwrap_or_default().to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => 443,
        "http" => 80,
        _ => return Err(format!("{url} must start with https:// (or http://)")),
    };
    let authority = uri
        .authority()
        .ok_or_else(|| format!("{url} must name a host"))?;
    if authority.as_str().contains('@') {
        return Err(format!("{url} must not carry a user name or password"));
    }
    let host = authority.host().to_ascii_lowercase();
    if host.is_empty() {
        return Err(format!("{url} must name a host"));
    }
    let port = match uri.port_u16() {
        Some(port) if port != default_port => format!(":{port}"),
        _ => String::new(),
    };
    let path = uri.path();
    let dotted = |segment: &str| {
        let lower = segment.to_ascii_lowercase().replace("%2e", ".");
        lower == "." || lower == ".."
    };
    // An encoded slash or backslash can become a separator (and a dot segment) behind a proxy that
    // decodes the path; a Graph API path never needs one.
    let lower = path.to_ascii_lowercase();
    if path.split('/').any(dotted)
        || path.contains('\\')
        || ["%2f", "%5c", ";"].iter().any(|bad| lower.contains(bad))
    {
        return Err(format!(
            "{url} must not have . or .. segments, encoded slashes or ; in its path"
        ));
    }
    Ok((
        format!("{scheme}://{host}{port}"),
        path.to_owned(),
        uri.query().map(str::to_owned),
    ))
}

/// A host name of `media_hosts`: letters, digits, hyphens and dots, with at least one dot.
fn valid_host(host: &str) -> bool {
    host.contains('.')
        && !host.starts_with('.')
        && !host.ends_with('.')
        && host
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && !host.bytes().all(|b| b.is_ascii_digit() || b == b'.')
}

impl Config {
    pub(super) fn validate_meta(&mut self) -> Result<(), ConfigError> {
        let mut normalized = Vec::new();
        for url in &self.meta.allowed_base_urls {
            normalized
                .push(normalize_base_url(url).map_err(|m| invalid("meta.allowed_base_urls", m))?);
        }
        self.meta.allowed_base_urls = normalized;
        for host in &mut self.meta.media_hosts {
            *host = host.trim().to_ascii_lowercase();
            if !valid_host(host) {
                return Err(invalid(
                    "meta.media_hosts",
                    format!("{host:?} is not a host name such as fbsbx.com"),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_compared_in_one_spelling() {
        assert_eq!(
            normalize_base_url("HTTPS://Graph.Facebook.com:443/").unwrap(),
            "https://graph.facebook.com"
        );
        assert_eq!(
            normalize_base_url("http://127.0.0.1:9000/sandbox/graph/").unwrap(),
            "http://127.0.0.1:9000/sandbox/graph"
        );
        assert_eq!(
            normalize_base_url("http://[::1]:80").unwrap(),
            "http://[::1]"
        );
        for bad in [
            "ftp://graph.facebook.com",
            "https://user:pw@graph.facebook.com",
            "https://graph.facebook.com/?x=1",
            "https://graph.facebook.com/#x",
            "https://graph.facebook.com/a/../b",
            "https://graph.facebook.com/a/%2E%2E/b",
            "graph.facebook.com",
            "",
        ] {
            assert!(normalize_base_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_meta_settings_are_checked() {
        let mut config = Config::default();
        config.meta.allowed_base_urls = vec!["https://Graph.facebook.com/".into()];
        config.validate().unwrap();
        assert_eq!(config.meta.allowed_base_urls, [META_GRAPH_URL]);
        config.meta.allowed_base_urls = vec!["graph.facebook.com".into()];
        let err = config.validate().unwrap_err().to_string();
        assert!(err.starts_with("meta.allowed_base_urls"), "{err}");

        let mut config = Config::default();
        config.meta.media_hosts = vec!["10.0.0.1".into()];
        let err = config.validate().unwrap_err().to_string();
        assert!(err.starts_with("meta.media_hosts"), "{err}");
    }
}
