//! The results as Markdown tables, ready for `BENCHMARKS.md` (`--markdown-out`).

use std::fmt::Write as _;

use crate::contenders::Kind;
use crate::measure::http::{self, Endpoint, HttpResult};
use crate::report::{LookupResult, Report};

fn throughput_table(s: &mut String, title: &str, unit: &str, rows: &[LookupResult]) {
    let _ = writeln!(s, "### {title}\n");
    let _ = writeln!(
        s,
        "| database | tasks | contender | {unit}/s (median of rounds) | rounds | p50 µs | p99 µs | sqlx-sessions ÷ this |"
    );
    let _ = writeln!(s, "| --- | ---: | --- | ---: | --- | ---: | ---: | ---: |");
    for r in rows {
        let ours = rows
            .iter()
            .find(|o| {
                o.db == r.db && o.concurrency == r.concurrency && o.contender == Kind::SqlxSessions
            })
            .map(|o| o.throughput);
        let vs = match ours {
            Some(o) if r.contender != Kind::SqlxSessions && r.throughput > 0.0 => {
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
        throughput_table(&mut s, "Lookups", "lookups", &report.lookup);
    }
    if !report.create.is_empty() {
        throughput_table(&mut s, "Creation", "sessions", &report.create);
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
    s
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
        let rounds: Vec<String> = r
            .round_requests_per_sec
            .iter()
            .map(|t| format!("{t:.0}"))
            .collect();
        let _ = writeln!(
            s,
            "| {} | {} | {} | {:.0} | {} | {:.1} | {:.1} | {} | {vs} |",
            r.db.name(),
            r.connections,
            r.endpoint.name(),
            r.requests_per_sec,
            rounds.join(" / "),
            r.p50_us,
            r.p99_us,
            r.errors,
        );
    }
    s.push('\n');
}
