//! Who may call: a request must name this server in its `Host` header (a page on another site
//! that resolves its own name to 127.0.0.1, DNS rebinding, is refused), and a request that
//! changes anything (any method but GET and HEAD) from a browser must come from these pages'
//! own origin (a cross-site form or script is refused). And how much: a body declared larger
//! than the limit is refused before any of it is read.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use super::http::{ApiError, MAX_BODY_BYTES};
use super::AppState;

/// Which names a request's `Host` may give, for a server bound to one address.
///
/// What the check protects against is DNS rebinding: a page on another site points its own
/// name at this machine, so the browser sends that name as `Host`. So:
/// - bound to loopback (the default): the loopback names, `localhost`, `127.0.0.1` and
///   `[::1]`, and the names given with `--allow-host`;
/// - bound to one address of the network: that address, and the names given with
///   `--allow-host`;
/// - bound to every address (`0.0.0.0` or `::`): any address written as numbers, `localhost`,
///   this machine's own name, and the names given with `--allow-host`.
///
/// A name that is an address written as numbers cannot be an attacker's page's name. The port
/// must be the server's; without one, a `Host` means port 80 (browsers leave the default port
/// out).
#[derive(Debug, Clone)]
pub struct AllowedHosts {
    bound: SocketAddr,
    names: Vec<String>,
}

impl AllowedHosts {
    /// The rule for a server bound to `bound`, answering also to `extra` names and, when it
    /// listens on every address, to `machine` (this machine's host name).
    pub fn new(bound: SocketAddr, extra: &[String], machine: Option<&str>) -> Self {
        let mut names: Vec<String> = extra.iter().map(|n| n.to_ascii_lowercase()).collect();
        if bound.ip().is_unspecified() {
            names.push("localhost".into());
            names.extend(machine.map(str::to_ascii_lowercase));
        }
        AllowedHosts { bound, names }
    }

    /// The server's address as a browser would write it: the loopback name for loopback, the
    /// address itself otherwise, with the port unless it is 80.
    pub fn url(&self) -> String {
        let name = match self.bound.ip() {
            ip if ip.is_loopback() || ip.is_unspecified() => "127.0.0.1".to_string(),
            IpAddr::V6(ip) => format!("[{ip}]"),
            IpAddr::V4(ip) => ip.to_string(),
        };
        match self.bound.port() {
            80 => format!("http://{name}/"),
            port => format!("http://{name}:{port}/"),
        }
    }

    /// True when `host` (a `Host` header's value) names this server.
    pub fn allows(&self, host: &str) -> bool {
        let Some((name, port)) = split_host(host) else {
            return false;
        };
        if port != self.bound.port() {
            return false;
        }
        let name = name.to_ascii_lowercase();
        let address = name
            .strip_prefix('[')
            .and_then(|n| n.strip_suffix(']'))
            .map_or_else(
                || name.parse::<std::net::Ipv4Addr>().map(IpAddr::V4).ok(),
                |n| n.parse::<std::net::Ipv6Addr>().map(IpAddr::V6).ok(),
            );
        let ip = self.bound.ip();
        let ours = if ip.is_loopback() {
            name == "localhost" || address.is_some_and(|a| a.is_loopback())
        } else if ip.is_unspecified() {
            address.is_some()
        } else {
            address == Some(ip)
        };
        ours || self.names.contains(&name)
    }

    /// True when `origin` (an `Origin` header's value) is the page origin of `host`, the
    /// request's own (already allowed) `Host`.
    pub fn same_origin(&self, origin: &str, host: &str) -> bool {
        let Some(origin_host) = origin.strip_prefix("http://") else {
            return false;
        };
        match (split_host(origin_host), split_host(host)) {
            (Some((a, pa)), Some((b, pb))) => a.eq_ignore_ascii_case(b) && pa == pb,
            _ => false,
        }
    }
}

/// True when `name` could be a host name (for `--allow-host`).
pub fn is_host_name(name: &str) -> bool {
    !name.contains(':') && split_host(name).is_some()
}

/// A `Host` value's name and port (80 when none is written), or `None` when it is not one.
fn split_host(host: &str) -> Option<(&str, u16)> {
    let (name, port) = match host.rfind(':') {
        // `[::1]` alone: the colon is inside the brackets.
        Some(i) if !host[i..].contains(']') => (&host[..i], host[i + 1..].parse().ok()?),
        _ => (host, 80),
    };
    let valid = !name.is_empty()
        && name.len() <= 255
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':' | '[' | ']'));
    valid.then_some((name, port))
}

