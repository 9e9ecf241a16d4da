//! The options of compression and encryption (`xb backup --compress … --encrypt …`) and of
//! the keys that read encrypted backups (`--encrypt-key-file`, or `XB_ENCRYPT_KEY`), shared
//! by the commands that write or read backups.

use std::io;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use incremental_core::backup::sink::{FileMeta, Sink, SinkFile};
use incremental_core::codec::{self, CodecOptions, CodecSink, Compression, KeyFile, KEY_ENV};
use incremental_core::prepare::{self, PrepareOptions};

/// The key options: where the age keys are. Never a key on the command line (other users see
/// it in the process list): a file, or the environment variable.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct AgeKeyArgs {
    /// The age key file: recipients (age1…, public keys: enough to encrypt) and/or identities
    /// (AGE-SECRET-KEY-1…, as age-keygen writes them: needed to decrypt). Without it, the
    /// key text is taken from the environment variable XB_ENCRYPT_KEY, if set.
    #[arg(long, value_name = "FILE", help_heading = "Compression and encryption")]
    pub encrypt_key_file: Option<PathBuf>,
}

impl AgeKeyArgs {
    /// The keys given, if any: the file, else the environment variable.
    pub fn keys(&self) -> anyhow::Result<Option<KeyFile>> {
        if let Some(f) = &self.encrypt_key_file {
            return Ok(Some(KeyFile::read(f)?));
        }
        match std::env::var(KEY_ENV) {
            Ok(text) if !text.trim().is_empty() => Ok(Some(KeyFile::parse(&text, KEY_ENV)?)),
            _ => Ok(None),
        }
    }

    /// The keys given, which must hold an identity, when `dir` holds encrypted files.
    pub fn keys_for(&self, files: &[PathBuf]) -> anyhow::Result<Option<KeyFile>> {
        let keys = self.keys()?;
        let encrypted = files
            .iter()
            .any(|f| codec::names::decoded_name(f).is_some_and(|(_, l)| l.encrypted()));
        if encrypted && !keys.as_ref().is_some_and(|k| k.can_decrypt()) {
            bail!(
                "the backup is encrypted: give the age identity file with --encrypt-key-file \
                 (or its text in {KEY_ENV})"
            );
        }
        Ok(keys)
    }
}

/// `xb backup`'s options of compression and encryption.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct EncodeArgs {
    /// Store each file compressed, as Percona XtraBackup 8.0 does: zstd (the default) as
    /// X.zst, or lz4 as X.lz4 (zstd -d and lz4 -d decode them). mariabackup's quicklz is
    /// not offered.
    #[arg(
        long,
        value_name = "ALGORITHM",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "zstd",
        help_heading = "Compression and encryption"
    )]
    pub compress: Option<String>,
    /// The zstd level (default 1: fast enough not to slow the backup).
    #[arg(
        long,
        value_name = "N",
        requires = "compress",
        help_heading = "Compression and encryption",
        allow_negative_numbers = true
    )]
    pub compress_level: Option<i32>,
    /// Threads that compress while the backup reads (default 2).
    #[arg(long, value_name = "N", requires = "compress", help_heading = "Compression and encryption",
          value_parser = clap::value_parser!(u32).range(1..=64))]
    pub compress_threads: Option<u32>,
    /// Encrypt each file (after compressing it) with age to the recipients of
    /// --encrypt-key-file (or XB_ENCRYPT_KEY): X.age, X.zst.age. age -d -i KEYFILE decrypts it.
    #[arg(long, help_heading = "Compression and encryption")]
    pub encrypt: bool,
    #[command(flatten)]
    pub keys: AgeKeyArgs,
}

impl EncodeArgs {
    /// The codec options these arguments ask for.
    pub fn options(&self) -> anyhow::Result<CodecOptions> {
        let mut o = CodecOptions::default();
        if let Some(c) = &self.compress {
            o.set_compression(Some(compression(c)?));
        }
        if let Some(l) = self.compress_level {
            o.set_level(l);
        }
        if let Some(t) = self.compress_threads {
            o.set_threads(t as usize);
        }
        if self.encrypt {
            let Some(keys) = self.keys.keys()? else {
                bail!(
                    "--encrypt needs the age recipients: --encrypt-key-file FILE (age-keygen \
                     -o FILE makes one; its public key alone is enough to encrypt), or the key \
                     text in {KEY_ENV}"
                );
            };
            o.set_keys(Some(keys));
        } else if self.keys.encrypt_key_file.is_some() {
            bail!("--encrypt-key-file without --encrypt: add --encrypt to encrypt the backup");
        }
        Ok(o)
    }
}

fn compression(name: &str) -> anyhow::Result<Compression> {
    match name {
        "zstd" => Ok(Compression::Zstd),
        "lz4" => Ok(Compression::Lz4),
        "quicklz" | "qpress" => bail!(
            "--compress={name}: mariabackup's QuickLZ compression is deprecated and not \
             offered; use --compress (zstd) or --compress=lz4"
        ),
        other => bail!("--compress={other}: not a compression xb knows (zstd, lz4)"),
    }
}

