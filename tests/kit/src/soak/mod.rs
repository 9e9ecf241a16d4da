//! `xb-soak`: the randomized crash-and-restore campaign (`scripts/soak`). See the binary's
//! documentation and docs/testing.md.

pub mod backup;
pub mod campaign;
pub mod cmd;
pub mod error;
pub mod faults;
pub mod load;
pub mod plan;
pub mod restore;
pub mod rng;
pub mod tally;
