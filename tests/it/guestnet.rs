//! `lango setup-guest-network` against the real OpenWrt tools of the kit (`target/openwrt-kit`,
//! built by `scripts/openwrt-kit`): the real `uci` edits a copy of a typical `/etc/config`
//! (network, wireless with two radios, firewall, dhcp, system, lango), and the real firewall4
//! (ucode, `fw4` under `owrt-sandbox`) loads the firewall it wrote in a lab router beside
//! lango's tables. Without the kit (or, for fw4, without root and the lab's tools) the tests
//! skip with a message, unless LANGO_REQUIRE_ALL_TESTS is set.

use std::path::PathBuf;
use std::process::{Command, Output};

use crate::support::TempDir;

/// `/etc/config/network` as OpenWrt's config_generate writes it (uci's own format).
const NETWORK: &str = "
config interface 'loopback'
\toption device 'lo'
\toption proto 'static'
\toption ipaddr '127.0.0.1'
\toption netmask '255.0.0.0'

config globals 'globals'
\toption ula_prefix 'fd12:3456:789a::/48'

config device
\toption name 'br-lan'
\toption type 'bridge'
\tlist ports 'lan1'
\tlist ports 'lan2'

config interface 'lan'
\toption device 'br-lan'
\toption proto 'static'
\toption ipaddr '192.168.1.1'
\toption netmask '255.255.255.0'
\toption ip6assign '60'

config interface 'wan'
\toption device 'wan'
\toption proto 'dhcp'

config interface 'wan6'
\toption device 'wan'
\toption proto 'dhcpv6'

";

/// Two radios, as `wifi config` writes them, each with the owner's own SSID on `lan`.
const WIRELESS: &str = "
config wifi-device 'radio0'
\toption type 'mac80211'
\toption path 'platform/soc/18000000.wifi'
\toption channel '1'
\toption band '2g'
\toption htmode 'HE20'

config wifi-iface 'default_radio0'
\toption device 'radio0'
\toption network 'lan'
\toption mode 'ap'
\toption ssid 'OpenWrt'
\toption encryption 'psk2'
\toption key 'owner-secret'

config wifi-device 'radio1'
\toption type 'mac80211'
\toption path 'platform/soc/18000000.wifi+1'
\toption channel '36'
\toption band '5g'
\toption htmode 'HE80'

config wifi-iface 'default_radio1'
\toption device 'radio1'
\toption network 'lan'
\toption mode 'ap'
\toption ssid 'OpenWrt'
\toption encryption 'psk2'
\toption key 'owner-secret'

";

/// dnsmasq's and odhcpd's defaults, after odhcpd's uci-defaults committed them.
const DHCP: &str = "
config dnsmasq
\toption domainneeded '1'
\toption localise_queries '1'
\toption rebind_protection '1'
\toption local '/lan/'
\toption domain 'lan'
\toption expandhosts '1'
\toption authoritative '1'
\toption readethers '1'
\toption leasefile '/tmp/dhcp.leases'
\toption resolvfile '/tmp/resolv.conf.d/resolv.conf.auto'
\toption localservice '1'

config dhcp 'lan'
\toption interface 'lan'
\toption start '100'
\toption limit '150'
\toption leasetime '12h'
\toption dhcpv4 'server'

config dhcp 'wan'
\toption interface 'wan'
\toption ignore '1'

config odhcpd 'odhcpd'
\toption maindhcp '0'
\toption leasefile '/tmp/hosts/odhcpd'
\toption leasetrigger '/usr/sbin/odhcpd-update'

";

/// A file the command has no business with.
const SYSTEM: &str = "
config system
\toption hostname 'OpenWrt'
\toption timezone 'EAT-3'

";

/// lango's settings, as `uci commit` (or the owner page) leaves them.
const LANGO: &str = "
config gateway 'main'
\toption enabled '1'
\toption interface 'lan'
\toption portal_addr '192.168.1.1'
\toption portal_port '8080'
\toption admin_addr '127.0.0.1'
\toption admin_port '8081'
\toption currency 'KES'

config brand 'brand'
\toption name 'Mama Cafe'

