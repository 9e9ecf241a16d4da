//! What a caller can do about an error, as data: the library names the remedy, a front end
//! words it (the `xb` CLI turns each into its own flags).
//!
//! ```
//! use incremental_core::Remedy;
//! fn advice(r: Remedy) -> &'static str {
//!     match r {
//!         Remedy::StopServer => "stop the server, or back up a filesystem snapshot",
//!         _ => "see the error",
//!     }
//! }
//! assert_eq!(advice(Remedy::StopServer), "stop the server, or back up a filesystem snapshot");
//! ```

/// A way out of an error. Errors that have one return it from their `remedy()` method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Remedy {
    /// Stop the server that holds the datadir (or back up a filesystem snapshot of it).
    StopServer,
    /// Record corrupt pages and go on instead of failing (mariabackup's
    /// `--log-innodb-page-corruption`).
    RecordCorruptPages,
    /// Take the incremental on top of a partial base anyway.
    AcceptPartialBase,
    /// Make the server's redo log larger (`innodb_log_file_size`), so that it is not
    /// overwritten before the backup has read it.
    EnlargeRedoLog,
    /// Say how to reach the running server (socket or host and port, user, password), or
    /// which server: it could not be reached, or the one reached serves another datadir.
    ConnectionSettings,
    /// Backup: the server asked for cannot be reached and no server holds the datadir; start
    /// that server for a hot backup, or leave the connection settings out to copy the stopped
    /// datadir as it is (cold).
    StartServerOrGoCold,
    /// Backup: no incremental can follow this base (the server changed in a way its deltas
    /// cannot follow); take a full backup to start a new chain.
    TakeFullBackup,
    /// Give the incremental's start LSN explicitly (the base's `to_lsn`) instead of the base
    /// directory, whose redo log start cannot be found.
    GiveStartLsn,
    /// Prepare: give a full backup as the target, and the incrementals on top of it as
    /// incrementals.
    FullBackupAsTarget,
    /// Prepare: only incremental backups go on top of the target.
    IncrementalsOnly,
    /// Prepare: give the incrementals in the order they were taken, starting with the one taken
    /// from the base (the error names the `from_lsn` expected).
    GiveIncrementalsInOrder,
    /// Prepare: an interrupted prepare is pending on the target; run it again with exactly its
    /// target and incrementals (the error names them) to finish it.
    RerunPendingPrepare,
    /// Prepare: two incrementals cover the same LSNs and cannot be ordered; give only the one
    /// taken last (either alone continues the chain, and it has the newer non-InnoDB files).
    GiveOneOfEqualIncrementals,
    /// Copy-back: the backup must be prepared first (`xb prepare` with it as the target and no
    /// incremental): it holds DDL files that only a prepare turns into tablespaces (the error
    /// names the backup).
    PrepareFirst,
    /// Copy-back: this is an incremental; prepare it onto its base, then restore the base.
    PrepareOntoBase,
    /// Copy-back: a prepare of this backup was interrupted; run the same prepare again to finish
    /// it.
    FinishPrepare,
    /// Prepare: the apply-redo step was interrupted on the target; run it again (with the
    /// same chain, or none) to finish it. No incremental can be merged onto the target any more.
    FinishApplyRedo,
    /// Apply-redo: install the MariaDB server, or give the path of its `mariadbd`.
    InstallServer,
    /// Encrypted server: the key file named (or its file key) is not the one the server
    /// uses (a key that decrypts nothing, a wrong file key, no key 1); check that the key file
    /// and file key settings are the server's.
    CheckKeyFile,
    /// Encrypted server: the key file named cannot be read by this user; run as a user that
    /// can read it (the server's user, or root).
    ReadableKeyFile,
    /// Copy-back and apply-redo: the backup is of an encrypted server, and the key file its
    /// `backup-my.cnf` names (with key 1) is not there; put the server's key file (and a
    /// `FILE:` file key's file) at that path first: the restored server loads them from there.
    RestoreKeyFile,
    /// Cold backup of an encrypted server: name its `file_key_management` settings (key file,
    /// `FILE:` file key, algorithm), or the server's option file that holds them.
    GiveKeySettings,
    /// An age-encrypted backup file: give the identity file (`AGE-SECRET-KEY-1…`) of one of
    /// the recipients it was encrypted to (none was given, or the one given is another's).
    GiveDecryptionKey,
    /// Repository: the stanza's newest backup was taken from another host or datadir; back up
    /// each server into a stanza of its own (name another stanza).
    OwnStanza,
}
