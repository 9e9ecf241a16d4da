//! Which backups a restore reads: the one asked for (or the newest complete one whose chain is
//! whole) and its chain from the catalog, the full first, each with its manifest.

use crate::repo::catalog;
use crate::repo::error::RepoError;
use crate::repo::manifest::Manifest;
use crate::repo::repository::Repository;

/// The manifests of the chain of backup `id` (the newest restorable one when `None`): the full
/// first, ending with it.
pub(crate) fn chain(repo: &Repository, id: Option<&str>) -> Result<Vec<Manifest>, RepoError> {
    let cat = repo.catalog()?;
    let id = match id {
        Some(id) => id.to_string(),
        None => cat
            .newest()
            .ok_or_else(|| RepoError::NoSuchBackup {
                location: repo.store().location().to_string(),
                stanza: repo.stanza().to_string(),
                id: "(any: the stanza has no complete backup)".into(),
            })?
            .id
            .clone(),
    };
    cat.chain(&id)?
        .iter()
        .map(|b| catalog::manifest(repo, &b.id))
        .collect()
}