config package 'hour'
\toption name '1 Hour'
\toption price '20'
\toption duration '1h'

";

/// What `uci show` gains, per package, from `setup-guest-network --ssid 'Cafe Guest'` on
/// this tree; nothing else may change.
const ADDED: &[(&str, &str)] = &[
    (
        "network",
        "network.lango_guest_dev=device
network.lango_guest_dev.type='bridge'
network.lango_guest_dev.name='br-guest'
network.lango_guest_dev.bridge_empty='1'
network.guest=interface
network.guest.proto='static'
network.guest.device='br-guest'
network.guest.ipaddr='192.168.3.1'
network.guest.netmask='255.255.255.0'
network.guest.lango_guest='1'
",
    ),
    (
        "wireless",
        "wireless.lango_guest_radio0=wifi-iface
wireless.lango_guest_radio0.device='radio0'
wireless.lango_guest_radio0.mode='ap'
wireless.lango_guest_radio0.network='guest'
wireless.lango_guest_radio0.ssid='Cafe Guest'
wireless.lango_guest_radio0.isolate='1'
wireless.lango_guest_radio0.encryption='none'
wireless.lango_guest_radio1=wifi-iface
wireless.lango_guest_radio1.device='radio1'
wireless.lango_guest_radio1.mode='ap'
wireless.lango_guest_radio1.network='guest'
wireless.lango_guest_radio1.ssid='Cafe Guest'
wireless.lango_guest_radio1.isolate='1'
wireless.lango_guest_radio1.encryption='none'
",
    ),
    (
        "firewall",
        "firewall.lango_guest=zone
firewall.lango_guest.name='guest'
firewall.lango_guest.network='guest'
firewall.lango_guest.input='REJECT'
firewall.lango_guest.output='ACCEPT'
firewall.lango_guest.forward='REJECT'
firewall.lango_guest_wan=forwarding
firewall.lango_guest_wan.src='guest'
firewall.lango_guest_wan.dest='wan'
firewall.lango_guest_dhcp=rule
firewall.lango_guest_dhcp.name='Allow-DHCP-Guest'
firewall.lango_guest_dhcp.src='guest'
firewall.lango_guest_dhcp.proto='udp'
firewall.lango_guest_dhcp.dest_port='67'
firewall.lango_guest_dhcp.family='ipv4'
firewall.lango_guest_dhcp.target='ACCEPT'
firewall.lango_guest_dns=rule
firewall.lango_guest_dns.name='Allow-DNS-Guest'
firewall.lango_guest_dns.src='guest'
firewall.lango_guest_dns.proto='tcp udp'
firewall.lango_guest_dns.dest_port='53'
firewall.lango_guest_dns.target='ACCEPT'
firewall.lango_guest_portal=rule
firewall.lango_guest_portal.name='Allow-Lango-Guest'
firewall.lango_guest_portal.src='guest'
firewall.lango_guest_portal.proto='tcp udp'
firewall.lango_guest_portal.dest_port='8080 8053'
firewall.lango_guest_portal.target='ACCEPT'
",
    ),
    (
        "dhcp",
        "dhcp.lango_guest=dhcp
dhcp.lango_guest.interface='guest'
dhcp.lango_guest.start='100'
dhcp.lango_guest.limit='150'
dhcp.lango_guest.leasetime='1h'
dhcp.lango_guest.dhcp_option_force='114,http://192.168.3.1:8080/api/captive'
",
    ),
];

/// The kit's prefix, or `None` (with a message; a failure under LANGO_REQUIRE_ALL_TESTS).
pub fn kit() -> Option<PathBuf> {
    let kit = std::env::var_os("LANGO_OPENWRT_KIT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/openwrt-kit"));
    if kit.join("bin/uci").exists() && kit.join("sbin/fw4").exists() {
        return Some(kit);
    }
    let why = format!(
        "no OpenWrt kit in {} (run scripts/openwrt-kit)",
        kit.display()
    );
    if std::env::var_os("LANGO_REQUIRE_ALL_TESTS").is_some() {
        panic!("guest network test cannot run: {why}, and LANGO_REQUIRE_ALL_TESTS is set");
    }
    eprintln!("skipping the guest network test: {why}");
    None
}

