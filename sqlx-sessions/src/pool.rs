//! The database a store lives in: one connection pool on one of the supported databases.

use std::sync::Arc;
use std::time::Duration;

use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::schema::TableSpec;

/// A connection pool on one of the supported databases, the one answer to "which database".
///
/// [`Pool::connect`] chooses the database by the URL's scheme; an application that already
/// has a sqlx pool converts it with `From` (`SessionStore::builder` takes either).
/// More databases may be added: match with a wildcard arm.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use sqlx_sessions::{Pool, SessionStore};
///
/// let pool = Pool::connect("sqlite::memory:").await?;
/// let store = SessionStore::builder(pool.clone()).build()?;
/// store.migrate().await?;
/// pool.close().await;
/// # Ok(()) }
/// ```
#[non_exhaustive]
#[derive(Clone, Debug)]
pub enum Pool {
    /// A SQLite database.
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::SqlitePool),
    /// A PostgreSQL database.
    #[cfg(feature = "postgres")]
    Postgres(sqlx::PgPool),
    /// A MySQL or MariaDB database.
    #[cfg(feature = "mysql")]
    Mysql(sqlx::MySqlPool),
}

/// How [`Pool::connect_with`] opens a pool. The defaults are sqlx's, except that a missing
/// SQLite file is created.
///
/// ```
/// use std::time::Duration;
/// use sqlx_sessions::PoolOptions;
///
/// let options = PoolOptions::new()
///     .max_connections(4)
///     .acquire_timeout(Duration::from_secs(2))
///     .lazy(true)
///     .create_if_missing(false);
/// # let _ = options;
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolOptions {
    max_connections: Option<u32>,
    acquire_timeout: Option<Duration>,
    lazy: bool,
    create_if_missing: bool,
}

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions {
            max_connections: None,
            acquire_timeout: None,
            lazy: false,
            create_if_missing: true,
        }
    }
}

impl PoolOptions {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// The most connections the pool opens (default: sqlx's default).
    pub fn max_connections(mut self, n: u32) -> Self {
        self.max_connections = Some(n);
        self
    }

    /// How long a statement waits for a free connection before failing (default: sqlx's).
    pub fn acquire_timeout(mut self, timeout: Duration) -> Self {
        self.acquire_timeout = Some(timeout);
        self
    }

    /// Whether to connect at the first statement instead of at once (default false).
    pub fn lazy(mut self, lazy: bool) -> Self {
        self.lazy = lazy;
        self
    }

    /// Whether a missing SQLite file is created (default true; no effect on other databases).
    pub fn create_if_missing(mut self, create: bool) -> Self {
        self.create_if_missing = create;
        self
    }

    fn apply<DB: sqlx::Database>(
        &self,
        mut pool: sqlx::pool::PoolOptions<DB>,
    ) -> sqlx::pool::PoolOptions<DB> {
        if let Some(n) = self.max_connections {
            pool = pool.max_connections(n);
        }
        if let Some(t) = self.acquire_timeout {
            pool = pool.acquire_timeout(t);
        }
        pool
    }
}

/// The databases a [`Pool`] can be on, named by a URL's scheme.
///
/// ```
/// use sqlx_sessions::DatabaseKind;
/// assert_eq!(DatabaseKind::of_url("postgres://app@db/app")?, DatabaseKind::Postgres);
/// assert_eq!(DatabaseKind::of_url("sqlite:sessions.db")?, DatabaseKind::Sqlite);
/// assert_eq!(DatabaseKind::of_url("sessions.db")?, DatabaseKind::Sqlite);
/// assert_eq!(DatabaseKind::of_url("mariadb://app@db/app")?, DatabaseKind::Mysql);
/// assert!(DatabaseKind::of_url("mssql://app@db/app").is_err());
/// # Ok::<(), sqlx_sessions::Error>(())
/// ```
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DatabaseKind {
    /// SQLite: `sqlite:` URLs and plain file paths.
    Sqlite,
    /// PostgreSQL: `postgres://` and `postgresql://` URLs.
    Postgres,
    /// MySQL or MariaDB: `mysql://` and `mariadb://` URLs.
    Mysql,
}

