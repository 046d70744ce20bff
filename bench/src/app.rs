//! The run: every measurement on every database, then the reports.

use std::time::Instant;

use anyhow::{Context, Result};
use sqlx::{ConnectOptions, Connection};

use crate::cli::{Args, Measurement, Plan};
use crate::contenders::Kind;
use crate::db::{Db, DbKind, ServerRun};
use crate::report::{self, Machine, Report};
use crate::{chart, markdown, measure};

/// Runs the plan on every database the arguments name, prints the tables and writes the JSON
/// and the chart; the headline ratio line is printed last.
pub async fn run(args: Args, plan: Plan) -> Result<()> {
    let started = std::time::Instant::now();
    let mut report = Report {
        machine: Machine::detect(),
        plan: plan.clone(),
        versions: Vec::new(),
        lookup: Vec::new(),
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
    };
    eprintln!(
        "sqlx-sessions-bench: {} rows, {:?} x {} rounds per case, contenders {:?}, pools sqlite {} / postgres {}, test_before_acquire={}",
        plan.rows,
        plan.case,
        plan.rounds,
        plan.contenders.iter().map(|k| k.name()).collect::<Vec<_>>(),
        plan.pools.sqlite_max,
        plan.pools.pg_max,
        plan.pools.test_before_acquire
    );

    if !args.no_sqlite {
        let tmp;
        let dir = match &args.sqlite_dir {
            Some(d) => {
                std::fs::create_dir_all(d)?;
                d.clone()
            }
            None => {
                tmp = tempfile::Builder::new()
                    .prefix("sqlx-sessions-bench")
                    .tempdir()?;
                tmp.path().to_path_buf()
            }
        };
        let mut db = Db::sqlite(&dir, plan.pools);
        db.lib_prune_batch = plan.lib_prune_batch;
        let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
            .in_memory(true)
            .connect()
            .await?;
        let v: String = sqlx::query_scalar("SELECT sqlite_version()")
            .fetch_one(&mut conn)
            .await?;
        report
            .versions
            .push((DbKind::Sqlite, format!("SQLite {v}")));
        run_db(&plan, &db, &mut report)
            .await
            .context("SQLite measurements")?;
    }

    for (kind, url, skip) in [
        (DbKind::Postgres, &args.pg_url, args.no_postgres),
        (DbKind::Mysql, &args.mysql_url, args.no_mysql),
    ] {
        let name = kind.name();
        let Some(url) = url.as_deref().filter(|_| !skip) else {
            eprintln!("[{name}] skipped: no URL (--{name}-url)");
            continue;
        };
        let run = ServerRun::create(kind, url).await?;
        eprintln!("[{name}] database {}", run.name());
        let mut db = Db::server(&run, plan.pools);
        db.lib_prune_batch = plan.lib_prune_batch;
        let result = async {
            let v = server_version(&db).await?;
            report.versions.push((kind, v));
            run_db(&plan, &db, &mut report).await
        }
        .await;
        run.drop_database().await?;
        result.with_context(|| format!("{name} measurements"))?;
    }

    report::print_throughput("Lookups", &report.lookup);
    if !report.create.is_empty() {
        report::print_throughput("Creation", &report.create);
    }
    if !report.writes.is_empty() {
        report::print_writes(&report.writes);
    }
    if !report.prune.is_empty() {
        report::print_prune(&report.prune);
    }
    if !report.growth.is_empty() {
        report::print_growth(&report.growth);
    }
    if !report.http.is_empty() {
        report::print_http(&report.http);
    }
    if !report.cache.is_empty() {
        report::print_cache(&report.cache);
    }
    if !report.cache_memory.is_empty() {
        report::print_cache_memory(&report.cache_memory);
    }
    if !report.revoke.is_empty() {
        report::print_revoke(&report.revoke);
    }
    if !report.tower_http.is_empty() {
        report::print_tower_http(&report.tower_http);
    }
    if !report.access.is_empty() {
        let (title, ours) = ("Access tokens against lookups", Kind::VerifyEdDsa);
        report::print_versus(title, "eddsa", &report.access, ours);
    }
    if let Some(path) = &args.json_out {
        std::fs::write(path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("results written to {}", path.display());
    }
    if let Some(path) = &args.markdown_out {
        std::fs::write(path, markdown::render(&report))
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("tables written to {}", path.display());
    }
    if let Some(path) = &args.chart {
        match chart::render(&report.growth) {
            Some(svg) => {
                std::fs::write(path, svg).with_context(|| format!("writing {}", path.display()))?;
                eprintln!("chart written to {}", path.display());
            }
            None => eprintln!("no chart: the growth measurement did not run"),
        }
    }
    eprintln!("total time {:.0}s", started.elapsed().as_secs_f64());
    println!("\n{}", report.ratio_line());
    if plan.runs(Measurement::Cache) || plan.runs(Measurement::Revoke) {
        println!("{}", report.cache_ratio_line());
    }
    if plan.runs(Measurement::TowerHttp) {
        println!("{}", report.tower_ratio_line());
    }
    if plan.runs(Measurement::Access) {
        println!("{}", measure::access::ratio_line(&report.access));
    }
    Ok(())
}

/// The server's version string.
async fn server_version(db: &Db) -> Result<String> {
    Ok(match db.kind {
        DbKind::Postgres => {
            let mut conn = db.pg_connection().await?;
            let v = sqlx::query_scalar("SELECT version()")
                .fetch_one(&mut conn)
                .await?;
            conn.close().await?;
            v
        }
        _ => {
            let mut conn = db.mysql_connection().await?;
            let v = sqlx::query_scalar("SELECT version()")
                .fetch_one(&mut conn)
                .await?;
            conn.close().await?;
            v
        }
    })
}

async fn run_db(plan: &Plan, db: &Db, report: &mut Report) -> Result<()> {
    let name = db.kind.name();
    let mut t = Instant::now();
    let mut lap = |what: &str| {
        eprintln!("[{name}] {what} took {:.1}s", t.elapsed().as_secs_f64());
        t = Instant::now();
    };
    if plan.runs(Measurement::Lookup) || plan.runs(Measurement::Create) {
        let (contenders, lookups) = if plan.runs(Measurement::Lookup) {
            measure::lookup::run(plan, db).await?
        } else {
            (
                measure::open_all(&plan.contenders, db, "main").await?,
                Vec::new(),
            )
        };
        report.lookup.extend(lookups);
        lap("lookup");
        if plan.runs(Measurement::Create) {
            eprintln!("[{name}] create");
            report
                .create
                .extend(measure::create::run(plan, db, &contenders).await?);
            lap("create");
        }
        measure::close_all(&contenders).await;
    }
    if plan.runs(Measurement::Writes) {
        eprintln!("[{name}] writes per lookup");
        report.writes.extend(measure::writes::run(plan, db).await?);
        lap("writes");
    }
    if plan.runs(Measurement::Prune) {
        report.prune.extend(measure::prune::run(plan, db).await?);
        lap("prune");
    }
    if db.kind == DbKind::Mysql {
        // The raw app has no MySQL SQL, the cache measurements (whose quick line names SQLite
        // and PostgreSQL) are not run on MySQL's read cache yet, tower-http's line names
        // SQLite and PostgreSQL, and the growth measurement is left out to keep the run short.
        eprintln!("[{name}] growth, http, tower-http and the cache measurements: not run on MySQL");
        return Ok(());
    }
    if plan.runs(Measurement::Growth) {
        report.growth.extend(measure::growth::run(plan, db).await?);
        lap("growth");
    }
    if plan.runs(Measurement::Http) {
        eprintln!("[{name}] http");
        report.http.extend(measure::http::run(plan, db).await?);
        lap("http");
    }
    if plan.runs(Measurement::Cache) {
        let (lookups, memory) = measure::cache::run(plan, db).await?;
        report.cache.extend(lookups);
        report.cache_memory.extend(memory);
        lap("cache");
    }
    if plan.runs(Measurement::Revoke) {
        report.revoke.extend(measure::revoke::run(plan, db).await?);
        lap("revoke");
    }
    if plan.runs(Measurement::TowerHttp) {
        eprintln!("[{name}] tower-http");
        report
            .tower_http
            .extend(measure::tower_http::run(plan, db).await?);
        lap("tower-http");
    }
    if plan.runs(Measurement::Access) {
        report.access.extend(measure::access::run(plan, db).await?);
        lap("access");
    }
    if plan.runs(Measurement::CacheMemory) {
        report
            .cache_memory
            .extend(measure::cache::memory(plan, db).await?);
        lap("cache memory");
    }
    Ok(())
}
