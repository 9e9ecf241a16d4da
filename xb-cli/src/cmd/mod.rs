//! One module per subcommand: argument struct and `run`.

pub mod backup;
pub mod bitmap;
pub mod inspect;
pub mod prepare;
pub mod verify;
