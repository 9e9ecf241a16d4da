//! What a hot backup records about replication, with mariabackup's option names and files:
//!
//! * `--slave-info` ([`HotOptions::set_slave_info`](crate::backup::HotOptions::set_slave_info)):
//!   where the replica's SQL thread stands in each source's binary log, read under
//!   `BACKUP STAGE BLOCK_COMMIT` (so it matches the data: the replica commits nothing
//!   meanwhile) and written to `xtrabackup_slave_info` as the statements that make a server
//!   restored from the backup replicate from there: per connection of `SHOW ALL SLAVES STATUS`
//!   (the nameless one and the named ones of multi-source replication), either
//!   `CHANGE MASTER ['name'] TO master_use_gtid = slave_pos;` after one
//!   `SET GLOBAL gtid_slave_pos = '...';` (connections with `Using_Gtid` other than `No`, when
//!   `@@gtid_slave_pos` is not empty), or
//!   `CHANGE MASTER ['name'] TO MASTER_LOG_FILE='...', MASTER_LOG_POS=...;`
//!   (`Relay_Master_Log_File`, `Exec_Master_Log_Pos`; every connection when `@@gtid_slave_pos`
//!   is empty: MariaDB 10.10+ sets `Using_Gtid` to `Slave_Pos` by default, also on replicas
//!   that never replicated by GTID). A server that replicates from nothing gets no file. mariabackup 10.11 writes the same lines (it quotes connection names without
//!   escaping; xb escapes `'` and `\` so that the file stays valid SQL). The position is not
//!   added to `xtrabackup_info`: mariabackup 10.11 does not record it there either (it only
//!   logs it).
//! * `--safe-slave-backup`: before the backup starts, the replica's SQL thread is stopped
//!   until no temporary table of the replica is open (`Slave_open_temp_tables` = 0: such
//!   tables live only in the server's memory and would be lost by a restore): while some are,
//!   the thread runs for 3 s and is stopped again, up to the timeout (default 300 s), after
//!   which the backup fails. The thread is restarted when the backup ends (also when it
//!   fails) if it was running. Only the default connection is checked (`SHOW SLAVE STATUS`),
//!   as mariabackup does.
//! * `--galera-info`: on a Galera node, `wsrep_local_state_uuid:wsrep_last_committed
//!   wsrep_gtid_domain_id` under `BLOCK_COMMIT`, written to `xtrabackup_galera_info` and
//!   `donor_galera_info` (mariabackup 10.11 writes both, with that one line). A server that
//!   is not a Galera node gets no file and a note, as with mariabackup.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::backup::server::{NamedRow, Server};
use crate::backup::sink::{put, Sink};
use crate::backup::{BackupError, HotOptions, ReplicaPosition, ServerError};
use crate::progress::{Cancel, Event, Progress};

/// The file `--slave-info` writes.
pub(crate) const SLAVE_INFO: &str = "xtrabackup_slave_info";
/// The files `--galera-info` writes (the same line in both).
pub(crate) const GALERA_INFO: [&str; 2] = ["xtrabackup_galera_info", "donor_galera_info"];

/// How long the SQL thread runs between two checks of `Slave_open_temp_tables`.
const TEMP_TABLE_RETRY: Duration = Duration::from_secs(3);

/// One replication connection: a row of `SHOW ALL SLAVES STATUS`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Connection {
    /// `Connection_name` (empty: the default connection).
    pub name: String,
    /// `Relay_Master_Log_File`: the source's binary log of the last event executed.
    pub file: String,
    /// `Exec_Master_Log_Pos`: the position after it.
    pub position: String,
    /// `Using_Gtid` is not `No`: the connection replicates by GTID.
    pub gtid: bool,
}

impl Connection {
    fn from_row(row: &NamedRow) -> Connection {
        let text = |name: &str| row.get(name).unwrap_or_default().to_string();
        let using = text("Using_Gtid");
        Connection {
            name: text("Connection_name"),
            file: text("Relay_Master_Log_File"),
            position: text("Exec_Master_Log_Pos"),
            gtid: !using.is_empty() && !using.eq_ignore_ascii_case("No"),
        }
    }
}