impl DatabaseKind {
    /// The database `url` names: `sqlite:` URLs and plain file paths are SQLite,
    /// `postgres://` and `postgresql://` PostgreSQL, `mysql://` and `mariadb://` MySQL or
    /// MariaDB; any other scheme is refused with an error naming it. Whether this build supports the database is not checked here.
    pub fn of_url(url: &str) -> Result<DatabaseKind> {
        match scheme(url.trim()) {
            None | Some("sqlite") => Ok(DatabaseKind::Sqlite),
            Some("postgres" | "postgresql") => Ok(DatabaseKind::Postgres),
            Some("mysql" | "mariadb") => Ok(DatabaseKind::Mysql),
            Some(other) => Err(Error::InvalidUrl(format!(
                "unsupported scheme `{other}` (use sqlite:, postgres:// or mysql://)"
            ))),
        }
    }

    /// The lowercase name: `sqlite`, `postgres` or `mysql`.
    pub fn name(self) -> &'static str {
        match self {
            DatabaseKind::Sqlite => "sqlite",
            DatabaseKind::Postgres => "postgres",
            DatabaseKind::Mysql => "mysql",
        }
    }
}

impl std::fmt::Display for DatabaseKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The scheme of a URL (`sqlite`, `postgres`, ...), or `None` for a plain file path.
fn scheme(url: &str) -> Option<&str> {
    let (scheme, _) = url.split_once(':')?;
    let is_scheme = scheme
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'-' || b == b'.');
    // `C:\sessions.db` is a Windows path, not a URL with the scheme `c`.
    (is_scheme && scheme.len() > 1).then_some(scheme)
}

impl Pool {
    /// Connects to `url` with the default [`PoolOptions`]: `sqlite:` URLs and plain file
    /// paths open SQLite (the file is created when missing), `postgres://` and
    /// `postgresql://` open PostgreSQL, `mysql://` and `mariadb://` open MySQL or MariaDB;
    /// any other scheme is refused with an error naming it.
    pub async fn connect(url: &str) -> Result<Pool> {
        Self::connect_with(url, &PoolOptions::default()).await
    }

    /// Connects to `url` (see [`Pool::connect`]) with `options`.
    pub async fn connect_with(url: &str, options: &PoolOptions) -> Result<Pool> {
        match DatabaseKind::of_url(url)? {
            DatabaseKind::Sqlite => Self::sqlite(url.trim(), options).await,
            DatabaseKind::Postgres => Self::postgres(url.trim(), options).await,
            DatabaseKind::Mysql => Self::mysql(url.trim(), options).await,
        }
    }

    #[cfg(feature = "sqlite")]
    async fn sqlite(url: &str, options: &PoolOptions) -> Result<Pool> {
        let connect = crate::backend::sqlite::connect_options(url)?
            .create_if_missing(options.create_if_missing);
        let pool = options.apply(sqlx::sqlite::SqlitePoolOptions::new());
        Ok(Pool::Sqlite(if options.lazy {
            pool.connect_lazy_with(connect)
        } else {
            pool.connect_with(connect).await?
        }))
    }

    #[cfg(not(feature = "sqlite"))]
    async fn sqlite(_: &str, _: &PoolOptions) -> Result<Pool> {
        Err(missing_feature("sqlite"))
    }

    #[cfg(feature = "postgres")]
    async fn postgres(url: &str, options: &PoolOptions) -> Result<Pool> {
        use std::str::FromStr as _;
        let connect = sqlx::postgres::PgConnectOptions::from_str(url)
            .map_err(|e| Error::InvalidUrl(e.to_string()))?;
        let pool = options.apply(sqlx::postgres::PgPoolOptions::new());
        Ok(Pool::Postgres(if options.lazy {
            pool.connect_lazy_with(connect)
        } else {
            pool.connect_with(connect).await?
        }))
    }

    #[cfg(not(feature = "postgres"))]
    async fn postgres(_: &str, _: &PoolOptions) -> Result<Pool> {
        Err(missing_feature("postgres"))
    }

