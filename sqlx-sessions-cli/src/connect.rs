//! Opening the database named by `--database-url` and the store on its table.

use sqlx_sessions::{DatabaseKind, Pool, PoolOptions, SessionStore, StoreBuilder};

use crate::args::GlobalArgs;
use crate::error::CliError;

/// Opens a lazy pool: nothing connects until the first statement, so `migrate --print`
/// works without a database. A SQLite file is created only when `create_file` is set
/// (by `migrate`); every other command on a missing file fails as unreachable.
pub(crate) async fn open(global: &GlobalArgs, create_file: bool) -> Result<Pool, CliError> {
    let url = global.database_url.as_deref().map(str::trim).unwrap_or("");
    if url.is_empty() {
        return Err(CliError::usage(
            "no database: pass --database-url or set DATABASE_URL",
        ));
    }
    let timeout = std::time::Duration::try_from(global.connect_timeout)
        .map_err(|_| CliError::usage("--connect-timeout must be positive"))?;
    // One connection writes a SQLite file; PostgreSQL gets a second for overlapping reads.
    let connections = match DatabaseKind::of_url(url)? {
        DatabaseKind::Sqlite => 1,
        _ => 2,
    };
    let options = PoolOptions::new()
        .max_connections(connections)
        .acquire_timeout(timeout)
        .lazy(true)
        .create_if_missing(create_file);
    Ok(Pool::connect_with(url, &options).await?)
}

/// Builds the store the global options describe, on `db`.
pub(crate) fn store(
    global: &GlobalArgs,
    db: &Pool,
    prune_batch_size: Option<u32>,
    keys: bool,
) -> Result<SessionStore, CliError> {
    let mut builder = configure(SessionStore::builder(db.clone()), global);
    if keys {
        // The key columns; the tool counts no uses itself, so the intervals are moot.
        builder = builder
            .scopes()
            .key_lifecycle(time::Duration::seconds(5))
            .track_last_used(time::Duration::minutes(1));
    }
    if let Some(n) = prune_batch_size {
        builder = builder.prune_batch_size(n);
    }
    if let Some((name, salt)) = crate::env::secret_salt() {
        let salt = salt
            .into_string()
            .map_err(|_| CliError::usage(format!("{name} is not valid UTF-8")))?;
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
