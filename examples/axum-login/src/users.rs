//! The users and the axum-login backend that signs them in.

use std::collections::HashMap;
use std::sync::Arc;

use axum_login::{AuthUser, AuthnBackend, UserId};
use serde::Deserialize;

/// A user of the example.
#[derive(Clone)]
pub struct User {
    /// The id, kept by axum-login in the session and copied into the `user_id` column.
    pub id: i64,
    /// The sign-in name.
    pub username: String,
    /// The argon2 hash of the password (PHC string).
    password_hash: String,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("password_hash", &"[redacted]")
            .finish()
    }
}

impl AuthUser for User {
    type Id = i64;

    fn id(&self) -> i64 {
        self.id
    }

    /// A password change signs the user out of every session signed in before it.
    fn session_auth_hash(&self) -> &[u8] {
        self.password_hash.as_bytes()
    }
}

/// What the sign-in form posts.
#[derive(Clone, Deserialize)]
pub struct Credentials {
    /// The sign-in name.
    pub username: String,
    /// The password.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// The users, by id (kept in memory: the example is about sessions).
#[derive(Clone, Debug)]
pub struct Users {
    by_id: Arc<HashMap<i64, User>>,
}

/// The backend never fails: its users are in memory.
#[derive(Debug, thiserror::Error)]
#[error("unreachable")]
pub enum Never {}

impl Users {
    /// Users from `(username, password)` pairs, with ids from 1, passwords hashed with argon2.
    pub fn new(accounts: &[(&str, &str)]) -> Self {
        let by_id = accounts
            .iter()
            .zip(1..)
            .map(|((username, password), id)| {
                let user = User {
                    id,
                    username: (*username).to_owned(),
                    password_hash: password_auth::generate_hash(password),
                };
                (id, user)
            })
            .collect();
        Users {
            by_id: Arc::new(by_id),
        }
    }

    /// The demo accounts printed at start: `alice` / `wonderland` and `bob` / `builder`.
    pub fn demo() -> Self {
        Users::new(&[("alice", "wonderland"), ("bob", "builder")])
    }
}

impl AuthnBackend for Users {
    type User = User;
    type Credentials = Credentials;
    type Error = Never;

    async fn authenticate(&self, creds: Credentials) -> Result<Option<User>, Never> {
        let user = self.by_id.values().find(|u| u.username == creds.username);
        Ok(user
            .filter(|u| password_auth::verify_password(&creds.password, &u.password_hash).is_ok())
            .cloned())
    }

    async fn get_user(&self, id: &UserId<Self>) -> Result<Option<User>, Never> {
        Ok(self.by_id.get(id).cloned())
    }
}
