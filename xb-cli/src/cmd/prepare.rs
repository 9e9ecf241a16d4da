//! (being written)

/// Arguments.
#[derive(clap::Args)]
pub struct Args {}

/// Runs the command.
pub fn run(_a: Args) -> anyhow::Result<u8> {
    anyhow::bail!("not yet written")
}
