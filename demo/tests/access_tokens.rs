//! The demo's access tokens through `oneshot` and a real server, on every database:
//! `POST /api/token`, the JWKS document, `GET /api/claims` with an access token or a
//! session token, the account page's access-token section before and after sign-out, and
//! an independent check of a minted token with PyJWT using only the served JWKS.

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::{Client, Page, TestDb, between};
use sqlx_sessions::NewSession;
use sqlx_sessions_demo::csrf::CsrfKey;
use sqlx_sessions_demo::{AppState, app};
use tower::ServiceExt as _;

sqlx_sessions_test_support::backend_tests!(
    token_endpoint_answers_the_oauth_shape,
    api_claims_take_access_tokens_and_session_tokens,
    the_account_page_shows_a_token_that_outlives_sign_out_without_the_feed,
    pyjwt_verifies_a_minted_token_with_the_jwks_alone,
);

mod feed {
    use super::*;
    sqlx_sessions_test_support::backend_tests!(
        with_the_cache_a_signed_out_sessions_token_is_refused,
    );
}

/// A request to the router with `headers`, read whole.
async fn call(state: &AppState, method: &str, path: &str, headers: &[(&str, &str)]) -> Page {
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, "localhost:4000");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = app(state.clone())
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let body = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    Page {
        status,
        location: None,
        set_cookies: Vec::new(),
        headers,
        body: String::from_utf8(body.to_vec()).unwrap(),
    }
}

/// A signed-up browser and its session token.
async fn signed_up(state: &AppState) -> (Client, String) {
    let mut client = Client::new(state.clone(), "Laptop/1.0");
    client.sign_up().await;
    let token = client
        .cookie("auth_token")
        .expect("session cookie")
        .to_owned();
    (client, token)
}

async fn access_token(state: &AppState, session_token: &str) -> String {
    let res = call(
        state,
        "POST",
        "/api/token",
        &[("x-auth-token", session_token)],
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    res.json()["access_token"].as_str().unwrap().to_owned()
}

async fn token_endpoint_answers_the_oauth_shape(db: TestDb) {
    let state = db.state().await;
    let (_, token) = signed_up(&state).await;
    for header in [
        ("x-auth-token", token.clone()),
        ("authorization", format!("Bearer {token}")),
    ] {
        let res = call(&state, "POST", "/api/token", &[(header.0, &header.1)]).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        assert_eq!(res.headers[header::CACHE_CONTROL], "no-store");
        let body = res.json();
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 300);
        assert_eq!(body["access_token"].as_str().unwrap().split('.').count(), 3);
        assert_eq!(body.as_object().unwrap().len(), 3, "{body}");
    }
    for headers in [vec![], vec![("x-auth-token", "unknown-token")]] {
        let res = call(&state, "POST", "/api/token", &headers).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
        assert_eq!(res.json()["error"], "invalid_grant");
    }
    // An access token is no refresh token.
    let access = access_token(&state, &token).await;
    let res = call(
        &state,
        "POST",
        "/api/token",
        &[("authorization", &format!("Bearer {access}"))],
    )
    .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    // The JWKS: public Ed25519 keys with their kid.
    let jwks = call(&state, "GET", "/.well-known/jwks.json", &[])
        .await
        .json();
    let key = &jwks["keys"][0];
    assert_eq!(
        (key["kty"].as_str(), key["crv"].as_str()),
        (Some("OKP"), Some("Ed25519"))
    );
    assert!(key["kid"].as_str().unwrap().starts_with("demo-"));
    assert!(key.get("d").is_none(), "{jwks}");
}

