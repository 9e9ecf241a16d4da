//! Every command and subcommand's `--help` ends with examples a user can copy.

mod common;

#[test]
fn every_command_has_examples_in_its_help() {
    for cmd in [
        &[][..],
        &["backup"],
        &["prepare"],
        &["copy-back"],
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
