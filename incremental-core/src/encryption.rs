//! The keys of an encrypted server: which key-management plugin gives them and its settings
//! (the plugin variables, as read from a running server or from a backup's `backup-my.cnf`),
//! and the keys loaded from there ([`KeyRing`]): key 1, which decrypts the redo log (see
//! `innodb_page::redo::crypt`), and the keys of the tablespaces' pages.
//!
//! Two plugins are key sources:
//!
//! - `file_key_management`: keys in a file (`id;hexkey` lines, maybe encrypted with a file
//!   key), one version each; the cipher mode is `file_key_management_encryption_algorithm`.
//! - `debug_key_management`, a test plugin MariaDB ships: only key id 1, of 16 bytes; the key
//!   of version `v` is `v` as a big-endian 32-bit number followed by 12 zero bytes, and the
//!   latest version is the variable `debug_key_management_version` (default 1). It has no
//!   cipher of its own, so the server's default applies: AES-CBC ([`Mode::Cbc`]). Its keys
//!   are no secret: it exists for MariaDB's tests.
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
use innodb_page::redo::crypt::{LogCryptInfo, ServerKey};

use crate::format::backup_my_cnf::ServerSettings;
use crate::Remedy;

/// The plugin whose keys are in a file.
pub const FILE_KEY_MANAGEMENT: &str = "file_key_management";

/// MariaDB's test plugin whose keys derive from a version number (see the module
/// documentation).
pub const DEBUG_KEY_MANAGEMENT: &str = "debug_key_management";

/// The variable of [`DEBUG_KEY_MANAGEMENT`] that holds its latest key version.
pub const DEBUG_KEY_VERSION_VARIABLE: &str = "debug_key_management_version";

/// The key id of the redo log (and of the system's default encryption).
pub const LOG_KEY_ID: u32 = 1;

/// The key-management plugin and its own settings.
#[derive(Clone, PartialEq, Eq)]
enum Plugin {
    /// `file_key_management`: the values of its `file_key_management_*` variables, paths as
    /// configured.
    File {
        filename: String,
        filekey: String,
        algorithm: String,
    },
    /// `debug_key_management`: its latest key version.
    Debug { version: u32 },
}

/// The key-management settings of a server (its plugin and the plugin's variables) and
/// whether its redo log is encrypted.
#[derive(Clone, PartialEq, Eq)]
pub struct KeySettings {
    plugin: Plugin,
    encrypt_log: bool,
    encrypt_tables: Option<String>,
    plugin_dir: Option<String>,
}