/// A SQL string literal: `'`, with `\` and `'` escaped.
fn quoted(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// What `--slave-info` records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SlaveInfo {
    /// The contents of `xtrabackup_slave_info`.
    pub statements: String,
    /// The position in words, one clause per connection (as mariabackup logs it).
    pub summary: String,
}

/// The `xtrabackup_slave_info` of a replica with these connections and `@@gtid_slave_pos`;
/// `None` without connections.
pub(crate) fn slave_info(gtid_slave_pos: &str, connections: &[Connection]) -> Option<SlaveInfo> {
    if connections.is_empty() {
        return None;
    }
    let mut statements = String::new();
    let mut summary = Vec::new();
    // by GTID only with a position to start from: with an empty gtid_slave_pos (a replica
    // never started by GTID, or reset) each connection is recorded by file and position
    let by_gtid = |c: &Connection| c.gtid && !gtid_slave_pos.is_empty();
    if connections.iter().any(by_gtid) {
        let pos = quoted(gtid_slave_pos);
        statements.push_str(&format!("SET GLOBAL gtid_slave_pos = {pos};\n"));
        summary.push(format!("gtid_slave_pos {pos}"));
    }
    for c in connections {
        let name = quoted(&c.name);
        let target = if c.name.is_empty() {
            String::new()
        } else {
            format!("{name} ")
        };
        if by_gtid(c) {
            statements.push_str(&format!(
                "CHANGE MASTER {target}TO master_use_gtid = slave_pos;\n"
            ));
            summary.push(format!("master {name} master_use_gtid = slave_pos"));
        } else {
            let (file, pos) = (quoted(&c.file), &c.position);
            statements.push_str(&format!(
                "CHANGE MASTER {target}TO MASTER_LOG_FILE={file}, MASTER_LOG_POS={pos};\n"
            ));
            summary.push(format!("master {name} filename {file} position '{pos}'"));
        }
    }
    Some(SlaveInfo {
        statements,
        summary: summary.join("; "),
    })
}

/// Reads the replica's position (call it under `BLOCK_COMMIT`); `None` when the server
/// replicates from nothing.
pub(crate) fn read_slave_info(server: &mut Server) -> Result<Option<SlaveInfo>, ServerError> {
    let rows = server.named_rows("SHOW ALL SLAVES STATUS")?;
    let connections: Vec<Connection> = rows.iter().map(Connection::from_row).collect();
    if connections.is_empty() {
        return Ok(None);
    }
    let gtid_slave_pos = server
        .value("SELECT @@GLOBAL.gtid_slave_pos")?
        .unwrap_or_default();
    Ok(slave_info(&gtid_slave_pos, &connections))
}

/// What `--galera-info` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Galera {
    /// The line of `xtrabackup_galera_info` (with its newline).
    State(String),
    /// Why there is none.
    Missing(String),
}

/// The Galera line from the server's `wsrep` status and variables.
pub(crate) fn galera_line(status: &NamedRow, variables: &NamedRow) -> Galera {
    let (Some(uuid), Some(seqno)) = (
        status.get("wsrep_local_state_uuid"),
        status.get("wsrep_last_committed"),
    ) else {
        let on = variables.get("wsrep_on").unwrap_or("absent");
        return Galera::Missing(format!(
            "the server is not a Galera node (wsrep_on {on}, no wsrep_local_state_uuid or \
             wsrep_last_committed status)"
        ));
    };
    let Some(domain) = variables.get("wsrep_gtid_domain_id") else {
        return Galera::Missing("the server has no wsrep_gtid_domain_id variable".into());
    };
    Galera::State(format!("{uuid}:{seqno} {domain}\n"))
}

/// Reads the Galera node's state (call it under `BLOCK_COMMIT`).
pub(crate) fn read_galera(server: &mut Server) -> Result<Galera, ServerError> {
    let status = server.name_values("SHOW GLOBAL STATUS LIKE 'wsrep%'")?;
    let variables = server.name_values("SHOW GLOBAL VARIABLES LIKE 'wsrep%'")?;
    Ok(galera_line(&status, &variables))
}

