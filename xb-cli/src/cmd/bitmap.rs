//! (being written)

/// `xb bitmap` subcommands.
#[derive(clap::Subcommand)]
pub enum BitmapCommand {}

/// Runs the command.
pub fn run(c: BitmapCommand) -> anyhow::Result<u8> {
    match c {}
}
