//! The `Host` allow-list: the app answers only to the names it is served under (loopback
//! names, the bound address, and `--allowed-host`), so a web page whose name a DNS rebinding
//! points at 127.0.0.1 cannot talk to it.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::HOST;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::AppError;
use crate::state::AppState;

/// The names (without port, lowercase) that requests may carry in `Host`.
#[derive(Clone, Debug)]
pub struct AllowedHosts(Arc<[String]>);

impl AllowedHosts {
    /// `localhost`, `127.0.0.1` and `::1`.
    pub fn loopback() -> AllowedHosts {
        AllowedHosts(["localhost", "127.0.0.1", "::1"].map(str::to_owned).into())
    }

    /// These names and `names`.
    pub fn with(&self, names: impl IntoIterator<Item = String>) -> AllowedHosts {
        let mut all = self.0.to_vec();
        for name in names {
            let name = name.trim().trim_matches(['[', ']']).to_ascii_lowercase();
            if !name.is_empty() && !all.contains(&name) {
                all.push(name);
            }
        }
        AllowedHosts(all.into())
    }

    /// Whether a `Host` header value names an allowed host (any port).
    pub fn allows(&self, host: &str) -> bool {
        let name = match host.strip_prefix('[') {
            // `[::1]:4000`
            Some(rest) => rest.split_once(']').map(|(name, _)| name),
            None => Some(host.rsplit_once(':').map_or(host, |(name, _)| name)),
        };
        name.is_some_and(|name| self.0.iter().any(|n| n.eq_ignore_ascii_case(name)))
    }
}

/// The middleware: a request without an allowed `Host` gets 421 and nothing else.
pub async fn check(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let host = req
        .headers()
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().host());
    if host.is_some_and(|h| state.hosts.allows(h)) {
        next.run(req).await
    } else {
        tracing::info!(host = ?host, "request refused: Host not allowed");
        AppError::MisdirectedHost.into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::AllowedHosts;

    #[test]
    fn loopback_names_with_any_port() {
        let hosts = AllowedHosts::loopback().with(["Demo.Example".to_owned()]);
        for ok in [
            "localhost",
            "localhost:4000",
            "127.0.0.1:4000",
            "[::1]:4000",
            "LOCALHOST",
            "demo.example:80",
        ] {
            assert!(hosts.allows(ok), "{ok}");
        }
        for refused in [
            "evil.example",
            "evil.example:4000",
            "localhost.evil.example",
            "127.0.0.2",
            "[::2]:4000",
            "",
        ] {
            assert!(!hosts.allows(refused), "{refused}");
        }
    }
}