/// The replica's SQL thread as `--safe-slave-backup` left it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum SqlThread {
    /// The server is not a replica, or nothing was asked: nothing was done.
    #[default]
    NotReplica,
    /// Stopped by xb: to be restarted at the end.
    Stopped,
    /// It was not running: left so.
    WasStopped,
}

fn open_temp_tables(server: &mut Server) -> Result<u64, ServerError> {
    server.status_u64("Slave_open_temp_tables")
}

/// Stops the replica's SQL thread once no temporary table of the replica is open, letting it
/// run [`TEMP_TABLE_RETRY`] at a time meanwhile, for up to `timeout`. On timeout (or cancel)
/// the thread is restarted if it was running, and the backup fails.
pub(crate) fn stop_sql_thread_safely(
    server: &mut Server,
    timeout: Duration,
    cancel: &Cancel,
) -> Result<SqlThread, BackupError> {
    let rows = server.named_rows("SHOW SLAVE STATUS")?;
    let Some(row) = rows.first() else {
        return Ok(SqlThread::NotReplica);
    };
    let running = row
        .get("Slave_SQL_Running")
        .is_some_and(|v| v.eq_ignore_ascii_case("Yes"));
    if running {
        server.exec("STOP SLAVE SQL_THREAD")?;
    }
    let state = if running {
        SqlThread::Stopped
    } else {
        SqlThread::WasStopped
    };
    let started = Instant::now();
    let outcome = wait_no_temp_tables(server, timeout, cancel);
    match outcome {
        Ok(0) => Ok(state),
        other => {
            if running {
                server.exec("START SLAVE SQL_THREAD")?;
            }
            let open = other?;
            Err(ServerError::Unexpected {
                what: format!(
                    "the replica still had {open} temporary tables open \
                     (Slave_open_temp_tables) after {} s of waiting for none; a backup now \
                     would lose them, so it stops here{}",
                    started.elapsed().as_secs(),
                    if running {
                        " (the replica's SQL thread runs again)"
                    } else {
                        ""
                    }
                ),
            }
            .into())
        }
    }
}

/// The temporary tables still open when none were left or the time ran out.
fn wait_no_temp_tables(
    server: &mut Server,
    timeout: Duration,
    cancel: &Cancel,
) -> Result<u64, BackupError> {
    let mut attempts = (timeout.as_secs() / TEMP_TABLE_RETRY.as_secs()).max(1);
    let mut open = open_temp_tables(server)?;
    while open > 0 && attempts > 0 {
        attempts -= 1;
        server.exec("START SLAVE SQL_THREAD")?;
        let until = Instant::now() + TEMP_TABLE_RETRY;
        while Instant::now() < until && !cancel.is_cancelled() {
            std::thread::sleep(Duration::from_millis(50));
        }
        server.exec("STOP SLAVE SQL_THREAD")?;
        if cancel.is_cancelled() {
            return Err(BackupError::Cancelled);
        }
        open = open_temp_tables(server)?;
    }
    Ok(open)
}

/// Restarts the SQL thread if [`stop_sql_thread_safely`] stopped it.
pub(crate) fn restart_sql_thread(server: &mut Server, state: SqlThread) -> Result<(), ServerError> {
    if state == SqlThread::Stopped {
        server.exec("START SLAVE SQL_THREAD")?;
    }
    Ok(())
}

/// What the consistent point recorded about replication, for the options asked.
#[derive(Debug, Default)]
pub(crate) struct Recorded {
    /// `--slave-info` asked: the position (`None`: the server replicates from nothing).
    slave: Option<Option<SlaveInfo>>,
    /// `--galera-info` asked: the node's state.
    galera: Option<Galera>,
}

impl Recorded {
    /// Reads what `hot` asks for (call it under `BLOCK_COMMIT`).
    pub(crate) fn read(server: &mut Server, hot: &HotOptions) -> Result<Recorded, ServerError> {
        Ok(Recorded {
            slave: if hot.slave_info() {
                Some(read_slave_info(server)?)
            } else {
                None
            },
            galera: if hot.galera_info() {
                Some(read_galera(server)?)
            } else {
                None
            },
        })
    }

