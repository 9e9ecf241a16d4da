//! Examples of embedding the xb crates live in `src/bin/`; run one with
//! `cargo run -p xb-examples --bin NAME -- ARGS`.
