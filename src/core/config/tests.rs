//! Tests of `config::parse`: defaults, every option's checks, diagnostics with lines and hints.

use super::validate::*;
use super::values::*;
use super::*;

/// Every diagnostic as `line: message`, or nothing when the text is valid.
fn problems(text: &str) -> Vec<String> {
    match parse(text, "/etc/config/lango") {
        Ok(_) => Vec::new(),
        Err(diagnostics) => diagnostics
            .iter()
            .map(|d| format!("{}: {}", d.line, d.message))
            .collect(),
    }
}

#[track_caller]
pub(super) fn valid(text: &str) -> Config {
    match parse(text, "lango") {
        Ok(config) => config,
        Err(diagnostics) => panic!("{}", LoadError::Invalid(diagnostics)),
    }
}

#[track_caller]
pub(super) fn check_problems(text: &str, expected: &[&str]) {
    assert_eq!(problems(text), expected, "for:\n{text}");
}

const SHIPPED: &str = include_str!("../../../files/etc/config/lango");

#[test]
fn shipped_default_config_is_valid() {
    let config = valid(SHIPPED);
    let gateway = &config.gateway;
    assert!(gateway.enabled);
    assert_eq!(gateway.interface, "lan");
    assert_eq!(
        (gateway.portal_addr.to_string(), gateway.portal_port),
        ("192.168.1.1".into(), 8080)
    );
    // Issue 13: the shipped owner page listens on the router itself and no address it
    // allows is on the guests' side.
    assert_eq!(
        (gateway.admin_addr.to_string(), gateway.admin_port),
        ("127.0.0.1".into(), 8081)
    );
    let allow: Vec<String> = gateway.admin_allow.iter().map(Cidr::to_string).collect();
    assert_eq!(allow, ["127.0.0.1/32"]);
    assert!(gateway.guest_side("192.168.1.100".parse().unwrap()));
    assert_eq!(
        (gateway.currency.as_str(), gateway.language),
        ("KES", Lang::En)
    );
    assert_eq!(gateway.store, PathBuf::from("/etc/lango/lango.redb"));
    assert_eq!(config.brand.colour, "#0b6e4f");
    let packages: Vec<_> = (config.packages.iter())
        .map(|p| {
            (
                p.id.as_str(),
                p.name.as_str(),
                p.price,
                p.duration_secs,
                p.quota_bytes,
            )
        })
        .collect();
    assert_eq!(
        packages,
        [
            ("half_hour", "30 Minutes", Money(1000), 1800, None),
            ("hour", "1 Hour", Money(2000), 3600, Some(1_000_000_000)),
            ("day", "1 Day", Money(5000), 86_400, None),
            (
                "week",
                "7 Days",
                Money(25_000),
                604_800,
                Some(10_000_000_000)
            ),
        ]
    );
    let day = config
        .package("day")
        .map(|p| (p.rate_down_kbit, p.rate_up_kbit));
    assert_eq!(day, Some((Some(5000), Some(2000))));
    let mpesa = config
        .mpesa
        .as_ref()
        .map(|m| (m.environment, m.kind, m.shortcode.as_str()));
    assert_eq!(
        mpesa,
        Some((MpesaEnvironment::Sandbox, MpesaKind::PayBill, "174379"))
    );
    // Secrets never reach logs through `{:?}`.
    assert!(!format!("{config:?}").contains("bfb279f9"));
}

