//! `cargo run -p sqlx-sessions-demo`: the demo on 127.0.0.1:4000 with a SQLite file in the
//! working folder (`--help` for the options).

use std::process::ExitCode;

use sqlx_sessions::redact::{redact_password, redact_url};
use sqlx_sessions_demo::{AppState, Config, app, config::USAGE, error::error_chain, serve};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("info,sqlx::query=warn")),
        )
        .init();
    let config = match Config::parse(std::env::args().skip(1), |k| std::env::var(k).ok()) {
        Ok(Some(config)) => config,
        Ok(None) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    let url = config.database_url.clone();
    match run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let message = error_chain(error.as_ref());
            eprintln!("error: {}", redact_password(&message, &url));
            ExitCode::FAILURE
        }
    }
}

async fn run(config: Config) -> Result<(), Box<dyn std::error::Error>> {
    let state = AppState::connect(&config).await?;
    let pruners = state.spawn_pruners(config.prune_interval);
    let listener = tokio::net::TcpListener::bind(config.bind).await?;
    tracing::info!(
        "listening on http://{} (database: {})",
        listener.local_addr()?,
        redact_url(&config.database_url)
    );
    serve(listener, app(state.clone()), shutdown_signal()).await?;
    tracing::info!("shutting down");
    for pruner in pruners {
        pruner.stop().await;
    }
    // The keys' uses counted since the last flush.
    if let Err(error) = state.api_keys.flush_uses().await {
        tracing::warn!(error = %sqlx_sessions::error_chain(&error), "key uses not flushed");
    }
    state.db.close().await;
    Ok(())
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}
