//! Which MAC address stands behind a client IP: the portal always derives a guest's device from
//! the network, never from what the guest sends. Parsers for `/proc/net/arp` and dnsmasq's lease
//! file are pure; `SystemNeighbours` only reads the files. `LoopbackNeighbours` serves the demo.

use std::net::{IpAddr, Ipv6Addr};
use std::path::PathBuf;
use std::sync::Arc;

use crate::adapters::sys::Runner;
use crate::core::model::Mac;
use crate::core::time::Timestamp;

pub trait Neighbours: Send + Sync {
    /// The MAC behind a client address (IPv4 or IPv6).
    fn mac_for(&self, ip: IpAddr) -> Option<Mac>;
    /// The router's IPv6 neighbour table on the guest device (global addresses with a
    /// link-layer address), as evidence for `core::ipv6`.
    fn ipv6_table(&self) -> Vec<(Ipv6Addr, Mac)> {
        Vec::new()
    }
    /// The guest network's on-link IPv6 prefixes: the router's own global addresses on the
    /// guest device.
    fn guest_prefixes(&self) -> Vec<(Ipv6Addr, u8)> {
        Vec::new()
    }
    /// Every IPv4 address the neighbour table shows for a MAC (more than one means a clone).
    fn ipv4_of(&self, _mac: Mac) -> Vec<IpAddr> {
        Vec::new()
    }
    /// The MAC the DHCP server leased an address to (evidence of a move a guest cannot make
    /// with ARP alone).
    fn leased_to(&self, _ip: IpAddr) -> Option<Mac> {
        None
    }
    /// The DHCP lease of a MAC, for the marks of a free trial (`core::trial`).
    fn lease_of(&self, _mac: Mac) -> Option<Lease> {
        None
    }
    /// The names devices gave in their DHCP requests, for the owner page (guest-chosen text:
    /// escape it). A list, looked up by MAC: it is short and read once per page.
    fn hostnames(&self) -> Vec<(Mac, String)> {
        Vec::new()
    }
}

/// Parses `ip -6 neigh show` lines: `fd77::10 dev br-lan lladdr aa:bb:cc:dd:ee:01 REACHABLE`.
/// Entries without a link-layer address (INCOMPLETE, FAILED) and link-local addresses are
/// skipped: only addresses that can be forwarded matter.
pub(crate) fn parse_ip_neigh(text: &str) -> Vec<(Ipv6Addr, Mac)> {
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let addr: Ipv6Addr = fields.first()?.parse().ok()?;
            let idx = fields.iter().position(|f| *f == "lladdr")?;
            let mac: Mac = fields.get(idx + 1)?.parse().ok()?;
            let state = fields.last().copied().unwrap_or("");
            let link_local = addr.segments()[0] & 0xffc0 == 0xfe80;
            let usable =
                !matches!(state, "FAILED" | "INCOMPLETE") && !link_local && !addr.is_multicast();
            usable.then_some((addr, mac))
        })
        .collect()
}

/// Parses `ip -6 -o addr show dev br-lan scope global` lines: `5: br-lan    inet6 fd77::1/64
/// scope global ...`, to (address, prefix length).
pub(crate) fn parse_ip_addr(text: &str) -> Vec<(Ipv6Addr, u8)> {
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let idx = fields.iter().position(|f| *f == "inet6")?;
            let (addr, len) = fields.get(idx + 1)?.split_once('/')?;
            let len: u8 = len.parse().ok().filter(|l| *l <= 128)?;
            Some((addr.parse().ok()?, len))
        })
        .collect()
}

/// Parses `/proc/net/arp`: `IP address  HW type  Flags  HW address  Mask  Device`. Incomplete
/// entries (flags 0x0) and all-zero MACs are skipped.
pub(crate) fn parse_proc_arp(text: &str) -> Vec<(IpAddr, Mac)> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let ip: IpAddr = fields.first()?.parse().ok()?;
            let flags = u32::from_str_radix(fields.get(2)?.trim_start_matches("0x"), 16).ok()?;
            let mac: Mac = fields.get(3)?.parse().ok()?;
            (flags & 0x2 != 0 && !mac.is_zero()).then_some((ip, mac))
        })
        .collect()
}