#[test]
fn empty_file_gives_every_default() {
    let config = valid("# nothing here\n");
    let gateway = Gateway {
        enabled: true,
        interface: "lan".into(),
        portal_addr: "192.168.1.1".parse().unwrap(),
        portal_port: 8080,
        admin_addr: "127.0.0.1".parse().unwrap(),
        admin_port: 8081,
        admin_allow: vec![
            Cidr::parse("127.0.0.0/8").unwrap(),
            Cidr::parse("::1").unwrap(),
        ],
        guest_nets: vec![Cidr::parse("192.168.1.1/24").unwrap()],
        owner_macs: Vec::new(),
        allow_macs: Vec::new(),
        walled_garden: Vec::new(),
        garden_dns: "127.0.0.1:53".parse().unwrap(),
        currency: "KES".into(),
        language: Lang::En,
        store: "/etc/lango/lango.redb".into(),
        reconcile_interval_secs: 60,
        checkpoint_interval_secs: 300,
        device: "br-lan".into(),
        firewall: FirewallKind::Nft,
        portal_addr6: None,
        dns_port: 8053,
        leases: "/tmp/dhcp.leases".into(),
        dnsmasq_confdir: None,
        move_interval_secs: 3600,
        tls_cert: None,
        tls_key: None,
        tls_port: 8443,
        portal_host: None,
        utc_offset_secs: 10_800,
        api_token_file: "/var/run/lango/api-token".into(),
        block_tethering: false,
        ipv6_window_secs: 60,
        keep_payments_secs: 366 * 86_400,
        keep_sessions_secs: 7 * 86_400,
        metrics_token: None,
        alert_url: None,
        alert_format: crate::core::alerts::Format::Json,
        gate_file: "/usr/share/nftables.d/ruleset-post/lango.nft".into(),
    };
    let brand = Brand {
        name: "Wi-Fi".into(),
        logo: None,
        colour: "#0b6e4f".into(),
        phone: None,
        email: None,
        terms_url: None,
    };
    assert_eq!((config.gateway, config.brand), (gateway, brand));
    assert!(config.packages.is_empty() && config.mpesa.is_none() && config.trial.is_none());
}

