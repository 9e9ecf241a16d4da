//! `xb decompress DIR`: decode a compressed or encrypted backup directory in place.

use std::path::PathBuf;

use incremental_core::codec::{self, CodecOptions};
use incremental_core::progress::Cancel;

use crate::ui::{self, CliProgress};
use crate::EXIT_OK;

/// Arguments of `xb decompress`.
#[derive(clap::Args)]
#[command(
    after_help = "Each X.zst, X.lz4, X.age, X.zst.age or X.lz4.age becomes X: decoded \
under a temporary name (X.xbdecode), made durable, then renamed; the original is removed only \
then, with --remove-original. A damaged file, or one encrypted to another key, stops it with \
an error naming the file, and no X is left for it. Run again after an interruption: it \
finishes. Encrypted backups need the age identity file (--encrypt-key-file, or its text in \
XB_ENCRYPT_KEY). xb prepare and xb copy-back read such backups without this step.\n\n\
Examples:\n  xb decompress /backups/full\n  \
xb decompress --remove-original --parallel 4 --encrypt-key-file /root/backup-key.txt /backups/inc1"
)]
pub struct Args {
    /// The backup directory.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// Remove each encoded file once its decoded file is durable.
    #[arg(long)]
    pub remove_original: bool,
    /// Files decoded at once (default 2).
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub parallel: usize,
    /// Print the report as JSON on standard output.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub keys: super::codec_args::AgeKeyArgs,
}

/// Runs `xb decompress`.
pub fn run(a: Args) -> anyhow::Result<u8> {
    let stored = super::codec_args::stored_files(&a.dir)?;
    let mut o = CodecOptions::default();
    o.set_keys(a.keys.keys_for(&stored)?)
        .set_remove_original(a.remove_original)
        .set_threads(a.parallel);
    let progress = CliProgress::new("decompress");
    let r = codec::decode_dir(&a.dir, &o, &progress, &Cancel::new())?;
    progress.finish();
    if a.json {
        println!(
            "{}",
            serde_json::json!({
                "dir": r.dir, "files": r.files, "encoded_bytes": r.encoded_bytes,
                "plain_bytes": r.plain_bytes, "removed": r.removed,
            })
        );
        return Ok(EXIT_OK);
    }
    ui::summary(format!(
        "{}: decoded {} file(s), {} bytes into {} bytes{}",
        a.dir.display(),
        r.files,
        r.encoded_bytes,
        r.plain_bytes,
        if r.removed > 0 {
            format!(", {} original(s) removed", r.removed)
        } else {
            String::new()
        }
    ));
    Ok(EXIT_OK)
}
