//! Which privileges a hot backup's account needs, and which of them `SHOW GRANTS` shows it
//! lacks (see [`PrivilegeCheck`]): the check runs before anything is copied, so that a backup
//! that would be refused halfway fails at once, naming what is missing and why.

use crate::backup::options::{HotOptions, PrivilegeCheck};
use crate::backup::MissingPrivilege;

/// One privilege needed on `*.*`.
struct Need {
    privilege: &'static str,
    or: &'static [&'static str],
    for_what: &'static str,
    required: bool,
}

const fn need(privilege: &'static str, for_what: &'static str, required: bool) -> Need {
    Need {
        privilege,
        or: &[],
        for_what,
        required,
    }
}

const fn or_super(privilege: &'static str, for_what: &'static str, required: bool) -> Need {
    Need {
        privilege,
        or: &["SUPER"],
        for_what,
        required,
    }
}

/// What a backup with `hot`'s settings needs under `check`; `log_bin`: the server writes a
/// binary log (its position is then read under the locks).
fn needs(hot: &HotOptions, log_bin: bool) -> Vec<Need> {
    let locks = !hot.no_lock();
    let mut out = Vec::new();
    match hot.privilege_check() {
        PrivilegeCheck::Off => {}
        PrivilegeCheck::Needed => {
            if locks {
                out.push(need("RELOAD", "the BACKUP STAGE locks", true));
                if log_bin {
                    out.push(or_super(
                        "BINLOG MONITOR",
                        "the binary log position (SHOW MASTER STATUS)",
                        true,
                    ));
                }
            }
            if hot.checkpoint_now() {
                out.push(need(
                    "SUPER",
                    "the checkpoint asked for (SET GLOBAL innodb_log_checkpoint_now)",
                    true,
                ));
            }
            if hot.slave_info() || hot.safe_slave_backup() {
                out.push(or_super(
                    "SLAVE MONITOR",
                    "the replica's status (SHOW SLAVE STATUS)",
                    true,
                ));
            }
            if hot.safe_slave_backup() {
                out.push(or_super(
                    "REPLICATION SLAVE ADMIN",
                    "stopping and restarting the replica's SQL thread",
                    true,
                ));
            }
            if locks && hot.kill_long_queries_timeout().is_some() {
                out.push(need(
                    "PROCESS",
                    "seeing other accounts' queries that hold up the locks, to kill them",
                    false,
                ));
                out.push(or_super(
                    "CONNECTION ADMIN",
                    "killing other accounts' queries that hold up the locks",
                    false,
                ));
            }
        }
        PrivilegeCheck::Mariabackup => {
            if locks {
                out.push(need("RELOAD", "the BACKUP STAGE locks", true));
                out.push(need("PROCESS", "the BACKUP STAGE locks", true));
            }
            if hot.safe_slave_backup() {
                out.push(need(
                    "REPLICATION SLAVE ADMIN",
                    "stopping and restarting the replica's SQL thread",
                    false,
                ));
            }
            if hot.slave_info() || hot.galera_info() || hot.safe_slave_backup() {
                out.push(need(
                    "SLAVE MONITOR",
                    "the replica's status (SHOW SLAVE STATUS)",
                    false,
                ));
            }
        }
    }
    out
}

/// The privileges `grants` (the rows of `SHOW GRANTS`) give on `*.*`, upper case;
/// `ALL PRIVILEGES` stands for every one.
fn global_privileges(grants: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for g in grants {
        let Some(rest) = g.trim().strip_prefix("GRANT ") else {
            continue;
        };
        let Some((privs, _)) = rest.split_once(" ON *.* TO ") else {
            continue;
        };
        out.extend(privs.split(", ").map(|p| p.trim().to_ascii_uppercase()));
    }
    out
}

