//! What the board prints at start: where to open it, and the exact command learners run.
//!
//! An instructor should not have to work out their own address in front of the room. When the
//! board listens on every interface (`--addr 0.0.0.0:7878`), it lists every address this
//! machine has, each with its interface's name and what that name usually means (a Docker
//! bridge, a VPN, WSL's virtual switch), because on such a laptop the first address is often
//! not the one the room can reach. The one the system would use to reach other networks comes
//! first: that is the wifi's or the cable's, most of the time.
//!
//! The addresses come from the system's own tool (`ip -o addr` on Linux, `ifconfig` on macOS
//! and the BSDs), read as text: no crate, and nothing runs as root. When neither tool is there,
//! the board still finds the routed address by asking the operating system which local address
//! it would use to reach a few network ranges (a UDP "connect" sends nothing; it only picks a
//! route).

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket},
    process::Command,
};

/// One address the board may be reached at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub ip: IpAddr,
    /// The interface's name (`wlan0`, `en0`, `docker0`), when the system said it.
    pub interface: Option<String>,
    /// The address the system routes other networks through.
    pub routed: bool,
}

impl Address {
    /// What the interface probably is, for the instructor choosing a line.
    pub fn note(&self) -> &'static str {
        let name = self.interface.as_deref().unwrap_or_default();
        let starts = |prefixes: &[&str]| prefixes.iter().any(|p| name.starts_with(p));
        if starts(&["docker", "br-", "veth", "virbr", "cni", "podman"]) {
            "a container bridge: the room cannot reach it"
        } else if starts(&[
            "tun",
            "utun",
            "wg",
            "tailscale",
            "zt",
            "ppp",
            "ipsec",
            "nordlynx",
        ]) {
            "a VPN: the room cannot reach it"
        } else if name.starts_with("vEthernet") || name.starts_with("eth0") && is_wsl() {
            "WSL's virtual network: the room cannot reach it (see Troubleshooting)"
        } else if self.routed {
            "the route to other networks: most likely the room's"
        } else {
            ""
        }
    }
}

/// Whether this runs inside WSL, whose `eth0` is a virtual switch behind Windows.
fn is_wsl() -> bool {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .is_ok_and(|release| release.to_lowercase().contains("microsoft"))
}

/// Addresses that other machines may reach the board at, for a board listening on `addr`.
/// Empty when it listens on loopback only.
pub fn reachable(addr: SocketAddr) -> Vec<Address> {
    let ip = addr.ip();
    if ip.is_loopback() {
        return Vec::new();
    }
    if !ip.is_unspecified() {
        return vec![Address {
            ip,
            interface: None,
            routed: false,
        }];
    }
    let routed = routed_addresses();
    let mut found: Vec<Address> = routed
        .iter()
        .map(|&ip| Address {
            ip,
            interface: None,
            routed: true,
        })
        .collect();
    for (interface, ip) in interface_addresses() {
        if ip.is_loopback() || ip.is_unspecified() || !ip.is_ipv4() {
            continue;
        }
        match found.iter_mut().find(|known| known.ip == ip) {
            Some(known) => known.interface = Some(interface),
            None => found.push(Address {
                ip,
                interface: Some(interface),
                routed: false,
            }),
        }
    }
    found
}

/// The local addresses the system would use to reach a few network ranges: one address from
/// each private range and one public documentation address.
fn routed_addresses() -> Vec<IpAddr> {
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

/// Every interface's addresses, from `ip -o addr` or else `ifconfig`; empty when neither runs.
fn interface_addresses() -> Vec<(String, IpAddr)> {
    let output = |program: &str, args: &[&str]| {
        Command::new(program)
            .args(args)
            .output()
            .ok()
            .filter(|output| output.status.success())
            .map(|output| String::from_utf8_lossy(&output.stdout).into_owned())
    };
    if let Some(text) = output("ip", &["-o", "addr", "show"]) {
        parse_ip_addr(&text)
    } else if let Some(text) = output("ifconfig", &[]) {
        parse_ifconfig(&text)
    } else {
        Vec::new()
    }
}

/// `2: wlan0    inet 192.168.1.20/24 brd … scope global wlan0`: one line per address.
fn parse_ip_addr(text: &str) -> Vec<(String, IpAddr)> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let interface = words.nth(1)?.trim_end_matches(':');
            let mut words = words.skip_while(|word| !matches!(*word, "inet" | "inet6"));
            words.next()?;
            let ip = words.next()?.split('/').next()?.parse().ok()?;
            Some((interface.to_string(), ip))
        })
        .collect()
}

/// `en0: flags=…` starts an interface; `\tinet 192.168.1.20 netmask …` (or Linux's older
/// `inet addr:192.168.1.20`) is one of its addresses.
fn parse_ifconfig(text: &str) -> Vec<(String, IpAddr)> {
    let mut interface = String::new();
    let mut found = Vec::new();
    for line in text.lines() {
        if !line.starts_with(char::is_whitespace) {
            interface = line
                .split([':', ' '])
                .next()
                .unwrap_or_default()
                .to_string();
            continue;
        }
        let mut words = line.split_whitespace();
        if words.next() != Some("inet") {
            continue;
        }
        let Some(word) = words.next() else { continue };
        if let Ok(ip) = word.trim_start_matches("addr:").parse() {
            found.push((interface.clone(), ip));
        }
    }
    found
}

/// `http://HOST:PORT`, with brackets for an IPv6 host.
pub fn base_url(ip: IpAddr, port: u16) -> String {
    format!("http://{}", SocketAddr::new(ip, port))
}

