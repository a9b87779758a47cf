//! Tests of `core::rsa` against a fixed 1024-bit key and a ciphertext made by OpenSSL 3.0
//! (`openssl genrsa 1024`, `openssl pkeyutl -encrypt`); tests/it/vodacom.rs checks the other
//! direction (lango encrypts, `openssl pkeyutl -decrypt` recovers) with a key made at run time.

use super::private::PrivateKey;
use super::*;

pub(crate) const PRIVATE: &str = "
    -----BEGIN PRIVATE KEY-----
    MIICdQIBADANBgkqhkiG9w0BAQEFAASCAl8wggJbAgEAAoGBAOgmbKGCKqSZA96L
    jBNls5tEDYqSpMe5zBg/ly9He/ZUhcVwfJif1vZHA+IgkhaRs3o48proDRAJCQV9
    MGTmuWslT+o6+qvj/fw+LPfjMAx2j9EeC1a8cC0/+Jj6XxOanlZ3s3ro6tTqQfYc
    W91TRbd9SH6Uhp12HNpapOCK4XZBAgMBAAECgYA20CvCDqvm5UImn6hZRCAePvk7
    iNhjWBk6eHlH7ob0aIyVS7P/jW4CBE6Ea9BSh+BqsVuG+9dpu9hndWGh0WBh2ux8
    Fv56bkuRxTjbHMzW4W4A3wngCX3gMSQhsxi9LYAl1Rw/d0yplPCFoTE9bSEhbE5W
    meY1SEBCD8DgBpRTgQJBAPl6kx+5MsoKckxRU7Iud1tefbN1fU0/is7MPxghJP4S
    TKZjDdHYVM0K7HEOI3hZTeO/qd6aIdP8arV+2iVupMkCQQDuN+RVaiW9kf67QLgM
    vielv+Vh3vScH+W5y6eeoulQQf+89r+vRhpPRmoGgx6RdZ5I51CFZ1nxP0TL2IEH
    Ttm5AkB0FMKsOiIVvHKebCEDgXdr/jWC8SISdYSC4Kpi8dkilyUvLlvZzkz28yQ9
    HpUGhJcnZ6EEwLcIyiRkuteKH0dxAkBbCfUzR2vA9Qia23L7O7i/OYUaUDC/cdlD
    ljcrAyuTRoXL26kJ/QqU/V4LuxR1lrO1POGi+gp/jiRmmwlEl7fRAkBpLAN9eyJ7
    Dpc/WBPEl379e6AQgJBjZ06qeGrLDSDTyO77tTdhsL/WjBz2ia3r8XrgYvk/4Cjx
    o0QaWMpbFyII
    -----END PRIVATE KEY-----
";

pub(crate) const PUBLIC: &str = "
    -----BEGIN PUBLIC KEY-----
    MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDoJmyhgiqkmQPei4wTZbObRA2K
    kqTHucwYP5cvR3v2VIXFcHyYn9b2RwPiIJIWkbN6OPKa6A0QCQkFfTBk5rlrJU/q
    Ovqr4/38Piz34zAMdo/RHgtWvHAtP/iY+l8Tmp5Wd7N66OrU6kH2HFvdU0W3fUh+
    lIaddhzaWqTgiuF2QQIDAQAB
    -----END PUBLIC KEY-----
";

/// `lango session key 42` encrypted by OpenSSL with `PUBLIC`.
const CIPHERTEXT: &str = "GEDFkFCtVnwnfd3kz5zKnCeIRffnfPaaKZX1ENJcXBBUy2YJvkiwCYXd1SkVPDCfrm7M/cwLLejHi7sk48XvTTVAuXxDtO1kB6TZM5rGtWqGm9TV1RA9Ro2GaU0ucpsTe51vRDnDtCgPZ82sUs38zlKMrD3GlP3PLIzq+a4UtdU=";

/// Deterministic "random" bytes, with zeros among them (which the padding must replace).
fn counter() -> impl FnMut(&mut [u8]) -> bool {
    let mut next = 0u8;
    move |buf: &mut [u8]| {
        for b in buf {
            *b = next;
            next = next.wrapping_add(7);
        }
        true
    }
}

#[test]
fn decrypts_what_openssl_encrypted() {
    let key = PrivateKey::parse(PRIVATE).unwrap();
    let c = crate::core::base64::decode(CIPHERTEXT).unwrap();
    assert_eq!(key.decrypt(&c).unwrap(), b"lango session key 42");
}

