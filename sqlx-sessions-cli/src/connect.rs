//! Opening the database named by `--database-url` and the store on its table.

use std::str::FromStr as _;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqlitePool, SqlitePoolOptions};
use sqlx_sessions::{SessionStore, StoreBuilder};

use crate::cli::GlobalArgs;
use crate::error::CliError;

/// The environment variable holding the secret salt (never a flag: shell history).
pub(crate) const SALT_ENV: &str = "SESSIONS_SECRET_SALT";

/// A connection pool on one of the supported databases.
#[derive(Clone, Debug)]
pub(crate) enum Database {
    /// A SQLite file.
    Sqlite(SqlitePool),
    /// A PostgreSQL database.
    Postgres(PgPool),
}

impl Database {
    /// Opens a lazy pool: nothing connects until the first statement, so `migrate --print`
    /// works without a database. A SQLite file is created only when `create_file` is set
    /// (by `migrate`); every other command on a missing file fails as unreachable.
    pub(crate) fn open(global: &GlobalArgs, create_file: bool) -> Result<Self, CliError> {
        let url = global.database_url.as_deref().map(str::trim).unwrap_or("");
        if url.is_empty() {
            return Err(CliError::usage(
                "no database: pass --database-url or set DATABASE_URL",
            ));
        }
        let timeout = std::time::Duration::try_from(global.connect_timeout)
            .map_err(|_| CliError::usage("--connect-timeout must be positive"))?;
        match scheme(url) {
            Some("postgres" | "postgresql") => {
                let options = PgConnectOptions::from_str(url)
                    .map_err(|e| CliError::usage(format!("invalid --database-url: {}", e)))?;
                let pool = PgPoolOptions::new()
                    .max_connections(2)
                    .acquire_timeout(timeout)
                    .connect_lazy_with(options);
                Ok(Database::Postgres(pool))
            }
            Some("sqlite") | None => {
                let options = sqlx_sessions::backend::sqlite::connect_options(url)
                    .map_err(|e| CliError::usage(format!("invalid --database-url: {e}")))?
                    .create_if_missing(create_file);
                let pool = SqlitePoolOptions::new()
                    .max_connections(1)
                    .acquire_timeout(timeout)
                    .connect_lazy_with(options);
                Ok(Database::Sqlite(pool))
            }
            Some(other) => Err(CliError::usage(format!(
                "invalid --database-url: unsupported scheme `{other}` (use sqlite: or postgres://)"
            ))),
        }
    }

    /// Closes the pool, finishing any write the database still buffers.
    pub(crate) async fn close(&self) {
        match self {
            Database::Sqlite(pool) => pool.close().await,
            Database::Postgres(pool) => pool.close().await,
        }
    }
}

/// The scheme of a URL (`sqlite`, `postgres`, ...), or `None` for a plain file path.
fn scheme(url: &str) -> Option<&str> {
    let (scheme, _) = url.split_once(':')?;
    let is_scheme = !scheme.is_empty()
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'-' || b == b'.');
    // `C:\sessions.db` is a Windows path, not a URL with the scheme `c`.
    (is_scheme && scheme.len() > 1).then_some(scheme)
}

/// Builds the store the global options describe, on `db`.
pub(crate) fn store(
    global: &GlobalArgs,
    db: &Database,
    prune_batch_size: Option<u32>,
) -> Result<SessionStore, CliError> {
    let mut builder = match db {
        Database::Sqlite(pool) => SessionStore::builder(pool.clone()),
        Database::Postgres(pool) => SessionStore::builder(pool.clone()),
    };
    builder = configure(builder, global);
    if let Some(n) = prune_batch_size {
        builder = builder.prune_batch_size(n);
    }
    if let Some(salt) = std::env::var_os(SALT_ENV).filter(|s| !s.is_empty()) {
        let salt = salt
            .into_string()
            .map_err(|_| CliError::usage(format!("{SALT_ENV} is not valid UTF-8")))?;
        builder = builder.secret_salt(salt);
    }
    Ok(builder.build()?)
}

fn configure(mut builder: StoreBuilder, global: &GlobalArgs) -> StoreBuilder {
    builder = builder
        .table(global.table.clone())
        .hashing(global.hashing)
        .max_lifetime(global.max_lifetime.0)
        .token_length(global.token_length);
    if let Some(schema) = &global.schema {
        builder = builder.schema(schema.clone());
    }
    if let Some(prefix) = &global.token_prefix {
        builder = builder.token_prefix(prefix.clone());
    }
    for col in &global.extra_columns {
        builder = builder.extra_column(col.clone());
    }
    builder
}

/// The column `--user` filters on: `user_id` when declared, otherwise the first extra column.
pub(crate) fn user_column(store: &SessionStore) -> Result<String, CliError> {
    let extras = store.spec().extras();
    extras
        .iter()
        .find(|c| c.name() == "user_id")
        .or_else(|| extras.first())
        .map(|c| c.name().to_owned())
        .ok_or_else(|| CliError::usage("--user needs an extra column (see --extra-column)"))
}

#[cfg(test)]
mod tests {
    use super::scheme;

    #[test]
    fn schemes() {
        assert_eq!(scheme("sqlite:sessions.db"), Some("sqlite"));
        assert_eq!(scheme("sqlite://sessions.db"), Some("sqlite"));
        assert_eq!(scheme("postgres://u@h/db"), Some("postgres"));
        assert_eq!(scheme("mysql://u@h/db"), Some("mysql"));
        assert_eq!(scheme("sessions.db"), None);
        assert_eq!(scheme("./dir:x/sessions.db"), None);
        assert_eq!(scheme("C:\\sessions.db"), None);
    }
}
