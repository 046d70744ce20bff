//! The results as Markdown tables, ready for `BENCHMARKS.md` (`--markdown-out`).

use std::fmt::Write as _;

use crate::contenders::Kind;
use crate::measure::cache::CacheMemoryResult;
use crate::measure::http::{self, Endpoint, HttpResult};
use crate::measure::revoke::RevokeResult;
use crate::measure::tower_http::{self, StoreKind, TowerHttpResult};
use crate::report::{LookupResult, Report};

fn throughput_table(s: &mut String, title: &str, unit: &str, rows: &[LookupResult], ours: Kind) {
    let _ = writeln!(s, "### {title}\n");
    let _ = writeln!(
        s,
        "| database | tasks | contender | {unit}/s (median of rounds) | rounds | p50 µs | p99 µs | {} ÷ this |",
        ours.name()
    );
    let _ = writeln!(s, "| --- | ---: | --- | ---: | --- | ---: | ---: | ---: |");
    for r in rows {
        let mine = rows
            .iter()
            .find(|o| o.db == r.db && o.concurrency == r.concurrency && o.contender == ours)
            .map(|o| o.throughput);
        let vs = match mine {
            Some(o) if r.contender != ours && r.throughput > 0.0 => {
                format!("{:.2}", o / r.throughput)
            }
            _ => "".to_string(),
        };
        let rounds: Vec<String> = r
            .round_throughputs
            .iter()
            .map(|t| format!("{t:.0}"))
            .collect();
        let _ = writeln!(
            s,
            "| {} | {} | {} | {:.0} | {} | {:.1} | {:.1} | {vs} |",
            r.db.name(),
            r.concurrency,
            r.contender.name(),
            r.throughput,
            rounds.join(" / "),
            r.latency.p50_us,
            r.latency.p99_us,
        );
    }
    s.push('\n');
}

/// Renders every table of the report.
pub fn render(report: &Report) -> String {
    let mut s = String::new();
    if !report.lookup.is_empty() {
        throughput_table(
            &mut s,
            "Lookups",
            "lookups",
            &report.lookup,
            Kind::SqlxSessions,
        );
    }
    if !report.access.is_empty() {
        let (rows, ours) = (&report.access, Kind::VerifyEdDsa);
        throughput_table(
            &mut s,
            "Access tokens against lookups",
            "requests",
            rows,
            ours,
        );
    }
    if !report.create.is_empty() {
        throughput_table(
            &mut s,
            "Creation",
            "sessions",
            &report.create,
            Kind::SqlxSessions,
        );
    }
    if !report.writes.is_empty() {
        let _ = writeln!(s, "### Writes per lookup\n");
        let _ = writeln!(
            s,
            "| database | case | lookups | found | UPDATEs | INSERTs | counted by |"
        );
        let _ = writeln!(s, "| --- | --- | ---: | ---: | ---: | ---: | --- |");
        for r in &report.writes {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} |",
                r.db.name(),
                r.case,
                r.lookups,
                r.found,
                r.updates,
                r.inserts,
                r.counted_by
            );
        }
        s.push('\n');
    }
    if !report.prune.is_empty() {
        let _ = writeln!(s, "### Pruning\n");
        let _ = writeln!(
            s,
            "| database | contender | expired rows | deleted | seconds | rows/s | idle p99 µs | p99 while pruning µs | ratio | peak RSS MiB |"
        );
        let _ = writeln!(
            s,
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
        );
        for r in &report.prune {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {:.2} | {:.0} | {:.1} | {:.1} | {:.2} | {:.1} |",
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
        s.push('\n');
    }
    if !report.growth.is_empty() {
        let _ = writeln!(s, "### Growth (one task)\n");
        let _ = writeln!(
            s,
            "| database | rows | contender | lookups/s | p50 µs | p99 µs | peak RSS MiB |"
        );
        let _ = writeln!(s, "| --- | ---: | --- | ---: | ---: | ---: | ---: |");
        let mut rows = report.growth.clone();
        rows.sort_by_key(|r| (r.db.name(), r.rows));
        for r in &rows {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {:.0} | {:.1} | {:.1} | {:.1} |",
                r.db.name(),
                r.rows,
                r.contender.name(),
                r.throughput,
                r.latency.p50_us,
                r.latency.p99_us,
                r.peak_rss_kib as f64 / 1024.0
            );
        }
        s.push('\n');
    }
    if !report.http.is_empty() {
        http_table(&mut s, &report.http);
    }
    if !report.cache.is_empty() {
        throughput_table(
            &mut s,
            "Repeat lookups with a cache",
            "lookups",
            &report.cache,
            Kind::SqlxSessionsCache,
        );
    }
    if !report.cache_memory.is_empty() {
        cache_memory_table(&mut s, &report.cache_memory);
    }
    if !report.revoke.is_empty() {
        revoke_table(&mut s, &report.revoke);
    }
    if !report.tower_http.is_empty() {
        tower_http_table(&mut s, &report.tower_http);
    }
    s
}

