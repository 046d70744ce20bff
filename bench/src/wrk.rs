//! The HTTP load generator: Debian's `wrk`, run as a separate process on loopback, and the
//! reading of what it prints.
//!
//! Each request carries one of a list of tokens in `X-Auth-Token`, taken in turn by a small
//! Lua script, so the load spreads over many sessions rather than one hot row.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Serialize;

use crate::stats::median;

/// What one `wrk` run reported.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct WrkRun {
    /// Requests completed.
    pub requests: u64,
    /// Requests per second.
    pub requests_per_sec: f64,
    /// Median latency, microseconds.
    pub p50_us: f64,
    /// 90th percentile, microseconds.
    pub p90_us: f64,
    /// 99th percentile, microseconds.
    pub p99_us: f64,
    /// Responses with a status other than 2xx or 3xx.
    pub non_2xx: u64,
    /// Socket errors of every kind (connect, read, write, timeout).
    pub socket_errors: u64,
}

/// The rounds of one case taken together.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Rounds {
    /// Requests per second: the median over the rounds.
    pub requests_per_sec: f64,
    /// Requests per second of each round.
    pub round_requests_per_sec: Vec<f64>,
    /// Median over the rounds of the 50th percentile, microseconds.
    pub p50_us: f64,
    /// Median over the rounds of the 99th percentile, microseconds.
    pub p99_us: f64,
    /// Requests in all rounds.
    pub requests: u64,
    /// Non-2xx/3xx responses and socket errors in all rounds.
    pub errors: u64,
}

impl Rounds {
    /// The requests per second of each round, as `a / b / c`.
    pub fn per_round(&self) -> String {
        let rounds: Vec<String> = self
            .round_requests_per_sec
            .iter()
            .map(|t| format!("{t:.0}"))
            .collect();
        rounds.join(" / ")
    }

    /// The rounds `runs` of one case.
    pub fn of(runs: &[&WrkRun]) -> Self {
        let rates: Vec<f64> = runs.iter().map(|r| r.requests_per_sec).collect();
        Rounds {
            requests_per_sec: median(&rates),
            round_requests_per_sec: rates,
            p50_us: median(&runs.iter().map(|r| r.p50_us).collect::<Vec<_>>()),
            p99_us: median(&runs.iter().map(|r| r.p99_us).collect::<Vec<_>>()),
            requests: runs.iter().map(|r| r.requests).sum(),
            errors: runs.iter().map(|r| r.non_2xx + r.socket_errors).sum(),
        }
    }
}

/// Whether `wrk` can be started.
pub fn available() -> bool {
    Command::new("wrk")
        .arg("--version")
        .output()
        .is_ok_and(|o| !o.stdout.is_empty() || !o.stderr.is_empty())
}

/// The Lua script that sends `tokens` in turn, one per request, in `X-Auth-Token`.
pub fn token_script(tokens: &[String]) -> Result<String> {
    header_script("X-Auth-Token", "", tokens)
}

/// The Lua script that sends `values` in turn, one per request, in the header `header`,
/// each after `prefix` (a cookie's `name=`).
pub fn header_script(header: &str, prefix: &str, values: &[String]) -> Result<String> {
    // Tokens are URL-safe base64 (with an optional prefix), the header a plain name: refuse
    // anything else rather than quote it into Lua.
    let plain = |t: &str, also: &[u8]| {
        t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || also.contains(&b))
    };
    if !plain(header, &[]) || !plain(prefix, b"=") {
        bail!("a header name or prefix with characters outside [A-Za-z0-9_-=]");
    }
    let mut s = String::from("local tokens = {\n");
    for t in values {
        if !plain(t, &[]) {
            bail!("a token with characters outside URL-safe base64");
        }
        s.push_str("  \"");
        s.push_str(prefix);
        s.push_str(t);
        s.push_str("\",\n");
    }
    s.push_str(&format!(
        "}}\nlocal i = 0\nrequest = function()\n  i = i % #tokens + 1\n  \
         return wrk.format(\"GET\", nil, {{ [\"{header}\"] = tokens[i] }})\nend\n"
    ));
    Ok(s)
}

/// Runs `wrk` against `url` for `duration` with `connections` connections on one thread,
/// requests shaped by the Lua `script` file.
pub fn run(url: &str, script: &Path, connections: usize, duration: Duration) -> Result<WrkRun> {
    let secs = duration.as_secs_f64().ceil().max(1.0) as u64;
    let output = Command::new("wrk")
        .arg("-t1")
        .arg(format!("-c{connections}"))
        .arg(format!("-d{secs}s"))
        .arg("--latency")
        .arg("-s")
        .arg(script)
        .arg(url)
        .output()
        .context("starting wrk (Debian: apt-get install wrk)")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "wrk failed ({}): {}{}",
            output.status,
            stdout,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    parse(&stdout).with_context(|| format!("reading wrk's output:\n{stdout}"))
}

