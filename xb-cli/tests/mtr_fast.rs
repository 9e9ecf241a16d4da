//! MariaDB's own tests of mariabackup, run against xb under the name `mariabackup` (issue 18):
//! the fast subset (`tests/mtr/fast.txt`) of the `mariabackup` suite of Debian's
//! `mariadb-test` package, by `scripts/mtr-suite`. The whole suite, and the real mariabackup
//! beside xb, run with the script itself. Needs MariaDB and `mariadb-test` (the test command
//! installs them); fails without them.

use std::path::Path;
use std::process::Command;

#[test]
fn the_fast_subset_of_mariadbs_mariabackup_suite_passes_with_xb() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    // under target/: mtr runs as `nobody`, which must reach the directory (a private temporary
    // directory of root's would not do)
    let work = root.join("target/mtr-fast");
    let _ = std::fs::remove_dir_all(&work);
    let out = Command::new(root.join("scripts/mtr-suite"))
        .args([
            "--only",
            "xb",
            "--subset",
            "fast",
            "--parallel",
            "2",
            "--work",
        ])
        .arg(&work)
        .arg("--xb")
        .arg(env!("CARGO_BIN_EXE_xb"))
        .output()
        .expect("scripts/mtr-suite runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "scripts/mtr-suite failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    // every listed variant ran and passed (none skipped, none missing)
    let listed = std::fs::read_to_string(root.join("tests/mtr/fast.txt")).unwrap();
    for variant in listed
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let line = stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(variant))
            .unwrap_or_else(|| panic!("{variant}: no result line in:\n{stdout}"));
        assert!(
            line.split_whitespace().nth(2) == Some("pass"),
            "{variant} did not pass with xb: {line}"
        );
    }
    let _ = std::fs::remove_dir_all(&work);
}
