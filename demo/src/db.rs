//! The demo's database: SQLite (a file in the working folder), PostgreSQL or MySQL, its
//! `accounts` table of users, and the two session stores that live beside it.

use sha2::{Digest as _, Sha256};
use sqlx_sessions::{DatabaseKind, Pool, PoolOptions, SessionStore, StoreBuilder};
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

/// The demo's database: the library's [`Pool`] and the demo's own `accounts` table on it.
#[derive(Clone, Debug)]
pub struct Db {
    pool: Pool,
}

impl From<Pool> for Db {
    fn from(pool: Pool) -> Self {
        Db { pool }
    }
}

/// The error for a database this demo has no `accounts` SQL for.
fn unsupported(pool: &Pool) -> sqlx::Error {
    sqlx::Error::Configuration(format!("the demo has no accounts table for {}", pool.kind()).into())
}

/// Runs `$run` with `$p` bound to the pool of whichever database `$pool` is, and `$sql` to
/// that database's text of the statement `$text` (an [`AccountsSql`] or
/// [`CreateAccounts`]), written once.
macro_rules! on_pool {
    ($pool:expr, $text:expr, |$p:ident, $s:ident| $run:expr) => {
        match $pool {
            Pool::Sqlite($p) => {
                let $s = $text.sqlite();
                $run
            }
            Pool::Postgres($p) => {
                let $s = $text.postgres();
                $run
            }
            Pool::Mysql($p) => {
                let $s = $text.mysql();
                $run
            }
            other => return Err(unsupported(other)),
        }
    };
}

const INSERT_ACCOUNT: AccountsSql =
    AccountsSql("INSERT INTO accounts (id, secret_digest, created_at) VALUES (?, ?, ?)");
const FIND_ACCOUNT: AccountsSql =
    AccountsSql("SELECT id, secret_digest, created_at FROM accounts WHERE id = ?");
const COUNT_ACCOUNTS: AccountsSql = AccountsSql("SELECT COUNT(*) FROM accounts");

/// A statement on `accounts` with `?` parameters (SQLite and MySQL), and its PostgreSQL
/// spelling, which numbers them (`$1`).
struct AccountsSql(&'static str);

impl AccountsSql {
    fn sqlite(&self) -> &'static str {
        self.0
    }

    fn mysql(&self) -> &'static str {
        self.0
    }

    fn postgres(&self) -> sqlx::AssertSqlSafe<String> {
        let mut out = String::new();
        let mut n = 0;
        for c in self.0.chars() {
            if c == '?' {
                n += 1;
                out.push_str(&format!("${n}"));
            } else {
                out.push(c);
            }
        }
        sqlx::AssertSqlSafe(out)
    }
}

/// `CREATE TABLE accounts`, in each database's column types.
struct CreateAccounts;

impl CreateAccounts {
    fn with(id: &str, digest: &str, time: &str, options: &str) -> sqlx::AssertSqlSafe<String> {
        sqlx::AssertSqlSafe(format!(
            "CREATE TABLE IF NOT EXISTS accounts (id {id} PRIMARY KEY, \
             secret_digest {digest} NOT NULL, created_at {time} NOT NULL){options}"
        ))
    }

    fn sqlite(&self) -> sqlx::AssertSqlSafe<String> {
        Self::with("TEXT", "BLOB", "TEXT", "")
    }

    fn postgres(&self) -> sqlx::AssertSqlSafe<String> {
        Self::with("TEXT", "BYTEA", "TIMESTAMPTZ", "")
    }

    fn mysql(&self) -> sqlx::AssertSqlSafe<String> {
        Self::with(
            "VARCHAR(36)",
            "VARBINARY(32)",
            "DATETIME(6)",
            " ENGINE=InnoDB",
        )
    }
}

impl Db {
    /// Connects to `url`: `postgres://` or `postgresql://` for PostgreSQL, a SQLite path or
    /// `sqlite:` URL (created when missing) otherwise.
    pub async fn connect(url: &str) -> Result<Db, sqlx_sessions::Error> {
        let options = match DatabaseKind::of_url(url)? {
            DatabaseKind::Sqlite => PoolOptions::new()
                .max_connections(SQLITE_POOL_SIZE)
                .acquire_timeout(std::time::Duration::from_secs(5)),
            // During an outage a request answers 503 after this long, not later.
            _ => PoolOptions::new()
                .max_connections(PG_POOL_SIZE)
                .acquire_timeout(std::time::Duration::from_secs(2)),
        };
        Ok(Db {
            pool: Pool::connect_with(url, &options).await?,
        })
    }

    /// The connection pool.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// A store builder on this database.
    pub fn store_builder(&self) -> StoreBuilder {
        SessionStore::builder(self.pool.clone())
    }

    /// Creates the `accounts` table when missing. (It replaced a `users` table of sequential
    /// ids without credentials, which is left alone.)
    pub async fn migrate(&self) -> Result<(), sqlx::Error> {
        on_pool!(&self.pool, CreateAccounts, |pool, sql| {
            sqlx::query(sql).execute(pool).await.map(drop)?
        });
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
        on_pool!(&self.pool, INSERT_ACCOUNT, |pool, sql| {
            sqlx::query(sql)
                .bind(id.to_string())
                .bind(&digest[..])
                .bind(now)
                .execute(pool)
                .await
                .map(|_| ())?
        });
        Ok((
            User {
                id,
                created_at: now,
            },
            secret,
        ))
    }

    async fn find_row(&self, id: Uuid) -> Result<Option<(User, Vec<u8>)>, sqlx::Error> {
        let row: Option<(String, Vec<u8>, OffsetDateTime)> =
            on_pool!(&self.pool, FIND_ACCOUNT, |pool, sql| {
                sqlx::query_as(sql)
                    .bind(id.to_string())
                    .fetch_optional(pool)
                    .await?
            });
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
        Ok(on_pool!(&self.pool, COUNT_ACCOUNTS, |pool, sql| {
            sqlx::query_scalar(sql).fetch_one(pool).await?
        }))
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool.close().await;
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
