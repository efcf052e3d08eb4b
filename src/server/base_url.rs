//! The service's absolute address for links: every `href` the service writes (OGC links,
//! `next` pages, TileJSON `tiles`, HTML pages) is absolute, because QGIS 3.22 and plain
//! HTTP clients cannot follow server-relative ones.
//!
//! The base is the configured `public_url` when set (e.g. `https://gis.kent.example/hotspots`
//! behind a reverse proxy); otherwise it is made per request from the `Host` header, and,
//! only when the connection comes from a configured trusted proxy, from its
//! `X-Forwarded-Proto`, `X-Forwarded-Host` and `X-Forwarded-Prefix` headers. The base is
//! part of the response cache's key, so no caller's host reaches another caller.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::ConnectInfo;
use axum::http::HeaderMap;
use ipnet::IpNet;

/// The base URL of one request: `scheme://host[:port][/prefix]`, no trailing slash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl(pub Arc<str>);

impl BaseUrl {
    /// The base as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// An absolute URL for a path starting with `/`.
    pub fn join(&self, path: &str) -> String {
        format!("{}{path}", self.0)
    }
}

/// How the base is found.
#[derive(Debug, Clone, Default)]
pub struct BasePolicy {
    /// Fixed public base, when configured.
    pub public_url: Option<String>,
    /// Peers whose forwarding headers are believed.
    pub trusted_proxies: Vec<IpNet>,
}

/// Why a `public_url` or `trusted_proxies` entry is refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum BaseUrlError {
    /// Not an absolute http(s) URL.
    #[error("'{0}' is not an absolute http:// or https:// URL without query or fragment")]
    PublicUrl(String),
    /// Not an address or network.
    #[error("'{0}' is not an IP address or network (e.g. 127.0.0.1, 10.0.0.0/8, ::1)")]
    Proxy(String),
}

/// A host (and port) as a client may name it: letters, digits, `.-:[]` only.
fn valid_host(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 255
        && h.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
}

/// A path prefix: unreserved path characters, given a leading `/` if it lacks one and no
/// trailing one; `None` when not one.
fn clean_prefix(p: &str) -> Option<String> {
    let p = p.trim().trim_end_matches('/');
    if p.is_empty() {
        return Some(String::new());
    }
    let p = if p.starts_with('/') {
        p.to_string()
    } else {
        format!("/{p}")
    };
    let ok = !p.contains("//")
        && p.len() <= 200
        && p.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/-._~".contains(&b));
    ok.then_some(p)
}

/// Checks and normalises a configured public URL (trailing slash removed).
pub fn parse_public_url(u: &str) -> Result<String, BaseUrlError> {
    let bad = || BaseUrlError::PublicUrl(u.to_string());
    let (scheme, rest) = u.split_once("://").ok_or_else(bad)?;
    if scheme != "http" && scheme != "https" {
        return Err(bad());
    }
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    if !valid_host(host) || u.contains(['?', '#', ' ']) {
        return Err(bad());
    }
    let prefix = clean_prefix(path).ok_or_else(bad)?;
    Ok(format!("{scheme}://{host}{prefix}"))
}

/// Parses a trusted proxy: an address (`127.0.0.1`, `::1`) or a network (`10.0.0.0/8`).
pub fn parse_proxy(s: &str) -> Result<IpNet, BaseUrlError> {
    let s = s.trim();
    s.parse::<IpNet>()
        .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| BaseUrlError::Proxy(s.to_string()))
}

/// A parameter of the first element of an RFC 7239 `Forwarded` header (`proto`, `host`).
fn forwarded_param(h: &HeaderMap, key: &str) -> Option<String> {
    let first = h.get("forwarded")?.to_str().ok()?.split(',').next()?;
    first.split(';').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(key)
            .then(|| v.trim().trim_matches('"').to_string())
            .filter(|v| !v.is_empty())
    })
}

fn first_value<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

