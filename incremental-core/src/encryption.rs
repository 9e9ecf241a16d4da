//! The keys of a server encrypted with the `file_key_management` plugin: where they are
//! configured (the plugin variables, as read from a running server or from a backup's
//! `backup-my.cnf`), and key 1 with the cipher mode, which decrypt its redo log (see
//! `innodb_page::redo::crypt`).
//!
//! Keys never leave this module in text: [`KeySettings`]'s `Debug` hides the file key, and
//! errors name key ids and files, never key bytes or passwords.
//!
//! ```
//! use incremental_core::encryption::KeySettings;
//! use incremental_core::format::backup_my_cnf::ServerSettings;
//! let s = ServerSettings::parse(
//!     "[mysqld]\nplugin_load=file_key_management=file_key_management\n\
//!      file_key_management_filename=/k/keys.txt\nfile_key_management_filekey=secret\n\
//!      file_key_management_encryption_algorithm=aes_ctr\ninnodb_encrypt_log=1\n",
//! );
//! let k = KeySettings::from_settings(&s).unwrap();
//! assert!(k.encrypts_log());
//! assert!(!format!("{k:?}").contains("secret"));
//! ```

use std::fmt;
use std::path::{Path, PathBuf};

use innodb_page::crypto::cipher::Mode;
use innodb_page::crypto::keys::{FileKey, KeyError, KeyFile};
use innodb_page::redo::crypt::ServerKey;

use crate::format::backup_my_cnf::ServerSettings;
use crate::Remedy;

/// The plugin whose keys are in a file.
pub const FILE_KEY_MANAGEMENT: &str = "file_key_management";

/// The key id of the redo log (and of the system's default encryption).
pub const LOG_KEY_ID: u32 = 1;

/// The `file_key_management` settings of a server (the values of its
/// `file_key_management_*` variables, paths as configured) and whether its redo log is
/// encrypted.
#[derive(Clone, PartialEq, Eq)]
pub struct KeySettings {
    filename: String,
    filekey: String,
    algorithm: String,
    encrypt_log: bool,
    encrypt_tables: Option<String>,
    plugin_dir: Option<String>,
}

impl fmt::Debug for KeySettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeySettings")
            .field("filename", &self.filename)
            .field("filekey_set", &!self.filekey.is_empty())
            .field("algorithm", &self.algorithm)
            .field("encrypt_log", &self.encrypt_log)
            .finish_non_exhaustive()
    }
}

