//! The CLI's words for the libraries' remedies ([`incremental_core::Remedy`], and the errors of
//! the lower crates that call for one): an error that returns a remedy leaves it out of its
//! message, and the CLI adds it in its own terms (its flags), right after the message.

use std::error::Error;

use incremental_core::backup::BackupError;
use incremental_core::codec::CodecError;
use incremental_core::copy_back::CopyBackError;
use incremental_core::prepare::apply_redo::ApplyRedoError;
use incremental_core::prepare::PrepareError;
use incremental_core::repo::RepoError;
use incremental_core::verify::Refusal;
use incremental_core::Remedy;
use innodb_page::redo::follow::FollowError;
use lsn_bitmap::track::TrackError;

/// The remedy of `e` (not of its sources), worded for `xb`, with the punctuation that joins it
/// to the message; `None` when `e` has none.
pub fn worded(e: &(dyn Error + 'static)) -> Option<String> {
    if let Some(TrackError::Dir { .. }) = e.downcast_ref::<TrackError>() {
        return Some("; create it (xb does not), or choose another with --bitmap-dir".into());
    }
    if let Some(TrackError::Follow(FollowError::EncryptedPageIds { .. })) =
        e.downcast_ref::<TrackError>()
    {
        return Some(
            "; or give the server's keys: --file-key-management-filename (with \
             --file-key-management-filekey FILE:path for an encrypted key file, and \
             --file-key-management-encryption-algorithm), or the server's option file \
             with --defaults-file"
                .into(),
        );
    }
    let remedy = remedy_of(e)?;
    Some(match remedy {
        Remedy::FullBackupAsTarget => " (give incrementals with --incremental-dir)".into(),
        Remedy::IncrementalsOnly => ": --incremental-dir takes incremental backups".into(),
        Remedy::GiveIncrementalsInOrder => ": give the incrementals in the order they were \
                                           taken, starting with the one taken from this base"
            .into(),
        Remedy::RerunPendingPrepare => {
            format!("; run it again with exactly: {}", pending_args(e)?)
        }
        Remedy::PrepareOntoBase => "; prepare it onto its base first (xb prepare --target-dir \
                                   BASE --incremental-dir THIS) and restore the base"
            .into(),
        Remedy::FinishPrepare => "; run the same xb prepare again to finish it".into(),
        Remedy::TakeFullBackup => "; take a full backup (without --incremental-basedir) to \
                                   start a new chain"
            .into(),
        Remedy::GiveOneOfEqualIncrementals => "; give only the one taken last (either alone \
                                              continues the chain)"
            .into(),
        Remedy::PrepareFirst => format!(
            "; prepare it first (xb prepare --target-dir {}), then restore it",
            needs_prepare_dir(e)?.display()
        ),
        Remedy::FinishApplyRedo => "; run the same xb prepare with --apply-redo again to \
                                   finish it (no incremental can be merged onto it any more)"
            .into(),
        Remedy::InstallServer => {
            ": install the MariaDB server or give its path with --mariadbd".into()
        }
        Remedy::CheckKeyFile => "; check that this key file and its file key are the ones the \
                                 server loads (its file_key_management_filename and \
                                 file_key_management_filekey)"
            .into(),
        Remedy::ReadableKeyFile => {
            "; run xb as a user that can read it (the server's user, or root)".into()
        }
        Remedy::RestoreKeyFile => "; put the backed-up server's key file at that path (and the \
                                   file its FILE: file key names, if any), readable by the \
                                   server, then run this again: the restored server loads its \
                                   keys from there"
            .into(),
        Remedy::GiveKeySettings => "; give the server's key settings: \
                                    --file-key-management-filename (with \
                                    --file-key-management-filekey FILE:path and \
                                    --file-key-management-encryption-algorithm if it uses them), \
                                    or --defaults-file with the server's option file"
            .into(),
        Remedy::GiveDecryptionKey => "; give the age identity file of a recipient of the \
                                      backup (AGE-SECRET-KEY-1…, as age-keygen writes it) with \
                                      --encrypt-key-file, or its text in XB_ENCRYPT_KEY"
            .into(),
        Remedy::OwnStanza => "; give each server its own stanza (--stanza NAME, or stanza in \
                              the [xb] group)"
            .into(),
        _ => return None,
    })
}

/// The message of `e` followed by its worded remedy.
pub fn with_remedy(e: &(dyn Error + 'static)) -> String {
    format!("{e}{}", worded(e).unwrap_or_default())
}

fn remedy_of(e: &(dyn Error + 'static)) -> Option<Remedy> {
    if let Some(e) = e.downcast_ref::<PrepareError>() {
        return e.remedy();
    }
    if let Some(e) = e.downcast_ref::<CopyBackError>() {
        return e.remedy();
    }
    if let Some(e) = e.downcast_ref::<Refusal>() {
        return e.remedy();
    }
    if let Some(e) = e.downcast_ref::<ApplyRedoError>() {
        return e.remedy();
    }
    if let Some(e) = e.downcast_ref::<BackupError>() {
        return e.remedy();
    }
    if let Some(e) = e.downcast_ref::<RepoError>() {
        return e.remedy();
    }
    // compression and encryption errors, also as carried by an io::Error
    let codec = e.downcast_ref::<CodecError>().or_else(|| {
        e.downcast_ref::<std::io::Error>()
            .and_then(CodecError::in_io)
    });
    if let Some(e) = codec {
        return e.remedy();
    }
    None
}

/// The backup that `e` says needs a prepare first.
fn needs_prepare_dir<'a>(e: &'a (dyn Error + 'static)) -> Option<&'a std::path::Path> {
    let copy_back = match e.downcast_ref::<Refusal>() {
        Some(Refusal::CopyBack(c)) => c,
        _ => e.downcast_ref::<CopyBackError>()?,
    };
    match copy_back {
        CopyBackError::NeedsPrepare { path, .. } => Some(path),
        _ => None,
    }
}

/// The flags of the pending prepare named by `e`.
fn pending_args(e: &(dyn Error + 'static)) -> Option<String> {
    let pending = match e.downcast_ref::<Refusal>() {
        Some(Refusal::Prepare(p)) => p,
        _ => e.downcast_ref::<PrepareError>()?,
    };
    let PrepareError::PendingOther {
        base, incrementals, ..
    } = pending
    else {
        return None;
    };
    let mut s = format!("--target-dir {}", base.display());
    for a in incrementals {
        s.push_str(&format!(" --incremental-dir {}", a.display()));
    }
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use incremental_core::encryption::EncryptionError;

    #[test]
    fn a_wrong_key_says_which_settings_to_check() {
        let e = BackupError::Encryption(EncryptionError::WrongKey {
            id: 1,
            file: "/k/keys.txt".into(),
            log: "/d/ib_logfile0".into(),
        });
        let text = with_remedy(&e);
        assert!(
            text.contains("/k/keys.txt") && text.contains("file_key_management_filekey"),
            "{text}"
        );
    }
}
