//! Vodacom M-Pesa Tanzania (issue 18; docs/vodacom.md): lango's RSA encryption checked by
//! OpenSSL with a key made at run time (`openssl genrsa 4096`, the size Vodacom publishes).

use std::process::Command;

use lango::core::rsa::PublicKey;

use crate::support::{skip, TempDir};

/// A fresh RSA key pair from OpenSSL: (private key file, public key PEM), or `skip`.
pub(crate) fn openssl_key(dir: &TempDir, bits: u32) -> Option<(std::path::PathBuf, String)> {
    let key = dir.path("key.pem");
    let made = Command::new("openssl")
        .args(["genrsa", "-out"])
        .arg(&key)
        .arg(bits.to_string())
        .output();
    match made {
        Ok(out) if out.status.success() => {}
        _ => return skip("vodacom RSA", "openssl genrsa is not available"),
    }
    let public = Command::new("openssl")
        .args(["rsa", "-pubout", "-in"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(public.status.success());
    Some((key, String::from_utf8(public.stdout).unwrap()))
}

#[test]
fn vodacom_rsa_encryption_is_decrypted_by_openssl() {
    let dir = TempDir::new("vodacom-rsa");
    let Some((key, public)) = openssl_key(&dir, 4096) else {
        return;
    };
    let public = PublicKey::parse(&public).unwrap();
    assert_eq!(public.bits(), 4096);
    let mut random = |buf: &mut [u8]| getrandom::fill(buf).unwrap();
    let message = b"sandbox-api-key-0123456789abcdef";
    let sealed = public.encrypt(message, &mut random).unwrap();
    std::fs::write(dir.path("sealed.bin"), &sealed).unwrap();
    let opened = Command::new("openssl")
        .args([
            "pkeyutl",
            "-decrypt",
            "-pkeyopt",
            "rsa_padding_mode:pkcs1",
            "-inkey",
        ])
        .arg(&key)
        .arg("-in")
        .arg(dir.path("sealed.bin"))
        .output()
        .unwrap();
    assert!(
        opened.status.success(),
        "{}",
        String::from_utf8_lossy(&opened.stderr)
    );
    assert_eq!(opened.stdout, message);
    // And what OpenSSL encrypts, the simulator's side of lango decrypts.
    let private =
        lango::core::rsa::private::PrivateKey::parse(&std::fs::read_to_string(&key).unwrap())
            .unwrap();
    assert_eq!(private.decrypt(&sealed).unwrap(), message);
}
