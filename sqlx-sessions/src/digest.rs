//! Token digests: what the database stores in place of the token.
//!
//! The digest of a token is `HASH(secret_salt ++ token)` (or `HASH(token)` with no salt),
//! shown as lowercase hex, exactly as ecto_sessions computes it, so its tables can be read.
//! [`Hashing::HmacSha256`] is a keyed digest, `HMAC-SHA256(key, token)`, the sound way to
//! pepper. Tables this crate creates keep the raw bytes (narrower and faster to look up);
//! adopted ecto_sessions tables keep the hex text.

use std::fmt;
use std::str::FromStr;

use hmac::Mac as _;

use crate::error::{Error, Result};

/// A digest algorithm.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Hashing {
    /// SHA-1 (legacy; accepted for existing tables).
    Sha1,
    /// SHA-224.
    Sha224,
    /// SHA-256, the default.
    #[default]
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
    /// SHA3-224.
    Sha3_224,
    /// SHA3-256.
    Sha3_256,
    /// SHA3-384.
    Sha3_384,
    /// SHA3-512.
    Sha3_512,
    /// BLAKE2b with a 512-bit output.
    Blake2b,
    /// BLAKE2s with a 256-bit output.
    Blake2s,
    /// RIPEMD-160.
    Ripemd160,
    /// HMAC-SHA256 keyed with the secret salt (a salt is required).
    HmacSha256,
    /// No hashing: the token itself is stored. Not recommended; refused with a salt, and
    /// never taken from the environment ([`Settings::from_env`](crate::Settings::from_env)).
    None,
}

impl Hashing {
    /// Every algorithm, in the order of the documentation.
    pub const ALL: [Hashing; 14] = [
        Hashing::Sha1,
        Hashing::Sha224,
        Hashing::Sha256,
        Hashing::Sha384,
        Hashing::Sha512,
        Hashing::Sha3_224,
        Hashing::Sha3_256,
        Hashing::Sha3_384,
        Hashing::Sha3_512,
        Hashing::Blake2b,
        Hashing::Blake2s,
        Hashing::Ripemd160,
        Hashing::HmacSha256,
        Hashing::None,
    ];

    /// The name used in settings and environment variables (`sha256`, `sha3_256`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Hashing::Sha1 => "sha1",
            Hashing::Sha224 => "sha224",
            Hashing::Sha256 => "sha256",
            Hashing::Sha384 => "sha384",
            Hashing::Sha512 => "sha512",
            Hashing::Sha3_224 => "sha3_224",
            Hashing::Sha3_256 => "sha3_256",
            Hashing::Sha3_384 => "sha3_384",
            Hashing::Sha3_512 => "sha3_512",
            Hashing::Blake2b => "blake2b",
            Hashing::Blake2s => "blake2s",
            Hashing::Ripemd160 => "ripemd160",
            Hashing::HmacSha256 => "hmac_sha256",
            Hashing::None => "none",
        }
    }

    /// Whether this algorithm uses the secret as an HMAC key rather than a prefix.
    pub fn is_keyed(self) -> bool {
        self == Hashing::HmacSha256
    }

    /// The digest bytes of `token` under `secret`. For [`Hashing::None`] these are the
    /// token's own bytes.
    pub fn digest(self, secret: Option<&[u8]>, token: &str) -> Result<Vec<u8>> {
        if token.is_empty() {
            return Err(Error::InvalidToken("an empty token has no digest"));
        }
        let salt = secret.unwrap_or_default();
        fn salted<D: sha2::Digest>(salt: &[u8], token: &str) -> Vec<u8> {
            let mut hasher = D::new();
            hasher.update(salt);
            hasher.update(token.as_bytes());
            hasher.finalize().to_vec()
        }
        Ok(match self {
            Hashing::Sha1 => salted::<sha1::Sha1>(salt, token),
            Hashing::Sha224 => salted::<sha2::Sha224>(salt, token),
            Hashing::Sha256 => salted::<sha2::Sha256>(salt, token),
            Hashing::Sha384 => salted::<sha2::Sha384>(salt, token),
            Hashing::Sha512 => salted::<sha2::Sha512>(salt, token),
            Hashing::Sha3_224 => salted::<sha3::Sha3_224>(salt, token),
            Hashing::Sha3_256 => salted::<sha3::Sha3_256>(salt, token),
            Hashing::Sha3_384 => salted::<sha3::Sha3_384>(salt, token),
            Hashing::Sha3_512 => salted::<sha3::Sha3_512>(salt, token),
            Hashing::Blake2b => salted::<blake2::Blake2b512>(salt, token),
            Hashing::Blake2s => salted::<blake2::Blake2s256>(salt, token),
            Hashing::Ripemd160 => salted::<ripemd::Ripemd160>(salt, token),
            Hashing::HmacSha256 => {
                let Some(key) = secret else {
                    return Err(Error::config("hashing", "hmac_sha256 needs a secret key"));
                };
                let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key)
                    .map_err(|_| Error::config("secret_salt", "unusable HMAC key"))?;
                mac.update(token.as_bytes());
                mac.finalize().into_bytes().to_vec()
            }
            Hashing::None => {
                if secret.is_some() {
                    return Err(Error::config(
                        "secret_salt",
                        "a salt is meaningless with hashing `none`",
                    ));
                }
                token.as_bytes().to_vec()
            }
        })
    }

    /// The digest of `token` as ecto_sessions stores it: lowercase hex, or the token
    /// itself for [`Hashing::None`].
    ///
    /// ```
    /// use sqlx_sessions::Hashing;
    /// assert_eq!(
    ///     Hashing::Sha256.digest_text(None, "sample").unwrap(),
    ///     "af2bdbe1aa9b6ec1e2ade1d694f41fc71a831d0268e9891562113d8a62add1bf",
    /// );
    /// ```
    pub fn digest_text(self, secret: Option<&[u8]>, token: &str) -> Result<String> {
        let bytes = self.digest(secret, token)?;
        Ok(self.bytes_to_text(bytes))
    }

    pub(crate) fn bytes_to_text(self, bytes: Vec<u8>) -> String {
        match self {
            // Only reached with the bytes of a `&str`, so this cannot fail.
            Hashing::None => String::from_utf8(bytes).unwrap_or_default(),
            _ => hex::encode(bytes),
        }
    }
}

impl fmt::Display for Hashing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Hashing {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let wanted = s.trim().to_ascii_lowercase().replace('-', "_");
        Hashing::ALL
            .into_iter()
            .find(|h| h.name() == wanted)
            .ok_or_else(|| {
                let names: Vec<_> = Hashing::ALL.iter().map(|h| h.name()).collect();
                Error::config(
                    "hashing",
                    format!(
                        "unknown algorithm `{s}`; expected one of {}",
                        names.join(", ")
                    ),
                )
            })
    }
}

/// A secret (salt or HMAC key). Its `Debug` output is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// Wraps secret bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Secret(bytes.into())
    }

    /// The secret bytes.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// A short, stable, non-reversible identifier of this secret (8 hex characters), kept
    /// in the `salt_id` column so rows still on an old salt can be counted.
    pub fn id(&self) -> String {
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&self.0)
            .expect("HMAC accepts keys of any length");
        mac.update(b"sqlx-sessions salt id");
        hex::encode(&mac.finalize().into_bytes()[..4])
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Secret::new(s.as_bytes())
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Secret::new(s.into_bytes())
    }
}
