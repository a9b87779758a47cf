//! Fakes for tests, compiled into the library (hidden from docs) so that the integration test
//! binary can use them; the release binary never references them and the linker drops them.
//! Each is an ordinary struct that records what it was asked and can be told to fail.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use portable_atomic::{AtomicI64, AtomicU32, Ordering};

use crate::adapters::neighbours::Neighbours;
use crate::adapters::nft::NftOptions;
use crate::core::firewall::{AllowedClient, Desired, Firewall, FirewallError, Usage};
use crate::core::locks::lock;
use crate::core::model::Mac;
use crate::core::time::{Clock, Timestamp};

/// A clock that moves only when told to. Its monotonic side moves with `advance` and ignores
/// `set` (a wall-clock jump), as a real monotonic clock would.
pub struct ManualClock {
    wall: AtomicI64,
    mono_offset_ms: AtomicI64,
    base: Instant,
}

impl ManualClock {
    pub fn new(now: Timestamp) -> ManualClock {
        ManualClock {
            wall: AtomicI64::new(now),
            mono_offset_ms: AtomicI64::new(0),
            base: Instant::now(),
        }
    }

    /// Time passes.
    pub fn advance(&self, secs: i64) {
        self.wall.fetch_add(secs, Ordering::SeqCst);
        self.mono_offset_ms
            .fetch_add(secs.max(0) * 1000, Ordering::SeqCst);
    }

    /// The wall clock jumps (NTP, an owner fixing the date); monotonic time does not.
    pub fn set(&self, now: Timestamp) {
        self.wall.store(now, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        self.wall.load(Ordering::SeqCst)
    }
    fn mono(&self) -> Instant {
        let offset = self.mono_offset_ms.load(Ordering::SeqCst).max(0) as u64;
        self.base + Duration::from_millis(offset)
    }
}

/// Records every applied state; `fail_next(n)` makes the next n applies fail.
#[derive(Default)]
pub struct FakeFirewall {
    pub applied: Mutex<Vec<Desired>>,
    failures: AtomicU32,
    pub usage: Mutex<Vec<Usage>>,
    /// What `ipv6_seen` reports (the kernel's `seen6` set).
    pub seen6: Mutex<Vec<(Mac, Ipv6Addr)>>,
    /// Every address whose flows were forgotten, in order.
    pub forgotten: Mutex<Vec<IpAddr>>,
    /// Whether `usage_one` answers (as the nft firewall does).
    pub read_one: std::sync::atomic::AtomicBool,
}

impl FakeFirewall {
    pub fn fail_next(&self, n: u32) {
        self.failures.store(n, Ordering::SeqCst);
    }

    pub fn last(&self) -> Option<Desired> {
        lock(&self.applied).last().cloned()
    }

    pub fn allows(&self, mac: Mac) -> bool {
        self.last()
            .is_some_and(|d| d.clients.iter().any(|c| c.mac == mac))
    }

    pub fn set_usage(&self, mac: Mac, bytes_up: u64, bytes_down: u64) {
        let mut usage = lock(&self.usage);
        usage.retain(|u| u.mac != mac);
        usage.push(Usage {
            mac,
            bytes_up,
            bytes_down,
        });
    }
}

impl Firewall for FakeFirewall {
    fn apply(&self, desired: &Desired) -> Result<Vec<IpAddr>, FirewallError> {
        let left = self.failures.load(Ordering::SeqCst);
        if left > 0 {
            self.failures.store(left - 1, Ordering::SeqCst);
            return Err(FirewallError::Apply("injected failure".into()));
        }
        let mut applied = lock(&self.applied);
        let lost = applied
            .last()
            .map(|old| crate::core::firewall::lost_addresses(old, desired))
            .unwrap_or_default();
        applied.push(desired.clone());
        Ok(lost)
    }

    fn usage(&self) -> Result<Vec<Usage>, FirewallError> {
        Ok(lock(&self.usage).clone())
    }

