//! `xb man DIR` (hidden): writes the manual pages (`xb.1`, `xb-backup.1`, …) rendered from the
//! argument definitions, so that the pages a package installs always match the binary.

use std::path::PathBuf;

use anyhow::Context;

/// Arguments of `xb man`.
#[derive(clap::Args)]
pub struct Args {
    /// Directory to write the pages into (created if missing).
    pub dir: PathBuf,
}

/// Runs the command: one page for `xb` and one for each visible subcommand.
pub fn run(a: Args, cli: clap::Command) -> anyhow::Result<u8> {
    std::fs::create_dir_all(&a.dir).with_context(|| format!("{}", a.dir.display()))?;
    clap_mangen::generate_to(cli, &a.dir)
        .with_context(|| format!("writing manual pages into {}", a.dir.display()))?;
    Ok(crate::EXIT_OK)
}
