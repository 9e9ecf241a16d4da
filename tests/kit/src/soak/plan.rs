//! What a round does, drawn from its generator before it starts.

use std::fmt;

use super::rng::Rng;

/// A fault the campaign injects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fault {
    /// `kill -9` of `xb backup` at a random moment; then a new backup.
    KillBackup,
    /// `kill -9` of `xb prepare` (route xb); then the same prepare again, which resumes.
    KillPrepare,
    /// `kill -9` of `xb track --follow`; then it is started again.
    KillTrack,
    /// `kill -9` of the server (under the load, sometimes during a backup); then its recovery.
    KillServer,
    /// A backup into a tmpfs too small for it: it must fail cleanly.
    NoSpace,
    /// `SET GLOBAL innodb_log_file_size` while the backup runs.
    RedoResize,
}

impl Fault {
    /// Every kind.
    pub const ALL: [Fault; 6] = [
        Fault::KillBackup,
        Fault::KillPrepare,
        Fault::KillTrack,
        Fault::KillServer,
        Fault::NoSpace,
        Fault::RedoResize,
    ];

    /// The name used on the command line and in the tally.
    pub fn name(self) -> &'static str {
        match self {
            Fault::KillBackup => "kill-backup",
            Fault::KillPrepare => "kill-prepare",
            Fault::KillTrack => "kill-track",
            Fault::KillServer => "kill-server",
            Fault::NoSpace => "no-space",
            Fault::RedoResize => "redo-resize",
        }
    }

    /// The kind named `s`.
    pub fn parse(s: &str) -> Option<Fault> {
        Fault::ALL.into_iter().find(|f| f.name() == s)
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which backup a round takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A full backup: a new chain.
    Full,
    /// An incremental found by reading every page.
    IncScan,
    /// An incremental from the tracker's bitmaps.
    IncBitmap,
}

/// A round's choices.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Seconds of sysbench (and DDL) during the backup.
    pub load_secs: u64,
    /// sysbench threads.
    pub threads: u64,
    /// Random DDL beside sysbench.
    pub ddl: bool,
    /// The backup.
    pub kind: Kind,
    /// `--throttle` of the backup, MiB/s.
    pub throttle: u64,
    /// The faults of this round.
    pub faults: Vec<Fault>,
    /// Milliseconds before a `kill -9`.
    pub kill_after_ms: u64,
    /// Restore by `xb prepare` + the server's recovery.
    pub route_xb: bool,
    /// Restore by `mariabackup --prepare`.
    pub route_mariabackup: bool,
    /// `xb prepare` with `--apply-redo` (else the restored server's recovery applies the redo).
    pub apply_redo: bool,
    /// The redo log size set by a resize, MiB.
    pub resize_mib: u64,
    /// The tmpfs size of a no-space fault, MiB.
    pub tmpfs_mib: u64,
    /// Incrementals of a new chain before the next full.
    pub chain_incs: usize,
    /// Seed of the DDL thread's own generator.
    pub ddl_seed: u64,
}

/// What the plan depends on besides the generator.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    /// Incrementals in the current chain, `None` when there is no chain.
    pub chain_incs: Option<usize>,
    /// The incrementals the chain should reach before a new full.
    pub chain_target: usize,
    /// The fault kinds allowed.
    pub faults: &'a [Fault],
    /// Every round gets a fault (when `--faults` was given).
    pub always_fault: bool,
    /// Rounds since each route last ran: (xb, mariabackup).
    pub since_route: (u64, u64),
}

impl Plan {
    /// Draws a round's plan.
    pub fn draw(r: &mut Rng, cx: &Context<'_>) -> Plan {
        let kind = match cx.chain_incs {
            Some(n) if n < cx.chain_target => {
                if r.chance(0.6) {
                    Kind::IncBitmap
                } else {
                    Kind::IncScan
                }
            }
            _ => Kind::Full,
        };
        let mut faults = Vec::new();
        if !cx.faults.is_empty() && (cx.always_fault || r.chance(0.45)) {
            faults.push(*r.pick(cx.faults));
            if r.chance(0.2) {
                let f = *r.pick(cx.faults);
                if !faults.contains(&f) {
                    faults.push(f);
                }
            }
        }
        let mut route_xb = r.chance(0.55) || cx.since_route.0 >= 1;
        let route_mariabackup = r.chance(0.45) || cx.since_route.1 >= 2;
        if faults.contains(&Fault::KillPrepare) {
            route_xb = true;
        }
        Plan {
            load_secs: r.range(2, 6),
            threads: r.range(1, 3),
            ddl: r.chance(0.8),
            kind,
            throttle: *r.pick(&[8, 16, 32, 64]),
            kill_after_ms: r.range(100, 3000),
            route_xb,
            route_mariabackup,
            apply_redo: r.chance(0.25),
            resize_mib: *r.pick(&[20, 24, 32, 48, 64]),
            tmpfs_mib: r.range(2, 12),
            chain_incs: r.range(3, 6) as usize,
            ddl_seed: r.next_u64(),
            faults,
        }
    }

    /// Whether the round injects `f`.
    pub fn has(&self, f: Fault) -> bool {
        self.faults.contains(&f)
    }
}
