//! Tests of `config clickpesa 'clickpesa'` (issue 18): its options as parsed, the API key and
//! checksum key hidden from `{:?}`, diagnostics with their lines (no sandbox at ClickPesa), and
//! the shop's currency against TZS.

use super::tests::check_problems;
#[cfg(feature = "clickpesa")]
use super::tests::valid;

#[test]
#[cfg(feature = "clickpesa")]
fn the_clickpesa_section_is_parsed_and_its_keys_hidden() {
    let text = "config gateway 'main'\n\toption currency TZS\nconfig clickpesa 'clickpesa'\n\
                \toption client_id 'IDclient'\n\toption api_key 'SKvery-secret-api-key'\n\
                \toption checksum_key 'CHKsecret-checksum'\n\toption environment production\n";
    let clickpesa = valid(text).clickpesa.expect("clickpesa");
    assert!(clickpesa.enabled);
    assert_eq!(clickpesa.client_id, "IDclient");
    assert_eq!(
        clickpesa.checksum_key.as_deref(),
        Some("CHKsecret-checksum")
    );
    let shown = format!("{clickpesa:?}");
    assert!(!shown.contains("very-secret"), "{shown}");
    assert!(!shown.contains("CHKsecret"), "{shown}");
}

#[test]
fn clickpesa_mistakes_are_reported_with_their_lines() {
    let expected: &[&str] = if cfg!(feature = "clickpesa") {
        &[
            "1: this clickpesa is missing option 'client_id'",
            "1: ClickPesa (Mixx by Yas, HaloPesa) takes TZS, but the shop's option currency is \
             KES",
            "2: has a space in it: paste the key as the dashboard shows it",
            "3: ClickPesa has no sandbox: write production (and test with small amounts) or \
             simulator",
        ]
    } else {
        &[
            "1: this lango is built without ClickPesa (docs/size.md): set option enabled '0' \
             or remove the section",
        ]
    };
    check_problems(
        "config clickpesa\n\toption api_key 'two words'\n\toption environment sandbox\n",
        expected,
    );
}

#[test]
#[cfg(feature = "clickpesa")]
fn clickpesa_simulator_needs_an_address() {
    check_problems(
        "config gateway 'main'\n\toption currency TZS\nconfig clickpesa\n\toption client_id a\n\
         \toption api_key b\n\toption environment simulator\n",
        &["6: environment 'simulator' needs option base_url (a simulator's address)"],
    );
}
