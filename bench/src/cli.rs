//! Command line and the plan of a run derived from it.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use serde::Serialize;

use crate::contenders::Kind;
use crate::db::PoolSettings;

/// Side-by-side benchmarks of sqlx-sessions, tower-sessions (tower-sessions-sqlx-store) and raw
/// sqlx, in one process, on SQLite (a WAL file in a temporary directory), PostgreSQL and MySQL
/// or MariaDB (a fresh database created through `--pg-url` / `--mysql-url` and dropped at the
/// end).
#[derive(Debug, Parser)]
#[command(name = "sqlx-sessions-bench", version, about)]
pub struct Args {
    /// Quick mode: 100,000 rows, about 2 s per case, the whole run under five minutes.
    #[arg(long)]
    pub quick: bool,
    /// Rows in the lookup tables [default: 1,000,000; 100,000 with --quick].
    #[arg(long)]
    pub rows: Option<u64>,
    /// Seconds of measurement per case and round [default: 5; 1 with --quick].
    #[arg(long)]
    pub seconds: Option<f64>,
    /// Seconds of warm-up before each measured slice [default: 1; 0.25 with --quick].
    #[arg(long)]
    pub warmup: Option<f64>,
    /// Interleaved rounds per case: every contender runs once per round [default: 3; 2 with --quick].
    #[arg(long)]
    pub rounds: Option<u32>,
    /// PostgreSQL server URL (any existing database) through which the run's database is created.
    #[arg(long, env = "PG_TEST_URL")]
    pub pg_url: Option<String>,
    /// MySQL or MariaDB server URL (any existing database) through which the run's database
    /// is created.
    #[arg(long, env = "MYSQL_TEST_URL")]
    pub mysql_url: Option<String>,
    /// Skip SQLite.
    #[arg(long)]
    pub no_sqlite: bool,
    /// Skip PostgreSQL even when a URL is given.
    #[arg(long)]
    pub no_postgres: bool,
    /// Skip MySQL even when a URL is given.
    #[arg(long)]
    pub no_mysql: bool,
    /// Directory for the SQLite files [default: a fresh temporary directory, removed at the end].
    #[arg(long)]
    pub sqlite_dir: Option<PathBuf>,
    /// Measurements to run.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = Measurement::ALL.to_vec())]
    pub only: Vec<Measurement>,
    /// Contenders to run.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = Kind::ALL.to_vec())]
    pub contenders: Vec<Kind>,
    /// Concurrency levels (tokio tasks sharing one pool) for the lookup and creation cases.
    #[arg(long, value_delimiter = ',', default_values_t = vec![1, 16])]
    pub concurrency: Vec<usize>,
    /// Table sizes for the growth measurement, in order [default: 10k,100k,1M; 10k,100k with --quick].
    #[arg(long, value_delimiter = ',')]
    pub growth_sizes: Option<Vec<u64>>,
    /// Valid rows (and as many expired ones) for the pruning measurement [default: --rows;
    /// 50,000 with --quick].
    #[arg(long)]
    pub prune_rows: Option<u64>,
    /// Lookup tasks running during pruning (and for its idle baseline).
    #[arg(long, default_value_t = 4)]
    pub prune_concurrency: usize,
    /// `prune_batch_size` of the sqlx-sessions stores [default: the library's].
    #[arg(long)]
    pub lib_prune_batch: Option<u32>,
    /// Lookups of one session for the writes-per-lookup measurement [default: 10,000; 2,000
    /// with --quick].
    #[arg(long)]
    pub writes_lookups: Option<u64>,
    /// Maximum connections of every SQLite pool.
    #[arg(long, default_value_t = 8)]
    pub sqlite_pool: u32,
    /// Maximum connections of every PostgreSQL pool.
    #[arg(long, default_value_t = 16)]
    pub pg_pool: u32,
    /// Maximum connections of every MySQL pool.
    #[arg(long, default_value_t = 16)]
    pub mysql_pool: u32,
    /// Check each connection before lending it (`test_before_acquire(true)`) in every pool;
    /// without this flag it is off in every pool.
    #[arg(long)]
    pub test_before_acquire: bool,
    /// Sessions created through the demo for the HTTP measurement [default: 10,000; 2,000
    /// with --quick].
    #[arg(long)]
    pub http_sessions: Option<u64>,
    /// `wrk` connection counts for the HTTP measurements [default: --concurrency; 16 with
    /// --quick].
    #[arg(long, value_delimiter = ',')]
    pub http_connections: Option<Vec<usize>>,
    /// Stale window of the tower-sessions measurement, seconds: sessions expire after a day
    /// of inactivity, and `TowerStore` moves an expiry at most once per this window.
    #[arg(long, default_value_t = 30.0)]
    pub tower_stale_secs: f64,
    /// Distinct sessions looked up again and again in the cache measurement (and in the
    /// access-token one).
    #[arg(long, default_value_t = 100_000)]
    pub cache_sessions: u64,
    /// Tasks looking sessions up in the cache measurement.
    #[arg(long, default_value_t = 16)]
    pub cache_concurrency: usize,
    /// Sessions cached for the memory measurement (`cache-memory`, not part of `--quick`).
    #[arg(long, default_value_t = 1_000_000)]
    pub cache_memory_entries: u64,
    /// Entries each cache of the cache and memory measurements may hold, as a multiple of
    /// the sessions looked up (the same for sqlx-sessions' cache and moka). At 1.0 a cache
    /// is exactly the size of the working set, and an approximate cache (both are) evicts a
    /// few of the sessions it is then asked for again.
    #[arg(long, default_value_t = 1.0)]
    pub cache_capacity: f64,
    /// Revocations per source (instance B, plain SQL) and database for sqlx-sessions with
    /// its cache.
    #[arg(long, default_value_t = 1_000)]
    pub revocations: u64,
    /// Revocations per source and database for tower-sessions + moka (each watched for
    /// `--tower-revoke-watch` seconds, since it never hears of them).
    #[arg(long, default_value_t = 64)]
    pub tower_revocations: u64,
    /// Seconds each revocation of tower-sessions + moka is watched.
    #[arg(long, default_value_t = 2.0)]
    pub tower_revoke_watch: f64,
    /// Write an SVG chart of lookup latency against table size here.
    #[arg(long)]
    pub chart: Option<PathBuf>,
    /// Write all results as JSON here.
    #[arg(long)]
    pub json_out: Option<PathBuf>,
    /// Write the result tables as Markdown here.
    #[arg(long)]
    pub markdown_out: Option<PathBuf>,
}

