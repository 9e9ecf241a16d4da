//! `verify` of the fixture chain uploaded into a repository: sound, then with objects changed
//! or deleted, and with pages that were corrupt when they were backed up.

use std::fs;

use super::*;
use crate::codec::{CodecOptions, Compression};
use crate::progress::NoProgress;
use crate::repo::restore::testing::upload_dir;
use crate::repo::restore::tests::{fixture, flip, part_key, repo_with_chain, FULL_ID, INC_ID};
use crate::repo::store::Store;

const KEY: &str = "AGE-SECRET-KEY-13GDQHAR08PXHVN8QFRGX2N49DTA282SZMJV282VT8WJVFKEQ7DEQMFSEF8\n";

fn verify(repo: &Repository, keys: Option<KeyFile>) -> RepoVerifyReport {
    let mut o = RepoVerifyOptions::default();
    o.set_keys(keys).set_parallel(3);
    repo.verify(&o, &NoProgress, &Cancel::new()).unwrap()
}

fn all(r: &RepoVerifyReport) -> Vec<String> {
    r.backups
        .iter()
        .flat_map(|b| b.problems.iter().map(|p| p.to_string()))
        .collect()
}

#[test]
fn a_sound_chain_checks_out_and_is_recorded() {
    let d = tempfile::tempdir().unwrap();
    let repo = repo_with_chain(d.path(), &CodecOptions::default(), 16 << 10);
    let r = verify(&repo, None);
    assert!(r.ok(), "{:?}", all(&r));
    assert_eq!(r.backups.len(), 2);
    let (full, inc) = (&r.backups[0], &r.backups[1]);
    assert_eq!((full.id.as_str(), inc.id.as_str()), (FULL_ID, INC_ID));
    let m = catalog::manifest(&repo, FULL_ID).unwrap();
    assert_eq!(full.objects, m.objects().count() as u64);
    assert_eq!(full.bytes, m.stored_bytes());
    assert_eq!(full.files, m.files.len() as u64);
    // t_small.ibd: 4 pages; the delta's pages, all checked (its page 0 is in it).
    assert_eq!(full.pages, 4, "{full:?}");
    assert!(inc.pages > 0 && inc.pages_unchecked == 0, "{inc:?}");
    let cat = repo.catalog().unwrap();
    for id in [FULL_ID, INC_ID] {
        let v = cat.get(id).unwrap().verified.unwrap();
        assert!(v.ok && v.problems == 0, "{v:?}");
    }
}

#[test]
fn an_encrypted_chain_without_its_key_has_its_objects_checked() {
    let d = tempfile::tempdir().unwrap();
    let keys = KeyFile::parse(KEY, "test").unwrap();
    let mut codec = CodecOptions::default();
    codec
        .set_compression(Some(Compression::Lz4))
        .set_keys(Some(keys.clone()));
    let repo = repo_with_chain(d.path(), &codec, 16 << 10);
    let r = verify(&repo, None);
    assert!(r.ok(), "{:?}", all(&r));
    assert!(r
        .backups
        .iter()
        .all(|b| !b.decoded && b.objects > 0 && b.pages == 0));
    let r = verify(&repo, Some(keys));
    assert!(r.ok(), "{:?}", all(&r));
    assert!(r.backups.iter().all(|b| b.decoded && b.pages > 0));
}

#[test]
fn a_changed_or_missing_object_is_named_with_its_backup_and_file() {
    let d = tempfile::tempdir().unwrap();
    let repo = repo_with_chain(d.path(), &CodecOptions::default(), 16 << 10);
    let changed = part_key(&repo, FULL_ID, "fx/t_small.ibd");
    flip(&repo, &changed);
    let gone = part_key(&repo, INC_ID, "fx/t_small.ibd.delta");
    repo.store().delete(&gone).unwrap();
    let bundle = crate::repo::keys::bundle("main", INC_ID, 0);
    flip(&repo, &bundle);
    for keys in [None, Some(KeyFile::parse(KEY, "test").unwrap())] {
        let r = verify(&repo, keys);
        let p = all(&r);
        assert_eq!(r.problems(), 3, "{p:?}");
        let has = |k: &str, what: &str| p.iter().any(|x| x.contains(k) && x.contains(what));
        assert!(
            has(&changed, "fx/t_small.ibd") && has(&changed, "SHA-256") && has(&changed, FULL_ID),
            "{p:?}"
        );
        assert!(
            has(&gone, "fx/t_small.ibd.delta")
                && has(&gone, "object missing")
                && has(&gone, INC_ID),
            "{p:?}"
        );
        assert!(has(&bundle, "bundled") && has(&bundle, "SHA-256"), "{p:?}");
    }
    // Recorded: the catalog shows both backups as unsound.
    let cat = repo.catalog().unwrap();
    let v = cat.get(FULL_ID).unwrap().verified.unwrap();
    assert!(!v.ok && v.problems == 1, "{v:?}");
    let v = cat.get(INC_ID).unwrap().verified.unwrap();
    assert!(!v.ok && v.problems == 2, "{v:?}");
    // One backup alone.
    let mut o = RepoVerifyOptions::default();
    o.set_backup(Some(FULL_ID.into()));
    let r = repo.verify(&o, &NoProgress, &Cancel::new()).unwrap();
    assert_eq!((r.backups.len(), r.problems()), (1, 1));
}

#[test]
fn pages_that_were_corrupt_when_backed_up_are_found_by_page() {
    let d = tempfile::tempdir().unwrap();
    let (base, inc) = fixture(d.path());
    // Page 2 of the full's tablespace, and a page of the delta, damaged before the upload:
    // every object matches its manifest, the page checksums do not.
    let ibd = base.join("fx/t_small.ibd");
    let mut b = fs::read(&ibd).unwrap();
    b[2 * 16384 + 200] ^= 1;
    fs::write(&ibd, b).unwrap();
    let delta = inc.join("fx/t_small.ibd.delta");
    let mut b = fs::read(&delta).unwrap();
    let last = b.len() - 16384 + 300;
    b[last] ^= 1;
    fs::write(&delta, b).unwrap();
    let repo = Repository::new(Store::memory(), "main").unwrap();
    let codec = CodecOptions::default();
    upload_dir(&repo, &base, FULL_ID, None, &codec, 16 << 10);
    upload_dir(&repo, &inc, INC_ID, Some(FULL_ID), &codec, 16 << 10);
    let r = verify(&repo, None);
    let p = all(&r);
    assert_eq!(r.problems(), 2, "{p:?}");
    let full = &r.backups[0].problems[0];
    assert_eq!(
        (full.file.as_str(), full.page),
        ("fx/t_small.ibd", Some(2)),
        "{p:?}"
    );
    assert!(
        full.what.contains("checksum") || full.what.contains("corrupt"),
        "{p:?}"
    );
    // The object holding page 2 (bytes 32768.. in parts of 16 KiB: the third part).
    let m = catalog::manifest(&repo, FULL_ID).unwrap();
    let f = m.files.iter().find(|f| f.path == "fx/t_small.ibd").unwrap();
    assert_eq!(full.key, f.parts[2].object.key);
    let inc = &r.backups[1].problems[0];
    assert_eq!(inc.file, "fx/t_small.ibd.delta", "{p:?}");
    assert!(inc.page.is_some(), "{p:?}");
}
