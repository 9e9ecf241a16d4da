//! `xb expire`: deleting old backups by a retention policy ([`ExpirePolicy`]), whole chains
//! only, never a backup that a kept one needs.
//!
//! # Rules
//!
//! * A **chain** is a full backup and every incremental descending from it, through any
//!   depth. Backups whose chain is broken (an ancestor is missing or incomplete) form chains
//!   headed by their oldest backup present, without a full.
//! * A chain is kept if its full is among the `retain_full` newest fulls, or (with
//!   retain-days `D`) if any of its backups finished less than `D` days ago. Every other
//!   chain is deleted whole; so an ancestor of a kept backup is always kept.
//! * Incomplete backups (an attempt without a manifest) older than the newest complete
//!   backup can never be resumed and are deleted too; this needs the stanza's lock (no
//!   backup running), which `expire` holds while it plans and deletes (see the lock rule in
//!   the `lock` module). A dry run that finds the lock taken plans without them.
//! * Deleting a backup removes its manifest first (a half-deleted backup is merely
//!   incomplete, never listed as complete), then its objects, its attempt record last;
//!   incrementals are deleted before their parents.
//!
//! A dry run plans exactly as a real run and reports the same, deleting nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{SystemTime, UNIX_EPOCH};

use super::catalog::{BackupType, Catalog};
use super::error::RepoError;
use super::keys;
use super::lock;
use super::repository::Repository;

/// Objects deleted at once.
const DELETE_THREADS: usize = 8;

/// Which backups `xb expire` keeps.
///
/// ```
/// use incremental_core::repo::ExpirePolicy;
/// let mut p = ExpirePolicy::new(2);
/// p.set_retain_days(Some(14));
/// assert_eq!((p.retain_full(), p.retain_days()), (2, Some(14)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExpirePolicy {
    retain_full: usize,
    retain_days: Option<u64>,
}

impl ExpirePolicy {
    /// Keeps the chains of the `retain_full` newest full backups (at least 1, else
    /// [`Repository::expire`] refuses the policy).
    pub fn new(retain_full: usize) -> ExpirePolicy {
        ExpirePolicy {
            retain_full,
            retain_days: None,
        }
    }

    /// Also keeps every chain with a backup finished less than `days` days ago.
    pub fn set_retain_days(&mut self, days: Option<u64>) -> &mut Self {
        self.retain_days = days;
        self
    }

    /// See [`ExpirePolicy::new`].
    pub fn retain_full(&self) -> usize {
        self.retain_full
    }

    /// See [`ExpirePolicy::set_retain_days`].
    pub fn retain_days(&self) -> Option<u64> {
        self.retain_days
    }
}

/// A backup `xb expire` deleted (or, in a dry run, would delete).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct ExpiredBackup {
    /// Its id.
    pub id: String,
    /// Full or incremental.
    pub kind: BackupType,
    /// It was complete (else an incomplete attempt).
    pub complete: bool,
    /// The full heading its chain (`None`: an incomplete attempt, or a broken chain).
    pub chain: Option<String>,
    /// Its objects (manifest and records included).
    pub objects: usize,
    /// Their bytes.
    pub bytes: u64,
}

/// What `xb expire` did (or, in a dry run, would do).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct ExpireReport {
    /// Nothing was deleted.
    pub dry_run: bool,
    /// The backups deleted, in the order deleted (incomplete attempts first, then
    /// incrementals before their parents).
    pub deleted: Vec<ExpiredBackup>,
    /// The complete backups kept, by id.
    pub kept: Vec<String>,
    /// Objects deleted.
    pub objects: u64,
    /// Their bytes.
    pub bytes: u64,
    /// A dry run found the stanza locked by this holder: incomplete attempts are not planned
    /// for deletion (a real run would be refused).
    pub locked_by: Option<String>,
}

