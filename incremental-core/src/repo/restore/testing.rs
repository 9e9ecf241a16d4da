//! For tests: a backup directory uploaded as a backup of a repository, in the manifest format
//! (files of at least [`SMALL`] bytes in parts of `part_size`, smaller ones in one bundle),
//! encoded as `codec` says.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use crate::codec::compress::Pool;
use crate::codec::encode::Encoder;
use crate::codec::names::stays_plain;
use crate::codec::CodecOptions;
use crate::format::checkpoints::Checkpoints;
use crate::repo::hash::{self, Hasher};
use crate::repo::keys;
use crate::repo::manifest::{
    Bundled, Encoding, FileEntry, Kind, Manifest, Object, Part, Server, FORMAT,
};
use crate::repo::repository::Repository;

/// Files smaller than this go into the bundle.
pub(crate) const SMALL: u64 = 16 << 10;

fn encode(codec: &CodecOptions, pool: Option<&Arc<Pool>>, path: &str, plain: &[u8]) -> Vec<u8> {
    if !codec.encodes() || stays_plain(Path::new(path)) {
        return plain.to_vec();
    }
    let mut e = Encoder::new(Vec::new(), pool, codec.piece_size(), codec.keys()).unwrap();
    e.write_all(plain).unwrap();
    e.finish().unwrap()
}

fn object(repo: &Repository, key: String, stored: Vec<u8>) -> Object {
    let o = Object {
        sha256: hash::hex(&hash::sha256(&stored)),
        stored: stored.len() as u64,
        key,
    };
    repo.store().put(&o.key, stored).unwrap();
    o
}

/// The files of `dir` (relative, sorted), recursively.
fn files(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, d: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(d).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                walk(root, &e.path(), out);
            } else {
                let rel = e
                    .path()
                    .strip_prefix(root)
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .to_string();
                out.push(rel);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Uploads the backup directory `dir` as backup `id` (an incremental of `parent`, or a full)
/// of `repo`; returns its manifest (written last).
pub(crate) fn upload_dir(
    repo: &Repository,
    dir: &Path,
    id: &str,
    parent: Option<&str>,
    codec: &CodecOptions,
    part_size: usize,
) -> Manifest {
    let st = repo.stanza().to_string();
    let pool = codec
        .compression()
        .map(|c| Arc::new(Pool::start(c, codec.level(), 2).unwrap()));
    let ck = Checkpoints::read_dir(dir).unwrap();
    let mut entries = Vec::new();
    let mut bundle = Vec::new();
    for rel in files(dir) {
        let plain = std::fs::read(dir.join(&rel)).unwrap();
        let mut h = Hasher::default();
        h.update(&plain);
        let mut e = FileEntry {
            path: rel.clone(),
            size: plain.len() as u64,
            sha256: h.hex(),
            parts: Vec::new(),
            bundled: None,
        };
        if (plain.len() as u64) < SMALL {
            let stored = encode(codec, pool.as_ref(), &rel, &plain);
            e.bundled = Some(Bundled {
                bundle: 0,
                offset: bundle.len() as u64,
                stored: stored.len() as u64,
            });
            bundle.extend_from_slice(&stored);
        } else {
            for (n, chunk) in plain.chunks(part_size).enumerate() {
                let sha = hash::hex(&hash::sha256(chunk));
                let stored = encode(codec, pool.as_ref(), &rel, chunk);
                let key = keys::part(&st, id, &rel, n, &sha);
                e.parts.push(Part {
                    size: chunk.len() as u64,
                    sha256: sha,
                    object: object(repo, key, stored),
                });
            }
        }
        entries.push(e);
    }
    let bundles = if bundle.is_empty() {
        Vec::new()
    } else {
        vec![object(repo, keys::bundle(&st, id, 0), bundle)]
    };
    let m = Manifest {
        format: FORMAT,
        id: id.to_string(),
        stanza: st,
        kind: if parent.is_some() {
            Kind::Incremental
        } else {
            Kind::Full
        },
        parent: parent.map(str::to_string),
        method: if parent.is_some() { "scan" } else { "full" }.into(),
        hot: false,
        from_lsn: ck.from_lsn.get(),
        to_lsn: ck.to_lsn.get(),
        last_lsn: ck.last_lsn.get(),
        partial: false,
        server: Server {
            hostname: "test".into(),
            datadir: "/test".into(),
            version: None,
        },
        started: 0,
        finished: 0,
        xb_version: "test".into(),
        encoding: Encoding {
            compression: codec.compression().map(|c| c.name().to_string()),
            level: codec.level(),
            recipients: codec.keys().map(|k| k.recipients()).unwrap_or_default(),
        },
        files: entries,
        bundles,
    };
    m.write(repo.store()).unwrap();
    m
}
