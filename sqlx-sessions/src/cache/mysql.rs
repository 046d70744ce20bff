//! MySQL and MariaDB: triggers append the digests of changed rows (and `revoked:<id>` for
//! a revoked or deleted session) to a change-log table, which the store polls on a
//! connection of its own.
//!
//! # Why sequence order is not enough, and what the poll does instead
//!
//! The log's `seq` is `AUTO_INCREMENT`, allocated when a trigger inserts, not when its
//! transaction commits: on InnoDB a poll can see `seq` 6 committed while 5 belongs to a
//! transaction still open (or was allocated a moment ago and is not in the index yet). A
//! poller that only read `seq > last_seen` would step past 5 for good. So each poll keeps
//! the sequences it has not seen below the highest one it has (the *missing* ones) and
//! reads them again every round, next to the new rows, until they are resolved:
//!
//! - reads are plain `READ COMMITTED` statements (no locks, no gap locks, nothing a writer
//!   waits for), each seeing every change committed before it started, so a round that
//!   starts after a commit applies it;
//! - a missing sequence that a `READ UNCOMMITTED` read finds in the index belongs to an
//!   open transaction: it is waited for as long as that transaction lasts, and applied by
//!   the first round after its commit;
//! - a missing sequence that is not in the index either was rolled back, or was allocated
//!   an instant before its row is inserted. After [`GRACE`] without it appearing it is
//!   dropped: the window between allocating a value and inserting the row is one
//!   statement's execution, far shorter than that (a row inserted more than [`GRACE`]
//!   after its value was allocated would not be seen: the one assumption of this feed).
//!
//! So a change committed at `c` is applied by every round that starts after `c`, whatever
//! the order of the sequences, and the driver's rule (an entry is served only while a
//! round that started within the bound has completed) makes the bound hold: 1 s by
//! default, four rounds per bound. Nothing waits for a lock: a transaction left open
//! delays only its own change, and the cache keeps answering meanwhile.
//!
//! The log keeps its last [`KEEP`] rows: each poller deletes, in small batches, rows it has
//! resolved that are more than [`KEEP`] behind the newest (never a row of an open
//! transaction, which no poller has resolved). A missing sequence that far behind and not
//! in the index may have been pruned after it committed, so a poller that finds one
//! reports [`Change::All`] (it was that far behind anyway).
//!
//! Cascading foreign-key deletes fire no trigger on MySQL and MariaDB, so for each owner
//! column with a foreign key a `BEFORE DELETE` trigger on the referenced table logs the
//! sessions the cascade is about to delete.
//!
//! Every round first checks that the triggers exist in their current form, and notes when
//! they were created: triggers re-created since the last round (a `migrate`, which drops
//! and creates them one statement at a time, or a table dropped and made again) report
//! [`Change::All`]. `TRUNCATE` fires no trigger on MySQL and is not seen.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use sqlx::mysql::{MySqlConnectOptions, MySqlConnection, MySqlPool};
use sqlx::{AssertSqlSafe, Connection as _};

use super::feed::{Change, Feed, FeedError, REVOKED_PREFIX, derived_name, revocation};
use crate::migrate::Migration;
use crate::schema::TableSpec;

/// Rows the change log keeps; a poller further behind than this clears its cache.
pub(crate) const KEEP: i64 = 100_000;

/// How long a sequence missing from the index may still appear.
pub(crate) const GRACE: Duration = Duration::from_secs(1);

/// Rows read per statement of a poll.
const BATCH: i64 = 4_096;

/// Rows deleted per statement when pruning.
const PRUNE_BATCH: i64 = 5_000;

/// Missing sequences read by list; more are read as one range.
const LISTED: usize = 500;

/// The table of `spec` in MySQL's quoting.
fn ticks(name: &str) -> String {
    name.replace('"', "`")
}

