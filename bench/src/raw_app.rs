//! The minimal axum app the demo's `GET /api/me` is measured against: the demo's own
//! `sessions` and `accounts` tables read with raw sqlx, no library, no middleware.
//!
//! - `GET /raw/me` does the work `/api/me` does: SHA-256 of `X-Auth-Token`, one point
//!   `SELECT` of the valid session by its digest, one `SELECT` of its user, the same JSON.
//! - `GET /raw/session` stops after the session `SELECT`: the floor of a token check over HTTP.
//!
//! The columns are read in the library's storage format (on SQLite a BLOB digest and
//! INTEGER microseconds, on PostgreSQL `bytea` and `timestamptz`), as an app writing its own
//! queries against the same table would.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use sqlx::types::Json as SqlJson;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

/// The database the raw app reads: the demo's.
pub type RawDb = sqlx_sessions::Pool;

/// One valid session row.
struct Row {
    id: Uuid,
    data: Value,
    expires_at: Option<OffsetDateTime>,
    inserted_at: OffsetDateTime,
    user_id: Option<String>,
}

/// `(id, data, expires_at, inserted_at, user_id)` as SQLite stores them.
type SqliteRow = (String, String, Option<i64>, i64, Option<String>);
/// `(id, data, expires_at, inserted_at, user_id)` as PostgreSQL stores them.
type PgRow = (
    Uuid,
    SqlJson<Value>,
    Option<OffsetDateTime>,
    OffsetDateTime,
    Option<String>,
);

const SQLITE_SESSION: &str = "SELECT id, data, expires_at, inserted_at, user_id FROM sessions \
     WHERE auth_token_digest = ?1 AND (expires_at IS NULL OR expires_at > ?2)";
const PG_SESSION: &str = "SELECT id, data, expires_at, inserted_at, user_id FROM sessions \
     WHERE auth_token_digest = $1 AND (expires_at IS NULL OR expires_at > $2)";

fn from_micros(us: i64) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1_000).ok()
}

/// The error for a database the raw app has no SQL for.
fn unsupported(db: &RawDb) -> sqlx::Error {
    sqlx::Error::Configuration(format!("the raw app has no SQL for {}", db.kind()).into())
}

async fn session(db: &RawDb, digest: &[u8]) -> Result<Option<Row>, sqlx::Error> {
    let now = OffsetDateTime::now_utc();
    match db {
        RawDb::Sqlite(pool) => {
            let now_us = (now.unix_timestamp_nanos() / 1_000) as i64;
            let row: Option<SqliteRow> = sqlx::query_as(SQLITE_SESSION)
                .bind(digest)
                .bind(now_us)
                .fetch_optional(pool)
                .await?;
            Ok(
                row.and_then(|(id, data, expires_at, inserted_at, user_id)| {
                    Some(Row {
                        id: id.parse().ok()?,
                        data: serde_json::from_str(&data).ok()?,
                        expires_at: expires_at.and_then(from_micros),
                        inserted_at: from_micros(inserted_at)?,
                        user_id,
                    })
                }),
            )
        }
        RawDb::Postgres(pool) => {
            let row: Option<PgRow> = sqlx::query_as(PG_SESSION)
                .bind(digest)
                .bind(now)
                .fetch_optional(pool)
                .await?;
            Ok(row.map(
                |(id, SqlJson(data), expires_at, inserted_at, user_id)| Row {
                    id,
                    data,
                    expires_at,
                    inserted_at,
                    user_id,
                },
            ))
        }
        other => Err(unsupported(other)),
    }
}

async fn user(db: &RawDb, id: &str) -> Result<Option<(String, OffsetDateTime)>, sqlx::Error> {
    match db {
        RawDb::Sqlite(pool) => {
            sqlx::query_as("SELECT id, created_at FROM accounts WHERE id = ?")
                .bind(id)
                .fetch_optional(pool)
                .await
        }
        RawDb::Postgres(pool) => {
            sqlx::query_as("SELECT id, created_at FROM accounts WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await
        }
        other => Err(unsupported(other)),
    }
}

/// The raw app's router (`/raw/me`, `/raw/session`).
pub fn router(db: RawDb) -> Router {
    Router::new()
        .route("/raw/me", get(me))
        .route("/raw/session", get(session_only))
        .with_state(Arc::new(db))
}

fn anonymous() -> Json<Value> {
    Json(json!({ "is_logged_in": false }))
}

/// The valid session of the request's `X-Auth-Token`, if any.
async fn lookup(db: &RawDb, headers: &HeaderMap) -> Result<Option<Row>, StatusCode> {
    let Some(token) = headers
        .get("x-auth-token")
        .and_then(|v| v.to_str().ok())
        .filter(|t| !t.is_empty())
    else {
        return Ok(None);
    };
    let digest = Sha256::digest(token.as_bytes());
    session(db, &digest)
        .await
        .map_err(|_| StatusCode::SERVICE_UNAVAILABLE)
}

async fn session_only(State(db): State<Arc<RawDb>>, headers: HeaderMap) -> Response {
    Ok(match lookup(&db, &headers).await? {
        None => anonymous(),
        Some(s) => Json(json!({ "is_logged_in": true, "session": { "id": s.id } })),
    })
}

type Response = Result<Json<Value>, StatusCode>;

async fn me(State(db): State<Arc<RawDb>>, headers: HeaderMap) -> Response {
    let Some(s) = lookup(&db, &headers).await? else {
        return Ok(anonymous());
    };
    let Some(user_id) = s.user_id.as_deref() else {
        return Ok(anonymous());
    };
    let Some((id, created_at)) = user(&db, user_id)
        .await
        .map_err(|_| StatusCode::SERVICE_UNAVAILABLE)?
    else {
        return Ok(anonymous());
    };
    let time = |t: Option<OffsetDateTime>| t.and_then(|t| t.format(&Rfc3339).ok());
    Ok(Json(json!({
        "is_logged_in": true,
        "user": { "id": id, "created_at": time(Some(created_at)) },
        "session": {
            "id": s.id,
            "kind": "session",
            "inserted_at": time(Some(s.inserted_at)),
            "expires_at": time(s.expires_at),
            "user_agent": s.data.get("user_agent"),
            "ip": s.data.get("ip"),
        },
    })))
}
