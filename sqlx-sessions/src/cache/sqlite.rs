//! SQLite: triggers append the digests of changed rows (and `revoked:<id>` for a revoked
//! or deleted session) to a change-log table, which the store polls.
//!
//! The log's `seq` is `AUTOINCREMENT`, so it is never reused, and SQLite has one writer at a
//! time, so sequence order is commit order. A poll reads, in one read transaction, the
//! triggers' presence, the highest sequence ever issued and the rows after the last one it
//! saw; a gap (rows pruned before they were read, or the log re-created) reports
//! [`Change::All`]. Each trigger firing keeps the log at its last [`KEEP`] rows.

use std::time::Duration;

use sqlx::{AssertSqlSafe, SqlitePool};

use super::feed::{Change, Feed, FeedError, REVOKED_PREFIX, derived_name, revocation};
use crate::migrate::Migration;
use crate::schema::{DigestFormat, TableSpec};
use crate::sql::quote;

/// Rows the change log keeps; a poller further behind than this clears its cache.
pub(crate) const KEEP: u32 = 100_000;

/// Rows read per statement of a poll.
const BATCH: usize = 4_096;

/// The channel of one table on SQLite.
#[derive(Debug)]
pub(crate) struct SqliteFeed {
    pool: SqlitePool,
    table: String,
    log: String,
    triggers: [String; 2],
    /// The last sequence applied; `None` before the first poll.
    seen: Option<i64>,
    /// Timestamps as ISO-8601 text (an adopted ecto_sqlite3 table), not microseconds.
    iso_time: bool,
}

impl SqliteFeed {
    pub(crate) fn new(pool: SqlitePool, spec: &TableSpec) -> Self {
        SqliteFeed {
            pool,
            table: spec.table.clone(),
            log: derived_name(&spec.table, "changes"),
            triggers: [
                derived_name(&spec.table, "changes_update"),
                derived_name(&spec.table, "changes_delete"),
            ],
            seen: None,
            iso_time: spec.digest_format == DigestFormat::Hex,
        }
    }

    /// The database's clock in the table's time format.
    fn now_sql(&self) -> &'static str {
        if self.iso_time {
            // ecto_sqlite3's ISO-8601 text (millisecond precision here: close enough to
            // flag a revocation, which the row's own `updated_at` catches exactly).
            "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"
        } else {
            // Microseconds since the Unix epoch.
            "CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)"
        }
    }

    fn trigger(&self, name: &str, event: &str, new_digest: bool) -> String {
        let log = quote(&self.log);
        let mut body =
            format!("  INSERT INTO {log} (\"digest\") VALUES (OLD.\"auth_token_digest\");\n");
        let revoked = format!("CAST('{REVOKED_PREFIX}' || OLD.\"id\" AS BLOB)");
        if new_digest {
            body.push_str(&format!(
                "  INSERT INTO {log} (\"digest\") SELECT NEW.\"auth_token_digest\" WHERE NEW.\"auth_token_digest\" IS NOT OLD.\"auth_token_digest\";\n"
            ));
            body.push_str(&format!(
                "  INSERT INTO {log} (\"digest\") SELECT {revoked} WHERE NEW.\"expires_at\" IS NOT NULL AND (NEW.\"expires_at\" <= NEW.\"updated_at\" OR NEW.\"expires_at\" <= {});\n",
                self.now_sql()
            ));
        } else {
            body.push_str(&format!(
                "  INSERT INTO {log} (\"digest\") VALUES ({revoked});\n"
            ));
        }
        body.push_str(&format!(
            "  DELETE FROM {log} WHERE \"seq\" <= (SELECT MAX(\"seq\") FROM {log}) - {KEEP};\n"
        ));
        format!(
            "CREATE TRIGGER IF NOT EXISTS {} AFTER {event} ON {} FOR EACH ROW BEGIN\n{body}END",
            quote(name),
            quote(&self.table)
        )
        .replace('"', "`")
    }

    /// One read transaction: `(triggers present, highest sequence issued, rows after)`.
    async fn read(&self, after: Option<i64>) -> Result<(i64, i64, Vec<(i64, Vec<u8>)>), FeedError> {
        let mut tx = self.pool.begin().await?;
        let triggers: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?1 AND name IN (?2, ?3)",
        )
        .bind(&self.table)
        .bind(&self.triggers[0])
        .bind(&self.triggers[1])
        .fetch_one(&mut *tx)
        .await?;
        let high: Option<i64> =
            sqlx::query_scalar("SELECT seq FROM sqlite_sequence WHERE name = ?1")
                .bind(&self.log)
                .fetch_optional(&mut *tx)
                .await?;
        let rows = match after {
            Some(after) => sqlx::query_as(AssertSqlSafe(format!(
                "SELECT `seq`, `digest` FROM `{}` WHERE `seq` > ?1 ORDER BY `seq` LIMIT {BATCH}",
                self.log
            )))
            .bind(after)
            .fetch_all(&mut *tx)
            .await?,
            None => Vec::new(),
        };
        tx.commit().await?;
        Ok((triggers, high.unwrap_or(0), rows))
    }
}

#[async_trait::async_trait]
impl Feed for SqliteFeed {
    fn migration(&self) -> Migration {
        let log = quote(&self.log).replace('"', "`");
        Migration {
            up: vec![
                format!(
                    "CREATE TABLE IF NOT EXISTS {log} (\n  `seq` INTEGER PRIMARY KEY AUTOINCREMENT,\n  `digest` BLOB NOT NULL\n)"
                ),
                self.trigger(&self.triggers[0], "UPDATE", true),
                self.trigger(&self.triggers[1], "DELETE", false),
            ],
            // Dropping the table drops its triggers.
            down: vec![format!("DROP TABLE IF EXISTS {log}")],
        }
    }

    fn default_bound(&self) -> Duration {
        Duration::from_secs(1)
    }

    async fn catch_up(&mut self, changes: &mut Vec<Change>) -> Result<(), FeedError> {
        loop {
            let (triggers, high, rows) = self.read(self.seen).await?;
            if triggers != 2 {
                return Err(FeedError(format!(
                    "the change-log triggers of `{}` are missing (run the store's migration)",
                    self.table
                )));
            }
            let Some(seen) = self.seen else {
                // First poll: everything before `high` predates the (empty) cache.
                changes.push(Change::All);
                self.seen = Some(high);
                return Ok(());
            };
            if high < seen {
                // The log was re-created: its sequence started over.
                changes.push(Change::All);
                self.seen = Some(high);
                return Ok(());
            }
            let mut expected = seen + 1;
            let full = rows.len() == BATCH;
            for (seq, digest) in rows {
                if seq != expected {
                    changes.push(Change::All);
                }
                changes.push(match revocation(&digest) {
                    Some(id) => Change::Revoked(id),
                    None => Change::Key(digest),
                });
                expected = seq + 1;
            }
            if expected <= high && !full {
                // Rows up to `high` were issued but not read: pruned before this poll.
                changes.push(Change::All);
                expected = high + 1;
            }
            self.seen = Some(expected - 1);
            if !full {
                return Ok(());
            }
        }
    }

    fn reset(&mut self) {}
}