/// A foreign key whose cascading deletes the feed logs.
#[derive(Debug)]
struct Cascade {
    /// The trigger's name, on the referenced table.
    trigger: String,
    /// The referenced table, qualified and quoted.
    parent: String,
    /// The referenced column.
    parent_column: String,
    /// The owner column of the sessions table.
    column: String,
}

/// What a poller knows of the log.
#[derive(Debug)]
struct Progress {
    /// The highest sequence read committed.
    top: i64,
    /// Sequences below `top` not read yet: `None` while an open transaction holds the row,
    /// else when it was first found missing from the index.
    missing: BTreeMap<i64, Option<Instant>>,
    /// Rows up to this one were pruned by this poller.
    pruned: i64,
    /// When the triggers were created, as the first round saw it.
    created: String,
}

impl Progress {
    /// Every sequence up to this one is resolved.
    fn low(&self) -> i64 {
        self.missing.keys().next().map_or(self.top, |s| s - 1)
    }
}

/// The channel of one table on MySQL or MariaDB.
#[derive(Debug)]
pub(crate) struct MySqlFeed {
    options: MySqlConnectOptions,
    conn: Option<MySqlConnection>,
    /// The schema of the table, `None` for the connection's database.
    schema: Option<String>,
    /// The quoted, qualified table.
    table: String,
    /// The quoted, qualified log.
    log: String,
    /// The triggers on the table: after update, after delete.
    triggers: [String; 2],
    cascades: Vec<Cascade>,
    /// Every trigger's name, for the check of each round.
    names: Vec<String>,
    progress: Option<Progress>,
}

impl MySqlFeed {
    pub(crate) fn new(pool: &MySqlPool, spec: &TableSpec) -> Self {
        let cascades: Vec<Cascade> = spec
            .extras
            .iter()
            .filter_map(|c| {
                let fk = c.foreign_key()?;
                Some(Cascade {
                    trigger: derived_name(&spec.table, &format!("{}_cascade", c.name())),
                    parent: ticks(&spec.qualify(fk.table())),
                    parent_column: fk.column().to_owned(),
                    column: c.name().to_owned(),
                })
            })
            .collect();
        let triggers = [
            derived_name(&spec.table, "changes_update"),
            derived_name(&spec.table, "changes_delete"),
        ];
        let names = triggers
            .iter()
            .cloned()
            .chain(cascades.iter().map(|c| c.trigger.clone()))
            .collect();
        MySqlFeed {
            options: (*pool.connect_options()).clone(),
            conn: None,
            schema: spec.schema.clone(),
            table: ticks(&spec.qualified()),
            log: ticks(&spec.qualify(&derived_name(&spec.table, "changes"))),
            triggers,
            cascades,
            names,
            progress: None,
        }
    }

    /// A trigger's name, in the table's schema.
    fn qualified(&self, name: &str) -> String {
        match &self.schema {
            Some(schema) => format!("`{schema}`.`{name}`"),
            None => format!("`{name}`"),
        }
    }

    fn insert(&self, value: &str) -> String {
        format!("INSERT INTO {} (`digest`) VALUES ({value});", self.log)
    }

    fn row_trigger(&self, name: &str, event: &str) -> String {
        let revoked = |row: &str| format!("CONCAT('{REVOKED_PREFIX}', HEX({row}.`id`))");
        let mut body = format!("  {}\n", self.insert("OLD.`auth_token_digest`"));
        if event == "UPDATE" {
            body.push_str(&format!(
                "  IF NOT (NEW.`auth_token_digest` <=> OLD.`auth_token_digest`) THEN\n    {}\n  END IF;\n",
                self.insert("NEW.`auth_token_digest`")
            ));
            // `DATETIME(6)` columns hold UTC.
            body.push_str(&format!(
                "  IF NEW.`expires_at` IS NOT NULL AND (NEW.`expires_at` <= NEW.`updated_at` OR NEW.`expires_at` <= UTC_TIMESTAMP(6)) THEN\n    {}\n  END IF;\n",
                self.insert(&revoked("NEW"))
            ));
        } else {
            body.push_str(&format!("  {}\n", self.insert(&revoked("OLD"))));
        }
        format!(
            "CREATE TRIGGER {} AFTER {event} ON {} FOR EACH ROW BEGIN\n{body}END",
            self.qualified(name),
            self.table
        )
    }

