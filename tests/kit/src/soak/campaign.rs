//! The campaign: one source server with its tracker, a chain of backups, and the rounds.

use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use xb_testkit::sandbox::{Binaries, Sandbox, SandboxOptions};

use super::backup::{backup_cmd, hot_under_load, is_complete, remove, report, Backup, Chain};
use super::cmd::{line, Cmds};
use super::error::{failure, Ctx, RoundError, R};
use super::faults;
use super::load;
use super::plan::{Context, Fault, Kind, Plan};
use super::restore;
use super::rng::Rng;
use super::tally::Tally;

/// The campaign's settings (from the command line).
#[derive(Debug, Clone)]
pub struct Config {
    /// The seed.
    pub seed: u64,
    /// At most this many rounds.
    pub rounds: Option<u64>,
    /// Start no round after this many minutes.
    pub minutes: Option<u64>,
    /// Where everything goes.
    pub work: PathBuf,
    /// The JSON-lines tally log.
    pub tally_log: PathBuf,
    /// The `xb` binary.
    pub xb: PathBuf,
    /// The fault kinds allowed.
    pub faults: Vec<Fault>,
    /// `--faults` was given: every round injects one.
    pub always_fault: bool,
    /// The arguments that reproduce the run, but for `--rounds`.
    pub repro: String,
}

/// Set by SIGINT.
pub static STOP: AtomicBool = AtomicBool::new(false);

/// A running campaign.
#[derive(Debug)]
pub struct Campaign {
    cfg: Config,
    opts: SandboxOptions,
    sb: Sandbox,
    tracker: Option<Child>,
    chain: Chain,
    serial: u64,
    since_route: (u64, u64),
    mariabackup: PathBuf,
    /// The counts.
    pub tally: Tally,
}

fn server_options() -> SandboxOptions {
    SandboxOptions::default()
        .option("innodb_flush_log_at_trx_commit", "2")
        .option("innodb_log_file_size", "16M")
}

impl Campaign {
    fn bitmaps(&self) -> PathBuf {
        self.cfg.work.join("bitmaps")
    }

    /// Creates the source server, its tables and the tracker.
    pub fn setup(cfg: Config) -> R<Campaign> {
        fs::create_dir_all(&cfg.work).ctx(format!("create {}", cfg.work.display()))?;
        let opts = server_options();
        let sb = Sandbox::create(cfg.work.join("server"), &opts).ctx("the source server")?;
        let mut cmds = Cmds::new(&cfg.work.join("setup"))?;
        load::setup(&mut cmds, &sb.socket())?;
        sb.sql(
            "CREATE DATABASE hold; CREATE TABLE hold.m (v INT) ENGINE=MyISAM; \
             INSERT INTO hold.m VALUES (1)",
        )
        .ctx("create hold.m")?;
        fs::create_dir_all(cfg.work.join("bitmaps")).ctx("create the bitmap directory")?;
        let mariabackup = Binaries::discover().ctx("MariaDB programs")?.mariabackup;
        let mut c = Campaign {
            tally: Tally {
                seed: cfg.seed,
                ..Tally::default()
            },
            cfg,
            opts,
            sb,
            tracker: None,
            chain: Chain::default(),
            serial: 0,
            since_route: (0, 0),
            mariabackup,
        };
        c.ensure_tracker(&mut cmds)?;
        Ok(c)
    }

