//! `sqlx-sessions-bench`: see the library part of this crate for what it measures and how.

use anyhow::Result;
use clap::Parser;
use sqlx_sessions_bench::cli::{Args, Plan};

fn main() -> Result<()> {
    let args = Args::parse();
    let plan = Plan::from_args(&args);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(sqlx_sessions_bench::app::run(args, plan))
}