/// A config tree, the kit's uci and the command's environment.
struct Tree {
    kit: PathBuf,
    dir: TempDir,
}

impl Tree {
    /// The typical tree: the constants above, and firewall4's own default `/etc/config/firewall`
    /// with lango's include, committed by the real uci as lango's uci-defaults does.
    fn new(kit: PathBuf) -> Tree {
        Tree::with_lango(kit, TempDir::new("guestnet"), LANGO)
    }

    /// The same with another `/etc/config/lango`, in `dir/root/etc/config`.
    fn with_lango(kit: PathBuf, dir: TempDir, lango: &str) -> Tree {
        let tree = Tree { kit, dir };
        let config = tree.config();
        std::fs::create_dir_all(&config).unwrap();
        std::fs::create_dir_all(tree.dir.path("delta")).unwrap();
        for (name, text) in [
            ("network", NETWORK),
            ("wireless", WIRELESS),
            ("dhcp", DHCP),
            ("system", SYSTEM),
            ("lango", lango),
        ] {
            std::fs::write(config.join(name), text).unwrap();
        }
        std::fs::copy(
            tree.kit.join("share/openwrt-root/etc/config/firewall"),
            config.join("firewall"),
        )
        .unwrap();
        for set in [
            "firewall.lango=include",
            "firewall.lango.type=script",
            "firewall.lango.path=/usr/share/lango/fw-hook.sh",
            "firewall.lango.fw4_compatible=1",
        ] {
            tree.uci(&["set", set]);
        }
        tree.uci(&["commit", "firewall"]);
        tree
    }

    fn config(&self) -> PathBuf {
        self.dir.path("root/etc/config")
    }

    #[track_caller]
    fn uci(&self, args: &[&str]) -> String {
        let out = Command::new(self.kit.join("bin/uci"))
            .arg("-c")
            .arg(self.config())
            .arg("-t")
            .arg(self.dir.path("delta"))
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "uci {args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `lango setup-guest-network ARGS`, as on the router but on this tree, with no service
    /// reloaded.
    fn lango(&self, args: &[&str]) -> Output {
        let path = format!(
            "{}:{}",
            self.kit.join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        Command::new(env!("CARGO_BIN_EXE_lango"))
            .arg("setup-guest-network")
            .args(args)
            .env("PATH", path)
            .env("LANGO_UCI_CONFDIR", self.config())
            .env("LANGO_UCI_SAVEDIR", self.dir.path("delta"))
            .env("LANGO_GUEST_UNDO", self.dir.path("guest-network.undo"))
            .env("LANGO_GUEST_RELOAD", "0")
            .env("LANGO_GUEST_NETWORK_SCRIPT", script())
            .output()
            .unwrap()
    }

    /// Every file of the tree, by name.
    fn files(&self) -> Vec<(String, Vec<u8>)> {
        let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(self.config())
            .unwrap()
            .map(|e| e.unwrap())
            .map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                (name, std::fs::read(e.path()).unwrap())
            })
            .collect();
        files.sort();
        files
    }
}

/// The script as the package ships it.
fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("files/usr/share/lango/guest-network.sh")
}

#[track_caller]
fn succeeded(out: &Output) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{:?}: {text}", out.status);
    text
}