fn tower_http_table(s: &mut String, rows: &[TowerHttpResult]) {
    let _ = writeln!(s, "### tower-sessions + axum-login under wrk\n");
    let _ = writeln!(
        s,
        "| database | connections | store | requests/s (median of rounds) | rounds | p50 µs | p99 µs | errors | requests counted | UPDATEs | UPDATEs per 10k | INSERTs | bound (1 per session per window) | TowerStore ÷ sqlx store |"
    );
    let _ = writeln!(
        s,
        "| --- | ---: | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for r in rows {
        let vs = match r.case.store {
            StoreKind::SqlxStore => String::new(),
            ours => tower_http::ratio_of(rows, ours, r.db, r.connections, r.case.always_save)
                .map_or_else(String::new, |v| format!("{v:.2}")),
        };
        let bound = match (r.update_bound, r.within_bound()) {
            (Some(b), Some(true)) => format!("{b} (met)"),
            (Some(b), _) => format!("{b} (missed)"),
            (None, _) => String::new(),
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {:.0} | {} | {:.1} | {:.1} | {} | {} | {} | {:.1} | {} | {bound} | {vs} |",
            r.db.name(),
            r.connections,
            r.case.label(),
            r.load.requests_per_sec,
            r.load.per_round(),
            r.load.p50_us,
            r.load.p99_us,
            r.load.errors,
            r.counted_requests,
            r.updates,
            r.updates_per_10k(),
            r.inserts,
        );
    }
    s.push('\n');
}

fn cache_memory_table(s: &mut String, rows: &[CacheMemoryResult]) {
    let _ = writeln!(s, "### Memory of cached sessions\n");
    let _ = writeln!(
        s,
        "| database | contender | sessions looked up once | RSS before MiB | RSS after MiB | bytes per entry (less raw's growth) |"
    );
    let _ = writeln!(s, "| --- | --- | ---: | ---: | ---: | ---: |");
    for r in rows {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {:.1} | {:.1} | {} |",
            r.db.name(),
            r.contender.name(),
            r.entries,
            r.rss_before_kib as f64 / 1024.0,
            r.rss_after_kib as f64 / 1024.0,
            r.bytes_per_entry
                .map_or_else(|| "(control)".to_string(), |v| format!("{v:.0}")),
        );
    }
    s.push('\n');
}

fn revoke_table(s: &mut String, rows: &[RevokeResult]) {
    let _ = writeln!(s, "### Revocation visibility on a cached instance\n");
    let _ = writeln!(
        s,
        "| database | contender | revoked by | revocations | refused | p50 ms | p99 ms | max ms | bound ms | lookups served after the bound | served again after a refusal | background lookups |"
    );
    let _ = writeln!(
        s,
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    let ms = |v: Option<f64>, watch: f64| {
        v.map_or_else(
            || format!("never within {:.0} s", watch / 1000.0),
            |v| format!("{v:.1}"),
        )
    };
    for r in rows {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {:.0} | {} | {} | {} |",
            r.db.name(),
            r.contender.name(),
            r.source.name(),
            r.revocations,
            r.refused,
            ms(r.p50_ms, r.watch_ms),
            ms(r.p99_ms, r.watch_ms),
            ms(r.max_ms, r.watch_ms),
            r.bound_ms,
            r.served_after_bound,
            r.served_after_refusal,
            r.load_lookups
        );
    }
    s.push('\n');
}

fn http_table(s: &mut String, rows: &[HttpResult]) {
    let _ = writeln!(s, "### HTTP: `GET /api/me` under wrk\n");
    let _ = writeln!(
        s,
        "| database | connections | endpoint | requests/s (median of rounds) | rounds | p50 µs | p99 µs | errors | this ÷ raw `/raw/me` |"
    );
    let _ = writeln!(
        s,
        "| --- | ---: | --- | ---: | --- | ---: | ---: | ---: | ---: |"
    );
    for r in rows {
        let vs = if r.endpoint.is_demo() {
            http::ratio(rows, r.db, r.connections, r.endpoint, Endpoint::RawMe)
                .map_or_else(String::new, |v| format!("{v:.2}"))
        } else {
            String::new()
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {:.0} | {} | {:.1} | {:.1} | {} | {vs} |",
            r.db.name(),
            r.connections,
            r.endpoint.name(),
            r.load.requests_per_sec,
            r.load.per_round(),
            r.load.p50_us,
            r.load.p99_us,
            r.load.errors,
        );
    }
    s.push('\n');
}
