//! The peer-address check that runs on every accepted TCP connection *before* the TLS handshake.
//!
//! Deny by default: an empty list allows nobody, and so does a whitelist file that could not be read or
//! parsed at start (the caller installs an empty list and logs why; a reload that fails keeps the previous list
//! instead). The list sits behind an [`ArcSwap`] so [`crate::reload`] replaces it atomically while connections
//! are being accepted; readers never lock.

use arc_swap::ArcSwap;
use ipnet::IpNet;
use std::net::IpAddr;
use std::sync::Arc;

/// The allowed networks.
#[derive(Debug)]
pub struct Whitelist {
    nets: ArcSwap<Vec<IpNet>>,
}

impl Whitelist {
    /// A whitelist allowing exactly `nets`.
    pub fn new(nets: Vec<IpNet>) -> Self {
        Whitelist {
            nets: ArcSwap::from_pointee(nets),
        }
    }

    /// A whitelist that allows nobody: what an unreadable or invalid whitelist file means.
    pub fn deny_all() -> Self {
        Self::new(Vec::new())
    }

    /// Whether `peer` may connect. IPv4-mapped IPv6 peers (`::ffff:a.b.c.d`, seen on dual-stack sockets) are
    /// compared as the IPv4 address they are, so `10.0.0.0/8` covers them and an IPv6 entry cannot.
    pub fn allows(&self, peer: IpAddr) -> bool {
        let peer = peer.to_canonical();
        self.nets.load().iter().any(|net| net.contains(&peer))
    }

    /// Replaces the list atomically (used by [`crate::reload`]).
    pub fn replace(&self, nets: Vec<IpNet>) {
        self.nets.store(Arc::new(nets));
    }

    /// Number of entries (for the start-up log line).
    pub fn len(&self) -> usize {
        self.nets.load().len()
    }

    /// True when nobody is allowed.
    pub fn is_empty(&self) -> bool {
        self.nets.load().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wl(entries: &[&str]) -> Whitelist {
        Whitelist::new(entries.iter().map(|e| e.parse().unwrap()).collect())
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn single_ipv4_address_matches_only_itself() {
        let w = wl(&["127.0.0.1/32"]);
        assert!(w.allows(ip("127.0.0.1")));
        assert!(!w.allows(ip("127.0.0.2")));
    }

    #[test]
    fn single_ipv6_address_matches_only_itself() {
        let w = wl(&["::1/128"]);
        assert!(w.allows(ip("::1")));
        assert!(!w.allows(ip("::2")));
        assert!(!w.allows(ip("127.0.0.1")));
    }

    #[test]
    fn cidrs_cover_their_ranges() {
        let w = wl(&["10.0.0.0/8", "fd00::/8"]);
        assert!(w.allows(ip("10.255.3.4")));
        assert!(!w.allows(ip("11.0.0.1")));
        assert!(w.allows(ip("fd12:3456::1")));
        assert!(!w.allows(ip("fe80::1")));
    }

    #[test]
    fn ipv4_mapped_peer_is_checked_as_ipv4() {
        let w = wl(&["10.0.0.0/8"]);
        assert!(w.allows(ip("::ffff:10.1.2.3")));
        assert!(!w.allows(ip("::ffff:192.168.1.1")));
        // A mapped peer must not slip through an IPv6 rule covering the mapped range.
        let v6_only = wl(&["::ffff:0:0/96"]);
        assert!(!v6_only.allows(ip("::ffff:10.1.2.3")));
    }

    #[test]
    fn empty_whitelist_denies_everyone() {
        let w = Whitelist::deny_all();
        assert!(w.is_empty());
        assert!(!w.allows(ip("127.0.0.1")));
        assert!(!w.allows(ip("::1")));
    }

    #[test]
    fn replace_takes_effect_for_the_next_check() {
        let w = wl(&["127.0.0.1/32"]);
        w.replace(vec![]);
        assert!(!w.allows(ip("127.0.0.1")));
        assert_eq!(w.len(), 0);
    }
}
