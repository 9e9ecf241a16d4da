//! One module per subcommand: argument struct and `run`.

pub mod backup;
pub mod backup_repo;
pub mod bitmap;
pub mod codec_args;
pub mod copy_back;
pub mod decompress;
pub mod extract;
pub mod inspect;
pub mod man;
pub mod prepare;
pub mod repo_args;
pub mod repo_cmds;
pub mod track;
pub mod verify;

/// Prints a library report as the pretty JSON of `--json`: its serialization, with the keys of
/// every object in alphabetical order (as `serde_json::Value` holds them).
pub fn print_json(report: &impl serde::Serialize) -> anyhow::Result<()> {
    let value = serde_json::to_value(report)?;
    println!("{}", serde_json::to_string_pretty(&value)?);
    Ok(())
}