/// Reads a duration as `wrk` prints it (`512.00us`, `1.23ms`, `2.00s`, `1.50m`) in
/// microseconds.
fn parse_latency(s: &str) -> Option<f64> {
    let split = s.find(|c: char| c.is_ascii_alphabetic())?;
    let (value, unit) = s.split_at(split);
    let value: f64 = value.parse().ok()?;
    let factor = match unit {
        "us" => 1.0,
        "ms" => 1_000.0,
        "s" => 1_000_000.0,
        "m" => 60_000_000.0,
        "h" => 3_600_000_000.0,
        _ => return None,
    };
    Some(value * factor)
}

/// Reads the report `wrk --latency` prints.
pub fn parse(out: &str) -> Result<WrkRun> {
    let mut run = WrkRun::default();
    let mut seen_rate = false;
    let mut seen_total = false;
    for line in out.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Requests/sec:", rate] => {
                run.requests_per_sec = rate.parse().context("Requests/sec")?;
                seen_rate = true;
            }
            [n, "requests", "in", ..] => {
                run.requests = n.parse().context("requests")?;
                seen_total = true;
            }
            ["Non-2xx", "or", "3xx", "responses:", n] => {
                run.non_2xx = n.parse().context("Non-2xx")?;
            }
            ["Socket", "errors:", rest @ ..] => {
                // `connect 0, read 0, write 0, timeout 0`
                for pair in rest.chunks(2) {
                    if let [_, n] = pair {
                        run.socket_errors += n.trim_end_matches(',').parse::<u64>().unwrap_or(0);
                    }
                }
            }
            [pct, value] if pct.ends_with('%') => {
                let Some(us) = parse_latency(value) else {
                    continue;
                };
                match *pct {
                    "50%" => run.p50_us = us,
                    "90%" => run.p90_us = us,
                    "99%" => run.p99_us = us,
                    _ => {}
                }
            }
            _ => {}
        }
    }
    if !seen_rate || !seen_total || run.p99_us == 0.0 {
        bail!("no Requests/sec, request count or latency distribution");
    }
    Ok(run)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "Running 2s test @ http://127.0.0.1:41231/api/me
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   789.12us  210.33us   5.12ms   88.12%
    Req/Sec    20.31k     1.02k   21.50k    75.00%
  Latency Distribution
     50%  750.00us
     75%  850.00us
     90%    1.02ms
     99%    1.50ms
  40400 requests in 2.00s, 12.34MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 7
Requests/sec:  20198.54
Transfer/sec:      6.17MB
";

    #[test]
    fn reads_rate_percentiles_and_errors() {
        let r = parse(SAMPLE).unwrap();
        assert_eq!(r.requests, 40_400);
        assert!((r.requests_per_sec - 20_198.54).abs() < 1e-6);
        assert!((r.p50_us - 750.0).abs() < 1e-6);
        assert!((r.p90_us - 1_020.0).abs() < 1e-6);
        assert!((r.p99_us - 1_500.0).abs() < 1e-6);
        assert_eq!(r.non_2xx, 7);
        assert_eq!(r.socket_errors, 3);
    }

    #[test]
    fn refuses_output_without_a_rate() {
        assert!(parse("Running 1s test @ http://x\n").is_err());
    }

    #[test]
    fn latency_units() {
        assert_eq!(parse_latency("2.00s"), Some(2_000_000.0));
        assert_eq!(parse_latency("1.50m"), Some(90_000_000.0));
        assert_eq!(parse_latency("12.5us"), Some(12.5));
        assert_eq!(parse_latency("3"), None);
        assert_eq!(parse_latency("3xs"), None);
    }

    #[test]
    fn script_cycles_through_every_token() {
        let s = token_script(&["a".into(), "b_c".into()]).unwrap();
        assert!(s.contains("\"a\",\n") && s.contains("\"b_c\",\n"));
        assert!(s.contains("i = i % #tokens + 1"));
        assert!(s.contains("X-Auth-Token"));
        assert!(token_script(&["a\"b".into()]).is_err());
    }

    #[test]
    fn cookie_script_prefixes_every_value() {
        let s = header_script("Cookie", "id=", &["abc".into(), "d-e".into()]).unwrap();
        assert!(s.contains("\"id=abc\",\n") && s.contains("\"id=d-e\",\n"));
        assert!(s.contains("[\"Cookie\"] = tokens[i]"));
        assert!(header_script("Cookie", "id=;", &["abc".into()]).is_err());
        assert!(header_script("Coo\"kie", "id=", &["abc".into()]).is_err());
        assert!(header_script("Cookie", "id=", &["a=b".into()]).is_err());
    }
}
