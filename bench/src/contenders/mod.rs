//! The contenders, behind one enum so that the measurements treat them alike.

pub mod moka;
pub mod raw;
pub mod sqlx_sessions;
pub mod tower;

use std::ops::Range;

use anyhow::Result;
use serde::Serialize;
use time::OffsetDateTime;

/// Seconds over which the expiries of bulk-filled rows are spread (twelve hours).
///
/// Valid rows expire between 6.5 and 7 days after their fill. sqlx-sessions extends a 7-day
/// session once it is more than a day stale, that is when less than 6 days remain; with a
/// spread of a whole day, the rows at its far end became due minutes after the fill, and a
/// share of the lookups that grew with the age of the table were extension writes rather than
/// lookups (those writes are measured on their own, by the writes-per-lookup case). With
/// twelve hours no bulk-filled row becomes due during a run shorter than twelve hours.
pub const EXPIRY_SPREAD_SECS: u64 = 43_200;

/// The expiry of bulk-filled row `i`: `i % EXPIRY_SPREAD_SECS` seconds before `base`, so that
/// expiry indexes hold many distinct values, as they would in a real table.
pub fn row_expiry(base: OffsetDateTime, i: u64) -> OffsetDateTime {
    base - time::Duration::seconds((i % EXPIRY_SPREAD_SECS) as i64)
}

use ::sqlx_sessions::cache::CacheConfig;

use crate::db::Db;

/// Sessions a cache holds when a cached contender is opened by [`Contender::open`] (the cache
/// measurements size it to their sessions instead).
pub const CACHE_CAPACITY: u64 = 100_000;

/// Which implementation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// This workspace's library.
    SqlxSessions,
    /// tower-sessions with tower-sessions-sqlx-store.
    TowerSessions,
    /// Hash plus one point SELECT with sqlx, no library.
    RawSqlx,
    /// This workspace's library with its read cache (the cache measurements only).
    #[value(skip)]
    SqlxSessionsCache,
    /// tower-sessions with its moka `CachingSessionStore` (the cache measurements only).
    #[value(skip)]
    TowerMoka,
    /// An access token verified with its EdDSA key (the access-token measurement only).
    #[value(skip)]
    VerifyEdDsa,
    /// An access token verified with its HS256 key (the access-token measurement only).
    #[value(skip)]
    VerifyHs256,
    /// An EdDSA access token verified, and its session checked against the revocations
    /// heard through the cache's feed (the access-token measurement only).
    #[value(skip)]
    VerifyRevocations,
}

impl Kind {
    /// All contenders, in report order.
    pub const ALL: [Kind; 3] = [Kind::SqlxSessions, Kind::TowerSessions, Kind::RawSqlx];

    /// Name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Kind::SqlxSessions => "sqlx-sessions",
            Kind::TowerSessions => "tower-sessions",
            Kind::RawSqlx => "raw-sqlx",
            Kind::SqlxSessionsCache => "sqlx-sessions+cache",
            Kind::TowerMoka => "tower-sessions+moka",
            Kind::VerifyEdDsa => "verify-eddsa",
            Kind::VerifyHs256 => "verify-hs256",
            Kind::VerifyRevocations => "verify+revocations",
        }
    }
}

/// One contender bound to one table of one database.
#[derive(Clone, Debug)]
pub enum Contender {
    /// sqlx-sessions.
    Lib(sqlx_sessions::SqlxSessions),
    /// tower-sessions.
    Tower(tower::Tower),
    /// Raw sqlx.
    Raw(raw::Raw),
    /// tower-sessions + moka.
    Moka(moka::TowerMoka),
}

impl Contender {
    /// Opens the contender's table for the measurement `name`, creating it if needed.
    pub async fn open(kind: Kind, db: &Db, name: &str) -> Result<Self> {
        Ok(match kind {
            Kind::SqlxSessions => {
                Contender::Lib(sqlx_sessions::SqlxSessions::open(db, name).await?)
            }
            Kind::TowerSessions => Contender::Tower(tower::Tower::open(db, name).await?),
            Kind::RawSqlx => Contender::Raw(raw::Raw::open(db, name).await?),
            Kind::SqlxSessionsCache => Contender::Lib(
                sqlx_sessions::SqlxSessions::open_with(
                    db,
                    name,
                    Some(CacheConfig::new(CACHE_CAPACITY as usize)),
                )
                .await?,
            ),
            Kind::TowerMoka => {
                Contender::Moka(moka::TowerMoka::open(db, name, CACHE_CAPACITY).await?)
            }
            Kind::VerifyEdDsa | Kind::VerifyHs256 | Kind::VerifyRevocations => {
                anyhow::bail!("{} verifies access tokens: it has no table", kind.name())
            }
        })
    }

    /// Which implementation this is.
    pub fn kind(&self) -> Kind {
        match self {
            Contender::Lib(c) if c.cached() => Kind::SqlxSessionsCache,
            Contender::Lib(_) => Kind::SqlxSessions,
            Contender::Tower(_) => Kind::TowerSessions,
            Contender::Raw(_) => Kind::RawSqlx,
            Contender::Moka(_) => Kind::TowerMoka,
        }
    }

    /// The table name (for statistics and triggers).
    pub fn table(&self) -> &str {
        match self {
            Contender::Lib(c) => c.table(),
            Contender::Tower(c) => c.table(),
            Contender::Raw(c) => c.table(),
            Contender::Moka(c) => c.tower().table(),
        }
    }

