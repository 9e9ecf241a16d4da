//! The server's backup history table, as mariabackup keeps it (`--history`,
//! `--incremental-history-name`, `--incremental-history-uuid`): `mysql.mariadb_backup_history`,
//! one row per backup, holding the values of its `xtrabackup_info`.
//!
//! The table is created with the same definition as mariabackup 10.11 creates it (checked
//! with `SHOW CREATE TABLE` against the installed mariabackup), so that both tools can share
//! one history: an xb incremental can start from a mariabackup backup's row and the other way
//! round.

use innodb_page::Lsn;

use super::options::Incremental;
use super::server::Server;
use super::{BackupError, ServerError};
use crate::format::info::Info;
use crate::format::Dialect;

/// The history table.
pub(crate) const TABLE: &str = "mysql.mariadb_backup_history";

/// The table's definition, as mariabackup 10.11 creates it.
const CREATE: &str = "CREATE TABLE IF NOT EXISTS mysql.mariadb_backup_history(\
    uuid VARCHAR(40) NOT NULL PRIMARY KEY, \
    name VARCHAR(255) DEFAULT NULL, \
    tool_name VARCHAR(255) DEFAULT NULL, \
    tool_command TEXT DEFAULT NULL, \
    tool_version VARCHAR(255) DEFAULT NULL, \
    ibbackup_version VARCHAR(255) DEFAULT NULL, \
    server_version VARCHAR(255) DEFAULT NULL, \
    start_time TIMESTAMP NULL DEFAULT NULL, \
    end_time TIMESTAMP NULL DEFAULT NULL, \
    lock_time BIGINT UNSIGNED DEFAULT NULL, \
    binlog_pos VARCHAR(128) DEFAULT NULL, \
    innodb_from_lsn BIGINT UNSIGNED DEFAULT NULL, \
    innodb_to_lsn BIGINT UNSIGNED DEFAULT NULL, \
    partial ENUM('Y', 'N') DEFAULT NULL, \
    incremental ENUM('Y', 'N') DEFAULT NULL, \
    format ENUM('file', 'tar', 'mbstream') DEFAULT NULL, \
    compressed ENUM('Y', 'N') DEFAULT NULL) \
    CHARACTER SET utf8 ENGINE=innodb";

/// The columns of a row, each filled from the `xtrabackup_info` key of the same name: the
/// table's columns are exactly the keys MariaDB's `xtrabackup_info` holds.
const COLUMNS: &[&str] = Dialect::MariaDb.info_keys();

/// The `xtrabackup_info` keys that identify a backup in the history: a new `uuid` (from the
/// server's `UUID()`, as mariabackup) and the series `name`.
pub(crate) fn identity(
    server: &mut Server,
    name: &str,
) -> Result<Vec<(String, String)>, BackupError> {
    let uuid = server.value("SELECT UUID()")?.unwrap_or_default();
    Ok(vec![
        ("uuid".to_string(), uuid),
        ("name".to_string(), name.to_string()),
    ])
}

/// Adds the row of a finished backup whose `xtrabackup_info` is `info`, creating the table
/// if it does not exist.
pub(crate) fn record(server: &mut Server, info: &Info) -> Result<(), BackupError> {
    server.exec(CREATE)?;
    let marks = vec!["?"; COLUMNS.len()].join(", ");
    let insert = format!(
        "INSERT INTO {TABLE}({}) VALUES ({marks})",
        COLUMNS.join(", ")
    );
    let values = COLUMNS
        .iter()
        .map(|c| {
            info.get(c)
                .map(str::to_string)
                .filter(|v| !v.is_empty() || *c == "name")
        })
        .collect();
    server.value_with(&insert, values)?;
    Ok(())
}

/// The start LSN of an incremental from the history (`Incremental::HistoryName` or
/// `HistoryUuid`): the highest `innodb_to_lsn` of the rows with that name or uuid, as
/// mariabackup chooses it. Returns the LSN and why; `None` for other kinds of incremental.
pub(crate) fn start_lsn(
    server: &mut Server,
    incremental: &Incremental,
) -> Result<Option<(Lsn, String)>, BackupError> {
    let (key, value) = match incremental {
        Incremental::HistoryName(n) => ("name", n),
        Incremental::HistoryUuid(u) => ("uuid", u),
        _ => return Ok(None),
    };
    let query = format!(
        "SELECT innodb_to_lsn FROM {TABLE} WHERE {key} = ? AND innodb_to_lsn IS NOT NULL \
         ORDER BY innodb_to_lsn DESC LIMIT 1"
    );
    let not_found = || BackupError::HistoryNotFound {
        table: TABLE.into(),
        key: key.into(),
        value: value.clone(),
    };
    let found = match server.value_with(&query, vec![Some(value.clone())]) {
        Ok(v) => v,
        // no table yet: no history
        Err(ServerError::Query {
            code: Some(ER_NO_SUCH_TABLE),
            ..
        }) => return Err(not_found()),
        Err(e) => return Err(e.into()),
    };
    let lsn: u64 = found
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(not_found)?;
    let why = format!("innodb_to_lsn {lsn} of the newest backup with {key} '{value}' in {TABLE}");
    Ok(Some((Lsn::new(lsn), why)))
}

/// The server's error code for a missing table.
const ER_NO_SUCH_TABLE: u16 = 1146;
