//! Tests of `config airtel 'airtel'` (issue 18): its options as parsed, the secrets hidden
//! from `{:?}`, diagnostics with their lines, the shop's currency against the country's, and
//! the refusal of an enabled section by a build without the feature.

use super::tests::check_problems;
#[cfg(feature = "airtel")]
use super::tests::valid;
#[cfg(feature = "airtel")]
use super::{Country, MpesaEnvironment};

#[cfg(feature = "airtel")]
const SECTION: &str = "config gateway 'main'\n\
    \toption currency UGX\n\
    config airtel 'airtel'\n\
    \toption client_id 'id-0123'\n\
    \toption client_secret 'very-secret-value'\n\
    \toption country UG\n\
    \toption environment sandbox\n\
    \toption ca_bundle /etc/ssl/airtel.pem\n";

#[test]
#[cfg(feature = "airtel")]
fn the_airtel_section_is_parsed_and_its_secrets_hidden() {
    let config = valid(SECTION);
    let airtel = config.airtel.expect("airtel");
    assert!(airtel.enabled);
    assert_eq!(airtel.country, Country::Uganda);
    assert_eq!(airtel.environment, MpesaEnvironment::Sandbox);
    assert_eq!(airtel.client_secret, "very-secret-value");
    let shown = format!("{airtel:?}");
    assert!(
        !shown.contains("very-secret") && !shown.contains("id-0123"),
        "{shown}"
    );
}

#[test]
fn airtel_mistakes_are_reported_with_their_lines() {
    let expected: &[&str] = if cfg!(feature = "airtel") {
        &[
            "1: this airtel is missing option 'client_id'",
            "1: this airtel is missing option 'client_secret'",
            "2: 'NG' is not a country lango takes Airtel Money in (KE, UG or TZ)",
            "3: 'live' is not sandbox, production or simulator",
            "4: unknown option 'countri' in this airtel (did you mean 'country'?)",
        ]
    } else {
        &[
            "1: this lango is built without Airtel Money (the x86_64, aarch64 and ARMv7 packages \
             have it; docs/size.md): set option enabled '0' or remove the section",
            "4: unknown option 'countri' in this airtel (did you mean 'country'?)",
        ]
    };
    check_problems(
        "config airtel\n\
         \toption country NG\n\
         \toption environment live\n\
         \toption countri KE\n",
        expected,
    );
    // Tanzania takes TZS; the shop sells in KES (the default). A build without Airtel checks
    // nothing of a section that is off.
    let mismatch: &[&str] = if cfg!(feature = "airtel") {
        &["5: Airtel Money in TZ takes TZS, but the shop's option currency is KES"]
    } else {
        &[]
    };
    let twice = ["7: more than one airtel section (the first is on line 1)"];
    check_problems(
        "config airtel\n\
         \toption enabled 0\n\
         \toption client_id a\n\
         \toption client_secret b\n\
         \toption country TZ\n\
         \toption environment production\n\
         config airtel 'again'\n",
        &[mismatch, &twice].concat(),
    );
}

/// Message signing (v2): its key is parsed; v2 without a key and a bad value are refused at
/// their lines; a key kept with v1 is not used.
#[test]
#[cfg(feature = "airtel")]
fn airtel_signing_v2_needs_the_public_key() {
    let key: String = (crate::core::rsa::tests::PUBLIC.lines())
        .map(str::trim)
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let signed = valid(&format!(
        "{SECTION}\toption signing v2\n\toption public_key '{key}'\n"
    ));
    let airtel = signed.airtel.expect("airtel");
    let public = crate::core::rsa::PublicKey::parse(crate::core::rsa::tests::PUBLIC).unwrap();
    assert!(airtel.signing == Some(public));
    assert!(valid(SECTION).airtel.unwrap().signing.is_none());
    check_problems(
        &format!("{SECTION}\toption signing v2\n"),
        &["9: signing 'v2' needs option public_key (Airtel's RSA public key for message signing, from its developer portal)"],
    );
    check_problems(
        &format!("{SECTION}\toption signing v3\n\toption public_key '{key}'\n"),
        &["9: 'v3' is not v1 or v2 (Airtel's message signing)"],
    );
    let kept = valid(&format!(
        "{SECTION}\toption signing v1\n\toption public_key '{key}'\n"
    ));
    assert!(kept.airtel.unwrap().signing.is_none());
}
