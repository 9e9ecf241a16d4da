//! The encryption keys of the running server, found as mariabackup finds them: its active
//! encryption plugin, the plugin's variables, `innodb_encrypt_log`; then the keys from the
//! plugin's source ([`KeySettings::keys`]: the key file named there, a relative name taken
//! from the datadir, the server's working directory; or the keys a test plugin derives).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::backup::server::Server;
use crate::backup::BackupError;
use crate::encryption::{KeyRing, KeySettings};

/// What the server's encryption is: its settings and its keys.
#[derive(Debug, Clone)]
pub(crate) struct ServerKeys {
    /// The plugin settings (written into `backup-my.cnf`).
    pub settings: KeySettings,
    /// The keys, loaded.
    pub ring: Arc<KeyRing>,
    /// Where relative key file names start: the server's datadir.
    pub base_dir: PathBuf,
}

/// The server's keys; `None` when no encryption plugin is active. A plugin that is no key
/// source of [`KeySettings::for_plugin`] is an error
/// ([`EncryptionError::UnsupportedPlugin`](crate::encryption::EncryptionError::UnsupportedPlugin)),
/// as is a key file that cannot be read here or lacks key 1.
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
    if !plugin
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return Err(crate::encryption::EncryptionError::UnsupportedPlugin {
            plugin: plugin.clone(),
        }
        .into());
    }
    let pattern = plugin.replace('_', "\\_");
    let vars = server.rows(&format!("SHOW GLOBAL VARIABLES LIKE '{pattern}\\_%'"))?;
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
    let settings = KeySettings::for_plugin(
        plugin,
        vars.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        encrypt_log,
        encrypt_tables,
        plugin_dir,
    )?;
    let base_dir = server
        .value("SELECT @@datadir")?
        .map_or_else(|| datadir.to_path_buf(), PathBuf::from);
    let ring = settings.keys(&base_dir)?;
    // key 1 must be there: it encrypts the redo log (and the system's default encryption)
    ring.key(crate::encryption::LOG_KEY_ID, ring.latest_version())?;
    Ok(Some(ServerKeys {
        settings,
        ring: Arc::new(ring),
        base_dir,
    }))
}
