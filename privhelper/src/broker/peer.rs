//! Who may talk to the broker: `SO_PEERCRED` of the connecting process (DESIGN invariant 5).

use nix::unistd::Uid;

/// The admission rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerPolicy {
    /// The frontend's uid, always admitted.
    pub frontend_uid: Uid,
    /// Tests only: admit uid 0 too.
    pub allow_root: bool,
}

impl PeerPolicy {
    /// Whether a peer with `uid` is served.
    pub fn admits(&self, uid: u32) -> bool {
        uid == self.frontend_uid.as_raw() || (self.allow_root && uid == 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_frontend_and_optionally_root_are_admitted() {
        let p = PeerPolicy {
            frontend_uid: Uid::from_raw(61001),
            allow_root: false,
        };
        assert!(p.admits(61001));
        assert!(!p.admits(0));
        assert!(!p.admits(61002));
        let p = PeerPolicy {
            allow_root: true,
            ..p
        };
        assert!(p.admits(0));
        assert!(!p.admits(61003));
    }
}