#[test]
fn every_option_of_every_section() {
    let text = "config gateway\n\
        \toption enabled off\n\
        \toption interface guest\n\
        \toption portal_addr 10.0.0.1\n\
        \toption portal_port 80\n\
        \toption admin_addr ::\n\
        \toption admin_port 81\n\
        \tlist admin_allow fd00::/8\n\
        \tlist guest_net 10.0.0.0/16\n\
        \toption currency TZS\n\
        \toption language Kiswahili\n\
        \toption store /overlay/lango.redb\n\
        \toption reconcile_interval 2m\n\
        \toption checkpoint_interval 1h\n\
        \toption device br-guest\n\
        \toption firewall none\n\
        \toption portal_addr6 fd00::1\n\
        \toption dns_port 5300\n\
        \toption leases /var/dhcp.leases\n\
        \toption dnsmasq_confdir /tmp/dnsmasq.guest.d\n\
        \toption move_interval 2h\n\
        \toption tls_cert /etc/lango/portal.crt\n\
        \toption tls_key /etc/lango/portal.key\n\
        \toption tls_port 9443\n\
        \toption portal_host portal.lan\n\
        \toption utc_offset -01:30\n\
        \toption api_token_file /tmp/lango.token\n\
        \toption block_tethering 1\n\
        \tlist owner_mac 02:aa:00:00:00:09\n\
        \tlist allow_mac 02:aa:00:00:00:08\n\
        \tlist walled_garden shop.example\n\
        \toption garden_dns 127.0.0.1:5353\n\
        \toption ipv6_window 2m\n\
        \toption gate_file /etc/nftables.d/lango.nft\n\
        \toption keep_payments 90d\n\
        \toption keep_sessions 2d\n\
        \toption metrics_token abcdefgh12345678\n\
        \toption alert_url https://ntfy.example/cafe\n\
        \toption alert_format text\n\
        config brand\n\
        \toption name 'Mama Wanjiku Cafe'\n\
        \toption logo /www/logo.png\n\
        \toption colour '#A1b2C3'\n\
        \toption phone '0712 345 678'\n\
        \toption email ''\n\
        \toption terms_url https://mama.example/terms\n\
        config package\n\
        \toption name 'Late Night!'\n\
        \toption name_sw 'Usiku Mzima!'\n\
        \toption description 'From 10 pm'\n\
        \toption description_sw 'Kuanzia saa 4 usiku'\n\
        \toption price 49.5\n\
        \toption duration 8h\n\
        \toption data 1.5GB\n\
        \toption rate_down 1.5Mbit\n\
        \toption rate_up 512k\n\
        \toption fair_rate 256k\n\
        \toption window 22:00-06:00\n\
        \toption days 'fri sat'\n\
        \toption devices 4\n\
        \toption active no\n\
        \toption order -1\n\
        config package try\n\
        \toption name Try\n\
        \toption trial yes\n\
        \toption duration 10m\n\
        \toption trials_per_day 7\n\
        config mpesa\n\
        \toption environment production\n\
        \toption consumer_key key\n\
        \toption consumer_secret secret\n\
        \toption type till\n\
        \toption shortcode 12345\n\
        \toption till 7654321\n\
        \toption passkey pass\n\
        \toption account_reference 'Cafe WiFi 12'\n\
        \toption callback_url 'https://wifi.example.com:8443/lango/'\n\
        \toption ca_bundle /etc/ssl/cert.pem\n\
        \toption pull 1\n\
        \toption pull_phone 0722000000\n";
    // Every option in the tables is set, each to a value not its default; simulator_url needs
    // environment 'simulator' (simulator_url_only_with_the_simulator), qr the M-Pesa QR build.
    let qr = cfg!(feature = "mpesa-qr");
    let text = &format!("{text}{}", if qr { "\toption qr 1\n" } else { "" });
    for name in [GATEWAY, BRAND, PACKAGE, MPESA].concat() {
        if name == "simulator_url" || (name == "qr" && !qr) {
            continue;
        }
        assert!(text.contains(&format!(" {name} ")), "{name} is not tested");
    }
    let config = valid(text);
    let trial = config
        .trial
        .as_ref()
        .map(|t| (t.package.duration_secs, t.per_day));
    assert_eq!(trial, Some((600, 7)));
    let gateway = &config.gateway;
    assert!(!gateway.enabled);
    assert_eq!(
        (
            gateway.interface.as_str(),
            gateway.portal_port,
            gateway.admin_port
        ),
        ("guest", 80, 81)
    );
    assert_eq!(
        (
            gateway.portal_addr.to_string(),
            gateway.admin_addr.to_string()
        ),
        ("10.0.0.1".into(), "::".into())
    );
    assert_eq!(gateway.admin_allow, [Cidr::parse("fd00::/8").unwrap()]);
    assert_eq!(gateway.guest_nets, [Cidr::parse("10.0.0.0/16").unwrap()]);
    assert_eq!(
        (gateway.currency.as_str(), gateway.language),
        ("TZS", Lang::Sw)
    );
    assert_eq!(gateway.store, PathBuf::from("/overlay/lango.redb"));
    assert_eq!(
        (
            gateway.reconcile_interval_secs,
            gateway.checkpoint_interval_secs
        ),
        (120, 3600)
    );
    assert_eq!(
        (gateway.device.as_str(), gateway.firewall),
        ("br-guest", FirewallKind::None)
    );
    assert_eq!(
        (gateway.portal_addr6, gateway.dns_port),
        (Some("fd00::1".parse().unwrap()), 5300)
    );
    assert_eq!(gateway.leases, PathBuf::from("/var/dhcp.leases"));
    assert_eq!(
        (gateway.utc_offset_secs, gateway.api_token_file.as_path()),
        (-5400, std::path::Path::new("/tmp/lango.token"))
    );
    assert!(gateway.block_tethering);
    assert_eq!(gateway.owner_macs, ["02:aa:00:00:00:09".parse().unwrap()]);
    assert_eq!(gateway.allow_macs, ["02:aa:00:00:00:08".parse().unwrap()]);
    assert_eq!(gateway.walled_garden, ["shop.example"]);
    assert_eq!(gateway.garden_dns, "127.0.0.1:5353".parse().unwrap());
    assert_eq!(gateway.ipv6_window_secs, 120);
    assert_eq!(
        (gateway.keep_payments_secs, gateway.keep_sessions_secs),
        (90 * 86_400, 2 * 86_400)
    );
    assert_eq!(
        gateway.gate_file,
        PathBuf::from("/etc/nftables.d/lango.nft")
    );
    assert_eq!(
        gateway.dnsmasq_confdir,
        Some(PathBuf::from("/tmp/dnsmasq.guest.d"))
    );
    let brand = Brand {
        name: "Mama Wanjiku Cafe".into(),
        logo: Some("/www/logo.png".into()),
        colour: "#A1b2C3".into(),
        phone: Some("0712 345 678".into()),
        email: None,
        terms_url: Some("https://mama.example/terms".into()),
    };
    assert_eq!(config.brand, brand);
    let package = Package {
        id: "late_night_".into(),
        name: "Late Night!".into(),
        name_sw: Some("Usiku Mzima!".into()),
        description: Some("From 10 pm".into()),
        description_sw: Some("Kuanzia saa 4 usiku".into()),
        price: Money(4950),
        duration_secs: 8 * 3600,
        quota_bytes: Some(1_500_000_000),
        rate_down_kbit: Some(1500),
        rate_up_kbit: Some(512),
        fair_kbit: Some(256),
        // In the gateway's time zone (utc_offset -01:30).
        window: Some(crate::core::window::Window {
            start: 22 * 60,
            end: 6 * 60,
            days: 0x30,
            utc_offset: -5400,
        }),
        devices: 4,
        active: false,
        order: -1,
    };
    assert_eq!(config.packages, [package]);
    assert_eq!(config.active_packages().count(), 0);
    let mpesa = Mpesa {
        environment: MpesaEnvironment::Production,
        consumer_key: "key".into(),
        consumer_secret: "secret".into(),
        kind: MpesaKind::Till,
        shortcode: "12345".into(),
        till: Some("7654321".into()),
        passkey: "pass".into(),
        account_reference: "Cafe WiFi 12".into(),
        callback_url: Some("https://wifi.example.com:8443/lango".into()),
        ca_bundle: Some("/etc/ssl/cert.pem".into()),
        simulator_url: None,
        pull: true,
        pull_phone: Some("0722000000".into()),
        qr,
    };
    assert_eq!(config.mpesa, Some(mpesa));
}

