//! Property test: write random runs (with rotations, restarts, empty passes and gaps), then
//! every query `[start, end]` equals the union of exactly the runs the documented rule
//! includes, or is refused exactly when the model says the range is not covered.

use std::collections::BTreeMap;
use std::path::PathBuf;

use innodb_page::Lsn;
use lsn_bitmap::{BitmapDir, BitmapWriter, ChangedPages, WriterOptions};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Event {
    /// A tracking pass advancing by `step` with these pages (empty: nothing written).
    Pass { step: u64, pages: Vec<(u32, u32)> },
    /// Server restart; `gap > 0` means the redo since the last tracked LSN was lost and the
    /// new file starts `gap` later.
    Restart { gap: u64 },
}

fn page() -> impl Strategy<Value = u32> {
    prop_oneof![
        4 => 0u32..200,
        2 => 32_400u32..32_500,
        1 => 4_294_947_000u32..u32::MAX,
    ]
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        8 => (1u64..500, proptest::collection::vec((0u32..4, page()), 0..12))
            .prop_map(|(step, pages)| Event::Pass { step, pages }),
        1 => prop_oneof![Just(0u64), 1u64..300].prop_map(|gap| Event::Restart { gap }),
    ]
}

struct ModelRun {
    file: PathBuf,
    end: Lsn,
    pages: ChangedPages,
}

struct Model {
    /// In sequence order: (path, name LSN).
    files: Vec<(PathBuf, Lsn)>,
    /// Written runs in write order.
    runs: Vec<ModelRun>,
}

impl Model {
    /// Tracked-to LSN of each file: the max of its name LSN and its runs' ends, carried over
    /// the files before it.
    fn expected(&self, b: Lsn, e: Lsn) -> Option<ChangedPages> {
        if b > e {
            return None;
        }
        if b == e {
            return Some(ChangedPages::new());
        }
        // Unknown intervals: before the first file, between files, after the last.
        let first = self.files.first()?;
        if b < first.1 {
            return None;
        }
        let mut covered = Lsn::new(0);
        for (i, (path, name)) in self.files.iter().enumerate() {
            if i > 0 && *name > covered && covered < e && *name > b {
                return None;
            }
            covered = covered.max(*name);
            for r in self.runs.iter().filter(|r| &r.file == path) {
                covered = covered.max(r.end);
            }
        }
        if covered < e {
            return None;
        }
        let mut out = ChangedPages::new();
        let first_idx = self.runs.iter().position(|r| r.end > b)?;
        for r in &self.runs[first_idx..] {
            out.union(&r.pages);
            if r.end >= e {
                return Some(out);
            }
        }
        None
    }
}

fn run_scenario(
    events: &[Event],
    max_file_size: u64,
    queries: &[(u64, u64)],
) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let opts = WriterOptions::default()
        .max_file_size(max_file_size)
        .sync(false);
    let mut w = BitmapWriter::open(dir.path(), opts).unwrap();
    let base = Lsn::new(8192);
    w.start_file(base).unwrap();
    let mut runs = Vec::new();
    let mut lsns = vec![base.get()];
    for ev in events {
        match ev {
            Event::Pass { step, pages } => {
                let start = w.tracked_lsn().unwrap();
                let end = Lsn::new(start.get() + step);
                let mut set = ChangedPages::new();
                for &(s, p) in pages {
                    set.insert(s, p);
                }
                if let Some(written) = w.write_run(end, &set).unwrap() {
                    runs.push(ModelRun {
                        file: written.path,
                        end,
                        pages: set,
                    });
                }
                lsns.push(end.get());
            }
            Event::Restart { gap } => {
                drop(w);
                w = BitmapWriter::open(dir.path(), opts).unwrap();
                let resume = w.recovery().last_tracked_lsn.unwrap();
                w.start_file(Lsn::new(resume.get() + gap)).unwrap();
                lsns.push(resume.get() + gap);
            }
        }
    }
    drop(w);
    let bitmaps = BitmapDir::open(dir.path()).unwrap();
    let model = Model {
        files: bitmaps
            .files()
            .iter()
            .map(|f| (f.path.clone(), f.name.start_lsn))
            .collect(),
        runs,
    };
    prop_assert!(bitmaps.verify().unwrap().is_clean());

    // Queries: the given random ones plus every pair of interesting LSNs (±1).
    let mut points: Vec<u64> = Vec::new();
    for &l in &lsns {
        points.extend([l.saturating_sub(1), l, l + 1]);
    }
    points.sort_unstable();
    points.dedup();
    let mut pairs: Vec<(u64, u64)> = queries.to_vec();
    let step = (points.len() / 12).max(1);
    for &b in points.iter().step_by(step) {
        for &e in points.iter().step_by(step) {
            pairs.push((b, e));
        }
    }
    let mut answered = 0;
    for (b, e) in pairs {
        let (b, e) = (Lsn::new(b), Lsn::new(e));
        let got = bitmaps.changed_pages(b, e);
        let want = model.expected(b, e);
        match (&got, &want) {
            (Ok(g), Some(w)) => {
                prop_assert_eq!(g, w, "query {}..{}", b, e);
                answered += 1;
            }
            (Err(_), None) => {}
            _ => prop_assert!(false, "query {}..{}: got {:?}, model {:?}", b, e, got, want),
        }
    }
    let _ = answered;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn query_equals_union_of_included_runs(
        events in proptest::collection::vec(event(), 1..24),
        max_file_size in prop_oneof![Just(4096u64), 8192u64..20_000, Just(1u64 << 30)],
        queries in proptest::collection::vec((8000u64..14_000, 8000u64..14_000), 0..8),
    ) {
        run_scenario(&events, max_file_size, &queries)?;
    }
}

/// The same without restarts or gaps: every query inside the tracked range is answered.
#[test]
fn contiguous_history_answers_every_range() {
    let events: Vec<Event> = (0..30)
        .map(|i| Event::Pass {
            step: 10 + i,
            pages: if i % 3 == 0 {
                vec![]
            } else {
                vec![(i as u32 % 3, i as u32 * 1000)]
            },
        })
        .collect();
    run_scenario(&events, 1 << 30, &[]).unwrap();
    // Directly: all ranges inside [8192, last end] are answered.
    let dir = tempfile::tempdir().unwrap();
    let mut w = BitmapWriter::open(
        dir.path(),
        WriterOptions::default().max_file_size(1 << 30).sync(false),
    )
    .unwrap();
    w.start_file(Lsn::new(100)).unwrap();
    let mut model: BTreeMap<u64, ChangedPages> = BTreeMap::new();
    for i in 1..=20u64 {
        let mut p = ChangedPages::new();
        p.insert(1, i as u32);
        w.write_run(Lsn::new(100 + 10 * i), &p).unwrap();
        model.insert(100 + 10 * i, p);
    }
    let d = BitmapDir::open(dir.path()).unwrap();
    for b in 100..=300u64 {
        for e in (b..=300).step_by(7) {
            let got = d.changed_pages(Lsn::new(b), Lsn::new(e)).unwrap();
            let mut want = ChangedPages::new();
            if b < e {
                for (&end, p) in &model {
                    if end > b {
                        want.union(p);
                        if end >= e {
                            break;
                        }
                    }
                }
            }
            assert_eq!(got, want, "{b}..{e}");
        }
    }
}