#[test]
fn the_public_key_parses_from_spki_and_matches_the_private_one() {
    let public = PublicKey::parse(PUBLIC).unwrap();
    let private = PrivateKey::parse(PRIVATE).unwrap();
    assert_eq!(public.bits(), 1024);
    assert!(public == private.public);
    // Without the PEM armour, as Vodacom's portal shows it: one base64 line.
    let bare: String = PUBLIC
        .lines()
        .map(str::trim)
        .filter(|l| !l.contains("-----"))
        .collect();
    assert!(PublicKey::parse(&bare).unwrap() == public);
}

#[test]
fn encryption_round_trips_with_nonzero_padding() {
    let public = PublicKey::parse(PUBLIC).unwrap();
    let private = PrivateKey::parse(PRIVATE).unwrap();
    let mut random = counter();
    let c = public.encrypt(b"api key", &mut random).unwrap();
    assert_eq!(c.len(), 128);
    assert_eq!(private.decrypt(&c).unwrap(), b"api key");
    // Two encryptions of the same message differ (the padding is random).
    let c2 = public.encrypt(b"api key", &mut random).unwrap();
    assert_ne!(c, c2);
    assert_eq!(private.decrypt(&c2).unwrap(), b"api key");
    // The longest message a 1024-bit key takes is 117 bytes.
    assert!(public.encrypt(&[1; 117], &mut random).is_ok());
    assert_eq!(
        public.encrypt(&[1; 118], &mut random),
        Err(RsaError::TooLong)
    );
    assert_eq!(
        public.encrypt(b"x", &mut |_: &mut [u8]| false),
        Err(RsaError::NoRandom)
    );
}

#[test]
fn tampered_ciphertext_and_bad_keys_are_refused() {
    let public = PublicKey::parse(PUBLIC).unwrap();
    let private = PrivateKey::parse(PRIVATE).unwrap();
    let mut c = public.encrypt(b"session", &mut counter()).unwrap();
    c[100] ^= 1;
    assert_eq!(private.decrypt(&c), Err(RsaError::BadCiphertext));
    assert_eq!(private.decrypt(&c[1..]), Err(RsaError::BadCiphertext));
    assert!(matches!(
        PublicKey::parse("not a key"),
        Err(RsaError::BadKey(_))
    ));
    // Truncated DER.
    let der = crate::core::base64::decode(
        &PUBLIC
            .lines()
            .map(str::trim)
            .filter(|l| !l.contains("-----"))
            .collect::<String>(),
    )
    .unwrap();
    for cut in [0, 1, 5, 20, der.len() - 1] {
        assert!(PublicKey::from_der(&der[..cut]).is_err(), "cut at {cut}");
    }
    // A 512-bit modulus is too small.
    let small = [0x80u8; 64];
    let mut odd = small;
    odd[63] = 0x81;
    assert!(PublicKey::from_parts(&odd, &[1, 0, 1]).is_err());
}

#[test]
fn montgomery_power_matches_small_numbers() {
    // 2^64 + 13 and friends: multi-limb moduli checked against u128 arithmetic.
    for (n, base, exp) in [
        (0x1_0000_0000_0000_000du128, 12345u128, 65537u128),
        (
            0xffff_ffff_ffff_ffff_ffff_ffff_ffff_fff1u128 >> 3 | 1,
            0xdead_beef_1234u128,
            3,
        ),
        (1_000_000_007u128, 2, 1_000_000_005),
    ] {
        let to = |v: u128| vec![v as u64, (v >> 64) as u64];
        let modulus = to(n);
        let mont = Mont::new(&modulus);
        let got = mont.pow(&to(base), &to(exp));
        let mut want = 1u128;
        // Square-and-multiply with u128 products kept below 2^128: factors < 2^64 only.
        if n < 1 << 64 {
            let mut b = base % n;
            let mut e = exp;
            while e > 0 {
                if e & 1 == 1 {
                    want = want * b % n;
                }
                b = b * b % n;
                e >>= 1;
            }
            assert_eq!(got, to(want), "{n} {base} {exp}");
        } else {
            // Larger moduli: check through the identity a^3 = a·a·a with Montgomery's own
            // multiplication against repeated pow(…, 1).
            let a = mont.pow(&to(base), &to(1));
            assert_eq!(a, to(base % n));
            let a2 = mont.pow(&to(base), &to(2));
            let a3 = mont.pow(&a2, &to(1));
            let cube = mont.pow(&to(base), &to(3));
            assert_eq!(mont.pow(&a3, &to(1)), a2);
            assert_ne!(cube, a2);
        }
    }
}
