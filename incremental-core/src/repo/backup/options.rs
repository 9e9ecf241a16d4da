//! [`RepoBackupOptions`]: what `xb backup --repo` is asked to do.

use crate::backup::BackupOptions;
use crate::codec::CodecOptions;

/// The default plain size of a part of a large file (8 MiB): one object per part, each
/// uploaded in one request (S3 asks 5 MiB at least of every part of a multipart upload but
/// the last; one request per 8 MiB keeps requests few and memory low).
pub const DEFAULT_PART_SIZE: usize = 8 << 20;

/// The default number of upload threads.
pub const DEFAULT_UPLOAD_THREADS: usize = 4;

/// How a backup into a repository runs ([`Repository::backup`](super::super::Repository::backup)).
///
/// ```
/// use incremental_core::backup::BackupOptions;
/// use incremental_core::repo::RepoBackupOptions;
/// let mut o = RepoBackupOptions::new(BackupOptions::new("/var/lib/mysql"));
/// o.set_force_full(true).set_upload_threads(8);
/// assert!(o.force_full());
/// assert_eq!(o.upload_threads(), 8);
/// assert_eq!(o.part_size(), 8 << 20);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RepoBackupOptions {
    backup: BackupOptions,
    codec: CodecOptions,
    force_full: bool,
    upload_threads: usize,
    part_size: usize,
}

impl RepoBackupOptions {
    /// A backup of the source `backup` describes (a datadir, or a server). Whether it is full
    /// or incremental, and on which base, is the repository's choice: an incremental set in
    /// `backup` ([`BackupOptions::set_incremental`]) is replaced.
    pub fn new(backup: BackupOptions) -> RepoBackupOptions {
        RepoBackupOptions {
            backup,
            codec: CodecOptions::default(),
            force_full: false,
            upload_threads: DEFAULT_UPLOAD_THREADS,
            part_size: DEFAULT_PART_SIZE,
        }
    }

    /// Compress and/or encrypt every stored object as `xb backup --compress/--encrypt` do
    /// (default: stored plain). An incremental needs the keys' identity (secret key) to read
    /// its base's metadata when the base is encrypted; with recipients only it goes without
    /// the base's tablespace names (see [`RepoBackupReport::base_names`](super::RepoBackupReport)).
    pub fn set_codec(&mut self, codec: CodecOptions) -> &mut Self {
        self.codec = codec;
        self
    }

    /// Take a full backup even when the stanza holds a complete backup to base an
    /// incremental on (`--type=full`).
    pub fn set_force_full(&mut self, force: bool) -> &mut Self {
        self.force_full = force;
        self
    }

    /// The number of objects encoded and uploaded at once (at least 1; default
    /// [`DEFAULT_UPLOAD_THREADS`]). Memory grows by about two parts per thread.
    pub fn set_upload_threads(&mut self, threads: usize) -> &mut Self {
        self.upload_threads = threads.max(1);
        self
    }

    /// The plain bytes of each part of a large file (1 MiB to 64 MiB; default
    /// [`DEFAULT_PART_SIZE`]): each part is one object. Smaller parts lose less work to an
    /// interruption and cost more requests; memory grows with it (about
    /// `part_size × (2 × upload threads + 3)` at most).
    pub fn set_part_size(&mut self, bytes: usize) -> &mut Self {
        self.part_size = bytes.clamp(1 << 20, 64 << 20);
        self
    }

    /// The backup's source and engine options.
    pub fn backup(&self) -> &BackupOptions {
        &self.backup
    }

    /// See [`set_codec`](Self::set_codec).
    pub fn codec(&self) -> &CodecOptions {
        &self.codec
    }

    /// See [`set_force_full`](Self::set_force_full).
    pub fn force_full(&self) -> bool {
        self.force_full
    }

    /// See [`set_upload_threads`](Self::set_upload_threads).
    pub fn upload_threads(&self) -> usize {
        self.upload_threads
    }

    /// See [`set_part_size`](Self::set_part_size).
    pub fn part_size(&self) -> usize {
        self.part_size
    }
}