/// One line of dnsmasq's lease file: `<expiry> <mac> <ip> <hostname|*> <client-id|*>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    /// 0 means an infinite lease.
    pub expires: Timestamp,
    pub mac: Mac,
    pub ip: IpAddr,
    pub hostname: Option<String>,
    /// The DHCP client identifier (option 61), as dnsmasq writes it.
    pub client_id: Option<String>,
}

/// Parses `/tmp/dhcp.leases`. DHCPv6 lines (after `duid`) carry no MAC and are skipped; bad
/// lines are skipped rather than failing the whole file.
pub(crate) fn parse_leases(text: &str) -> Vec<Lease> {
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() < 4 {
                return None;
            }
            Some(Lease {
                expires: fields[0].parse().ok()?,
                mac: fields[1].parse().ok()?,
                ip: fields[2].parse().ok()?,
                hostname: Some(fields[3]).filter(|h| *h != "*").map(str::to_string),
                client_id: fields.get(4).filter(|c| **c != "*").map(|c| c.to_string()),
            })
        })
        .collect()
}

/// Reads the kernel's ARP table and IPv6 neighbour table (through `ip -6 neigh`), then
/// dnsmasq's leases.
pub(crate) struct SystemNeighbours {
    pub arp_path: PathBuf,
    pub leases_path: PathBuf,
    pub device: String,
    pub runner: Arc<dyn Runner>,
}

impl SystemNeighbours {
    fn neigh6(&self) -> Vec<(Ipv6Addr, Mac)> {
        match self
            .runner
            .run("ip", &["-6", "neigh", "show", "dev", &self.device], None)
        {
            Ok(out) if out.success() => parse_ip_neigh(&out.stdout),
            Ok(out) => {
                log::debug!("ip -6 neigh: {}", out.stderr.trim());
                Vec::new()
            }
            Err(e) => {
                log::debug!("ip -6 neigh: {e}");
                Vec::new()
            }
        }
    }
}

impl Neighbours for SystemNeighbours {
    fn hostnames(&self) -> Vec<(Mac, String)> {
        let text = std::fs::read_to_string(&self.leases_path).unwrap_or_default();
        parse_leases(&text)
            .into_iter()
            .filter_map(|l| Some((l.mac, l.hostname?)))
            .collect()
    }

    fn ipv6_table(&self) -> Vec<(Ipv6Addr, Mac)> {
        self.neigh6()
    }

    fn lease_of(&self, mac: Mac) -> Option<Lease> {
        let text = std::fs::read_to_string(&self.leases_path).ok()?;
        parse_leases(&text).into_iter().find(|l| l.mac == mac)
    }

    fn leased_to(&self, ip: IpAddr) -> Option<Mac> {
        let text = std::fs::read_to_string(&self.leases_path).ok()?;
        let ip = ip.to_canonical();
        parse_leases(&text)
            .into_iter()
            .find(|l| l.ip == ip)
            .map(|l| l.mac)
    }

    fn guest_prefixes(&self) -> Vec<(Ipv6Addr, u8)> {
        let args = [
            "-6",
            "-o",
            "addr",
            "show",
            "dev",
            &self.device,
            "scope",
            "global",
        ];
        match self.runner.run("ip", &args, None) {
            Ok(out) if out.success() => parse_ip_addr(&out.stdout),
            _ => Vec::new(),
        }
    }

    fn ipv4_of(&self, mac: Mac) -> Vec<IpAddr> {
        let text = std::fs::read_to_string(&self.arp_path).unwrap_or_default();
        parse_proc_arp(&text)
            .into_iter()
            .filter(|(_, m)| *m == mac)
            .map(|(ip, _)| ip)
            .collect()
    }