#[test]
fn packages_sorted_by_order_then_file_order() {
    let text = "config package 'c'\n option name C\n option price 1\n option duration 1h\n option order 2\n\
        config package\n option name 'B b'\n option price 1\n option duration 1h\n option order 1\n\
        config package 'a'\n option name A\n option price 1\n option duration 1h\n\
        config package 'd'\n option name D\n option price 1\n option duration 1h\n option order 1\n";
    let config = valid(text);
    let ids: Vec<&str> = config.packages.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["a", "b_b", "d", "c"]);
}

#[test]
fn sections_and_options() {
    check_problems(
        "config pakage 'x'\nconfig gatway\nconfig hotspot\n",
        &[
            "1: unknown section type 'pakage' (expected gateway, brand, package, mpesa, airtel, vodacom or clickpesa; did you mean 'package'?)",
            "2: unknown section type 'gatway' (expected gateway, brand, package, mpesa, airtel, vodacom or clickpesa; did you mean 'gateway'?)",
            "3: unknown section type 'hotspot' (expected gateway, brand, package, mpesa, airtel, vodacom or clickpesa)",
        ],
    );
    check_problems(
        "config package 'hour'\n option name H\n option prise 20\n option price 20\n option duration 1h\n\
         config brand\n option color '#000000'\n option motto 'Fast'\n",
        &[
            "3: unknown option 'prise' in package 'hour' (did you mean 'price'?)",
            "7: unknown option 'color' in this brand (did you mean 'colour'?)",
            "8: unknown option 'motto' in this brand (expected one of: name, logo, colour, phone, email, terms_url)",
        ],
    );
    check_problems(
        "config gateway\nconfig brand\nconfig gateway two\nconfig brand b\nconfig mpesa\nconfig mpesa m2\n",
        &[
            "3: more than one gateway section (the first is on line 1)",
            "4: more than one brand section (the first is on line 2)",
            "5: this mpesa is missing option 'environment'",
            "5: this mpesa is missing option 'consumer_key'",
            "5: this mpesa is missing option 'consumer_secret'",
            "5: this mpesa is missing option 'shortcode'",
            "5: this mpesa is missing option 'passkey'",
            "6: more than one mpesa section (the first is on line 5)",
        ],
    );
    // A repeated named section is one section, as in libuci.
    check_problems(
        "config gateway main\nconfig gateway main\n option enabled 1\n",
        &[],
    );
}

