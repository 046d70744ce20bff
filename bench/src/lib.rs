//! Side-by-side benchmarks of sqlx-sessions, tower-sessions (tower-sessions-sqlx-store, and its
//! moka cache) and raw sqlx, in one process, on SQLite, PostgreSQL and MySQL/MariaDB.
//! Progress goes to stderr, result tables to stdout; the headline is the line
//! `lookup ratios: sqlite vs-tower=X.XX vs-raw=Y.YY postgres vs-tower=X.XX vs-raw=Y.YY mysql vs-tower=X.XX vs-raw=Y.YY`,
//! followed, when the cache measurements ran, by
//! `cache ratios: sqlite vs-raw=X.XX vs-tower-moka=Y.YY postgres vs-raw=X.XX vs-tower-moka=Y.YY revoke-p99-ms sqlite=A postgres=B`.

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