    /// Only while `usage_one` is switched on (`read_one`): other tests keep the bulk read's
    /// timing.
    fn usage_one(&self, mac: Mac) -> Result<Option<Usage>, FirewallError> {
        if !self.read_one.load(Ordering::SeqCst) {
            return Ok(None);
        }
        Ok(lock(&self.usage).iter().find(|u| u.mac == mac).cloned())
    }

    fn ipv6_seen(&self) -> Result<Vec<(Mac, Ipv6Addr)>, FirewallError> {
        Ok(lock(&self.seen6).clone())
    }

    fn ipv6_allowed(&self) -> Result<Vec<(Mac, Ipv6Addr)>, FirewallError> {
        Ok(self
            .last()
            .map(|d| {
                d.clients
                    .iter()
                    .flat_map(|c| c.ipv6.iter().map(|a| (c.mac, *a)))
                    .collect()
            })
            .unwrap_or_default())
    }

    fn forget(&self, addresses: &[IpAddr]) -> Result<(), FirewallError> {
        lock(&self.forgotten).extend_from_slice(addresses);
        Ok(())
    }
}

/// A neighbour table set by the test.
#[derive(Default)]
pub struct FakeNeighbours {
    pub table: Mutex<HashMap<IpAddr, Mac>>,
    pub names: Mutex<Vec<(Mac, String)>>,
    /// The guest network's IPv6 prefixes.
    pub prefixes: Mutex<Vec<(Ipv6Addr, u8)>>,
    /// DHCP leases: address → MAC.
    pub leases: Mutex<HashMap<IpAddr, Mac>>,
    /// DHCP client identifiers by MAC (with `names`, a MAC's lease for `lease_of`).
    pub client_ids: Mutex<Vec<(Mac, String)>>,
}

impl FakeNeighbours {
    pub fn insert(&self, ip: IpAddr, mac: Mac) {
        lock(&self.table).insert(ip, mac);
    }

    /// A DHCP client identifier, as a device would send it.
    pub fn client_id(&self, mac: Mac, id: &str) {
        let mut ids = lock(&self.client_ids);
        ids.retain(|(m, _)| *m != mac);
        ids.push((mac, id.to_string()));
    }

    /// A DHCP host name, as a device would send it.
    pub fn name(&self, mac: Mac, name: &str) {
        let mut names = lock(&self.names);
        names.retain(|(m, _)| *m != mac);
        names.push((mac, name.to_string()));
    }
}

impl Neighbours for FakeNeighbours {
    fn mac_for(&self, ip: IpAddr) -> Option<Mac> {
        lock(&self.table).get(&ip).copied()
    }

    fn ipv6_table(&self) -> Vec<(Ipv6Addr, Mac)> {
        lock(&self.table)
            .iter()
            .filter_map(|(ip, mac)| match ip {
                IpAddr::V6(v6) => Some((*v6, *mac)),
                IpAddr::V4(_) => None,
            })
            .collect()
    }

    fn guest_prefixes(&self) -> Vec<(Ipv6Addr, u8)> {
        lock(&self.prefixes).clone()
    }

    fn leased_to(&self, ip: IpAddr) -> Option<Mac> {
        lock(&self.leases).get(&ip).copied()
    }

    fn ipv4_of(&self, mac: Mac) -> Vec<IpAddr> {
        let Ok(table) = self.table.lock() else {
            return Vec::new();
        };
        let mut ips: Vec<IpAddr> = table
            .iter()
            .filter(|(ip, m)| **m == mac && ip.is_ipv4())
            .map(|(ip, _)| *ip)
            .collect();
        ips.sort();
        ips
    }

    fn hostnames(&self) -> Vec<(Mac, String)> {
        lock(&self.names).clone()
    }