#[test]
fn option_and_list_mix_ups() {
    check_problems(
        "config gateway\n option admin_allow 10.0.0.0/8\n list currency KES\n list language en\n list language sw\n",
        &[
            "2: 'admin_allow' is a list: write list admin_allow '...' for each value",
            "3: 'currency' takes one value: write option, not list",
            "4: 'language' takes one value: write option, not list",
            "5: 'language' takes one value: write option, not list",
        ],
    );
    check_problems(
        "config gateway\n option interface lan\n option interface wan\n",
        &["3: option 'interface' is already set on line 2"],
    );
    check_problems(
        "config brand\n option name 'Cafe\n option colour '#000000'\n",
        &["2: the value of 'name' runs over several lines; is a quote missing?"],
    );
}

#[test]
fn bad_gateway_and_brand_values() {
    check_problems(
        "config gateway\n\
         \toption enabled maybe\n\
         \toption enabled True\n\
         \toption interface 'lan 2'\n\
         \toption portal_addr 192.168.1.300\n\
         \toption portal_port 0\n\
         \toption admin_port 70000\n\
         \tlist admin_allow 10.0.0.0/33\n\
         \tlist admin_allow ''\n\
         \toption currency kes\n\
         \toption language fr\n\
         \toption store lango.redb\n\
         \toption reconcile_interval 0s\n\
         config brand\n\
         \toption colour green\n\
         \toption logo logo.png\n\
         \toption terms_url 'javascript:alert(1)'\n",
        &[
            "3: option 'enabled' is already set on line 2",
            "3: 'True' is not a yes/no value (write 1 or 0)",
            "4: 'lan 2' is not an OpenWrt network name (like lan)",
            "5: '192.168.1.300' is not an IP address (like 192.168.1.1)",
            "6: '0' is not a port number (1 to 65535)",
            "7: '70000' is not a port number (1 to 65535)",
            "8: '10.0.0.0/33' is not an address or network (like 192.168.1.0/24)",
            "10: 'kes' is not a currency code (like KES)",
            "11: 'fr' is not a language lango speaks (en or sw)",
            "12: 'lango.redb' is not a full path (starting with /)",
            "13: '0s' is not a time (write it like 60s or 5m)",
            "15: 'green' is not a colour (write it like #0b6e4f)",
            "16: 'logo.png' is not a full path (starting with /)",
            "17: 'javascript:alert(1)' is not a web address like https://example.com/terms",
        ],
    );
    check_problems(
        "config gateway\n option admin_addr 0.0.0.0\n option admin_port 8080\n",
        &["3: admin_port is the same as portal_port; the owner page needs its own port"],
    );
}

#[test]
fn bad_packages() {
    check_problems(
        "config package 'hour'\n\
         \toption name '1 Hour'\n\
         \toption price fifty\n\
         \toption duration 60\n\
         \toption data 1XB\n\
         \toption rate_down 5\n\
         \toption rate_up 0k\n\
         \toption active sometimes\n\
         \toption order first\n\
         config package\n\
         \toption price 0\n\
         \toption name ''\n",
        &[
            "3: 'fifty' is not a price (write it like 50 or 49.50)",
            "4: '60' is not a duration (write it like 30m, 1h, 1d or 7d)",
            "5: '1XB' is not a data amount (write it like 500MB or 1GB)",
            "6: '5' is not a speed (write it like 5M for 5 Mbit/s or 512k)",
            "7: '0k' is zero; leave the option out for no limit",
            "8: 'sometimes' is not a yes/no value (write 1 or 0)",
            "9: 'first' is not a whole number",
            "10: this package is missing option 'name'",
            "10: this package is missing option 'duration'",
            "11: price must be more than 0",
        ],
    );
}

