//! The environment variables the tool reads: the library's `SQLX_SESSIONS_*` names, and
//! the tool's earlier `SESSIONS_*` names, still read with a warning so no deployment breaks.

use std::ffi::OsString;

use clap::Command;

/// The variable holding the secret salt (never a flag: shell history).
pub(crate) const SALT: &str = "SQLX_SESSIONS_SECRET_SALT";

/// The name an earlier version read instead of `name`.
fn legacy(name: &str) -> &str {
    name.strip_prefix("SQLX_").unwrap_or(name)
}

/// Whether `name` is set (to anything, even empty: clap reads it then).
fn is_set(name: &str) -> bool {
    std::env::var_os(name).is_some()
}

/// Warns about a legacy variable in use and says whether it still counts (it does not
/// when the new name is set too).
fn warn_legacy(name: &str) -> bool {
    let old = legacy(name);
    if !is_set(old) {
        return false;
    }
    if is_set(name) {
        eprintln!("warning: {old} is ignored: {name} is set and takes precedence");
        false
    } else {
        eprintln!("warning: {old} is deprecated: set {name} instead");
        true
    }
}

/// Points each option whose variable is only set under its legacy name at that name.
pub(crate) fn read_legacy(mut command: Command) -> Command {
    let renamed: Vec<(String, String)> = command
        .get_arguments()
        .filter_map(|arg| {
            let name = arg.get_env()?.to_str()?;
            let legacy = legacy(name);
            (legacy != name && warn_legacy(name))
                .then(|| (arg.get_id().to_string(), legacy.to_owned()))
        })
        .collect();
    for (id, legacy) in renamed {
        command = command.mut_arg(id, |arg| arg.env(legacy));
    }
    command
}

/// The variable `command` reads for the option `id`.
pub(crate) fn of_option<'a>(command: &'a Command, id: &str) -> Option<&'a str> {
    command
        .get_arguments()
        .find(|arg| arg.get_id() == id)
        .and_then(|arg| arg.get_env()?.to_str())
}

/// The secret salt and the variable it came from, when one is set and not empty.
pub(crate) fn secret_salt() -> Option<(&'static str, OsString)> {
    let name = if warn_legacy(SALT) {
        legacy(SALT)
    } else {
        SALT
    };
    std::env::var_os(name)
        .filter(|s| !s.is_empty())
        .map(|s| (name, s))
}
