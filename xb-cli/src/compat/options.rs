//! The table of mariabackup 10.11's options (those of `mariabackup --help`) and what the
//! `mariabackup` front end does with each: the one place this is decided.
//! docs/mariabackup-options.md holds the same table in words.

/// What an option takes after its name.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Takes {
    /// A boolean: `--x`, `--x=0|1|on|off|true|false`, `--skip-x`, `--disable-x`, `--enable-x`.
    Nothing,
    /// A value: `--x=V` or `--x V` (`-cV` or `-c V` for a short option).
    Value,
    /// An optional value: `--x` or `--x=V` only.
    Optional,
}

/// Which of mariabackup's option lists holds it: server options are read from the server
/// groups of the option files (datadir, innodb_*), client options from the client groups;
/// both from mariabackup's own groups and the command line.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Class {
    /// A server option (`[mysqld]`, `[server]`, `[mariadb]`, ... and mariabackup's groups).
    Server,
    /// A client option (`[client]`, `[client-server]`, `[client-mariadb]` and mariabackup's
    /// groups).
    Client,
}

/// xb's commands an option serves (a bit set).
pub type Cmds = u8;
/// `xb backup`.
pub const B: Cmds = 1;
/// `xb prepare`.
pub const P: Cmds = 2;
/// `xb copy-back` (and `--move-back`).
pub const C: Cmds = 4;
/// `xb decompress`.
pub const D: Cmds = 8;

