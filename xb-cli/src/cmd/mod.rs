//! One module per subcommand: argument struct and `run`.

pub mod bitmap;
pub mod inspect;
pub mod verify;
