//! The addresses the server may call on a connection's behalf: Meta's Graph API (or the simulators the
//! operator allowed, and the built-in sandbox), and Meta's media hosts. A tenant chooses its
//! connection's address, so every call is checked here, not only the saved value.

use crate::config::{Config, normalize_base_url, split_url};
use crate::error::{Error, Result};

#[derive(Debug, Clone)]
pub struct MetaTargets {
    /// Normalised base URLs (`scheme://host[:port][/path]`) a connection may use.
    bases: Vec<String>,
    /// Where calls may go besides under `bases`: the built-in sandbox's media files.
    also: Vec<String>,
    media_hosts: Vec<String>,
    /// The built-in sandbox's Graph API address, which sandbox connections use.
    sandbox: String,
}

/// Where a media file may be fetched from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaSource {
    /// One of Meta's media hosts, over https: fetched through the same address checks as webhooks.
    MediaHost,
    /// The connection's own allowed Graph address (the sandbox, an allowed simulator).
    GraphBase,
}

impl MetaTargets {
    pub fn new(config: &Config) -> MetaTargets {
        // The built-in sandbox answers Graph calls under /sandbox/graph and serves media under
        // /sandbox/media.
        let sandbox = format!("{}/sandbox", config.server.public_url);
        let sandbox_graph = format!("{sandbox}/graph");
        let mut bases: Vec<String> = config.meta.allowed_base_urls.clone();
        bases.extend(normalize_base_url(&sandbox_graph).ok());
        MetaTargets {
            bases,
            also: normalize_base_url(&format!("{sandbox}/media"))
                .into_iter()
                .collect(),
            media_hosts: config.meta.media_hosts.clone(),
            sandbox: sandbox_graph,
        }
    }

    /// The built-in sandbox's Graph API address.
    pub fn sandbox_base(&self) -> &str {
        &self.sandbox
    }

    /// The base URL a connection may be saved with, in its normal spelling, or why not: exactly one of
    /// the allowed bases (a tenant chooses no path below one).
    pub fn check_base_url(&self, url: &str) -> Result<String> {
        let refuse = |why: String| Error::invalid("graph_base_url", why);
        let normalized = normalize_base_url(url).map_err(|why| {
            refuse(format!(
                "{why}; a connection may use only the Graph API addresses in [meta] allowed_base_urls"
            ))
        })?;
        if self.bases.contains(&normalized) {
            return Ok(normalized);
        }
        // The list itself is not shown: it may name the operator's own simulators.
        Err(refuse(format!(
            "{normalized} is not a Graph API address this installation allows (the operator's setting \
             [meta] allowed_base_urls); leave graph_base_url out to use Meta's"
        )))
    }

    /// Whether a call to this URL stays under an allowed base.
    pub fn permits(&self, url: &str) -> bool {
        let Ok((origin, path, _query)) = split_url(url) else {
            return false;
        };
        let full = format!("{origin}{path}");
        self.bases.iter().chain(&self.also).any(|base| {
            full == *base
                || full
                    .strip_prefix(base.as_str())
                    .is_some_and(|rest| rest.starts_with('/'))
        })
    }