/// What the front end does with an option.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Status {
    /// Chooses what to do (`--backup`, `--prepare`, ...).
    Mode,
    /// Passed to the xb command(s) `cmds` as xb's option `xb` (modes.rs converts the value
    /// where the meaning differs: `--throttle`, `--tables`).
    Mapped {
        /// xb's option name, without `--`.
        xb: &'static str,
        /// The commands it serves; in the other modes it is accepted and unused, as
        /// mariabackup does.
        cmds: Cmds,
    },
    /// Read by the front end itself (which option files and groups are read).
    FrontEnd,
    /// Accepted without effect on what is backed up or restored; the note (printed when the
    /// option is given on the command line or in mariabackup's groups) says why.
    Ignored(&'static str),
    /// Refused when given (enabled, or with a value): it would change what is backed up or
    /// restored, and xb cannot do it.
    Refused(&'static str),
}

/// One option of mariabackup 10.11.
#[derive(Clone, Copy, Debug)]
pub struct Opt {
    /// Its long name (with `-`).
    pub name: &'static str,
    /// Its short letter, if any.
    pub short: Option<char>,
    /// What it takes.
    pub takes: Takes,
    /// Where option files may set it.
    pub class: Class,
    /// What xb does with it.
    pub status: Status,
}

use Class::{Client as Cl, Server as Sv};
use Status::{FrontEnd, Ignored, Mode, Refused};
use Takes::{Nothing as N, Optional as O, Value as V};

const fn opt(name: &'static str, takes: Takes, class: Class, status: Status) -> Opt {
    Opt {
        name,
        short: None,
        takes,
        class,
        status,
    }
}

const fn short(name: &'static str, c: char, takes: Takes, class: Class, status: Status) -> Opt {
    Opt {
        name,
        short: Some(c),
        takes,
        class,
        status,
    }
}

const fn map(xb: &'static str, cmds: Cmds) -> Status {
    Status::Mapped { xb, cmds }
}

const TUNING: &str = "a setting of InnoDB's buffer pool or I/O when mariabackup runs InnoDB \
                      itself; xb reads and writes files directly";
const TLS_CAPATH: &str = "xb's TLS client (rustls) reads CA certificates from one file: give \
                          --ssl-ca";
const TLS_CIPHER: &str = "xb's TLS client (rustls) negotiates its own TLS 1.2/1.3 AEAD cipher \
                          suites and cannot be limited by OpenSSL cipher names";
const TLS_CRL: &str = "xb's TLS client (rustls) does not check certificate revocation lists";
const TLS_VERSION: &str = "xb's TLS client (rustls) negotiates TLS 1.2 or 1.3 and cannot be \
                           limited to some versions";
const OLD: &str = "obsolete in mariabackup 10.11 too (no effect)";

/// Every option of `mariabackup --help` (10.11), and the hidden ones scripts use.
pub static OPTIONS: &[Opt] = &[
    // modes
    opt("backup", N, Cl, Mode),
    opt("prepare", N, Cl, Mode),
    opt("apply-log", N, Cl, Mode),
    opt("copy-back", N, Cl, Mode),
    opt("move-back", N, Cl, Mode),
    opt("decompress", N, Cl, Mode),
    opt("export", N, Cl, Mode),
    opt("print-param", N, Cl, Mode),
    short("version", 'v', N, Cl, Mode),
    short("help", '?', N, Sv, Mode),
    // where things are
    opt("target-dir", V, Cl, map("target-dir", B | P | C | D)),
    short("datadir", 'h', V, Sv, map("datadir", B | C)),
    opt(
        "innodb-data-home-dir",
        V,
        Sv,
        map("innodb-data-home-dir", B | C),
    ),
    opt(
        "innodb-log-group-home-dir",
        V,
        Sv,
        map("innodb-log-group-home-dir", B | C),
    ),
    opt(
        "innodb-undo-directory",
        V,
        Sv,
        map("innodb-undo-directory", B | C),
    ),
    opt("aria-log-dir-path", V, Sv, map("aria-log-dir-path", B | C)),
    opt("log-bin", O, Sv, map("log-bin", B)),
    // backup
    opt("incremental-lsn", V, Cl, map("incremental-lsn", B)),
    opt("incremental-basedir", V, Cl, map("incremental-basedir", B)),
    opt("incremental-dir", V, Cl, map("incremental-dir", P)),
    opt(
        "incremental-force-scan",
        N,
        Cl,
        map("incremental-force-scan", B),
    ),
    opt(
        "incremental-history-name",
        V,
        Cl,
        map("incremental-history-name", B),
    ),
    opt(
        "incremental-history-uuid",
        V,
        Cl,
        map("incremental-history-uuid", B),
    ),
    opt("history", O, Cl, map("history", B)),
    opt("extra-lsndir", V, Cl, map("extra-lsndir", B)),
    opt("tables", V, Cl, map("tables", B)),
    opt("tables-file", V, Cl, map("tables-file", B)),
    opt("tables-exclude", V, Cl, map("tables-exclude", B)),
    opt("databases", V, Cl, map("databases", B)),
    opt("databases-file", V, Cl, map("databases-file", B)),
    opt("databases-exclude", V, Cl, map("databases-exclude", B)),
    opt("stream", V, Cl, map("stream", B)),
    opt("compress", O, Cl, map("compress", B)),
    opt("compress-threads", V, Cl, map("compress-threads", B)),
    opt("parallel", V, Sv, map("parallel", B | C | D)),
    opt("throttle", V, Cl, map("throttle", B)),
    opt("log-copy-interval", V, Cl, map("log-copy-interval", B)),
    opt(
        "log-innodb-page-corruption",
        N,
        Cl,
        map("log-innodb-page-corruption", B),
    ),
    opt("no-lock", N, Cl, map("no-lock", B)),
    opt("galera-info", N, Cl, map("galera-info", B)),
    opt("slave-info", N, Cl, map("slave-info", B)),
    opt("safe-slave-backup", N, Cl, map("safe-slave-backup", B)),
    opt(
        "safe-slave-backup-timeout",
        V,
        Cl,
        map("safe-slave-backup-timeout", B),
    ),
    opt(
        "kill-long-queries-timeout",
        V,
        Cl,
        map("kill-long-queries-timeout", B),
    ),
    opt(
        "kill-long-query-type",
        V,
        Cl,
        map("kill-long-query-type", B),
    ),
    // connection
    short("user", 'u', V, Cl, map("user", B)),
    // mariabackup 10.11's --password takes a value, from the next argument if not attached
    short("password", 'p', V, Cl, map("password", B)),
    short("host", 'H', V, Cl, map("host", B)),
    short("port", 'P', V, Cl, map("port", B)),
    short("socket", 'S', V, Cl, map("socket", B)),
    opt("protocol", V, Cl, map("protocol", B)),
    // copy-back, decompress
    opt(
        "force-non-empty-directories",
        N,
        Cl,
        map("force-non-empty-directories", C),
    ),
    opt("remove-original", N, Cl, map("remove-original", D)),
    // read by the front end
    opt("defaults-group", V, Sv, FrontEnd),
    opt("login-path", V, Cl, FrontEnd),
    opt("mysqld-args", N, Sv, FrontEnd),
    // accepted, no effect on what is backed up
    short(
        "verbose",
        'V',
        N,
        Cl,
        Ignored("xb prints what it does anyway"),
    ),
    short(
        "tmpdir",
        't',
        V,
        Sv,
        Ignored("xb writes no temporary files outside the target"),
    ),
    opt(
        "use-memory",
        V,
        Cl,
        Ignored("the server that applies the redo log uses its default buffer pool"),
    ),
    opt(
        "compress-chunk-size",
        V,
        Cl,
        Ignored("xb's compression uses its own block size"),
    ),
    opt(
        "close-files",
        N,
        Cl,
        Ignored("xb opens each file only while it copies it"),
    ),
    opt("core-file", N, Cl, Ignored("xb writes no core file")),
    opt("rsync", N, Cl, Ignored(OLD)),
    opt("no-backup-locks", N, Cl, Ignored(OLD)),
    opt("no-version-check", N, Cl, Ignored(OLD)),
    opt("ftwrl-wait-query-type", V, Cl, Ignored(OLD)),
    opt("ftwrl-wait-timeout", V, Cl, map("start-lock-timeout", B)),
    opt("ftwrl-wait-threshold", V, Cl, Ignored(OLD)),
    opt("startup-wait-timeout", V, Cl, map("start-lock-timeout", B)),
    opt(
        "binlog-info",
        O,
        Cl,
        Ignored("xb records the binary log position whenever it takes the backup locks"),
    ),
    opt(
        "secure-auth",
        N,
        Cl,
        Ignored("xb never uses the pre-4.1 password protocol"),
    ),
    // TLS: modes.rs passes them only when TLS is on (--ssl, or one of them without --skip-ssl)
    opt("ssl", N, Cl, map("ssl", B)),
    opt("ssl-ca", V, Cl, map("ssl-ca", B)),
    opt("ssl-capath", V, Cl, Refused(TLS_CAPATH)),
    opt("ssl-cert", V, Cl, map("ssl-cert", B)),
    opt("ssl-cipher", V, Cl, Refused(TLS_CIPHER)),
    opt("ssl-key", V, Cl, map("ssl-key", B)),
    opt("ssl-crl", V, Cl, Refused(TLS_CRL)),
    opt("ssl-crlpath", V, Cl, Refused(TLS_CRL)),
    opt("tls-version", V, Cl, Refused(TLS_VERSION)),
    opt("extended-validation", N, Sv, map("extended-validation", B)),
    opt(
        "encrypted-backup",
        N,
        Sv,
        Ignored("xb reads the encryption flags of each tablespace"),
    ),
    opt("log", O, Sv, Ignored("ignored by mariabackup too")),
    opt("innodb", O, Sv, Ignored("ignored by mariabackup too")),
    opt("innodb-adaptive-hash-index", N, Sv, Ignored(TUNING)),
    opt("innodb-autoextend-increment", V, Sv, Ignored(TUNING)),
    opt(
        "innodb-data-file-path",
        V,
        Sv,
        map("innodb-data-file-path", C),
    ),
    opt("innodb-doublewrite", N, Sv, Ignored(TUNING)),
    opt("innodb-io-capacity", O, Sv, Ignored(TUNING)),
    opt("innodb-file-io-threads", V, Sv, Ignored(TUNING)),
    opt("innodb-read-io-threads", V, Sv, Ignored(TUNING)),
    opt("innodb-write-io-threads", V, Sv, Ignored(TUNING)),
    opt(
        "innodb-file-per-table",
        N,
        Sv,
        Ignored("a setting for new tables"),
    ),
    opt("innodb-flush-method", V, Sv, Ignored(TUNING)),
    opt("innodb-log-buffer-size", V, Sv, Ignored(TUNING)),
    opt("innodb-log-file-mmap", N, Sv, Ignored(TUNING)),
    opt("innodb-log-file-buffering", N, Sv, Ignored(TUNING)),
    opt(
        "innodb-log-file-size",
        V,
        Sv,
        Ignored("xb reads the redo log's size from its header"),
    ),
    opt("innodb-log-write-ahead-size", V, Sv, Ignored(TUNING)),
    opt("innodb-max-dirty-pages-pct", V, Sv, Ignored(TUNING)),
    opt("innodb-use-native-aio", N, Sv, Ignored(TUNING)),
    opt("innodb-linux-aio", V, Sv, Ignored(TUNING)),
    opt(
        "innodb-page-size",
        V,
        Sv,
        Ignored("xb reads the page size from the tablespaces"),
    ),
    opt("innodb-buffer-pool-filename", V, Sv, Ignored(TUNING)),
    opt(
        "innodb-checksum-algorithm",
        V,
        Sv,
        Ignored("xb checks each page with the checksum its flags say"),
    ),
    opt(
        "innodb-undo-tablespaces",
        V,
        Sv,
        Ignored("xb finds the undo tablespaces itself"),
    ),
    opt("innodb-compression-level", V, Sv, Ignored(TUNING)),
    opt(
        "plugin-dir",
        V,
        Sv,
        Ignored("the server that applies the redo log uses its own plugin directory"),
    ),
    opt(
        "open-files-limit",
        V,
        Sv,
        Ignored("xb keeps few files open"),
    ),
    opt(
        "lock-ddl-per-table",
        N,
        Sv,
        Ignored("xb tracks DDL run during the copy (or blocks it with xb backup --block-ddl)"),
    ),
    opt("check-privileges", N, Sv, map("check-privileges", B)),
    opt(
        "innodb-log-checkpoint-now",
        N,
        Sv,
        map("force-checkpoint", B),
    ),
    // refused: they change what is backed up or restored, and xb cannot do it
    opt(
        "rocksdb-backup",
        N,
        Sv,
        Refused("xb does not back up MyRocks data (#rocksdb); give --skip-rocksdb-backup"),
    ),
    opt(
        "ssl-verify-server-cert",
        N,
        Cl,
        map("ssl-verify-server-cert", B),
    ),
    opt(
        "rocksdb-datadir",
        V,
        Sv,
        Refused("xb does not back up or restore MyRocks data"),
    ),
    opt(
        "innodb-force-recovery",
        O,
        Sv,
        Ignored(
            "with --prepare (at most 1, as mariabackup) xb's apply step runs InnoDB with \
             innodb_force_recovery=3 anyway and fails when InnoDB logs an error, as \
             mariabackup's prepare does; with --backup refused (exit 1), as by mariabackup",
        ),
    ),
];

/// The option of this long name (with `-`).
pub fn by_name(name: &str) -> Option<&'static Opt> {
    OPTIONS.iter().find(|o| o.name == name)
}

