//! Creates, looks up, extends and expires a session on a SQLite file, printing each step.
//!
//! Run with `cargo run -p sqlx-sessions --example quickstart`.

use sqlx_sessions::{Filter, ManualClock, NewSession, Pool, SessionStore, Status};
use time::Duration;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("sqlx-sessions-quickstart-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("sessions.db");
    let pool = Pool::connect(path.to_str().unwrap_or("sessions.db")).await?;

    // A clock we can move, to show extension without waiting a day.
    let clock = ManualClock::new(time::OffsetDateTime::now_utc());
    let store = SessionStore::builder(pool)
        .ttl(Some(Duration::days(7)))
        .extend_stale_time(Some(Duration::days(1)))
        .clock(clock.clone())
        .build()?;
    store.migrate().await?;
    println!("database: {}", path.display());

    let created = store
        .create(
            NewSession::new()
                .extra("user_id", "42")
                .data(serde_json::json!({"device": "laptop"})),
        )
        .await?;
    let token = created.token.expose().to_owned();
    println!(
        "created session {} for user 42, expires {:?}",
        created.session.id, created.session.expires_at
    );
    println!(
        "token: {} characters, handed to the client once, stored only as a digest",
        token.len()
    );
    println!("stored digest: {}", store.digest_hex(&token)?);

    let found = store.lookup(&token).await?.ok_or("session not found")?;
    println!(
        "lookup: found {} (user {:?})",
        found.id,
        found.extra_str("user_id")
    );

    clock.advance(Duration::days(2));
    let extended = store.lookup(&token).await?.ok_or("session not found")?;
    println!(
        "two days later, lookup extended it: expires {:?}",
        extended.expires_at
    );

    store.expire(found.id).await?;
    println!(
        "expired; lookup now finds: {:?}",
        store.lookup(&token).await?.map(|s| s.id)
    );
    let all = store
        .list(&Filter::new().eq("user_id", "42").status(Status::All))
        .await?;
    for s in &all {
        println!(
            "  session {} is_expired={} data={}",
            s.id,
            s.is_expired,
            s.data.as_json()
        );
    }
    println!(
        "deleted {} expired session(s)",
        store.delete_expired().await?
    );
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
