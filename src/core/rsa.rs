//! RSA with a public key, as Vodacom's OpenAPI needs it (docs/vodacom.md): the published key
//! (DER SubjectPublicKeyInfo or PKCS#1 RSAPublicKey, base64 or PEM) parsed, and RSAES-PKCS1-v1_5
//! encryption (RFC 8017, 7.2.1) with the random padding bytes injected. Nothing in lango's
//! dependencies encrypts with RSA (ring only verifies signatures), so the arithmetic is here:
//! Montgomery multiplication on 64-bit limbs, square-and-multiply for the exponent. Not
//! constant-time, which does not matter for encryption with a public key. `private` (the
//! simulator's side: a PKCS#8 or PKCS#1 private key, decryption) is for the simulator and the
//! tests. Pure: bytes in, bytes out. Feature `vodacom`.

use std::fmt;

/// Why a key or a message cannot be used.
#[derive(Debug, PartialEq, Eq)]
pub enum RsaError {
    /// The key is not an RSA key lango can read.
    BadKey(&'static str),
    /// The message is longer than the key allows (k - 11 bytes).
    TooLong,
    /// A ciphertext that does not decrypt to a PKCS#1 v1.5 block.
    BadCiphertext,
    /// The random source failed.
    NoRandom,
}

impl fmt::Display for RsaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RsaError::BadKey(why) => write!(f, "not a usable RSA public key: {why}"),
            RsaError::TooLong => f.write_str("message too long for the RSA key"),
            RsaError::BadCiphertext => f.write_str("ciphertext does not decrypt"),
            RsaError::NoRandom => f.write_str("no random bytes for the padding"),
        }
    }
}

/// Smallest modulus taken: 1024 bits (Vodacom publishes 4096-bit keys).
const MIN_BITS: usize = 1024;
/// Largest modulus taken: 8192 bits.
const MAX_BITS: usize = 8192;

/// An RSA public key: the modulus and the exponent as little-endian 64-bit limbs.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    n: Vec<u64>,
    e: Vec<u64>,
    /// The modulus' length in bytes (k in RFC 8017).
    k: usize,
}

/// One DER element: its tag and contents; the rest of the input after it.
fn der(input: &[u8]) -> Result<(u8, &[u8], &[u8]), RsaError> {
    let bad = RsaError::BadKey("malformed DER");
    let (&tag, rest) = input
        .split_first()
        .ok_or(RsaError::BadKey("truncated DER"))?;
    let (&first, mut rest) = rest
        .split_first()
        .ok_or(RsaError::BadKey("truncated DER"))?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 {
            return Err(bad);
        }
        let (bytes, after) = rest
            .split_at_checked(count)
            .ok_or(RsaError::BadKey("truncated DER"))?;
        rest = after;
        bytes
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b))
    };
    let (body, after) = rest
        .split_at_checked(len)
        .ok_or(RsaError::BadKey("truncated DER"))?;
    Ok((tag, body, after))
}

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const BIT_STRING: u8 = 0x03;
#[cfg(any(test, feature = "simulator"))]
const OCTET_STRING: u8 = 0x04;
/// 1.2.840.113549.1.1.1, rsaEncryption.
const RSA_OID: [u8; 11] = [
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
];

/// A positive DER INTEGER's value, big-endian without leading zeros.
fn integer(input: &[u8]) -> Result<(&[u8], &[u8]), RsaError> {
    let (tag, body, rest) = der(input)?;
    if tag != INTEGER || body.is_empty() || body[0] & 0x80 != 0 {
        return Err(RsaError::BadKey("expected a positive INTEGER"));
    }
    let start = body.iter().position(|b| *b != 0).unwrap_or(body.len());
    Ok((&body[start..], rest))
}