/// Which of the privileges a backup with `hot`'s settings needs the account lacks, by its
/// grants (`SHOW GRANTS`).
pub(crate) fn missing(hot: &HotOptions, log_bin: bool, grants: &[String]) -> Vec<MissingPrivilege> {
    let have = global_privileges(grants);
    let has = |p: &str| have.iter().any(|h| h == p || h == "ALL PRIVILEGES");
    needs(hot, log_bin)
        .into_iter()
        .filter(|n| !has(n.privilege) && !n.or.iter().any(|o| has(o)))
        .map(|n| MissingPrivilege {
            privilege: n.privilege.to_string(),
            alternatives: n.or.iter().map(|s| s.to_string()).collect(),
            needed_for: n.for_what.to_string(),
            required: n.required,
        })
        .collect()
}

/// A row of `SHOW GRANTS` without its password hash (`IDENTIFIED BY PASSWORD '…'`), for
/// messages.
pub(crate) fn without_password(grant: &str) -> String {
    const MARK: &str = " IDENTIFIED BY PASSWORD '";
    match grant.find(MARK) {
        Some(at) => {
            let rest = &grant[at + MARK.len()..];
            let tail = rest.find('\'').map_or("", |end| &rest[end + 1..]);
            format!("{}{tail}", &grant[..at])
        }
        None => grant.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grants(lines: &[&str]) -> Vec<String> {
        lines.iter().map(|s| s.to_string()).collect()
    }

    fn names(m: &[MissingPrivilege]) -> Vec<(&str, bool)> {
        m.iter()
            .map(|p| (p.privilege.as_str(), p.required))
            .collect()
    }

    const NOTHING: &str =
        "GRANT USAGE ON *.* TO `backup`@`localhost` IDENTIFIED BY PASSWORD '*39C5'";

    #[test]
    fn what_each_check_asks_for() {
        let none = grants(&[NOTHING]);
        let mut h = HotOptions::default();
        assert_eq!(names(&missing(&h, false, &none)), [("RELOAD", true)]);
        assert_eq!(
            names(&missing(&h, true, &none)),
            [("RELOAD", true), ("BINLOG MONITOR", true)]
        );
        h.set_privilege_check(PrivilegeCheck::Mariabackup);
        assert_eq!(
            names(&missing(&h, true, &none)),
            [("RELOAD", true), ("PROCESS", true)]
        );
        h.set_no_lock(true);
        assert!(missing(&h, true, &none).is_empty());
        h.set_safe_slave_backup(true);
        assert_eq!(
            names(&missing(&h, true, &none)),
            [("REPLICATION SLAVE ADMIN", false), ("SLAVE MONITOR", false)]
        );
        h.set_privilege_check(PrivilegeCheck::Off);
        assert!(missing(&h, true, &none).is_empty());
    }

    #[test]
    fn grants_on_star_star_count_and_super_stands_in_where_the_server_takes_it() {
        let mut h = HotOptions::default();
        h.set_slave_info(true);
        let some = grants(&[
            "GRANT RELOAD, SUPER ON *.* TO `b`@`%`",
            "GRANT SELECT, PROCESS ON `test`.* TO `b`@`%`",
            "GRANT `r` TO `b`@`%`",
        ]);
        assert!(missing(&h, true, &some).is_empty());
        h.set_privilege_check(PrivilegeCheck::Mariabackup);
        assert_eq!(
            names(&missing(&h, true, &some)),
            [("PROCESS", true), ("SLAVE MONITOR", false)]
        );
        let all = grants(&["GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` WITH GRANT OPTION"]);
        assert!(missing(&h, true, &all).is_empty());
    }

    #[test]
    fn messages_hold_mariabackups_phrase_and_no_password_hash() {
        let m = missing(&HotOptions::default(), false, &grants(&[NOTHING]));
        assert!(m[0]
            .to_string()
            .starts_with("missing required privilege RELOAD on *.*"));
        assert_eq!(
            without_password(NOTHING),
            "GRANT USAGE ON *.* TO `backup`@`localhost`"
        );
    }
}
