//! `xb-public-api`: the public-API listing of a crate, and structural figures for
//! `scripts/shape-stats`.
//!
//! ```text
//! xb-public-api CRATE_DIR              the listing (as in CRATE_DIR/public-api.txt)
//! xb-public-api CRATE_DIR --stats      counts: public items, fields, #[non_exhaustive], ...
//! xb-public-api --loc DIR...           lines of code of each DIR's .rs files
//! xb-public-api --longest N DIR...     the N longest functions under the DIRs
//! cargo metadata --format-version 1 | xb-public-api --msrv-deps MSRV
//!                                      dependencies of the published crates above the MSRV
//! ```

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use xb_public_api::measure::{loc_of_file, longest_fns, rust_files, Loc};

const USAGE: &str = "usage: xb-public-api CRATE_DIR [--stats] | --loc DIR... | --longest N DIR... \
                     | --msrv-deps MSRV (cargo metadata on stdin)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xb-public-api: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result<(), Box<dyn std::error::Error>> {
    match args {
        [flag, dirs @ ..] if flag == "--loc" && !dirs.is_empty() => {
            for d in dirs {
                let mut total = Loc::default();
                for f in rust_files(d.as_ref()) {
                    total += loc_of_file(&f)?;
                }
                println!("{}\t{}\t{d}", total.code, total.test);
            }
        }
        [flag, n, dirs @ ..] if flag == "--longest" && !dirs.is_empty() => {
            let n: usize = n.parse()?;
            let dirs: Vec<PathBuf> = dirs.iter().map(PathBuf::from).collect();
            for f in longest_fns(&dirs)?.into_iter().take(n) {
                println!("{}\t{}:{}\t{}", f.lines, f.file.display(), f.line, f.name);
            }
        }
        [flag, msrv] if flag == "--msrv-deps" => {
            let mut json = String::new();
            std::io::stdin().read_to_string(&mut json)?;
            let r = xb_public_api::msrv::check(&json, msrv)?;
            let roots: Vec<&str> = r.roots.iter().map(|(n, _)| n.as_str()).collect();
            println!(
                "published crates: {}; {} dependencies built for them, highest rust-version: {}",
                roots.join(", "),
                r.deps,
                r.highest
                    .map(|(v, p)| format!("{v} ({p})"))
                    .unwrap_or_else(|| "none declared".into())
            );
            if !r.problems.is_empty() {
                return Err(format!("MSRV {msrv}:\n  {}", r.problems.join("\n  ")).into());
            }
        }
        [dir] => print!("{}", xb_public_api::listing(dir.as_ref())?),
        [dir, flag] if flag == "--stats" => {
            let items = xb_public_api::list_crate(dir.as_ref())?;
            println!("{}", xb_public_api::stats(&items));
        }
        _ => return Err(USAGE.into()),
    }
    Ok(())
}
