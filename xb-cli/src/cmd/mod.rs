//! One module per subcommand: argument struct and `run`.

pub mod backup;
pub mod bitmap;
pub mod copy_back;
pub mod inspect;
pub mod prepare;
pub mod track;
pub mod verify;
