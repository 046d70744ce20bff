//! An SVG chart of lookup latency against table size, written by hand (no font or system
//! dependencies): one panel per database, a line per contender, p50 solid and p99 dashed.

use std::fmt::Write as _;

use crate::contenders::Kind;
use crate::db::DbKind;
use crate::report::GrowthResult;

const PANEL_W: f64 = 460.0;
const PANEL_H: f64 = 340.0;
const MARGIN_L: f64 = 64.0;
const MARGIN_R: f64 = 16.0;
const MARGIN_T: f64 = 56.0;
const MARGIN_B: f64 = 96.0;

fn color(k: Kind) -> &'static str {
    match k {
        Kind::SqlxSessions => "#d62728",
        Kind::TowerSessions => "#1f77b4",
        Kind::RawSqlx => "#2ca02c",
        Kind::SqlxSessionsCache => "#ff7f0e",
        Kind::TowerMoka => "#9467bd",
        Kind::VerifyEdDsa | Kind::VerifyHs256 | Kind::VerifyRevocations => "#7f7f7f",
    }
}

/// A "nice" axis step (1, 2 or 5 times a power of ten) for about `ticks` ticks up to `max`.
fn nice_step(max: f64, ticks: f64) -> f64 {
    let raw = (max / ticks).max(1e-9);
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let f = if norm <= 1.0 {
        1.0
    } else if norm <= 2.0 {
        2.0
    } else if norm <= 5.0 {
        5.0
    } else {
        10.0
    };
    f * mag
}

fn size_label(rows: u64) -> String {
    if rows >= 1_000_000 && rows.is_multiple_of(1_000_000) {
        format!("{}M", rows / 1_000_000)
    } else if rows >= 1_000 && rows.is_multiple_of(1_000) {
        format!("{}k", rows / 1_000)
    } else {
        rows.to_string()
    }
}

/// Renders the chart; `None` when there is nothing to draw.
pub fn render(results: &[GrowthResult]) -> Option<String> {
    let dbs: Vec<DbKind> = [DbKind::Sqlite, DbKind::Postgres]
        .into_iter()
        .filter(|d| results.iter().any(|r| r.db == *d))
        .collect();
    if dbs.is_empty() {
        return None;
    }
    let width = PANEL_W * dbs.len() as f64;
    let height = MARGIN_T + PANEL_H - 80.0 + MARGIN_B - 6.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    // One panel is too narrow for the long title.
    let title = if dbs.len() > 1 {
        "Lookup latency (one task) against table size: p50 solid, p99 dashed"
    } else {
        "Lookup latency by table size (p50 solid, p99 dashed)"
    };
    let _ = writeln!(
        s,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="15" font-weight="bold">{title}</text>"#,
        width / 2.0
    );
    for (i, db) in dbs.iter().enumerate() {
        panel(&mut s, results, *db, PANEL_W * i as f64);
    }
    // Legend.
    let mut lx = 24.0;
    let ly = height - 18.0;
    for k in Kind::ALL {
        if !results.iter().any(|r| r.contender == k) {
            continue;
        }
        let _ = writeln!(
            s,
            r#"<line x1="{lx}" y1="{ly}" x2="{}" y2="{ly}" stroke="{}" stroke-width="3"/><text x="{}" y="{}">{}</text>"#,
            lx + 24.0,
            color(k),
            lx + 30.0,
            ly + 4.0,
            k.name()
        );
        lx += 150.0;
    }
    s.push_str("</svg>\n");
    Some(s)
}