impl fmt::Debug for KeySettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("KeySettings");
        match &self.plugin {
            Plugin::File {
                filename,
                filekey,
                algorithm,
            } => d
                .field("filename", filename)
                .field("filekey_set", &!filekey.is_empty())
                .field("algorithm", algorithm),
            Plugin::Debug { version } => d.field("debug_key_management_version", version),
        };
        d.field("encrypt_log", &self.encrypt_log)
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
        let (mut filename, mut filekey, mut algorithm) =
            (String::new(), String::new(), Mode::Cbc.name().to_string());
        for (name, value) in variables {
            match norm(name).as_str() {
                "file_key_management_filename" => filename = value.into(),
                "file_key_management_filekey" => filekey = value.into(),
                "file_key_management_encryption_algorithm" => algorithm = value.into(),
                _ => {}
            }
        }
        KeySettings {
            plugin: Plugin::File {
                filename,
                filekey,
                algorithm,
            },
            encrypt_log,
            encrypt_tables,
            plugin_dir,
        }
    }

    /// Settings of the active encryption plugin `plugin` of a server, from its variables
    /// (`name`, `value` pairs of `SHOW GLOBAL VARIABLES LIKE 'PLUGIN\_%'`), with
    /// `innodb_encrypt_log`, `innodb_encrypt_tables` and `plugin_dir`: [`FILE_KEY_MANAGEMENT`]
    /// or [`DEBUG_KEY_MANAGEMENT`]; another plugin is
    /// [`EncryptionError::UnsupportedPlugin`], as is a debug version that is not a number.
    ///
    /// ```
    /// use incremental_core::encryption::KeySettings;
    /// let k = KeySettings::for_plugin(
    ///     "debug_key_management",
    ///     [("debug_key_management_version", "2")],
    ///     false,
    ///     None,
    ///     None,
    /// )
    /// .unwrap();
    /// assert_eq!(k.plugin(), "debug_key_management");
    /// let ring = k.keys(std::path::Path::new("/")).unwrap();
    /// assert_eq!(ring.key(1, 2).unwrap().as_bytes(), &[0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    /// assert!(KeySettings::for_plugin("hashicorp_key_management", [], false, None, None).is_err());
    /// ```
    pub fn for_plugin<'a>(
        plugin: &str,
        variables: impl IntoIterator<Item = (&'a str, &'a str)>,
        encrypt_log: bool,
        encrypt_tables: Option<String>,
        plugin_dir: Option<String>,
    ) -> Result<KeySettings, EncryptionError> {
        let unsupported = || EncryptionError::UnsupportedPlugin {
            plugin: plugin.to_string(),
        };
        if plugin.eq_ignore_ascii_case(FILE_KEY_MANAGEMENT) {
            return Ok(KeySettings::new(
                variables,
                encrypt_log,
                encrypt_tables,
                plugin_dir,
            ));
        }
        if !plugin.eq_ignore_ascii_case(DEBUG_KEY_MANAGEMENT) {
            return Err(unsupported());
        }
        let mut version = 1;
        for (name, value) in variables {
            if norm(name) == DEBUG_KEY_VERSION_VARIABLE {
                version = value.trim().parse().map_err(|_| unsupported())?;
            }
        }
        Ok(KeySettings {
            plugin: Plugin::Debug { version },
            encrypt_log,
            encrypt_tables,
            plugin_dir,
        })
    }

    /// The plugin's name ([`FILE_KEY_MANAGEMENT`] or [`DEBUG_KEY_MANAGEMENT`]).
    pub fn plugin(&self) -> &'static str {
        match self.plugin {
            Plugin::File { .. } => FILE_KEY_MANAGEMENT,
            Plugin::Debug { .. } => DEBUG_KEY_MANAGEMENT,
        }
    }

    /// Whether the settings lead to keys: a `file_key_management` key file is named, or the
    /// plugin has its keys built in.
    pub fn provides_keys(&self) -> bool {
        match &self.plugin {
            Plugin::File { filename, .. } => !filename.is_empty(),
            Plugin::Debug { .. } => true,
        }
    }

    /// The settings a backup's `backup-my.cnf` holds, if it loads a key-management plugin
    /// this module knows (`None` otherwise: nothing is encrypted with keys xb can load).
    pub fn from_settings(s: &ServerSettings) -> Option<KeySettings> {
        let loads = |plugin: &str| {
            s.all.iter().any(|(k, v)| {
                matches!(norm(k).as_str(), "plugin_load" | "plugin_load_add") && v.contains(plugin)
            })
        };
        let plugin = [FILE_KEY_MANAGEMENT, DEBUG_KEY_MANAGEMENT]
            .into_iter()
            .find(|p| loads(p))?;
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
        let prefix = format!("{plugin}_");
        let vars: Vec<(String, String)> = s
            .all
            .iter()
            .filter(|(k, _)| norm(k).starts_with(&prefix))
            .map(|(k, v)| (norm(k), v.clone()))
            .collect();
        KeySettings::for_plugin(
            plugin,
            vars.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            on(get("innodb_encrypt_log")),
            get("innodb_encrypt_tables"),
            get("plugin_dir"),
        )
        .ok()
    }

    /// Whether a key file is named (`file_key_management_filename`): without one the
    /// plugin loads no key. False for a plugin whose keys are built in.
    pub fn names_key_file(&self) -> bool {
        matches!(&self.plugin, Plugin::File { filename, .. } if !filename.is_empty())
    }

    /// Whether the redo log is encrypted (`innodb_encrypt_log`).
    pub fn encrypts_log(&self) -> bool {
        self.encrypt_log
    }

    /// The key file, a relative name taken from `base_dir` (the server's working directory,
    /// its datadir); for a plugin without a key file, the plugin's name (what errors name as
    /// the keys' origin).
    pub fn key_file(&self, base_dir: &Path) -> PathBuf {
        match &self.plugin {
            Plugin::File { filename, .. } => base_dir.join(filename),
            Plugin::Debug { .. } => PathBuf::from(DEBUG_KEY_MANAGEMENT),
        }
    }

    /// The cipher mode (`file_key_management_encryption_algorithm`; AES-CBC, the server's
    /// default, for a plugin without a cipher of its own).
    pub fn mode(&self) -> Result<Mode, EncryptionError> {
        match &self.plugin {
            Plugin::File { algorithm, .. } => {
                Mode::from_name(algorithm).ok_or_else(|| EncryptionError::UnknownAlgorithm {
                    name: algorithm.clone(),
                })
            }
            Plugin::Debug { .. } => Ok(Mode::Cbc),
        }
    }

    /// The keys, loaded (a key file read, relative paths taken from `base_dir`).
    pub fn keys(&self, base_dir: &Path) -> Result<KeyRing, EncryptionError> {
        let mode = self.mode()?;
        let source = match &self.plugin {
            Plugin::Debug { version } => Source::Debug { latest: *version },
            Plugin::File { filekey, .. } => {
                let file = self.key_file(base_dir);
                let filekey = match filekey.is_empty() {
                    true => None,
                    false => Some(FileKey::parse(filekey, base_dir).map_err(|source| {
                        EncryptionError::Keys {
                            file: file.clone(),
                            source,
                        }
                    })?),
                };
                let keys = KeyFile::open(&file, filekey.as_ref()).map_err(|source| {
                    EncryptionError::Keys {
                        file: file.clone(),
                        source,
                    }
                })?;
                Source::File { file, keys }
            }
        };
        Ok(KeyRing { source, mode })
    }

    /// Key 1 at its latest version (relative key file names taken from `base_dir`) and the
    /// cipher mode: what decrypts a redo log written with the latest key.
    pub fn log_key(&self, base_dir: &Path) -> Result<(ServerKey, Mode), EncryptionError> {
        let ring = self.keys(base_dir)?;
        let key = ring.key(LOG_KEY_ID, ring.latest_version())?;
        Ok((key, ring.mode()))
    }

    #[cfg(feature = "hot")]
    /// The error for a log key that decrypts no record of the redo log `log`.
    pub(crate) fn wrong_key(&self, base_dir: &Path, log: PathBuf) -> EncryptionError {
        EncryptionError::WrongKey {
            id: LOG_KEY_ID,
            file: self.key_file(base_dir),
            log,
        }
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
        let plugin = self.plugin();
        out.push(("plugin_load".into(), format!("{plugin}={plugin}")));
        match &self.plugin {
            Plugin::File {
                filekey, algorithm, ..
            } => {
                let filekey = match filekey.strip_prefix("FILE:") {
                    Some(p) => format!("FILE:{}", base_dir.join(p).display()),
                    None => filekey.clone(),
                };
                out.push((
                    "file_key_management_encryption_algorithm".into(),
                    algorithm.clone(),
                ));
                out.push(("file_key_management_filekey".into(), filekey));
                out.push((
                    "file_key_management_filename".into(),
                    self.key_file(base_dir).display().to_string(),
                ));
            }
            Plugin::Debug { version } => {
                out.push((DEBUG_KEY_VERSION_VARIABLE.into(), version.to_string()));
            }
        }
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

/// Option names as the server compares them: ASCII lower case, `-` as `_`.
fn norm(name: &str) -> String {
    name.to_ascii_lowercase().replace('-', "_")
}

/// Where a [`KeyRing`]'s keys come from.
enum Source {
    /// A `file_key_management` key file, read.
    File { file: PathBuf, keys: KeyFile },
    /// `debug_key_management` and its latest version.
    Debug { latest: u32 },
}

/// The keys of a server, loaded from their plugin's source: the key of an id at a version,
/// and the cipher mode they are used with. `Debug` shows no key.
pub struct KeyRing {
    source: Source,
    mode: Mode,
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("KeyRing");
        match &self.source {
            Source::File { file, .. } => d.field("file", file),
            Source::Debug { latest } => d.field("debug_key_management_version", latest),
        };
        d.field("mode", &self.mode).finish_non_exhaustive()
    }
}