    fn cascade_trigger(&self, c: &Cascade) -> String {
        let from = format!(
            "FROM {} WHERE `{}` = OLD.`{}`",
            self.table, c.column, c.parent_column
        );
        format!(
            "CREATE TRIGGER {} BEFORE DELETE ON {} FOR EACH ROW BEGIN\n  INSERT INTO {log} (`digest`) SELECT `auth_token_digest` {from};\n  INSERT INTO {log} (`digest`) SELECT CONCAT('{REVOKED_PREFIX}', HEX(`id`)) {from};\nEND",
            self.qualified(&c.trigger),
            c.parent,
            log = self.log,
        )
    }

    async fn connect(&self) -> Result<MySqlConnection, sqlx::Error> {
        let mut conn = MySqlConnection::connect_with(&self.options).await?;
        sqlx::raw_sql(
            "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED; SET SESSION innodb_lock_wait_timeout = 1",
        )
        .execute(&mut conn)
        .await?;
        let id: u64 = sqlx::query_scalar("SELECT CONNECTION_ID()")
            .fetch_one(&mut conn)
            .await?;
        tracing::debug!(connection_id = id, table = %self.table, "cache poll connected");
        Ok(conn)
    }

    async fn round(&mut self, changes: &mut Vec<Change>) -> Result<(), FeedError> {
        if self.conn.is_none() {
            self.conn = Some(self.connect().await?);
        }
        let Some(conn) = self.conn.as_mut() else {
            return Err(FeedError("no poll connection".into()));
        };
        let created = check_triggers(conn, self.schema.as_deref(), &self.names).await?;
        let Some(created) = created else {
            return Err(FeedError(format!(
                "the change-log triggers of {} are missing or out of date (run the store's migration)",
                self.table
            )));
        };
        let log = &self.log;
        let mut p = match self.progress.take() {
            Some(p) if p.created == created => p,
            _ => {
                // First round, or triggers made again: whatever happened meanwhile is unknown.
                changes.push(Change::All);
                self.progress = Some(start(conn, log, created).await?);
                return Ok(());
            }
        };
        if poll(conn, log, &mut p, changes).await? {
            // The log lost its newest rows: it was emptied or made again.
            changes.push(Change::All);
            p = start(conn, log, p.created).await?;
        }
        prune(conn, log, &mut p).await;
        self.progress = Some(p);
        Ok(())
    }
}

/// When the triggers were created (one text for all), if every one exists in its
/// current form (writing revocations).
async fn check_triggers(
    conn: &mut MySqlConnection,
    schema: Option<&str>,
    names: &[String],
) -> Result<Option<String>, FeedError> {
    let list = vec!["?"; names.len()].join(", ");
    let sql = format!(
        "SELECT CAST(CREATED AS CHAR) FROM information_schema.TRIGGERS \
         WHERE TRIGGER_SCHEMA = COALESCE(?, DATABASE()) AND TRIGGER_NAME IN ({list}) \
         AND LOCATE(?, ACTION_STATEMENT) > 0 ORDER BY TRIGGER_NAME"
    );
    let mut q = sqlx::query_scalar::<_, Option<String>>(AssertSqlSafe(sql)).bind(schema);
    for name in names {
        q = q.bind(name.as_str());
    }
    let found = q.bind(REVOKED_PREFIX).fetch_all(&mut *conn).await?;
    if found.len() != names.len() {
        return Ok(None);
    }
    Ok(Some(
        found
            .into_iter()
            .map(Option::unwrap_or_default)
            .collect::<Vec<_>>()
            .join(","),
    ))
}

