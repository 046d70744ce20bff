//! Side-by-side benchmarks of sqlx-sessions, tower-sessions (tower-sessions-sqlx-store) and raw
//! sqlx, in one process, on SQLite and PostgreSQL: the measurements of the benchmark issue.
//! Progress goes to stderr, result tables to stdout; the last line of stdout is the headline
//! `lookup ratios: sqlite vs-tower=X.XX vs-raw=Y.YY postgres vs-tower=X.XX vs-raw=Y.YY`.

pub mod app;
pub mod chart;
pub mod cli;
pub mod contenders;
pub mod db;
pub mod load;
pub mod markdown;
pub mod measure;
pub mod raw_app;
pub mod report;
pub mod stats;
pub mod tokens;
pub mod wrk;
