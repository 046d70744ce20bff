//! Tokens derived from a row number.
//!
//! Row `i` of a contender's table carries a token computed from `(seed, i)`, so the bench can pick
//! a random valid token at any time without keeping millions of strings in memory (which would
//! also distort the peak-memory figures).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256, Sha512};

/// Characters in a token of sqlx-sessions and of the raw contender (the library's default).
pub const TOKEN_LEN: usize = 64;

/// The 64-character URL-safe token of row `i` in the table seeded with `seed`.
pub fn token(seed: u64, i: u64) -> String {
    let bytes = derive(seed, i);
    URL_SAFE_NO_PAD.encode(&bytes[..TOKEN_LEN / 4 * 3])
}

/// The 128-bit tower-sessions id of row `i` in the table seeded with `seed`.
pub fn tower_id(seed: u64, i: u64) -> i128 {
    let bytes = derive(seed, i);
    let mut id = [0u8; 16];
    id.copy_from_slice(&bytes[..16]);
    i128::from_le_bytes(id)
}

/// A fresh random 64-character token (thread-local CSPRNG seeded by the OS).
pub fn random_token() -> String {
    let mut bytes = [0u8; TOKEN_LEN / 4 * 3];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Lowercase hex of the SHA-256 of `token` (the digest the raw contender stores).
pub fn sha256_hex(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A table's seed, from its name, so that every table has its own tokens.
pub fn seed_for(name: &str) -> u64 {
    let d = Sha256::digest(name.as_bytes());
    u64::from_le_bytes(d[..8].try_into().expect("8 bytes"))
}

fn derive(seed: u64, i: u64) -> [u8; 64] {
    let mut h = Sha512::new();
    h.update(seed.to_le_bytes());
    h.update(i.to_le_bytes());
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_stable_distinct_and_64_chars() {
        let a = token(1, 7);
        assert_eq!(a.len(), TOKEN_LEN);
        assert_eq!(a, token(1, 7));
        assert_ne!(a, token(1, 8));
        assert_ne!(a, token(2, 7));
        assert!(
            a.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(random_token().len(), TOKEN_LEN);
    }

    #[test]
    fn sha256_matches_the_design_test_vector() {
        assert_eq!(
            sha256_hex("sample"),
            "af2bdbe1aa9b6ec1e2ade1d694f41fc71a831d0268e9891562113d8a62add1bf"
        );
    }
}
