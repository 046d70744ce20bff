//! PostgreSQL: a trigger calls `pg_notify` with the digest of each changed row (and
//! `revoked:<id>` for a revoked or deleted session); the store listens on a connection of
//! its own.
//!
//! Each round sends a heartbeat on that connection, on a channel only this store listens
//! to, from a statement that sends it only while both triggers exist and are enabled.
//! PostgreSQL delivers notifications in commit order, so when the heartbeat comes back
//! every change committed before the round started has been received.

use std::time::Duration;

use sha2::Digest as _;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};

use super::feed::{Change, Feed, FeedError, REVOKED_PREFIX, derived_name, revocation};
use crate::migrate::Migration;
use crate::schema::{DigestFormat, TableSpec, TimeFormat};
use crate::sql::quote;

/// The `application_name` of the listening connection, to find it in `pg_stat_activity`.
pub const LISTENER_APPLICATION_NAME: &str = "sqlx-sessions cache listener";

/// The channel of one table on PostgreSQL.
#[derive(Debug)]
pub(crate) struct PgFeed {
    options: PgConnectOptions,
    /// A pool of one connection for the listener, made on the first round.
    pool: Option<PgPool>,
    listener: Option<PgListener>,
    channel: String,
    beat_channel: String,
    beats: u64,
    /// The quoted, qualified table.
    table: String,
    function: String,
    triggers: [String; 2],
    hex_digest: bool,
    naive_time: bool,
}

/// The notification channel of a table: readable when it fits PostgreSQL's 63 bytes.
fn channel_name(spec: &TableSpec) -> String {
    let name = match &spec.schema {
        Some(schema) => format!("sqlx_sessions:{schema}.{}", spec.table),
        None => format!("sqlx_sessions:{}", spec.table),
    };
    if name.len() <= 63 {
        return name;
    }
    let hash = sha2::Sha256::digest(name.as_bytes());
    format!("sqlx_sessions:{}", hex::encode(&hash[..16]))
}

impl PgFeed {
    pub(crate) fn new(pool: &PgPool, spec: &TableSpec) -> Self {
        let options = (*pool.connect_options())
            .clone()
            .application_name(LISTENER_APPLICATION_NAME);
        let function = derived_name(&spec.table, "cache_notify");
        let function = match &spec.schema {
            Some(schema) => format!("{}.{}", quote(schema), quote(&function)),
            None => quote(&function),
        };
        PgFeed {
            options,
            pool: None,
            listener: None,
            channel: channel_name(spec),
            beat_channel: format!("sqlx_sessions_beat:{:016x}", rand::random::<u64>()),
            beats: 0,
            table: spec.qualified(),
            function,
            triggers: [
                derived_name(&spec.table, "cache_notify"),
                derived_name(&spec.table, "cache_truncate"),
            ],
            hex_digest: spec.digest_format == DigestFormat::Hex,
            naive_time: spec.time_format == TimeFormat::NaiveUtc,
        }
    }

