//! Finding the `file_key_management` settings of a server without a connection (`xb track`,
//! a stopped server): the options given explicitly, each over the value in the server's own
//! option files, read as the server reads them at its start (its groups, `loose-` prefixes).
//! What they lead to (key 1 and the cipher mode) is [`crate::encryption::KeySettings`]'s work.
//!
//! ```
//! use incremental_core::key_options::KeyOptions;
//! let dir = tempfile::tempdir().unwrap();
//! std::fs::write(dir.path().join("keys.txt"), "1;000102030405060708090a0b0c0d0e0f\n").unwrap();
//! let cnf = dir.path().join("my.cnf");
//! std::fs::write(&cnf, "[mariadbd]\nloose-file-key-management-filename = keys.txt\n").unwrap();
//! let found = KeyOptions::default().set_defaults_file(&cnf).find();
//! let (key, mode) = found.settings.unwrap().log_key(dir.path()).unwrap();
//! assert_eq!(key.as_bytes()[1], 1);
//! assert_eq!(mode.name(), "aes_cbc");
//! assert_eq!(found.option_files, [cnf]);
//! ```

use std::fmt;
use std::path::{Path, PathBuf};

use crate::encryption::KeySettings;
use crate::format::option_file::OptionFiles;

/// The option-file groups the server (MariaDB 10.11) reads its options from.
pub const SERVER_GROUPS: &[&str] = &[
    "mysqld",
    "server",
    "mysqld-10.11",
    "mariadb",
    "mariadb-10.11",
    "mariadbd",
    "mariadbd-10.11",
    "client-server",
    "galera",
];

/// The plugin's three settings, in option-file spelling.
const NAMES: [&str; 3] = [
    "file_key_management_filename",
    "file_key_management_filekey",
    "file_key_management_encryption_algorithm",
];

/// Key settings given explicitly, and where the server's option files are. `Debug` hides
/// the file key.
#[derive(Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyOptions {
    /// `[filename, filekey, algorithm]` as given.
    given: [Option<String>; 3],
    defaults_file: Option<PathBuf>,
}

impl fmt::Debug for KeyOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [name, key, alg] = &self.given;
        f.debug_struct("KeyOptions")
            .field("filename", name)
            .field("filekey_set", &key.is_some())
            .field("algorithm", alg)
            .field("defaults_file", &self.defaults_file)
            .finish()
    }
}

impl KeyOptions {
    /// `file_key_management_filename`: the key file (a relative name is taken from the
    /// datadir, the server's working directory).
    pub fn set_filename(mut self, value: impl Into<String>) -> KeyOptions {
        self.given[0] = Some(value.into());
        self
    }

    /// `file_key_management_filekey`: the password of an encrypted key file, or `FILE:path`.
    pub fn set_filekey(mut self, value: impl Into<String>) -> KeyOptions {
        self.given[1] = Some(value.into());
        self
    }

    /// `file_key_management_encryption_algorithm`: `aes_cbc` (the default) or `aes_ctr`.
    pub fn set_algorithm(mut self, value: impl Into<String>) -> KeyOptions {
        self.given[2] = Some(value.into());
        self
    }

    /// Reads only this option file (and its includes) instead of the default ones
    /// (`/etc/my.cnf`, `/etc/mysql/my.cnf`, `$MARIADB_HOME/my.cnf`, `~/.my.cnf`).
    pub fn set_defaults_file(mut self, path: impl Into<PathBuf>) -> KeyOptions {
        self.defaults_file = Some(path.into());
        self
    }

    /// The settings: each one given, else the last value in the option files (groups
    /// [`SERVER_GROUPS`], with or without `loose-`); no settings when no key file is named:
    /// the server has no `file_key_management` keys (or they are somewhere xb cannot see).
    pub fn find(&self) -> FoundKeys {
        let files = OptionFiles::read(self.defaults_file.as_deref(), None, SERVER_GROUPS);
        let from_files = |name: &str| {
            files
                .entries()
                .iter()
                .rev()
                .find(|(k, _)| k == name || k.strip_prefix("loose_") == Some(name))
                .map(|(_, v)| v.clone())
        };
        let mut vars = Vec::new();
        for (name, given) in NAMES.iter().zip(&self.given) {
            if let Some(v) = given.clone().or_else(|| from_files(name)) {
                vars.push((*name, v));
            }
        }
        if !vars.iter().any(|(k, v)| *k == NAMES[0] && !v.is_empty()) {
            return FoundKeys {
                settings: None,
                option_files: files.files,
            };
        }
        let encrypt_log = from_files("innodb_encrypt_log")
            .is_some_and(|v| matches!(v.to_ascii_uppercase().as_str(), "" | "1" | "ON"));
        let settings = KeySettings::new(
            vars.iter().map(|(k, v)| (*k, v.as_str())),
            encrypt_log,
            from_files("innodb_encrypt_tables"),
            from_files("plugin_dir"),
        );
        FoundKeys {
            settings: Some(settings),
            option_files: files.files,
        }
    }

    /// The option file given with [`set_defaults_file`](Self::set_defaults_file).
    pub fn defaults_file(&self) -> Option<&Path> {
        self.defaults_file.as_deref()
    }
}

/// What [`KeyOptions::find`] found.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct FoundKeys {
    /// The settings, paths as configured; `None` when no key file is named.
    pub settings: Option<KeySettings>,
    /// The option files read (in order).
    pub option_files: Vec<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_settings_win_one_by_one_and_client_groups_do_not_count() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), "1;000102030405060708090a0b0c0d0e0f\n").unwrap();
        let cnf = dir.path().join("my.cnf");
        std::fs::write(
            &cnf,
            "[mysqld]\nfile_key_management_filename=/nonexistent\n\
             file-key-management-encryption-algorithm=aes_ctr\n\
             [client]\nfile_key_management_filekey=FILE:/p\n",
        )
        .unwrap();
        let k = KeyOptions::default().set_defaults_file(&cnf);
        let found = k.clone().set_filename("a").find();
        let (_, mode) = found.settings.unwrap().log_key(dir.path()).unwrap();
        assert_eq!(mode.name(), "aes_ctr");
        assert!(k.find().settings.unwrap().log_key(dir.path()).is_err());
        let none = KeyOptions::default().set_defaults_file(dir.path().join("missing"));
        assert!(none.find().settings.is_none());
        assert!(none.find().option_files.is_empty());
        assert!(!format!("{:?}", k.set_filekey("Sekr3t-Pa55")).contains("Sekr3t-Pa55"));
    }
}