impl Repository {
    /// Deletes the backups `policy` does not keep; with `dry_run`, only reports what it
    /// would delete (the same plan).
    ///
    /// * Whole chains only (a full and every incremental descending from it): a chain is
    ///   kept if its full is among the `retain_full` newest, or if one of its backups
    ///   finished less than retain-days ago; an ancestor of a kept backup is always kept.
    ///   Backups whose chain is broken (an ancestor missing) are chains without a full: kept
    ///   only by retain-days.
    /// * Incomplete attempts older than the newest complete backup are deleted too.
    /// * It holds the stanza's lock (`STANZA/lock.json`, also held by a running backup for
    ///   its whole run): refused with [`RepoError::Locked`] while a backup runs. A lock left
    ///   by a killed process of this host is taken over once its process is gone; one from
    ///   another host must be deleted by hand (the error names its key). A dry run that finds
    ///   the lock taken still plans, without the incomplete attempts
    ///   ([`ExpireReport::locked_by`]).
    /// * A backup's manifest is deleted first (a half-deleted backup is incomplete, never
    ///   complete), its attempt record last; incrementals before their parents.
    ///
    /// ```
    /// use incremental_core::repo::{ExpirePolicy, Repository, Store};
    /// let repo = Repository::new(Store::memory(), "main")?;
    /// let report = repo.expire(&ExpirePolicy::new(2), true)?;
    /// assert!(report.deleted.is_empty());
    /// # Ok::<(), incremental_core::repo::RepoError>(())
    /// ```
    pub fn expire(&self, policy: &ExpirePolicy, dry_run: bool) -> Result<ExpireReport, RepoError> {
        if policy.retain_full == 0 {
            return Err(RepoError::BadPolicy {
                what: "retain at least one full backup",
            });
        }
        let (guard, locked_by) = match lock::acquire(self, "expire") {
            Ok(g) => (Some(g), None),
            Err(RepoError::Locked { holder, .. }) if dry_run => (None, Some(holder)),
            Err(e) => return Err(e),
        };
        let catalog = self.catalog()?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let plan = plan(
            &nodes(&catalog),
            &incomplete_ids(&catalog),
            policy,
            now,
            guard.is_some(),
        );
        let mut report = ExpireReport {
            dry_run,
            kept: plan.keep.clone(),
            locked_by,
            ..ExpireReport::default()
        };
        for (id, complete) in plan
            .delete_incomplete
            .iter()
            .map(|id| (id, false))
            .chain(plan.delete.iter().map(|id| (id, true)))
        {
            let (objects, bytes) = self.delete_backup(id, dry_run)?;
            report.objects += objects as u64;
            report.bytes += bytes;
            let kind = if complete {
                catalog.get(id).map(|b| b.kind)
            } else {
                catalog
                    .incomplete()
                    .iter()
                    .find(|b| &b.id == id)
                    .map(|b| b.kind)
            };
            report.deleted.push(ExpiredBackup {
                id: id.clone(),
                kind: kind.unwrap_or(BackupType::Incremental),
                complete,
                chain: plan.chain_full(id),
                objects,
                bytes,
            });
        }
        if let Some(g) = guard {
            g.release()?;
        }
        Ok(report)
    }

    /// Deletes every object of backup `id` (unless `dry_run`): its manifest first, its
    /// attempt record last. Returns the objects and bytes (deleted or to be).
    fn delete_backup(&self, id: &str, dry_run: bool) -> Result<(usize, u64), RepoError> {
        let store = self.store();
        let stanza = self.stanza();
        let listed = store.list(&keys::backup(stanza, id))?;
        let found = (listed.len(), listed.iter().map(|o| o.size).sum());
        if dry_run {
            return Ok(found);
        }
        let manifest = keys::manifest(stanza, id);
        let attempt = keys::attempt(stanza, id);
        store.delete(&manifest)?;
        let rest: Vec<&str> = listed
            .iter()
            .map(|o| o.key.as_str())
            .filter(|k| *k != manifest && *k != attempt)
            .collect();
        // One request per object: a few at a time.
        let per = rest.len().div_ceil(DELETE_THREADS).max(1);
        std::thread::scope(|s| {
            let workers: Vec<_> = rest
                .chunks(per)
                .map(|keys| s.spawn(move || keys.iter().try_for_each(|k| store.delete(k))))
                .collect();
            workers
                .into_iter()
                .try_for_each(|w| w.join().expect("a delete thread does not panic"))
        })?;
        store.delete(&attempt)?;
        Ok(found)
    }
}

/// A complete backup, as the plan sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Node {
    pub id: String,
    pub full: bool,
    pub parent: Option<String>,
    /// Unix seconds.
    pub finished: u64,
}

