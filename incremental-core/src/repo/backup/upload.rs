//! The upload pool: threads that store parts and bundles (encoded by the sink as their bytes
//! came), fed through a bounded queue so that memory stays bounded whatever the backup's size.
//!
//! Each job holds one encoded part (at most about `part_size` bytes) or one bundle; the queue
//! holds at most [`queue_len`] jobs and each thread works on one.
//!
//! On resume, a part whose key (which names its plain SHA-256) was already stored by the
//! interrupted attempt is read back and hashed (the manifest records the stored bytes'
//! SHA-256) and kept when it matches the new encoding (see `store_part`); else it is
//! uploaded again.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use super::super::error::RepoError;
use super::super::hash::{hex, sha256, Hasher};
use super::super::keys;
use super::super::manifest::{Object, Part};
use super::super::store::Store;
use super::encoding::Codec;

/// The jobs that may wait in the queue for `threads` upload threads.
pub(crate) fn queue_len(threads: usize) -> usize {
    threads.div_ceil(2)
}

/// Work for an upload thread.
pub(crate) enum Job {
    /// Part `n` of file number `file` (`path`): `size` plain bytes whose SHA-256 is
    /// `plain_sha` (hex), encoded as `stored`.
    Part {
        file: usize,
        n: usize,
        path: String,
        size: u64,
        plain_sha: String,
        stored: Vec<u8>,
    },
    /// Bundle `n`: its stored bytes (pieces already encoded).
    Bundle { n: usize, data: Vec<u8> },
}

/// What the threads did.
#[derive(Default)]
pub(crate) struct Results {
    /// (file number, part number) → the part.
    pub parts: BTreeMap<(usize, usize), Part>,
    /// Bundle number → its object.
    pub bundles: BTreeMap<usize, Object>,
    /// Objects uploaded, and their stored bytes.
    pub uploaded: u64,
    pub uploaded_bytes: u64,
    /// Objects of the interrupted attempt kept, and their stored bytes.
    pub kept: u64,
    pub kept_bytes: u64,
    /// Seconds the threads spent storing (summed over threads).
    pub store_seconds: f64,
}

struct State {
    results: Results,
    error: Option<RepoError>,
}

/// What every thread shares.
struct Context {
    store: Store,
    stanza: String,
    id: String,
    codec: Arc<Codec>,
    /// Objects of the interrupted attempt being resumed: key → size.
    existing: HashMap<String, u64>,
    state: Mutex<State>,
    failed: AtomicBool,
}

/// The upload threads and their queue.
pub(crate) struct Uploader {
    tx: Option<SyncSender<Job>>,
    ctx: Arc<Context>,
    workers: Vec<JoinHandle<()>>,
}

impl Uploader {
    /// Starts `threads` threads storing the objects of backup `id` of `stanza`; `existing`
    /// lists the objects already under the backup's prefix (a resumed attempt).
    pub(crate) fn start(
        store: &Store,
        stanza: &str,
        id: &str,
        codec: Arc<Codec>,
        existing: HashMap<String, u64>,
        threads: usize,
    ) -> Result<Uploader, RepoError> {
        let (tx, rx) = mpsc::sync_channel::<Job>(queue_len(threads));
        let rx = Arc::new(Mutex::new(rx));
        let ctx = Arc::new(Context {
            store: store.clone(),
            stanza: stanza.to_string(),
            id: id.to_string(),
            codec,
            existing,
            state: Mutex::new(State {
                results: Results::default(),
                error: None,
            }),
            failed: AtomicBool::new(false),
        });
        let mut workers = Vec::with_capacity(threads);
        for i in 0..threads.max(1) {
            let (rx, ctx) = (Arc::clone(&rx), Arc::clone(&ctx));
            let w = std::thread::Builder::new()
                .name(format!("xb-upload-{i}"))
                .spawn(move || work(&rx, &ctx))
                .map_err(|e| RepoError::Io {
                    action: "start an upload thread",
                    path: "".into(),
                    source: e,
                })?;
            workers.push(w);
        }
        Ok(Uploader {
            tx: Some(tx),
            ctx,
            workers,
        })
    }

    /// A handle to queue jobs from any thread.
    pub(crate) fn queue(&self) -> Queue {
        Queue {
            tx: self.tx.clone(),
            ctx: Arc::clone(&self.ctx),
        }
    }

    /// Waits for every queued job (all [`Queue`]s must be dropped); the first error of any.
    pub(crate) fn finish(mut self) -> Result<Results, RepoError> {
        self.tx.take();
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
        let mut st = self.ctx.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = st.error.take() {
            return Err(e);
        }
        Ok(std::mem::take(&mut st.results))
    }

    /// Stops: jobs still queued are dropped; returns the first error of any thread.
    pub(crate) fn abort(mut self) -> Option<RepoError> {
        self.ctx.failed.store(true, Ordering::SeqCst);
        self.tx.take();
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
        let mut st = self.ctx.state.lock().unwrap_or_else(|p| p.into_inner());
        st.error.take()
    }
}

