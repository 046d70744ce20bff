//! Reads about the table rather than its sessions: whether it fits the store's spec, and
//! the stored digests of chosen sessions.

use std::collections::HashMap;

use uuid::Uuid;

use super::SessionStore;
use crate::digest::Hashing;
use crate::error::{Error, Result};
use crate::schema::DigestFormat;
use crate::sql::{Param, StmtBuilder};

/// Ids per statement when reading digests.
const CHUNK: usize = 500;

impl SessionStore {
    /// Checks that the table exists and has every column of the store's spec, each of a
    /// type that holds it. Run it before working on a table someone else created (a wrong
    /// table name, schema or extra column is then an error naming it, not a failing query).
    ///
    /// The error is [`Error::TableMismatch`], naming the missing or mismatched column
    /// (`column` is `None` when the table itself is missing).
    pub async fn check_table(&self) -> Result<()> {
        let spec = &self.inner.spec;
        let backend = &self.inner.backend;
        let found = backend.snapshot().await?.columns;
        let mismatch = |column: Option<&str>, reason: String| Error::TableMismatch {
            table: spec.display_name(),
            column: column.map(str::to_owned),
            reason,
        };
        if found.is_empty() {
            return Err(mismatch(None, "the table does not exist".into()));
        }
        for col in spec.columns() {
            let Some((_, actual)) = found.iter().find(|(name, _)| name == col.name) else {
                return Err(mismatch(
                    Some(col.name),
                    format!("no column `{}`", col.name),
                ));
            };
            if let Some(reason) = crate::evolve::type_mismatch(&**backend, &col, actual) {
                return Err(mismatch(Some(col.name), reason));
            }
        }
        Ok(())
    }

    /// The stored digests (lowercase hex, as [`SessionStore::digest_hex`] shows them) of the
    /// sessions `ids`, by id; ids without a row are absent. Refused under hashing `none`,
    /// where the stored "digest" is the token itself.
    pub async fn stored_digests(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, String>> {
        self.refuse_plaintext_digest()?;
        let spec = &self.inner.spec;
        let mut out = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(CHUNK) {
            let mut b = StmtBuilder::new(&format!(
                "SELECT \"id\", \"auth_token_digest\" FROM {} WHERE \"id\" IN (",
                spec.qualified()
            ));
            for (i, id) in chunk.iter().enumerate() {
                if i > 0 {
                    b.push(", ");
                }
                b.bind(Param::Uuid(*id));
            }
            b.push(")");
            for (id, digest) in self.inner.backend.fetch_digests(b.finish()).await? {
                let hex = match spec.digest_format {
                    DigestFormat::Binary => hex::encode(digest),
                    DigestFormat::Hex => String::from_utf8_lossy(&digest).to_ascii_lowercase(),
                };
                out.insert(id, hex);
            }
        }
        Ok(out)
    }

    /// Refuses to show a digest that would be the plaintext token (hashing `none`).
    pub(crate) fn refuse_plaintext_digest(&self) -> Result<()> {
        if self.inner.settings.hashing == Hashing::None {
            return Err(Error::Refused(
                "with hashing `none` the stored digest is the token itself; not shown",
            ));
        }
        Ok(())
    }
}
