//! Measurement 9: what one request costs when it carries an access token (feature
//! `access-tokens`) rather than a session token. Side by side, at each concurrency:
//! `Verifier::verify` of an EdDSA token and of an HS256 one, the EdDSA verify of a
//! verifier that follows the cache's feed (so it also checks the set of revoked sessions,
//! and refuses while the feed is not confirmed), a lookup answered by the read cache, and
//! a lookup answered by the database. Every case answers the same number of distinct
//! sessions from a list made beforehand, through the same load loop.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use sqlx_sessions::SessionStore;
use sqlx_sessions::access::{Issuer, SigningKey, Verifier};
use sqlx_sessions::cache::CacheConfig;

use crate::cli::Plan;
use crate::contenders::sqlx_sessions::SqlxSessions;
use crate::contenders::{Contender, Kind};
use crate::db::{Db, DbKind};
use crate::load::{Probe, Tokens};
use crate::report::{LookupResult, throughput_ratio, two_places};

/// The cases of the measurement, in report order.
pub const KINDS: [Kind; 5] = [
    Kind::VerifyEdDsa,
    Kind::VerifyHs256,
    Kind::VerifyRevocations,
    Kind::SqlxSessionsCache,
    Kind::SqlxSessions,
];

/// The lifetime of the measured access tokens: longer than any run, so none expires during
/// it (the library's default is 5 minutes).
const TOKEN_TTL: Duration = Duration::from_secs(3600);

/// Tasks minting the tokens beforehand.
const MINT_TASKS: usize = 16;

/// A verifier answering requests that carry access tokens.
#[derive(Clone, Debug)]
pub struct Verify {
    kind: Kind,
    verifier: Verifier,
    tokens: Arc<[String]>,
}

impl Probe for Verify {
    fn kind(&self) -> Kind {
        self.kind
    }

    fn token(&self, i: u64) -> String {
        self.tokens[(i % self.tokens.len() as u64) as usize].clone()
    }

    async fn probe(&self, token: &str) -> Result<bool> {
        Ok(std::hint::black_box(self.verifier.verify(token)).is_ok())
    }
}

/// One case: a verifier or a store.
#[derive(Clone, Debug)]
pub enum Case {
    /// Access tokens, verified.
    Verify(Verify),
    /// Session tokens, looked up.
    Lookup(Contender),
}

impl Probe for Case {
    fn kind(&self) -> Kind {
        match self {
            Case::Verify(v) => v.kind(),
            Case::Lookup(c) => c.kind(),
        }
    }

    fn token(&self, i: u64) -> String {
        match self {
            Case::Verify(v) => v.token(i),
            Case::Lookup(c) => c.token(i),
        }
    }

    async fn probe(&self, token: &str) -> Result<bool> {
        match self {
            Case::Verify(v) => v.probe(token).await,
            Case::Lookup(c) => c.lookup(token).await,
        }
    }
}

