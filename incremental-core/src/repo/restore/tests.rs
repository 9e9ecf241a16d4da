//! Restores of real mariabackup backups (the fixture chain) uploaded into a repository, against
//! `xb prepare` + `xb copy-back` of the same chain from directories.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use super::testing::upload_dir;
use super::*;
use crate::codec::{CodecOptions, Compression, KeyFile};
use crate::progress::{Event, NoProgress};
use crate::repo::store::Store;

const FIX: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/data/mariadb-10.11/backup"
);
const KEY: &str = "AGE-SECRET-KEY-13GDQHAR08PXHVN8QFRGX2N49DTA282SZMJV282VT8WJVFKEQ7DEQMFSEF8\n";
pub(crate) const FULL_ID: &str = "20261206-100000F";
pub(crate) const INC_ID: &str = "20261206-110000I";

/// Every file under `dir` (relative name → bytes), directories as `name/`.
pub(crate) fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for e in fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let rel = e.path().strip_prefix(root).unwrap().to_path_buf();
            if e.file_type().unwrap().is_dir() {
                out.insert(PathBuf::from(format!("{}/", rel.display())), Vec::new());
                walk(root, &e.path(), out);
            } else {
                out.insert(rel, fs::read(e.path()).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// The fixture's full and its incremental restricted to `t_small` (the only tablespace whose
/// base file the fixture holds), as directories under `d`.
pub(crate) fn fixture(d: &Path) -> (PathBuf, PathBuf) {
    let base = d.join("base");
    let inc = d.join("inc");
    xb_testkit::sandbox::copy_dir(&Path::new(FIX).join("full"), &base).unwrap();
    xb_testkit::sandbox::copy_dir(&Path::new(FIX).join("inc1"), &inc).unwrap();
    for t in ["t_comp", "t_crc32", "t_zip1"] {
        for ext in ["delta", "meta"] {
            fs::remove_file(inc.join(format!("fx/{t}.ibd.{ext}"))).unwrap();
        }
    }
    (base, inc)
}

/// A repository holding the fixture chain, encoded as `codec` says, in parts of `part` bytes.
pub(crate) fn repo_with_chain(d: &Path, codec: &CodecOptions, part: usize) -> Repository {
    let (base, inc) = fixture(d);
    let repo = Repository::new(Store::memory(), "main").unwrap();
    upload_dir(&repo, &base, FULL_ID, None, codec, part);
    upload_dir(&repo, &inc, INC_ID, Some(FULL_ID), codec, part);
    repo
}

/// What `xb prepare` then `xb copy-back` of the fixture chain from directories give.
fn expected(d: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let (base, inc) = fixture(&d.join("dirs"));
    crate::prepare::prepare(
        &base,
        &[inc],
        &PrepareOptions::default(),
        &NoProgress,
        &Cancel::new(),
    )
    .unwrap();
    let dd = d.join("expected-datadir");
    crate::copy_back::copy_back(&DirSource::new(&base), &dd, &NoProgress, &Cancel::new()).unwrap();
    tree(&dd)
}

fn restore(
    repo: &Repository,
    datadir: &Path,
    keys: Option<KeyFile>,
) -> Result<RestoreReport, RepoError> {
    let mut o = RestoreOptions::new(datadir);
    o.set_keys(keys).set_parallel(3);
    repo.restore(&o, &NoProgress, &Cancel::new())
}

#[test]
fn a_chain_restores_byte_identical_to_prepare_and_copy_back_of_directories() {
    let d = tempfile::tempdir().unwrap();
    let want = expected(d.path());
    // Small parts: every tablespace and delta spans several, read through the part cache.
    let repo = repo_with_chain(d.path(), &CodecOptions::default(), 16 << 10);
    let dd = d.path().join("restored");
    let r = restore(&repo, &dd, None).unwrap();
    assert_eq!(tree(&dd), want);
    assert_eq!(r.chain, [FULL_ID, INC_ID]);
    assert_eq!(r.backup, INC_ID);
    assert!(r.prepare.pages_written > 0, "{r:?}");
    assert!(r.bytes_downloaded > 0 && r.files_downloaded > 0, "{r:?}");
    assert!(
        r.start_command.contains(&dd.display().to_string()),
        "{}",
        r.start_command
    );
    assert!(
        !d.path().join("restored.xb-restore").exists(),
        "staging removed"
    );
    assert!(!r.resumed);
}

#[test]
fn a_compressed_encrypted_chain_restores_with_its_key_and_not_without() {
    let d = tempfile::tempdir().unwrap();
    let want = expected(d.path());
    let keys = KeyFile::parse(KEY, "test").unwrap();
    let mut codec = CodecOptions::default();
    codec
        .set_compression(Some(Compression::Zstd))
        .set_keys(Some(keys.clone()));
    let repo = repo_with_chain(d.path(), &codec, 1 << 20);
    let dd = d.path().join("restored");
    let e = restore(&repo, &dd, None).unwrap_err().to_string();
    assert!(e.contains(FULL_ID) && e.contains("encrypted"), "{e}");
    assert!(!dd.exists() && !d.path().join("restored.xb-restore").exists());
    restore(&repo, &dd, Some(keys)).unwrap();
    assert_eq!(tree(&dd), want);
}

#[test]
fn the_full_alone_restores_when_asked_for_by_id() {
    let d = tempfile::tempdir().unwrap();
    let repo = repo_with_chain(d.path(), &CodecOptions::default(), 16 << 10);
    let (base, _) = fixture(&d.path().join("dirs"));
    let dd0 = d.path().join("expected");
    crate::copy_back::copy_back(&DirSource::new(&base), &dd0, &NoProgress, &Cancel::new()).unwrap();
    let dd = d.path().join("restored");
    let mut o = RestoreOptions::new(&dd);
    o.set_backup(Some(FULL_ID.into()));
    let r = repo.restore(&o, &NoProgress, &Cancel::new()).unwrap();
    assert_eq!(r.chain, [FULL_ID]);
    assert_eq!(tree(&dd), tree(&dd0));
    o.set_backup(Some("20261206-120000I".into()));
    let e = repo.restore(&o, &NoProgress, &Cancel::new()).unwrap_err();
    assert!(matches!(e, RepoError::NoSuchBackup { .. }), "{e}");
}

/// The key of the first part of `file` in backup `id`'s manifest.
pub(crate) fn part_key(repo: &Repository, id: &str, file: &str) -> String {
    let m = crate::repo::catalog::manifest(repo, id).unwrap();
    let f = m.files.iter().find(|f| f.path == file).unwrap();
    f.parts[0].object.key.clone()
}

/// Flips one byte in the middle of object `key`.
pub(crate) fn flip(repo: &Repository, key: &str) {
    let mut b = repo.store().get(key).unwrap();
    let n = b.len() / 2;
    b[n] ^= 0x20;
    repo.store().put(key, b).unwrap();
}

#[test]
fn a_changed_or_missing_object_is_named_and_nothing_is_restored() {
    let d = tempfile::tempdir().unwrap();
    let repo = repo_with_chain(d.path(), &CodecOptions::default(), 16 << 10);
    // A byte of the full's tablespace.
    let key = part_key(&repo, FULL_ID, "fx/t_small.ibd");
    let good = repo.store().get(&key).unwrap();
    flip(&repo, &key);
    let dd = d.path().join("restored");
    let e = restore(&repo, &dd, None).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, RepoError::Corrupt { .. }), "{msg}");
    assert!(
        msg.contains(&key) && msg.contains("fx/t_small.ibd") && msg.contains(FULL_ID),
        "{msg}"
    );
    assert!(!dd.exists(), "no datadir");
    // Repaired: the same command finishes (the download is started over).
    repo.store().put(&key, good).unwrap();
    // A part of the incremental's delta, deleted.
    let key = part_key(&repo, INC_ID, "fx/t_small.ibd.delta");
    repo.store().delete(&key).unwrap();
    let e = restore(&repo, &dd, None).unwrap_err().to_string();
    assert!(
        e.contains(&key) && e.contains("object missing") && e.contains("t_small.ibd.delta"),
        "{e}"
    );
    assert!(!dd.exists(), "no datadir");
}

