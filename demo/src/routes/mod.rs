//! The handlers, one file per part of the app.

pub mod account;
pub mod api;
pub mod devices;
pub mod key_api;
pub mod key_life;
pub mod keys;
pub mod pages;
pub mod tokens;
