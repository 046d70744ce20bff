//! Results: what each measurement found, printed as tables and kept for `--json-out`.

use serde::Serialize;

use crate::cli::Plan;
use crate::contenders::Kind;
use crate::db::DbKind;
use crate::measure::cache::CacheMemoryResult;
use crate::measure::http::{self, Endpoint, HttpResult};
use crate::measure::revoke::RevokeResult;
use crate::measure::tower_http::{self, TowerHttpResult};
use crate::stats::LatencySummary;

/// Everything a run measured.
#[derive(Debug, Serialize)]
pub struct Report {
    /// The machine.
    pub machine: Machine,
    /// The resolved plan.
    pub plan: Plan,
    /// Database versions.
    pub versions: Vec<(DbKind, String)>,
    /// Lookup throughput and latency.
    pub lookup: Vec<LookupResult>,
    /// Creation throughput.
    pub create: Vec<LookupResult>,
    /// Writes per lookup.
    pub writes: Vec<WritesResult>,
    /// Pruning.
    pub prune: Vec<PruneResult>,
    /// Growth.
    pub growth: Vec<GrowthResult>,
    /// HTTP requests per second.
    pub http: Vec<HttpResult>,
    /// Repeat lookups with caches.
    pub cache: Vec<LookupResult>,
    /// Memory of cached entries.
    pub cache_memory: Vec<CacheMemoryResult>,
    /// Revocation visibility.
    pub revoke: Vec<RevokeResult>,
    /// The axum-login app on tower-sessions: tower-sessions-sqlx-store against `TowerStore`.
    pub tower_http: Vec<TowerHttpResult>,
    /// Access-token verification against lookups, per request.
    pub access: Vec<LookupResult>,
}

/// The machine the run was on.
#[derive(Debug, Serialize)]
pub struct Machine {
    /// Logical CPUs available.
    pub cpus: usize,
    /// CPU model name.
    pub cpu_model: String,
    /// Total memory in KiB.
    pub mem_total_kib: u64,
    /// Operating system and kernel.
    pub os: String,
}

impl Machine {
    /// Reads the machine's description from `/proc` and `/etc/os-release`.
    pub fn detect() -> Self {
        let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
        let cpuinfo = read("/proc/cpuinfo");
        let cpu_model = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split(':').nth(1))
            .unwrap_or("unknown")
            .trim()
            .to_string();
        let mem_total_kib = read("/proc/meminfo")
            .lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let pretty = read("/etc/os-release")
            .lines()
            .find(|l| l.starts_with("PRETTY_NAME="))
            .map(|l| l["PRETTY_NAME=".len()..].trim_matches('"').to_string())
            .unwrap_or_default();
        let kernel = read("/proc/sys/kernel/osrelease").trim().to_string();
        Self {
            cpus: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(0),
            cpu_model,
            mem_total_kib,
            os: format!("{pretty}, Linux {kernel}"),
        }
    }
}

/// Throughput and latency of one contender in one case (lookups or creations).
#[derive(Clone, Debug, Serialize)]
pub struct LookupResult {
    /// Database.
    pub db: DbKind,
    /// Contender.
    pub contender: Kind,
    /// Concurrent tasks.
    pub concurrency: usize,
    /// Rows in the table when the case started.
    pub rows: u64,
    /// Operations per second: the median over the rounds.
    pub throughput: f64,
    /// Operations per second of each round.
    pub round_throughputs: Vec<f64>,
    /// Operations in all rounds.
    pub ops: u64,
    /// Lookups that found nothing (0 expected).
    pub misses: u64,
    /// Latency over all rounds.
    pub latency: LatencySummary,
}

/// UPDATEs (and INSERTs) that reached the database during lookups of one session.
#[derive(Clone, Debug, Serialize)]
pub struct WritesResult {
    /// Database.
    pub db: DbKind,
    /// Contender and mode.
    pub case: String,
    /// Lookups (requests) made.
    pub lookups: u64,
    /// Lookups that found the session.
    pub found: u64,
    /// Rows updated.
    pub updates: u64,
    /// Rows inserted.
    pub inserts: u64,
    /// How the writes were counted.
    pub counted_by: String,
}