#[test]
fn duplicate_package_names_and_ids() {
    let package = |head: &str, name: &str| {
        format!("{head}\n option name '{name}'\n option price 10\n option duration 1h\n")
    };
    let text = [
        package("config package 'hour'", "1 Hour"),
        package("config package", "1 HOUR"),
        package("config package", "Day Pass"),
        package("config package 'day_pass'", "Day pass (new)"),
        package("config package", "Day-Pass"),
    ]
    .concat();
    // An id made from a name never clashes: the named 'day_pass' keeps its name, and the
    // anonymous "Day Pass" and "Day-Pass" become day_pass_2 and day_pass_3.
    check_problems(
        &text,
        &["6: package name '1 HOUR' is already used on line 2"],
    );
    let config = crate::core::config::parse(&text.replace("1 HOUR", "2 Hours"), "t").unwrap();
    let ids: Vec<&str> = config.packages.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(
        ids,
        ["hour", "2_hours", "day_pass_2", "day_pass", "day_pass_3"]
    );
}

/// Issue 13, item 11: an unnamed package called "Main" got the id `main`, the gateway
/// section's name; the owner page then wrote two sections named 'main' and refused every edit
/// after. Generated ids skip the name of every section, of any type.
#[test]
fn r13_an_unnamed_package_never_takes_another_sections_name() {
    let text = "config gateway 'main'\n\tlist admin_allow '127.0.0.1'\n\
                config brand 'brand'\n\
                config package\n\toption name 'Main'\n\toption price 10\n\toption duration 1h\n\
                config package\n\toption name 'Brand'\n\toption price 10\n\toption duration 1h\n\
                config package 'main_2'\n\toption name 'x'\n\toption price 10\n\toption duration 1h\n";
    let config = valid(text);
    let ids: Vec<&str> = config.packages.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["main_3", "brand_2", "main_2"]);
    // The owner page names them so in the file, and the file it writes is valid and the same.
    let (mut file, errors) = crate::core::uci::parse(text);
    assert!(errors.is_empty());
    crate::core::uci_write::name_packages(&mut file);
    let again = valid(&crate::core::uci_write::render(&file));
    let ids_again: Vec<&str> = again.packages.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids_again, ids);
}

#[test]
fn bad_callback_url_and_ca_bundle() {
    let base = "config mpesa\n option environment sandbox\n option consumer_key k\n \
                option consumer_secret s\n option passkey p\n option shortcode 174379\n";
    for bad in [
        "wifi.example.com",
        "ftp://x",
        "https://x/?a=1",
        "https://x/#f",
        "https://",
    ] {
        let first =
            format!("7: '{bad}' is not a web address like https://wifi.example.com (no ? or #)");
        check_problems(
            &format!("{base} option callback_url '{bad}'\n option ca_bundle certs.pem\n"),
            &[
                first.as_str(),
                "8: 'certs.pem' is not a full path (starting with /)",
            ],
        );
    }
    let ok = valid(&format!(
        "{base} option callback_url http://198.51.100.7:8080\n"
    ));
    let url = ok.mpesa.and_then(|m| m.callback_url);
    assert_eq!(url.as_deref(), Some("http://198.51.100.7:8080"));
}