/// Big-endian bytes to little-endian limbs, `limbs` long (the value must fit).
fn limbs(bytes: &[u8], limbs: usize) -> Vec<u64> {
    let mut out = vec![0u64; limbs];
    for (i, b) in bytes.iter().rev().enumerate() {
        if let Some(limb) = out.get_mut(i / 8) {
            *limb |= u64::from(*b) << (8 * (i % 8));
        }
    }
    out
}

/// Little-endian limbs to `k` big-endian bytes.
fn to_bytes(limbs: &[u64], k: usize) -> Vec<u8> {
    (0..k)
        .rev()
        .map(|i| {
            let limb = limbs.get(i / 8).copied().unwrap_or(0);
            (limb >> (8 * (i % 8))) as u8
        })
        .collect()
}

/// The DER inside PEM armour or bare base64, line breaks and spaces allowed.
fn pem_der(text: &str) -> Result<Vec<u8>, RsaError> {
    let base64: String = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("-----"))
        .flat_map(|l| l.chars().filter(|c| !c.is_whitespace()))
        .collect();
    crate::core::base64::decode(&base64).ok_or(RsaError::BadKey("not base64"))
}

impl PublicKey {
    /// From the modulus and exponent, big-endian: an odd modulus of 1024 to 8192 bits and an
    /// odd exponent of at least 3.
    fn from_parts(n: &[u8], e: &[u8]) -> Result<PublicKey, RsaError> {
        let bits = n.len() * 8 - n.first().map_or(8, |b| b.leading_zeros() as usize);
        if !(MIN_BITS..=MAX_BITS).contains(&bits) {
            return Err(RsaError::BadKey("modulus not between 1024 and 8192 bits"));
        }
        if n.last().is_none_or(|b| b & 1 == 0) {
            return Err(RsaError::BadKey("even modulus"));
        }
        let small_e = e.len() == 1 && e[0] < 3;
        if e.is_empty() || e.len() > n.len() || small_e || e.last().is_none_or(|b| b & 1 == 0) {
            return Err(RsaError::BadKey("unusable exponent"));
        }
        let count = n.len().div_ceil(8);
        Ok(PublicKey {
            n: limbs(n, count),
            e: limbs(e, e.len().div_ceil(8)),
            k: n.len(),
        })
    }

    /// A DER SubjectPublicKeyInfo (what Vodacom's portal shows, base64) or a PKCS#1
    /// RSAPublicKey.
    pub fn from_der(input: &[u8]) -> Result<PublicKey, RsaError> {
        let (tag, body, _) = der(input)?;
        if tag != SEQUENCE {
            return Err(RsaError::BadKey("not a SEQUENCE"));
        }
        let (first, _, _) = der(body)?;
        let pkcs1 = if first == INTEGER {
            body
        } else {
            let (tag, algorithm, rest) = der(body)?;
            if tag != SEQUENCE || !algorithm.starts_with(&RSA_OID) {
                return Err(RsaError::BadKey("not an rsaEncryption key"));
            }
            let (tag, bits, _) = der(rest)?;
            match bits.split_first() {
                Some((0, key)) if tag == BIT_STRING => {
                    let (tag, inner, _) = der(key)?;
                    if tag != SEQUENCE {
                        return Err(RsaError::BadKey("not an RSAPublicKey"));
                    }
                    inner
                }
                _ => return Err(RsaError::BadKey("no key BIT STRING")),
            }
        };
        let (n, rest) = integer(pkcs1)?;
        let (e, _) = integer(rest)?;
        PublicKey::from_parts(n, e)
    }

    /// The key as an owner pastes it: base64 of the DER, with or without PEM armour and line
    /// breaks.
    pub fn parse(text: &str) -> Result<PublicKey, RsaError> {
        PublicKey::from_der(&pem_der(text)?)
    }

    /// The modulus' length in bits.
    pub fn bits(&self) -> usize {
        let top = self.n.iter().rposition(|l| *l != 0).unwrap_or(0);
        top * 64 + 64 - self.n.get(top).map_or(64, |l| l.leading_zeros() as usize)
    }

