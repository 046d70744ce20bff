//! Issue 13, finding 10: the server's read timeouts, over real TCP on loopback. A client
//! that sends its headers slowly is disconnected; one that stalls in its body gets 408.

mod common;

use std::time::{Duration, Instant};

use common::TestDb;
use sqlx_sessions_demo::{Timeouts, app, serve_with};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

const TIMEOUTS: Timeouts = Timeouts {
    header_read: Duration::from_secs(1),
    request_body: Duration::from_secs(1),
};

/// How long a test waits for the server before calling it hung.
const PATIENCE: Duration = Duration::from_secs(10);

/// The demo served with [`TIMEOUTS`] on a loopback port; its address and its stop switch.
async fn served(db: &TestDb) -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let app = app(db.state().await);
    tokio::spawn(serve_with(
        listener,
        app,
        async {
            let _ = stopped.await;
        },
        TIMEOUTS,
    ));
    (addr, stop)
}

/// Everything the server sends until it closes the connection, or `None` if it has not
/// closed it within [`PATIENCE`].
async fn read_until_closed(stream: &mut TcpStream) -> Option<String> {
    let mut out = Vec::new();
    let read = tokio::time::timeout(PATIENCE, stream.read_to_end(&mut out)).await;
    match read {
        Ok(_) => Some(String::from_utf8_lossy(&out).into_owned()),
        Err(_) => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_headers_are_cut_off() {
    let db = TestDb::sqlite().await;
    let (addr, _stop) = served(&db).await;
    // The server's header timer starts when it accepts the connection, which can be before
    // `connect` returns here: start the clock before connecting, or a loaded machine can
    // see the connection closed a few milliseconds "early".
    let started = Instant::now();
    let mut stream = TcpStream::connect(addr).await.unwrap();
    // Headers that never end (a slowloris client keeps them trickling).
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n")
        .await
        .unwrap();
    let reply = read_until_closed(&mut stream).await;
    let took = started.elapsed();
    assert!(
        reply.is_some(),
        "the connection was still open after {PATIENCE:?}"
    );
    assert!(took >= TIMEOUTS.header_read, "closed after {took:?}");
    // A complete request on a new connection is still answered.
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /static/app.css HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let reply = read_until_closed(&mut stream).await.unwrap();
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_body_gets_408() {
    let db = TestDb::sqlite().await;
    let (addr, _stop) = served(&db).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let started = Instant::now();
    // 100 bytes announced, 10 sent, then nothing.
    stream
        .write_all(
            b"POST /login HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
              Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n\
              user_id=1&",
        )
        .await
        .unwrap();
    let reply = read_until_closed(&mut stream).await;
    let took = started.elapsed();
    let reply = reply.unwrap_or_else(|| panic!("no answer within {PATIENCE:?}"));
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
    assert!(took >= TIMEOUTS.request_body, "answered after {took:?}");
}
