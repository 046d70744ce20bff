//! Measurement 3: UPDATEs that reach the database during lookups of one session inside the
//! stale window. PostgreSQL: `pg_stat_user_tables` (read once the contender's pool is closed and
//! no other client backend is left on the run's database, so that every backend has flushed its
//! counters); SQLite and MySQL: triggers counting into a side table.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use sqlx::{AssertSqlSafe, ConnectOptions};
use time::OffsetDateTime;

use crate::cli::Plan;
use crate::contenders::{Contender, Kind};
use crate::db::{Db, DbKind};
use crate::report::WritesResult;

/// One case: a contender, the mode, the label and the table name.
struct Case {
    kind: Kind,
    always_save: bool,
    /// Create the session 2 days into its 7-day ttl, so that it is due for extension
    /// (a check that the counting sees the library's one conditional UPDATE).
    due: bool,
    label: &'static str,
    name: &'static str,
}

const CASES: [Case; 4] = [
    Case {
        kind: Kind::SqlxSessions,
        always_save: false,
        due: false,
        label: "sqlx-sessions (defaults)",
        name: "writes",
    },
    Case {
        kind: Kind::SqlxSessions,
        always_save: false,
        due: true,
        label: "sqlx-sessions, due for extension",
        name: "writes_due",
    },
    Case {
        kind: Kind::TowerSessions,
        always_save: false,
        due: false,
        label: "tower-sessions",
        name: "writes_plain",
    },
    Case {
        kind: Kind::TowerSessions,
        always_save: true,
        due: false,
        label: "tower-sessions always_save",
        name: "writes_always",
    },
];

/// Runs every case whose contender is in the plan.
pub async fn run(plan: &Plan, db: &Db) -> Result<Vec<WritesResult>> {
    let mut out = Vec::new();
    for case in CASES.iter().filter(|c| plan.contenders.contains(&c.kind)) {
        let c = Contender::open(case.kind, db, case.name).await?;
        let token = match (&c, case.due) {
            (Contender::Lib(lib), true) => {
                let at = OffsetDateTime::now_utc() + time::Duration::days(5);
                lib.create_expiring(at).await?
            }
            _ => c.create(0).await?,
        };
        let counted = Counted::of(&c);
        install_counter(db, &counted).await?;
        c.close().await;
        let before = read_counter(db, &counted, true).await?;

        let c = Contender::open(case.kind, db, case.name).await?;
        let mut found = 0;
        for _ in 0..plan.writes_lookups {
            found += u64::from(c.request(&token, case.always_save).await?);
        }
        c.close().await;
        let after = read_counter(db, &counted, true).await?;
        let r = WritesResult {
            db: db.kind,
            case: case.label.to_string(),
            lookups: plan.writes_lookups,
            found,
            updates: after.1 - before.1,
            inserts: after.0 - before.0,
            counted_by: counted_by(db.kind).into(),
        };
        eprintln!(
            "  [{}] writes {:<28} updates {} inserts {} found {}",
            db.kind.name(),
            r.case,
            r.updates,
            r.inserts,
            r.found
        );
        out.push(r);
    }
    Ok(out)
}

/// How long a connected, idle PostgreSQL backend may keep its counters before flushing them
/// (PGSTAT_IDLE_INTERVAL, 10 s), with a margin.
const PG_IDLE_FLUSH: Duration = Duration::from_millis(10_500);

/// A table whose INSERTs and UPDATEs are counted.
#[derive(Clone, Copy, Debug)]
pub struct Counted<'a> {
    /// The table (on SQLite also the name of its file, as every contender's).
    pub table: &'a str,
    /// Its schema on PostgreSQL.
    pub pg_schema: &'a str,
}

impl<'a> Counted<'a> {
    /// The table of contender `c`.
    pub fn of(c: &'a Contender) -> Self {
        Counted {
            table: c.table(),
            pg_schema: c.pg_schema(),
        }
    }
}

/// How the writes are counted on `kind`, for the reports.
pub fn counted_by(kind: DbKind) -> &'static str {
    match kind {
        DbKind::Postgres => "pg_stat_user_tables",
        DbKind::Sqlite => "SQLite triggers",
        DbKind::Mysql => "MySQL triggers",
    }
}

async fn sqlite_conn(db: &Db, c: &Counted<'_>) -> Result<sqlx::SqliteConnection> {
    Ok(sqlx::sqlite::SqliteConnectOptions::new()
        .filename(db.sqlite_file(c.table))
        .busy_timeout(Duration::from_secs(60))
        .connect()
        .await?)
}

/// Installs the counters of `c`: triggers into a side table on SQLite and MySQL; nothing on
/// PostgreSQL, whose statistics count.
pub async fn install_counter(db: &Db, c: &Counted<'_>) -> Result<()> {
    match db.kind {
        DbKind::Sqlite => install_sqlite_counter(db, c).await,
        DbKind::Mysql => install_mysql_counter(db, c).await,
        DbKind::Postgres => Ok(()),
    }
}