/// Deleting expired rows among valid ones, with lookups running meanwhile.
#[derive(Clone, Debug, Serialize)]
pub struct PruneResult {
    /// Database.
    pub db: DbKind,
    /// Contender.
    pub contender: Kind,
    /// Valid rows (kept).
    pub valid_rows: u64,
    /// Expired rows (to delete).
    pub expired_rows: u64,
    /// Rows gone after the call.
    pub deleted: u64,
    /// Wall time of the delete-expired call.
    pub seconds: f64,
    /// Deleted rows per second.
    pub rows_per_sec: f64,
    /// Lookup latency with nothing else running.
    pub idle: LatencySummary,
    /// Lookup latency while pruning ran.
    pub during: LatencySummary,
    /// `during.p99 / idle.p99`.
    pub p99_ratio: f64,
    /// Resident memory before the call, KiB.
    pub rss_before_kib: u64,
    /// Peak resident memory during the call, KiB.
    pub peak_rss_kib: u64,
}

/// Lookup latency at one table size.
#[derive(Clone, Debug, Serialize)]
pub struct GrowthResult {
    /// Database.
    pub db: DbKind,
    /// Contender.
    pub contender: Kind,
    /// Rows in the table.
    pub rows: u64,
    /// Lookups per second (one task).
    pub throughput: f64,
    /// Latency.
    pub latency: LatencySummary,
    /// Peak resident memory of the process while looking up at this size, KiB.
    pub peak_rss_kib: u64,
}

/// The throughput of `ours` divided by that of `other` among `rows` on `db` at `concurrency`.
pub(crate) fn throughput_ratio(
    rows: &[LookupResult],
    db: DbKind,
    concurrency: usize,
    ours: Kind,
    other: Kind,
) -> Option<f64> {
    let find = |k: Kind| {
        rows.iter()
            .find(|r| r.db == db && r.concurrency == concurrency && r.contender == k)
            .map(|r| r.throughput)
    };
    let ours = find(ours)?;
    let theirs = find(other)?;
    (theirs > 0.0).then(|| ours / theirs)
}

/// A ratio with two decimals, or `n/a`.
pub(crate) fn two_places(v: Option<f64>) -> String {
    v.map_or_else(|| "n/a".to_string(), |v| format!("{v:.2}"))
}

impl Report {
    /// The throughput ratio sqlx-sessions / `other` for lookups on `db` at `concurrency`.
    pub fn lookup_ratio(&self, db: DbKind, concurrency: usize, other: Kind) -> Option<f64> {
        throughput_ratio(&self.lookup, db, concurrency, Kind::SqlxSessions, other)
    }

    /// The headline line of `--quick`, exactly in the format.
    pub fn ratio_line(&self) -> String {
        let f = two_places;
        format!(
            "lookup ratios: sqlite vs-tower={} vs-raw={} postgres vs-tower={} vs-raw={} mysql vs-tower={} vs-raw={}",
            f(self.lookup_ratio(DbKind::Sqlite, 16, Kind::TowerSessions)),
            f(self.lookup_ratio(DbKind::Sqlite, 16, Kind::RawSqlx)),
            f(self.lookup_ratio(DbKind::Postgres, 16, Kind::TowerSessions)),
            f(self.lookup_ratio(DbKind::Postgres, 16, Kind::RawSqlx)),
            f(self.lookup_ratio(DbKind::Mysql, 16, Kind::TowerSessions)),
            f(self.lookup_ratio(DbKind::Mysql, 16, Kind::RawSqlx)),
        )
    }

    /// The throughput ratio sqlx-sessions with its cache / `other` in the cache measurement.
    pub fn cache_ratio(&self, db: DbKind, other: Kind) -> Option<f64> {
        let conc = self.plan.cache_concurrency;
        throughput_ratio(&self.cache, db, conc, Kind::SqlxSessionsCache, other)
    }

    /// The largest p99 (ms) of sqlx-sessions' revocation visibility over the sources on `db`.
    pub fn revoke_p99_ms(&self, db: DbKind) -> Option<f64> {
        self.revoke
            .iter()
            .filter(|r| r.db == db && r.contender == Kind::SqlxSessionsCache)
            .map(|r| r.p99_ms)
            .collect::<Option<Vec<f64>>>()?
            .into_iter()
            .reduce(f64::max)
    }

