//! Who a plugin may talk to: the manifest's host allowlist, and the
//! address policy (no loopback, private, link-local, unspecified or other
//! non-public addresses unless the operator lists them), which lives with
//! the safe HTTP client in `escalier_outbox::http` and is re-exported here.
//!
//! Both checks run twice: when a plugin asks for a request during a call
//! (so a plugin learns at once that a target is refused) and again when
//! the delivery worker sends it (the manifest may have changed, and only
//! then are host names resolved). The send-time check looks at every
//! resolved address before connecting and connects only to checked
//! addresses, so a name that resolves to 127.0.0.1 (or flips to it
//! between checks: DNS rebinding) never reaches a private service. Spin's
//! CVE-2024-32980 ("http://self" reaching the host itself) is the lesson.

use std::fmt;

pub use escalier_outbox::http::{AddressPolicy, non_public};
use url::Url;

/// One `allowed_hosts` entry: `[scheme://]host[:port]`, where `host` may
/// start with `*.` to allow every subdomain (not the domain itself).
/// Without a scheme only `https` is allowed; without a port, the scheme's
/// default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPattern {
    pub scheme: String,
    pub host: String,
    pub port: Option<u16>,
}

impl HostPattern {
    pub fn parse(s: &str) -> Result<HostPattern, String> {
        let (scheme, rest) = match s.split_once("://") {
            Some((scheme, rest)) => (scheme.to_ascii_lowercase(), rest),
            None => ("https".to_owned(), s),
        };
        if scheme != "https" && scheme != "http" {
            return Err(format!("`{s}`: scheme `{scheme}` is not http or https"));
        }
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains(['/', '?', '#', '@']) || rest.is_empty() {
            return Err(format!(
                "`{s}`: write only scheme, host and port (`https://hooks.example.com`, `https://*.example.com:8443`)"
            ));
        }
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, _)) if !h.ends_with(']') && h.contains(':') => (rest, None), // bare IPv6
            Some((h, p)) => {
                let port = p
                    .parse::<u16>()
                    .map_err(|_| format!("`{s}`: `{p}` is not a port number"))?;
                (h, Some(port))
            }
            None => (rest, None),
        };
        let host = host.to_ascii_lowercase();
        let bare = host.strip_prefix("*.").unwrap_or(&host);
        if bare.is_empty() || bare.contains('*') {
            return Err(format!(
                "`{s}`: `*` is allowed only as the first label (`*.example.com`)"
            ));
        }
        Ok(HostPattern { scheme, host, port })
    }

    /// Whether `url` (already parsed) is covered by this entry.
    pub fn matches(&self, url: &Url) -> bool {
        if url.scheme() != self.scheme {
            return false;
        }
        let port = url.port_or_known_default();
        let want = self.port.or(match self.scheme.as_str() {
            "https" => Some(443),
            _ => Some(80),
        });
        if port != want {
            return false;
        }
        let Some(host) = url.host_str() else {
            return false;
        };
        let host = host.to_ascii_lowercase();
        match self.host.strip_prefix("*.") {
            Some(domain) => {
                host.len() > domain.len() + 1 && host.ends_with(domain) && {
                    let cut = host.len() - domain.len() - 1;
                    host.as_bytes()[cut] == b'.'
                }
            }
            None => host == self.host,
        }
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme, self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        Ok(())
    }
}

/// Check a URL against an allowlist: scheme, host and port must match an entry.
pub fn check_allowed(url: &Url, allowed: &[HostPattern]) -> Result<(), String> {
    if allowed.iter().any(|p| p.matches(url)) {
        return Ok(());
    }
    let host = url.host_str().unwrap_or("");
    let port = url
        .port_or_known_default()
        .map(|p| format!(":{p}"))
        .unwrap_or_default();
    let list = if allowed.is_empty() {
        "none".to_owned()
    } else {
        allowed
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    Err(format!(
        "{}://{host}{port} is not in capabilities.http.allowed_hosts (allowed: {list})",
        url.scheme()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn patterns_match_scheme_host_and_port_exactly() {
        let p = HostPattern::parse("hooks.slack.com").unwrap();
        assert!(p.matches(&url("https://hooks.slack.com/services/T0/B0/x")));
        assert!(p.matches(&url("https://HOOKS.slack.com:443/")));
        assert!(
            !p.matches(&url("http://hooks.slack.com/")),
            "https unless the entry says http"
        );
        assert!(!p.matches(&url("https://hooks.slack.com:8443/")));
        assert!(!p.matches(&url("https://hooks.slack.com.evil.test/")));
        let p = HostPattern::parse("http://127.0.0.1:9000").unwrap();
        assert!(p.matches(&url("http://127.0.0.1:9000/hook")));
        assert!(!p.matches(&url("http://127.0.0.1:9001/hook")));
    }

    #[test]
    fn wildcards_cover_subdomains_only() {
        let p = HostPattern::parse("https://*.example.com").unwrap();
        assert!(p.matches(&url("https://a.example.com/")));
        assert!(p.matches(&url("https://a.b.example.com/")));
        assert!(!p.matches(&url("https://example.com/")));
        assert!(!p.matches(&url("https://badexample.com/")));
        assert!(HostPattern::parse("*").is_err());
        assert!(HostPattern::parse("a.*.com").is_err());
        assert!(HostPattern::parse("https://x.com/path").is_err());
        assert!(HostPattern::parse("ftp://x.com").is_err());
    }
}