#[test]
fn simulator_url_only_with_the_simulator() {
    let base = "config mpesa\n option consumer_key k\n option consumer_secret s\n \
                option passkey p\n option shortcode 174379\n";
    let ok = valid(&format!(
        "{base} option environment simulator\n option simulator_url http://127.0.0.1:8088/\n"
    ));
    let url = ok.mpesa.and_then(|m| m.simulator_url);
    assert_eq!(url.as_deref(), Some("http://127.0.0.1:8088"));
    check_problems(
        &format!("{base} option environment sandbox\n option simulator_url http://h:1\n"),
        &["7: simulator_url is only used when environment is 'simulator'"],
    );
    check_problems(
        &format!("{base} option environment simulator\n option simulator_url http://h:1/x\n"),
        &["7: 'http://h:1/x' is not a simulator address like http://127.0.0.1:8088"],
    );
}

#[test]
fn bad_mpesa() {
    let base = "config mpesa\n option environment sandbox\n option consumer_key k\n \
                option consumer_secret s\n option passkey p\n";
    check_problems(
        &format!("{base} option shortcode 1234\n option account_reference 'Lango Wi-Fi Hotspot'\n"),
        &[
            "6: '1234' is not a number of 5 to 7 digits",
            "7: 'Lango Wi-Fi Hotspot' is longer than 12 characters",
        ],
    );
    check_problems(
        &format!("{base} option shortcode 12345678\n option type till\n"),
        &[
            "1: this mpesa is missing option 'till' (needed when type is till)",
            "6: '12345678' is not a number of 5 to 7 digits",
        ],
    );
    check_problems(
        &format!("{base} option shortcode 123456\n option till 12a45\n option environment live\n"),
        &[
            "7: '12a45' is not a number of 5 to 7 digits",
            "7: till is only used when type is 'till'",
            "8: option 'environment' is already set on line 2",
            "8: 'live' is not sandbox, production or simulator",
        ],
    );
    // With an unreadable type, lango cannot tell whether a till is needed, so it does not say.
    check_problems(
        &format!("{base} option shortcode 123456\n option type buygoods\n"),
        &["7: 'buygoods' is not paybill or till"],
    );
}

#[test]
fn many_mistakes_reported_together_in_line_order() {
    let text = "config gateway main\n\
         \toption portal_port 80a\n\
         \toption langauge en\n\
         config package 'hour'\n\
         \toption name 'Hour'\n\
         \toption price 0\n\
         config pakage day\n\
         \toption name Day\n\
         config brand\n\
         \toption name 'unterminated\n\
         config mpesa\n\
         \toption environment sandbox\n";
    check_problems(
        text,
        &[
            "2: '80a' is not a port number (1 to 65535)",
            "3: unknown option 'langauge' in gateway 'main' (did you mean 'language'?)",
            "4: package 'hour' is missing option 'duration'",
            "6: price must be more than 0",
            "7: unknown section type 'pakage' (expected gateway, brand, package, mpesa, airtel, vodacom or clickpesa; did you mean 'package'?)",
            "10: unterminated quote: the ' on this line is never closed",
            "11: this mpesa is missing option 'consumer_key'",
            "11: this mpesa is missing option 'consumer_secret'",
            "11: this mpesa is missing option 'shortcode'",
            "11: this mpesa is missing option 'passkey'",
        ],
    );
    let Err(diagnostics) = parse(text, "/etc/config/lango") else {
        panic!("should fail")
    };
    assert_eq!(
        diagnostics[0].to_string(),
        "/etc/config/lango:2: '80a' is not a port number (1 to 65535)"
    );
}

#[test]
fn utc_offsets() {
    assert_eq!(parse_utc_offset("+03:00"), Ok(10_800));
    assert_eq!(parse_utc_offset("3"), Ok(10_800));
    assert_eq!(parse_utc_offset("-05:30"), Ok(-19_800));
    assert_eq!(parse_utc_offset("0"), Ok(0));
    for bad in ["", "+", "15", "+3:60", "abc", "+03:00:00", "+1:2:3", "-"] {
        assert!(parse_utc_offset(bad).is_err(), "{bad}");
    }
}

