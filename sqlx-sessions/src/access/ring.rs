//! The keys in force: the one that signs, and the previous ones that still verify until
//! the last token they signed has expired.

use std::sync::{Arc, RwLock};

use time::OffsetDateTime;

use super::keys::{SigningKey, VerifyingKey};

#[derive(Debug)]
struct Ring {
    current: SigningKey,
    /// Retired keys and the moment after which nothing they signed can still verify.
    previous: Vec<(VerifyingKey, OffsetDateTime)>,
}

/// The signing key and the keys that verify, shared by an issuer and its verifiers.
#[derive(Clone, Debug)]
pub(crate) struct KeyRing(Arc<RwLock<Ring>>);

impl KeyRing {
    pub(crate) fn new(current: SigningKey) -> Self {
        KeyRing(Arc::new(RwLock::new(Ring {
            current,
            previous: Vec::new(),
        })))
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Ring> {
        self.0.read().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn current(&self) -> SigningKey {
        self.read().current.clone()
    }

    /// Makes `next` the signing key; the current one keeps verifying until `retire_at`,
    /// and keys retired before `now` are forgotten.
    pub(crate) fn rotate(&self, next: SigningKey, now: OffsetDateTime, retire_at: OffsetDateTime) {
        let mut ring = self.0.write().unwrap_or_else(|e| e.into_inner());
        let old = std::mem::replace(&mut ring.current, next);
        ring.previous.retain(|(_, at)| *at > now);
        ring.previous.push((old.verifying_key().clone(), retire_at));
    }

    /// The keys that verify at `now`: the signing one first.
    pub(crate) fn verifying(&self, now: OffsetDateTime) -> Vec<VerifyingKey> {
        let ring = self.read();
        let mut out = vec![ring.current.verifying_key().clone()];
        out.extend(
            ring.previous
                .iter()
                .filter(|(_, at)| *at > now)
                .map(|(k, _)| k.clone()),
        );
        out
    }

    /// The key with this `kid` that verifies at `now`.
    pub(crate) fn find(&self, kid: &str, now: OffsetDateTime) -> Option<VerifyingKey> {
        let ring = self.read();
        if ring.current.kid() == kid {
            return Some(ring.current.verifying_key().clone());
        }
        ring.previous
            .iter()
            .find(|(k, at)| k.kid() == kid && *at > now)
            .map(|(k, _)| k.clone())
    }
}
