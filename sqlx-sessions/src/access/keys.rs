//! Signing and verifying keys, each with its `kid`, and the JWKS document of the public ones.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::pkcs8::EncodePrivateKey as _;
use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use rand::TryRngCore as _;

use crate::error::{Error, Result};

/// The shortest HS256 secret accepted, in bytes.
pub const MIN_HMAC_SECRET_BYTES: usize = 32;

/// The algorithms an issuer signs with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyAlgorithm {
    /// EdDSA over Ed25519 (the default): other services verify with the public key alone.
    EdDSA,
    /// HMAC-SHA256: every verifier holds the secret, so it can mint tokens as well. For a
    /// single service only; an HS256 key never appears in the JWKS document.
    HS256,
}

impl KeyAlgorithm {
    pub(crate) fn jwt(self) -> Algorithm {
        match self {
            KeyAlgorithm::EdDSA => Algorithm::EdDSA,
            KeyAlgorithm::HS256 => Algorithm::HS256,
        }
    }
}

/// A key that verifies access tokens, found by its `kid`.
#[derive(Clone)]
pub struct VerifyingKey {
    kid: String,
    alg: KeyAlgorithm,
    decoding: DecodingKey,
    /// The public JWK (EdDSA keys only).
    jwk: Option<Jwk>,
}

impl std::fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl VerifyingKey {
    /// The key's id, the `kid` of the tokens it verifies.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The key's algorithm: a token whose header names another one is refused.
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.alg
    }

    pub(crate) fn decoding(&self) -> &DecodingKey {
        &self.decoding
    }

    /// The public key as a JWK, with its `kid`; `None` for an HS256 key (a secret).
    pub fn jwk(&self) -> Option<&Jwk> {
        self.jwk.as_ref()
    }

    /// The EdDSA keys of a JWKS document (keys of other types or without a `kid` are
    /// left out, so they can verify nothing).
    pub fn from_jwks(set: &JwkSet) -> Vec<VerifyingKey> {
        set.keys
            .iter()
            .filter_map(|jwk| VerifyingKey::from_jwk(jwk).ok())
            .collect()
    }

    /// An EdDSA key from its JWK, which must have a `kid`.
    pub fn from_jwk(jwk: &Jwk) -> Result<VerifyingKey> {
        let kid = jwk
            .common
            .key_id
            .clone()
            .ok_or_else(|| Error::config("jwk", "the key has no `kid`"))?;
        check_kid(&kid)?;
        let okp = match &jwk.algorithm {
            jsonwebtoken::jwk::AlgorithmParameters::OctetKeyPair(p)
                if p.curve == jsonwebtoken::jwk::EllipticCurve::Ed25519 =>
            {
                p
            }
            _ => return Err(Error::config("jwk", "only Ed25519 (OKP) keys are accepted")),
        };
        ed25519_public(kid, &okp.x)
    }
}