/// Cancels at the `n`th `Planned` event (1: the download, 2: the merge, 3: the move).
struct CancelAt<'a>(usize, &'a Cancel, std::sync::atomic::AtomicUsize);

impl Progress for CancelAt<'_> {
    fn event(&self, e: Event<'_>) {
        let seen = match e {
            Event::Planned { .. } => 1 + self.2.fetch_add(1, std::sync::atomic::Ordering::SeqCst),
            Event::FileDone { .. } => self.2.load(std::sync::atomic::Ordering::SeqCst),
            _ => return,
        };
        if seen == self.0 && matches!(e, Event::FileDone { .. }) {
            self.1.cancel();
        }
    }
}

#[test]
fn an_interrupted_restore_is_finished_by_the_same_command() {
    let d = tempfile::tempdir().unwrap();
    let want = expected(d.path());
    let repo = repo_with_chain(d.path(), &CodecOptions::default(), 16 << 10);
    for at in 1..=3 {
        let dd = d.path().join(format!("restored-{at}"));
        let o = RestoreOptions::new(&dd);
        let cancel = Cancel::new();
        let p = CancelAt(at, &cancel, Default::default());
        let e = repo.restore(&o, &p, &cancel).unwrap_err();
        assert!(e.to_string().contains("cancel"), "{at}: {e}");
        if at == 3 {
            assert!(
                dd.join(crate::copy_back::MARKER).exists(),
                "the move was interrupted"
            );
        }
        if at == 1 {
            assert!(!d.path().join(format!("restored-{at}.xb-restore")).exists());
        }
        let r = repo.restore(&o, &NoProgress, &Cancel::new()).unwrap();
        assert_eq!(r.resumed, at > 1);
        assert_eq!(tree(&dd), want, "interrupted at {at}");
    }
    // Another backup's staging directory is refused.
    let dd = d.path().join("other");
    let cancel = Cancel::new();
    let mut o = RestoreOptions::new(&dd);
    repo.restore(&o, &CancelAt(2, &cancel, Default::default()), &cancel)
        .unwrap_err();
    o.set_backup(Some(FULL_ID.into()));
    let e = repo
        .restore(&o, &NoProgress, &Cancel::new())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("interrupted restore of backup") && e.contains(INC_ID),
        "{e}"
    );
}

