//! Commands that run once and exit (as opposed to the controller): `validate`.

pub mod secrets_dir;
pub mod validate;

mod output;