fn panel(s: &mut String, results: &[GrowthResult], db: DbKind, x0: f64) {
    let rows: Vec<&GrowthResult> = results.iter().filter(|r| r.db == db).collect();
    let mut sizes: Vec<u64> = rows.iter().map(|r| r.rows).collect();
    sizes.sort_unstable();
    sizes.dedup();
    let (lo, hi) = (sizes[0] as f64, *sizes.last().expect("non-empty") as f64);
    let (lx0, lx1) = (
        lo.log10(),
        if hi > lo {
            hi.log10()
        } else {
            lo.log10() + 1.0
        },
    );
    let ymax_data = rows
        .iter()
        .map(|r| r.latency.p99_us)
        .fold(0.0, f64::max)
        .max(1.0);
    let step = nice_step(ymax_data, 5.0);
    let ymax = (ymax_data / step).ceil() * step;
    let (px0, px1) = (x0 + MARGIN_L, x0 + PANEL_W - MARGIN_R);
    let (py0, py1) = (MARGIN_T + PANEL_H - 80.0, MARGIN_T);
    let x = |rows: f64| px0 + (rows.log10() - lx0) / (lx1 - lx0) * (px1 - px0);
    let y = |us: f64| py0 - us / ymax * (py0 - py1);
    let title = match db {
        DbKind::Sqlite => "SQLite (WAL file)",
        DbKind::Postgres => "PostgreSQL",
        DbKind::Mysql => "MySQL / MariaDB",
    };
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle" font-size="13" font-weight="bold">{title}</text>"#,
        (px0 + px1) / 2.0,
        py1 - 10.0
    );
    // Grid and y ticks.
    let mut v = 0.0;
    while v <= ymax + step / 2.0 {
        let yy = y(v);
        let _ = writeln!(
            s,
            r##"<line x1="{px0}" y1="{yy:.1}" x2="{px1}" y2="{yy:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
            px0 - 6.0,
            yy + 4.0,
            v
        );
        v += step;
    }
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle" transform="rotate(-90 {} {})">latency (µs)</text>"#,
        x0 + 16.0,
        (py0 + py1) / 2.0,
        x0 + 16.0,
        (py0 + py1) / 2.0
    );
    // X ticks.
    for &sz in &sizes {
        let xx = x(sz as f64);
        let _ = writeln!(
            s,
            r##"<line x1="{xx:.1}" y1="{py1}" x2="{xx:.1}" y2="{py0}" stroke="#eee"/><text x="{xx:.1}" y="{}" text-anchor="middle">{}</text>"##,
            py0 + 16.0,
            size_label(sz)
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">rows in the table (log scale)</text>"#,
        (px0 + px1) / 2.0,
        py0 + 34.0
    );
    let _ = writeln!(
        s,
        r##"<rect x="{px0}" y="{py1}" width="{}" height="{}" fill="none" stroke="#444"/>"##,
        px1 - px0,
        py0 - py1
    );
    for k in Kind::ALL {
        let mut pts: Vec<&&GrowthResult> = rows.iter().filter(|r| r.contender == k).collect();
        if pts.is_empty() {
            continue;
        }
        pts.sort_by_key(|r| r.rows);
        for (pick, dash) in [(0, ""), (1, r#" stroke-dasharray="6 4""#)] {
            let path: Vec<String> = pts
                .iter()
                .map(|r| {
                    let us = if pick == 0 {
                        r.latency.p50_us
                    } else {
                        r.latency.p99_us
                    };
                    format!("{:.1},{:.1}", x(r.rows as f64), y(us))
                })
                .collect();
            let _ = writeln!(
                s,
                r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="2"{dash}/>"#,
                path.join(" "),
                color(k)
            );
            for p in &path {
                let (cx, cy) = p.split_once(',').expect("x,y");
                let _ = writeln!(
                    s,
                    r#"<circle cx="{cx}" cy="{cy}" r="3" fill="{}"/>"#,
                    color(k)
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::LatencySummary;

    #[test]
    fn renders_an_svg_with_every_contender() {
        let mut results = Vec::new();
        for k in Kind::ALL {
            for (i, rows) in [10_000u64, 100_000, 1_000_000].into_iter().enumerate() {
                results.push(GrowthResult {
                    db: DbKind::Sqlite,
                    contender: k,
                    rows,
                    throughput: 1.0,
                    latency: LatencySummary {
                        p50_us: 10.0 + i as f64,
                        p99_us: 30.0,
                        ..Default::default()
                    },
                    peak_rss_kib: 0,
                });
            }
        }
        let svg = render(&results).unwrap();
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("sqlx-sessions") && svg.contains("raw-sqlx"));
        assert_eq!(svg.matches("<polyline").count(), 6);
        assert!(render(&[]).is_none());
    }

    #[test]
    fn nice_steps() {
        assert_eq!(nice_step(100.0, 5.0), 20.0);
        assert_eq!(nice_step(43.0, 5.0), 10.0);
        assert_eq!(size_label(100_000), "100k");
        assert_eq!(size_label(10_000_000), "10M");
    }
}
