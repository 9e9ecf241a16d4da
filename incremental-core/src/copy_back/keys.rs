//! The keys a restored datadir needs: a backup of a server encrypted with the
//! `file_key_management` plugin names its key file in `backup-my.cnf`, and the server started
//! on the restored datadir loads key 1 from there. A restore checks, before it writes
//! anything, that the file is there, readable, and holds key 1, so that a missing key is
//! reported as such rather than as the server's first failure.

use std::path::Path;

use crate::encryption::KeySettings;
use crate::format::backup_my_cnf::ServerSettings;

use super::CopyBackError;

/// Checks that the key file `settings` name (relative names taken from `datadir`, where the
/// restored server runs) can be read and holds key 1; nothing to check when the backup loads
/// no `file_key_management` plugin or names no key file.
pub(crate) fn check_keys(
    backup: &Path,
    settings: &ServerSettings,
    datadir: &Path,
) -> Result<(), CopyBackError> {
    let Some(keys) = KeySettings::from_settings(settings).filter(|k| k.names_key_file()) else {
        return Ok(());
    };
    match keys.log_key(datadir) {
        Ok(_) => Ok(()),
        Err(source) => Err(CopyBackError::Keys {
            path: backup.to_path_buf(),
            key_file: keys.key_file(datadir),
            source: Box::new(source),
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;
    use crate::encryption::EncryptionError;
    use crate::Remedy;

    const KEY_2: &str = "2;0123456789ABCDEF0123456789abcdef00112233445566778899AABBCCDDEEFF\n";

    fn settings(key_file: &Path) -> ServerSettings {
        ServerSettings::parse(&format!(
            "[mysqld]\nplugin_load=file_key_management=file_key_management\n\
             file_key_management_filename={}\ninnodb_encrypt_tables=ON\n",
            key_file.display()
        ))
    }

    #[test]
    fn names_the_key_file_and_key_1() {
        let d = tempfile::tempdir().unwrap();
        let key_file = d.path().join("keys.txt");
        let e = check_keys(d.path(), &settings(&key_file), d.path()).unwrap_err();
        assert!(
            e.to_string().contains(&key_file.display().to_string()),
            "{e}"
        );
        assert_eq!(e.remedy(), Some(Remedy::RestoreKeyFile));
        fs::write(&key_file, KEY_2).unwrap();
        let e = check_keys(d.path(), &settings(&key_file), d.path()).unwrap_err();
        assert!(
            matches!(&e, CopyBackError::Keys { source, .. }
                if matches!(**source, EncryptionError::Keys { .. }))
                && e.to_string().contains("no key with id 1"),
            "{e}"
        );
        fs::write(&key_file, KEY_2.replacen('2', "1", 1)).unwrap();
        check_keys(d.path(), &settings(&key_file), d.path()).unwrap();
        // no plugin: nothing to check
        let plain = ServerSettings::parse("[mysqld]\ninnodb_page_size=16384\n");
        check_keys(d.path(), &plain, &d.path().join("none")).unwrap();
    }
}