    /// The cache's line of `--quick`, exactly in the format.
    pub fn cache_ratio_line(&self) -> String {
        let f = two_places;
        let p99 = |db| {
            self.revoke_p99_ms(db)
                .map_or_else(|| "n/a".to_string(), |v| format!("{v:.1}"))
        };
        format!(
            "cache ratios: sqlite vs-raw={} vs-tower-moka={} postgres vs-raw={} vs-tower-moka={} revoke-p99-ms sqlite={} postgres={}",
            f(self.cache_ratio(DbKind::Sqlite, Kind::RawSqlx)),
            f(self.cache_ratio(DbKind::Sqlite, Kind::TowerMoka)),
            f(self.cache_ratio(DbKind::Postgres, Kind::RawSqlx)),
            f(self.cache_ratio(DbKind::Postgres, Kind::TowerMoka)),
            p99(DbKind::Sqlite),
            p99(DbKind::Postgres),
        )
    }
}

impl Report {
    /// The `wrk` connection count the tower-sessions line reads: the largest of the plan.
    pub fn tower_connections(&self) -> usize {
        self.plan
            .http_connections
            .iter()
            .copied()
            .max()
            .unwrap_or(16)
    }

    /// The tower-sessions measurement's line: `TowerStore`'s requests per second divided by
    /// tower-sessions-sqlx-store's, without and with `always_save`.
    pub fn tower_ratio_line(&self) -> String {
        let conns = self.tower_connections();
        let f = |db, always| two_places(tower_http::ratio(&self.tower_http, db, conns, always));
        format!(
            "tower ratios: sqlite plain={} always-save={} postgres plain={} always-save={}",
            f(DbKind::Sqlite, false),
            f(DbKind::Sqlite, true),
            f(DbKind::Postgres, false),
            f(DbKind::Postgres, true),
        )
    }
}

/// Prints the rows of the tower-sessions measurement.
pub fn print_tower_http(rows: &[TowerHttpResult]) {
    println!("\n## tower-sessions + axum-login under wrk (cookie `id`)");
    println!(
        "{:<9} {:<38} {:>5} {:>10} {:>9} {:>9} {:>7} {:>9} {:>10} {:>9} {:>8}",
        "db",
        "store",
        "conns",
        "req/s",
        "p50 us",
        "p99 us",
        "errors",
        "UPDATEs",
        "upd/10k",
        "bound",
        "vs-sqlx"
    );
    for r in rows {
        let vs = match r.case.store {
            tower_http::StoreKind::SqlxStore => "-".to_string(),
            ours => two_places(tower_http::ratio_of(
                rows,
                ours,
                r.db,
                r.connections,
                r.case.always_save,
            )),
        };
        println!(
            "{:<9} {:<38} {:>5} {:>10.0} {:>9.1} {:>9.1} {:>7} {:>9} {:>10.1} {:>9} {:>8}",
            r.db.name(),
            r.case.label(),
            r.connections,
            r.load.requests_per_sec,
            r.load.p50_us,
            r.load.p99_us,
            r.load.errors,
            r.updates,
            r.updates_per_10k(),
            r.update_bound
                .map_or_else(|| "-".to_string(), |b| b.to_string()),
            vs
        );
    }
}

/// Prints throughput rows (lookups or creations) as a table.
pub fn print_throughput(title: &str, rows: &[LookupResult]) {
    println!("\n## {title}");
    println!(
        "{:<9} {:<15} {:>4} {:>9} {:>12} {:>9} {:>9} {:>9} {:>8} {:>8}",
        "db",
        "contender",
        "conc",
        "rows",
        "ops/s",
        "p50 us",
        "p99 us",
        "mean us",
        "vs-tower",
        "vs-raw"
    );
    for r in rows {
        let vs = |k: Kind| {
            rows.iter()
                .find(|o| o.db == r.db && o.concurrency == r.concurrency && o.contender == k)
                .filter(|o| o.throughput > 0.0)
                .map_or_else(
                    || "-".to_string(),
                    |o| format!("{:.2}", r.throughput / o.throughput),
                )
        };
        println!(
            "{:<9} {:<15} {:>4} {:>9} {:>12.0} {:>9.1} {:>9.1} {:>9.1} {:>8} {:>8}",
            r.db.name(),
            r.contender.name(),
            r.concurrency,
            r.rows,
            r.throughput,
            r.latency.p50_us,
            r.latency.p99_us,
            r.latency.mean_us,
            vs(Kind::TowerSessions),
            vs(Kind::RawSqlx),
        );
        if r.misses > 0 {
            println!("  WARNING: {} lookups found nothing", r.misses);
        }
    }
}

/// Prints the cache measurement's rows, with the ratios of sqlx-sessions' cache to each.
pub fn print_cache(rows: &[LookupResult]) {
    print_versus(
        "Repeat lookups with a cache",
        "cache",
        rows,
        Kind::SqlxSessionsCache,
    );
}