    /// RSAES-PKCS1-v1_5 encryption of `message`: `0x00 0x02 PS 0x00 M` with PS at least 8
    /// nonzero bytes from `random` (called again for any zero byte; `false` when the source
    /// failed), raised to `e` mod `n`.
    pub fn encrypt(
        &self,
        message: &[u8],
        random: &mut dyn FnMut(&mut [u8]) -> bool,
    ) -> Result<Vec<u8>, RsaError> {
        let k = self.k;
        if message.len() + 11 > k {
            return Err(RsaError::TooLong);
        }
        let mut block = vec![0u8; k];
        block[1] = 2;
        let ps_end = k - message.len() - 1;
        let padding = &mut block[2..ps_end];
        if !random(padding) {
            return Err(RsaError::NoRandom);
        }
        for byte in padding.iter_mut() {
            let mut one = [0u8; 1];
            while *byte == 0 {
                if !random(&mut one) {
                    return Err(RsaError::NoRandom);
                }
                *byte = one[0];
            }
        }
        block[k - message.len()..].copy_from_slice(message);
        let m = limbs(&block, self.n.len());
        Ok(to_bytes(&Mont::new(&self.n).pow(&m, &self.e), k))
    }
}

/// Montgomery arithmetic modulo an odd `n` (R = 2^(64·limbs)).
struct Mont<'a> {
    n: &'a [u64],
    /// -n⁻¹ mod 2^64.
    n0: u64,
    /// R² mod n.
    r2: Vec<u64>,
}

/// `a >= b`, same lengths.
fn ge(a: &[u64], b: &[u64]) -> bool {
    for (x, y) in a.iter().rev().zip(b.iter().rev()) {
        if x != y {
            return x > y;
        }
    }
    true
}

/// `a -= b` in place, same lengths; returns the borrow.
fn sub(a: &mut [u64], b: &[u64]) -> bool {
    let mut borrow = false;
    for (x, y) in a.iter_mut().zip(b) {
        let (d, b1) = x.overflowing_sub(*y);
        let (d, b2) = d.overflowing_sub(u64::from(borrow));
        *x = d;
        borrow = b1 || b2;
    }
    borrow
}

impl<'a> Mont<'a> {
    fn new(n: &'a [u64]) -> Mont<'a> {
        let n0 = n.first().copied().unwrap_or(1);
        // Newton's iteration doubles the correct low bits each step: 1 → 64 in 6 steps.
        let mut inv: u64 = 1;
        for _ in 0..6 {
            inv = inv.wrapping_mul(2u64.wrapping_sub(n0.wrapping_mul(inv)));
        }
        // R² mod n by doubling 1, 2·64·limbs times, reducing each time.
        let mut r2 = vec![0u64; n.len()];
        if let Some(low) = r2.first_mut() {
            *low = 1;
        }
        for _ in 0..2 * 64 * n.len() {
            let mut carry = 0u64;
            for limb in r2.iter_mut() {
                let next = *limb >> 63;
                *limb = (*limb << 1) | carry;
                carry = next;
            }
            if carry == 1 || ge(&r2, n) {
                sub(&mut r2, n);
            }
        }
        Mont {
            n,
            n0: inv.wrapping_neg(),
            r2,
        }
    }

    /// a·b·R⁻¹ mod n (CIOS), for a, b < n.
    fn mul(&self, a: &[u64], b: &[u64]) -> Vec<u64> {
        let m = self.n.len();
        let mut t = vec![0u64; m + 2];
        for &bi in b.iter().take(m) {
            let mut carry = 0u128;
            for j in 0..m {
                let s = u128::from(t[j]) + u128::from(a[j]) * u128::from(bi) + carry;
                t[j] = s as u64;
                carry = s >> 64;
            }
            let s = u128::from(t[m]) + carry;
            t[m] = s as u64;
            t[m + 1] = (s >> 64) as u64;
            let u = t[0].wrapping_mul(self.n0);
            let s = u128::from(t[0]) + u128::from(u) * u128::from(self.n[0]);
            let mut carry = s >> 64;
            for j in 1..m {
                let s = u128::from(t[j]) + u128::from(u) * u128::from(self.n[j]) + carry;
                t[j - 1] = s as u64;
                carry = s >> 64;
            }
            let s = u128::from(t[m]) + carry;
            t[m - 1] = s as u64;
            t[m] = t[m + 1] + (s >> 64) as u64;
        }
        let high = t[m];
        t.truncate(m);
        if high != 0 || ge(&t, self.n) {
            sub(&mut t, self.n);
        }
        t
    }

    /// base^exp mod n, for base < n.
    fn pow(&self, base: &[u64], exp: &[u64]) -> Vec<u64> {
        let m = self.n.len();
        let base = self.mul(base, &self.r2);
        let mut one = vec![0u64; m];
        one[0] = 1;
        let mut acc = self.mul(&one, &self.r2);
        for limb in exp.iter().rev() {
            for bit in (0..64).rev() {
                acc = self.mul(&acc, &acc);
                if (limb >> bit) & 1 == 1 {
                    acc = self.mul(&acc, &base);
                }
            }
        }
        self.mul(&acc, &one)
    }
}

/// The simulator's side: a private key and decryption (what Vodacom does with the bearer).
#[cfg(any(test, feature = "simulator"))]
pub mod private {
    use super::*;