impl KeySettings {
    /// Settings from the plugin variables as a server shows them (`name`, `value` pairs of
    /// `SHOW GLOBAL VARIABLES LIKE 'file_key_management%'`), with `innodb_encrypt_log` and
    /// `innodb_encrypt_tables`, and the server's `plugin_dir`.
    pub fn new<'a>(
        variables: impl IntoIterator<Item = (&'a str, &'a str)>,
        encrypt_log: bool,
        encrypt_tables: Option<String>,
        plugin_dir: Option<String>,
    ) -> KeySettings {
        let mut k = KeySettings {
            filename: String::new(),
            filekey: String::new(),
            algorithm: Mode::Cbc.name().into(),
            encrypt_log,
            encrypt_tables,
            plugin_dir,
        };
        for (name, value) in variables {
            k.set(name, value);
        }
        k
    }

    fn set(&mut self, name: &str, value: &str) {
        match name.to_ascii_lowercase().replace('-', "_").as_str() {
            "file_key_management_filename" => self.filename = value.into(),
            "file_key_management_filekey" => self.filekey = value.into(),
            "file_key_management_encryption_algorithm" => self.algorithm = value.into(),
            _ => {}
        }
    }

    /// The settings a backup's `backup-my.cnf` holds, if it loads the `file_key_management`
    /// plugin (`None` otherwise: nothing is encrypted with keys from a file).
    pub fn from_settings(s: &ServerSettings) -> Option<KeySettings> {
        let norm = |k: &str| k.to_ascii_lowercase().replace('-', "_");
        let loads = s.all.iter().any(|(k, v)| {
            matches!(norm(k).as_str(), "plugin_load" | "plugin_load_add")
                && v.contains(FILE_KEY_MANAGEMENT)
        });
        if !loads {
            return None;
        }
        let get = |name: &str| {
            s.all
                .iter()
                .rev()
                .find(|(k, _)| norm(k) == name)
                .map(|(_, v)| v.clone())
        };
        let on = |v: Option<String>| {
            v.is_some_and(|v| matches!(v.to_ascii_uppercase().as_str(), "1" | "ON" | "TRUE"))
        };
        let vars: Vec<(String, String)> = s
            .all
            .iter()
            .filter(|(k, _)| norm(k).starts_with("file_key_management_"))
            .map(|(k, v)| (norm(k), v.clone()))
            .collect();
        Some(KeySettings::new(
            vars.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            on(get("innodb_encrypt_log")),
            get("innodb_encrypt_tables"),
            get("plugin_dir"),
        ))
    }

    /// Whether a key file is named (`file_key_management_filename`): without one the
    /// plugin loads no key.
    pub fn names_key_file(&self) -> bool {
        !self.filename.is_empty()
    }

    /// Whether the redo log is encrypted (`innodb_encrypt_log`).
    pub fn encrypts_log(&self) -> bool {
        self.encrypt_log
    }

    /// The key file, a relative name taken from `base_dir` (the server's working directory,
    /// its datadir).
    pub fn key_file(&self, base_dir: &Path) -> PathBuf {
        base_dir.join(&self.filename)
    }

    /// The cipher mode (`file_key_management_encryption_algorithm`).
    pub fn mode(&self) -> Result<Mode, EncryptionError> {
        Mode::from_name(&self.algorithm).ok_or_else(|| EncryptionError::UnknownAlgorithm {
            name: self.algorithm.clone(),
        })
    }

    /// Key 1 of the key file (relative paths taken from `base_dir`) and the cipher mode: what
    /// decrypts the redo log.
    pub fn log_key(&self, base_dir: &Path) -> Result<(ServerKey, Mode), EncryptionError> {
        let mode = self.mode()?;
        let file = self.key_file(base_dir);
        let filekey = match self.filekey.is_empty() {
            true => None,
            false => Some(FileKey::parse(&self.filekey, base_dir).map_err(|source| {
                EncryptionError::Keys {
                    file: file.clone(),
                    source,
                }
            })?),
        };
        let keys =
            KeyFile::open(&file, filekey.as_ref()).map_err(|source| EncryptionError::Keys {
                file: file.clone(),
                source,
            })?;
        let key = keys
            .get(LOG_KEY_ID)
            .and_then(|k| ServerKey::new(k.as_bytes()))
            .ok_or(EncryptionError::MissingKey {
                id: LOG_KEY_ID,
                file,
            })?;
        Ok((key, mode))
    }

    /// The `backup-my.cnf` lines (`key`, `value`) that let a server (or `mariabackup
    /// --prepare`) started on the backup load the keys, as mariabackup writes them; relative
    /// key file paths are written resolved against `base_dir` (the server's datadir), so that
    /// a server started in another directory finds them.
    pub fn cnf_lines(&self, base_dir: &Path) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if let Some(d) = &self.plugin_dir {
            out.push(("plugin_dir".into(), d.clone()));
        }
        out.push((
            "plugin_load".into(),
            format!("{FILE_KEY_MANAGEMENT}={FILE_KEY_MANAGEMENT}"),
        ));
        let filekey = match self.filekey.strip_prefix("FILE:") {
            Some(p) => format!("FILE:{}", base_dir.join(p).display()),
            None => self.filekey.clone(),
        };
        out.push((
            "file_key_management_encryption_algorithm".into(),
            self.algorithm.clone(),
        ));
        out.push(("file_key_management_filekey".into(), filekey));
        out.push((
            "file_key_management_filename".into(),
            self.key_file(base_dir).display().to_string(),
        ));
        out.push((
            "innodb_encrypt_log".into(),
            if self.encrypt_log { "1" } else { "0" }.into(),
        ));
        if let Some(t) = &self.encrypt_tables {
            out.push(("innodb_encrypt_tables".into(), t.clone()));
        }
        out
    }
}

