//! The values mariabackup 10.11's options take, checked as my_getopt checks them
//! (mysys/my_getopt.c): numbers with an optional `K`/`M`/`G`/`T`/`P`/`E` suffix, unsigned or
//! signed, decimals, and enumerations (a name, case-insensitive, or a unique prefix of one, or
//! the index of one). A bad value ends the run with my_getopt's status before anything is done:
//! 9 for an unknown suffix, 13 for an invalid value, 3 for an ambiguous name. A boolean's
//! invalid value is not an error: my_getopt ignores the option with a warning (parse.rs).

use super::Failure;

/// What an option's value must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Any text (paths, names, lists; some are checked later, by the mode).
    Text,
    /// A number that may not be negative.
    Unsigned,
    /// A number that may be negative (out of range: adjusted by mariabackup, so accepted).
    Signed,
    /// A decimal number.
    Decimal,
    /// One of these names (or its index).
    Enum(&'static [&'static str]),
}

/// The kind of the value of option `name` (mariabackup 10.11.19, as `--help` and trials show).
pub fn kind(name: &str) -> Kind {
    match name {
        "use-memory"
        | "compress-threads"
        | "compress-chunk-size"
        | "port"
        | "ftwrl-wait-timeout"
        | "startup-wait-timeout"
        | "safe-slave-backup-timeout"
        | "parallel"
        | "innodb-autoextend-increment"
        | "innodb-io-capacity"
        | "innodb-log-buffer-size"
        | "innodb-log-file-size"
        | "innodb-log-write-ahead-size"
        | "innodb-undo-tablespaces"
        | "innodb-compression-level"
        | "open-files-limit"
        | "innodb-force-recovery" => Kind::Unsigned,
        "throttle"
        | "log-copy-interval"
        | "kill-long-queries-timeout"
        | "ftwrl-wait-threshold"
        | "innodb-file-io-threads"
        | "innodb-read-io-threads"
        | "innodb-write-io-threads"
        | "innodb-page-size" => Kind::Signed,
        "innodb-max-dirty-pages-pct" => Kind::Decimal,
        "innodb-flush-method" => Kind::Enum(&[
            "fsync",
            "O_DSYNC",
            "littlesync",
            "nosync",
            "O_DIRECT",
            "O_DIRECT_NO_FSYNC",
        ]),
        "kill-long-query-type" => Kind::Enum(&["ALL", "UPDATE", "SELECT"]),
        "binlog-info" => Kind::Enum(&["off", "lockless", "on", "auto"]),
        "innodb-checksum-algorithm" => {
            Kind::Enum(&["crc32", "strict_crc32", "full_crc32", "strict_full_crc32"])
        }
        "innodb-linux-aio" => Kind::Enum(&["auto", "io_uring", "aio"]),
        _ => Kind::Text,
    }
}

fn error(code: u8, name: &str, value: &str) -> Failure {
    Failure::new(
        code,
        format!(
            "Error while setting value '{value}' to '{}'",
            name.replace('-', "_")
        ),
    )
}

/// A number as my_getopt reads one: digits, then at most one size suffix.
fn number(name: &str, value: &str, signed: bool) -> Result<u128, Failure> {
    let body = match value.strip_prefix('-') {
        Some(_) if !signed => {
            return Err(Failure::new(
                13,
                format!("Incorrect unsigned value: '{value}' for {name}"),
            ))
        }
        Some(b) => b,
        None => value.strip_prefix('+').unwrap_or(value),
    };
    let digits = body.len() - body.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let n: u128 = body[..digits].parse().unwrap_or(0);
    let shift = match body[digits..].chars().next() {
        None => 0,
        Some(c) => match c.to_ascii_uppercase() {
            'K' => 10,
            'M' => 20,
            'G' => 30,
            'T' => 40,
            'P' => 50,
            'E' => 60,
            _ => {
                return Err(Failure::new(
                    9,
                    format!(
                        "Unknown suffix '{c}' used for variable '{name}' (value '{value}'). \
                         Legal suffix characters are: K, M, G, T, P, E"
                    ),
                ))
            }
        },
    };
    Ok(n.saturating_mul(1u128 << shift))
}