#[test]
fn guest_network_setup_adds_exactly_its_sections_and_undo_restores_every_byte() {
    let Some(kit) = kit() else { return };
    let tree = Tree::new(kit);
    let before = tree.files();
    let shown: Vec<(&str, String)> = ADDED
        .iter()
        .map(|(pkg, _)| (*pkg, tree.uci(&["show", pkg])))
        .collect();
    let lan = tree.uci(&["show", "network.lan"]);

    let said = succeeded(&tree.lango(&["--ssid", "Cafe Guest"]));
    assert!(
        said.contains("192.168.3.1/24") && said.contains("radio0 radio1"),
        "{said}"
    );
    for ((pkg, added), (_, old)) in ADDED.iter().zip(&shown) {
        assert_eq!(
            tree.uci(&["show", pkg]),
            format!("{old}{added}"),
            "uci show {pkg}: the old sections, then exactly lango's"
        );
    }
    assert_eq!(tree.uci(&["show", "network.lan"]), lan, "lan is untouched");
    let after = tree.files();
    for ((name, old), (_, new)) in before.iter().zip(&after) {
        match name.as_str() {
            // Only appended: every byte that was there is still there, in place.
            "network" | "wireless" | "firewall" | "dhcp" => {
                assert!(new.starts_with(old) && new.len() > old.len(), "{name}")
            }
            "lango" => {}
            _ => assert_eq!(new, old, "{name} is not lango's to change"),
        }
    }
    let lango = tree.uci(&["show", "lango.main"]);
    for line in [
        "lango.main.interface='guest'",
        "lango.main.device='br-guest'",
        "lango.main.portal_addr='192.168.3.1'",
    ] {
        assert!(lango.contains(line), "{lango}");
    }
    let check = Command::new(env!("CARGO_BIN_EXE_lango"))
        .arg("check-config")
        .arg(tree.config().join("lango"))
        .output()
        .unwrap();
    succeeded(&check);

    // Twice: nothing changes, and the save file still holds the first run's values.
    succeeded(&tree.lango(&["--ssid", "Cafe Guest"]));
    assert!(tree.files() == after, "a second run changed a file");

    succeeded(&tree.lango(&["--undo"]));
    let restored = tree.files();
    for ((name, old), (_, new)) in before.iter().zip(&restored) {
        assert!(
            old == new,
            "{name} after --undo:\n{}\nbefore:\n{}",
            String::from_utf8_lossy(new),
            String::from_utf8_lossy(old)
        );
    }
    assert!(!tree.dir.path("guest-network.undo").exists());
    assert!(tree.uci(&["changes"]).is_empty(), "nothing left staged");
    let again = tree.lango(&["--undo"]);
    assert_eq!(
        again.status.code(),
        Some(2),
        "nothing left to undo: {again:?}"
    );
}

#[test]
fn guest_network_with_a_key_and_next_to_a_guest_network_of_the_owner() {
    let Some(kit) = kit() else { return };
    let tree = Tree::new(kit);
    let before = tree.files();
    // The SSID defaults to the brand name; a passphrase makes it WPA2.
    succeeded(&tree.lango(&["--key", "chai-na-mandazi"]));
    let wireless = tree.uci(&["show", "wireless.lango_guest_radio1"]);
    for line in [
        "ssid='Mama Cafe'",
        "encryption='psk2'",
        "key='chai-na-mandazi'",
    ] {
        assert!(wireless.contains(line), "{wireless}");
    }
    // Run again without a key: the same sections become open.
    succeeded(&tree.lango(&["--ssid", "Open"]));
    let wireless = tree.uci(&["show", "wireless.lango_guest_radio0"]);
    assert!(
        wireless.contains("encryption='none'") && !wireless.contains("key="),
        "{wireless}"
    );
    succeeded(&tree.lango(&["--undo"]));
    assert!(tree.files() == before, "--undo restores every file");

    // Arguments the radios would refuse never reach uci.
    for bad in [&["--key", "short"][..], &["--ssid", &"x".repeat(33)]] {
        assert_eq!(tree.lango(bad).status.code(), Some(2), "{bad:?}");
    }
    // A 'guest' network that is the owner's: refused, nothing written.
    tree.uci(&["set", "network.guest=interface"]);
    tree.uci(&["set", "network.guest.proto=static"]);
    tree.uci(&["commit", "network"]);
    let owned = tree.files();
    let out = tree.lango(&[]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("not lango's"));
    assert!(tree.files() == owned, "a refusal writes nothing");
    // Unsaved changes of the owner's (LuCI's "unsaved changes") would be committed with ours.
    tree.uci(&["set", "network.guest.ipaddr=10.9.9.1"]);
    assert_eq!(tree.lango(&["--undo"]).status.code(), Some(2));
    assert!(tree.files() == owned);
}