    /// Where the media file at `url`, as Meta's answer for a connection at `base_url` gave it, may be
    /// fetched from; `None`: nowhere.
    pub fn media_source(&self, base_url: &str, url: &str) -> Option<MediaSource> {
        let (origin, _, _) = split_url(url).ok()?;
        // A port other than 443 is kept in the normalised origin, so it never matches a host here.
        let on_media_host = origin.strip_prefix("https://").is_some_and(|host| {
            self.media_hosts
                .iter()
                .any(|allowed| host == allowed || host.ends_with(&format!(".{allowed}")))
        });
        if on_media_host {
            return Some(MediaSource::MediaHost);
        }
        let (base_origin, _, _) = split_url(base_url).ok()?;
        (origin == base_origin && self.permits(base_url) && self.permits(url))
            .then_some(MediaSource::GraphBase)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets(allowed: &[&str]) -> MetaTargets {
        let mut config = Config::default();
        config.server.public_url = "http://127.0.0.1:8080".into();
        config.meta.allowed_base_urls = allowed.iter().map(|s| s.to_string()).collect();
        config.validate().unwrap();
        MetaTargets::new(&config)
    }

    #[test]
    fn connections_may_use_meta_and_the_sandbox_only() {
        let t = targets(&["https://graph.facebook.com"]);
        assert_eq!(
            t.check_base_url("https://GRAPH.facebook.com/").unwrap(),
            "https://graph.facebook.com"
        );
        assert!(
            t.check_base_url("http://127.0.0.1:8080/sandbox/graph")
                .is_ok()
        );
        for refused in [
            "http://127.0.0.1:9000",
            "http://169.254.169.254/latest",
            "http://[::1]:6379",
            "https://graph.facebook.com.evil.test",
            "https://graph.facebook.com:8443",
            "http://graph.facebook.com",
            "http://127.0.0.1:8080/admin",
            "http://127.0.0.1:8080/sandbox/media",
            "https://graph.facebook.com/v25.0",
            "http://127.0.0.1:8080/sandbox/graph/..%2F..%2Fadmin",
        ] {
            let err = t.check_base_url(refused).unwrap_err().to_string();
            assert!(err.contains("allowed_base_urls"), "{refused}: {err}");
        }
    }

    #[test]
    fn calls_stay_under_an_allowed_base() {
        let t = targets(&["https://graph.facebook.com", "http://127.0.0.1:9000"]);
        assert!(t.permits("https://graph.facebook.com/v25.0/123/messages"));
        assert!(t.permits("https://graph.facebook.com:443/v25.0/123?fields=a"));
        assert!(t.permits("http://127.0.0.1:9000/v25.0/1/messages"));
        assert!(t.permits("http://127.0.0.1:8080/sandbox/graph/v25.0/1/messages"));
        assert!(t.permits("http://127.0.0.1:8080/sandbox/media/1/2"));
        assert!(!t.permits("http://127.0.0.1:8080/sandbox/graphx"));
        assert!(!t.permits("http://127.0.0.1:8080/api/v1/messages"));
        assert!(!t.permits("http://127.0.0.1:8080/sandbox/graph/../../api"));
        assert!(!t.permits("http://127.0.0.1:8080/sandbox/graph/..%2F..%2Fapi"));
        assert!(!t.permits("http://127.0.0.1:8080/sandbox/graph/x%5C..%5Capi"));
        assert!(!t.permits("http://127.0.0.1:9001/v25.0"));
        assert!(!t.permits("https://user@graph.facebook.com/v25.0"));
    }

    #[test]
    fn media_comes_from_metas_hosts_over_https_or_the_connections_own_address() {
        let t = targets(&["https://graph.facebook.com"]);
        let meta = "https://graph.facebook.com";
        assert_eq!(
            t.media_source(
                meta,
                "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1"
            ),
            Some(MediaSource::MediaHost)
        );
        for refused in [
            "http://lookaside.fbsbx.com/x",
            "https://lookaside.fbsbx.com:8443/x",
            "https://fbsbx.com.evil.test/x",
            "https://127.0.0.1/x",
            "http://127.0.0.1:8080/sandbox/media/1/2",
        ] {
            assert_eq!(t.media_source(meta, refused), None, "{refused}");
        }
        let sandbox = "http://127.0.0.1:8080/sandbox/graph";
        assert_eq!(
            t.media_source(sandbox, "http://127.0.0.1:8080/sandbox/media/1/2"),
            Some(MediaSource::GraphBase)
        );
        assert_eq!(
            t.media_source(sandbox, "http://127.0.0.1:8080/api/v1/messages"),
            None
        );
    }
}
