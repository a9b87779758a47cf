//! Tests of `config vodacom 'vodacom'` (issue 18): its options as parsed, the API key hidden
//! from `{:?}`, diagnostics with their lines (a public key that is not one among them), and the
//! shop's currency against TZS.

use super::tests::check_problems;
#[cfg(feature = "vodacom")]
use super::tests::valid;

/// A 1024-bit public key (core/rsa/tests.rs), as Vodacom's portal shows one: a base64 line.
#[cfg(feature = "vodacom")]
const KEY: &str = "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDoJmyhgiqkmQPei4wTZbObRA2KkqTHucwYP5cvR3v2VIXFcHyYn9b2RwPiIJIWkbN6OPKa6A0QCQkFfTBk5rlrJU/qOvqr4/38Piz34zAMdo/RHgtWvHAtP/iY+l8Tmp5Wd7N66OrU6kH2HFvdU0W3fUh+lIaddhzaWqTgiuF2QQIDAQAB";

#[test]
#[cfg(feature = "vodacom")]
fn the_vodacom_section_is_parsed_and_its_api_key_hidden() {
    let text = format!(
        "config gateway 'main'\n\toption currency TZS\nconfig vodacom 'vodacom'\n         \toption api_key 'very-secret-api-key'\n\toption public_key '{KEY}'\n         \toption service_provider_code 000000\n\toption environment sandbox\n"
    );
    let vodacom = valid(&text).vodacom.expect("vodacom");
    assert!(vodacom.enabled);
    assert_eq!(vodacom.public_key.bits(), 1024);
    assert_eq!(vodacom.service_provider_code, "000000");
    let shown = format!("{vodacom:?}");
    assert!(!shown.contains("very-secret"), "{shown}");
}

#[test]
fn vodacom_mistakes_are_reported_with_their_lines() {
    let expected: &[&str] = if cfg!(feature = "vodacom") {
        &[
            "1: this vodacom is missing option 'api_key'",
            "1: Vodacom M-Pesa Tanzania takes TZS, but the shop's option currency is KES",
            "2: not a usable RSA public key: not base64",
            "3: '12' is not a service provider code (5 or 6 digits, from Vodacom)",
            "4: 'live' is not sandbox, production or simulator",
        ]
    } else {
        &["1: this lango is built without Vodacom M-Pesa (the x86_64, aarch64 and ARMv7            packages have it; docs/size.md): set option enabled '0' or remove the section"]
    };
    check_problems(
        "config vodacom\n         \toption public_key 'not a key!'\n         \toption service_provider_code 12\n         \toption environment live\n",
        expected,
    );
}