    fn function_sql(&self) -> String {
        let bytes = |row: &str| {
            if self.hex_digest {
                format!("convert_to({row}.\"auth_token_digest\", 'UTF8')")
            } else {
                format!("{row}.\"auth_token_digest\"")
            }
        };
        let channel = &self.channel;
        // Naive timestamps hold UTC (ecto_sessions tables).
        let now = if self.naive_time {
            "(now() AT TIME ZONE 'UTC')"
        } else {
            "now()"
        };
        format!(
            "CREATE OR REPLACE FUNCTION {}() RETURNS trigger LANGUAGE plpgsql AS $sqlx_sessions$
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    PERFORM pg_notify('{channel}', '*');
  ELSE
    PERFORM pg_notify('{channel}', encode({}, 'hex'));
    IF TG_OP = 'UPDATE' AND NEW.\"auth_token_digest\" IS DISTINCT FROM OLD.\"auth_token_digest\" THEN
      PERFORM pg_notify('{channel}', encode({}, 'hex'));
    END IF;
    IF TG_OP = 'DELETE' THEN
      PERFORM pg_notify('{channel}', '{REVOKED_PREFIX}' || OLD.\"id\"::text);
    ELSIF NEW.\"expires_at\" IS NOT NULL AND (NEW.\"expires_at\" <= NEW.\"updated_at\" OR NEW.\"expires_at\" <= {now}) THEN
      PERFORM pg_notify('{channel}', '{REVOKED_PREFIX}' || NEW.\"id\"::text);
    END IF;
  END IF;
  RETURN NULL;
END
$sqlx_sessions$",
            self.function,
            bytes("OLD"),
            bytes("NEW"),
        )
    }

    /// Sends a heartbeat and applies every notification up to its return.
    async fn beat(&mut self, changes: &mut Vec<Change>) -> Result<(), FeedError> {
        let Some(listener) = self.listener.as_mut() else {
            return Err(FeedError("no listening connection".into()));
        };
        self.beats += 1;
        let payload = self.beats.to_string();
        let sent = sqlx::query(
            // Only triggers calling the current function count: one made by an earlier
            // release (without revocation notices) is out of date.
            "SELECT pg_notify($1, $2) FROM (SELECT COUNT(*) AS n FROM pg_trigger g \
             JOIN pg_proc p ON p.oid = g.tgfoid \
             WHERE g.tgrelid = to_regclass($3) AND g.tgname = ANY($4) AND g.tgenabled <> 'D' \
             AND position($5 in p.prosrc) > 0) t \
             WHERE t.n = 2",
        )
        .bind(&self.beat_channel)
        .bind(&payload)
        .bind(&self.table)
        .bind(&self.triggers[..])
        .bind(REVOKED_PREFIX)
        .fetch_optional(&mut *listener)
        .await?;
        if sent.is_none() {
            return Err(FeedError(format!(
                "the cache triggers of {} are missing, disabled or out of date (run the store's migration)",
                self.table
            )));
        }
        loop {
            let notification = match listener.next_buffered() {
                Some(n) => n,
                None => match listener.try_recv().await? {
                    Some(n) => n,
                    None => return Err(FeedError("the listening connection was lost".into())),
                },
            };
            if notification.channel() == self.beat_channel {
                if notification.payload() == payload {
                    return Ok(());
                }
                continue;
            }
            changes.push(match notification.payload() {
                "*" => Change::All,
                p if p.starts_with(REVOKED_PREFIX) => {
                    revocation(p.as_bytes()).map_or(Change::All, Change::Revoked)
                }
                hex_digest => hex::decode(hex_digest).map_or(Change::All, Change::Key),
            });
        }
    }
}

#[async_trait::async_trait]
impl Feed for PgFeed {
    fn migration(&self) -> Migration {
        let table = &self.table;
        let function = &self.function;
        let [row, truncate] = &self.triggers;
        let (row, truncate) = (quote(row), quote(truncate));
        Migration {
            up: vec![
                self.function_sql(),
                format!("DROP TRIGGER IF EXISTS {row} ON {table}"),
                format!(
                    "CREATE TRIGGER {row} AFTER UPDATE OR DELETE ON {table} FOR EACH ROW EXECUTE FUNCTION {function}()"
                ),
                format!("DROP TRIGGER IF EXISTS {truncate} ON {table}"),
                format!(
                    "CREATE TRIGGER {truncate} AFTER TRUNCATE ON {table} FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
                ),
            ],
            // Dropping the table drops its triggers; the function goes after it.
            down: vec![format!("DROP FUNCTION IF EXISTS {function}()")],
        }
    }

    fn default_bound(&self) -> Duration {
        Duration::from_millis(100)
    }

    async fn catch_up(&mut self, changes: &mut Vec<Change>) -> Result<(), FeedError> {
        if self.listener.is_none() {
            let pool = self.pool.get_or_insert_with(|| {
                PgPoolOptions::new()
                    .max_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None)
                    .connect_lazy_with(self.options.clone())
            });
            let mut listener = PgListener::connect_with(pool).await?;
            listener.eager_reconnect(false);
            listener
                .listen_all([self.channel.as_str(), self.beat_channel.as_str()])
                .await?;
            self.listener = Some(listener);
            // Whatever changed while nobody listened is unknown.
            changes.push(Change::All);
        }
        self.beat(changes).await
    }

    fn reset(&mut self) {
        self.listener = None;
    }
}