/// One measurement of the issue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Measurement {
    /// Lookup throughput and latency at each concurrency.
    Lookup,
    /// Sessions created per second.
    Create,
    /// UPDATEs reaching the database for lookups of one session inside the stale window.
    Writes,
    /// Deleting expired rows among valid ones, and lookups meanwhile.
    Prune,
    /// Lookup latency and peak memory as the table grows.
    Growth,
    /// Requests per second of the demo's `GET /api/me` under `wrk` (with and without its
    /// cache), against raw axum + sqlx.
    Http,
    /// Repeat lookups of the same sessions: sqlx-sessions with its cache, tower-sessions +
    /// moka, raw sqlx (SQLite and PostgreSQL).
    Cache,
    /// Time from a revocation elsewhere to its first refusal by a cached instance.
    Revoke,
    /// An axum-login app on tower-sessions under `wrk`: tower-sessions-sqlx-store against
    /// `TowerStore`, with and without `with_always_save` (SQLite and PostgreSQL).
    TowerHttp,
    /// Resident memory with `--cache-memory-entries` sessions cached (not part of `--quick`).
    CacheMemory,
    /// Per request: access-token verification (EdDSA, HS256, with the revocation check)
    /// against a cached and an uncached lookup (SQLite and PostgreSQL).
    Access,
}

impl Measurement {
    /// Every measurement, in run order.
    pub const ALL: [Measurement; 11] = [
        Measurement::Lookup,
        Measurement::Create,
        Measurement::Writes,
        Measurement::Prune,
        Measurement::Growth,
        Measurement::Http,
        Measurement::Cache,
        Measurement::Revoke,
        Measurement::TowerHttp,
        Measurement::Access,
        Measurement::CacheMemory,
    ];
}

