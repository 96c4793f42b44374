//! Ports and addresses of the frontend's listener.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};

use crate::error::{IoContext, Result};

/// A port that was free a moment ago: bind port 0 on `bind`, read the port, release it.
pub(super) fn free_port(bind: IpAddr) -> Result<u16> {
    let listener = TcpListener::bind(SocketAddr::new(bind, 0))
        .context(|| format!("bind {bind}:0 to find a free port"))?;
    let port = listener
        .local_addr()
        .context(|| "read the picked port".to_owned())?
        .port();
    Ok(port)
}

/// Where a client reaches a listener bound to `bind`: loopback of the same family for an unspecified address.
pub(super) fn connect_addr(bind: IpAddr) -> IpAddr {
    match bind {
        IpAddr::V4(a) if a.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(a) if a.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unspecified_bind_is_reached_over_loopback() {
        assert_eq!(
            connect_addr("0.0.0.0".parse().unwrap()),
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        );
        assert_eq!(
            connect_addr("::".parse().unwrap()),
            IpAddr::V6(Ipv6Addr::LOCALHOST)
        );
        assert_eq!(
            connect_addr("10.1.2.3".parse().unwrap()),
            "10.1.2.3".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn free_port_is_nonzero_and_bindable() {
        let port = free_port(IpAddr::V4(Ipv4Addr::LOCALHOST)).unwrap();
        assert_ne!(port, 0);
        TcpListener::bind((Ipv4Addr::LOCALHOST, port)).unwrap();
    }
}