impl Drop for Uploader {
    fn drop(&mut self) {
        self.ctx.failed.store(true, Ordering::SeqCst);
        self.tx.take();
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

/// Where the sink's files queue their jobs.
#[derive(Clone)]
pub(crate) struct Queue {
    tx: Option<SyncSender<Job>>,
    ctx: Arc<Context>,
}

impl Queue {
    /// Queues `job`, waiting while the queue is full. An error once any job failed (the
    /// backup must stop: its message names the object).
    pub(crate) fn send(&self, job: Job) -> std::io::Result<()> {
        self.check()?;
        let tx = self.tx.as_ref().ok_or_else(stopped)?;
        tx.send(job).map_err(|_| stopped())?;
        Ok(())
    }

    /// An error once any job failed.
    pub(crate) fn check(&self) -> std::io::Result<()> {
        if !self.ctx.failed.load(Ordering::SeqCst) {
            return Ok(());
        }
        let st = self.ctx.state.lock().unwrap_or_else(|p| p.into_inner());
        Err(match &st.error {
            Some(e) => std::io::Error::other(format!("uploading the backup: {e}")),
            None => stopped(),
        })
    }

    /// The encoder.
    pub(crate) fn codec(&self) -> &Codec {
        &self.ctx.codec
    }
}

fn stopped() -> std::io::Error {
    std::io::Error::other("the upload threads stopped")
}

fn work(rx: &Mutex<Receiver<Job>>, ctx: &Context) {
    loop {
        let job = match rx.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        if ctx.failed.load(Ordering::SeqCst) {
            continue; // drain: the backup stops
        }
        if let Err(e) = run(ctx, job) {
            let mut st = ctx.state.lock().unwrap_or_else(|p| p.into_inner());
            st.error.get_or_insert(e);
            ctx.failed.store(true, Ordering::SeqCst);
        }
    }
}

fn run(ctx: &Context, job: Job) -> Result<(), RepoError> {
    match job {
        Job::Part {
            file,
            n,
            path,
            size,
            plain_sha,
            stored,
        } => {
            let key = keys::part(&ctx.stanza, &ctx.id, &path, n, &plain_sha);
            let (object, kept) = store_part(ctx, &key, stored)?;
            let mut st = ctx.state.lock().unwrap_or_else(|p| p.into_inner());
            count(&mut st.results, &object, kept);
            let part = Part {
                size,
                sha256: plain_sha,
                object,
            };
            st.results.parts.insert((file, n), part);
        }
        Job::Bundle { n, data } => {
            let key = keys::bundle(&ctx.stanza, &ctx.id, n);
            let object = put(ctx, &key, data)?;
            let mut st = ctx.state.lock().unwrap_or_else(|p| p.into_inner());
            count(&mut st.results, &object, false);
            st.results.bundles.insert(n, object);
        }
    }
    Ok(())
}

fn count(r: &mut Results, o: &Object, kept: bool) {
    if kept {
        r.kept += 1;
        r.kept_bytes += o.stored;
    } else {
        r.uploaded += 1;
        r.uploaded_bytes += o.stored;
    }
}

/// Stores a part, or keeps the object of the interrupted attempt; `true` if kept.
///
/// Unencrypted, the encoding is deterministic: the object is kept when its bytes hash as the
/// new encoding's. Encrypted, age picks a new file key (and header padding) each run: the
/// object is kept when its payload (after the age header) is as long as the new encoding's;
/// the key names the plain bytes' hash, and `xb verify` decrypts and checks them.
fn store_part(ctx: &Context, key: &str, stored: Vec<u8>) -> Result<(Object, bool), RepoError> {
    if let Some(&size) = ctx.existing.get(key) {
        let t = Instant::now();
        let (there, header) = hash_object(&ctx.store, key)?;
        add_seconds(ctx, t);
        let keep = if ctx.codec.encrypts() {
            let payload =
                |len: u64, header: Option<usize>| header.map(|h| len.saturating_sub(h as u64));
            let new = payload(stored.len() as u64, age_header_len(&stored));
            new.is_some() && new == payload(size, header)
        } else {
            size == stored.len() as u64 && there == hex(&sha256(&stored))
        };
        if keep {
            let object = Object {
                key: key.to_string(),
                stored: size,
                sha256: there,
            };
            return Ok((object, true));
        }
    }
    Ok((put(ctx, key, stored)?, false))
}

/// The length of the age header that starts `data` (its last line is `--- MAC`), if it
/// ends within the first 16 KiB.
fn age_header_len(data: &[u8]) -> Option<usize> {
    let head = &data[..data.len().min(16 << 10)];
    let at = head.windows(5).position(|w| w == b"\n--- ")? + 1;
    let end = head[at..].iter().position(|&b| b == b'\n')?;
    Some(at + end + 1)
}

fn put(ctx: &Context, key: &str, data: Vec<u8>) -> Result<Object, RepoError> {
    let object = Object {
        key: key.to_string(),
        stored: data.len() as u64,
        sha256: hex(&sha256(&data)),
    };
    let t = Instant::now();
    ctx.store.put(key, data)?;
    add_seconds(ctx, t);
    Ok(object)
}

fn add_seconds(ctx: &Context, t: Instant) {
    let mut st = ctx.state.lock().unwrap_or_else(|p| p.into_inner());
    st.results.store_seconds += t.elapsed().as_secs_f64();
}

/// The SHA-256 of the stored bytes of `key`, read as a stream, and the length of the age
/// header they start with, if they do.
fn hash_object(store: &Store, key: &str) -> Result<(String, Option<usize>), RepoError> {
    let mut r = store.reader(key)?;
    let mut h = Hasher::default();
    let mut buf = vec![0u8; 256 << 10];
    let mut head = Vec::new();
    loop {
        match r.read(&mut buf) {
            Ok(0) => return Ok((h.hex(), age_header_len(&head))),
            Ok(k) => {
                if head.len() < 16 << 10 {
                    head.extend_from_slice(&buf[..k.min((16 << 10) - head.len())]);
                }
                h.update(&buf[..k]);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(RepoError::store(store, key, "cannot read back", e)),
        }
    }
}
