//! Tests of `config radius` (issue 17): defaults, every option's checks with their lines, the
//! secret never repeated, and the refusal of the section by a build without feature `radius`.

use super::tests::check_problems;
#[cfg(feature = "radius")]
use super::{tests::valid, RadiusAuth};

#[cfg(feature = "radius")]
#[test]
fn a_radius_section_with_its_defaults() {
    let config = valid(
        "config gateway 'main'\n option portal_addr 10.1.0.1\n\
         config radius 'radius'\n option server 192.0.2.10\n option secret 's3cr3t!'\n",
    );
    let radius = config.radius.expect("a radius section");
    assert_eq!(radius.server, "192.0.2.10");
    assert_eq!((radius.auth_port, radius.acct_port), (1812, 1813));
    assert_eq!((radius.timeout_secs, radius.retries), (3, 2));
    assert_eq!(radius.auth, RadiusAuth::Pap);
    assert_eq!(radius.nas_id, "lango");
    assert_eq!(radius.nas_ip, Some([10, 1, 0, 1].into()));
    assert!(!format!("{radius:?}").contains("s3cr3t"));
    assert_eq!((radius.accounting, radius.interim_secs), (true, 600));
    assert_eq!(radius.acct_secret(), "s3cr3t!");
    let every = valid(
        "config radius\n option server radius.example.net\n option backup_server 192.0.2.11\n \
         option secret x\n option auth_port 11812\n option acct_port 11813\n option nas_id cafe-1\n \
         option nas_ip 203.0.113.5\n option ssid 'Cafe Wi-Fi'\n option auth chap\n \
         option timeout 1\n option retries 0\n option accounting 0\n option interim 120\n \
         option acct_secret other\n",
    );
    let radius = every.radius.expect("a radius section");
    assert_eq!(
        (radius.accounting, radius.interim_secs, radius.acct_secret()),
        (false, 120, "other")
    );
    assert_eq!(radius.backup_server.as_deref(), Some("192.0.2.11"));
    assert_eq!(
        (radius.auth_port, radius.nas_id.as_str()),
        (11812, "cafe-1")
    );
    assert_eq!(radius.ssid.as_deref(), Some("Cafe Wi-Fi"));
    assert_eq!(
        (radius.auth, radius.timeout_secs, radius.retries),
        (RadiusAuth::Chap, 1, 0)
    );
    // DAS off; its clients default to the servers that are addresses, not host names.
    assert_eq!((radius.das_port, radius.das_secret()), (None, "x"));
    assert_eq!(
        radius.das_clients,
        [super::Cidr::parse("192.0.2.11").unwrap()]
    );
    let das = valid(
        "config radius\n option server radius.example.net\n option secret x\n \
         option das_port 3799\n option das_secret coa-key\n list das_client 10.0.0.0/24\n \
         list das_client 192.0.2.7\n",
    );
    let das = das.radius.expect("a radius section");
    assert_eq!((das.das_port, das.das_secret()), (Some(3799), "coa-key"));
    assert_eq!(
        das.das_clients,
        ["10.0.0.0/24", "192.0.2.7"].map(|c| super::Cidr::parse(c).unwrap())
    );
    let off =
        valid("config radius\n option enabled 0\n option server 192.0.2.1\n option secret x\n");
    assert_eq!(off.radius, None);
}

#[cfg(feature = "radius")]
#[test]
fn radius_problems_are_reported_on_their_lines() {
    check_problems(
        "config radius 'radius'\n\
         \toption server 'not a host'\n\
         \toption secret 'two words'\n\
         \toption auth mschap\n\
         \toption timeout 0\n\
         \toption retries 9\n\
         \toption interim 59\n\
         \toption nas_ip fd00::1\n\
         \toption auth_prot 1812\n\
         \tlist das_client 'nowhere'\n\
         \toption das_port 0\n\
         config radius 'second'\n\
         \toption server 192.0.2.1\n\
         \toption secret x\n\
         config radius 'third'\n",
        &[
            "2: 'not a host' is not an IP address or host name",
            "3: the secret must be 1 to 128 printable characters without spaces",
            "4: 'mschap' is not pap or chap",
            "5: '0' is not a number of seconds from 1 to 8",
            "6: '9' is not a number of retries from 0 to 5",
            "7: '59' is not a number of seconds from 60 to 86400",
            "8: 'fd00::1' is not an IPv4 address (like 10.0.0.1)",
            "9: unknown option 'auth_prot' in radius 'radius' (did you mean 'auth_port'?)",
            "10: 'nowhere' is not an address or network (like 192.168.1.0/24)",
            "11: '0' is not a port number (1 to 65535)",
            "12: more than one radius section (the first is on line 1)",
            "15: more than one radius section (the first is on line 1)",
        ],
    );
    check_problems(
        "config radius\n\toption auth pap\n",
        &[
            "1: this radius is missing option 'server'",
            "1: this radius is missing option 'secret'",
        ],
    );
}

/// The MIPS builds leave RADIUS out: a `config radius` section is refused with its line, so
/// that an owner never believes vouchers are checked centrally when they are not.
#[cfg(not(feature = "radius"))]
#[test]
fn a_build_without_radius_refuses_the_section() {
    check_problems(
        "config gateway 'main'\nconfig radius 'radius'\n option server 192.0.2.1\n",
        &["2: this lango is built without RADIUS (docs/size.md)"],
    );
}