/// The counters of [`install_sqlite_counter`] on MySQL: one side table in the run's database
/// (the cases run one after the other, and each reads its own before and after).
async fn install_mysql_counter(db: &Db, c: &Counted<'_>) -> Result<()> {
    let t = c.table;
    let mut conn = db.mysql_connection().await?;
    for sql in [
        "CREATE TABLE IF NOT EXISTS bench_writes (ins BIGINT NOT NULL, upd BIGINT NOT NULL)".to_string(),
        "INSERT INTO bench_writes (ins, upd) SELECT 0, 0 FROM DUAL WHERE NOT EXISTS (SELECT 1 FROM bench_writes)"
            .to_string(),
        format!(
            "CREATE TRIGGER `bench_{t}_upd` AFTER UPDATE ON `{t}` FOR EACH ROW \
             UPDATE bench_writes SET upd = upd + 1"
        ),
        format!(
            "CREATE TRIGGER `bench_{t}_ins` AFTER INSERT ON `{t}` FOR EACH ROW \
             UPDATE bench_writes SET ins = ins + 1"
        ),
    ] {
        sqlx::query(AssertSqlSafe(sql)).execute(&mut conn).await?;
    }
    Ok(())
}

async fn install_sqlite_counter(db: &Db, c: &Counted<'_>) -> Result<()> {
    let t = c.table;
    let mut conn = sqlite_conn(db, c).await?;
    for sql in [
        "CREATE TABLE IF NOT EXISTS bench_writes (ins INTEGER NOT NULL, upd INTEGER NOT NULL)".to_string(),
        "INSERT INTO bench_writes (ins, upd) SELECT 0, 0 WHERE NOT EXISTS (SELECT 1 FROM bench_writes)"
            .to_string(),
        format!(
            "CREATE TRIGGER IF NOT EXISTS bench_{t}_upd AFTER UPDATE ON {t} \
             BEGIN UPDATE bench_writes SET upd = upd + 1; END"
        ),
        format!(
            "CREATE TRIGGER IF NOT EXISTS bench_{t}_ins AFTER INSERT ON {t} \
             BEGIN UPDATE bench_writes SET ins = ins + 1; END"
        ),
    ] {
        sqlx::query(AssertSqlSafe(sql)).execute(&mut conn).await?;
    }
    Ok(())
}

/// (inserts, updates) counted so far for the table `c`. On PostgreSQL, with `end_others`,
/// every other client backend on the run's database is ended first (each flushes its
/// counters as it exits); without, see [`read_counters`].
pub async fn read_counter(db: &Db, c: &Counted<'_>, end_others: bool) -> Result<(u64, u64)> {
    let counts = read_counters(db, std::slice::from_ref(c), end_others).await?;
    counts.into_iter().next().context("one counter")
}

/// (inserts, updates) counted so far for each table of `tables`. On PostgreSQL without
/// `end_others`, the pools stay usable: the counters are read once every idle backend has
/// flushed its own (about 12 s).
pub async fn read_counters(
    db: &Db,
    tables: &[Counted<'_>],
    end_others: bool,
) -> Result<Vec<(u64, u64)>> {
    match db.kind {
        DbKind::Sqlite => {
            let mut out = Vec::new();
            for c in tables {
                let mut conn = sqlite_conn(db, c).await?;
                let (i, u): (i64, i64) = sqlx::query_as("SELECT ins, upd FROM bench_writes")
                    .fetch_one(&mut conn)
                    .await?;
                out.push((i as u64, u as u64));
            }
            Ok(out)
        }
        DbKind::Mysql => {
            // One side table for the run's database: one counted table at a time.
            anyhow::ensure!(tables.len() == 1, "MySQL counts one table at a time");
            let mut conn = db.mysql_connection().await?;
            let (i, u): (i64, i64) = sqlx::query_as("SELECT ins, upd FROM bench_writes")
                .fetch_one(&mut conn)
                .await?;
            Ok(vec![(i as u64, u as u64)])
        }
        DbKind::Postgres => {
            // A backend flushes its counters when it exits. With `end_others` the contender's
            // pool is closed: end any connection it may still have in flight, and wait until
            // none is left.
            let mut conn = db.pg_connection().await?;
            if end_others {
                end_other_backends(&mut conn).await?;
            }
            // A backend leaves pg_stat_activity just before it flushes. One that stays
            // connected flushes when it goes idle, but at most once a second: what it did
            // within a second of its last flush waits for its idle timer (10 s in
            // PostgreSQL 15-17, PGSTAT_IDLE_INTERVAL). Without `end_others`, let that pass
            // first; then read until two reads a pause apart agree.
            if !end_others {
                tokio::time::sleep(PG_IDLE_FLUSH).await;
            }
            let pause = Duration::from_millis(if end_others { 300 } else { 1_200 });
            let mut last = None;
            loop {
                tokio::time::sleep(pause).await;
                sqlx::query("SELECT pg_stat_clear_snapshot()")
                    .execute(&mut conn)
                    .await?;
                let mut now = Vec::new();
                for c in tables {
                    let (i, u): (i64, i64) = sqlx::query_as(
                        "SELECT n_tup_ins, n_tup_upd FROM pg_stat_user_tables \
                         WHERE schemaname = $1 AND relname = $2",
                    )
                    .bind(c.pg_schema)
                    .bind(c.table)
                    .fetch_optional(&mut conn)
                    .await?
                    .context("table missing from pg_stat_user_tables")?;
                    now.push((i as u64, u as u64));
                }
                if last.as_ref() == Some(&now) {
                    return Ok(now);
                }
                last = Some(now);
            }
        }
    }
}

/// Ends every other client backend on the run's PostgreSQL database and waits until none is
/// left.
async fn end_other_backends(conn: &mut sqlx::PgConnection) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let others: i64 = sqlx::query_scalar(
            "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE datname = current_database() AND backend_type = 'client backend' \
             AND pid <> pg_backend_pid()",
        )
        .fetch_one(&mut *conn)
        .await?;
        if others == 0 {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("other backends still connected; statistics would be incomplete");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