    /// The schema of the table on PostgreSQL.
    pub fn pg_schema(&self) -> &'static str {
        match self {
            Contender::Lib(_) => "public",
            Contender::Tower(_) | Contender::Moka(_) => tower::PG_SCHEMA,
            Contender::Raw(_) => "public",
        }
    }

    /// The token a client would send for row `i`.
    pub fn token(&self, i: u64) -> String {
        match self {
            Contender::Lib(c) => c.token(i),
            Contender::Tower(c) => c.token(i),
            Contender::Raw(c) => c.token(i),
            Contender::Moka(c) => c.tower().token(i),
        }
    }

    /// Bulk-inserts rows `range` expiring at `expires_at`.
    pub async fn fill(&self, range: Range<u64>, expires_at: OffsetDateTime) -> Result<()> {
        match self {
            Contender::Lib(c) => c.fill(range, expires_at).await,
            Contender::Tower(c) => c.fill(range, expires_at).await,
            Contender::Raw(c) => c.fill(range, expires_at).await,
            Contender::Moka(c) => c.tower().fill(range, expires_at).await,
        }
    }

    /// Looks a token up; true when a valid session was found.
    pub async fn lookup(&self, token: &str) -> Result<bool> {
        match self {
            Contender::Lib(c) => c.lookup(token).await,
            Contender::Tower(c) => c.lookup(token).await,
            Contender::Raw(c) => c.lookup(token).await,
            Contender::Moka(c) => c.lookup(token).await,
        }
    }

    /// One request that reads the session as an app serves it: the library's lookup (with its
    /// extension rule), or tower-sessions' middleware sequence with or without `always_save`.
    pub async fn request(&self, token: &str, always_save: bool) -> Result<bool> {
        match self {
            Contender::Lib(c) => c.lookup(token).await,
            Contender::Tower(c) => c.request(token, always_save).await,
            Contender::Raw(c) => c.lookup(token).await,
            Contender::Moka(c) => c.lookup(token).await,
        }
    }

    /// Creates one session; returns its token.
    pub async fn create(&self, n: u64) -> Result<String> {
        match self {
            Contender::Lib(c) => c.create(n).await,
            Contender::Tower(c) => c.create(n).await,
            Contender::Raw(c) => c.create(n).await,
            Contender::Moka(c) => c.tower().create(n).await,
        }
    }

    /// Deletes expired sessions; the count when the implementation reports one.
    pub async fn delete_expired(&self) -> Result<Option<u64>> {
        match self {
            Contender::Lib(c) => c.delete_expired().await.map(Some),
            Contender::Tower(c) => c.delete_expired().await.map(|()| None),
            Contender::Raw(c) => c.delete_expired().await.map(Some),
            Contender::Moka(c) => c.tower().delete_expired().await.map(|()| None),
        }
    }

    /// Rows in the table.
    pub async fn count(&self) -> Result<u64> {
        match self {
            Contender::Lib(c) => c.count().await,
            Contender::Tower(c) => c.count().await,
            Contender::Raw(c) => c.count().await,
            Contender::Moka(c) => c.tower().count().await,
        }
    }

    /// Closes the contender's pool.
    pub async fn close(&self) {
        match self {
            Contender::Lib(c) => c.close().await,
            Contender::Tower(c) => c.close().await,
            Contender::Raw(c) => c.close().await,
            Contender::Moka(c) => c.tower().close().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::PoolSettings;

    /// The bulk fill, lookup, creation, pruning and count of the library and raw contenders on
    /// a SQLite file: filled rows are found (by the library too, in the layout the fill wrote),
    /// unknown tokens are not, and only the expired rows are pruned.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_contenders_fill_find_and_prune() {
        let dir = tempfile::tempdir().unwrap();
        let pools = PoolSettings {
            sqlite_max: 2,
            pg_max: 2,
            mysql_max: 2,
            test_before_acquire: false,
        };
        let db = Db::sqlite(dir.path(), pools);
        let now = OffsetDateTime::now_utc();
        for kind in [Kind::SqlxSessions, Kind::RawSqlx] {
            let c = Contender::open(kind, &db, "unit").await.unwrap();
            // More rows than one multi-row statement holds, so the fill takes several.
            c.fill(0..1_200, now + time::Duration::days(7))
                .await
                .unwrap();
            assert_eq!(c.count().await.unwrap(), 1_200, "{kind:?}");
            for i in [0, 499, 500, 1_199] {
                assert!(c.lookup(&c.token(i)).await.unwrap(), "{kind:?} row {i}");
            }
            assert!(!c.lookup(&c.token(1_200)).await.unwrap(), "{kind:?}");
            let created = c.create(1).await.unwrap();
            assert!(c.lookup(&created).await.unwrap(), "{kind:?}");
            c.fill(1_200..1_300, now - time::Duration::days(1))
                .await
                .unwrap();
            assert_eq!(c.count().await.unwrap(), 1_301, "{kind:?}");
            assert!(!c.lookup(&c.token(1_250)).await.unwrap(), "{kind:?}");
            assert_eq!(c.delete_expired().await.unwrap(), Some(100), "{kind:?}");
            assert_eq!(c.count().await.unwrap(), 1_201, "{kind:?}");
            c.close().await;
        }
    }
}