/// Prints throughput rows under `title`, with the ratio of `ours` (called `short`) to each.
pub fn print_versus(title: &str, short: &str, rows: &[LookupResult], ours: Kind) {
    println!("\n## {title}");
    println!(
        "{:<9} {:<20} {:>4} {:>9} {:>12} {:>9} {:>9} {:>9} {:>13}",
        "db",
        "contender",
        "conc",
        "sessions",
        "ops/s",
        "p50 us",
        "p99 us",
        "p99.9 us",
        format!("{short} ÷ this")
    );
    for r in rows {
        let vs = throughput_ratio(rows, r.db, r.concurrency, ours, r.contender)
            .filter(|_| r.contender != ours)
            .map_or_else(|| "-".to_string(), |v| format!("{v:.2}"));
        println!(
            "{:<9} {:<20} {:>4} {:>9} {:>12.0} {:>9.1} {:>9.1} {:>9.1} {:>13}",
            r.db.name(),
            r.contender.name(),
            r.concurrency,
            r.rows,
            r.throughput,
            r.latency.p50_us,
            r.latency.p99_us,
            r.latency.p999_us,
            vs,
        );
        if r.misses > 0 {
            println!(
                "  WARNING: {} requests were refused or found nothing",
                r.misses
            );
        }
    }
}

/// Prints the memory of cached entries.
pub fn print_cache_memory(rows: &[CacheMemoryResult]) {
    println!("\n## Memory of cached sessions");
    println!(
        "{:<9} {:<20} {:>9} {:>11} {:>11} {:>15}",
        "db", "contender", "entries", "RSS before", "RSS after", "bytes/entry"
    );
    for r in rows {
        println!(
            "{:<9} {:<20} {:>9} {:>9.1}Mi {:>9.1}Mi {:>15}",
            r.db.name(),
            r.contender.name(),
            r.entries,
            r.rss_before_kib as f64 / 1024.0,
            r.rss_after_kib as f64 / 1024.0,
            r.bytes_per_entry
                .map_or_else(|| "(control)".to_string(), |v| format!("{v:.0}")),
        );
    }
}

/// Prints revocation visibility.
pub fn print_revoke(rows: &[RevokeResult]) {
    println!("\n## Revocation visibility on a cached instance");
    println!(
        "{:<9} {:<20} {:<10} {:>6} {:>7} {:>8} {:>8} {:>8} {:>8} {:>11} {:>13}",
        "db",
        "contender",
        "source",
        "revoked",
        "refused",
        "p50 ms",
        "p99 ms",
        "max ms",
        "bound ms",
        "after bound",
        "after refusal"
    );
    let ms = |v: Option<f64>| v.map_or_else(|| "never".to_string(), |v| format!("{v:.1}"));
    for r in rows {
        println!(
            "{:<9} {:<20} {:<10} {:>6} {:>7} {:>8} {:>8} {:>8} {:>8.0} {:>11} {:>13}",
            r.db.name(),
            r.contender.name(),
            r.source.name(),
            r.revocations,
            r.refused,
            ms(r.p50_ms),
            ms(r.p99_ms),
            ms(r.max_ms),
            r.bound_ms,
            r.served_after_bound,
            r.served_after_refusal
        );
    }
}

/// Prints writes-per-lookup rows.
pub fn print_writes(rows: &[WritesResult]) {
    println!("\n## Writes per lookup");
    println!(
        "{:<9} {:<32} {:>8} {:>8} {:>8} {:>8}  counted by",
        "db", "case", "lookups", "found", "updates", "inserts"
    );
    for r in rows {
        println!(
            "{:<9} {:<32} {:>8} {:>8} {:>8} {:>8}  {}",
            r.db.name(),
            r.case,
            r.lookups,
            r.found,
            r.updates,
            r.inserts,
            r.counted_by
        );
    }
}

/// Prints pruning rows.
pub fn print_prune(rows: &[PruneResult]) {
    println!("\n## Pruning");
    println!(
        "{:<9} {:<15} {:>9} {:>9} {:>8} {:>10} {:>10} {:>10} {:>7} {:>9}",
        "db",
        "contender",
        "expired",
        "deleted",
        "secs",
        "rows/s",
        "idle p99",
        "prune p99",
        "ratio",
        "peak MiB"
    );
    for r in rows {
        println!(
            "{:<9} {:<15} {:>9} {:>9} {:>8.2} {:>10.0} {:>10.1} {:>10.1} {:>7.2} {:>9.1}",
            r.db.name(),
            r.contender.name(),
            r.expired_rows,
            r.deleted,
            r.seconds,
            r.rows_per_sec,
            r.idle.p99_us,
            r.during.p99_us,
            r.p99_ratio,
            r.peak_rss_kib as f64 / 1024.0
        );
    }
}

