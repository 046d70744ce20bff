//! What an access token says, and the token itself.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The claims of an access token (RFC 7519), the same whether they come from a verified
/// token or, through the axum fallback, from a session looked up by its token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The session's owner (the issuer's subject column, `user_id` by default).
    pub sub: String,
    /// The session's id: never its token nor the token's digest.
    pub sid: Uuid,
    /// Issued at, Unix seconds.
    pub iat: i64,
    /// Expires at, Unix seconds: refused from this second on (past the leeway).
    pub exp: i64,
    /// Not before, Unix seconds, when the token has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// The token's unique id.
    pub jti: String,
    /// The issuer, when one is configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// The audience, when one is configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    /// The session's scopes (space-separated, as OAuth 2.0 writes them), taken from the
    /// session data key the issuer names; absent without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

impl Claims {
    /// Whether `scope` is one of the token's space-separated scopes.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scope
            .as_deref()
            .is_some_and(|s| s.split(' ').any(|x| x == scope))
    }
}

/// A signed access token and its claims. `Debug` redacts the token.
#[derive(Clone)]
pub struct AccessToken {
    pub(crate) token: String,
    pub(crate) claims: Claims,
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessToken")
            .field("token", &"<redacted>")
            .field("claims", &self.claims)
            .finish()
    }
}

impl AccessToken {
    /// The compact JWT. Give it to its holder; never log it.
    pub fn expose(&self) -> &str {
        &self.token
    }

    /// Its claims.
    pub fn claims(&self) -> &Claims {
        &self.claims
    }

    /// Seconds from its issue to its expiry: the `expires_in` of a token response.
    pub fn expires_in(&self) -> i64 {
        self.claims.exp - self.claims.iat
    }
}
