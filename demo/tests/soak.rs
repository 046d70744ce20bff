//! Soak: the demo served on loopback under steady load for `SOAK_SECS` seconds (default
//! 600) with both pruners running every 2 seconds, and a feeder adding sessions that are
//! born expired so every pruner round has work. It must see zero errors and a flat memory
//! profile. Long, so not part of the normal run: `scripts/soak.sh` runs it (figures in
//! RELIABILITY.md).
//!
//! The mix per request: a session token on `GET /api/me` (55%), an API key on it (15%), the
//! account page with the cookie (10%), an unknown token (10%), and a whole sign-in, use and
//! sign-out through the forms (10%). `SOAK_DATABASE_URL=postgres://...` runs it on
//! PostgreSQL instead of a SQLite file.

mod common;

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::http::{StatusCode, header};
use common::between;
use sqlx_sessions::{NewSession, Status};
use sqlx_sessions_demo::csrf::CsrfKey;
use sqlx_sessions_demo::db::Db;
use sqlx_sessions_demo::{AppState, app, serve};

const WORKERS: usize = 4;

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    errors: AtomicU64,
    sign_ins: AtomicU64,
    latency_us_total: AtomicU64,
    latency_us_max: AtomicU64,
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn form(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| {
            let v: String = v
                .bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                        (b as char).to_string()
                    }
                    _ => format!("%{b:02X}"),
                })
                .collect();
            format!("{k}={v}")
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn cookie_of(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|c| c.split(';').next()?.split_once('='))
        .find(|(k, v)| *k == name && !v.is_empty())
        .map(|(_, v)| v.to_owned())
}

/// One whole visit: sign in with the user id and secret through the form, load the account
/// page, sign out.
async fn sign_in_use_sign_out(
    http: &reqwest::Client,
    base: &str,
    user: &str,
    secret: &str,
) -> Result<(), String> {
    let home = http
        .get(format!("{base}/"))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let anon = cookie_of(&home, "csrf_id").ok_or("no csrf_id cookie")?;
    let page = home.text().await.map_err(|e| e.to_string())?;
    let csrf = between(&page, "name=\"_csrf_token\" value=\"", "\"").ok_or("no csrf")?;
    let res = http
        .post(format!("{base}/login"))
        .header(header::COOKIE, format!("csrf_id={anon}"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form(&[
            ("_csrf_token", &csrf),
            ("user_id", user),
            ("secret", secret),
        ]))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if res.status() != StatusCode::SEE_OTHER {
        return Err(format!("login: {}", res.status()));
    }
    let token = cookie_of(&res, "auth_token").ok_or("no session cookie")?;
    let cookies = format!("csrf_id={anon}; auth_token={token}");
    let account = http
        .get(format!("{base}/account"))
        .header(header::COOKIE, &cookies)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if account.status() != StatusCode::OK {
        return Err(format!("account: {}", account.status()));
    }
    let page = account.text().await.map_err(|e| e.to_string())?;
    let csrf = between(&page, "name=\"_csrf_token\" value=\"", "\"").ok_or("no csrf")?;
    let res = http
        .post(format!("{base}/sign-out"))
        .header(header::COOKIE, &cookies)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form(&[("_csrf_token", &csrf)]))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if res.status() != StatusCode::SEE_OTHER {
        return Err(format!("sign-out: {}", res.status()));
    }
    Ok(())
}