    fn mac_for(&self, ip: IpAddr) -> Option<Mac> {
        let ip = ip.to_canonical();
        if let IpAddr::V6(v6) = ip {
            return self
                .neigh6()
                .into_iter()
                .find(|(a, _)| *a == v6)
                .map(|(_, m)| m);
        }
        if let Ok(text) = std::fs::read_to_string(&self.arp_path) {
            if let Some((_, mac)) = parse_proc_arp(&text).into_iter().find(|(i, _)| *i == ip) {
                return Some(mac);
            }
        }
        let text = std::fs::read_to_string(&self.leases_path).ok()?;
        parse_leases(&text)
            .into_iter()
            .find(|l| l.ip == ip)
            .map(|l| l.mac)
    }
}

/// The demo's neighbour table: every loopback address is a device with a locally administered
/// MAC made from its address (127.0.0.1 is 02:00:7f:00:00:01).
pub struct LoopbackNeighbours;

impl Neighbours for LoopbackNeighbours {
    fn mac_for(&self, ip: IpAddr) -> Option<Mac> {
        let v4 = match ip {
            IpAddr::V4(v4) => v4,
            IpAddr::V6(v6) if v6.is_loopback() => std::net::Ipv4Addr::LOCALHOST,
            IpAddr::V6(v6) => v6.to_ipv4_mapped()?,
        };
        if !v4.is_loopback() {
            return None;
        }
        let o = v4.octets();
        Some(Mac([0x02, 0x00, o[0], o[1], o[2], o[3]]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arp_table() {
        let text = "IP address       HW type     Flags       HW address            Mask     Device\n\
                    192.168.1.50     0x1         0x2         aa:bb:cc:dd:ee:01     *        br-lan\n\
                    192.168.1.51     0x1         0x0         00:00:00:00:00:00     *        br-lan\n\
                    junk\n";
        let rows = parse_proc_arp(text);
        assert_eq!(
            rows,
            vec![(
                "192.168.1.50".parse().unwrap(),
                "aa:bb:cc:dd:ee:01".parse().unwrap()
            )]
        );
    }

    #[test]
    fn ipv6_neighbours() {
        let text = "fd77::10 dev br-lan lladdr aa:bb:cc:dd:ee:01 REACHABLE\n\
                    fe80::1 dev br-lan lladdr aa:bb:cc:dd:ee:01 STALE\n\
                    fd77::11 lladdr aa:bb:cc:dd:ee:02 router STALE\n\
                    fd77::12 dev br-lan FAILED\n\
                    fd77::13 dev br-lan lladdr aa:bb:cc:dd:ee:03 INCOMPLETE\n";
        let rows = parse_ip_neigh(text);
        let addrs: Vec<String> = rows.iter().map(|(a, m)| format!("{a} {m}")).collect();
        assert_eq!(
            addrs,
            ["fd77::10 aa:bb:cc:dd:ee:01", "fd77::11 aa:bb:cc:dd:ee:02"]
        );
    }

    #[test]
    fn router_prefixes() {
        let text = "5: br-lan    inet6 fd77::1/64 scope global \\       valid_lft forever\n\
                    5: br-lan    inet6 2001:db8:1::1/56 scope global dynamic\n\
                    junk inet6 nope/64\n";
        assert_eq!(
            parse_ip_addr(text),
            vec![
                ("fd77::1".parse().unwrap(), 64),
                ("2001:db8:1::1".parse().unwrap(), 56)
            ]
        );
    }

    #[test]
    fn lease_file() {
        let text = "1795430000 aa:bb:cc:dd:ee:02 192.168.1.60 phone *\n\
                    0 aa:bb:cc:dd:ee:03 192.168.1.61 * 01:aa\n\
                    duid 00:01:00:01\n";
        let leases = parse_leases(text);
        assert_eq!(leases.len(), 2);
        assert_eq!(leases[0].hostname.as_deref(), Some("phone"));
        assert_eq!(leases[1].expires, 0);
        assert_eq!(leases[0].client_id, None);
        assert_eq!(leases[1].client_id.as_deref(), Some("01:aa"));
    }
}
