//! Answering "which pages changed in `[start, end]`" (spec §5.6), with the rules in the crate
//! documentation.

use innodb_page::Lsn;

use crate::block::Block;
use crate::dir::{BitmapDir, BitmapFile};
use crate::error::{DirProblem, Error};
use crate::file::{RunReader, Tail};
use crate::pageset::ChangedPages;

/// What a query read.
///
/// ```
/// use innodb_page::Lsn;
/// use lsn_bitmap::{BitmapDir, BitmapWriter, ChangedPages, WriterOptions};
/// let dir = tempfile::tempdir().unwrap();
/// let mut w = BitmapWriter::open(dir.path(), WriterOptions::default()).unwrap();
/// w.start_file(Lsn::new(1)).unwrap();
/// let mut run = ChangedPages::new();
/// run.insert(1, 1);
/// run.insert(1, 50_000);
/// w.write_run(Lsn::new(2), &run).unwrap();
/// let d = BitmapDir::open(dir.path()).unwrap();
/// let stats = d.visit_blocks(Lsn::new(1), Lsn::new(2), |_| {}).unwrap();
/// assert_eq!((stats.runs, stats.blocks), (1, 2));
/// assert_eq!(stats.last_end_lsn, Some(Lsn::new(2)));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct QueryStats {
    /// Runs whose blocks were included.
    pub runs: u64,
    /// Blocks included.
    pub blocks: u64,
    /// Start LSN of the first included run.
    pub first_start_lsn: Option<Lsn>,
    /// End LSN of the last included run.
    pub last_end_lsn: Option<Lsn>,
}

impl BitmapDir {
    /// The pages changed in `[start, end]`, or the reason the bitmap cannot answer.
    ///
    /// The result is the union of the runs from the first complete run with
    /// `end_lsn > start` through the first complete run with `end_lsn ≥ end`, in sequence
    /// and file order; an empty set if `start == end`. Any gap, corruption or inconsistency
    /// on the way is an error (see the crate documentation); never a partial set.
    ///
    /// ```
    /// use innodb_page::Lsn;
    /// use lsn_bitmap::{BitmapDir, BitmapWriter, ChangedPages, Error, WriterOptions};
    /// let dir = tempfile::tempdir().unwrap();
    /// let mut w = BitmapWriter::open(dir.path(), WriterOptions::default()).unwrap();
    /// w.start_file(Lsn::new(100)).unwrap();
    /// for (end, page) in [(200, 1), (300, 2), (400, 3)] {
    ///     let mut run = ChangedPages::new();
    ///     run.insert(0, page);
    ///     w.write_run(Lsn::new(end), &run).unwrap();
    /// }
    /// let bitmaps = BitmapDir::open(dir.path()).unwrap();
    /// let got = bitmaps.changed_pages(Lsn::new(200), Lsn::new(250)).unwrap();
    /// assert_eq!(got.space(0).unwrap().iter().collect::<Vec<_>>(), vec![2]);
    /// let got = bitmaps.changed_pages(Lsn::new(150), Lsn::new(300)).unwrap();
    /// assert_eq!(got.space(0).unwrap().iter().collect::<Vec<_>>(), vec![1, 2]);
    /// let err = bitmaps.changed_pages(Lsn::new(150), Lsn::new(500)).unwrap_err();
    /// assert!(matches!(err, Error::EndNotCovered { .. }));
    /// ```
    pub fn changed_pages(&self, start: Lsn, end: Lsn) -> Result<ChangedPages, Error> {
        let mut out = ChangedPages::new();
        self.visit_blocks(start, end, |b| {
            out.union_bitmap(b.key(), b.bitmap());
        })?;
        Ok(out)
    }

