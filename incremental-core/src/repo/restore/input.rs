//! An incremental backup of a repository read in place by the prepare, never downloaded whole:
//! a [`BackupInput`] whose files are read at random offsets ([`ReadAt`]) from their objects.
//!
//! A file stored in parts is read by whole parts: the part holding an offset is fetched, its
//! stored SHA-256 checked, decoded, and kept in a small cache shared by every file of every
//! incremental of the restore ([`CACHE_PARTS`] parts): the prepare's merge threads (at most 8)
//! each read one delta at a time, forward, so each part is fetched about once (and the parts
//! holding a delta's header pages once more when it is opened). A small file, in a bundle, is fetched
//! by a range request of its bundle when first read, decoded, and checked against its plain
//! size and SHA-256. Memory: the cache; disk: none, but for the copy of the redo log the
//! safety rule may read ([`LogCopy`]).

use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use super::fetch::Objects;
use crate::prepare::files::Listing;
use crate::prepare::input::{listing, BackupInput, ReadAt};
use crate::prepare::stream_input::LogCopy;
use crate::prepare::PrepareError;
use crate::repo::error::RepoError;
use crate::repo::manifest::{FileEntry, Manifest};

/// Decoded parts kept (of any file of any incremental): the prepare's merge threads, and two.
pub(crate) const CACHE_PARTS: usize = 10;

/// A part: (backup number, file number, part number).
type PartId = (usize, usize, usize);

/// The decoded parts read last, the newest at the back; and the stored bytes fetched.
#[derive(Default)]
pub(crate) struct Cache(Mutex<VecDeque<(PartId, Arc<Vec<u8>>)>>, AtomicU64);

impl Cache {
    /// Stored bytes fetched through it.
    pub fn fetched(&self) -> u64 {
        self.1.load(Ordering::Relaxed)
    }

    fn get(&self, id: PartId) -> Option<Arc<Vec<u8>>> {
        let mut q = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let i = q.iter().position(|(k, _)| *k == id)?;
        let e = q.remove(i)?;
        let data = e.1.clone();
        q.push_back(e);
        Some(data)
    }

    fn put(&self, id: PartId, data: Arc<Vec<u8>>) {
        let mut q = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if q.iter().any(|(k, _)| *k == id) {
            return;
        }
        if q.len() >= CACHE_PARTS {
            q.pop_front();
        }
        q.push_back((id, data));
    }
}

/// One file of the backup.
struct Member {
    /// (backup number, file number).
    n: (usize, usize),
    entry: FileEntry,
    /// Plain offset where each part starts.
    starts: Vec<u64>,
}

/// A backup of a repository, read in place.
pub(crate) struct RepoInput {
    objects: Arc<Objects>,
    members: BTreeMap<PathBuf, Arc<Member>>,
    bundle_keys: Vec<String>,
    cache: Arc<Cache>,
    logs: LogCopy,
}

impl RepoInput {
    /// The backup of manifest `m`, number `no` of those sharing `cache` (nothing is fetched
    /// yet).
    pub fn open(
        objects: Arc<Objects>,
        m: &Manifest,
        no: usize,
        cache: Arc<Cache>,
    ) -> Result<RepoInput, RepoError> {
        let mut members = BTreeMap::new();
        for (n, f) in m.files.iter().enumerate() {
            let rel = super::download::safe_name(&f.path)?;
            if f.bundled.is_some() {
                objects.bundle_object(m, f)?;
            }
            let mut starts = Vec::with_capacity(f.parts.len());
            let mut at = 0;
            for p in &f.parts {
                starts.push(at);
                at += p.size;
            }
            if f.bundled.is_none() && at != f.size {
                return Err(objects.corrupt(
                    &crate::repo::keys::manifest(&m.stanza, &m.id),
                    &f.path,
                    format!("its parts hold {at} bytes, the manifest says {}", f.size),
                ));
            }
            let m = Member {
                n: (no, n),
                entry: f.clone(),
                starts,
            };
            members.insert(rel, Arc::new(m));
        }
        Ok(RepoInput {
            bundle_keys: m.bundles.iter().map(|b| b.key.clone()).collect(),
            objects,
            members,
            cache,
            logs: LogCopy::default(),
        })
    }
}

/// A file stored in parts, read through the cache.
struct Parts {
    objects: Arc<Objects>,
    cache: Arc<Cache>,
    member: Arc<Member>,
}

impl ReadAt for Parts {
    fn size(&self) -> u64 {
        self.member.entry.size
    }

    fn read_at(&self, buf: &mut [u8], at: u64) -> io::Result<usize> {
        let m = &self.member;
        if at >= m.entry.size || buf.is_empty() || m.starts.is_empty() {
            return Ok(0);
        }
        let i = m.starts.partition_point(|&s| s <= at).saturating_sub(1);
        let id = (m.n.0, m.n.1, i);
        let data = match self.cache.get(id) {
            Some(d) => d,
            None => {
                let d = Arc::new(self.objects.part(&m.entry, i).map_err(io::Error::other)?);
                self.cache
                    .1
                    .fetch_add(m.entry.parts[i].object.stored, Ordering::Relaxed);
                self.cache.put(id, d.clone());
                d
            }
        };
        let skip = (at - m.starts[i]) as usize;
        if skip >= data.len() {
            return Ok(0);
        }
        let n = buf.len().min(data.len() - skip);
        buf[..n].copy_from_slice(&data[skip..skip + n]);
        Ok(n)
    }
}

/// A bundled file, fetched, decoded and checked on its first read.
struct Small {
    objects: Arc<Objects>,
    cache: Arc<Cache>,
    entry: FileEntry,
    key: String,
    plain: OnceLock<Result<Vec<u8>, String>>,
}

impl ReadAt for Small {
    fn size(&self) -> u64 {
        self.entry.size
    }

    fn read_at(&self, buf: &mut [u8], at: u64) -> io::Result<usize> {
        let plain = self.plain.get_or_init(|| {
            let b = self.entry.bundled.as_ref().expect("a bundled file");
            self.cache.1.fetch_add(b.stored, Ordering::Relaxed);
            self.objects
                .bundled_range(&self.entry, &self.key)
                .map_err(|e| e.to_string())
        });
        let plain = plain
            .as_ref()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.clone()))?;
        let Ok(at) = usize::try_from(at) else {
            return Ok(0);
        };
        if at >= plain.len() {
            return Ok(0);
        }
        let n = buf.len().min(plain.len() - at);
        buf[..n].copy_from_slice(&plain[at..at + n]);
        Ok(n)
    }
}

impl BackupInput for RepoInput {
    fn has(&self, rel: &Path) -> bool {
        self.members.contains_key(rel)
    }

    fn member(&self, rel: &Path) -> Option<Box<dyn ReadAt>> {
        let m = self.members.get(rel)?;
        if let Some(b) = &m.entry.bundled {
            return Some(Box::new(Small {
                objects: self.objects.clone(),
                cache: self.cache.clone(),
                entry: m.entry.clone(),
                key: self.bundle_keys.get(b.bundle)?.clone(),
                plain: OnceLock::new(),
            }));
        }
        Some(Box::new(Parts {
            objects: self.objects.clone(),
            cache: self.cache.clone(),
            member: m.clone(),
        }))
    }

    fn listing(&self, root: &Path) -> Listing {
        listing(root, self.members.keys())
    }

    fn log_dir(&self) -> Result<&Path, PrepareError> {
        self.logs.dir(self)
    }
}