    /// Writes the files and says what was recorded, or why nothing was.
    pub(crate) fn write(
        &self,
        sink: &mut dyn Sink,
        progress: &dyn Progress,
    ) -> Result<(), BackupError> {
        let note = |message: &str| progress.event(Event::Note { message });
        match &self.slave {
            Some(Some(info)) => {
                put(sink, Path::new(SLAVE_INFO), info.statements.as_bytes())?;
                note(&format!(
                    "replica position recorded in {SLAVE_INFO}: {}",
                    info.summary
                ));
            }
            Some(None) => note(&format!(
                "the server replicates from no source (SHOW ALL SLAVES STATUS is empty): no \
                 {SLAVE_INFO} written"
            )),
            None => {}
        }
        match &self.galera {
            Some(Galera::State(line)) => {
                for name in GALERA_INFO {
                    put(sink, Path::new(name), line.as_bytes())?;
                }
                note(&format!(
                    "Galera state recorded in {}: {}",
                    GALERA_INFO[0],
                    line.trim_end()
                ));
            }
            Some(Galera::Missing(why)) => {
                note(&format!("{why}: no {} written", GALERA_INFO[0]));
            }
            None => {}
        }
        Ok(())
    }

    /// What `--slave-info` found, when asked for.
    pub(crate) fn replica(&self) -> Option<ReplicaPosition> {
        self.slave.as_ref().map(|s| match s {
            Some(info) => ReplicaPosition::Recorded(info.summary.clone()),
            None => ReplicaPosition::NotAReplica,
        })
    }

    /// The Galera state line, when recorded.
    pub(crate) fn galera_state(&self) -> Option<String> {
        match &self.galera {
            Some(Galera::State(line)) => Some(line.trim_end().to_string()),
            _ => None,
        }
    }
}

