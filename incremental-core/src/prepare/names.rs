//! Names inside the target: validation (no `..`, no absolute path, no symlink leading out) and
//! the byte escaping of the journal.

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use super::error::PrepareError;

/// Checks that `rel` is a plain relative name of at most two components (a file at the top of a
/// backup, or in a database directory), each of them a normal name.
pub(crate) fn check_rel(rel: &Path) -> Result<(), PrepareError> {
    let bad = |why| {
        Err(PrepareError::BadName {
            path: rel.to_path_buf(),
            why,
        })
    };
    if rel.as_os_str().is_empty() {
        return bad("empty name");
    }
    if rel.as_os_str().as_bytes().contains(&0) {
        return bad("NUL byte in the name");
    }
    let mut n = 0;
    for c in rel.components() {
        match c {
            Component::Normal(_) => n += 1,
            Component::ParentDir => return bad("contains '..'"),
            Component::RootDir | Component::Prefix(_) => return bad("absolute path"),
            Component::CurDir => return bad("contains '.'"),
        }
    }
    if n > 2 {
        return bad("more than two levels deep (expected a file or database/file)");
    }
    Ok(())
}

/// Checks that writing `base/rel` cannot leave `base` through a symbolic link: every existing
/// prefix of the path that is a symlink must resolve inside `base_canon`.
pub(crate) fn check_inside(base_canon: &Path, rel: &Path) -> Result<(), PrepareError> {
    let mut p = base_canon.to_path_buf();
    for c in rel.components() {
        p.push(c);
        match fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let inside = fs::canonicalize(&p)
                    .map(|t| t.starts_with(base_canon) && t != base_canon)
                    .unwrap_or(false);
                if !inside {
                    return Err(PrepareError::SymlinkOutside {
                        path: p,
                        base: base_canon.to_path_buf(),
                    });
                }
            }
            Ok(_) => {}
            Err(_) => return Ok(()),
        }
    }
    Ok(())
}

/// Escapes bytes for one journal field: printable ASCII except `%` stays, the rest is `%XX`.
pub(crate) fn escape(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_graphic() && b != b'%' {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

/// Reverses [`escape`].
pub(crate) fn unescape(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Some(out)
}

/// A path as one escaped journal field.
pub(crate) fn escape_path(p: &Path) -> String {
    escape(p.as_os_str().as_bytes())
}

/// Reverses [`escape_path`].
pub(crate) fn unescape_path(s: &str) -> Option<PathBuf> {
    unescape(s).map(|b| PathBuf::from(OsStr::from_bytes(&b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(check_rel(Path::new("db/t.ibd")).is_ok());
        assert!(check_rel(Path::new("ibdata1")).is_ok());
        for bad in ["", "../x", "db/../../x", "/etc/passwd", "a/b/c", "./x"] {
            assert!(check_rel(Path::new(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn escaping_round_trips() {
        let raw = b"a b\t%\n\xff/x";
        let e = escape(raw);
        assert!(!e.contains(' ') && !e.contains('\t') && !e.contains('\n'));
        assert_eq!(unescape(&e).unwrap(), raw);
        assert!(unescape("%4").is_none());
        assert!(unescape("%zz").is_none());
    }

    #[test]
    fn symlinks_out_are_refused() {
        let d = tempfile::tempdir().unwrap();
        let base = d.path().join("base");
        fs::create_dir(&base).unwrap();
        let base = fs::canonicalize(&base).unwrap();
        std::os::unix::fs::symlink("/tmp", base.join("out")).unwrap();
        fs::create_dir(base.join("db")).unwrap();
        std::os::unix::fs::symlink(base.join("db"), base.join("in")).unwrap();
        assert!(matches!(
            check_inside(&base, Path::new("out/t.ibd")),
            Err(PrepareError::SymlinkOutside { .. })
        ));
        assert!(check_inside(&base, Path::new("in/t.ibd")).is_ok());
        assert!(check_inside(&base, Path::new("db/t.ibd")).is_ok());
    }
}