async fn api_claims_take_access_tokens_and_session_tokens(db: TestDb) {
    let state = db.state().await;
    let (mut client, token) = signed_up(&state).await;
    let account = client.get("/account").await;
    let user = between(&account.body, "<span id=\"user-id\">", "<").unwrap();
    let access = access_token(&state, &token).await;
    let by_access = call(
        &state,
        "GET",
        "/api/claims",
        &[("authorization", &format!("Bearer {access}"))],
    )
    .await;
    assert_eq!(by_access.status, StatusCode::OK, "{}", by_access.body);
    let by_access = by_access.json();
    assert_eq!(by_access["source"], "access_token");
    assert_eq!(by_access["claims"]["sub"], user.as_str());
    let by_session = call(&state, "GET", "/api/claims", &[("x-auth-token", &token)])
        .await
        .json();
    assert_eq!(by_session["source"], "session");
    // The same view either way.
    for claim in ["sub", "sid", "iss", "aud"] {
        assert_eq!(
            by_access["claims"][claim], by_session["claims"][claim],
            "{claim}"
        );
    }
    // Tampered, and absent: 401.
    let mut tampered = access.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    for headers in [
        vec![("authorization", format!("Bearer {tampered}"))],
        vec![],
    ] {
        let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert_eq!(
            call(&state, "GET", "/api/claims", &h).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
}

/// Mints on the account page, then checks the token again after signing out.
async fn mint_then_sign_out(client: &mut Client) -> (Page, Page) {
    let account = client.get("/account").await;
    assert!(account.body.contains("id=\"mint-access-token\""));
    let minted = client
        .post("/access-token", &[("_csrf_token", &account.csrf())])
        .await;
    assert_eq!(minted.status, StatusCode::OK, "{}", minted.body);
    let token = between(
        &minted.body,
        "<pre id=\"access-token\" class=\"wrap\">",
        "<",
    )
    .unwrap();
    let res = client
        .post("/sign-out", &[("_csrf_token", &account.csrf())])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert!(
        client.get("/account").await.status != StatusCode::OK,
        "signed out"
    );
    let csrf = client.get("/").await.csrf();
    let again = client
        .post(
            "/access-token/verify",
            &[("_csrf_token", &csrf), ("access_token", &token)],
        )
        .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    (minted, again)
}

async fn the_account_page_shows_a_token_that_outlives_sign_out_without_the_feed(db: TestDb) {
    let state = db.state().await;
    let (mut client, _) = signed_up(&state).await;
    let (minted, again) = mint_then_sign_out(&mut client).await;
    assert!(
        minted.body.contains("data-valid=\"true\""),
        "{}",
        minted.body
    );
    let claims = between(&minted.body, "<pre id=\"claims\">", "</pre>").unwrap();
    for claim in ["sub", "sid", "iat", "exp", "jti", "iss", "aud"] {
        assert!(claims.contains(claim), "{claim} in {claims}");
    }
    // No feed: still valid until `exp`, and the page says so.
    assert!(again.body.contains("data-valid=\"true\""), "{}", again.body);
    assert!(
        again.body.contains("still verifies until it expires"),
        "{}",
        again.body
    );
}

/// Waits until the demo's cached store has its feed confirmed (its cache answers).
async fn until_serving(state: &AppState) {
    let started = std::time::Instant::now();
    while !state.sessions().cache_stats().unwrap().serving {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "feed not serving"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn with_the_cache_a_signed_out_sessions_token_is_refused(db: TestDb) {
    let state = AppState::open(db.db.clone(), CsrfKey::random(), false, true)
        .await
        .expect("cached state");
    let started = std::time::Instant::now();
    until_serving(&state).await;
    // Tokens issued in the second of the feed's last gap (its first round, or a round
    // caught up after it failed, which a loaded machine can cause at any time) are refused
    // (see the library's docs): start in a later second, and again if a gap came meanwhile.
    let unknown = "revocations unknown";
    let again = loop {
        let clears = state.sessions().cache_stats().unwrap().clears;
        let second = time::OffsetDateTime::now_utc().unix_timestamp();
        while time::OffsetDateTime::now_utc().unix_timestamp() <= second {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let (mut client, _) = signed_up(&state).await;
        let (minted, again) = mint_then_sign_out(&mut client).await;
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the feed kept failing"
        );
        // While the feed is unconfirmed every token is refused as unknown (fail closed):
        // try again.
        if minted.body.contains(unknown) || again.body.contains(unknown) {
            continue;
        }
        if minted.body.contains("data-valid=\"true\"") {
            break again;
        }
        until_serving(&state).await;
        assert!(
            state.sessions().cache_stats().unwrap().clears > clears,
            "refused without a gap in the feed: {}",
            minted.body
        );
    };
    // Signing out went through the cached store: refused as soon as it returned.
    assert!(
        again.body.contains("data-valid=\"false\""),
        "{}",
        again.body
    );
    assert!(again.body.contains("session revoked"), "{}", again.body);
}

const PYJWT_CHECK: &str = r#"
import json, sys, urllib.request
import jwt
base, token, audience = sys.argv[1], sys.argv[2], sys.argv[3]
req = urllib.request.Request(base + "/.well-known/jwks.json")
jwks = jwt.PyJWKSet.from_dict(json.load(urllib.request.urlopen(req)))
kid = jwt.get_unverified_header(token)["kid"]
key = next(k for k in jwks.keys if k.key_id == kid)
claims = jwt.decode(token, key.key, algorithms=["EdDSA"], audience=audience, issuer=audience)
parts = token.split(".")
sig = parts[2]
tampered = ".".join([parts[0], parts[1], ("A" if sig[0] != "A" else "B") + sig[1:]])
try:
    jwt.decode(tampered, key.key, algorithms=["EdDSA"], audience=audience, issuer=audience)
    print("TAMPERED ACCEPTED")
    sys.exit(1)
except jwt.InvalidSignatureError:
    pass
print(json.dumps({"sub": claims["sub"], "sid": claims["sid"]}))
"#;

/// A Python interpreter with PyJWT and its EdDSA support (`$PYTHON`, `python3`, then the
/// system's `/usr/bin/python3`, where Debian's `python3-jwt` installs); under `CI=true` its
/// absence fails the test instead of skipping it.
fn python_with_pyjwt() -> Option<String> {
    let candidates = std::env::var("PYTHON")
        .into_iter()
        .chain(["python3".to_owned(), "/usr/bin/python3".to_owned()]);
    for python in candidates {
        let ok = std::process::Command::new(&python)
            .args([
                "-c",
                "import jwt, cryptography.hazmat.primitives.asymmetric.ed25519",
            ])
            .output()
            .is_ok_and(|o| o.status.success());
        if ok {
            return Some(python);
        }
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "python3 with PyJWT and cryptography is needed (Debian: python3-jwt python3-cryptography)"
    );
    eprintln!("note: python3 with PyJWT missing; the independent JWT check is skipped");
    None
}

async fn pyjwt_verifies_a_minted_token_with_the_jwks_alone(db: TestDb) {
    let Some(python) = python_with_pyjwt() else {
        return;
    };
    let state = db.state().await;
    let user = uuid::Uuid::new_v4().to_string();
    let created = state
        .sessions()
        .create(NewSession::new().extra("user_id", user.as_str()))
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(sqlx_sessions_demo::serve(
        listener,
        app(state.clone()),
        std::future::pending(),
    ));
    let res = reqwest::Client::new()
        .post(format!("{base}/api/token"))
        .header(
            "authorization",
            format!("Bearer {}", created.token.expose()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = serde_json::from_str(&res.text().await.unwrap()).unwrap();
    let token = body["access_token"].as_str().unwrap().to_owned();
    let audience = sqlx_sessions_demo::access::ISSUER;
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(python)
            .args(["-c", PYJWT_CHECK, &base, &token, audience])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    server.abort();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "PyJWT refused: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let claims: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(claims["sub"], user.as_str());
    assert_eq!(claims["sid"], created.session.id.to_string());
}
