//! AES-256 (FIPS 197) encryption in CBC mode with PKCS#7 padding, written out: Airtel's v2
//! message signing (`core::airtel::signing`) encrypts each request body so, and ring, the one
//! crypto crate in the tree, offers AES only inside AEAD modes. Encryption only: Airtel's
//! simulator checks a signature by encrypting the body again. Table-based, so not constant
//! time; the key is random and used for one message (docs/airtel.md, Message signing).
//! Feature `airtel`.

/// The S-box.
const SBOX: [u8; 256] = {
    // Built at compile time from the multiplicative inverse in GF(2^8) and the affine map.
    let mut sbox = [0u8; 256];
    let (mut p, mut q) = (1u8, 1u8);
    loop {
        // p := p * 3, q := q / 3.
        p ^= (p << 1) ^ if p & 0x80 != 0 { 0x1b } else { 0 };
        q ^= q << 1;
        q ^= q << 2;
        q ^= q << 4;
        if q & 0x80 != 0 {
            q ^= 0x09;
        }
        let x = q ^ q.rotate_left(1) ^ q.rotate_left(2) ^ q.rotate_left(3) ^ q.rotate_left(4);
        sbox[p as usize] = x ^ 0x63;
        if p == 1 {
            break;
        }
    }
    sbox[0] = 0x63;
    sbox
};

/// Multiplication by x in GF(2^8).
fn xtime(b: u8) -> u8 {
    (b << 1) ^ if b & 0x80 != 0 { 0x1b } else { 0 }
}

/// The 15 round keys of an AES-256 key.
fn expand(key: &[u8; 32]) -> [[u8; 16]; 15] {
    let mut w = [[0u8; 4]; 60];
    for (i, word) in w.iter_mut().take(8).enumerate() {
        word.copy_from_slice(&key[4 * i..4 * i + 4]);
    }
    let mut rcon = 1u8;
    for i in 8..60 {
        let mut t = w[i - 1];
        if i % 8 == 0 {
            t = [
                SBOX[t[1] as usize] ^ rcon,
                SBOX[t[2] as usize],
                SBOX[t[3] as usize],
                SBOX[t[0] as usize],
            ];
            rcon = xtime(rcon);
        } else if i % 8 == 4 {
            t = t.map(|b| SBOX[b as usize]);
        }
        for j in 0..4 {
            w[i][j] = w[i - 8][j] ^ t[j];
        }
    }
    let mut keys = [[0u8; 16]; 15];
    for (r, round) in keys.iter_mut().enumerate() {
        for c in 0..4 {
            round[4 * c..4 * c + 4].copy_from_slice(&w[4 * r + c]);
        }
    }
    keys
}

/// One block, in place (the state column by column, as FIPS 197 lays it out).
fn encrypt_block(keys: &[[u8; 16]; 15], block: &mut [u8; 16]) {
    let add = |s: &mut [u8; 16], k: &[u8; 16]| s.iter_mut().zip(k).for_each(|(a, b)| *a ^= b);
    add(block, &keys[0]);
    for (round, key) in keys.iter().enumerate().skip(1) {
        // SubBytes and ShiftRows: row r moves r columns left.
        let s = *block;
        for c in 0..4 {
            for r in 0..4 {
                block[4 * c + r] = SBOX[s[4 * ((c + r) % 4) + r] as usize];
            }
        }
        if round < 14 {
            for c in 0..4 {
                let col = [
                    block[4 * c],
                    block[4 * c + 1],
                    block[4 * c + 2],
                    block[4 * c + 3],
                ];
                let all = col[0] ^ col[1] ^ col[2] ^ col[3];
                for r in 0..4 {
                    block[4 * c + r] = col[r] ^ all ^ xtime(col[r] ^ col[(r + 1) % 4]);
                }
            }
        }
        add(block, key);
    }
}

/// `data` encrypted with AES-256-CBC under `key` and `iv`, padded with PKCS#7 (always at least
/// one byte of padding), as OpenSSL's `aes-256-cbc` does.
pub fn cbc_encrypt(key: &[u8; 32], iv: &[u8; 16], data: &[u8]) -> Vec<u8> {
    let keys = expand(key);
    let pad = 16 - data.len() % 16;
    let mut padded = data.to_vec();
    padded.extend(std::iter::repeat_n(pad as u8, pad));
    let mut chain = *iv;
    let mut out = Vec::with_capacity(padded.len());
    for chunk in padded.chunks_exact(16) {
        for (c, p) in chain.iter_mut().zip(chunk) {
            *c ^= p;
        }
        encrypt_block(&keys, &mut chain);
        out.extend_from_slice(&chain);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fips_197_appendix_c3() {
        let key: [u8; 32] = std::array::from_fn(|i| i as u8);
        let mut block: [u8; 16] = std::array::from_fn(|i| (i as u8) * 0x11);
        encrypt_block(&expand(&key), &mut block);
        assert_eq!(
            crate::core::token::hex(&block),
            "8ea2b7ca516745bfeafc49904b496089"
        );
        assert_eq!(SBOX[0x53], 0xed);
    }

    /// NIST SP 800-38A F.2.5 (CBC-AES256, first two blocks); the padding block follows.
    #[test]
    fn sp_800_38a_cbc() {
        let hex = |s: &str| -> Vec<u8> {
            (0..s.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
                .collect()
        };
        let key: [u8; 32] = hex("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4")
            .try_into()
            .unwrap();
        let iv: [u8; 16] = hex("000102030405060708090a0b0c0d0e0f").try_into().unwrap();
        let plain = hex("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51");
        let out = cbc_encrypt(&key, &iv, &plain);
        assert_eq!(out.len(), 48);
        assert_eq!(
            crate::core::token::hex(&out[..32]),
            "f58c4c04d6e5f1ba779eabfb5f7bfbd69cfc4e967edb808d679f777bc6702c7d"
        );
    }
}
