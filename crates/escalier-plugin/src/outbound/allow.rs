//! Who a plugin may talk to: the manifest's host allowlist and the
//! address policy (no loopback, private, link-local, unspecified or other
//! non-public addresses unless the operator lists them).
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
use std::net::{IpAddr, Ipv4Addr};

use ipnet::IpNet;
use url::{Host, Url};

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

/// Operator-level address policy: non-public addresses are refused unless
/// listed here (`outbound.allow_private = ["10.1.0.0/16"]`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressPolicy {
    pub allow_private: Vec<IpNet>,
}

impl AddressPolicy {
    /// `Err` with the reason if `ip` may not be contacted.
    pub fn check(&self, ip: IpAddr) -> Result<(), String> {
        match non_public(ip) {
            None => Ok(()),
            Some(_) if self.allow_private.iter().any(|n| n.contains(&ip)) => Ok(()),
            Some(kind) => Err(format!(
                "{ip} is a {kind} address; outbound requests go only to public addresses unless the operator lists it in outbound.allow_private"
            )),
        }
    }

    /// Check a URL's host before any resolution: IP literals and names
    /// that always mean this machine (`localhost`).
    pub fn check_host(&self, url: &Url) -> Result<(), String> {
        match url.host() {
            Some(Host::Ipv4(ip)) => self.check(IpAddr::V4(ip)),
            Some(Host::Ipv6(ip)) => self.check(IpAddr::V6(ip)),
            Some(Host::Domain(d)) => {
                let d = d.trim_end_matches('.').to_ascii_lowercase();
                if d == "localhost" || d.ends_with(".localhost") {
                    self.check(IpAddr::V4(Ipv4Addr::LOCALHOST))
                } else {
                    Ok(())
                }
            }
            None => Err("the URL has no host".into()),
        }
    }
}

/// What kind of non-public address `ip` is, if it is one.
pub fn non_public(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => non_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return non_public_v4(v4);
            }
            let seg = v6.segments();
            // NAT64 (64:ff9b::/96) reaches IPv4 space: judge the IPv4 part.
            if seg[0] == 0x64 && seg[1] == 0xff9b && seg[2..6] == [0, 0, 0, 0] {
                let v4 = Ipv4Addr::new(
                    (seg[6] >> 8) as u8,
                    seg[6] as u8,
                    (seg[7] >> 8) as u8,
                    seg[7] as u8,
                );
                return non_public_v4(v4);
            }
            if v6.is_loopback() {
                Some("loopback")
            } else if v6.is_unspecified() {
                Some("unspecified")
            } else if seg[0] & 0xfe00 == 0xfc00 {
                Some("private (unique local)")
            } else if seg[0] & 0xffc0 == 0xfe80 || seg[0] & 0xffc0 == 0xfec0 {
                Some("link-local")
            } else if v6.is_multicast() {
                Some("multicast")
            } else if seg[0] == 0x2001 && seg[1] == 0x0db8 {
                Some("documentation")
            } else if seg[0..6] == [0, 0, 0, 0, 0, 0] {
                // IPv4-compatible (deprecated) addresses.
                Some("reserved")
            } else {
                None
            }
        }
    }
}

fn non_public_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let o = ip.octets();
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_unspecified() || o[0] == 0 {
        Some("unspecified")
    } else if ip.is_private() {
        Some("private")
    } else if ip.is_link_local() {
        Some("link-local")
    } else if o[0] == 100 && (o[1] & 0xc0) == 64 {
        Some("shared (carrier-grade NAT)")
    } else if ip.is_broadcast() || o[0] >= 240 {
        Some("reserved")
    } else if ip.is_multicast() {
        Some("multicast")
    } else if ip.is_documentation()
        || (o[0] == 192 && o[1] == 0 && o[2] == 0)
        || (o[0] == 198 && (o[1] & 0xfe) == 18)
    {
        Some("reserved")
    } else {
        None
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

    #[test]
    fn non_public_addresses_are_refused_unless_listed() {
        let policy = AddressPolicy::default();
        for bad in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
        ] {
            assert!(policy.check(bad.parse().unwrap()).is_err(), "{bad}");
        }
        for ok in [
            "93.184.216.34",
            "2606:2800:220:1:248:1893:25c8:1946",
            "1.1.1.1",
        ] {
            assert!(policy.check(ok.parse().unwrap()).is_ok(), "{ok}");
        }
        let open = AddressPolicy {
            allow_private: vec!["127.0.0.0/8".parse().unwrap()],
        };
        assert!(open.check("127.0.0.1".parse().unwrap()).is_ok());
        assert!(open.check("10.0.0.1".parse().unwrap()).is_err());
    }

    #[test]
    fn localhost_names_count_as_loopback_before_resolution() {
        let policy = AddressPolicy::default();
        assert!(policy.check_host(&url("http://localhost:8080/")).is_err());
        assert!(policy.check_host(&url("http://api.localhost/")).is_err());
        assert!(policy.check_host(&url("http://[::1]/")).is_err());
        assert!(policy.check_host(&url("https://hooks.slack.com/")).is_ok());
    }
}
