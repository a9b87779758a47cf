//! Tests of the options issue 16 added (fair use, sale windows, devices per package, the
//! allow-list and the walled garden), of the options a build feature decides (the HTTPS
//! portal, the M-Pesa QR) and of the metrics token and alerts: diagnostics with their lines, values as parsed.

use super::tests::{check_problems, valid};

#[test]
fn fair_use_needs_data_and_windows_are_checked() {
    check_problems(
        "config package 'night'\n\
         \toption name 'Night'\n\
         \toption price 50\n\
         \toption duration 8h\n\
         \toption fair_rate 256k\n\
         \toption window 22-06\n\
         \toption days weekends\n\
         config package 'fair'\n\
         \toption name 'Fair'\n\
         \toption price 50\n\
         \toption duration 1d\n\
         \toption data 1GB\n\
         \toption fair_rate 0k\n\
         \toption window 10:00-10:00\n",
        &[
            "5: fair_rate is the speed after the data is used: it needs option 'data'",
            "6: '22-06' is not a time window (write it like 22:00-06:00)",
            "7: 'weekends' is not a list of weekdays (write it like mon-fri or sat,sun)",
            "13: '0k' is zero; leave the option out for no limit",
            "14: '10:00-10:00' is not a time window (write it like 22:00-06:00)",
        ],
    );
    // Days alone: the whole day, in the gateway's time zone (default +03:00).
    let config = valid(
        "config package 'weekend'\n option name 'Weekend'\n option price 50\n \
         option duration 1d\n option days 'sat,sun'\n option data 1GB\n option fair_rate 1M\n",
    );
    let package = &config.packages[0];
    assert_eq!(package.fair_kbit, Some(1000));
    let window = package.window.expect("a window");
    assert_eq!((window.start, window.end, window.days), (0, 1440, 0x60));
    assert_eq!(window.utc_offset, 10_800);
    assert!(config.has_windows());
}

#[test]
fn devices_per_package_from_one_to_ten() {
    let package = |devices: &str| {
        format!(
            "config package 'family'\n\toption name 'Family'\n\toption price 100\n\
             \toption duration 1d\n\toption devices '{devices}'\n"
        )
    };
    for (text, n) in [("1", 1), ("3", 3), ("10", 10)] {
        let config = valid(&package(text));
        assert_eq!(config.packages[0].devices, n);
    }
    let without =
        "config package 'hour'\n\toption name 'Hour'\n\toption price 20\n\toption duration 1h\n";
    assert_eq!(
        valid(without).packages[0].devices,
        1,
        "default: locked to the first device"
    );
    for bad in ["0", "11", "-1", "2.5", "two", "+3", "256"] {
        check_problems(
            &package(bad),
            &[&format!("5: '{bad}' is not a number of devices (1 to 10)")],
        );
    }
}

#[test]
fn allow_list_and_walled_garden() {
    let config = valid(
        "config gateway\n\tlist allow_mac 02:AA:00:00:00:07\n\tlist allow_mac 02:aa:00:00:00:03\n\
         \tlist allow_mac 02:aa:00:00:00:07\n\tlist walled_garden Shop.Example.\n\
         \tlist walled_garden bank.example\n\toption garden_dns 10.0.0.53\n",
    );
    let gw = &config.gateway;
    let macs: Vec<String> = gw.allow_macs.iter().map(ToString::to_string).collect();
    assert_eq!(macs, ["02:aa:00:00:00:07", "02:aa:00:00:00:03"]);
    assert_eq!(gw.walled_garden, ["shop.example", "bank.example"]);
    assert_eq!(gw.garden_dns, "10.0.0.53:53".parse().unwrap());
    let other = valid("config gateway\n\toption garden_dns '[::1]:5353'\n");
    assert_eq!(other.gateway.garden_dns, "[::1]:5353".parse().unwrap());
    check_problems(
        "config gateway\n\tlist allow_mac 02:aa:00:00:00\n\tlist walled_garden com\n\
         \tlist walled_garden 'a b.example'\n\tlist walled_garden -x.example\n\
         \toption garden_dns nowhere\n",
        &[
            "2: '02:aa:00:00:00' is not a MAC address (aa:bb:cc:dd:ee:ff)",
            "3: 'com' is not a domain name (like shop.example)",
            "4: 'a b.example' is not a domain name (like shop.example)",
            "5: '-x.example' is not a domain name (like shop.example)",
            "6: 'nowhere' is not an address with an optional port (like 127.0.0.1:53)",
        ],
    );
    check_problems(
        "config gateway\n\toption walled_garden shop.example\n",
        &["2: 'walled_garden' is a list: write list walled_garden '...' for each value"],
    );
}