impl KeyRing {
    /// The cipher mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The latest key version (what the server encrypts new pages and logs with): 1 for a key
    /// file, the variable's value for `debug_key_management`.
    pub fn latest_version(&self) -> u32 {
        match &self.source {
            Source::File { .. } => 1,
            Source::Debug { latest } => *latest,
        }
    }

    /// The key `id` at `version`. A key file has one version of each key (the server asks
    /// for version 1 only); `debug_key_management` has key 1 only, at every version but 0.
    pub fn key(&self, id: u32, version: u32) -> Result<ServerKey, EncryptionError> {
        match &self.source {
            Source::File { file, keys } => keys
                .get(id)
                .and_then(|k| ServerKey::new(k.as_bytes()))
                .ok_or_else(|| EncryptionError::MissingKey {
                    id,
                    file: file.clone(),
                }),
            Source::Debug { .. } => {
                let missing = EncryptionError::NoPluginKey {
                    plugin: DEBUG_KEY_MANAGEMENT,
                    id,
                    version,
                };
                if id != LOG_KEY_ID || version == 0 {
                    return Err(missing);
                }
                let mut k = [0u8; 16];
                k[..4].copy_from_slice(&version.to_be_bytes());
                ServerKey::new(&k).ok_or(missing)
            }
        }
    }

    /// Key 1 at the version a redo log's header names (`header_block`, the log's first 512
    /// bytes), or at the latest version when the header names none.
    pub fn log_key(&self, header_block: &[u8]) -> Result<ServerKey, EncryptionError> {
        let version = LogCryptInfo::from_block(header_block)
            .map(|i| i.key_version())
            .filter(|&v| v != 0)
            .unwrap_or_else(|| self.latest_version());
        self.key(LOG_KEY_ID, version)
    }
}

