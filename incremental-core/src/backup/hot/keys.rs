//! The encryption keys of the running server, found as mariabackup finds them: its active
//! encryption plugin, the plugin's variables, `innodb_encrypt_log`; then key 1 from the key
//! file named there (a relative name taken from the datadir: the server's working directory).

use std::path::{Path, PathBuf};

use innodb_page::crypto::cipher::Mode;
use innodb_page::redo::crypt::ServerKey;

use crate::backup::server::Server;
use crate::backup::BackupError;
use crate::encryption::{EncryptionError, KeySettings, FILE_KEY_MANAGEMENT};

/// What the server's encryption is: its settings and, when the redo log is encrypted, the key
/// and mode that decrypt it.
#[derive(Debug, Clone)]
pub(crate) struct ServerKeys {
    /// The plugin settings (written into `backup-my.cnf`).
    pub settings: KeySettings,
    /// Key 1 and the cipher mode.
    pub log: (ServerKey, Mode),
    /// Where relative key file names start: the server's datadir.
    pub base_dir: PathBuf,
}

/// The server's `file_key_management` keys; `None` when no encryption plugin is active.
/// Another plugin is an error ([`EncryptionError::UnsupportedPlugin`]), as is a key file
/// that cannot be read here or lacks key 1.
pub(crate) fn discover(
    server: &mut Server,
    datadir: &Path,
) -> Result<Option<ServerKeys>, BackupError> {
    let plugins = server.rows(
        "SELECT PLUGIN_NAME FROM information_schema.PLUGINS \
         WHERE PLUGIN_TYPE='ENCRYPTION' AND PLUGIN_STATUS='ACTIVE'",
    )?;
    let names: Vec<String> = plugins
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
        .collect();
    let Some(plugin) = names.first() else {
        return Ok(None);
    };
    if !plugin.eq_ignore_ascii_case(FILE_KEY_MANAGEMENT) {
        return Err(EncryptionError::UnsupportedPlugin {
            plugin: plugin.clone(),
        }
        .into());
    }
    let vars = server.rows("SHOW GLOBAL VARIABLES LIKE 'file_key_management%'")?;
    let vars: Vec<(String, String)> = vars
        .into_iter()
        .filter_map(|r| {
            let mut it = r.into_iter();
            Some((
                it.next().flatten()?,
                it.next().flatten().unwrap_or_default(),
            ))
        })
        .collect();
    let encrypt_log = server
        .value("SELECT @@innodb_encrypt_log")?
        .is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("on"));
    let encrypt_tables = server.value("SELECT @@innodb_encrypt_tables")?;
    let plugin_dir = server.value("SELECT @@plugin_dir")?;
    let settings = KeySettings::new(
        vars.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        encrypt_log,
        encrypt_tables,
        plugin_dir,
    );
    let base_dir = server
        .value("SELECT @@datadir")?
        .map_or_else(|| datadir.to_path_buf(), PathBuf::from);
    let log = settings.log_key(&base_dir)?;
    Ok(Some(ServerKeys {
        settings,
        log,
        base_dir,
    }))
}