impl BasePolicy {
    /// The base for a request from `peer` with `headers`.
    pub fn base_for(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> BaseUrl {
        if let Some(u) = &self.public_url {
            return BaseUrl(u.as_str().into());
        }
        let trusted = peer.is_some_and(|ip| {
            let ip = match ip {
                IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
                v4 => v4,
            };
            self.trusted_proxies.iter().any(|n| n.contains(&ip))
        });
        // RFC 7239 `Forwarded` first, then the X-Forwarded-* headers.
        let forwarded = |key: &str, name: &str| -> Option<String> {
            if !trusted {
                return None;
            }
            forwarded_param(headers, key).or_else(|| first_value(headers, name).map(String::from))
        };
        let scheme = match forwarded("proto", "x-forwarded-proto") {
            Some(p) if p.eq_ignore_ascii_case("https") => "https",
            _ => "http",
        };
        let host = forwarded("host", "x-forwarded-host")
            .filter(|h| valid_host(h))
            .or_else(|| {
                first_value(headers, "host")
                    .filter(|h| valid_host(h))
                    .map(String::from)
            })
            .unwrap_or_else(|| "localhost".to_string());
        let prefix = forwarded("prefix", "x-forwarded-prefix")
            .and_then(|p| clean_prefix(&p))
            .unwrap_or_default();
        BaseUrl(format!("{scheme}://{host}{prefix}").into())
    }
}

/// The middleware: works out the request's base and stores it as a request extension.
pub async fn attach(
    axum::extract::State(policy): axum::extract::State<Arc<BasePolicy>>,
    mut req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let base = policy.base_for(peer, req.headers());
    req.extensions_mut().insert(base);
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn forwarding_headers_count_only_from_trusted_proxies() {
        let p = BasePolicy {
            public_url: None,
            trusted_proxies: vec![parse_proxy("127.0.0.1").unwrap()],
        };
        let h = headers(&[
            ("host", "127.0.0.1:8080"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "gis.kent.example"),
            ("x-forwarded-prefix", "/hotspots/"),
        ]);
        assert_eq!(
            p.base_for(Some("127.0.0.1".parse().unwrap()), &h).as_str(),
            "https://gis.kent.example/hotspots"
        );
        assert_eq!(
            p.base_for(Some("192.0.2.7".parse().unwrap()), &h).as_str(),
            "http://127.0.0.1:8080"
        );
        assert_eq!(p.base_for(None, &h).as_str(), "http://127.0.0.1:8080");
        // A prefix without its leading slash, and RFC 7239 Forwarded.
        let rfc = headers(&[
            ("host", "127.0.0.1:8080"),
            (
                "forwarded",
                "for=192.0.2.60;proto=https;host=\"maps.kent.example\", for=10.0.0.1",
            ),
            ("x-forwarded-prefix", "vru"),
        ]);
        assert_eq!(
            p.base_for(Some("127.0.0.1".parse().unwrap()), &rfc)
                .as_str(),
            "https://maps.kent.example/vru"
        );
        // IPv4-mapped IPv6 peers match IPv4 networks.
        assert_eq!(
            p.base_for(Some("::ffff:127.0.0.1".parse().unwrap()), &h)
                .as_str(),
            "https://gis.kent.example/hotspots"
        );
    }

    #[test]
    fn hostile_headers_fall_back_and_public_url_wins() {
        let p = BasePolicy {
            public_url: None,
            trusted_proxies: vec![parse_proxy("0.0.0.0/0").unwrap()],
        };
        let h = headers(&[
            ("host", "evil.example/<script>"),
            ("x-forwarded-prefix", "/a\"b"),
        ]);
        assert_eq!(
            p.base_for(Some("10.1.2.3".parse().unwrap()), &h).as_str(),
            "http://localhost"
        );
        let fixed = BasePolicy {
            public_url: Some(parse_public_url("https://maps.kent.example/vru/").unwrap()),
            trusted_proxies: vec![],
        };
        assert_eq!(
            fixed.base_for(None, &headers(&[("host", "x")])).as_str(),
            "https://maps.kent.example/vru"
        );
        assert!(parse_public_url("maps.kent.example").is_err());
        assert!(parse_public_url("ftp://x").is_err());
        assert!(parse_public_url("https://x/a?b=1").is_err());
        assert!(parse_proxy("10.0.0.0/8").is_ok());
        assert!(parse_proxy("::1").is_ok());
        assert!(parse_proxy("localhost").is_err());
    }
}