/// With `--safe-slave-backup`: stops the replica's SQL thread as
/// [`stop_sql_thread_safely`] does and says so.
pub(crate) fn safe_slave(
    server: &mut Server,
    hot: &HotOptions,
    cancel: &Cancel,
    progress: &dyn Progress,
) -> Result<SqlThread, BackupError> {
    if !hot.safe_slave_backup() {
        return Ok(SqlThread::NotReplica);
    }
    let state = stop_sql_thread_safely(server, hot.safe_slave_backup_timeout(), cancel)?;
    let message = match state {
        SqlThread::NotReplica => {
            "the server is not a replica: no wait for its temporary tables (safe slave backup)"
        }
        SqlThread::Stopped => {
            "the replica's SQL thread is stopped with no temporary table open; it runs again \
             when the backup ends"
        }
        SqlThread::WasStopped => {
            "the replica's SQL thread was not running, and no temporary table is open"
        }
    };
    progress.event(Event::Note { message });
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(name: &str, file: &str, pos: &str, gtid: bool) -> Connection {
        Connection {
            name: name.into(),
            file: file.into(),
            position: pos.into(),
            gtid,
        }
    }

    #[test]
    fn slave_info_without_lock_needs_safe_slave_backup() {
        let mut h = HotOptions::default();
        h.set_slave_info(true).set_no_lock(true);
        assert!(matches!(
            h.check(),
            Err(BackupError::ConflictingOptions { .. })
        ));
        h.set_safe_slave_backup(true);
        assert!(h.check().is_ok());
        assert!(HotOptions::default().set_no_lock(true).check().is_ok());
    }

    #[test]
    fn no_connection_no_file() {
        assert_eq!(slave_info("0-1-5", &[]), None);
    }

    #[test]
    fn file_and_position_without_gtid() {
        let i = slave_info("0-1-5", &[conn("", "mysql-bin.000001", "1159", false)]).unwrap();
        assert_eq!(
            i.statements,
            "CHANGE MASTER TO MASTER_LOG_FILE='mysql-bin.000001', MASTER_LOG_POS=1159;\n"
        );
        assert_eq!(
            i.summary,
            "master '' filename 'mysql-bin.000001' position '1159'"
        );
    }

    #[test]
    fn gtid_and_named_connections_as_mariabackup_writes_them() {
        let i = slave_info(
            "0-1-5",
            &[
                conn("", "mysql-bin.000001", "1159", false),
                conn("m2", "", "0", true),
            ],
        )
        .unwrap();
        assert_eq!(
            i.statements,
            "SET GLOBAL gtid_slave_pos = '0-1-5';\n\
             CHANGE MASTER TO MASTER_LOG_FILE='mysql-bin.000001', MASTER_LOG_POS=1159;\n\
             CHANGE MASTER 'm2' TO master_use_gtid = slave_pos;\n"
        );
        assert_eq!(
            i.summary,
            "gtid_slave_pos '0-1-5'; master '' filename 'mysql-bin.000001' position '1159'; \
             master 'm2' master_use_gtid = slave_pos"
        );
    }

    /// mtr's slave_info_norpl: 10.11's connections use GTID by default, but with no
    /// gtid_slave_pos each is recorded by file and position, as mariabackup does.
    #[test]
    fn gtid_only_with_a_gtid_slave_pos() {
        let conns = [conn("", "", "0", true), conn("master2", "", "0", true)];
        let i = slave_info("", &conns).unwrap();
        assert_eq!(
            i.statements,
            "CHANGE MASTER TO MASTER_LOG_FILE='', MASTER_LOG_POS=0;\n\
             CHANGE MASTER 'master2' TO MASTER_LOG_FILE='', MASTER_LOG_POS=0;\n"
        );
        assert_eq!(
            i.summary,
            "master '' filename '' position '0'; master 'master2' filename '' position '0'"
        );
        let mixed = [
            conn("", "", "0", true),
            conn("master4", "", "0", false),
            conn("master5", "", "0", true),
        ];
        let i = slave_info("1-1-1,2-2-2", &mixed).unwrap();
        assert_eq!(
            i.statements,
            "SET GLOBAL gtid_slave_pos = '1-1-1,2-2-2';\n\
             CHANGE MASTER TO master_use_gtid = slave_pos;\n\
             CHANGE MASTER 'master4' TO MASTER_LOG_FILE='', MASTER_LOG_POS=0;\n\
             CHANGE MASTER 'master5' TO master_use_gtid = slave_pos;\n"
        );
        assert_eq!(
            i.summary,
            "gtid_slave_pos '1-1-1,2-2-2'; master '' master_use_gtid = slave_pos; master \
             'master4' filename '' position '0'; master 'master5' master_use_gtid = slave_pos"
        );
    }

    #[test]
    fn names_are_escaped() {
        let i = slave_info("", &[conn("a'b\\c", "f", "4", false)]).unwrap();
        assert_eq!(
            i.statements,
            "CHANGE MASTER 'a\\'b\\\\c' TO MASTER_LOG_FILE='f', MASTER_LOG_POS=4;\n"
        );
    }

    #[test]
    fn using_gtid_values() {
        let row = |v: &str| {
            NamedRow(vec![
                ("Connection_name".into(), Some("x".into())),
                ("Using_Gtid".into(), Some(v.into())),
            ])
        };
        assert!(!Connection::from_row(&row("No")).gtid);
        assert!(Connection::from_row(&row("Slave_Pos")).gtid);
        assert!(Connection::from_row(&row("Current_Pos")).gtid);
    }

    #[test]
    fn galera_line_and_its_absence() {
        let kv = |pairs: &[(&str, &str)]| {
            NamedRow(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), Some(v.to_string())))
                    .collect(),
            )
        };
        let status = kv(&[
            (
                "wsrep_local_state_uuid",
                "e421f738-f178-11f1-90fe-3f46860411a6",
            ),
            ("wsrep_last_committed", "4"),
        ]);
        let vars = kv(&[("wsrep_on", "ON"), ("wsrep_gtid_domain_id", "0")]);
        assert_eq!(
            galera_line(&status, &vars),
            Galera::State("e421f738-f178-11f1-90fe-3f46860411a6:4 0\n".into())
        );
        let off = kv(&[("wsrep_on", "OFF"), ("wsrep_gtid_domain_id", "0")]);
        let Galera::Missing(why) = galera_line(&kv(&[("wsrep_ready", "OFF")]), &off) else {
            panic!("a server without wsrep state has no Galera line");
        };
        assert!(
            why.contains("not a Galera node") && why.contains("OFF"),
            "{why}"
        );
    }
}
