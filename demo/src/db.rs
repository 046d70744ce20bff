//! The demo's database: SQLite (a file in the working folder) or PostgreSQL, its `accounts`
//! table of users, and the two session stores that live beside it.

use std::str::FromStr as _;

use sha2::{Digest as _, Sha256};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::SqlitePoolOptions;
use sqlx::{PgPool, SqlitePool};
use sqlx_sessions::{SessionStore, StoreBuilder};
use subtle::ConstantTimeEq as _;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::csrf_key::random_text;

/// The database the demo uses when `DATABASE_URL` is not set: a file in the working folder.
pub const DEFAULT_DATABASE: &str = "sqlite:sqlx-sessions-demo.db";

/// Connections of the demo's PostgreSQL pool.
pub const PG_POOL_SIZE: u32 = 10;
/// Connections of the demo's SQLite pool.
pub const SQLITE_POOL_SIZE: u32 = 8;

/// A user of the demo: a row of `accounts`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct User {
    /// The user id: random (a UUID), so ids say nothing about other users.
    pub id: Uuid,
    /// When the user signed up.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// A connection pool to SQLite or PostgreSQL.
#[derive(Clone, Debug)]
pub enum Db {
    /// A SQLite file.
    Sqlite(SqlitePool),
    /// A PostgreSQL database.
    Postgres(PgPool),
}

impl Db {
    /// Connects to `url`: `postgres://` or `postgresql://` for PostgreSQL, anything else is a
    /// SQLite path or `sqlite:` URL (created when missing).
    pub async fn connect(url: &str) -> Result<Db, sqlx_sessions::Error> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(url).map_err(sqlx_sessions::Error::from)?;
            let pool = PgPoolOptions::new()
                .max_connections(PG_POOL_SIZE)
                // During an outage a request answers 503 after this long, not later.
                .acquire_timeout(std::time::Duration::from_secs(2))
                .connect_with(options)
                .await?;
            Ok(Db::Postgres(pool))
        } else {
            let options = sqlx_sessions::backend::sqlite::connect_options(url)?;
            let pool = SqlitePoolOptions::new()
                .max_connections(SQLITE_POOL_SIZE)
                .acquire_timeout(std::time::Duration::from_secs(5))
                .connect_with(options)
                .await?;
            Ok(Db::Sqlite(pool))
        }
    }

    /// A store builder on this database.
    pub fn store_builder(&self) -> StoreBuilder {
        match self {
            Db::Sqlite(pool) => SessionStore::builder(pool.clone()),
            Db::Postgres(pool) => SessionStore::builder(pool.clone()),
        }
    }

    /// Creates the `accounts` table when missing. (It replaced a `users` table of sequential
    /// ids without credentials, which is left alone.)
    pub async fn migrate(&self) -> Result<(), sqlx::Error> {
        match self {
            Db::Sqlite(pool) => {
                sqlx::query(
                    "CREATE TABLE IF NOT EXISTS accounts (
                        id TEXT PRIMARY KEY,
                        secret_digest BLOB NOT NULL,
                        created_at TEXT NOT NULL
                    )",
                )
                .execute(pool)
                .await?;
            }
            Db::Postgres(pool) => {
                sqlx::query(
                    "CREATE TABLE IF NOT EXISTS accounts (
                        id TEXT PRIMARY KEY,
                        secret_digest BYTEA NOT NULL,
                        created_at TIMESTAMPTZ NOT NULL
                    )",
                )
                .execute(pool)
                .await?;
            }
        }
        Ok(())
    }

    /// Creates a user with a random id and a random sign-in secret; the secret is returned
    /// once (only its SHA-256 digest is stored: 256 random bits need no slow hash).
    pub async fn create_user(&self) -> Result<(User, SignInSecret), sqlx::Error> {
        let now = OffsetDateTime::now_utc();
        let now = now
            .replace_nanosecond(now.microsecond() * 1000)
            .unwrap_or(now);
        let id = Uuid::new_v4();
        let secret = SignInSecret(random_text());
        let digest = secret_digest(&secret.0);
        match self {
            Db::Sqlite(pool) => {
                sqlx::query(
                    "INSERT INTO accounts (id, secret_digest, created_at) VALUES (?, ?, ?)",
                )
                .bind(id.to_string())
                .bind(&digest[..])
                .bind(now)
                .execute(pool)
                .await?;
            }
            Db::Postgres(pool) => {
                sqlx::query(
                    "INSERT INTO accounts (id, secret_digest, created_at) VALUES ($1, $2, $3)",
                )
                .bind(id.to_string())
                .bind(&digest[..])
                .bind(now)
                .execute(pool)
                .await?;
            }
        }
        Ok((
            User {
                id,
                created_at: now,
            },
            secret,
        ))
    }

    async fn find_row(&self, id: Uuid) -> Result<Option<(User, Vec<u8>)>, sqlx::Error> {
        let row: Option<(String, Vec<u8>, OffsetDateTime)> = match self {
            Db::Sqlite(pool) => {
                sqlx::query_as("SELECT id, secret_digest, created_at FROM accounts WHERE id = ?")
                    .bind(id.to_string())
                    .fetch_optional(pool)
                    .await?
            }
            Db::Postgres(pool) => {
                sqlx::query_as("SELECT id, secret_digest, created_at FROM accounts WHERE id = $1")
                    .bind(id.to_string())
                    .fetch_optional(pool)
                    .await?
            }
        };
        Ok(row.map(|(_, digest, created_at)| (User { id, created_at }, digest)))
    }

    /// The user `id`, if there is one.
    pub async fn find_user(&self, id: Uuid) -> Result<Option<User>, sqlx::Error> {
        Ok(self.find_row(id).await?.map(|(user, _)| user))
    }

    /// The user whose id is `id` and whose sign-in secret is `secret`, or `None` (one answer
    /// for an unknown id, a malformed one and a wrong secret).
    pub async fn authenticate(&self, id: &str, secret: &str) -> Result<Option<User>, sqlx::Error> {
        let digest = secret_digest(secret.trim());
        let Ok(id) = Uuid::parse_str(id.trim()) else {
            return Ok(None);
        };
        Ok(self
            .find_row(id)
            .await?
            .filter(|(_, stored)| bool::from(stored.as_slice().ct_eq(&digest[..])))
            .map(|(user, _)| user))
    }

    /// The number of users.
    pub async fn count_users(&self) -> Result<i64, sqlx::Error> {
        match self {
            Db::Sqlite(pool) => {
                sqlx::query_scalar("SELECT COUNT(*) FROM accounts")
                    .fetch_one(pool)
                    .await
            }
            Db::Postgres(pool) => {
                sqlx::query_scalar("SELECT COUNT(*) FROM accounts")
                    .fetch_one(pool)
                    .await
            }
        }
    }

    /// Closes the pool.
    pub async fn close(&self) {
        match self {
            Db::Sqlite(pool) => pool.close().await,
            Db::Postgres(pool) => pool.close().await,
        }
    }
}

/// A user's sign-in secret, shown once at sign-up. Its `Debug` output hides it.
pub struct SignInSecret(String);

impl SignInSecret {
    /// The secret, to show its owner once.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SignInSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SignInSecret(<redacted>)")
    }
}

fn secret_digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}
