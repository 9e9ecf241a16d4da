//! Interrupted attempts: continue the one that took the same backup, delete the others.
//!
//! An attempt (an attempt record without a manifest) was interrupted: `kill -9`, a crash, the
//! object store unreachable for longer than the retry timeout. When it was the same backup
//! (full or incremental, on the same parent, with the same encoding and from the same
//! server), the new run takes its id and prefix: each part whose key (which names the part's
//! plain SHA-256) is already stored with the size its encoding gives is kept, and what the
//! new manifest does not reference is deleted at the end. Any other attempt is deleted
//! first: its objects can serve no other backup.

use std::collections::HashMap;

use super::super::catalog::IncompleteEntry;
use super::super::error::RepoError;
use super::super::keys;
use super::super::manifest::{Attempt, Encoding, Kind, Server};
use super::super::Repository;
use super::report::Resumed;

/// What to do about the stanza's interrupted attempts.
pub(crate) struct Decision {
    /// The attempt continued (its id is this run's).
    pub continue_id: Option<String>,
    /// The objects under its prefix: key → size.
    pub existing: HashMap<String, u64>,
    /// For the report (kept counts are filled at the end).
    pub resumed: Option<Resumed>,
}

/// Decides and deletes the attempts not continued.
pub(crate) fn decide(
    repo: &Repository,
    incomplete: &[IncompleteEntry],
    kind: Kind,
    parent: Option<&str>,
    encoding: &Encoding,
    server: &Server,
) -> Result<Decision, RepoError> {
    let store = repo.store();
    let stanza = repo.stanza();
    let mut attempts = Vec::new();
    for e in incomplete {
        attempts.push((e.id.clone(), Attempt::read(store, stanza, &e.id)?));
    }
    // the newest that took this same backup
    let continued = attempts.iter().rev().find_map(|(id, a)| {
        let a = a.as_ref()?;
        let same = a.kind == kind
            && a.parent.as_deref() == parent
            && a.encoding == *encoding
            && a.server.hostname == server.hostname
            && a.server.datadir == server.datadir;
        same.then(|| id.clone())
    });
    let mut deleted = 0u64;
    let mut why_not = None;
    for (id, a) in &attempts {
        if Some(id) == continued.as_ref() {
            continue;
        }
        why_not.get_or_insert_with(|| {
            (
                id.clone(),
                difference(a.as_ref(), kind, parent, encoding, server),
            )
        });
        for o in store.list(&keys::backup(stanza, id))? {
            store.delete(&o.key)?;
            deleted += 1;
        }
    }
    let mut existing = HashMap::new();
    let resumed = match &continued {
        Some(id) => {
            for o in store.list(&keys::backup(stanza, id))? {
                existing.insert(o.key, o.size);
            }
            Some(Resumed {
                id: id.clone(),
                continued: true,
                why: format!(
                    "attempt {id} was interrupted taking this same backup (same kind, parent, \
                     encoding and server): its objects whose content matches are kept"
                ),
                kept_objects: 0,
                kept_bytes: 0,
                deleted_objects: deleted,
            })
        }
        None => why_not.map(|(id, why)| Resumed {
            id,
            continued: false,
            why: format!("{why}: its objects were deleted"),
            kept_objects: 0,
            kept_bytes: 0,
            deleted_objects: deleted,
        }),
    };
    Ok(Decision {
        continue_id: continued,
        existing,
        resumed,
    })
}

/// Why attempt `a` cannot be continued by this backup, in words.
fn difference(
    a: Option<&Attempt>,
    kind: Kind,
    parent: Option<&str>,
    encoding: &Encoding,
    server: &Server,
) -> String {
    let Some(a) = a else {
        return "an interrupted attempt without its attempt record (or a backup left half \
                deleted)"
            .to_string();
    };
    let what = if a.kind != kind {
        format!("it was a {:?} backup, this one is a {:?}", a.kind, kind).to_lowercase()
    } else if a.parent.as_deref() != parent {
        format!(
            "it was an incremental on {}, this one is on {}",
            a.parent.as_deref().unwrap_or("nothing"),
            parent.unwrap_or("nothing")
        )
    } else if a.encoding != *encoding {
        "it was encoded otherwise (compression or encryption keys)".to_string()
    } else {
        format!(
            "it was taken from {}:{}, this one from {}:{}",
            a.server.hostname, a.server.datadir, server.hostname, server.datadir
        )
    };
    format!("attempt {} cannot be continued: {what}", a.id)
}
