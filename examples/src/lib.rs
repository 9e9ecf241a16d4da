//! Examples of embedding the xb crates live in `src/bin/`; run one with
//! `cargo run -p xb-examples --bin NAME -- ARGS`.
//!
//! [`demo`] is the end-to-end story that `scripts/demo` runs: a throwaway MariaDB, a full and an
//! incremental backup with `xb`, prepare, restore, and a server on the restored datadir whose
//! `CHECKSUM TABLE` must match the source's.

pub mod demo;
