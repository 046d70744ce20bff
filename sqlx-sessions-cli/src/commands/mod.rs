//! The subcommands, one module each, and what they share.

pub(crate) mod change;
pub(crate) mod count;
pub(crate) mod create;
pub(crate) mod expire;
pub(crate) mod get;
pub(crate) mod keys;
pub(crate) mod list;
pub(crate) mod migrate;
pub(crate) mod prune;
pub(crate) mod revoke;
pub(crate) mod stats;

use std::collections::HashMap;

use clap::Args;
use sqlx_sessions::{Filter, Hashing, Pool, SessionStore};
use uuid::Uuid;

use crate::args::{ColumnValue, StatusArg, parse_column_value};
use crate::connect;
use crate::error::{CliError, Outcome};

/// What every subcommand works with.
#[derive(Debug)]
pub(crate) struct Context {
    /// The database pool, closed after the command.
    pub(crate) db: Pool,
    /// The store on the table the global options describe.
    pub(crate) store: SessionStore,
}

/// Which sessions `list` and `count` look at.
#[derive(Debug, Args)]
pub(crate) struct FilterArgs {
    /// Only the sessions of this user (see --extra-column for which column that is).
    #[arg(long, value_name = "ID")]
    pub(crate) user: Option<String>,

    /// Only sessions whose extra column NAME equals VALUE. Repeatable.
    #[arg(long = "where", value_name = "NAME=VALUE", value_parser = parse_column_value)]
    pub(crate) conditions: Vec<ColumnValue>,

    /// Which sessions by expiry.
    #[arg(long, value_enum, default_value_t = StatusArg::Valid)]
    pub(crate) status: StatusArg,
}

impl FilterArgs {
    /// The store filter these options describe.
    pub(crate) fn filter(&self, store: &SessionStore) -> Result<Filter, CliError> {
        let filter = user_filter(store, Filter::new(), self.user.as_deref(), &self.conditions)?;
        Ok(filter.status(self.status.into()))
    }
}

/// Which sessions `expire` and `revoke` act on: ids, or a user's (or any column's).
#[derive(Debug, Args)]
pub(crate) struct TargetArgs {
    /// The sessions: ids, a user or column conditions.
    #[command(flatten)]
    pub(crate) which: Which,

    /// Keep this session (for "sign out every other device"). Needs --user or --where.
    #[arg(long, value_name = "ID", conflicts_with = "ids")]
    pub(crate) except: Option<Uuid>,
}

/// The required part of [`TargetArgs`]: at least one of its options.
#[derive(Debug, Args)]
#[group(id = "target", required = true, multiple = true)]
pub(crate) struct Which {
    /// The ids of the sessions.
    #[arg(value_name = "ID", conflicts_with_all = ["user", "conditions"])]
    pub(crate) ids: Vec<Uuid>,

    /// Every session of this user.
    #[arg(long, value_name = "ID")]
    pub(crate) user: Option<String>,

    /// Every session whose extra column NAME equals VALUE. Repeatable.
    #[arg(long = "where", value_name = "NAME=VALUE", value_parser = parse_column_value)]
    pub(crate) conditions: Vec<ColumnValue>,
}

impl TargetArgs {
    /// The filter of a `--user`/`--where` target; `None` when the target is a list of ids.
    pub(crate) fn filter(&self, store: &SessionStore) -> Result<Option<Filter>, CliError> {
        let w = &self.which;
        if !w.ids.is_empty() {
            return Ok(None);
        }
        let mut filter = user_filter(store, Filter::new(), w.user.as_deref(), &w.conditions)?;
        if let Some(id) = self.except {
            filter = filter.except_id(id);
        }
        Ok(Some(filter))
    }
}

/// Adds `--user` and `--where` conditions to `filter`.
fn user_filter(
    store: &SessionStore,
    mut filter: Filter,
    user: Option<&str>,
    conditions: &[ColumnValue],
) -> Result<Filter, CliError> {
    if let Some(user) = user {
        filter = filter.eq(connect::user_column(store)?, user);
    }
    for c in conditions {
        filter = filter.eq(c.name.clone(), c.value.clone());
    }
    Ok(filter)
}

/// What `--show-digest` shows: the stored token digests (hex) of the sessions a command
/// prints, or nothing without the flag.
pub(crate) struct ShowDigests<'s>(Option<&'s SessionStore>);

impl<'s> ShowDigests<'s> {
    /// Refuses the flag, before anything is read, where the "digest" is the token itself
    /// (hashing `none`).
    pub(crate) fn new(store: &'s SessionStore, show: bool) -> Result<Self, CliError> {
        if show && store.settings().hashing == Hashing::None {
            return Err(CliError::usage(
                "--show-digest with hashing `none` would print plaintext tokens; refused",
            ));
        }
        Ok(ShowDigests(show.then_some(store)))
    }

    /// The digests of the sessions `ids`, with the flag.
    pub(crate) async fn of(
        &self,
        ids: impl IntoIterator<Item = Uuid>,
    ) -> Result<Option<HashMap<Uuid, String>>, CliError> {
        let Some(store) = self.0 else {
            return Ok(None);
        };
        let ids: Vec<Uuid> = ids.into_iter().collect();
        Ok(Some(store.stored_digests(&ids).await?))
    }
}

/// `Done` when something was affected, `NothingFound` otherwise.
pub(crate) fn affected(n: u64) -> Outcome {
    if n == 0 {
        Outcome::NothingFound
    } else {
        Outcome::Done
    }
}