    #[cfg(feature = "mysql")]
    async fn mysql(url: &str, options: &PoolOptions) -> Result<Pool> {
        use std::str::FromStr as _;
        // sqlx sets the session time zone to UTC on every connection (its default),
        // which the DATETIME columns rely on.
        let connect = sqlx::mysql::MySqlConnectOptions::from_str(url)?;
        let pool = options.apply(sqlx::mysql::MySqlPoolOptions::new());
        Ok(Pool::Mysql(if options.lazy {
            pool.connect_lazy_with(connect)
        } else {
            pool.connect_with(connect).await?
        }))
    }

    #[cfg(not(feature = "mysql"))]
    async fn mysql(_: &str, _: &PoolOptions) -> Result<Pool> {
        Err(missing_feature("mysql"))
    }

    /// The database this pool is on.
    pub fn kind(&self) -> DatabaseKind {
        match *self {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(_) => DatabaseKind::Sqlite,
            #[cfg(feature = "postgres")]
            Pool::Postgres(_) => DatabaseKind::Postgres,
            #[cfg(feature = "mysql")]
            Pool::Mysql(_) => DatabaseKind::Mysql,
        }
    }

    /// Closes the pool: waits for connections in use to return, finishing any write the
    /// database still buffers.
    pub async fn close(&self) {
        match *self {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(ref pool) => pool.close().await,
            #[cfg(feature = "postgres")]
            Pool::Postgres(ref pool) => pool.close().await,
            #[cfg(feature = "mysql")]
            Pool::Mysql(ref pool) => pool.close().await,
        }
    }

    /// Binds the pool to a table.
    pub(crate) fn into_backend(self, spec: Arc<TableSpec>) -> Result<Arc<dyn Backend>> {
        match self {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(pool) => crate::backend::sqlite::backend(pool, spec),
            #[cfg(feature = "postgres")]
            Pool::Postgres(pool) => crate::backend::postgres::backend(pool, spec),
            #[cfg(feature = "mysql")]
            Pool::Mysql(pool) => crate::backend::mysql::backend(pool, spec),
        }
    }
}

#[cfg(any(
    not(feature = "sqlite"),
    not(feature = "postgres"),
    not(feature = "mysql")
))]
fn missing_feature(feature: &'static str) -> Error {
    Error::InvalidUrl(format!(
        "this build has no {feature} support (enable the cargo feature `{feature}`)"
    ))
}

#[cfg(feature = "sqlite")]
impl From<sqlx::SqlitePool> for Pool {
    fn from(pool: sqlx::SqlitePool) -> Self {
        Pool::Sqlite(pool)
    }
}

#[cfg(feature = "postgres")]
impl From<sqlx::PgPool> for Pool {
    fn from(pool: sqlx::PgPool) -> Self {
        Pool::Postgres(pool)
    }
}

#[cfg(feature = "mysql")]
impl From<sqlx::MySqlPool> for Pool {
    fn from(pool: sqlx::MySqlPool) -> Self {
        Pool::Mysql(pool)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes() {
        assert_eq!(scheme("sqlite:sessions.db"), Some("sqlite"));
        assert_eq!(scheme("sqlite://sessions.db"), Some("sqlite"));
        assert_eq!(scheme("postgres://u@h/db"), Some("postgres"));
        assert_eq!(scheme("mysql://u@h/db"), Some("mysql"));
        assert_eq!(scheme("sessions.db"), None);
        assert_eq!(scheme("./dir:x/sessions.db"), None);
        assert_eq!(scheme("C:\\sessions.db"), None);
        let kind = DatabaseKind::of_url;
        assert_eq!(kind("postgresql://h/db").ok(), Some(DatabaseKind::Postgres));
        assert_eq!(kind(" sessions.db").ok(), Some(DatabaseKind::Sqlite));
        assert_eq!(kind("mysql://h/db").ok(), Some(DatabaseKind::Mysql));
        assert_eq!(kind("mariadb://h/db").ok(), Some(DatabaseKind::Mysql));
        let err = kind("mssql://h/db").unwrap_err().to_string();
        assert!(err.contains("`mssql`"), "{err}");
    }
}