/// Why the keys of an encrypted server cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EncryptionError {
    /// The server encrypts with a plugin whose keys are not in a file.
    #[error(
        "the server's encryption plugin is {plugin}: only {FILE_KEY_MANAGEMENT} (keys in a \
         file) is supported"
    )]
    UnsupportedPlugin {
        /// The plugin's name.
        plugin: String,
    },
    /// `file_key_management_encryption_algorithm` names no known mode.
    #[error("unknown file_key_management_encryption_algorithm {name:?} (aes_cbc or aes_ctr)")]
    UnknownAlgorithm {
        /// The value.
        name: String,
    },
    /// The key file (or its file key) cannot be read or decrypted.
    #[error("the encryption keys in {} cannot be used: {source}", file.display())]
    Keys {
        /// The key file.
        file: PathBuf,
        /// The cause.
        #[source]
        source: KeyError,
    },
    /// The key file has no (usable) key with the id the redo log needs.
    #[error("the key file {} has no key {id}, which encrypts the redo log", file.display())]
    MissingKey {
        /// The key id.
        id: u32,
        /// The key file.
        file: PathBuf,
    },
    /// The key decrypts no record of the redo log.
    #[error(
        "key {id} of {} does not decrypt the redo log {}: wrong key or key file",
        file.display(),
        log.display()
    )]
    WrongKey {
        /// The key id.
        id: u32,
        /// The key file.
        file: PathBuf,
        /// The redo log.
        log: PathBuf,
    },
    /// A stopped server's redo log is encrypted, and no `file_key_management` key file is
    /// named: none given, none in the option files read.
    #[error(
        "{}: the redo log is encrypted (innodb_encrypt_log), but no file_key_management key \
         file is named (option files read: {})",
        log.display(),
        path_list(option_files)
    )]
    NoKeyFile {
        /// The redo log.
        log: PathBuf,
        /// The option files read.
        option_files: Vec<PathBuf>,
    },
}

/// `a, b`, or `none`.
fn path_list(files: &[PathBuf]) -> String {
    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    match names.is_empty() {
        true => "none".into(),
        false => names.join(", "),
    }
}

impl EncryptionError {
    /// What the caller can do about it, when it is an action a front end words: a key file
    /// this user cannot read ([`Remedy::ReadableKeyFile`]), or keys that are not the
    /// server's ([`Remedy::CheckKeyFile`]).
    pub fn remedy(&self) -> Option<Remedy> {
        match self {
            EncryptionError::WrongKey { .. } | EncryptionError::MissingKey { .. } => {
                Some(Remedy::CheckKeyFile)
            }
            EncryptionError::NoKeyFile { .. } => Some(Remedy::GiveKeySettings),
            EncryptionError::Keys {
                source: KeyError::Io { source, .. },
                ..
            } if source.kind() == std::io::ErrorKind::PermissionDenied => {
                Some(Remedy::ReadableKeyFile)
            }
            EncryptionError::Keys {
                source:
                    KeyError::WrongFileKey { .. }
                    | KeyError::NotEncrypted { .. }
                    | KeyError::MissingKey1 { .. },
                ..
            } => Some(Remedy::CheckKeyFile),
            _ => None,
        }
    }
}