/// The command a learner runs to join, for the board at `url`.
pub fn join_command(url: &str, token: &str) -> String {
    format!("cargo workbook class join {url} --token {token} --name \"YOUR NAME\"")
}

/// The join commands for a board listening on `addr`: one per address, the likely one first.
pub fn join_lines(addr: SocketAddr, token: &str) -> Vec<String> {
    let port = addr.port();
    let reachable = reachable(addr);
    if reachable.is_empty() {
        return vec![join_command(&base_url(local_ip(addr), port), token)];
    }
    reachable
        .iter()
        .map(|address| join_command(&base_url(address.ip, port), token))
        .collect()
}

/// The address this machine itself opens the board at.
fn local_ip(addr: SocketAddr) -> IpAddr {
    if addr.ip().is_unspecified() || addr.ip().is_loopback() {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        addr.ip()
    }
}

/// The whole announcement, printed once the board listens on `addr`. `instructor` is the token
/// that merges and removes rows; only the instructor's own link carries it.
pub fn text(
    addr: SocketAddr,
    token: &str,
    instructor: Option<&str>,
    jaeger_ui_url: Option<&str>,
) -> String {
    let port = addr.port();
    let local = base_url(local_ip(addr), port);
    let mut text = match instructor {
        Some(key) => format!(
            "Open the board on this machine (your link: it can also merge and remove rows):\n  \
             {local}/#token={token}&instructor={key}\n\
             On the projector, or for the learners, without that power:\n  {local}/#token={token}\n\n"
        ),
        None => format!(
            "Open the board on this machine (or the projector):\n  {local}/#token={token}\n\n"
        ),
    };
    let reachable = reachable(addr);
    if reachable.is_empty() {
        text.push_str(&format!(
            "The board listens on {addr}, which only this machine can reach. To open it to the \
             room, start it with --addr 0.0.0.0:{port}.\n\
             A learner on this machine joins with:\n  {}\n",
            join_command(&local, token)
        ));
    } else {
        text.push_str("Learners join with (on the projector, or in the room's chat):\n");
        for address in &reachable {
            text.push_str(&format!(
                "  {}\n",
                join_command(&base_url(address.ip, port), token)
            ));
            let note = address.note();
            match (&address.interface, note.is_empty()) {
                (Some(interface), false) => {
                    text.push_str(&format!("      ({interface}: {note})\n"))
                }
                (Some(interface), true) => text.push_str(&format!("      ({interface})\n")),
                (None, false) => text.push_str(&format!("      ({note})\n")),
                (None, true) => {}
            }
        }
        if reachable.len() > 1 {
            text.push_str(
                "One line per address this machine has: give the room the one on the room's \
                 network (ask a learner to open http://ADDRESS:PORT/ in a browser to be sure).\n",
            );
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
        let text = text("127.0.0.1:7878".parse().unwrap(), "tok", None, None);
        assert!(text.contains("http://127.0.0.1:7878/#token=tok"), "{text}");
        assert!(text.contains("--addr 0.0.0.0:7878"), "{text}");
        assert!(text.contains(
            "cargo workbook class join http://127.0.0.1:7878 --token tok --name \"YOUR NAME\""
        ));
    }

    #[test]
    fn a_board_on_one_address_gives_that_address() {
        let addr: SocketAddr = "192.168.1.20:7878".parse().unwrap();
        assert_eq!(reachable(addr)[0].ip, addr.ip());
        let text = text(addr, "tok", Some("key"), Some("http://192.168.1.20:16686"));
        assert!(
            text.contains("join http://192.168.1.20:7878 --token tok"),
            "{text}"
        );
        assert!(text.contains("/#token=tok&instructor=key"), "{text}");
        assert!(
            text.contains("traces in http://192.168.1.20:16686"),
            "{text}"
        );
    }

    #[test]
    fn every_interface_address_is_read() {
        let ip = "1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever\n\
                  2: wlan0    inet 192.168.1.20/24 brd 192.168.1.255 scope global wlan0\n\
                  3: docker0    inet 172.17.0.1/16 brd 172.17.255.255 scope global docker0\n\
                  2: wlan0    inet6 fe80::1/64 scope link";
        let found = parse_ip_addr(ip);
        assert_eq!(found.len(), 4);
        assert_eq!(
            found[1],
            ("wlan0".to_string(), "192.168.1.20".parse().unwrap())
        );
        let mac = "en0: flags=8863<UP> mtu 1500\n\tinet6 fe80::1%en0 prefixlen 64\n\
                   \tinet 192.168.1.21 netmask 0xffffff00 broadcast 192.168.1.255\n\
                   utun3: flags=8051<UP> mtu 1380\n\tinet 10.8.0.2 --> 10.8.0.1 netmask 0xff";
        assert_eq!(
            parse_ifconfig(mac),
            [
                ("en0".to_string(), "192.168.1.21".parse().unwrap()),
                ("utun3".to_string(), "10.8.0.2".parse().unwrap())
            ]
        );
    }

    #[test]
    fn bridges_and_vpns_are_named_as_such() {
        let address = |interface: &str, routed| Address {
            ip: "10.0.0.2".parse().unwrap(),
            interface: Some(interface.to_string()),
            routed,
        };
        assert!(
            address("docker0", false)
                .note()
                .contains("container bridge")
        );
        assert!(address("utun3", true).note().contains("VPN"));
        assert!(
            address("wlp2s0", true)
                .note()
                .contains("most likely the room's")
        );
        assert_eq!(address("wlp2s0", false).note(), "");
    }

    #[test]
    fn ipv6_hosts_get_brackets() {
        assert_eq!(base_url("::1".parse().unwrap(), 7878), "http://[::1]:7878");
    }
}