/// A key that signs access tokens, with its `kid`. The private part never leaves it
/// (`Debug` shows the `kid` and algorithm only).
#[derive(Clone)]
pub struct SigningKey {
    encoding: EncodingKey,
    verifying: VerifyingKey,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.verifying.kid)
            .field("alg", &self.verifying.alg)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A new Ed25519 key from the operating system's random source.
    pub fn generate_ed25519(kid: impl Into<String>) -> Result<SigningKey> {
        let mut seed = [0u8; 32];
        rand::rngs::OsRng
            .try_fill_bytes(&mut seed)
            .map_err(|e| Error::Random(e.to_string()))?;
        SigningKey::ed25519_from_seed(kid, &seed)
    }

    /// An Ed25519 key from its 32-byte seed (the private key of RFC 8032), for a key kept
    /// in a secret store.
    pub fn ed25519_from_seed(kid: impl Into<String>, seed: &[u8]) -> Result<SigningKey> {
        let kid = kid.into();
        check_kid(&kid)?;
        let seed: &[u8; 32] = seed
            .try_into()
            .map_err(|_| Error::config("signing_key", "an Ed25519 seed is 32 bytes"))?;
        let key = ed25519_dalek::SigningKey::from_bytes(seed);
        let der = key
            .to_pkcs8_der()
            .map_err(|e| Error::config("signing_key", e.to_string()))?;
        let public = URL_SAFE_NO_PAD.encode(key.verifying_key().to_bytes());
        Ok(SigningKey {
            encoding: EncodingKey::from_ed_der(der.as_bytes()),
            verifying: ed25519_public(kid, &public)?,
        })
    }

    /// An Ed25519 key from a PKCS#8 PEM document (`openssl genpkey -algorithm ed25519`).
    pub fn ed25519_from_pem(kid: impl Into<String>, pem: &[u8]) -> Result<SigningKey> {
        let kid = kid.into();
        check_kid(&kid)?;
        let encoding = EncodingKey::from_ed_pem(pem)
            .map_err(|e| Error::config("signing_key", e.to_string()))?;
        let jwk = Jwk::from_encoding_key(&encoding, Algorithm::EdDSA)
            .map_err(|e| Error::config("signing_key", e.to_string()))?;
        let verifying = match &jwk.algorithm {
            jsonwebtoken::jwk::AlgorithmParameters::OctetKeyPair(p) => ed25519_public(kid, &p.x)?,
            _ => return Err(Error::config("signing_key", "not an Ed25519 key")),
        };
        Ok(SigningKey {
            encoding,
            verifying,
        })
    }

    /// An HS256 key from a secret of at least 32 bytes. Every service that verifies holds
    /// the secret; prefer Ed25519 when other services verify.
    pub fn hs256(kid: impl Into<String>, secret: &[u8]) -> Result<SigningKey> {
        let kid = kid.into();
        check_kid(&kid)?;
        if secret.len() < MIN_HMAC_SECRET_BYTES {
            return Err(Error::config(
                "signing_key",
                "an HS256 secret has at least 32 bytes",
            ));
        }
        let map = |e: jsonwebtoken::errors::Error| Error::config("signing_key", e.to_string());
        Ok(SigningKey {
            encoding: EncodingKey::from_secret(secret).map_err(map)?,
            verifying: VerifyingKey {
                kid,
                alg: KeyAlgorithm::HS256,
                decoding: DecodingKey::from_secret(secret).map_err(map)?,
                jwk: None,
            },
        })
    }

    /// The key's id.
    pub fn kid(&self) -> &str {
        &self.verifying.kid
    }

    /// The key that verifies what this one signs.
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.verifying
    }

    pub(crate) fn encoding(&self) -> &EncodingKey {
        &self.encoding
    }
}

/// The Ed25519 public key whose JWK `x` is `x` (base64url, no padding).
fn ed25519_public(kid: String, x: &str) -> Result<VerifyingKey> {
    let bytes = URL_SAFE_NO_PAD
        .decode(x)
        .map_err(|_| Error::config("jwk", "`x` is not base64url"))?;
    let bytes: [u8; 32] = bytes
        .try_into()
        .map_err(|_| Error::config("jwk", "an Ed25519 public key is 32 bytes"))?;
    ed25519_dalek::VerifyingKey::from_bytes(&bytes)
        .map_err(|_| Error::config("jwk", "not an Ed25519 public key"))?;
    let decoding =
        DecodingKey::from_ed_components(x).map_err(|e| Error::config("jwk", e.to_string()))?;
    let mut jwk = Jwk::from_decoding_key(&decoding, Some(Algorithm::EdDSA))
        .map_err(|e| Error::config("jwk", e.to_string()))?;
    jwk.common.key_id = Some(kid.clone());
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    Ok(VerifyingKey {
        kid,
        alg: KeyAlgorithm::EdDSA,
        decoding,
        jwk: Some(jwk),
    })
}

/// A `kid`: 1 to 64 ASCII letters, digits, `.`, `_` or `-`.
fn check_kid(kid: &str) -> Result<()> {
    let ok = (1..=64).contains(&kid.len())
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(Error::config(
            "kid",
            "a key id is 1 to 64 ASCII letters, digits, `.`, `_` or `-`",
        ))
    }
}

/// The JWKS document of `keys`: their public JWKs (HS256 keys are left out).
pub(crate) fn jwks<'k>(keys: impl IntoIterator<Item = &'k VerifyingKey>) -> JwkSet {
    JwkSet {
        keys: keys.into_iter().filter_map(|k| k.jwk.clone()).collect(),
    }
}