    /// Starts `xb track --follow` unless it runs.
    fn ensure_tracker(&mut self, cmds: &mut Cmds) -> R<()> {
        if let Some(t) = self.tracker.as_mut() {
            match t.try_wait() {
                Ok(None) => return Ok(()),
                Ok(Some(st)) => {
                    cmds.note(&format!("xb track had exited: {st}"));
                    self.tally.event("tracker-exits");
                }
                Err(_) => {}
            }
        }
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.cfg.work.join("track.log"))
            .ctx("open track.log")?;
        let mut c = Command::new(&self.cfg.xb);
        c.args(["track", "--follow", "--interval", "0.2", "--datadir"])
            .arg(self.sb.datadir())
            .arg("--bitmap-dir")
            .arg(self.bitmaps())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log.try_clone().ctx("track.log")?);
        cmds.note(&format!("{} 2>>track.log &", line(&c)));
        self.tracker = Some(c.spawn().ctx("start xb track")?);
        Ok(())
    }

    fn new_target(&mut self, what: &str) -> PathBuf {
        self.serial += 1;
        self.cfg
            .work
            .join("chain")
            .join(format!("{:04}-{what}", self.serial))
    }

    fn check_stop(&self) -> R<()> {
        if STOP.load(Ordering::SeqCst) {
            Err(RoundError::Interrupted)
        } else {
            Ok(())
        }
    }

    /// Runs every round, then cleans up; returns the tally.
    pub fn run(mut self) -> Tally {
        let t0 = Instant::now();
        let mut n = 0;
        loop {
            n += 1;
            if self.cfg.rounds.is_some_and(|r| n > r)
                || self
                    .cfg
                    .minutes
                    .is_some_and(|m| t0.elapsed().as_secs() >= m * 60)
                || STOP.load(Ordering::SeqCst)
            {
                break;
            }
            let dir = self.cfg.work.join("rounds").join(format!("round-{n:04}"));
            let res = Cmds::new(&dir).and_then(|mut cmds| self.round(n, &mut cmds));
            let res = match res {
                Err(_) if STOP.load(Ordering::SeqCst) => Err(RoundError::Interrupted),
                r => r,
            };
            match res {
                Ok(()) => {
                    self.tally.rounds += 1;
                    let _ = remove(&dir);
                }
                Err(RoundError::Interrupted) => {
                    eprintln!("soak: round {n} interrupted");
                    break;
                }
                Err(e) => {
                    self.tally.rounds += 1;
                    match e {
                        RoundError::Mismatch(_) => self.tally.mismatches += 1,
                        _ => self.tally.failures += 1,
                    }
                    self.keep(n, &dir, &e);
                    if self.tally.failures + self.tally.mismatches >= 20 {
                        eprintln!("soak: 20 failed rounds, stopping");
                        break;
                    }
                }
            }
            self.tally.seconds = t0.elapsed().as_secs();
        }
        self.tally.seconds = t0.elapsed().as_secs();
        self.shutdown();
        self.tally
    }

    /// Keeps what reproduces a failed round, then starts over with a new chain.
    fn keep(&mut self, n: u64, dir: &Path, e: &RoundError) {
        let kept = self.cfg.work.join("failed").join(format!("round-{n:04}"));
        let _ = fs::create_dir_all(kept.parent().unwrap_or(Path::new("/")));
        let _ = fs::rename(dir, &kept);
        // the chain's backups, and a failed backup's directory: the chain starts over anyway
        let _ = fs::rename(self.cfg.work.join("chain"), kept.join("chain"));
        self.chain.backups.clear();
        let _ = fs::copy(self.sb.error_log(), kept.join("source-mysqld.err"));
        let _ = fs::copy(self.sb.defaults_file(), kept.join("source-my.cnf"));
        let _ = fs::copy(self.cfg.work.join("track.log"), kept.join("track.log"));
        let repro = format!(
            "scripts/soak {} --rounds {n} --work {}",
            self.cfg.repro,
            self.cfg.work.join("repro").display()
        );
        let readme = format!(
            "seed {}, round {n}\n{e}\n\nreproduce: {repro}\n\
             commands.sh: every command of the round, in order (outputs NN-*.out/.err beside it);\n\
             ddl.sql: the DDL run during the backup; reference.txt: CHECKSUM TABLE at the backup's end;\n\
             chain/: the chain's backups, oldest first (the last one is the round's, complete or \
             not); ra/, rb/: the restores by xb and by mariabackup; source-mysqld.err: the \
             source server's log.\n",
            self.cfg.seed
        );
        let _ = fs::write(kept.join("README.txt"), &readme);
        eprintln!(
            "soak: round {n}: {e}\nsoak: kept {}\nsoak: reproduce: {repro}",
            kept.display()
        );
        self.tally.kept.push(kept.display().to_string());
        if !self.sb.ping() {
            let _ = self.sb.kill();
            let _ = self.sb.start();
        }
    }

    fn shutdown(&mut self) {
        if let Some(mut t) = self.tracker.take() {
            let _ = t.kill();
            let _ = t.wait();
        }
        let _ = self.sb.stop();
        for d in ["chain", "rounds", "server", "bitmaps", "setup", "tiny"] {
            let _ = remove(&self.cfg.work.join(d));
        }
        let _ = fs::remove_file(self.cfg.work.join("track.log"));
        let _ = fs::remove_dir(&self.cfg.work);
    }

    /// One round.
    fn round(&mut self, n: u64, cmds: &mut Cmds) -> R<()> {
        let mut rng = Rng::for_round(self.cfg.seed, n);
        let plan = Plan::draw(
            &mut rng,
            &Context {
                chain_incs: (!self.chain.backups.is_empty()).then(|| self.chain.backups.len() - 1),
                chain_target: self.chain.target,
                faults: &self.cfg.faults,
                always_fault: self.cfg.always_fault,
                since_route: self.since_route,
            },
        );
        let seed = rng.next_u64();
        cmds.note(&format!("seed {} round {n}: {plan:?}", self.cfg.seed));
        eprintln!(
            "soak: round {n}: {:?}{}{}, load {} s{}{}",
            plan.kind,
            if plan.route_xb { ", restore xb" } else { "" },
            if plan.route_mariabackup {
                ", restore mariabackup"
            } else {
                ""
            },
            plan.load_secs,
            if plan.ddl { " + DDL" } else { "" },
            plan.faults
                .iter()
                .map(|f| format!(", fault {f}"))
                .collect::<String>()
        );
        if !self.sb.ping() {
            return failure("the source server does not answer at the round's start");
        }
        self.ensure_tracker(cmds)?;
        let xb = self.cfg.xb.clone();
        let bitmaps = self.bitmaps();
        let base = match plan.kind {
            Kind::Full => None,
            _ => self.chain.backups.last().map(|b| b.dir.clone()),
        };
        let attempt = cmds.dir().join("attempt");
        let attempt_cmd = |sb: &Sandbox, target: &Path| {
            backup_cmd(
                &xb,
                sb,
                target,
                base.as_deref(),
                plan.kind,
                &bitmaps,
                plan.throttle,
            )
        };

        if plan.has(Fault::KillTrack)
            && let Some(t) = self.tracker.as_mut()
        {
            let load = load::start_sysbench(cmds, &self.sb.socket(), plan.load_secs, 2, seed)?;
            std::thread::sleep(std::time::Duration::from_millis(plan.kill_after_ms));
            cmds.note("kill -9 of xb track");
            let _ = t.kill();
            let _ = t.wait();
            self.tally.fault("kill-track");
            std::thread::sleep(std::time::Duration::from_millis(plan.kill_after_ms / 2));
            self.tracker = None;
            self.ensure_tracker(cmds)?;
            let _ = load.wait();
        }
        self.check_stop()?;
        if plan.has(Fault::KillServer) {
            let during = rng.chance(0.5);
            let mut c = attempt_cmd(&self.sb, &attempt);
            faults::kill_server(
                cmds,
                &mut self.sb,
                &plan,
                seed,
                during.then_some((&mut c, attempt.as_path())),
            )?;
            self.tally.fault("kill-server");
            self.ensure_tracker(cmds)?;
        }
        self.check_stop()?;
        if plan.has(Fault::KillBackup) {
            let mut c = attempt_cmd(&self.sb, &attempt);
            if faults::kill_backup(cmds, &xb, &self.sb, &plan, seed, &mut c, &attempt)? {
                self.tally.fault("kill-backup");
            } else {
                self.tally.event("kill-backup-too-late");
            }
        }
        self.check_stop()?;
        if plan.has(Fault::NoSpace) {
            let mnt = self.cfg.work.join("tiny");
            let mut c = attempt_cmd(&self.sb, &mnt.join("b"));
            if faults::no_space(cmds, &mnt, &plan, &mut c)? {
                self.tally.fault("no-space");
            } else {
                self.tally.event("no-space-fitted");
            }
        }
        self.check_stop()?;

        // the round's backup, under the load, with its reference
        let what = match plan.kind {
            Kind::Full => "full",
            Kind::IncScan => "inc-scan",
            Kind::IncBitmap => "inc-bitmap",
        };
        let target = self.new_target(what);
        let mut c = attempt_cmd(&self.sb, &target);
        let socket = self.sb.socket();
        let mut resize = None;
        let hot = hot_under_load(cmds, &self.sb, &plan, seed, &mut c, || {
            if plan.has(Fault::RedoResize) {
                resize = Some(faults::resize_later(
                    &socket,
                    plan.resize_mib,
                    plan.kill_after_ms,
                ));
            }
        })?;
        if let Some(h) = resize {
            let said = h.join().unwrap_or_else(|_| "panicked".into());
            cmds.note(&said);
            if said.ends_with(": ok") {
                self.tally.fault("redo-resize");
            } else {
                return failure(format!("the redo log resize failed: {said}"));
            }
        }
        if !hot.done.status.success() || !is_complete(&target) {
            return failure(format!(
                "xb backup failed ({}): {}\n{}",
                hot.done.status,
                line(&c),
                hot.done.tail()
            ));
        }
        let rep = report(&hot.done)?;
        let label = match (plan.kind, rep.method.as_str()) {
            (Kind::Full, _) => "full".to_string(),
            (Kind::IncBitmap, "scan") => "incremental-bitmap-fell-back-to-scan".to_string(),
            (_, m) => format!("incremental-{m}"),
        };
        if let Some(why) = rep.fallback.as_ref().filter(|w| !w.is_empty()) {
            cmds.note(&format!("bitmap fallback: {why}"));
        }
        self.tally.backup(&label);
        if plan.kind == Kind::Full {
            for b in self.chain.backups.drain(..) {
                remove(&b.dir)?;
            }
            self.chain.target = plan.chain_incs;
        }
        cmds.note(&format!(
            "DDL statements: {} ok, {} failed",
            hot.ddl.0, hot.ddl.1
        ));
        self.chain.backups.push(Backup { dir: target });
        let Some(reference) = hot.reference else {
            self.tally.event("no-reference-hold-ended-early");
            return Ok(());
        };
        let text: String = reference
            .iter()
            .map(|(t, s)| format!("{t}\t{s}\n"))
            .collect();
        fs::write(cmds.dir().join("reference.txt"), text).ctx("write reference.txt")?;
        self.check_stop()?;

        // restores: when route xb fails, route mariabackup runs too, to tell a wrong backup
        // from a wrong prepare
        let mut errors = Vec::new();
        if plan.route_xb {
            self.tally.restore("xb-prepare");
            self.since_route.0 = 0;
            if let Err(e) = self.route_xb(cmds, &plan, &reference) {
                errors.push(e);
            }
        } else {
            self.since_route.0 += 1;
        }
        self.check_stop()?;
        if plan.route_mariabackup || !errors.is_empty() {
            self.tally.restore("mariabackup-prepare");
            self.since_route.1 = 0;
            match self.route_mariabackup(cmds, &reference) {
                Ok(()) if !errors.is_empty() => {
                    let e = errors.pop().expect("one");
                    let add = " [route mariabackup restores this chain correctly]";
                    errors.push(match e {
                        RoundError::Mismatch(m) => RoundError::Mismatch(m + add),
                        RoundError::Failure(m) => RoundError::Failure(m + add),
                        e => e,
                    });
                }
                Ok(()) => {}
                Err(e) => errors.push(e),
            }
        } else {
            self.since_route.1 += 1;
        }
        combine(errors)
    }

    fn route_mariabackup(&mut self, cmds: &mut Cmds, reference: &super::backup::Sums) -> R<()> {
        let dir = cmds.dir().join("rb");
        let copies = restore::copy_chain(cmds, &self.chain.backups, &dir)?;
        restore::mariabackup_restore(
            cmds,
            &self.mariabackup,
            &copies,
            &dir,
            &self.opts,
            reference,
        )?;
        restore::clean(&dir)
    }

    fn route_xb(&mut self, cmds: &mut Cmds, plan: &Plan, reference: &super::backup::Sums) -> R<()> {
        let dir = cmds.dir().join("ra");
        let copies = restore::copy_chain(cmds, &self.chain.backups, &dir)?;
        let mut c = restore::xb_prepare_cmd(&self.cfg.xb, &copies, plan.apply_redo);
        if plan.has(Fault::KillPrepare) {
            let mut s = cmds.spawn("xb-prepare-killed", &mut c)?;
            let killed = super::backup::kill_after(&mut s, plan.kill_after_ms / 10);
            let d = s.wait()?;
            if killed {
                self.tally.fault("kill-prepare");
                // the user's re-run; the server of --apply-redo dies with xb (a parent-death
                // signal) but may still hold the datadir's lock for a moment: then xb refuses
                // naming it, and a second re-run a little later must work
                std::thread::sleep(std::time::Duration::from_millis(200));
                let mut again = restore::xb_prepare_cmd(&self.cfg.xb, &copies, plan.apply_redo);
                let d = cmds.run("xb-prepare-again", &mut again)?;
                if !d.status.success() {
                    if !d.stderr.contains("is running on this directory") {
                        return failure(format!(
                            "xb prepare after a kill -9 failed: {}\n{}",
                            line(&again),
                            d.tail()
                        ));
                    }
                    self.tally.event("prepare-rerun-refused-dying-server");
                    std::thread::sleep(std::time::Duration::from_secs(2));
                    cmds.run_ok("xb-prepare-again-2", &mut again)?;
                }
            } else if !d.status.success() {
                return failure(format!("xb prepare failed: {}\n{}", line(&c), d.tail()));
            } else {
                self.tally.event("kill-prepare-too-late");
            }
        } else {
            cmds.run_ok("xb-prepare", &mut c)?;
        }
        restore::xb_restore(cmds, &self.cfg.xb, &copies[0], &dir, &self.opts, reference)?;
        restore::clean(&dir)
    }
}

/// The restores' errors as one: a mismatch if any is, both messages, and whether the other
/// route passed.
fn combine(errors: Vec<RoundError>) -> R<()> {
    match errors.len() {
        0 => Ok(()),
        1 => Err(errors.into_iter().next().expect("one")),
        _ => {
            let mismatch = errors.iter().any(|e| matches!(e, RoundError::Mismatch(_)));
            let text = errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n");
            Err(if mismatch {
                RoundError::Mismatch(text)
            } else {
                RoundError::Failure(text)
            })
        }
    }
}