/// The sequences in the log, read committed or (with `dirty`) including open transactions'.
async fn sequences(
    conn: &mut MySqlConnection,
    log: &str,
    range: Option<(i64, i64)>,
    dirty: bool,
) -> Result<Vec<i64>, FeedError> {
    if dirty {
        // For the next statement only.
        sqlx::raw_sql("SET TRANSACTION ISOLATION LEVEL READ UNCOMMITTED")
            .execute(&mut *conn)
            .await?;
    }
    let (lo, hi) = range.unwrap_or((i64::MIN, i64::MAX));
    Ok(sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT `seq` FROM {log} WHERE `seq` BETWEEN ? AND ? ORDER BY `seq`"
    )))
    .bind(lo)
    .bind(hi)
    .fetch_all(&mut *conn)
    .await?)
}

/// The first round: everything committed counts as seen; rows of open transactions, and
/// recent sequences not in the index, are missing.
async fn start(
    conn: &mut MySqlConnection,
    log: &str,
    created: String,
) -> Result<Progress, FeedError> {
    let committed = sequences(conn, log, None, false).await?;
    let present = sequences(conn, log, None, true).await?;
    let top = committed.last().copied().unwrap_or(0);
    let newest = present.last().copied().unwrap_or(0).max(top);
    let oldest = committed.first().into_iter().chain(present.first()).min();
    // Absent sequences far behind the newest were rolled back long ago.
    let floor = (newest - KEEP).max(oldest.map_or(newest, |s| s - 1));
    let now = Instant::now();
    let mut missing = BTreeMap::new();
    for seq in &present {
        if committed.binary_search(seq).is_err() {
            missing.insert(*seq, None);
        }
    }
    for seq in floor + 1..=newest {
        if committed.binary_search(&seq).is_err() {
            missing.entry(seq).or_insert(Some(now));
        }
    }
    Ok(Progress {
        top,
        missing,
        pruned: 0,
        created,
    })
}

/// One round after the first. Returns whether the log lost rows it had (re-created).
async fn poll(
    conn: &mut MySqlConnection,
    log: &str,
    p: &mut Progress,
    changes: &mut Vec<Change>,
) -> Result<bool, FeedError> {
    let now = Instant::now();
    let read = |sql: String| sqlx::query_as::<_, (i64, Vec<u8>)>(AssertSqlSafe(sql));
    let mut rows = Vec::new();
    // The missing rows first, then the new ones.
    if !p.missing.is_empty() {
        if p.missing.len() <= LISTED {
            let list = vec!["?"; p.missing.len()].join(", ");
            let mut q = read(format!(
                "SELECT `seq`, `digest` FROM {log} WHERE `seq` IN ({list})"
            ));
            for seq in p.missing.keys() {
                q = q.bind(*seq);
            }
            rows.extend(q.fetch_all(&mut *conn).await?);
        } else {
            let lo = p.low() + 1;
            let q = read(format!(
                "SELECT `seq`, `digest` FROM {log} WHERE `seq` BETWEEN ? AND ?"
            ));
            // Missing rows above `top` are read with the new ones.
            let all = q.bind(lo).bind(p.top).fetch_all(&mut *conn).await?;
            rows.extend(all.into_iter().filter(|(s, _)| p.missing.contains_key(s)));
        }
    }
    let mut after = p.top;
    loop {
        let batch = read(format!(
            "SELECT `seq`, `digest` FROM {log} WHERE `seq` > ? ORDER BY `seq` LIMIT {BATCH}"
        ))
        .bind(after)
        .fetch_all(&mut *conn)
        .await?;
        let full = batch.len() as i64 == BATCH;
        after = batch.last().map_or(after, |r| r.0);
        rows.extend(batch);
        if !full {
            break;
        }
    }
    // Read after the rows: at least the newest row any earlier pruning saw.
    let newest: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT COALESCE(MAX(`seq`), 0) FROM {log}"
    )))
    .fetch_one(&mut *conn)
    .await?;
    if newest < p.top {
        return Ok(true);
    }
    for (seq, entry) in rows {
        if seq > p.top {
            let from = (p.top + 1).max(seq - KEEP);
            if from > p.top + 1 {
                changes.push(Change::All);
            }
            for gap in from..seq {
                p.missing.entry(gap).or_insert(Some(now));
            }
            p.top = seq;
        }
        p.missing.remove(&seq);
        changes.push(match revocation(&entry) {
            Some(id) => Change::Revoked(id),
            None => Change::Key(entry),
        });
    }
    if p.missing.is_empty() {
        return Ok(false);
    }
    // Sequences still missing: an open transaction's, or not in the index.
    let last = p.missing.keys().next_back().copied().unwrap_or(p.top);
    let range = (p.low() + 1, last.max(p.top));
    let present = sequences(conn, log, Some(range), true).await?;
    let horizon = newest - KEEP;
    let mut lost = false;
    p.missing.retain(|seq, since| {
        if present.binary_search(seq).is_ok() {
            *since = None;
            return true;
        }
        if *seq <= horizon {
            // Possibly committed and pruned before this poller read it.
            lost = true;
            return false;
        }
        let first = *since.get_or_insert(now);
        now.duration_since(first) < GRACE
    });
    if lost {
        changes.push(Change::All);
    }
    Ok(false)
}