/// Refuses requests for another host and cross-origin requests that change state.
pub async fn check_host_and_origin(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if !state.hosts.allows(host) {
        return Err(ApiError::new(
            StatusCode::MISDIRECTED_REQUEST,
            "this server answers only to its own address (the Host header names another; serve --allow-host NAME adds a name)",
        ));
    }
    let changes = !matches!(*request.method(), Method::GET | Method::HEAD);
    if changes {
        if let Some(origin) = request.headers().get(header::ORIGIN) {
            let origin = origin.to_str().unwrap_or("");
            if !state.hosts.same_origin(origin, host) {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "cross-origin request refused: only these pages may change anything",
                ));
            }
        }
    }
    Ok(next.run(request).await)
}

/// Refuses a request whose `Content-Length` is over [`MAX_BODY_BYTES`] at once, before reading
/// its body, so the client hears why instead of uploading megabytes for nothing (a body sent
/// without a length is cut off at the limit by the router's `DefaultBodyLimit`).
pub async fn check_declared_size(request: Request, next: Next) -> Result<Response, ApiError> {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(bytes) = declared.filter(|&n| n > MAX_BODY_BYTES as u64) {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the request body is {bytes} bytes; the limit is {MAX_BODY_BYTES}"),
        ));
    }
    Ok(next.run(request).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(bound: &str) -> AllowedHosts {
        AllowedHosts::new(bound.parse().unwrap(), &["pages.lan".into()], Some("mybox"))
    }

    #[test]
    fn each_bind_address_answers_to_its_own_names_and_no_others() {
        // (bound, host, allowed)
        let cases = [
            ("127.0.0.1:8000", "127.0.0.1:8000", true),
            ("127.0.0.1:8000", "localhost:8000", true),
            ("127.0.0.1:8000", "LOCALHOST:8000", true),
            ("127.0.0.1:8000", "[::1]:8000", true),
            ("127.0.0.1:8000", "evil.example:8000", false),
            ("127.0.0.1:8000", "127.0.0.1:8001", false),
            ("127.0.0.1:8000", "127.0.0.1", false),
            ("127.0.0.1:8000", "pages.lan:8000", true),
            // Port 80: browsers leave it out.
            ("127.0.0.1:80", "localhost", true),
            ("127.0.0.1:80", "127.0.0.1", true),
            ("127.0.0.1:80", "localhost:80", true),
            ("127.0.0.1:80", "evil.example", false),
            // Every address: any address in numbers, localhost, the machine's name.
            ("0.0.0.0:8000", "127.0.0.1:8000", true),
            ("0.0.0.0:8000", "localhost:8000", true),
            ("0.0.0.0:8000", "192.168.1.20:8000", true),
            ("0.0.0.0:8000", "[fe80::1]:8000", true),
            ("0.0.0.0:8000", "mybox:8000", true),
            ("0.0.0.0:8000", "pages.lan:8000", true),
            ("0.0.0.0:8000", "0.0.0.0:8000", true),
            ("0.0.0.0:8000", "evil.example:8000", false),
            ("0.0.0.0:8000", "192.168.1.20.evil.example:8000", false),
            ("[::]:8000", "[::1]:8000", true),
            ("[::]:8000", "localhost:8000", true),
            ("[::]:8000", "evil.example:8000", false),
            ("0.0.0.0:80", "192.168.1.20", true),
            // One address of the network.
            ("192.168.1.20:8000", "192.168.1.20:8000", true),
            ("192.168.1.20:8000", "pages.lan:8000", true),
            ("192.168.1.20:8000", "localhost:8000", false),
            ("192.168.1.20:8000", "192.168.1.21:8000", false),
            ("192.168.1.20:8000", "evil.example:8000", false),
            // Not host names at all.
            ("0.0.0.0:8000", "", false),
            ("0.0.0.0:8000", "a b:8000", false),
            ("0.0.0.0:8000", "localhost:99999", false),
            ("0.0.0.0:8000", "localhost:", false),
        ];
        for (bound, host, allowed) in cases {
            assert_eq!(rule(bound).allows(host), allowed, "{bound} {host}");
        }
    }

    #[test]
    fn an_origin_must_be_the_requests_own_host() {
        let r = rule("0.0.0.0:80");
        assert!(r.same_origin("http://192.168.1.20", "192.168.1.20"));
        assert!(r.same_origin("http://192.168.1.20", "192.168.1.20:80"));
        assert!(r.same_origin("http://localhost:80", "LOCALHOST"));
        assert!(!r.same_origin("http://evil.example", "192.168.1.20"));
        assert!(!r.same_origin("https://192.168.1.20", "192.168.1.20"));
        assert!(!r.same_origin("null", "192.168.1.20"));
        assert_eq!(rule("127.0.0.1:80").url(), "http://127.0.0.1/");
        assert_eq!(rule("0.0.0.0:8000").url(), "http://127.0.0.1:8000/");
        assert_eq!(rule("[fe80::1]:8000").url(), "http://[fe80::1]:8000/");
    }
}