    /// Like [`BitmapDir::changed_pages`] but hands every included block to `visit` (in file
    /// order) instead of merging them. On error, blocks already visited must be discarded.
    ///
    /// ```
    /// use innodb_page::Lsn;
    /// let dir = tempfile::tempdir().unwrap();
    /// let bitmaps = lsn_bitmap::BitmapDir::open(dir.path()).unwrap();
    /// let stats = bitmaps.visit_blocks(Lsn::new(5), Lsn::new(5), |_| {}).unwrap();
    /// assert_eq!(stats.runs, 0);
    /// ```
    pub fn visit_blocks(
        &self,
        start: Lsn,
        end: Lsn,
        mut visit: impl FnMut(&Block<'_>),
    ) -> Result<QueryStats, Error> {
        let mut stats = QueryStats::default();
        if start > end {
            return Err(Error::InvalidRange { start, end });
        }
        if start == end {
            return Ok(stats);
        }
        let files = self.select_files(start, end)?;

        // (tracked up to, file, its tail)
        let mut previous: Option<(Lsn, &BitmapFile, Option<Tail>)> = None;
        let mut including = false;
        for file in files {
            if let Some((covered, prev, tail)) = &previous
                && file.name.start_lsn > *covered
            {
                return Err(match tail {
                    Some(t) => t.to_error(&prev.path),
                    None => Error::LsnGap {
                        from: *covered,
                        to: file.name.start_lsn,
                        previous: prev.path.clone(),
                        next: file.path.clone(),
                    },
                });
            }
            let mut reader = RunReader::open(&file.path, Some(file.name.start_lsn))?;
            let mut covered = previous.as_ref().map_or(file.name.start_lsn, |(c, _, _)| {
                (*c).max(file.name.start_lsn)
            });
            loop {
                let mut included_blocks = 0u64;
                let run = reader.next_run(|b| {
                    if including || b.end_lsn() > start {
                        including = true;
                        included_blocks += 1;
                        visit(b);
                    }
                })?;
                let Some(run) = run else { break };
                covered = covered.max(run.end_lsn);
                if included_blocks > 0 {
                    stats.runs += 1;
                    stats.blocks += included_blocks;
                    stats.first_start_lsn.get_or_insert(run.start_lsn);
                    stats.last_end_lsn = Some(run.end_lsn);
                    if run.end_lsn >= end {
                        return Ok(stats);
                    }
                }
            }
            previous = Some((covered, file, reader.tail().cloned()));
        }
        Err(match previous {
            Some((_, prev, Some(tail))) => tail.to_error(&prev.path),
            Some((covered, prev, None)) => Error::EndNotCovered {
                tracked_to: covered,
                end,
                file: prev.path.clone(),
            },
            None => Error::NoBitmapFiles {
                dir: self.path().to_path_buf(),
                start,
                end,
            },
        })
    }

    /// The files to walk for `[start, end]` with `start < end`, in sequence order, after the
    /// directory checks of spec §5.6 steps 2–5.
    fn select_files(&self, start: Lsn, end: Lsn) -> Result<Vec<&BitmapFile>, Error> {
        let candidates: Vec<&BitmapFile> = self
            .files()
            .iter()
            .filter(|f| f.name.start_lsn < end)
            .collect();
        let inconsistent = |problem| Error::InconsistentDir {
            dir: self.path().to_path_buf(),
            problem,
        };
        let Some(first_lsn) = candidates
            .iter()
            .map(|f| f.name.start_lsn)
            .filter(|&l| l <= start)
            .max()
        else {
            return Err(
                match candidates
                    .iter()
                    .min_by_key(|f| (f.name.start_lsn, f.name.seq))
                {
                    Some(f) => Error::StartNotCovered {
                        start,
                        first_lsn: f.name.start_lsn,
                        file: f.path.clone(),
                    },
                    None => Error::NoBitmapFiles {
                        dir: self.path().to_path_buf(),
                        start,
                        end,
                    },
                },
            );
        };
        let range: Vec<&BitmapFile> = candidates
            .into_iter()
            .filter(|f| f.name.start_lsn >= first_lsn)
            .collect();
        // The first file: the lowest sequence number with the greatest start LSN ≤ start. A
        // file of a lower sequence number but a higher start LSN contradicts it.
        let Some(first_idx) = range.iter().position(|f| f.name.start_lsn == first_lsn) else {
            return Err(Error::NoBitmapFiles {
                dir: self.path().to_path_buf(),
                start,
                end,
            });
        };
        if let (Some(earlier), Some(first)) = (range.first(), range.get(first_idx))
            && first_idx > 0
        {
            return Err(inconsistent(DirProblem::LsnOrder {
                earlier: earlier.path.clone(),
                later: first.path.clone(),
            }));
        }
        for pair in range.windows(2) {
            let [a, b] = pair else { continue };
            if a.name.seq == b.name.seq {
                return Err(inconsistent(DirProblem::DuplicateSeq {
                    first: a.path.clone(),
                    second: b.path.clone(),
                }));
            }
            if b.name.seq != a.name.seq.saturating_add(1) {
                return Err(Error::MissingFile {
                    seq: a.name.seq.saturating_add(1),
                    previous: a.path.clone(),
                });
            }
            if b.name.start_lsn < a.name.start_lsn {
                return Err(inconsistent(DirProblem::LsnOrder {
                    earlier: a.path.clone(),
                    later: b.path.clone(),
                }));
            }
        }
        // Skip leading files that start at the same LSN as the next one (leftovers of
        // restarts that wrote nothing).
        let mut skip = 0;
        while let (Some(a), Some(b)) = (range.get(skip), range.get(skip + 1)) {
            if a.name.start_lsn != b.name.start_lsn {
                break;
            }
            skip += 1;
        }
        Ok(range.into_iter().skip(skip).collect())
    }
}