/// The HTTPS portal is a build feature (`tls-portal`: host builds and the x86_64 package). A
/// build without it refuses a config that asks for it, at the line, instead of serving plain
/// HTTP only and leaving the owner to wonder.
#[test]
fn the_https_portal_is_refused_by_a_build_without_it() {
    let text = "config gateway 'main'\n\toption tls_cert '/etc/lango/portal.crt'\n\
                \toption tls_key '/etc/lango/portal.key'\n";
    if cfg!(feature = "tls-portal") {
        let config = valid(text);
        assert!(config.gateway.tls_cert.is_some());
    } else {
        check_problems(
            text,
            &[
                "2: this lango is built without the HTTPS portal (the x86_64 package has it; \
               docs/size.md): remove tls_cert and tls_key",
            ],
        );
    }
}

/// `option metrics_token` (issue 17): a secret, so a bad one is described, never repeated.
#[test]
fn a_metrics_token_is_checked_without_being_shown() {
    let config = valid("config gateway 'main'\n\toption metrics_token 'abcdefgh12345678'\n");
    assert_eq!(
        config.gateway.metrics_token.as_deref(),
        Some("abcdefgh12345678")
    );
    check_problems(
        "config gateway 'main'\n\toption metrics_token 'short1'\n",
        &["2: the token (6 characters) must be 16 to 128 letters, digits or -._~+/="],
    );
    check_problems(
        "config gateway 'main'\n\toption metrics_token 'has a space in it ok'\n",
        &["2: the token (20 characters) must be 16 to 128 letters, digits or -._~+/="],
    );
}

#[test]
fn the_qr_needs_pull_and_says_why_with_its_line() {
    let base = "config mpesa\n\toption environment sandbox\n\toption consumer_key k\n\
                \toption consumer_secret s\n\toption shortcode 174379\n\toption passkey p\n";
    let needs_pull = "7: qr needs option pull '1': a QR payment is confirmed through Pull \
                      Transactions";
    let without = "7: this lango is built without the M-Pesa QR (the x86_64, aarch64 and ARMv7 packages have it; \
                   docs/size.md): remove option qr";
    let expected: &[&str] = if cfg!(feature = "mpesa-qr") {
        &[needs_pull]
    } else {
        &[without, needs_pull]
    };
    check_problems(&format!("{base}\toption qr 1\n"), expected);
    check_problems(
        &format!("{base}\toption qr 2\n"),
        &["7: '2' is not a yes/no value (write 1 or 0)"],
    );
    assert!(!valid(base).mpesa.is_some_and(|m| m.qr));
    let text = format!("{base}\toption pull 1\n\toption qr 1\n");
    if cfg!(feature = "mpesa-qr") {
        assert!(valid(&text).mpesa.is_some_and(|m| m.qr && m.pull));
    } else {
        // A build without the feature (docs/size.md) says so at the line.
        check_problems(
            &text,
            &[
                "8: this lango is built without the M-Pesa QR (the x86_64, aarch64 and ARMv7 packages have it; \
               docs/size.md): remove option qr",
            ],
        );
    }
}

/// `option alert_url` and `alert_format` (issue 17): the URL may hold a bot token, so a bad one
/// is described, never repeated.
#[test]
fn alerts_go_to_an_http_url_in_json_or_text() {
    use crate::core::alerts::Format;
    let config = valid(
        "config gateway 'main'\n\toption alert_url 'https://ntfy.example/cafe'\n\
         \toption alert_format text\n\toption metrics_token abcdefgh12345678\n",
    );
    let gateway = &config.gateway;
    assert_eq!(
        gateway.alert_url.as_deref(),
        Some("https://ntfy.example/cafe")
    );
    assert_eq!(gateway.alert_format, Format::Text);
    assert_eq!(gateway.metrics_token.as_deref(), Some("abcdefgh12345678"));
    assert_eq!(valid("config gateway\n").gateway.alert_format, Format::Json);
    check_problems(
        "config gateway 'main'\n\toption alert_url 'ftp://bot123:SECRET@x'\n\
         \toption alert_format xml\n",
        &[
            "2: alert_url must be an http:// or https:// address",
            "3: 'xml' is not json or text",
        ],
    );
}

/// Issue 18: M-Pesa turned off on the owner page is kept for its form, never sold through; its
/// options are still checked.
#[test]
fn a_disabled_mpesa_account_is_kept_aside() {
    let mpesa = "config mpesa 'mpesa'\n\toption environment 'sandbox'\n\
                 \toption consumer_key 'k'\n\toption consumer_secret 's'\n\
                 \toption shortcode '174379'\n\toption passkey 'p'\n";
    let on = valid(mpesa);
    assert!(on.mpesa.is_some() && on.mpesa_off.is_none());
    let off = valid(&format!("{mpesa}\toption enabled '0'\n"));
    assert!(off.mpesa.is_none());
    assert_eq!(off.mpesa_off, on.mpesa);
    check_problems(
        "config mpesa 'mpesa'\n\toption enabled 'no'\n\toption environment 'sandbox'\n",
        &[
            "1: mpesa 'mpesa' is missing option 'consumer_key'",
            "1: mpesa 'mpesa' is missing option 'consumer_secret'",
            "1: mpesa 'mpesa' is missing option 'shortcode'",
            "1: mpesa 'mpesa' is missing option 'passkey'",
        ],
    );
}
