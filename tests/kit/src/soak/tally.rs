//! The campaign's counts, printed at the end (and on Ctrl-C) and appended as one JSON line to
//! the tally log, so that runs can be summed.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;

/// Counts of one run.
#[derive(Debug, Default)]
pub struct Tally {
    /// The seed.
    pub seed: u64,
    /// Rounds finished (ok or not).
    pub rounds: u64,
    /// Backups kept in a chain, by `full`, `incremental-scan`, `incremental-bitmap`,
    /// `incremental-bitmap-fallback-scan`.
    pub backups: BTreeMap<String, u64>,
    /// Restores compared, by route.
    pub restores: BTreeMap<String, u64>,
    /// Faults injected, by kind.
    pub faults: BTreeMap<String, u64>,
    /// Other events worth counting (tracker restarts, rounds without a reference, …).
    pub events: BTreeMap<String, u64>,
    /// Seconds run.
    pub seconds: u64,
    /// Rounds that failed otherwise.
    pub failures: u64,
    /// Restores that differed from the reference.
    pub mismatches: u64,
    /// The directories kept for failed rounds.
    pub kept: Vec<String>,
}

fn bump(m: &mut BTreeMap<String, u64>, k: &str) {
    *m.entry(k.to_string()).or_default() += 1;
}

fn list(m: &BTreeMap<String, u64>) -> String {
    if m.is_empty() {
        return "none".into();
    }
    m.iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Tally {
    /// Counts a backup.
    pub fn backup(&mut self, k: &str) {
        bump(&mut self.backups, k);
    }

    /// Counts a restore.
    pub fn restore(&mut self, route: &str) {
        bump(&mut self.restores, route);
    }

    /// Counts a fault.
    pub fn fault(&mut self, f: &str) {
        bump(&mut self.faults, f);
    }

    /// Counts an event.
    pub fn event(&mut self, e: &str) {
        bump(&mut self.events, e);
    }

    /// The printed tally; the last line is `mismatches: N`.
    pub fn text(&self) -> String {
        let mut s = format!("soak tally (seed {})\n", self.seed);
        s += &format!("rounds: {}\n", self.rounds);
        s += &format!(
            "backups: {} ({})\n",
            self.backups.values().sum::<u64>(),
            list(&self.backups)
        );
        s += &format!(
            "restores: {} ({})\n",
            self.restores.values().sum::<u64>(),
            list(&self.restores)
        );
        s += &format!(
            "faults: {} ({})\n",
            self.faults.values().sum::<u64>(),
            list(&self.faults)
        );
        s += &format!("events: {}\n", list(&self.events));
        s += &format!("seconds: {}\n", self.seconds);
        for k in &self.kept {
            s += &format!("kept: {k}\n");
        }
        s += &format!("failures: {}\n", self.failures);
        s += &format!("mismatches: {}", self.mismatches);
        s
    }

    /// The tally as one JSON object.
    pub fn json(&self) -> String {
        serde_json::json!({
            "seed": self.seed,
            "rounds": self.rounds,
            "backups": self.backups,
            "restores": self.restores,
            "faults": self.faults,
            "events": self.events,
            "seconds": self.seconds,
            "failures": self.failures,
            "mismatches": self.mismatches,
            "kept": self.kept,
        })
        .to_string()
    }

    /// Appends [`json`](Self::json) as a line to `log` (its directory created).
    pub fn append_to(&self, log: &Path) -> std::io::Result<()> {
        if let Some(d) = log.parent() {
            fs::create_dir_all(d)?;
        }
        let mut f = OpenOptions::new().create(true).append(true).open(log)?;
        writeln!(f, "{}", self.json())
    }
}