async fn me(http: &reqwest::Client, base: &str, token: &str) -> Result<bool, String> {
    let res = http
        .get(format!("{base}/api/me"))
        .header("x-auth-token", token)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if res.status() != StatusCode::OK {
        return Err(format!("api/me: {}", res.status()));
    }
    let text = res.text().await.map_err(|e| e.to_string())?;
    Ok(text.contains("\"is_logged_in\":true"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a 10-minute soak; run it with scripts/soak.sh"]
async fn soak() {
    let secs: u64 = std::env::var("SOAK_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(600);
    let dir = tempfile::tempdir().unwrap();
    let url = std::env::var("SOAK_DATABASE_URL")
        .unwrap_or_else(|_| dir.path().join("soak.db").display().to_string());
    let db = Db::connect(&url).await.unwrap();
    // Every sign-in comes from 127.0.0.1: the per-address limit would refuse most of them.
    let state = AppState::new(db, CsrfKey::random(), false)
        .await
        .unwrap()
        .sign_in_rate(NonZeroU32::MAX, Duration::from_nanos(1));
    let pruners = state.spawn_pruners(Duration::from_secs(2));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop_server, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, app(state.clone()), async {
        let _ = stopped.await;
    }));

    // A user with a session and an API key, made through the store.
    let (user, secret) = state.db.create_user().await.unwrap();
    let (user, secret) = (user.id.to_string(), secret.expose().to_owned());
    let session = state
        .sessions()
        .create(NewSession::new().extra("user_id", user.as_str()))
        .await
        .unwrap()
        .token
        .into_string();
    let key = state
        .api_keys
        .create(
            NewSession::new()
                .extra("user_id", user.as_str())
                .data(serde_json::json!({"name": "soak"}))
                .scopes(["me:read"]),
        )
        .await
        .unwrap()
        .token
        .into_string();

    let counters = Arc::new(Counters::default());
    let done = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for w in 0..WORKERS {
        let (base, session, key) = (base.clone(), session.clone(), key.clone());
        let (user, secret) = (user.clone(), secret.clone());
        let (counters, done) = (counters.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap();
            let mut i: u64 = w as u64;
            while Instant::now() < deadline && !done.load(Ordering::Relaxed) {
                let t = Instant::now();
                let result = match i % 20 {
                    0..=10 => me(&http, &base, &session).await.and_then(|ok| {
                        ok.then_some(()).ok_or_else(|| "session refused".to_owned())
                    }),
                    11..=13 => me(&http, &base, &key)
                        .await
                        .and_then(|ok| ok.then_some(()).ok_or_else(|| "key refused".to_owned())),
                    14 | 15 => http
                        .get(format!("{base}/account"))
                        .header(header::COOKIE, format!("auth_token={session}"))
                        .send()
                        .await
                        .map_err(|e| e.to_string())
                        .and_then(|r| {
                            (r.status() == StatusCode::OK)
                                .then_some(())
                                .ok_or_else(|| format!("account: {}", r.status()))
                        }),
                    16 | 17 => me(&http, &base, "not-a-token-at-all-but-long-enough-0000")
                        .await
                        .and_then(|ok| {
                            (!ok)
                                .then_some(())
                                .ok_or_else(|| "junk accepted".to_owned())
                        }),
                    _ => {
                        counters.sign_ins.fetch_add(1, Ordering::Relaxed);
                        sign_in_use_sign_out(&http, &base, &user, &secret).await
                    }
                };
                let us = u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX);
                counters.requests.fetch_add(1, Ordering::Relaxed);
                counters.latency_us_total.fetch_add(us, Ordering::Relaxed);
                counters.latency_us_max.fetch_max(us, Ordering::Relaxed);
                if let Err(e) = result
                    && counters.errors.fetch_add(1, Ordering::Relaxed) < 5
                {
                    eprintln!("soak error: {e}");
                }
                i += 1;
            }
        }));
    }

    // Feed the pruners: sessions born expired, 50 a second.
    let feeder = {
        let state = state.clone();
        let done = done.clone();
        tokio::spawn(async move {
            let mut fed = 0u64;
            while Instant::now() < deadline && !done.load(Ordering::Relaxed) {
                for _ in 0..50 {
                    let past = time::OffsetDateTime::now_utc() - time::Duration::minutes(1);
                    state
                        .sessions()
                        .create(
                            NewSession::new()
                                .extra("user_id", "expired")
                                .expires_at(Some(past)),
                        )
                        .await
                        .unwrap();
                    fed += 1;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            fed
        })
    };

    // Sample memory and throughput.
    let mut samples: Vec<(u64, u64, u64)> = Vec::new(); // (second, requests, RSS KiB)
    println!(
        "{:>6} {:>10} {:>8} {:>10}",
        "second", "requests", "errors", "rss_kib"
    );
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_secs(10).min(deadline - Instant::now())).await;
        let s = started.elapsed().as_secs();
        let n = counters.requests.load(Ordering::Relaxed);
        let e = counters.errors.load(Ordering::Relaxed);
        let rss = rss_kib();
        println!("{s:>6} {n:>10} {e:>8} {rss:>10}");
        samples.push((s, n, rss));
    }
    done.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.expect("no worker panics");
    }
    let fed = feeder.await.unwrap();
    for p in pruners {
        p.stop().await;
    }
    let left_expired = state
        .sessions()
        .count(&sqlx_sessions::Filter::new().status(Status::Expired))
        .await
        .unwrap();
    let _ = stop_server.send(());
    server.await.unwrap().unwrap();

    let requests = counters.requests.load(Ordering::Relaxed);
    let errors = counters.errors.load(Ordering::Relaxed);
    let mean_ms = counters.latency_us_total.load(Ordering::Relaxed) as f64 / requests as f64 / 1e3;
    let max_ms = counters.latency_us_max.load(Ordering::Relaxed) as f64 / 1e3;
    let third = (samples.len() / 3).max(1);
    let avg = |s: &[(u64, u64, u64)]| s.iter().map(|x| x.2).sum::<u64>() / s.len().max(1) as u64;
    let early = avg(&samples[..third]);
    let late = avg(&samples[samples.len() - third..]);
    println!(
        "soak: {secs} s, {requests} requests ({:.0}/s), {} sign-in visits, {errors} errors, \
         latency mean {mean_ms:.2} ms max {max_ms:.1} ms; {fed} expired sessions fed, \
         {left_expired} left unpruned at the end; RSS first third {early} KiB, last third \
         {late} KiB",
        requests as f64 / secs as f64,
        counters.sign_ins.load(Ordering::Relaxed),
    );
    assert_eq!(errors, 0, "errors under steady load");
    assert!(
        late <= early + early / 4 + 16 * 1024,
        "memory grew: {early} KiB -> {late} KiB"
    );
    assert!(left_expired < 500, "the pruners kept up");
}
