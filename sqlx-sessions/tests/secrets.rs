//! No plaintext token in any `Debug` output of the library's types, in the database, or in
//! the logs of every operation (captured at TRACE, sqlx's own statements included).

use sqlx_sessions::{Filter, GetOptions, NewSession, Status};
use sqlx_sessions_test_support::{TestDb, backend_tests};

fn logs() -> sqlx_sessions_test_support::Logs {
    sqlx_sessions_test_support::capture_logs("trace")
}

/// Asserts that no token (nor its first 24 characters) appears in `haystack`.
fn assert_clean(what: &str, haystack: &str, tokens: &[String]) {
    for t in tokens {
        assert!(
            !haystack.contains(t.as_str()),
            "a plaintext token in {what}"
        );
        assert!(
            !haystack.contains(&t[..24]),
            "part of a plaintext token in {what}"
        );
    }
}

async fn no_plaintext_token_anywhere(db: TestDb) {
    let logs = logs();
    let sessions = db.builder().build().unwrap();
    sessions.migrate().await.unwrap();
    let keys = db
        .builder()
        .table("api_keys")
        .token_prefix("lib_sk_")
        .store_token_hint()
        .track_last_used(time::Duration::ZERO)
        .secret_salt("pepper-pepper-pepper-pepper-pepper")
        .build()
        .unwrap();
    keys.migrate().await.unwrap();
    let mut tokens = Vec::new();
    let mut debug = Vec::new();
    for i in 0..5 {
        let c = sessions
            .create(NewSession::new().extra("user_id", format!("u{i}")))
            .await
            .unwrap();
        let k = keys
            .create(NewSession::new().extra("user_id", format!("u{i}")))
            .await
            .unwrap();
        debug.push(format!("{c:?} {k:?} {:?} {:?}", c.token, k.session));
        for (store, token) in [(&sessions, c.token.expose()), (&keys, k.token.expose())] {
            let by_token = Filter::new().token(token);
            debug.push(format!("{by_token:?}"));
            let s = store.lookup(token).await.unwrap().unwrap();
            debug.push(format!("{s:?} {}", serde_json::to_string(&s).unwrap()));
            let got = store
                .get_with(&by_token, GetOptions::extend(true))
                .await
                .unwrap();
            debug.push(format!("{got:?}"));
            debug.push(format!("{:?}", store.list(&by_token).await.unwrap()));
        }
        tokens.push(c.token.into_string());
        // The random part of a key, without the prefix the hint may show.
        tokens.push(k.token.expose()["lib_sk_".len()..].to_owned());
    }
    debug.push(format!("{sessions:?} {keys:?} {:?}", keys.settings()));
    sessions
        .expire_all(&Filter::new().eq("user_id", "u1"))
        .await
        .unwrap();
    sessions
        .delete_all(&Filter::new().token(&tokens[4]).status(Status::All))
        .await
        .unwrap();
    keys.delete_expired().await.unwrap();
    // Errors, too.
    let closed = db.builder().table("missing_table").build().unwrap();
    let e = closed.lookup(&tokens[0]).await.unwrap_err();
    debug.push(format!("{e:?} {e}"));

    assert_clean("Debug output", &debug.join("\n"), &tokens);
    assert_clean("the sessions table", &db.dump(&["sessions"]).await, &tokens);
    assert_clean("the api_keys table", &db.dump(&["api_keys"]).await, &tokens);
    let logged = logs.text();
    assert!(logged.contains("session created"), "the logs were captured");
    assert_clean("the logs", &logged, &tokens);
}

backend_tests!(no_plaintext_token_anywhere);