/// What a run does, with every default resolved.
#[derive(Clone, Debug, Serialize)]
pub struct Plan {
    /// Quick mode.
    pub quick: bool,
    /// Rows in the lookup tables.
    pub rows: u64,
    /// Measured time per case and round.
    pub case: Duration,
    /// Rounds per case.
    pub rounds: u32,
    /// Warm-up before each measured slice.
    pub warmup: Duration,
    /// Concurrency levels.
    pub concurrency: Vec<usize>,
    /// Lookups for the writes measurement.
    pub writes_lookups: u64,
    /// Valid rows (and as many expired) for pruning.
    pub prune_rows: u64,
    /// Lookup tasks during pruning.
    pub prune_concurrency: usize,
    /// Idle baseline duration before pruning.
    pub prune_idle: Duration,
    /// Table sizes for growth.
    pub growth_sizes: Vec<u64>,
    /// Measured time per contender and size in the growth measurement.
    pub growth_case: Duration,
    /// Contenders.
    pub contenders: Vec<Kind>,
    /// Measurements.
    pub measurements: Vec<Measurement>,
    /// Pool settings of every contender.
    pub pools: PoolSettings,
    /// `prune_batch_size` of the sqlx-sessions stores (`None`: the library's default).
    pub lib_prune_batch: Option<u32>,
    /// Sessions created through the demo for the HTTP measurement.
    pub http_sessions: u64,
    /// `wrk` connection counts for the HTTP measurements.
    pub http_connections: Vec<usize>,
    /// The stale window of the tower-sessions measurement.
    pub tower_stale: Duration,
    /// Distinct sessions of the cache measurement.
    pub cache_sessions: u64,
    /// Tasks of the cache measurement.
    pub cache_concurrency: usize,
    /// Sessions cached for the memory measurement.
    pub cache_memory_entries: u64,
    /// Cache capacity as a multiple of the sessions looked up.
    pub cache_capacity: f64,
    /// Revocations per source and database for sqlx-sessions.
    pub revocations: u64,
    /// Revocations per source and database for tower-sessions + moka.
    pub tower_revocations: u64,
    /// How long each revocation of tower-sessions + moka is watched.
    pub tower_revoke_watch: Duration,
}

impl Plan {
    /// Resolves the defaults of `args`.
    pub fn from_args(args: &Args) -> Self {
        let quick = args.quick;
        let rows = args.rows.unwrap_or(if quick { 100_000 } else { 1_000_000 });
        let secs = args.seconds.unwrap_or(if quick { 1.0 } else { 5.0 });
        let mut growth_sizes = args.growth_sizes.clone().unwrap_or_else(|| {
            if quick {
                vec![10_000, 100_000]
            } else {
                vec![10_000, 100_000, 1_000_000]
            }
        });
        growth_sizes.sort_unstable();
        growth_sizes.dedup();
        let mut contenders = Vec::new();
        for k in Kind::ALL {
            if args.contenders.contains(&k) {
                contenders.push(k);
            }
        }
        Self {
            quick,
            rows,
            case: Duration::from_secs_f64(secs),
            rounds: args.rounds.unwrap_or(if quick { 2 } else { 3 }).max(1),
            warmup: Duration::from_secs_f64(args.warmup.unwrap_or(if quick { 0.25 } else { 1.0 })),
            concurrency: args.concurrency.clone(),
            writes_lookups: args
                .writes_lookups
                .unwrap_or(if quick { 2_000 } else { 10_000 }),
            prune_rows: args.prune_rows.unwrap_or(if quick { 50_000 } else { rows }),
            prune_concurrency: args.prune_concurrency.max(1),
            prune_idle: Duration::from_secs_f64(if quick { 1.0 } else { 5.0 }),
            growth_sizes,
            growth_case: Duration::from_secs_f64(if quick { 1.0 } else { 3.0 }),
            contenders,
            measurements: Measurement::ALL
                .into_iter()
                .filter(|m| args.only.contains(m))
                .filter(|m| !(quick && *m == Measurement::CacheMemory))
                .collect(),
            cache_sessions: args.cache_sessions.max(1),
            cache_concurrency: args.cache_concurrency.max(1),
            cache_memory_entries: args.cache_memory_entries.max(1),
            cache_capacity: if args.cache_capacity.is_finite() {
                args.cache_capacity.max(1.0)
            } else {
                1.0
            },
            revocations: args.revocations.max(1),
            tower_revocations: args.tower_revocations.max(1),
            tower_revoke_watch: Duration::from_secs_f64(args.tower_revoke_watch.max(0.01)),
            lib_prune_batch: args.lib_prune_batch,
            http_sessions: args
                .http_sessions
                .unwrap_or(if quick { 2_000 } else { 10_000 })
                .max(1),
            http_connections: args.http_connections.clone().unwrap_or_else(|| {
                if quick {
                    vec![16]
                } else {
                    args.concurrency.clone()
                }
            }),
            tower_stale: Duration::from_secs_f64(args.tower_stale_secs.max(0.001)),
            pools: PoolSettings {
                sqlite_max: args.sqlite_pool,
                pg_max: args.pg_pool,
                mysql_max: args.mysql_pool,
                test_before_acquire: args.test_before_acquire,
            },
        }
    }

    /// Whether measurement `m` is on.
    pub fn runs(&self, m: Measurement) -> bool {
        self.measurements.contains(&m)
    }
}