/// Checks `value` for option `name`: Ok, or the failure mariabackup ends with.
pub fn check(name: &str, value: &str) -> Result<(), Failure> {
    match kind(name) {
        Kind::Text => Ok(()),
        Kind::Unsigned => number(name, value, false).map(|_| ()),
        Kind::Signed => number(name, value, true).map(|_| ()),
        Kind::Decimal => value.trim().parse::<f64>().map(|_| ()).map_err(|_| {
            Failure::new(
                13,
                format!(
                    "Invalid decimal value for option '{}'",
                    name.replace('-', "_")
                ),
            )
        }),
        Kind::Enum(names) => {
            if names.iter().any(|n| n.eq_ignore_ascii_case(value)) {
                return Ok(());
            }
            let prefixed = names
                .iter()
                .filter(|n| {
                    n.len() > value.len()
                        && !value.is_empty()
                        && n[..value.len()].eq_ignore_ascii_case(value)
                })
                .count();
            match prefixed {
                1 => Ok(()),
                0 => {
                    // the index of a name (an empty value is index 0)
                    let index = if value.is_empty() {
                        Some(0)
                    } else if value.bytes().all(|b| b.is_ascii_digit()) {
                        value.parse::<usize>().ok()
                    } else {
                        None
                    };
                    match index {
                        Some(i) if i < names.len() => Ok(()),
                        _ => Err(error(13, name, value)),
                    }
                }
                _ => Err(error(3, name, value)),
            }
        }
    }
}

/// The number `value` of an unsigned or signed option (already checked), saturated to `u64`.
pub fn unsigned(name: &str, value: &str) -> u64 {
    number(name, value, true)
        .map(|n| {
            if value.starts_with('-') {
                0
            } else {
                n.min(u64::MAX as u128) as u64
            }
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(name: &str, value: &str) -> u8 {
        check(name, value).err().map(|f| f.code).unwrap_or(0)
    }

    /// Each case as mariabackup 10.11.19 ends on it (run by hand against the real one).
    #[test]
    fn values_as_my_getopt() {
        for (name, value, want) in [
            ("innodb-flush-method", "blablabla", 13),
            ("innodb-flush-method", "O_DIRECT", 0),
            ("innodb-flush-method", "o_direct", 0),
            ("innodb-flush-method", "o_direct_no", 0),
            ("innodb-flush-method", "O_D", 3),
            ("innodb-flush-method", "5", 0),
            ("innodb-flush-method", "6", 13),
            ("innodb-flush-method", "-1", 13),
            ("innodb-flush-method", "", 0),
            ("kill-long-query-type", "bogus", 13),
            ("kill-long-query-type", "all", 0),
            ("binlog-info", "bogus", 13),
            ("innodb-checksum-algorithm", "innodb", 13),
            ("innodb-linux-aio", "native", 13),
            ("innodb-linux-aio", "2", 0),
            ("parallel", "12x", 9),
            ("parallel", "abc", 9),
            ("parallel", "0x10", 9),
            ("parallel", "-1", 13),
            ("parallel", "1k", 0),
            ("parallel", "", 0),
            ("port", "-5", 13),
            ("use-memory", "1G", 0),
            ("use-memory", "1Q", 9),
            ("throttle", "-1", 0),
            ("innodb-page-size", "-1", 0),
            ("innodb-force-recovery", "x", 9),
            ("innodb-max-dirty-pages-pct", "abc", 13),
            ("innodb-max-dirty-pages-pct", "5.5", 0),
            ("ftwrl-wait-query-type", "x", 0),
            ("target-dir", "anything", 0),
        ] {
            assert_eq!(code(name, value), want, "--{name}={value}");
        }
        assert_eq!(unsigned("innodb-force-recovery", "2"), 2);
        assert_eq!(unsigned("parallel", "1k"), 1024);
    }
}
