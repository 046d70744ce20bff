//! Running a store's statements on a connection the caller holds (a transaction), or on a
//! connection of the store's pool.

use std::ops::{Deref, DerefMut};

use crate::error::Result;

/// A connection the caller holds, such as an open transaction, for the `*_in` operations of
/// [`SessionStore`](crate::SessionStore) (`create_in`, `lookup_in`, `update_in`, ...).
///
/// Made from `&mut SqliteConnection`, `&mut PgConnection` or `&mut MySqlConnection`, which is what `&mut *tx` gives
/// for an sqlx `Transaction`:
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use sqlx_sessions::{NewSession, SessionStore};
/// let pool = sqlx::SqlitePool::connect("sqlite::memory:").await?;
/// let store = SessionStore::builder(pool.clone()).build()?;
/// store.migrate().await?;
/// let mut tx = pool.begin().await?;
/// let created = store.create_in(&mut *tx, NewSession::new().extra("user_id", "7")).await?;
/// tx.rollback().await?; // nothing stays
/// assert!(store.lookup(created.token.expose()).await?.is_none());
/// # Ok(()) }
/// ```
///
/// The operation runs entirely on that connection, with the guarantees it has on the
/// pool; what it writes becomes visible to others when the caller commits. A connection of
/// another database than the store's is refused ([`Error::Config`](crate::Error::Config) naming `connection`).
#[derive(Debug)]
#[non_exhaustive]
pub enum Conn<'c> {
    /// A SQLite connection.
    #[cfg(feature = "sqlite")]
    Sqlite(&'c mut sqlx::SqliteConnection),
    /// A PostgreSQL connection.
    #[cfg(feature = "postgres")]
    Postgres(&'c mut sqlx::PgConnection),
    /// A MySQL or MariaDB connection.
    #[cfg(feature = "mysql")]
    Mysql(&'c mut sqlx::MySqlConnection),
    #[doc(hidden)]
    #[cfg(not(any(feature = "sqlite", feature = "postgres")))]
    None(std::marker::PhantomData<&'c ()>),
}

/// Where a store operation runs: `None` on the store's pool, or the caller's connection.
pub(crate) type On<'a, 'c> = Option<&'a mut Conn<'c>>;

/// A connection a statement runs on: one taken from the pool for this statement, or the
/// caller's.
pub(crate) enum Held<'a, DB: sqlx::Database> {
    Pooled(sqlx::pool::PoolConnection<DB>),
    Borrowed(&'a mut DB::Connection),
}

impl<'a, DB: sqlx::Database> Held<'a, DB> {
    /// The caller's connection when `given`, else one from `pool`.
    pub(crate) async fn acquire(
        pool: &sqlx::Pool<DB>,
        given: Option<&'a mut DB::Connection>,
    ) -> Result<Self> {
        Ok(match given {
            Some(conn) => Held::Borrowed(conn),
            None => Held::Pooled(pool.acquire().await?),
        })
    }
}

impl<DB: sqlx::Database> Deref for Held<'_, DB> {
    type Target = DB::Connection;

    fn deref(&self) -> &DB::Connection {
        match self {
            Held::Pooled(c) => c,
            Held::Borrowed(c) => c,
        }
    }
}

impl<DB: sqlx::Database> DerefMut for Held<'_, DB> {
    fn deref_mut(&mut self) -> &mut DB::Connection {
        match self {
            Held::Pooled(c) => c,
            Held::Borrowed(c) => c,
        }
    }
}

/// A transaction holding a store's write lock for one key (see
/// [`Backend::begin_locked`](super::Backend::begin_locked)); rolled back when dropped
/// uncommitted.
pub(crate) enum Locked<'a> {
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::Transaction<'a, sqlx::Sqlite>),
    #[cfg(feature = "postgres")]
    Postgres(sqlx::Transaction<'a, sqlx::Postgres>),
    #[cfg(feature = "mysql")]
    Mysql(sqlx::Transaction<'a, sqlx::MySql>),
    #[cfg(not(any(feature = "sqlite", feature = "postgres", feature = "mysql")))]
    #[allow(dead_code)]
    None(std::marker::PhantomData<&'a ()>),
}

impl Locked<'_> {
    /// The transaction's connection, for the statements that run under the lock.
    pub(crate) fn conn(&mut self) -> Conn<'_> {
        match self {
            #[cfg(feature = "sqlite")]
            Locked::Sqlite(tx) => Conn::Sqlite(tx),
            #[cfg(feature = "postgres")]
            Locked::Postgres(tx) => Conn::Postgres(tx),
            #[cfg(feature = "mysql")]
            Locked::Mysql(tx) => Conn::Mysql(tx),
            #[cfg(not(any(feature = "sqlite", feature = "postgres", feature = "mysql")))]
            Locked::None(p) => Conn::None(*p),
        }
    }

    /// Commits (or releases the savepoint on a caller's transaction).
    pub(crate) async fn commit(self) -> Result<()> {
        match self {
            #[cfg(feature = "sqlite")]
            Locked::Sqlite(tx) => tx.commit().await?,
            #[cfg(feature = "postgres")]
            Locked::Postgres(tx) => tx.commit().await?,
            #[cfg(feature = "mysql")]
            Locked::Mysql(tx) => tx.commit().await?,
            #[cfg(not(any(feature = "sqlite", feature = "postgres", feature = "mysql")))]
            Locked::None(_) => {}
        }
        Ok(())
    }
}
