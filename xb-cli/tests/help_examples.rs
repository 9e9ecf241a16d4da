//! Every command and subcommand's `--help` ends with examples a user can copy.

mod common;

#[test]
fn every_command_has_examples_in_its_help() {
    for cmd in [
        &[][..],
        &["backup"],
        &["prepare"],
        &["copy-back"],
        &["decompress"],
        &["inspect"],
        &["verify"],
        &["bitmap"],
        &["bitmap", "dump"],
        &["bitmap", "verify"],
        &["bitmap", "purge"],
        &["track"],
    ] {
        let mut args: Vec<&str> = cmd.to_vec();
        args.push("--help");
        let o = common::xb(&args);
        assert_eq!(o.code, 0, "xb {}: {}", args.join(" "), o.all());
        assert!(
            o.stdout.contains("Examples"),
            "xb {} has no examples:\n{}",
            args.join(" "),
            o.stdout
        );
        let name = if cmd.is_empty() {
            "xb "
        } else {
            cmd[cmd.len() - 1]
        };
        assert!(
            o.stdout
                .contains(&format!("  xb {}", cmd.first().copied().unwrap_or("")))
                && o.stdout.contains(name),
            "xb {}: the examples do not run this command:\n{}",
            args.join(" "),
            o.stdout
        );
    }
}

/// `-v` prints the version, as mariabackup's does (and `--version`, `-V`); `xb man` writes a
/// manual page for `xb` and for each command (the Debian package installs them).
#[test]
fn version_flags_and_manual_pages() {
    let want = format!("xb {}", env!("CARGO_PKG_VERSION"));
    for flag in ["-v", "--version", "-V"] {
        let o = common::xb(&[flag]);
        assert_eq!(o.code, 0, "xb {flag}: {}", o.all());
        assert_eq!(o.stdout.trim(), want, "xb {flag}");
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("man");
    let o = common::xb(&["man", out.to_str().unwrap()]);
    assert_eq!(o.code, 0, "{}", o.all());
    for page in ["xb.1", "xb-backup.1", "xb-track.1", "xb-bitmap-purge.1"] {
        let text = std::fs::read_to_string(out.join(page)).unwrap_or_default();
        assert!(text.contains(".TH"), "{page}: {text:.200}");
    }
    let top = std::fs::read_to_string(out.join("xb.1")).unwrap();
    assert!(
        top.contains("copy\\-back") && !top.contains("xb\\-man"),
        "{top}"
    );
    assert!(!out.join("xb-man.1").exists());
}