    /// An RSA private key: the public half and the private exponent.
    pub struct PrivateKey {
        pub public: PublicKey,
        d: Vec<u64>,
    }

    impl PrivateKey {
        /// A PKCS#8 PrivateKeyInfo (`BEGIN PRIVATE KEY`, what `openssl genrsa` writes) or a
        /// PKCS#1 RSAPrivateKey (`BEGIN RSA PRIVATE KEY`), PEM or base64.
        pub fn parse(text: &str) -> Result<PrivateKey, RsaError> {
            let bytes = pem_der(text)?;
            let (tag, body, _) = der(&bytes)?;
            if tag != SEQUENCE {
                return Err(RsaError::BadKey("not a SEQUENCE"));
            }
            let (_, rest) = integer(body)?;
            let (tag, _, after) = der(rest)?;
            let pkcs1 = if tag == SEQUENCE {
                let (tag, octets, _) = der(after)?;
                if tag != OCTET_STRING {
                    return Err(RsaError::BadKey("no private key OCTET STRING"));
                }
                let (tag, inner, _) = der(octets)?;
                if tag != SEQUENCE {
                    return Err(RsaError::BadKey("not an RSAPrivateKey"));
                }
                inner
            } else {
                body
            };
            let (_, rest) = integer(pkcs1)?;
            let (n, rest) = integer(rest)?;
            let (e, rest) = integer(rest)?;
            let (d, _) = integer(rest)?;
            let public = PublicKey::from_parts(n, e)?;
            let d = limbs(d, public.n.len());
            Ok(PrivateKey { public, d })
        }

        /// RSAES-PKCS1-v1_5 decryption: the message, or `BadCiphertext`.
        pub fn decrypt(&self, ciphertext: &[u8]) -> Result<Vec<u8>, RsaError> {
            let n = &self.public.n;
            let k = self.public.k;
            if ciphertext.len() != k {
                return Err(RsaError::BadCiphertext);
            }
            let c = limbs(ciphertext, n.len());
            if ge(&c, n) {
                return Err(RsaError::BadCiphertext);
            }
            let block = to_bytes(&Mont::new(n).pow(&c, &self.d), k);
            match block.get(..2) {
                Some([0, 2]) => {}
                _ => return Err(RsaError::BadCiphertext),
            }
            let zero = block
                .iter()
                .skip(2)
                .position(|b| *b == 0)
                .ok_or(RsaError::BadCiphertext)?;
            if zero < 8 {
                return Err(RsaError::BadCiphertext);
            }
            Ok(block[2 + zero + 1..].to_vec())
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