/// Waits until `store`'s cache answers (its feed has completed a round within the bound).
async fn serving(store: &SessionStore) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !store.cache_stats().is_some_and(|s| s.serving) {
        ensure!(
            Instant::now() < deadline,
            "the cache's feed did not start within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(())
}

/// Looks each of `tokens` up in `store` (which fills its cache) and mints an access token
/// for the session with each issuer, from [`MINT_TASKS`] tasks; the tokens in the order of
/// `tokens`, one list per issuer.
async fn mint_all(
    store: &SessionStore,
    issuers: &[Issuer],
    tokens: &Arc<[String]>,
) -> Result<Vec<Arc<[String]>>> {
    let mut tasks = Vec::new();
    for t in 0..MINT_TASKS {
        let (store, issuers, tokens) = (store.clone(), issuers.to_vec(), tokens.clone());
        tasks.push(tokio::spawn(async move {
            let mut minted = Vec::new();
            for (i, token) in tokens.iter().enumerate().skip(t).step_by(MINT_TASKS) {
                let session = store
                    .lookup(token)
                    .await?
                    .with_context(|| format!("session {i} not found"))?;
                let access: Vec<String> = issuers
                    .iter()
                    .map(|issuer| Ok(issuer.mint(&session)?.expose().to_owned()))
                    .collect::<Result<_>>()?;
                minted.push((i, access));
            }
            anyhow::Ok(minted)
        }));
    }
    let mut lists = vec![vec![String::new(); tokens.len()]; issuers.len()];
    for task in tasks {
        for (i, access) in task.await?? {
            for (list, token) in lists.iter_mut().zip(access) {
                list[i] = token;
            }
        }
    }
    Ok(lists.into_iter().map(Arc::from).collect())
}

/// The per-request cost of each case on `db`, with `plan.cache_sessions` distinct
/// sessions, at each of `plan.concurrency`, cases interleaved round by round.
pub async fn run(plan: &Plan, db: &Db) -> Result<Vec<LookupResult>> {
    let n = plan.cache_sessions;
    eprintln!("[{}] access tokens: {n} sessions", db.kind.name());
    let cached =
        SqlxSessions::open_with(db, "access_cache", Some(CacheConfig::new(n as usize))).await?;
    let plain = SqlxSessions::open(db, "access").await?;
    let contenders = [Contender::Lib(cached.clone()), Contender::Lib(plain)];
    super::fill_all(db, &contenders, 0..n, super::valid_expiry()).await?;
    let store = cached.store();
    let eddsa = Issuer::builder(store.clone(), SigningKey::generate_ed25519("bench-eddsa")?)
        .ttl(TOKEN_TTL)
        .build()?;
    let secret: [u8; 32] = rand::random();
    let hs256 = Issuer::builder(store.clone(), SigningKey::hs256("bench-hs256", &secret)?)
        .ttl(TOKEN_TTL)
        .build()?;
    // Following the feed is a gap: tokens issued up to this second would be refused (as
    // they would be after the feed's first round), so the tokens are minted once the feed
    // answers and a new second has begun.
    let following = eddsa.verifier().follow_revocations(store)?;
    serving(store).await?;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let t0 = Instant::now();
    let session_tokens: Arc<[String]> = (0..n).map(|i| cached.token(i)).collect();
    let minted = mint_all(store, &[eddsa.clone(), hs256.clone()], &session_tokens).await?;
    eprintln!(
        "  [{}] minted {n} EdDSA and {n} HS256 tokens in {:.1}s (cache: {})",
        db.kind.name(),
        t0.elapsed().as_secs_f64(),
        store
            .cache_stats()
            .map(|s| s.to_string())
            .unwrap_or_default()
    );
    let verify = |kind, verifier, tokens: &Arc<[String]>| {
        let v = Verify {
            kind,
            verifier,
            tokens: tokens.clone(),
        };
        (Case::Verify(v), Tokens::List(tokens.clone()))
    };
    let lookup = |c: &Contender| {
        let tokens: Arc<[String]> = (0..n).map(|i| c.token(i)).collect();
        (Case::Lookup(c.clone()), Tokens::List(tokens))
    };
    let cases = [
        verify(Kind::VerifyEdDsa, eddsa.verifier(), &minted[0]),
        verify(Kind::VerifyHs256, hs256.verifier(), &minted[1]),
        verify(Kind::VerifyRevocations, following, &minted[0]),
        lookup(&contenders[0]),
        lookup(&contenders[1]),
    ];
    let before = store.cache_stats();
    let measured = super::interleave(plan, db, "access", &cases, &plan.concurrency).await?;
    super::cache::report_stats(db, before, store);
    super::close_all(&contenders).await;
    Ok(measured.finish(db.kind, &KINDS, &plan.concurrency, |_| n))
}

/// The measurement's summary line: EdDSA verification's throughput divided by the
/// database lookup's and by the cached lookup's, at 16 tasks.
pub fn ratio_line(rows: &[LookupResult]) -> String {
    let f = |db, other| two_places(throughput_ratio(rows, db, 16, Kind::VerifyEdDsa, other));
    format!(
        "access ratios: sqlite verify-vs-db={} verify-vs-cache={} postgres verify-vs-db={} verify-vs-cache={}",
        f(DbKind::Sqlite, Kind::SqlxSessions),
        f(DbKind::Sqlite, Kind::SqlxSessionsCache),
        f(DbKind::Postgres, Kind::SqlxSessions),
        f(DbKind::Postgres, Kind::SqlxSessionsCache),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::row;

    #[test]
    fn ratio_line_compares_eddsa_verification_at_16_tasks() {
        let rows = [
            row(DbKind::Sqlite, Kind::VerifyEdDsa, 16, 30_000.0),
            row(DbKind::Sqlite, Kind::VerifyEdDsa, 1, 1.0),
            row(DbKind::Sqlite, Kind::SqlxSessions, 16, 40_000.0),
            row(DbKind::Sqlite, Kind::SqlxSessionsCache, 16, 600_000.0),
            row(DbKind::Postgres, Kind::VerifyEdDsa, 16, 27_000.0),
            row(DbKind::Postgres, Kind::SqlxSessions, 16, 9_000.0),
        ];
        assert_eq!(
            ratio_line(&rows),
            "access ratios: sqlite verify-vs-db=0.75 verify-vs-cache=0.05 postgres verify-vs-db=3.00 verify-vs-cache=n/a"
        );
    }
}