fn nodes(c: &Catalog) -> Vec<Node> {
    c.backups()
        .iter()
        .map(|b| Node {
            id: b.id.clone(),
            full: b.is_full(),
            parent: b.parent.clone(),
            finished: b.finished,
        })
        .collect()
}

fn incomplete_ids(c: &Catalog) -> Vec<String> {
    c.incomplete().iter().map(|b| b.id.clone()).collect()
}

/// What to delete.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Plan {
    /// Complete backups to delete, in order: newest id first (so children before parents).
    pub delete: Vec<String>,
    /// Complete backups kept, by id.
    pub keep: Vec<String>,
    /// Incomplete attempts to delete, newest first.
    pub delete_incomplete: Vec<String>,
    /// Each complete backup's chain head (a full, or the oldest backup of a broken chain).
    pub root: BTreeMap<String, String>,
    /// The heads that are fulls.
    pub fulls: BTreeSet<String>,
}

impl Plan {
    fn chain_full(&self, id: &str) -> Option<String> {
        self.root
            .get(id)
            .filter(|r| self.fulls.contains(*r))
            .cloned()
    }
}

/// The decision of `expire`: which of the complete backups `nodes` and incomplete attempts
/// `incomplete` to delete under `policy` at `now` (Unix seconds); incomplete attempts only
/// if `remove_incomplete` (the lock is held).
pub(crate) fn plan(
    nodes: &[Node],
    incomplete: &[String],
    policy: &ExpirePolicy,
    now: u64,
    remove_incomplete: bool,
) -> Plan {
    let mut sorted: Vec<&Node> = nodes.iter().collect();
    sorted.sort_by(|a, b| a.id.cmp(&b.id));
    // Chain heads, parents first (a parent's id is smaller than its child's).
    let mut root: BTreeMap<String, String> = BTreeMap::new();
    for n in &sorted {
        let r = match (&n.parent, n.full) {
            (Some(p), false) if p < &n.id => root.get(p).cloned().unwrap_or_else(|| n.id.clone()),
            _ => n.id.clone(),
        };
        root.insert(n.id.clone(), r);
    }
    let fulls: BTreeSet<String> = sorted
        .iter()
        .filter(|n| n.full)
        .map(|n| n.id.clone())
        .collect();
    let mut kept_roots: BTreeSet<&str> = fulls
        .iter()
        .rev()
        .take(policy.retain_full)
        .map(String::as_str)
        .collect();
    if let Some(days) = policy.retain_days {
        let window = days.saturating_mul(86_400);
        for n in &sorted {
            if now.saturating_sub(n.finished) < window {
                kept_roots.insert(root[&n.id].as_str());
            }
        }
    }
    let (keep, mut delete): (Vec<String>, Vec<String>) = sorted
        .iter()
        .map(|n| n.id.clone())
        .partition(|id| kept_roots.contains(root[id].as_str()));
    delete.reverse();
    let newest = sorted.last().map(|n| n.id.as_str());
    let mut delete_incomplete: Vec<String> = match newest {
        Some(newest) if remove_incomplete => incomplete
            .iter()
            .filter(|id| id.as_str() < newest)
            .cloned()
            .collect(),
        _ => Vec::new(),
    };
    delete_incomplete.sort();
    delete_incomplete.reverse();
    Plan {
        delete,
        keep,
        delete_incomplete,
        root,
        fulls,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::catalog::tests::manifest_of;
    use super::super::manifest::{Attempt, Encoding, FileEntry, Kind, Object, Part, Server};
    use super::super::store::Store;
    use super::*;

    const DAY: u64 = 86_400;
    const T0: u64 = 1_790_000_000;

    /// A random forest: for each backup (ids in start order) whether it is a full, which
    /// earlier backup it descends from (or a missing one), when it finished.
    fn forest() -> impl Strategy<Value = (Vec<Node>, Vec<String>)> {
        prop::collection::vec(
            (
                0u8..10,
                any::<prop::sample::Index>(),
                0u64..60,
                any::<bool>(),
            ),
            0..30,
        )
        .prop_map(|spec| {
            let mut nodes: Vec<Node> = Vec::new();
            let mut incomplete = Vec::new();
            for (i, (kind, parent, age_days, complete)) in spec.into_iter().enumerate() {
                let started = T0 + i as u64 * DAY / 2;
                let full = kind < 3 || nodes.is_empty() && kind < 8;
                let id = keys::new_id(started, full);
                if !complete && kind == 9 {
                    incomplete.push(id);
                    continue;
                }
                let parent = if full {
                    None
                } else if kind == 8 || nodes.is_empty() {
                    // The parent is missing: a broken chain.
                    Some(keys::new_id(started - 1, true))
                } else {
                    Some(nodes[parent.index(nodes.len())].id.clone())
                };
                nodes.push(Node {
                    id,
                    full,
                    parent,
                    finished: started + age_days * 3600,
                });
            }
            (nodes, incomplete)
        })
    }

    fn ancestors<'a>(nodes: &'a [Node], id: &str) -> Vec<&'a Node> {
        let by: BTreeMap<&str, &Node> = nodes.iter().map(|n| (n.id.as_str(), n)).collect();
        let mut out = Vec::new();
        let mut cur = by[id];
        while let Some(p) = cur.parent.as_deref().filter(|_| !cur.full) {
            match by.get(p) {
                Some(n) => {
                    out.push(*n);
                    cur = n;
                }
                None => break,
            }
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn expire_never_breaks_a_kept_backup(
            (nodes, incomplete) in forest(),
            retain_full in 1usize..5,
            days in prop::option::of(0u64..40),
            now_days in 0u64..40,
            lock_held in any::<bool>(),
        ) {
            let mut policy = ExpirePolicy::new(retain_full);
            policy.set_retain_days(days);
            let now = T0 + now_days * DAY;
            let p = plan(&nodes, &incomplete, &policy, now, lock_held);
            let kept: BTreeSet<&str> = p.keep.iter().map(String::as_str).collect();
            let deleted: BTreeSet<&str> = p.delete.iter().map(String::as_str).collect();
            // Every backup is either kept or deleted.
            prop_assert_eq!(kept.len() + deleted.len(), nodes.len());
            prop_assert!(kept.is_disjoint(&deleted));
            for n in &nodes {
                // Any ancestor of a kept backup is kept.
                if kept.contains(n.id.as_str()) {
                    for a in ancestors(&nodes, &n.id) {
                        prop_assert!(kept.contains(a.id.as_str()), "{} kept, its ancestor {} not", n.id, a.id);
                    }
                }
                // A recent backup is kept, with its whole chain.
                if let Some(d) = days
                    && now.saturating_sub(n.finished) < d * DAY
                {
                    prop_assert!(kept.contains(n.id.as_str()));
                }
            }
            // The retain_full newest fulls are kept, with every backup descending from them.
            let mut fulls: Vec<&Node> = nodes.iter().filter(|n| n.full).collect();
            fulls.sort_by(|a, b| b.id.cmp(&a.id));
            let top: BTreeSet<&str> = fulls.iter().take(retain_full).map(|n| n.id.as_str()).collect();
            for n in &nodes {
                let anc = ancestors(&nodes, &n.id);
                let head = anc.last().map_or(n.id.as_str(), |a| a.id.as_str());
                if top.contains(head) {
                    prop_assert!(kept.contains(n.id.as_str()), "{} of a newest chain deleted", n.id);
                }
                // Whole chains only: a deleted backup's chain head and all its members go.
                if deleted.contains(n.id.as_str()) {
                    prop_assert!(!top.contains(head));
                    for a in &anc {
                        prop_assert!(deleted.contains(a.id.as_str()));
                    }
                }
            }
            // Children before their parents.
            for (i, id) in p.delete.iter().enumerate() {
                let n = nodes.iter().find(|n| &n.id == id).unwrap();
                if let Some(par) = &n.parent
                    && let Some(j) = p.delete.iter().position(|x| x == par)
                {
                    prop_assert!(j > i, "{} deleted before its child {}", par, id);
                }
            }
            // Incomplete attempts: only with the lock, only older than the newest complete.
            let newest = nodes.iter().map(|n| n.id.as_str()).max();
            for id in &p.delete_incomplete {
                prop_assert!(lock_held);
                prop_assert!(Some(id.as_str()) < newest);
            }
            if lock_held {
                let older = incomplete.iter().filter(|i| Some(i.as_str()) < newest).count();
                prop_assert_eq!(p.delete_incomplete.len(), older);
            }
        }
    }

    /// Writes a complete backup with two parts and a bundle; its objects and bytes.
    fn put_backup(store: &Store, n: &Node) -> (usize, u64) {
        let mut m = manifest_of("s", &n.id, n.parent.as_deref(), n.finished);
        if n.full {
            m.kind = Kind::Full;
            m.parent = None;
        }
        let mut objects = 0;
        let mut bytes = 0;
        let mut obj = |key: String, len: usize| {
            store.put(&key, vec![7; len]).unwrap();
            objects += 1;
            bytes += len as u64;
            Object {
                key,
                stored: len as u64,
                sha256: String::new(),
            }
        };
        m.files.push(FileEntry {
            path: "ibdata1".into(),
            size: 30,
            sha256: String::new(),
            parts: (0..2)
                .map(|i| Part {
                    size: 15,
                    sha256: String::new(),
                    object: obj(keys::part("s", &n.id, "ibdata1", i, "ab"), 10 + i),
                })
                .collect(),
            bundled: None,
        });
        m.bundles.push(obj(keys::bundle("s", &n.id, 0), 5));
        put_attempt(store, &n.id, n.parent.as_deref());
        m.write(store).unwrap();
        let listed = store.list(&keys::backup("s", &n.id)).unwrap();
        assert_eq!(listed.len(), objects + 2);
        (listed.len(), listed.iter().map(|o| o.size).sum())
    }

    fn put_attempt(store: &Store, id: &str, parent: Option<&str>) {
        Attempt {
            format: 1,
            id: id.into(),
            stanza: "s".into(),
            kind: if parent.is_some() {
                Kind::Incremental
            } else {
                Kind::Full
            },
            parent: parent.map(str::to_string),
            encoding: Encoding::default(),
            server: Server::default(),
            started: 0,
            xb_version: "test".into(),
        }
        .write(store)
        .unwrap();
    }

    fn node(id: &str, parent: Option<&str>, finished: u64) -> Node {
        Node {
            id: id.into(),
            full: parent.is_none(),
            parent: parent.map(str::to_string),
            finished,
        }
    }

    #[test]
    fn expire_deletes_old_chains_in_a_store() {
        let repo = Repository::new(Store::memory(), "s").unwrap();
        let st = repo.store();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let old = now - 30 * DAY;
        let f1 = "20200101-000000F";
        let i1 = "20200102-000000I";
        let i2 = "20200103-000000I";
        let i1b = "20200104-000000I";
        let f2 = "20200201-000000F";
        let j1 = "20200202-000000I";
        let f3 = "20200301-000000F";
        let stale = "20200105-000000I";
        let resumable = "20200302-000000I";
        let mut sizes = BTreeMap::new();
        for n in [
            node(f1, None, old),
            node(i1, Some(f1), old),
            node(i2, Some(i1), old),
            node(i1b, Some(f1), old),
            node(f2, None, old),
            node(j1, Some(f2), old),
            node(f3, None, old),
        ] {
            sizes.insert(n.id.clone(), put_backup(st, &n));
        }
        put_attempt(st, stale, Some(i2));
        st.put(&keys::part("s", stale, "x", 0, "cd"), vec![1; 3])
            .unwrap();
        put_attempt(st, resumable, Some(f3));
        // An unrelated stanza is left alone.
        st.put("t/20200101-000000F/manifest.json", b"{}".to_vec())
            .unwrap();

        let policy = ExpirePolicy::new(2);
        let dry = repo.expire(&policy, true).unwrap();
        assert!(dry.dry_run);
        let ids: Vec<&str> = dry.deleted.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids, [stale, i1b, i2, i1, f1]);
        assert_eq!(dry.kept, [f2, j1, f3]);
        assert_eq!(dry.deleted[0].objects, 2);
        assert!(!dry.deleted[0].complete);
        assert_eq!(dry.deleted[1].chain.as_deref(), Some(f1));
        assert_eq!(dry.deleted[1].objects, sizes[i1b].0);
        assert_eq!(dry.deleted[1].bytes, sizes[i1b].1);
        // Nothing was deleted by the dry run.
        assert_eq!(repo.catalog().unwrap().backups().len(), 7);

        let real = repo.expire(&policy, false).unwrap();
        assert_eq!(
            ExpireReport {
                dry_run: true,
                ..real.clone()
            },
            dry
        );
        let c = repo.catalog().unwrap();
        let left: Vec<&str> = c.backups().iter().map(|b| b.id.as_str()).collect();
        assert_eq!(left, [f2, j1, f3]);
        let inc: Vec<&str> = c.incomplete().iter().map(|b| b.id.as_str()).collect();
        assert_eq!(inc, [resumable]);
        for id in [f1, i1, i2, i1b, stale] {
            assert!(st.list(&keys::backup("s", id)).unwrap().is_empty(), "{id}");
        }
        assert!(st
            .head("t/20200101-000000F/manifest.json")
            .unwrap()
            .is_some());
        assert!(st.head(&keys::lock("s")).unwrap().is_none());

        // Retain-days keeps a chain with a recent backup.
        put_backup(st, &node("20200303-000000I", Some(f2), now - DAY));
        let mut p = ExpirePolicy::new(1);
        p.set_retain_days(Some(7));
        let r = repo.expire(&p, false).unwrap();
        // Only the attempt now older than the newest complete backup.
        let ids: Vec<&str> = r.deleted.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids, [resumable]);
        p.set_retain_days(None);
        let r = repo.expire(&p, false).unwrap();
        let ids: Vec<&str> = r.deleted.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids, ["20200303-000000I", j1, f2]);
    }

    #[test]
    fn expire_under_a_running_backup() {
        let repo = Repository::new(Store::memory(), "s").unwrap();
        let st = repo.store();
        put_backup(st, &node("20200101-000000F", None, 1));
        put_backup(st, &node("20200201-000000F", None, 2));
        put_attempt(st, "20200102-000000I", Some("20200101-000000F"));
        let _running = lock::acquire(&repo, "backup").unwrap();
        let e = repo.expire(&ExpirePolicy::new(1), false).unwrap_err();
        assert!(matches!(e, RepoError::Locked { .. }), "{e}");
        // A dry run still plans, without the incomplete attempt.
        let dry = repo.expire(&ExpirePolicy::new(1), true).unwrap();
        assert!(dry.locked_by.unwrap().contains("backup (pid"));
        let ids: Vec<&str> = dry.deleted.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids, ["20200101-000000F"]);
        assert!(matches!(
            repo.expire(&ExpirePolicy::new(0), true),
            Err(RepoError::BadPolicy { .. })
        ));
    }

    #[test]
    fn a_half_deleted_backup_is_incomplete_not_complete() {
        // The state an expire killed after deleting a manifest leaves behind.
        let repo = Repository::new(Store::memory(), "s").unwrap();
        let st = repo.store();
        let f1 = "20200101-000000F";
        put_backup(st, &node(f1, None, 1));
        put_backup(st, &node("20200201-000000F", None, 2));
        st.delete(&keys::manifest("s", f1)).unwrap();
        let c = repo.catalog().unwrap();
        assert_eq!(c.backups().len(), 1);
        assert_eq!(c.incomplete()[0].id, f1);
        let r = repo.expire(&ExpirePolicy::new(1), false).unwrap();
        assert_eq!(r.deleted.len(), 1);
        assert!(st.list(&keys::backup("s", f1)).unwrap().is_empty());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn dry_run_plan_is_what_a_real_run_deletes(
            (nodes, incomplete) in forest(),
            retain_full in 1usize..4,
            days in prop::option::of(0u64..3000),
        ) {
            let repo = Repository::new(Store::memory(), "s").unwrap();
            let st = repo.store();
            for n in &nodes {
                put_backup(st, n);
            }
            for id in &incomplete {
                put_attempt(st, id, None);
            }
            let mut policy = ExpirePolicy::new(retain_full);
            policy.set_retain_days(days);
            let dry = repo.expire(&policy, true).unwrap();
            let real = repo.expire(&policy, false).unwrap();
            prop_assert_eq!(&ExpireReport { dry_run: true, ..real.clone() }, &dry);
            let c = repo.catalog().unwrap();
            let left: Vec<String> = c.backups().iter().map(|b| b.id.clone()).collect();
            prop_assert_eq!(&left, &real.kept);
            for d in &real.deleted {
                prop_assert!(st.list(&keys::backup("s", &d.id)).unwrap().is_empty());
            }
            // Every kept backup can still be restored if it could before.
            for b in c.backups() {
                let before = ancestors(&nodes, &b.id).len();
                if let Ok(chain) = c.chain(&b.id) {
                    prop_assert_eq!(chain.len(), before + 1);
                }
            }
        }
    }
}
