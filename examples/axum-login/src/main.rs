//! `cargo run -p sqlx-sessions-axum-login-example`, then open http://127.0.0.1:4100.
//! `DATABASE_URL` (default `sqlite:axum-login-example.db`) and `BIND` (default
//! `127.0.0.1:4100`) change the database and the address.

use sqlx_sessions_axum_login_example::{Users, app, connect};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "sqlite:axum-login-example.db?mode=rwc".into());
    let bind = std::env::var("BIND").unwrap_or_else(|_| "127.0.0.1:4100".into());
    let store = connect(&url).await?;
    let listener = tokio::net::TcpListener::bind(&bind).await?;
    println!("listening on http://{}", listener.local_addr()?);
    println!("demo accounts: alice / wonderland, bob / builder");
    axum::serve(listener, app(store, Users::demo())).await?;
    Ok(())
}