/// Prints growth rows.
pub fn print_growth(rows: &[GrowthResult]) {
    println!("\n## Growth (one task)");
    println!(
        "{:<9} {:<15} {:>10} {:>10} {:>9} {:>9} {:>9}",
        "db", "contender", "rows", "ops/s", "p50 us", "p99 us", "peak MiB"
    );
    for r in rows {
        println!(
            "{:<9} {:<15} {:>10} {:>10.0} {:>9.1} {:>9.1} {:>9.1}",
            r.db.name(),
            r.contender.name(),
            r.rows,
            r.throughput,
            r.latency.p50_us,
            r.latency.p99_us,
            r.peak_rss_kib as f64 / 1024.0
        );
    }
}

/// Prints HTTP rows.
pub fn print_http(rows: &[HttpResult]) {
    println!("\n## HTTP (wrk on loopback, X-Auth-Token)");
    println!(
        "{:<9} {:<22} {:>5} {:>11} {:>9} {:>9} {:>7} {:>11} {:>13}",
        "db",
        "endpoint",
        "conns",
        "req/s",
        "p50 us",
        "p99 us",
        "errors",
        "vs-raw-me",
        "vs-raw-session"
    );
    for r in rows {
        let vs = |e: Endpoint| {
            http::ratio(rows, r.db, r.connections, r.endpoint, e)
                .filter(|_| r.endpoint.is_demo())
                .map_or_else(|| "-".to_string(), |v| format!("{v:.2}"))
        };
        println!(
            "{:<9} {:<22} {:>5} {:>11.0} {:>9.1} {:>9.1} {:>7} {:>11} {:>13}",
            r.db.name(),
            r.endpoint.name(),
            r.connections,
            r.load.requests_per_sec,
            r.load.p50_us,
            r.load.p99_us,
            r.load.errors,
            vs(Endpoint::RawMe),
            vs(Endpoint::RawSession),
        );
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::measure::revoke::Source;

    /// A result row with `throughput` and nothing else of note.
    pub(crate) fn row(
        db: DbKind,
        contender: Kind,
        concurrency: usize,
        throughput: f64,
    ) -> LookupResult {
        LookupResult {
            db,
            contender,
            concurrency,
            rows: 1,
            throughput,
            round_throughputs: vec![throughput],
            ops: 1,
            misses: 0,
            latency: LatencySummary::default(),
        }
    }

    fn report(lookup: Vec<LookupResult>) -> Report {
        Report {
            machine: Machine::detect(),
            plan: crate::cli::Plan::from_args(&<crate::cli::Args as clap::Parser>::parse_from([
                "bench", "--quick",
            ])),
            versions: Vec::new(),
            lookup,
            create: Vec::new(),
            writes: Vec::new(),
            prune: Vec::new(),
            growth: Vec::new(),
            http: Vec::new(),
            cache: Vec::new(),
            cache_memory: Vec::new(),
            revoke: Vec::new(),
            tower_http: Vec::new(),
            access: Vec::new(),
        }
    }

    #[test]
    fn ratio_line_has_the_exact_format() {
        let r = report(vec![
            row(DbKind::Sqlite, Kind::SqlxSessions, 16, 110.0),
            row(DbKind::Sqlite, Kind::TowerSessions, 16, 100.0),
            row(DbKind::Sqlite, Kind::RawSqlx, 16, 200.0),
            row(DbKind::Sqlite, Kind::SqlxSessions, 1, 1.0),
            row(DbKind::Postgres, Kind::SqlxSessions, 16, 30.0),
            row(DbKind::Postgres, Kind::TowerSessions, 16, 40.0),
            row(DbKind::Postgres, Kind::RawSqlx, 16, 30.0),
            row(DbKind::Mysql, Kind::SqlxSessions, 16, 90.0),
            row(DbKind::Mysql, Kind::TowerSessions, 16, 100.0),
            row(DbKind::Mysql, Kind::RawSqlx, 16, 75.0),
        ]);
        assert_eq!(
            r.ratio_line(),
            "lookup ratios: sqlite vs-tower=1.10 vs-raw=0.55 postgres vs-tower=0.75 vs-raw=1.00 mysql vs-tower=0.90 vs-raw=1.20"
        );
    }

    #[test]
    fn missing_results_read_na() {
        let r = report(vec![row(DbKind::Sqlite, Kind::SqlxSessions, 16, 1.0)]);
        assert_eq!(
            r.ratio_line(),
            "lookup ratios: sqlite vs-tower=n/a vs-raw=n/a postgres vs-tower=n/a vs-raw=n/a mysql vs-tower=n/a vs-raw=n/a"
        );
        assert_eq!(
            r.cache_ratio_line(),
            "cache ratios: sqlite vs-raw=n/a vs-tower-moka=n/a postgres vs-raw=n/a vs-tower-moka=n/a revoke-p99-ms sqlite=n/a postgres=n/a"
        );
    }

    fn towered(
        db: DbKind,
        store: tower_http::StoreKind,
        always_save: bool,
        rps: f64,
    ) -> TowerHttpResult {
        TowerHttpResult {
            db,
            case: tower_http::Case { store, always_save },
            connections: 16,
            sessions: 10,
            load: crate::wrk::Rounds {
                requests_per_sec: rps,
                ..Default::default()
            },
            counted_requests: 100,
            updates: 0,
            inserts: 0,
            counted_by: String::new(),
            counted_secs: 1.0,
            stale_window_secs: 30.0,
            update_bound: None,
        }
    }

    #[test]
    fn tower_ratio_line_has_the_exact_format() {
        use tower_http::StoreKind::{SqlxStore, TowerStore};
        let mut r = report(Vec::new());
        assert_eq!(
            r.tower_ratio_line(),
            "tower ratios: sqlite plain=n/a always-save=n/a postgres plain=n/a always-save=n/a"
        );
        r.tower_http = vec![
            towered(DbKind::Sqlite, SqlxStore, false, 1000.0),
            towered(DbKind::Sqlite, TowerStore, false, 950.0),
            towered(DbKind::Sqlite, SqlxStore, true, 400.0),
            towered(DbKind::Sqlite, TowerStore, true, 1000.0),
            towered(DbKind::Postgres, SqlxStore, false, 2000.0),
            towered(DbKind::Postgres, TowerStore, false, 2200.0),
        ];
        assert_eq!(
            r.tower_ratio_line(),
            "tower ratios: sqlite plain=0.95 always-save=2.50 postgres plain=1.10 always-save=n/a"
        );
    }

    fn revoked(db: DbKind, source: Source, p99_ms: Option<f64>) -> RevokeResult {
        RevokeResult {
            db,
            contender: Kind::SqlxSessionsCache,
            source,
            revocations: 1000,
            refused: 1000,
            p50_ms: p99_ms,
            p99_ms,
            max_ms: p99_ms,
            served_after_bound: 0,
            served_after_refusal: 0,
            bound_ms: 100.0,
            watch_ms: 1000.0,
            load_lookups: 1,
        }
    }

    #[test]
    fn cache_ratio_line_has_the_exact_format() {
        let mut r = report(Vec::new());
        r.cache = vec![
            row(DbKind::Sqlite, Kind::SqlxSessionsCache, 16, 2500.0),
            row(DbKind::Sqlite, Kind::TowerMoka, 16, 2000.0),
            row(DbKind::Sqlite, Kind::RawSqlx, 16, 100.0),
            row(DbKind::Postgres, Kind::SqlxSessionsCache, 16, 3000.0),
            row(DbKind::Postgres, Kind::TowerMoka, 16, 4000.0),
            row(DbKind::Postgres, Kind::RawSqlx, 16, 120.0),
        ];
        r.revoke = vec![
            revoked(DbKind::Sqlite, Source::InstanceB, Some(412.34)),
            revoked(DbKind::Sqlite, Source::PlainSql, Some(530.0)),
            revoked(DbKind::Postgres, Source::InstanceB, Some(31.26)),
            revoked(DbKind::Postgres, Source::PlainSql, Some(12.0)),
        ];
        assert_eq!(
            r.cache_ratio_line(),
            "cache ratios: sqlite vs-raw=25.00 vs-tower-moka=1.25 postgres vs-raw=25.00 vs-tower-moka=0.75 revoke-p99-ms sqlite=530.0 postgres=31.3"
        );
        // A source none of whose revocations was refused has no p99: the line says so.
        r.revoke[3].p99_ms = None;
        assert!(r.cache_ratio_line().ends_with("sqlite=530.0 postgres=n/a"));
    }
}
