//! Which `Origin` a WebSocket upgrade may carry.
//!
//! The threat is cross-site WebSocket hijacking: a page on another site, opened in a browser that holds an
//! operator's client certificate, connects to this service and acts as that operator. A browser always sends
//! the page's origin, and the page cannot forge it. So an upgrade is accepted when it carries
//! - no `Origin` at all (operator tooling, `lpa_client`), or
//! - the service's own origin: host and port equal to the request's `Host` (a `Host` without a port means 443;
//!   an origin without one means its scheme's default). The scheme is not compared: Python's
//!   `websocket-client` sends `http://` plus the `Host` by default (1.2) or `https://` (later versions), and no
//!   other site's page can have this host and port, since this port serves nothing but this API over TLS, or
//! - an origin listed in `websocket.allowed_origins` (compared after normalising case and the default port).
//!
//! Everything else is refused with 403 `ORIGIN_NOT_ALLOWED`.

/// The normalised form `scheme://host:port` of an origin (`https`/`wss` and `http`/`ws` get their default
/// ports), or `None` for anything that is not a plain `scheme://host[:port]` (paths, user info, `null`).
pub fn normalise(origin: &str) -> Option<String> {
    let origin = origin.trim().to_ascii_lowercase();
    let (scheme, rest) = origin.split_once("://")?;
    let default_port = match scheme {
        "https" | "wss" => 443,
        "http" | "ws" => 80,
        _ => return None,
    };
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.is_empty() || authority.contains(['/', '@', '?', '#', ' ']) {
        return None;
    }
    let (host, port) = split_port(authority)?;
    Some(format!(
        "{scheme}://{host}:{}",
        port.unwrap_or(default_port)
    ))
}

/// `host[:port]` (with `[v6]` literals) into host and optional port.
fn split_port(authority: &str) -> Option<(&str, Option<u16>)> {
    if let Some(rest) = authority.strip_prefix('[') {
        let (v6, after) = rest.split_once(']')?;
        let host = &authority[..v6.len() + 2];
        return match after {
            "" => Some((host, None)),
            _ => Some((host, Some(after.strip_prefix(':')?.parse().ok()?))),
        };
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => Some((host, Some(port.parse().ok()?))),
        Some(_) => None,
        None => Some((authority, None)),
    }
}

/// Whether an upgrade with `origin` (if any) to a request whose `Host` is `host` is allowed, given the
/// configured extra origins (already normalised).
pub fn allowed(origin: Option<&str>, host: Option<&str>, configured: &[String]) -> bool {
    let Some(origin) = origin else {
        return true;
    };
    let Some(origin) = normalise(origin) else {
        return false;
    };
    let same_origin = host
        .and_then(|host| normalise(&format!("https://{host}")))
        .is_some_and(|own| authority(&own) == authority(&origin));
    same_origin || configured.contains(&origin)
}

/// `host:port` of a normalised origin.
fn authority(normalised: &str) -> &str {
    normalised
        .split_once("://")
        .map_or(normalised, |(_, authority)| authority)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_origin_and_the_services_own_origin_are_allowed() {
        assert!(allowed(None, Some("host:12443"), &[]));
        assert!(allowed(Some("https://host:12443"), Some("host:12443"), &[]));
        assert!(allowed(Some("HTTPS://Host:12443"), Some("host:12443"), &[]));
        assert!(allowed(Some("https://host"), Some("host:443"), &[]));
        assert!(allowed(
            Some("https://[::1]:12443"),
            Some("[::1]:12443"),
            &[]
        ));
        // websocket-client 1.2's default: http:// plus the Host.
        assert!(allowed(Some("http://host:12443"), Some("host:12443"), &[]));
    }

    #[test]
    fn other_sites_other_ports_plain_http_and_junk_are_refused() {
        for origin in [
            "https://evil.example:12443",
            "https://host:12444",
            "http://host",
            "https://host:12443.evil.example",
            "https://host:12443/path",
            "https://user@host:12443",
            "null",
            "",
        ] {
            assert!(
                !allowed(Some(origin), Some("host:12443"), &[]),
                "{origin} was allowed"
            );
        }
        // Without a Host there is no own origin to compare with.
        assert!(!allowed(Some("https://host:12443"), None, &[]));
    }

    #[test]
    fn configured_origins_are_allowed_after_normalising() {
        let configured = vec![normalise("https://Console.example").unwrap()];
        assert!(allowed(
            Some("https://console.example:443"),
            Some("host:12443"),
            &configured
        ));
        assert!(!allowed(
            Some("https://console.example:8443"),
            Some("host:12443"),
            &configured
        ));
    }
}
