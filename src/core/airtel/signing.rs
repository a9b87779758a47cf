//! Airtel's message signing for the v2 collection push (docs/airtel.md, Message signing), pure
//! apart from the random source it is given: the body is encrypted with AES-256-CBC under a
//! fresh key and IV (`x-signature`, base64), and `base64(key):base64(iv)` is encrypted with
//! Airtel's published RSA public key, PKCS#1 v1.5 (`x-key`, base64). `check` is the simulator's
//! side: it decrypts `x-key` with the private half and encrypts the body again. Feature `airtel`.

use crate::core::base64;
use crate::core::rsa::{PublicKey, RsaError};

/// The v2 push, the one that carries the signature headers.
pub(crate) const PUSH_PATH_V2: &str = "/merchant/v2/payments/";

/// `x-signature` and `x-key` for `body` (the exact bytes sent).
pub(crate) fn sign(
    key: &PublicKey,
    body: &[u8],
    random: &mut dyn FnMut(&mut [u8]) -> bool,
) -> Result<(String, String), RsaError> {
    let (mut aes, mut iv) = ([0u8; 32], [0u8; 16]);
    if !random(&mut aes) || !random(&mut iv) {
        return Err(RsaError::NoRandom);
    }
    let signature = base64::encode(&crate::core::aes::cbc_encrypt(&aes, &iv, body));
    let pair = format!("{}:{}", base64::encode(&aes), base64::encode(&iv));
    let sealed = key.encrypt(pair.as_bytes(), random)?;
    Ok((signature, base64::encode(&sealed)))
}

/// Whether `x_signature` and `x_key` sign `body` for the holder of `private`.
#[cfg(any(test, feature = "simulator"))]
pub(crate) fn check(
    private: &crate::core::rsa::private::PrivateKey,
    body: &[u8],
    x_signature: &str,
    x_key: &str,
) -> bool {
    let pair = base64::decode(x_key).and_then(|sealed| private.decrypt(&sealed).ok());
    let pair = pair
        .and_then(|p| String::from_utf8(p).ok())
        .unwrap_or_default();
    let Some((aes, iv)) = pair.split_once(':') else {
        return false;
    };
    let aes: Option<[u8; 32]> = base64::decode(aes).and_then(|k| k.try_into().ok());
    let iv: Option<[u8; 16]> = base64::decode(iv).and_then(|v| v.try_into().ok());
    let (Some(aes), Some(iv)) = (aes, iv) else {
        return false;
    };
    let expected = base64::encode(&crate::core::aes::cbc_encrypt(&aes, &iv, body));
    crate::core::token::same(expected.as_bytes(), x_signature.trim().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of Airtel's message-signing page, as reproduced in a public integration
    /// (global-121/121-platform, `airtel/src/message_signing.ts`): this payload, key and IV give
    /// this `x-signature`. OpenSSL's `enc -aes-256-cbc` gives the same.
    #[test]
    fn airtel_example_signature() {
        let body = br#"{"reference":"1234","subscriber":{"country":"UG","currency":"UGX","msisdn":"752604392"},"transaction":{"amount":"100","country":"UG","currency":"UGX","id":"test_id "}}"#;
        let key: [u8; 32] = base64::decode("PSw37xtnShLl7zgWn4dLSnf1J5GRhRsOD4OfvJOuLIM=")
            .unwrap()
            .try_into()
            .unwrap();
        let iv: [u8; 16] = base64::decode("gGIhDvCBnSBhBgYiXCyMnw==")
            .unwrap()
            .try_into()
            .unwrap();
        assert_eq!(
            base64::encode(&crate::core::aes::cbc_encrypt(&key, &iv, body)),
            "bDOsVGZzbK0P5jO/M5QVMH/qxSmRJLEvIPZCdW6H81xvsZNI6jZej54oBQlHZ38yy63QNeyyYcfEkGJ8\
             f3f15wHWs86V9BCIpHSesS3SrhozE/gGA1fLydeSS26mw0jhyt9XIpabk1RjDH59SfsrkHKU38I5mRlt\
             hG/t2qXJck0FhNR64bgOExm9CsuxUlfpsSoW1g81g1u5a4yMFIHhp77f+h3EXNHzcEsdSWhqTho="
        );
    }

    #[test]
    fn a_signed_body_checks_and_nothing_else_does() {
        use crate::core::rsa::private::PrivateKey;
        let private = PrivateKey::parse(crate::core::rsa::tests::PRIVATE).unwrap();
        let mut random = |b: &mut [u8]| crate::core::token::fill(b).is_ok();
        let body = br#"{"transaction":{"amount":20}}"#;
        let (signature, key) = sign(&private.public, body, &mut random).unwrap();
        assert!(check(&private, body, &signature, &key));
        assert!(!check(
            &private,
            br#"{"transaction":{"amount":2}}"#,
            &signature,
            &key
        ));
        assert!(!check(&private, body, "", &key));
        assert!(!check(&private, body, &signature, "bm90IGEga2V5"));
        let (other, _) = sign(&private.public, body, &mut random).unwrap();
        assert!(
            !check(&private, body, &other, &key),
            "another message's key"
        );
    }
}
