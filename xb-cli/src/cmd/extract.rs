//! `xb extract [--target-dir DIR] [STREAM]`: the files of an xbstream (`mbstream -x`'s job).

use std::fs::File;
use std::io::{self, IsTerminal, Read};
use std::path::PathBuf;

use anyhow::Context;
use incremental_core::backup::sink::{DirSink, Sink};
use incremental_core::codec::DecodingSink;
use incremental_core::progress::Cancel;
use incremental_core::xbstream::{extract, ExtractOptions, ExtractReport};

use crate::ui::{self, CliProgress};
use crate::EXIT_OK;

/// Arguments of `xb extract`.
#[derive(clap::Args)]
#[command(
    after_help = "Reads an xbstream (from xb backup --stream=xbstream or mariabackup \
--stream=xbstream) and writes its files into the target directory, which must be new or empty. \
Each file is written under a temporary name (NAME.xbtmp) and gets its name only when the \
stream has given all of it, so no file under its final name is incomplete. Refused, with the \
byte offset in the stream and the file: a path that would leave the target (absolute, a .. \
component, a leading dot, or a MariaDB rename/remove chunk naming such a path), a bad \
checksum, a chunk out of order or after its file's end, an unknown chunk type, a truncated \
stream (including files without their end), and Percona XtraBackup's sparse chunks (not \
read). After a refusal the complete files stay, and the interrupted file's NAME.xbtmp.\n\n\
Exit status: 0 extracted; 2 refused or failed.\n\nExamples:\n  \
xb extract --target-dir /restore/full full.xbstream\n  \
xb extract --decode --encrypt-key-file /etc/xb/age.key -C /restore/full full.xbstream\n  \
ssh db1 xb backup --datadir /var/lib/mysql --stream=xbstream | xb extract --target-dir \
/backups/full --parallel 4"
)]
pub struct Args {
    /// The stream: a file, or `-` (the default) for standard input.
    #[arg(value_name = "STREAM")]
    pub stream: Option<PathBuf>,
    /// Where to write the files (created with mode 0700; must not exist or be empty; default:
    /// the current directory).
    #[arg(long, short = 'C', value_name = "DIR", default_value = ".")]
    pub target_dir: PathBuf,
    /// Threads writing files while the stream is read (each file by one of them).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub parallel: usize,
    /// Do not fsync the files written (faster; for tests and throwaway copies).
    #[arg(long)]
    pub no_sync: bool,
    /// Print the report as JSON on standard output.
    #[arg(long)]
    pub json: bool,
    /// Decode the compressed and encrypted files of the stream (X.zst, X.lz4, X.age, as xb
    /// backup --compress/--encrypt writes them) as they arrive, writing X; without it the
    /// files are written as the stream has them, as mbstream -x does (xb prepare and
    /// copy-back read them anyway).
    #[arg(long)]
    pub decode: bool,
    #[command(flatten)]
    pub keys: super::codec_args::AgeKeyArgs,
}

/// The stream to read.
fn input(a: &Args) -> anyhow::Result<Box<dyn Read>> {
    match &a.stream {
        Some(p) if p.as_os_str() != "-" => {
            let f = File::open(p).with_context(|| format!("{}: cannot open", p.display()))?;
            Ok(Box::new(f))
        }
        _ => {
            if io::stdin().is_terminal() {
                anyhow::bail!(
                    "xb extract reads the stream from standard input, which is a terminal: give \
                     a file, or pipe the stream in"
                );
            }
            Ok(Box::new(io::stdin().lock()))
        }
    }
}

/// The destination of the files: the target directory, with `--decode` through the decoder
/// of compressed and encrypted files.
fn sink(a: &Args) -> anyhow::Result<Box<dyn Sink>> {
    let keys = match a.decode {
        true => a.keys.keys()?,
        false => None,
    };
    let dir = DirSink::new(&a.target_dir)
        .map_err(|e| anyhow::anyhow!("{e}; give a new or empty directory"))?
        .sync(!a.no_sync);
    Ok(match a.decode {
        true => Box::new(DecodingSink::new(dir, keys)),
        false => Box::new(dir),
    })
}

/// Runs `xb extract`.
pub fn run(a: Args) -> anyhow::Result<u8> {
    let input = input(&a)?;
    let mut sink = sink(&a)?;
    let mut options = ExtractOptions::default();
    options.set_parallel(a.parallel);
    let progress = CliProgress::new("extract");
    let report = extract(input, &mut *sink, &options, &progress, &Cancel::new())?;
    sink.finish()
        .with_context(|| format!("{}: syncing", a.target_dir.display()))?;
    progress.finish();
    print_report(&a, &report)
}

fn print_report(a: &Args, r: &ExtractReport) -> anyhow::Result<u8> {
    ui::note(format!(
        "extracted {} files ({} bytes of data, {} chunks, {} bytes of stream) into {}",
        r.files,
        r.bytes,
        r.chunks,
        r.stream_bytes,
        a.target_dir.display()
    ));
    if a.json {
        super::print_json(r)?;
    }
    Ok(EXIT_OK)
}
