//! The tower-sessions traits for [`TowerStore`], once per supported version of
//! `tower-sessions-core`: the same body, written once in a macro, over each version's types.

use super::{CREATE_ATTEMPTS, TowerStore};
use crate::error::{Error, error_chain};

/// Implements `SessionStore` and `ExpiredDeletion` of the `tower-sessions-core` crate `$core`.
macro_rules! tower_store {
    ($core:ident) => {
        mod $core {
            use ::$core::session::{Id, Record};
            use ::$core::session_store::{self, ExpiredDeletion, SessionStore};

            use super::{CREATE_ATTEMPTS, TowerStore};

            fn data(record: &Record) -> serde_json::Value {
                serde_json::Value::Object(record.data.clone().into_iter().collect())
            }

            #[async_trait::async_trait]
            impl SessionStore for TowerStore {
                async fn create(&self, record: &mut Record) -> session_store::Result<()> {
                    let data = data(record);
                    let mut attempts = 0;
                    loop {
                        let id = record.id.to_string();
                        match self
                            .create_parts(&id, data.clone(), record.expiry_date)
                            .await
                        {
                            Err(crate::Error::Conflict(_)) if attempts + 1 < CREATE_ATTEMPTS => {
                                // The id is taken: draw another, as the trait asks.
                                attempts += 1;
                                record.id = Id::default();
                            }
                            result => return result.map_err(to_tower),
                        }
                    }
                }

                async fn save(&self, record: &Record) -> session_store::Result<()> {
                    self.save_parts(&record.id.to_string(), data(record), record.expiry_date)
                        .await
                        .map(drop)
                        .map_err(to_tower)
                }

                async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
                    let found = self.load_parts(&id.to_string()).await.map_err(to_tower)?;
                    Ok(found.map(|(data, expiry_date)| Record {
                        id: *id,
                        data: data.into_iter().collect(),
                        expiry_date,
                    }))
                }

                async fn delete(&self, id: &Id) -> session_store::Result<()> {
                    self.delete_parts(&id.to_string()).await.map_err(to_tower)
                }
            }

            #[async_trait::async_trait]
            impl ExpiredDeletion for TowerStore {
                async fn delete_expired(&self) -> session_store::Result<()> {
                    self.store
                        .delete_expired()
                        .await
                        .map(drop)
                        .map_err(to_tower)
                }
            }

            fn to_tower(err: crate::Error) -> session_store::Error {
                super::to_tower(
                    err,
                    session_store::Error::Encode,
                    session_store::Error::Backend,
                )
            }
        }
    };
}

/// The tower-sessions error for `err`: JSON trouble as `Encode`, anything else as `Backend`,
/// each with the whole error chain (the trait's errors are text).
fn to_tower<E>(err: Error, encode: fn(String) -> E, backend: fn(String) -> E) -> E {
    match err {
        Error::Json(_) => encode(error_chain(&err)),
        _ => backend(error_chain(&err)),
    }
}

#[cfg(feature = "tower-sessions-014")]
tower_store!(tower_sessions_core_014);
#[cfg(feature = "tower-sessions-015")]
tower_store!(tower_sessions_core_015);