/// `sink` storing its files encoded as `options` say (as it is when they encode nothing).
pub fn encoding(sink: Box<dyn Sink>, options: &CodecOptions) -> anyhow::Result<Box<dyn Sink>> {
    if !options.encodes() {
        return Ok(sink);
    }
    Ok(Box::new(
        CodecSink::new(BoxSink(sink), options).context("starting the compression")?,
    ))
}

/// A boxed sink as a sink.
struct BoxSink(Box<dyn Sink>);

impl Sink for BoxSink {
    fn create(&mut self, file: &FileMeta<'_>) -> io::Result<Box<dyn SinkFile>> {
        self.0.create(file)
    }

    fn finish(&mut self) -> io::Result<()> {
        self.0.finish()
    }

    fn replaces_files(&self) -> bool {
        self.0.replaces_files()
    }

    fn rename(&mut self, from: &Path, to: &Path) -> io::Result<()> {
        self.0.rename(from, to)
    }

    fn remove(&mut self, path: &Path) -> io::Result<()> {
        self.0.remove(path)
    }
}

/// The stored files of the directory `dir` (relative names), to see whether it is encoded.
pub fn stored_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    use incremental_core::source::{BackupSource, DirSource};
    Ok(DirSource::new(dir)
        .files()?
        .into_iter()
        .map(|f| f.path)
        .collect())
}

/// Decodes each compressed or encrypted directory of `dirs` in place, with the keys of
/// `options` (the library's first step of a prepare, `prepare::decode_encoded_dir`). A dry run
/// refuses encoded directories instead: it changes nothing.
pub fn decode_in_place<'a>(
    dirs: impl IntoIterator<Item = &'a PathBuf>,
    keys: &AgeKeyArgs,
    options: &PrepareOptions,
    dry_run: bool,
) -> anyhow::Result<()> {
    for dir in dirs {
        let stored = stored_files(dir)?;
        if !codec::names::any_encoded(stored.iter().map(|p| p.as_path())) {
            continue;
        }
        if dry_run {
            bail!(
                "{}: compressed or encrypted; --dry-run changes nothing: decode it first with \
                 xb decompress",
                dir.display()
            );
        }
        keys.keys_for(&stored)?;
        let progress = crate::ui::CliProgress::new("decompress");
        let cancel = incremental_core::progress::Cancel::new();
        let r = prepare::decode_encoded_dir(dir, options, &progress, &cancel)?;
        progress.finish();
        if let Some(r) = r {
            crate::ui::note(format!(
                "{}: decoded {} file(s) in place ({} MiB)",
                dir.display(),
                r.files,
                r.plain_bytes >> 20
            ));
        }
    }
    Ok(())
}

/// A backup chain as `xb verify` reads it: the directories themselves, or decoded copies of
/// the encoded ones (removed when this is dropped).
pub struct DecodedChain {
    _copies: Vec<TempCopy>,
    /// The full backup (or its decoded copy).
    pub target: PathBuf,
    /// The incrementals (or their decoded copies).
    pub incs: Vec<PathBuf>,
}

/// Decodes each encoded backup of the chain into a temporary directory beside it.
pub fn decoded_chain(
    target: &Path,
    incs: &[PathBuf],
    keys: &AgeKeyArgs,
) -> anyhow::Result<DecodedChain> {
    let mut copies = Vec::new();
    let mut out = Vec::new();
    for dir in std::iter::once(&target.to_path_buf()).chain(incs) {
        let stored = stored_files(dir)?;
        if !codec::names::any_encoded(stored.iter().map(|p| p.as_path())) {
            out.push(dir.clone());
            continue;
        }
        let parent = std::path::absolute(dir)?
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        let tmp = TempCopy::new(&parent, copies.len())?;
        let mut o = CodecOptions::default();
        o.set_keys(keys.keys_for(&stored)?);
        let progress = crate::ui::CliProgress::new("decode");
        let copy = tmp.0.join("backup");
        codec::decode_into(
            dir,
            &copy,
            &o,
            &progress,
            &incremental_core::progress::Cancel::new(),
        )?;
        progress.finish();
        crate::ui::note(format!(
            "{}: compressed or encrypted: every file decoded (checksums and authentication \
             checked) into {}, which is checked",
            dir.display(),
            copy.display()
        ));
        out.push(copy);
        copies.push(tmp);
    }
    let target = out.remove(0);
    Ok(DecodedChain {
        _copies: copies,
        target,
        incs: out,
    })
}

/// A private directory removed (with what it holds) when dropped.
struct TempCopy(PathBuf);

impl TempCopy {
    fn new(parent: &Path, n: usize) -> anyhow::Result<TempCopy> {
        use std::os::unix::fs::DirBuilderExt;
        let dir = parent.join(format!(".xb-verify-{}-{n}", std::process::id()));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .with_context(|| format!("{}: cannot create", dir.display()))?;
        Ok(TempCopy(dir))
    }
}

impl Drop for TempCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