    fn lease_of(&self, mac: Mac) -> Option<crate::adapters::neighbours::Lease> {
        let find = |list: &Mutex<Vec<(Mac, String)>>| {
            lock(list)
                .iter()
                .find(|(m, _)| *m == mac)
                .map(|(_, v)| v.clone())
        };
        let ip = lock(&self.leases)
            .iter()
            .find(|(_, m)| **m == mac)
            .map(|(ip, _)| *ip);
        let (hostname, client_id) = (find(&self.names), find(&self.client_ids));
        if ip.is_none() && hostname.is_none() && client_id.is_none() {
            return None;
        }
        Some(crate::adapters::neighbours::Lease {
            expires: 0,
            mac,
            ip: ip.unwrap_or(std::net::Ipv4Addr::UNSPECIFIED.into()),
            hostname,
            client_id,
        })
    }
}

/// A paid device for firewall tests: session `id`, MAC `aa:00:00:00:00:<id>`, 10.77.0.<10 + id>
/// and fd77::<id>, an hour left, and the quota and speed cap (both directions) given.
pub fn paid_device(id: u64, quota: Option<u64>, rate_kbit: Option<u32>) -> AllowedClient {
    let low = id as u8;
    AllowedClient {
        session_id: id,
        group: id,
        mac: Mac([0xaa, 0, 0, 0, 0, low]),
        ipv4: Some(Ipv4Addr::new(10, 77, 0, low.wrapping_add(10))),
        ipv6: vec![Ipv6Addr::new(0xfd77, 0, 0, 0, 0, 0, 0, u16::from(low))],
        timeout_ms: 3_600_000,
        deadline_ms: 0,
        quota_left: quota,
        quota_total: quota,
        rate_down_kbit: rate_kbit,
        rate_up_kbit: rate_kbit,
        fair_kbit: None,
    }
}

/// Firewall options for tests: guests on br-lan, portal on 8080, DNS on 5353, no gate file.
pub fn nft_options() -> NftOptions {
    NftOptions {
        device: "br-lan".into(),
        portal_port: 8080,
        tls_port: None,
        dns_port: 5353,
        block_tethering: false,
        gate_file: None,
        owner_macs: Vec::new(),
    }
}

/// Session `i` of `n` active ones (the idle bench, the store tests): each its own MAC and IPv4
/// address, a quota on every second, caps on every third, deadlines spread over the hour after
/// `now`.
pub fn active_session(i: u32, n: u32, now: i64) -> crate::core::sessions::Session {
    let b = i.to_be_bytes();
    use crate::core::sessions::{Session, SessionState, Source, Terms};
    Session {
        id: u64::from(i) + 1,
        mac: Mac([2, 0xbb, b[0], b[1], b[2], b[3]]),
        ip: Some(std::net::IpAddr::V4(std::net::Ipv4Addr::new(
            10,
            77,
            1 + b[2],
            b[3],
        ))),
        terms: Terms {
            package_id: "hour".into(),
            package_name: "Hour".into(),
            price: crate::core::model::Money(20),
            duration_secs: 3600,
            quota_bytes: i.is_multiple_of(2).then_some(1_000_000_000),
            rate_down_kbit: i.is_multiple_of(3).then_some(8000),
            rate_up_kbit: i.is_multiple_of(3).then_some(2000),
            fair_kbit: None,
            window: None,
            devices: 1,
            idle_secs: None,
        },
        started_at: now - 60,
        // Spread over the hour to come, the first a few seconds after the start.
        deadline: now + 5 + i64::from(i) * 3600 / i64::from(n),
        quota_bytes: i.is_multiple_of(2).then_some(1_000_000_000),
        bytes_up: 0,
        bytes_down: 0,
        state: SessionState::Active,
        ended_at: None,
        end_reason: None,
        sources: vec![Source::Owner],
        token: format!("{:032x}", u128::from(i) * 0x9e37_79b9_7f4a_7c15),
        moved_at: None,
        joined: None,
        members: Vec::new(),
    }
}

/// PEM text for DER bytes (certificates and keys the tests make at run time).
pub fn pem(label: &str, der: &[u8]) -> String {
    let body = crate::core::base64::encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .filter_map(|c| std::str::from_utf8(c).ok())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}