/// Why a backup's copied redo log cannot be read decrypted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackupLogError {
    /// The log is encrypted and the backup's `backup-my.cnf` loads no `file_key_management`
    /// plugin (or names no key file).
    #[error(
        "{}: the redo log is encrypted and backup-my.cnf names no file_key_management key file",
        dir.display()
    )]
    NoKeys {
        /// The backup directory.
        dir: PathBuf,
    },
    /// `backup-my.cnf` cannot be read.
    #[error(transparent)]
    Settings(#[from] crate::format::error::Error),
    /// The keys it names cannot be used.
    #[error(transparent)]
    Keys(#[from] EncryptionError),
    /// The log cannot be read.
    #[error(transparent)]
    Log(#[from] innodb_page::Error),
}

/// A reader of the mini-transactions of `log` (the copied redo log of the backup in `dir`)
/// from `start`; an encrypted log is decrypted with key 1 of the key file its
/// `backup-my.cnf` names (relative names taken from `dir`), as `mariabackup --prepare` loads
/// the plugin from that file.
pub(crate) fn backup_log_reader(
    dir: &Path,
    log: &innodb_page::redo::RedoLog,
    start: innodb_page::Lsn,
) -> Result<
    innodb_page::redo::mtr::MtrReader<innodb_page::redo::file::FileRecordArea>,
    BackupLogError,
> {
    if !log.encryption.is_encrypted() {
        return Ok(log.mtr_reader(start)?);
    }
    let settings = ServerSettings::read_dir(dir)?;
    let keys = KeySettings::from_settings(&settings)
        .filter(|k| !k.filename.is_empty())
        .ok_or_else(|| BackupLogError::NoKeys {
            dir: dir.to_path_buf(),
        })?;
    let (key, mode) = keys.log_key(dir)?;
    Ok(log.mtr_reader_decrypting(start, &key, mode)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEYS: &str = "1;0123456789ABCDEF0123456789abcdef00112233445566778899AABBCCDDEEFF\n";

    fn settings(filename: &str, filekey: &str, algorithm: &str) -> KeySettings {
        KeySettings::new(
            [
                ("file_key_management_filename", filename),
                ("file_key_management_filekey", filekey),
                ("file_key_management_encryption_algorithm", algorithm),
            ],
            true,
            Some("ON".into()),
            Some("/usr/lib/mysql/plugin/".into()),
        )
    }

    #[test]
    fn relative_names_resolve_against_the_datadir_and_survive_backup_my_cnf() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("keys.txt"), KEYS).unwrap();
        let k = settings("keys.txt", "", "aes_ctr");
        let (key, mode) = k.log_key(d.path()).unwrap();
        assert_eq!((key.as_bytes().len(), mode), (32, Mode::Ctr));
        // written with the path resolved, read back from anywhere
        let text: String = k
            .cnf_lines(d.path())
            .iter()
            .map(|(k, v)| format!("{k}={v}\n"))
            .collect();
        let back = KeySettings::from_settings(&ServerSettings::parse(&format!("[mysqld]\n{text}")))
            .unwrap();
        assert!(back.encrypts_log());
        assert_eq!(back.log_key(Path::new("/nowhere")).unwrap(), (key, mode));
    }

    #[test]
    fn remedies_of_key_errors() {
        use crate::backup::BackupError;
        let file = PathBuf::from("/k/keys.txt");
        let wrong = EncryptionError::WrongKey {
            id: 1,
            file: file.clone(),
            log: "/d/ib_logfile0".into(),
        };
        assert_eq!(
            BackupError::Encryption(wrong).remedy(),
            Some(Remedy::CheckKeyFile)
        );
        let denied = |kind| EncryptionError::Keys {
            file: file.clone(),
            source: KeyError::Io {
                file: file.clone(),
                source: std::io::Error::from(kind),
            },
        };
        let e = BackupError::Encryption(denied(std::io::ErrorKind::PermissionDenied));
        assert_eq!(e.remedy(), Some(Remedy::ReadableKeyFile));
        assert_eq!(denied(std::io::ErrorKind::NotFound).remedy(), None);
    }

    #[test]
    fn errors_name_the_file_and_never_the_secret() {
        let d = tempfile::tempdir().unwrap();
        let e = settings("missing.txt", "", "aes_cbc")
            .log_key(d.path())
            .unwrap_err();
        assert!(matches!(e, EncryptionError::Keys { .. }), "{e}");
        assert!(e.to_string().contains("missing.txt"), "{e}");
        std::fs::write(d.path().join("keys.txt"), KEYS).unwrap();
        // a password given for a plain key file
        let k = settings("keys.txt", "hunter2", "aes_cbc");
        let e = k.log_key(d.path()).unwrap_err();
        assert!(!e.to_string().contains("hunter2") && !format!("{k:?}").contains("hunter2"));
        let e = settings("keys.txt", "", "aes_gcm")
            .log_key(d.path())
            .unwrap_err();
        assert!(matches!(e, EncryptionError::UnknownAlgorithm { .. }), "{e}");
        assert!(KeySettings::from_settings(&ServerSettings::parse("[mysqld]\nx=1\n")).is_none());
    }
}