#[test]
fn suggestions_only_for_near_misses() {
    assert_eq!(edit_distance("prise", "price"), 1);
    assert_eq!(edit_distance("", "abc"), 3);
    assert_eq!(edit_distance("rate_dn", "rate_down"), 2);
    assert_eq!(suggest("rate_dn", PACKAGE), Some("rate_down"));
    assert_eq!(suggest("ordr", PACKAGE), Some("order"));
    assert_eq!(suggest("ip", GATEWAY), None);
    assert_eq!(suggest("speed", PACKAGE), None);
}

/// Truncated files and random junk must give diagnostics, never a panic, and every
/// diagnostic must point at a line that exists.
#[test]
fn never_panics_on_any_input() {
    let check = |text: &str| {
        let n_lines = text.split('\n').count() as u32;
        if let Err(diagnostics) = parse(text, "fuzz") {
            assert!(!diagnostics.is_empty());
            for diagnostic in diagnostics {
                assert!(
                    (1..=n_lines).contains(&diagnostic.line),
                    "{diagnostic} in {text:?}"
                );
            }
        }
    };
    for end in 0..=SHIPPED.len() {
        check(SHIPPED.get(..end).unwrap_or_default());
    }
    // Xorshift: deterministic, and biased towards the characters the grammar cares about.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let alphabet = b"config option list package gateway mpesa price name 'a\"\\#;\n\t \r\xff0";
    for _ in 0..3000 {
        let mut bytes = Vec::new();
        for _ in 0..(state % 120) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let byte = if state.is_multiple_of(5) {
                state as u8
            } else {
                alphabet[(state >> 8) as usize % alphabet.len()]
            };
            bytes.push(byte);
        }
        check(&String::from_utf8_lossy(&bytes));
    }
}

/// Issue 13: the guests' networks, listed or assumed from the portal's address; loopback is
/// never the guest side.
#[test]
fn guest_networks_are_listed_or_assumed_from_the_portal() {
    let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
    let assumed = valid(
        "config gateway 'main'\n\toption portal_addr '10.8.0.1'\n\toption portal_addr6 'fd00:8::1'\n",
    );
    let gw = &assumed.gateway;
    assert!(gw.guest_side(ip("10.8.0.77")) && gw.guest_side(ip("::ffff:10.8.0.77")));
    assert!(gw.guest_side(ip("fd00:8::abcd")));
    assert!(!gw.guest_side(ip("10.8.1.77")) && !gw.guest_side(ip("127.0.0.1")));
    let listed = valid(
        "config gateway 'main'\n\tlist guest_net '192.168.20.0/22'\n\tlist guest_net '127.0.0.0/8'\n",
    );
    let gw = &listed.gateway;
    assert!(gw.guest_side(ip("192.168.23.4")));
    assert!(
        !gw.guest_side(ip("192.168.1.4")),
        "the listed networks replace the assumed one"
    );
    assert!(!gw.guest_side(ip("127.0.0.1")), "loopback never");
    let errors = problems("config gateway 'main'\n\tlist guest_net 'nonsense'\n");
    assert!(
        errors.len() == 1 && errors[0].starts_with("2: "),
        "{errors:?}"
    );
}

#[test]
fn pull_phone_needs_pull_and_a_safaricom_number() {
    let base = "config mpesa\n\toption environment sandbox\n\toption consumer_key k\n\
                \toption consumer_secret s\n\toption shortcode 174379\n\toption passkey p\n";
    let errors = |extra: &str| -> Vec<String> {
        match super::parse(&format!("{base}{extra}"), "lango") {
            Ok(_) => Vec::new(),
            Err(d) => d.iter().map(|d| d.to_string()).collect(),
        }
    };
    assert!(errors("\toption pull 1\n").is_empty());
    assert!(errors("\toption pull 1\n\toption pull_phone 0722000000\n").is_empty());
    assert!(errors("\toption pull_phone 0722000000\n")
        .concat()
        .contains("pull_phone is only used with option pull '1'"));
    assert!(errors("\toption pull 1\n\toption pull_phone 12\n")
        .concat()
        .contains("Safaricom phone number"));
}
