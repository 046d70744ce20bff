//! The server secret that CSRF tokens and `csrf_id` cookies are signed with. Its own module
//! so the state can hold it without depending on the CSRF middleware.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac as _};
use rand::TryRngCore as _;
use sha2::Sha256;
use subtle::ConstantTimeEq as _;

/// The server secret that CSRF tokens are made with.
#[derive(Clone)]
pub struct CsrfKey(Arc<[u8]>);

impl std::fmt::Debug for CsrfKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CsrfKey(<redacted>)")
    }
}

impl CsrfKey {
    /// A key from the given secret bytes (at least 16).
    pub fn new(secret: &[u8]) -> Option<CsrfKey> {
        (secret.len() >= 16).then(|| CsrfKey(secret.into()))
    }

    /// A fresh random key: forms from before a restart stop working, sessions do not.
    pub fn random() -> CsrfKey {
        CsrfKey(random_bytes::<32>().to_vec().into())
    }

    /// The MAC of `binding` (43 URL-safe characters).
    pub(crate) fn token(&self, binding: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(b"sqlx-sessions-demo csrf v1\0");
        mac.update(binding.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// Whether `token` is the MAC of `binding` (compared in constant time).
    pub(crate) fn verify(&self, binding: &str, token: &str) -> bool {
        bool::from(self.token(binding).as_bytes().ct_eq(token.as_bytes()))
    }
}

/// `N` bytes from the operating system's random source.
pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    rand::rngs::OsRng
        .try_fill_bytes(&mut bytes)
        .expect("the operating system's random source failed");
    bytes
}

/// 32 random bytes, URL-safe base64 (43 characters).
pub(crate) fn random_text() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<32>())
}
