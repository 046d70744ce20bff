//! The stored digests of listed sessions, for `--show-digest`.
//!
//! The core library never returns digests with sessions (a `Session` holds neither the
//! token nor its digest), so this module reads them itself: one read-only statement per
//! chunk of ids, on the table the validated store spec names. Identifiers come from that
//! spec (checked by the store builder: lowercase letters, digits and `_`), every id is a
//! bound parameter.

use sqlx::{AssertSqlSafe, Row as _};
use sqlx_sessions::{Hashing, Session, SessionStore};
use uuid::Uuid;

use crate::connect::Database;
use crate::error::CliError;
use crate::output::Digests;

/// Ids per statement.
const CHUNK: usize = 500;

/// Refuses to show digests where the "digest" is the token itself (hashing `none`).
pub(crate) fn check_showable(store: &SessionStore) -> Result<(), CliError> {
    if store.settings().hashing == Hashing::None {
        return Err(CliError::usage(
            "--show-digest with hashing `none` would print plaintext tokens; refused",
        ));
    }
    Ok(())
}

/// The stored digests (lowercase hex) of `sessions`, by id.
pub(crate) async fn stored_digests(
    db: &Database,
    store: &SessionStore,
    sessions: &[Session],
) -> Result<Digests, CliError> {
    check_showable(store)?;
    let spec = store.spec();
    let table = match spec.schema() {
        Some(schema) => format!("\"{schema}\".\"{}\"", spec.table()),
        None => format!("\"{}\"", spec.table()),
    };
    let mut out = Digests::new();
    for chunk in sessions.chunks(CHUNK) {
        let ids: Vec<Uuid> = chunk.iter().map(|s| s.id).collect();
        match db {
            Database::Sqlite(pool) => {
                // Ids are hyphenated text on SQLite; one JSON array parameter holds them all.
                let sql = format!(
                    "SELECT \"id\", \"auth_token_digest\" FROM {table} \
                     WHERE \"id\" IN (SELECT value FROM json_each($1))"
                );
                let ids = serde_json::to_string(&ids).map_err(sqlx_sessions::Error::from)?;
                let rows = sqlx::query(AssertSqlSafe(sql))
                    .bind(ids)
                    .fetch_all(pool)
                    .await?;
                for row in rows {
                    let id: String = row.try_get(0)?;
                    let digest: Vec<u8> = row.try_get(1)?;
                    if let Ok(id) = Uuid::try_parse(&id) {
                        out.insert(id, hex::encode(digest));
                    }
                }
            }
            Database::Postgres(pool) => {
                let sql = format!(
                    "SELECT \"id\", \"auth_token_digest\" FROM {table} WHERE \"id\" = ANY($1)"
                );
                let rows = sqlx::query(AssertSqlSafe(sql))
                    .bind(ids)
                    .fetch_all(pool)
                    .await?;
                for row in rows {
                    let id: Uuid = row.try_get(0)?;
                    let digest: Vec<u8> = row.try_get(1)?;
                    out.insert(id, hex::encode(digest));
                }
            }
        }
    }
    Ok(out)
}
