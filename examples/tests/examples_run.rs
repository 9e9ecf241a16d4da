//! The embedding examples run as their doc comments say, on a datadir made of real MariaDB 10.11
//! files (the committed fixtures; no server needed): `custom_sink` takes an incremental into its
//! own sink and writes a tar archive that `tar` reads; `apply_chain` verifies and applies a chain
//! and refuses one given the wrong way round.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use incremental_core::backup::sink::DirSink;
use incremental_core::backup::{BackupOptions, BackupPlan, Incremental};
use incremental_core::progress::{Cancel, NoProgress};

fn fixture(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data/mariadb-10.11")
        .join(p)
}

/// ibdata1 (its first 4 pages), the redo log of a real backup, three real `.ibd` files.
fn datadir(root: &Path) -> PathBuf {
    let d = root.join("data");
    fs::create_dir_all(d.join("fx")).unwrap();
    fs::copy(fixture("datadir-16k/ibdata1.head64k"), d.join("ibdata1")).unwrap();
    fs::copy(fixture("backup/full/ib_logfile0"), d.join("ib_logfile0")).unwrap();
    for t in ["t_small", "t_comp", "t_crc32"] {
        fs::copy(
            fixture(&format!("datadir-16k/{t}.ibd")),
            d.join(format!("fx/{t}.ibd")),
        )
        .unwrap();
    }
    fs::write(d.join("fx/db.opt"), b"default-character-set=latin1\n").unwrap();
    d
}

fn backup(datadir: &Path, target: &Path, base: Option<&Path>) {
    let mut opts = BackupOptions::new(datadir);
    opts.set_incremental(base.map(|b| Incremental::Basedir(b.to_path_buf())))
        // The fixture's pages carry LSNs above its checkpoint: only a scan finds them.
        .set_force_scan(true);
    let plan = BackupPlan::new(&opts).unwrap();
    let mut sink = DirSink::new(target).unwrap().sync(false);
    plan.run(&mut sink, &NoProgress, &Cancel::new()).unwrap();
}

fn run(bin: &str, args: &[&Path]) -> (i32, String, String) {
    let o = Command::new(bin).args(args).output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn custom_sink_then_apply_chain() {
    let t = tempfile::tempdir().unwrap();
    let d = datadir(t.path());
    let full = t.path().join("full");
    backup(&d, &full, None);

    // custom_sink: an incremental on the full, into memory, then a tar archive.
    let tar = t.path().join("inc.tar");
    let sink = env!("CARGO_BIN_EXE_custom_sink");
    let o = Command::new(sink)
        .arg("--datadir")
        .arg(&d)
        .arg("--incremental-basedir")
        .arg(&full)
        .arg("--incremental-force-scan")
        .arg("--tar")
        .arg(&tar)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        out.starts_with("incremental backup, LSN 2500178 to"),
        "{out}"
    );
    assert!(
        out.contains("fx/t_small.ibd.delta  1 page(s) of 16384 bytes, space id Some(5)"),
        "{out}"
    );
    assert!(
        out.contains("fx/t_comp.ibd.delta  1 page(s) of 8192 bytes"),
        "{out}"
    );
    assert!(
        out.contains("xtrabackup_checkpoints  backup_type = incremental"),
        "{out}"
    );
    let listing = Command::new("tar").arg("-tf").arg(&tar).output().unwrap();
    assert!(listing.status.success());
    let names = String::from_utf8_lossy(&listing.stdout);
    for f in [
        "fx/t_small.ibd.delta",
        "fx/t_small.ibd.meta",
        "xtrabackup_checkpoints",
    ] {
        assert!(
            names.lines().any(|l| l == f),
            "{f} not in the archive:\n{names}"
        );
    }
    // Usage errors: exit 2 with the usage line.
    let (code, _, err) = run(sink, &[Path::new("--bogus")]);
    assert_eq!(code, 2);
    assert!(err.contains("usage: custom_sink"), "{err}");

    // apply_chain: the same incremental taken into a directory, verified, then applied.
    let inc = t.path().join("inc1");
    backup(&d, &inc, Some(&full));
    let apply = env!("CARGO_BIN_EXE_apply_chain");
    let (code, out, err) = run(apply, &[Path::new("--dry-run"), &full, &inc]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("nothing changed (--dry-run)"), "{out}");
    let (code, out, err) = run(apply, &[Path::new("--verify"), &full, &inc]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("restorable: yes"), "{out}");
    assert!(out.contains("done: 3 page(s) written"), "{out}");
    assert!(out.contains("now a full backup at to_lsn"), "{out}");
    assert_eq!(
        fs::read(full.join("fx/t_comp.ibd")).unwrap(),
        fs::read(d.join("fx/t_comp.ibd")).unwrap()
    );
    // The chain given the wrong way round is refused, with the reason.
    let (code, _, err) = run(apply, &[&inc, &full]);
    assert_eq!(code, 2);
    assert!(err.contains("the target must be a full backup"), "{err}");
}