#[test]
fn a_datadir_that_is_not_empty_is_refused_before_anything_is_fetched() {
    let d = tempfile::tempdir().unwrap();
    let repo = repo_with_chain(d.path(), &CodecOptions::default(), 16 << 10);
    let dd = d.path().join("dd");
    fs::create_dir(&dd).unwrap();
    fs::write(dd.join("ibdata1"), b"x").unwrap();
    let e = restore(&repo, &dd, None).unwrap_err().to_string();
    assert!(e.contains("not empty"), "{e}");
    assert!(!d.path().join("dd.xb-restore").exists());
}

#[test]
fn a_killed_download_is_started_over() {
    let d = tempfile::tempdir().unwrap();
    let want = expected(d.path());
    let repo = repo_with_chain(d.path(), &CodecOptions::default(), 16 << 10);
    let dd = d.path().join("restored");
    // What a restore killed while downloading leaves: its state, part of the files.
    let staging = d.path().join("restored.xb-restore");
    fs::create_dir_all(staging.join("full/fx")).unwrap();
    state::State::new(vec![FULL_ID.into(), INC_ID.into()])
        .write(&staging)
        .unwrap();
    fs::write(staging.join("full/fx/t_small.ibd"), b"half a file").unwrap();
    fs::write(staging.join("full/stray"), b"x").unwrap();
    let r = restore(&repo, &dd, None).unwrap();
    assert!(r.resumed);
    assert_eq!(tree(&dd), want);
    assert!(!staging.exists());
}