/// Deletes rows this poller has resolved that are more than [`KEEP`] behind the newest, a
/// batch at a time; a failure (a lock held elsewhere) waits for the next round.
async fn prune(conn: &mut MySqlConnection, log: &str, p: &mut Progress) {
    let upto = p.low().min(p.top - KEEP);
    if upto < p.pruned + PRUNE_BATCH / 5 {
        return;
    }
    let deleted = sqlx::query(AssertSqlSafe(format!(
        "DELETE FROM {log} WHERE `seq` <= ? ORDER BY `seq` LIMIT {PRUNE_BATCH}"
    )))
    .bind(upto)
    .execute(&mut *conn)
    .await;
    match deleted {
        Ok(done) if (done.rows_affected() as i64) < PRUNE_BATCH => p.pruned = upto,
        Ok(_) => {}
        Err(error) => tracing::debug!(%error, "change log not pruned this round"),
    }
}

#[async_trait::async_trait]
impl Feed for MySqlFeed {
    fn migration(&self) -> Migration {
        let log = &self.log;
        let mut up = vec![format!(
            "CREATE TABLE IF NOT EXISTS {log} (\n  `seq` BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,\n  `digest` VARBINARY(255) NOT NULL\n) ENGINE=InnoDB"
        )];
        let mut down = Vec::new();
        // Dropped first so the migration writes the current body (MySQL 8 has no `CREATE
        // OR REPLACE TRIGGER`); pollers see the new creation time and start over.
        for (name, event) in self.triggers.iter().zip(["UPDATE", "DELETE"]) {
            up.push(format!("DROP TRIGGER IF EXISTS {}", self.qualified(name)));
            up.push(self.row_trigger(name, event));
        }
        for c in &self.cascades {
            let name = self.qualified(&c.trigger);
            up.push(format!("DROP TRIGGER IF EXISTS {name}"));
            up.push(self.cascade_trigger(c));
            // On the referenced table, which stays.
            down.push(format!("DROP TRIGGER IF EXISTS {name}"));
        }
        // Dropping the table drops its own triggers.
        down.push(format!("DROP TABLE IF EXISTS {log}"));
        Migration { up, down }
    }

    fn default_bound(&self) -> Duration {
        Duration::from_secs(1)
    }

    async fn catch_up(&mut self, changes: &mut Vec<Change>) -> Result<(), FeedError> {
        self.round(changes).await
    }

    fn reset(&mut self) {
        self.conn = None;
        self.progress = None;
    }
}
