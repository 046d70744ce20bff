//! # sqlx-sessions
//!
//! Database-backed sessions and API keys for Rust services, built on [sqlx]: the Rust
//! successor of Elixir's `ecto_sessions`.
//!
//! Signed tokens (JWTs, signed cookies) cannot be listed or revoked. A session kept in the
//! application's own database can: show a user the devices where they are signed in,
//! revoke one or all of them, change any expiry at any time, keep data server-side without
//! growing the token, and issue long-lived API keys stored only as a digest.
//!
//! ## Usage
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use sqlx_sessions::{Filter, NewSession, SessionStore};
//!
//! let pool = sqlx::SqlitePool::connect("sqlite::memory:").await?;
//! let store = SessionStore::builder(pool).build()?; // table `sessions`, column `user_id`
//! store.migrate().await?;
//!
//! // Sign in: the plaintext token is returned once; only its digest is stored.
//! let created = store
//!     .create(
//!         NewSession::new()
//!             .extra("user_id", "42")
//!             .data(serde_json::json!({"user_agent": "curl/8.5"})),
//!     )
//!     .await?;
//! let token = created.token.expose().to_owned();
//!
//! // Every request: one indexed lookup, extending the session when it is due.
//! let session = store.lookup(&token).await?.expect("a valid session");
//! assert_eq!(session.extra_str("user_id"), Some("42"));
//!
//! // The user's devices, and signing out of all of them.
//! let devices = store.list(&Filter::new().eq("user_id", "42")).await?;
//! assert_eq!(devices.len(), 1);
//! store.delete_all(&Filter::new().eq("user_id", "42")).await?;
//! assert!(store.lookup(&token).await?.is_none());
//! # Ok(()) }
//! ```
//!
//! ## API keys
//!
//! A key store is a session store with a token prefix and the key columns
//! ([`StoreBuilder::scopes`], [`StoreBuilder::key_lifecycle`]); nothing about keys is a
//! second code path.
//!
//! - **Scopes**: chosen at creation ([`NewSession::scopes`]), changed with
//!   [`SessionUpdate::scopes`], checked with [`Session::has_scope`] under the wildcard rule
//!   of [`scope`] (`orders:*` grants `orders:read`, `*` grants everything), matched by
//!   [`Filter::has_scope`] in lists and counts. With the `axum` feature, `axum::Scoped`
//!   answers 403 (not 401) for a valid key without the route's scope.
//! - **Expiry per key**: [`NewSession::expiry`] with a [`KeyExpiry`] (30 days, 90 days, a
//!   date, or never as an explicit choice, in a store without `max_lifetime`), changed later
//!   with [`SessionStore::set_expiry`].
//! - **Suspend and resume** ([`SessionStore::suspend`], [`SessionStore::resume`]): a
//!   `suspended_at` that every lookup by token refuses, written through the store's change
//!   path so no cached copy survives it; the key keeps its scopes, uses and history. It is
//!   not the revocation marker, so resuming works.
//! - **Roll** ([`SessionStore::roll`]): a new key for the same owner, name and scopes; the
//!   old one keeps working for the grace period, never extended, then never again.
//! - **Usage**: `last_used_at` ([`StoreBuilder::track_last_used`]) and a use counter kept in
//!   memory and flushed every interval ([`SessionStore::uses`],
//!   [`SessionStore::flush_uses`]); a crash loses at most the uses since the last flush.
//! - **Keys per owner**: [`StoreBuilder::max_sessions_per`] (a roll replaces a key and is
//!   not counted against it).
//!
//! ## Features
//!
//! | feature | default | what it adds |
//! | --- | --- | --- |
//! | `sqlite` | yes | the SQLite backend ([`Pool::Sqlite`]), bundled libsqlite3 |
//! | `postgres` | no | the PostgreSQL backend (`Pool::Postgres`) |
//! | `mysql` | no | the MySQL 8 / MariaDB 10.6+ backend (`Pool::Mysql`) |
//! | `axum` | no | an extractor, a layer and cookie helpers for axum (`axum` module) |
//! | `cache` | no | a read cache of lookups with cross-instance invalidation (`cache` module) |
//! | `access-tokens` | no | short-lived signed access tokens (JWT, EdDSA or HS256) refreshed from sessions, verified without the database (`access` module) |
//! | `tower-sessions-014` | no | `tower_sessions::TowerStore` for tower-sessions 0.14 (axum-login 0.18) |
//! | `tower-sessions-015` | no | `tower_sessions::TowerStore` for tower-sessions 0.15 |
//!
//! ## Coming from tower-sessions
//!
//! With a `tower-sessions-*` feature, `tower_sessions::TowerStore::new(store)` takes the place
//! of a tower-sessions store in one line (axum-login included). The table then keeps digests
//! of the session ids, `save` never recreates a session deleted meanwhile, the data is written
//! only when it changed and the expiry at most once per stale window (also under
//! `with_always_save(true)`), and axum-login's user id fills the `user_id` column, so a user's
//! devices can be listed and signed out. The `tower_sessions` module says what changes and
//! what stays.
//!
//! ## How it works
//!
//! - **Tokens** ([`TokenFormat`]) are `token_length` URL-safe base64 characters from the OS random
//!   source; API-key stores add a prefix and a CRC32 checksum so leaked keys are
//!   recognisable and mistyped ones are refused before any query (a checksum anyone can
//!   compute: it screens typos, it is no defence against forged keys).
//! - **Digests** ([`Hashing`]): the table keeps `HASH(salt ++ token)` (raw bytes in tables
//!   this crate creates, hex in adopted ecto_sessions tables), never the token. A current
//!   salt or HMAC key has at least 32 bytes; previous salts (of any length) can be listed
//!   for rotation, and rows found under one are re-digested. Hashing `none` is never taken
//!   from the environment.
//! - **Lookup** is one indexed `SELECT` of the needed columns by digest. When the session
//!   is due for extension (`now + ttl > expires_at + extend_stale_time`), one conditional
//!   `UPDATE` follows, a compare-and-set on the expiry that was read, so a concurrent expire
//!   or delete is never undone.
//! - **Revocation** does not depend on instances agreeing on the time:
//!   [`SessionStore::expire`] writes `expires_at` and `updated_at` from the same instant, and
//!   no lookup, filter or extension accepts a row whose expiry is not after its last write,
//!   so an instance whose clock lags the revoker's (or steps back) still refuses it.
//! - **Databases** ([`Pool`]): the store writes its statements once, with `$n`
//!   placeholders and quoted identifiers from the validated table spec, from one list of
//!   the table's columns; each database's file binds parameters to its own types and types
//!   the columns of its DDL. No SQL is ever built from a caller's strings.
//! - **Absolute timeout**: no session outlives `max_lifetime` after its creation (30 days
//!   by default, so a stolen token replayed now and then still dies; lift it explicitly
//!   with [`StoreBuilder::max_lifetime`]`(None)`).
//! - **Changes in place** ([`SessionStore::update`], [`SessionStore::set_expiry`],
//!   [`SessionStore::rotate`]): one guarded statement each; update and rotate write only a
//!   valid row, so nothing expired, revoked or deleted comes back; `set_expiry` is the one
//!   explicit way back, still capped by `max_lifetime`. Every operation also runs on a
//!   caller's connection (`*_in`, [`Conn`]) inside their transaction.
//! - **Schema evolution** ([`SessionStore::migrate`]): on a table that exists, the
//!   columns, indexes and foreign keys the spec has and the table lacks are added, planned
//!   from the same column list, in one transaction on SQLite and PostgreSQL, and recorded in
//!   `<table>_migrations`; a type change or a `NOT NULL` column that existing rows cannot
//!   fill is refused before anything changes ([`Error::TableMismatch`], naming the column).
//! - **Owners** can be foreign keys ([`ExtraColumn::references`]: `ON DELETE CASCADE`), and
//!   [`StoreBuilder::max_sessions_per`] caps their sessions on every database.
//! - **Time** comes from a [`Clock`], which tests replace with a [`ManualClock`].
//! - **Pruning**: [`SessionStore::delete_expired`] deletes in bounded batches;
//!   [`SessionStore::spawn_pruner`] runs it in the background.
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]
// Without a database feature `Pool` has no variant: everything past it is unreachable.
#![cfg_attr(
    not(any(feature = "sqlite", feature = "postgres", feature = "mysql")),
    allow(dead_code, unused_variables, unreachable_code)
)]

