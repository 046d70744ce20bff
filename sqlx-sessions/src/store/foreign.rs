//! Sessions kept under a token the caller chose (a tower-sessions id) rather than one the
//! store issued: created, read, saved and deleted by [`crate::tower_sessions`]. The token is
//! digested like the store's own, so the table never holds it.

use time::OffsetDateTime;

use super::{GetOptions, SessionStore};
use crate::error::{Error, Result};
use crate::extend::requested_expiry;
use crate::filter::{Filter, Status};
use crate::session::{NewSession, Session};
use crate::sql::{Param, StmtBuilder};
use crate::token::Token;
use crate::update::SessionUpdate;
use crate::value::Value;

/// What a save of a foreign session did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Saved {
    /// No valid session has the token (deleted, expired or revoked meanwhile): nothing was
    /// written, and nothing was brought back.
    Missing,
    /// The stored session already says what the save asked for, or a concurrent save moved
    /// its expiry first: no write.
    Unchanged,
    /// One `UPDATE` changed the row.
    Written,
}

/// The state a foreign session is saved to.
#[derive(Debug)]
pub(crate) struct ForeignState {
    /// The whole session data.
    pub(crate) data: serde_json::Value,
    /// An extra column copied from the data (such as the user id), with its value.
    pub(crate) owner: Option<(String, Value)>,
    /// The expiry the application asks for.
    pub(crate) expires_at: OffsetDateTime,
}

impl SessionStore {
    /// Creates a session under `token`; a token already in use gives [`Error::Conflict`].
    pub(crate) async fn create_foreign(&self, token: &str, state: ForeignState) -> Result<Session> {
        if !self.inner.format.accepts(token) {
            return Err(Error::InvalidToken(
                "a tower-sessions id needs a store of plain tokens (no prefix)",
            ));
        }
        let mut new = NewSession::new()
            .data(state.data)
            .expires_at(Some(state.expires_at));
        if let Some((column, value)) = state.owner {
            new = new.extra(column, value);
        }
        let created = self
            .create_under_on(None, new, Token::given(token.to_owned()))
            .await?;
        Ok(created.session)
    }

    /// The valid session kept under `token`, never extended (the application's saves move
    /// its expiry).
    pub(crate) async fn find_foreign(&self, token: &str) -> Result<Option<Session>> {
        self.lookup_with_on(None, token, GetOptions::extend(false))
            .await
    }

    /// Saves the valid session kept under `token` to `state`, in at most one `UPDATE`, and
    /// only when something changed: the data, the owner column, or an expiry due per
    /// [`requested_expiry`]. A session that is no longer valid is left alone (no upsert).
    pub(crate) async fn save_foreign(&self, token: &str, state: ForeignState) -> Result<Saved> {
        let Some(found) = self.find_foreign(token).await? else {
            return Ok(Saved::Missing);
        };
        let now = self.now();
        let s = &self.inner.settings;
        let expires_at = requested_expiry(
            s,
            found.expires_at,
            found.inserted_at,
            now,
            state.expires_at,
        );
        let data_changed = found.data.value() != state.data;
        let owner = state
            .owner
            .filter(|(column, value)| found.extra(column) != Some(value));
        if !data_changed && owner.is_none() {
            return match expires_at {
                None => Ok(Saved::Unchanged),
                Some(at) => self.move_expiry(&found, now, at).await,
            };
        }
        let mut change = SessionUpdate::new();
        if data_changed {
            change = change.replace_data(state.data);
        }
        if let Some((column, value)) = owner {
            change = change.extra(column, value);
        }
        let filter = Filter::new().id(found.id).status(Status::Valid);
        Ok(
            match self.update_where(None, &filter, change, expires_at).await? {
                Some(_) => Saved::Written,
                None => Saved::Missing,
            },
        )
    }

    /// Moves the expiry of `found` to `at`, a compare-and-set on the expiry it was read
    /// with: of concurrent saves that find it due, one writes; an expire or delete that
    /// came first makes it a no-op.
    async fn move_expiry(
        &self,
        found: &Session,
        now: OffsetDateTime,
        at: OffsetDateTime,
    ) -> Result<Saved> {
        let inner = &self.inner;
        let mut b = StmtBuilder::new(&format!("UPDATE {} SET ", inner.spec.qualified()));
        b.push("\"updated_at\" = ")
            .bind(Param::Time(Some(now)))
            .push(", \"expires_at\" = ")
            .bind(Param::Time(Some(at)));
        super::lookup::push_expiry_unchanged(&mut b, found, now);
        let result = inner.backend.execute(None, b.finish()).await;
        self.invalidate_after_write().await;
        Ok(match result? {
            0 => Saved::Unchanged,
            _ => Saved::Written,
        })
    }

    /// Deletes the session kept under `token`, whatever its status.
    pub(crate) async fn delete_foreign(&self, token: &str) -> Result<bool> {
        let filter = Filter::new().token(token).status(Status::All);
        Ok(!self.delete_all_on(None, &filter).await?.is_empty())
    }
}
