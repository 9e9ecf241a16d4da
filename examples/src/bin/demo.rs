//! The end-to-end demo (what `scripts/demo` runs): a throwaway MariaDB, a full and an
//! incremental backup with `xb`, prepare, restore, and `CHECKSUM TABLE` compared.
//!
//! `cargo run -p xb-examples --bin demo -- [PATH_TO_XB]` (default: `xb` beside this program).

use std::process::ExitCode;

fn main() -> ExitCode {
    let xb = std::env::args_os()
        .nth(1)
        .map(Into::into)
        .unwrap_or_else(|| {
            let me = std::env::current_exe().unwrap_or_default();
            me.with_file_name("xb")
        });
    match xb_examples::demo::run(&xb, &mut std::io::stdout()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("demo: {e}");
            ExitCode::from(2)
        }
    }
}
