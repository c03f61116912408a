//! What the board prints at start: where to open it, and the exact command learners run.
//!
//! An instructor should not have to work out their own address in front of the room. When the
//! board listens on every interface (`--addr 0.0.0.0:7878`), it finds the addresses that
//! learners are likely to reach by asking the operating system which local address it would
//! use to reach a few network ranges (a UDP "connect" sends nothing; it only picks a route).
//! That works with the wifi up but no internet, and needs no crate.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};

/// Addresses that other machines may reach the board at, for a board listening on `addr`.
/// Empty when it listens on loopback only.
pub fn reachable(addr: SocketAddr) -> Vec<IpAddr> {
    let ip = addr.ip();
    if ip.is_loopback() {
        return Vec::new();
    }
    if !ip.is_unspecified() {
        return vec![ip];
    }
    // One address from each private range and one public documentation address: the route
    // the system would pick for each gives the local address on that network.
    let probes = [
        Ipv4Addr::new(192, 0, 2, 1),
        Ipv4Addr::new(10, 255, 255, 255),
        Ipv4Addr::new(172, 31, 255, 255),
        Ipv4Addr::new(192, 168, 255, 255),
    ];
    let mut found = Vec::new();
    for probe in probes {
        if let Some(local) = local_address_towards(IpAddr::V4(probe))
            && !local.is_loopback()
            && !local.is_unspecified()
            && !found.contains(&local)
        {
            found.push(local);
        }
    }
    found
}

fn local_address_towards(probe: IpAddr) -> Option<IpAddr> {
    let socket = UdpSocket::bind(("0.0.0.0", 0)).ok()?;
    socket.connect((probe, 9)).ok()?;
    Some(socket.local_addr().ok()?.ip())
}

/// `http://HOST:PORT`, with brackets for an IPv6 host.
pub fn base_url(ip: IpAddr, port: u16) -> String {
    format!("http://{}", SocketAddr::new(ip, port))
}

/// The command a learner runs to join, for the board at `url`.
pub fn join_command(url: &str, token: &str) -> String {
    format!("cargo workbook class join {url} --token {token} --name \"YOUR NAME\"")
}

/// The whole announcement, printed once the board listens on `addr`.
pub fn text(addr: SocketAddr, token: &str, jaeger_ui_url: Option<&str>) -> String {
    let port = addr.port();
    let local_ip = if addr.ip().is_unspecified() || addr.ip().is_loopback() {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        addr.ip()
    };
    let mut text = format!(
        "Open the board on this machine (or the projector):\n  {}/#token={token}\n\n",
        base_url(local_ip, port)
    );
    let reachable = reachable(addr);
    if reachable.is_empty() {
        text.push_str(&format!(
            "The board listens on {addr}, which only this machine can reach. To open it to the \
             room, start it with --addr 0.0.0.0:{port}.\n\
             A learner on this machine joins with:\n  {}\n",
            join_command(&base_url(local_ip, port), token)
        ));
    } else {
        text.push_str("Learners join with (on the projector, or in the room's chat):\n");
        for ip in &reachable {
            text.push_str(&format!(
                "  {}\n",
                join_command(&base_url(*ip, port), token)
            ));
        }
        if reachable.len() > 1 {
            text.push_str("(one line per network this machine is on: give the room's.)\n");
        }
    }
    match jaeger_ui_url {
        Some(url) => text.push_str(&format!(
            "\nEach name links to that learner's traces in {url}.\n"
        )),
        None => text.push_str(
            "\nWith a shared Jaeger (docker-compose.class.yml), add --jaeger-ui-url \
             http://HOST:16686 and each name links to that learner's traces.\n",
        ),
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loopback_board_says_how_to_open_it_to_the_room() {
        let text = text("127.0.0.1:7878".parse().unwrap(), "tok", None);
        assert!(text.contains("http://127.0.0.1:7878/#token=tok"), "{text}");
        assert!(text.contains("--addr 0.0.0.0:7878"), "{text}");
        assert!(text.contains(
            "cargo workbook class join http://127.0.0.1:7878 --token tok --name \"YOUR NAME\""
        ));
    }

    #[test]
    fn a_board_on_one_address_gives_that_address() {
        let addr: SocketAddr = "192.168.1.20:7878".parse().unwrap();
        assert_eq!(reachable(addr), vec![addr.ip()]);
        let text = text(addr, "tok", Some("http://192.168.1.20:16686"));
        assert!(
            text.contains("join http://192.168.1.20:7878 --token tok"),
            "{text}"
        );
        assert!(
            text.contains("traces in http://192.168.1.20:16686"),
            "{text}"
        );
    }

    #[test]
    fn ipv6_hosts_get_brackets() {
        assert_eq!(base_url("::1".parse().unwrap(), 7878), "http://[::1]:7878");
    }
}