/// The first 512 bytes of a redo log file (its header block); empty when unreadable.
pub(crate) fn header_block(path: &Path) -> Vec<u8> {
    use std::io::Read;
    let mut block = Vec::with_capacity(512);
    if let Ok(f) = std::fs::File::open(path) {
        let _ = f.take(512).read_to_end(&mut block);
    }
    block
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
    /// The plugin has no key of this id and version.
    #[error("the {plugin} plugin has no key {id} of version {version}")]
    NoPluginKey {
        /// The plugin.
        plugin: &'static str,
        /// The key id.
        id: u32,
        /// The key version.
        version: u32,
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
        .filter(KeySettings::provides_keys)
        .ok_or_else(|| BackupLogError::NoKeys {
            dir: dir.to_path_buf(),
        })?;
    let ring = keys.keys(dir)?;
    let key = ring.log_key(&header_block(log.path()))?;
    Ok(log.mtr_reader_decrypting(start, &key, ring.mode())?)
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

    /// debug_key_management's rules (plugin/debug_key_management): key 1 only, 16 bytes, the
    /// version big-endian then zeros; AES-CBC. The page key of version 2 with the IV below was
    /// computed from these rules with openssl (AES-128-ECB of the IV under `00000002 00…`);
    /// keys of this derivation decrypt pages a real server wrote (tests/hot_encrypted.rs).
    #[test]
    fn debug_key_management_keys_and_backup_my_cnf() {
        let k = KeySettings::for_plugin(
            DEBUG_KEY_MANAGEMENT,
            [("debug-key-management-version", "2")],
            true,
            Some("ON".into()),
            None,
        )
        .unwrap();
        assert!(k.provides_keys() && !k.names_key_file());
        let ring = k.keys(Path::new("/nowhere")).unwrap();
        assert_eq!((ring.latest_version(), ring.mode()), (2, Mode::Cbc));
        let mut v7 = [0u8; 16];
        v7[3] = 7;
        assert_eq!(ring.key(1, 7).unwrap().as_bytes(), v7);
        assert!(matches!(
            ring.key(2, 1),
            Err(EncryptionError::NoPluginKey { id: 2, .. })
        ));
        assert!(ring.key(1, 0).is_err());
        let key2 = ring.key(1, 2).unwrap();
        let iv = [
            0x08, 0x51, 0x63, 0x5f, 0x31, 0x3e, 0x5e, 0x80, 0x94, 0x8b, 0xc1, 0x40, 0xf1, 0xee,
            0x95, 0xa7,
        ];
        let page_key = innodb_page::crypto::page::page_key(key2.as_bytes(), &iv).unwrap();
        // computed independently: `openssl enc -aes-128-ecb -nopad -K 0000000200…` of the IV
        assert_eq!(
            page_key,
            [
                0xa4, 0x63, 0x37, 0x28, 0x60, 0xfc, 0x4a, 0xe7, 0x71, 0x58, 0xf6, 0xfe, 0x32, 0x67,
                0x03, 0xe3
            ]
        );
        // the log key follows the header's version, else the latest
        let mut head = vec![0u8; 512];
        head[48..52].copy_from_slice(&1u32.to_be_bytes());
        head[52..56].copy_from_slice(&5u32.to_be_bytes());
        assert_eq!(ring.log_key(&head).unwrap().as_bytes()[3], 5);
        assert_eq!(ring.log_key(&[]).unwrap().as_bytes()[3], 2);
        // backup-my.cnf: read back, and what the private server is started with
        let text: String = k
            .cnf_lines(Path::new("/d"))
            .iter()
            .map(|(k, v)| format!("{k}={v}\n"))
            .collect();
        assert!(text.contains("plugin_load=debug_key_management=debug_key_management\n"));
        assert!(text.contains("debug_key_management_version=2\n"));
        let s = ServerSettings::parse(&format!("[mysqld]\n{text}"));
        assert_eq!(KeySettings::from_settings(&s), Some(k));
        let o = s.encryption_options();
        for want in [
            "--plugin-maturity=experimental",
            "--plugin-load-add=debug_key_management=debug_key_management",
            "--debug-key-management-version=2",
        ] {
            assert!(o.iter().any(|x| x == want), "{want} not in {o:?}");
        }
        assert!(KeySettings::for_plugin(
            DEBUG_KEY_MANAGEMENT,
            [(DEBUG_KEY_VERSION_VARIABLE, "x")],
            false,
            None,
            None
        )
        .is_err());
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