#[cfg(feature = "access-tokens")]
pub mod access;
#[cfg(feature = "axum")]
pub mod axum;
mod backend;
#[cfg(feature = "cache")]
pub mod cache;
mod clock;
mod columns;
mod digest;
mod error;
mod evolve;
mod extend;
mod filter;
mod migrate;
mod pool;
mod pruner;
mod query;
pub mod redact;
mod schema;
pub mod scope;
mod session;
mod settings;
mod sql;
mod store;
mod token;
#[cfg(any(feature = "tower-sessions-014", feature = "tower-sessions-015"))]
pub mod tower_sessions;
mod update;
mod value;

pub use backend::Conn;
pub use clock::{Clock, ManualClock, SystemClock};
pub use digest::{Hashing, Secret};
pub use error::{Error, Result, error_chain};
pub use filter::{Filter, Status};
pub use migrate::Migration;
pub use pool::{DatabaseKind, Pool, PoolOptions};
pub use pruner::Pruner;
pub use schema::{ColumnType, ExtraColumn, ForeignKey, TableSpec};
pub use session::{CreatedSession, Extras, KeyExpiry, NewSession, Session, SessionData};
pub use settings::{Settings, parse_duration, parse_optional_duration};
pub use store::{GetOptions, Lookup, OverCap, SessionStore, StoreBuilder};
pub use token::{
    CHECKSUM_LENGTH, HINT_RANDOM_CHARS, MAX_TOKEN_LENGTH, MIN_TOKEN_LENGTH, Token, TokenFormat,
    checksum, looks_like_api_key,
};
pub use update::SessionUpdate;
pub use value::Value;

/// Re-exported so applications use the same sqlx as the store.
///
/// The crate is built on sqlx 0.9: [`SessionStore::builder`] takes a 0.9 pool (or a
/// [`Pool`]). An application that depends on sqlx 0.8 itself gets another crate's
/// `SqlitePool`/`PgPool`, and `SessionStore::builder(pool)` fails with E0277 (the trait
/// bound `Pool: From<sqlx::Pool<...>>` is not satisfied). Build the pool with
/// `sqlx_sessions::sqlx` (or [`Pool::connect`]), or move the application to sqlx 0.9.
pub use sqlx;