/// The option of this short letter.
pub fn by_short(c: char) -> Option<&'static Opt> {
    OPTIONS.iter().find(|o| o.short == Some(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table of docs/mariabackup-options.md, from [`OPTIONS`].
    fn markdown() -> String {
        let mut out = String::from("| mariabackup 10.11 | what xb does |\n| --- | --- |\n");
        for o in OPTIONS {
            let name = match o.short {
                Some(c) => format!("`-{c}`, `--{}`", o.name),
                None => format!("`--{}`", o.name),
            };
            let what = match o.status {
                Status::Mode => match o.name {
                    "backup" => "mode: `xb backup`".to_string(),
                    "prepare" | "apply-log" => {
                        "mode: `xb prepare --apply-redo` (with `--incremental-dir`: that one \
                         incremental merged, then its redo applied)"
                            .to_string()
                    }
                    "copy-back" => "mode: `xb copy-back`".to_string(),
                    "move-back" => "mode: `xb copy-back --move-back`".to_string(),
                    "decompress" => "mode: `xb decompress`".to_string(),
                    "export" => {
                        "with `--prepare`: `xb prepare --export` (a `.cfg` file beside each \
                         table's `.ibd`, for IMPORT TABLESPACE)"
                            .to_string()
                    }
                    "print-param" => "prints the server options a copy-back needs".to_string(),
                    "version" => "prints the version".to_string(),
                    _ => "prints the options and what xb does with them".to_string(),
                },
                Status::Mapped { xb, cmds } => {
                    let names: Vec<&str> = [
                        (B, "backup"),
                        (P, "prepare"),
                        (C, "copy-back"),
                        (D, "decompress"),
                    ]
                    .iter()
                    .filter(|(b, _)| cmds & b != 0)
                    .map(|(_, n)| *n)
                    .collect();
                    format!("mapped: `--{xb}` of xb {}", names.join(", "))
                }
                Status::FrontEnd => "read by the front end (option groups)".to_string(),
                Status::Ignored(why) => format!("ignored, with a note: {why}"),
                Status::Refused(why) => format!("refused (exit 1): {why}"),
            };
            out.push_str(&format!("| {name} | {what} |\n"));
        }
        out
    }

    /// docs/mariabackup-options.md holds this table (run with XB_WRITE_DOCS=1 to rewrite it).
    #[test]
    fn the_docs_hold_the_table() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/mariabackup-options.md");
        let text = std::fs::read_to_string(&path).unwrap();
        let (begin, end) = (
            "<!-- begin options table -->\n",
            "<!-- end options table -->",
        );
        let (Some(a), Some(b)) = (text.find(begin), text.find(end)) else {
            panic!("{}: no table markers", path.display());
        };
        let table = markdown();
        if std::env::var_os("XB_WRITE_DOCS").is_some() {
            let new = format!("{}{begin}{table}{}", &text[..a], &text[b..]);
            std::fs::write(&path, new).unwrap();
            return;
        }
        assert_eq!(
            &text[a + begin.len()..b],
            table,
            "docs/mariabackup-options.md is out of date: run XB_WRITE_DOCS=1 cargo test -p \
             xb-cli --bin xb the_docs_hold_the_table"
        );
    }

    /// Every option `mariabackup --help` (10.11.19) lists is in the table, once.
    #[test]
    fn the_table_holds_mariabackup_10_11() {
        let help = "verbose version target-dir backup prepare export print-param use-memory \
            throttle log log-copy-interval extra-lsndir incremental-lsn incremental-basedir \
            incremental-dir tables tables-file databases databases-file tables-exclude \
            databases-exclude stream compress compress-threads compress-chunk-size \
            incremental-force-scan close-files core-file copy-back move-back galera-info \
            slave-info no-lock safe-slave-backup rsync no-backup-locks \
            force-non-empty-directories no-version-check decompress user host port password \
            protocol socket incremental-history-name incremental-history-uuid remove-original \
            ftwrl-wait-query-type kill-long-query-type history kill-long-queries-timeout \
            ftwrl-wait-timeout startup-wait-timeout ftwrl-wait-threshold \
            safe-slave-backup-timeout binlog-info secure-auth log-innodb-page-corruption ssl \
            ssl-ca ssl-capath ssl-cert ssl-cipher ssl-key ssl-crl ssl-crlpath tls-version \
            ssl-verify-server-cert datadir tmpdir parallel extended-validation \
            encrypted-backup log-bin innodb innodb-adaptive-hash-index \
            innodb-autoextend-increment innodb-data-file-path innodb-data-home-dir \
            innodb-doublewrite innodb-io-capacity innodb-file-io-threads \
            innodb-read-io-threads innodb-write-io-threads innodb-file-per-table \
            innodb-flush-method innodb-log-buffer-size innodb-log-file-mmap \
            innodb-log-file-buffering innodb-log-file-size innodb-log-group-home-dir \
            innodb-log-write-ahead-size innodb-max-dirty-pages-pct innodb-use-native-aio \
            innodb-linux-aio innodb-page-size innodb-buffer-pool-filename \
            innodb-checksum-algorithm innodb-undo-directory innodb-undo-tablespaces \
            innodb-compression-level defaults-group plugin-dir aria-log-dir-path \
            open-files-limit lock-ddl-per-table rocksdb-datadir rocksdb-backup \
            check-privileges innodb-force-recovery innodb-log-checkpoint-now mysqld-args help";
        for name in help.split_whitespace() {
            assert!(by_name(name).is_some(), "{name} missing");
        }
        for (i, o) in OPTIONS.iter().enumerate() {
            assert!(
                OPTIONS[i + 1..].iter().all(|p| p.name != o.name),
                "{} twice",
                o.name
            );
        }
    }
}
