//! `xb-soak`: the randomized crash-and-restore campaign, run by `scripts/soak` (see its header
//! and docs/testing.md for the options). Seeded: the same `--seed` draws the same rounds.
//!
//! Exit status: 0 when every round passed, 1 when a round failed or a restore differed from
//! the reference, 2 on a usage error or when the campaign could not be set up.

#[path = "../soak/mod.rs"]
mod soak;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::{SystemTime, UNIX_EPOCH};

use soak::campaign::{Campaign, Config, STOP};
use soak::plan::Fault;

const USAGE: &str = "usage: xb-soak --xb PATH [--seed N] [--rounds N] [--minutes M] [--work DIR] \
[--tally-log FILE] [--faults all|none|KIND,KIND...]
fault kinds: kill-backup, kill-prepare, kill-track, kill-server, no-space, redo-resize";

extern "C" fn on_sigint(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

fn parse() -> Result<Config, String> {
    let mut args = std::env::args().skip(1);
    let mut seed = None;
    let mut rounds = None;
    let mut minutes = None;
    let mut work = None;
    let mut tally_log = PathBuf::from("target/soak/tally.jsonl");
    let mut xb = None;
    let mut faults = Fault::ALL.to_vec();
    let mut faults_arg = None;
    while let Some(a) = args.next() {
        let mut val = || args.next().ok_or(format!("{a} needs a value"));
        let num = |v: String| v.parse::<u64>().map_err(|e| format!("{v}: {e}"));
        match a.as_str() {
            "--seed" => seed = Some(num(val()?)?),
            "--rounds" => rounds = Some(num(val()?)?),
            "--minutes" => minutes = Some(num(val()?)?),
            "--work" => work = Some(PathBuf::from(val()?)),
            "--tally-log" => tally_log = PathBuf::from(val()?),
            "--xb" => xb = Some(PathBuf::from(val()?)),
            "--faults" => {
                let v = val()?;
                faults = match v.as_str() {
                    "all" => Fault::ALL.to_vec(),
                    "none" => vec![],
                    _ => v
                        .split(',')
                        .map(|s| Fault::parse(s).ok_or(format!("unknown fault kind {s}")))
                        .collect::<Result<_, _>>()?,
                };
                faults_arg = Some(v);
            }
            "-h" | "--help" => return Err(String::new()),
            _ => return Err(format!("unknown argument {a}")),
        }
    }
    let seed = seed.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(1)
    });
    if rounds.is_none() && minutes.is_none() {
        rounds = Some(5);
    }
    let mut repro = format!("--seed {seed}");
    if let Some(f) = &faults_arg {
        repro += &format!(" --faults {f}");
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 && faults.contains(&Fault::NoSpace) {
        eprintln!("soak: not root: no tmpfs can be mounted, no-space faults left out");
        faults.retain(|f| *f != Fault::NoSpace);
    }
    Ok(Config {
        seed,
        rounds,
        minutes,
        work: work.unwrap_or_else(|| PathBuf::from(format!("/tmp/xb-soak-{}", std::process::id()))),
        tally_log,
        xb: xb.ok_or("--xb PATH is required")?,
        always_fault: faults_arg.is_some() && !faults.is_empty(),
        faults,
        repro,
    })
}

fn main() -> ExitCode {
    let cfg = match parse() {
        Ok(c) => c,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("xb-soak: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    println!("seed: {}", cfg.seed);
    // SAFETY: the handler only stores into an atomic.
    unsafe {
        libc::signal(libc::SIGINT, on_sigint as *const () as libc::sighandler_t);
    }
    eprintln!("soak: working in {}", cfg.work.display());
    let log = cfg.tally_log.clone();
    let campaign = match Campaign::setup(cfg) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("xb-soak: cannot set up the campaign: {e}");
            return ExitCode::from(2);
        }
    };
    let tally = campaign.run();
    println!("{}", tally.text());
    if let Err(e) = tally.append_to(&log) {
        eprintln!("xb-soak: cannot append to {}: {e}", log.display());
    }
    if tally.failures > 0 || tally.mismatches > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
