//! The storage under a repository: objects named by `/`-separated keys, on a local path or an
//! object store, behind one blocking interface.
//!
//! [`Store`] wraps the `object_store` crate (Apache Arrow's: one client for a local
//! filesystem, S3 and S3-compatible stores, Google Cloud Storage and Azure Blob Storage, with
//! retries and exponential backoff on every request) and a small Tokio runtime of its own, so
//! that the rest of xb stays synchronous. Every object is written whole or not at all: a local
//! file is written under a temporary name and renamed, an S3 object exists only once its
//! `PUT` (or its multipart upload) completes.
//!
//! ```
//! use incremental_core::repo::Store;
//! let dir = tempfile::tempdir().unwrap();
//! let store = Store::open(dir.path().to_str().unwrap(), &Default::default()).unwrap();
//! assert!(store.location().ends_with(dir.path().to_str().unwrap()));
//! ```

use std::io::{self, Read, Write};
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use object_store::path::Path as ObjPath;
use object_store::{ObjectStore, PutMode, PutOptions, PutPayload, WriteMultipart};
use tokio::runtime::Runtime;

use super::error::RepoError;

/// The size of the parts of a multipart upload, and the size under which an object is sent
/// in one request.
pub(crate) const PART_SIZE: usize = 8 << 20;

/// Parts of one object being uploaded at once.
const PARTS_IN_FLIGHT: usize = 2;

/// How a [`Store`] talks to an object store.
///
/// ```
/// use std::time::Duration;
/// use incremental_core::repo::StoreOptions;
/// let mut o = StoreOptions::default();
/// o.set_retry_timeout(Duration::from_secs(30));
/// assert_eq!(o.retry_timeout(), Duration::from_secs(30));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct StoreOptions {
    retry_timeout: Duration,
    settings: Vec<(String, String)>,
}

impl Default for StoreOptions {
    fn default() -> StoreOptions {
        StoreOptions {
            retry_timeout: Duration::from_secs(180),
            settings: Vec::new(),
        }
    }
}

impl StoreOptions {
    /// How long a failing request is retried (with exponential backoff from 100 ms to 15 s)
    /// before the operation fails: an object store unreachable for less than this is waited
    /// for. Default: 3 minutes.
    pub fn set_retry_timeout(&mut self, limit: Duration) -> &mut Self {
        self.retry_timeout = limit;
        self
    }

    /// See [`StoreOptions::set_retry_timeout`].
    pub fn retry_timeout(&self) -> Duration {
        self.retry_timeout
    }

    /// Sets a setting of the object store by the name of its environment variable
    /// (`AWS_ACCESS_KEY_ID`, `AWS_ENDPOINT_URL`, `GOOGLE_SERVICE_ACCOUNT`, `AZURE_STORAGE_ACCOUNT_KEY`,
    /// …; case does not matter), over the environment's value: what a configuration file
    /// gives. Names that do not belong to the location's kind of store are ignored.
    pub fn set(&mut self, name: &str, value: impl Into<String>) -> &mut Self {
        self.settings
            .push((name.to_ascii_lowercase(), value.into()));
        self
    }

    /// The value [`StoreOptions::set`] gave `name`, else the environment's.
    #[cfg(feature = "cloud")]
    fn setting(&self, name: &str) -> Option<String> {
        let lower = name.to_ascii_lowercase();
        self.settings
            .iter()
            .rev()
            .find(|(n, _)| *n == lower)
            .map(|(_, v)| v.clone())
            .or_else(|| std::env::var(name.to_ascii_uppercase()).ok())
    }
}

/// One object of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ObjectInfo {
    /// Its key, relative to the repository's root (`main/backup/…/manifest.json`).
    pub key: String,
    /// Its size in bytes.
    pub size: u64,
}

/// Objects on a local path or in an object store, under a root prefix: a blocking client
/// (each method returns when its requests are done; call it from as many threads as wanted,
/// clones share one connection pool). Keys are `/`-separated and relative to the root; errors
/// name the location and the key.
#[derive(Clone)]
pub struct Store {
    inner: Arc<dyn ObjectStore>,
    root: ObjPath,
    location: String,
    rt: Arc<Runtime>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("location", &self.location)
            .finish()
    }
}

impl Store {
    /// Opens the repository location `url`: a local path (absolute or relative, or
    /// `file:///…`; created if missing), `s3://BUCKET[/PREFIX]` (configured by the standard
    /// `AWS_*` variables: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, and
    /// `AWS_ENDPOINT_URL` for an S3-compatible store; an `http://` endpoint is allowed),
    /// `gs://BUCKET[/PREFIX]` (`GOOGLE_*` variables) or `az://CONTAINER[/PREFIX]` (`AZURE_*`
    /// variables). Nothing is read or written yet.
    pub fn open(url: &str, options: &StoreOptions) -> Result<Store, RepoError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("xb-store")
            .enable_all()
            .build()
            .map_err(|e| RepoError::location(url, "cannot start the I/O runtime", e))?;
        let (inner, root) = open_backend(url, options)?;
        Ok(Store {
            inner,
            root,
            location: url.to_string(),
            rt: Arc::new(rt),
        })
    }

    /// A store in memory, empty: for tests and examples.
    pub fn memory() -> Store {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a Tokio runtime of one thread starts");
        Store {
            inner: Arc::new(object_store::memory::InMemory::new()),
            root: ObjPath::default(),
            location: "memory:".into(),
            rt: Arc::new(rt),
        }
    }

    /// The location as given to [`Store::open`], for messages.
    pub fn location(&self) -> &str {
        &self.location
    }

    fn path(&self, key: &str) -> ObjPath {
        key.split('/')
            .filter(|p| !p.is_empty())
            .fold(self.root.clone(), |p, part| p.child(part))
    }

    /// The key of a listed object: its parts after the root, un-escaped (the storage layer
    /// writes `#`, `%`, `~`, brackets... of a key's parts as `%XX`; a listing must give back
    /// the key that was written, which reads the object again).
    fn key_of(&self, p: &ObjPath) -> String {
        match p.prefix_match(&self.root) {
            Some(parts) => parts
                .map(|x| unescape(x.as_ref()))
                .collect::<Vec<_>>()
                .join("/"),
            None => p.to_string(),
        }
    }

    /// Writes the object `key` whole, replacing it.
    pub fn put(&self, key: &str, data: Vec<u8>) -> Result<(), RepoError> {
        let p = self.path(key);
        self.rt
            .block_on(self.inner.put(&p, PutPayload::from(data)))
            .map_err(|e| RepoError::store(self, key, "cannot write", e))?;
        Ok(())
    }

    /// Writes the object `key` only if it does not exist: `Ok(false)` if it does (a lock
    /// taken by another).
    pub fn put_new(&self, key: &str, data: Vec<u8>) -> Result<bool, RepoError> {
        let p = self.path(key);
        let opts = PutOptions {
            mode: PutMode::Create,
            ..Default::default()
        };
        match self
            .rt
            .block_on(self.inner.put_opts(&p, PutPayload::from(data), opts))
        {
            Ok(_) => Ok(true),
            Err(object_store::Error::AlreadyExists { .. })
            | Err(object_store::Error::Precondition { .. }) => Ok(false),
            Err(e) => Err(RepoError::store(self, key, "cannot create", e)),
        }
    }

    /// Reads the object `key` whole.
    pub fn get(&self, key: &str) -> Result<Vec<u8>, RepoError> {
        self.get_opt(key)?
            .ok_or_else(|| RepoError::missing(self, key))
    }

    /// Reads the object `key` whole, `None` if it does not exist.
    pub fn get_opt(&self, key: &str) -> Result<Option<Vec<u8>>, RepoError> {
        let p = self.path(key);
        let r = self.rt.block_on(async {
            let got = self.inner.get(&p).await?;
            got.bytes().await
        });
        match r {
            Ok(b) => Ok(Some(b.to_vec())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(RepoError::store(self, key, "cannot read", e)),
        }
    }

    /// Reads the bytes `range` of the object `key`.
    pub fn get_range(&self, key: &str, range: Range<u64>) -> Result<Vec<u8>, RepoError> {
        let p = self.path(key);
        match self.rt.block_on(self.inner.get_range(&p, range)) {
            Ok(b) => Ok(b.to_vec()),
            Err(object_store::Error::NotFound { .. }) => Err(RepoError::missing(self, key)),
            Err(e) => Err(RepoError::store(self, key, "cannot read", e)),
        }
    }

    /// The object `key` as a stream of bytes, read as they arrive.
    pub fn reader(&self, key: &str) -> Result<ObjectReader, RepoError> {
        let p = self.path(key);
        let stream = match self.rt.block_on(self.inner.get(&p)) {
            Ok(g) => g.into_stream(),
            Err(object_store::Error::NotFound { .. }) => return Err(RepoError::missing(self, key)),
            Err(e) => return Err(RepoError::store(self, key, "cannot read", e)),
        };
        Ok(ObjectReader {
            rt: self.rt.clone(),
            stream,
            buf: bytes_empty(),
            pos: 0,
        })
    }

    /// The size of the object `key`, `None` if it does not exist.
    pub fn head(&self, key: &str) -> Result<Option<u64>, RepoError> {
        let p = self.path(key);
        match self.rt.block_on(self.inner.head(&p)) {
            Ok(m) => Ok(Some(m.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(RepoError::store(self, key, "cannot stat", e)),
        }
    }

    /// Every object whose key starts with the directory `prefix` (`main/backup/ID`; `""`:
    /// all), sorted by key.
    pub fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, RepoError> {
        let p = self.path(prefix);
        let r: Result<Vec<_>, _> = self.rt.block_on(async {
            let mut out = Vec::new();
            let mut s = self.inner.list(Some(&p));
            while let Some(m) = s.next().await {
                out.push(m?);
            }
            Ok::<_, object_store::Error>(out)
        });
        let mut out: Vec<ObjectInfo> = r
            .map_err(|e| RepoError::store(self, prefix, "cannot list", e))?
            .into_iter()
            .map(|m| ObjectInfo {
                key: self.key_of(&m.location),
                size: m.size,
            })
            .collect();
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    /// Deletes the object `key`; one that does not exist is not an error.
    pub fn delete(&self, key: &str) -> Result<(), RepoError> {
        let p = self.path(key);
        match self.rt.block_on(self.inner.delete(&p)) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(RepoError::store(self, key, "cannot delete", e)),
        }
    }

    /// A writer of the object `key`: bytes are sent as they are written (a multipart upload
    /// of 8 MiB parts, two in flight, once the object outgrows one part; memory stays bounded
    /// whatever the object's size), and the object exists only after [`ObjectWriter::finish`]
    /// (a writer dropped before leaves no object).
    pub fn writer(&self, key: &str) -> ObjectWriter {
        ObjectWriter {
            store: self.clone(),
            key: key.to_string(),
            buf: Vec::new(),
            upload: None,
            size: 0,
        }
    }
}

/// Undoes the `%XX` escapes of a path part (`object_store::path::PathPart`); anything else
/// is kept as it is.
fn unescape(part: &str) -> String {
    let b = part.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| part.to_string())
}

fn bytes_empty() -> bytes::Bytes {
    bytes::Bytes::new()
}

/// Builds the backend for `url` and the root prefix inside it.
fn open_backend(
    url: &str,
    options: &StoreOptions,
) -> Result<(Arc<dyn ObjectStore>, ObjPath), RepoError> {
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) if s != "file" => (s, r),
        Some((_, r)) => ("file", r),
        None => ("file", url),
    };
    if scheme == "file" {
        let dir = Path::new(rest);
        std::fs::create_dir_all(dir)
            .map_err(|e| RepoError::location(url, "cannot create the directory", e))?;
        let fs = object_store::local::LocalFileSystem::new_with_prefix(dir)
            .map_err(|e| RepoError::location(url, "cannot open the directory", e))?
            .with_automatic_cleanup(true);
        return Ok((Arc::new(fs), ObjPath::default()));
    }
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(RepoError::location(
            url,
            "no bucket named",
            io::Error::from(io::ErrorKind::InvalidInput),
        ));
    }
    let root = prefix
        .split('/')
        .filter(|p| !p.is_empty())
        .fold(ObjPath::default(), |p, part| p.child(part));
    Ok((cloud_backend(url, scheme, bucket, options)?, root))
}

#[cfg(feature = "cloud")]
fn cloud_backend(
    url: &str,
    scheme: &str,
    bucket: &str,
    options: &StoreOptions,
) -> Result<Arc<dyn ObjectStore>, RepoError> {
    use object_store::{BackoffConfig, RetryConfig};
    let retry = RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(15),
            base: 2.0,
        },
        max_retries: usize::MAX,
        retry_timeout: options.retry_timeout,
    };
    let built: Result<Arc<dyn ObjectStore>, object_store::Error> = match scheme {
        "s3" | "s3a" => {
            let mut b = object_store::aws::AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .with_retry(retry);
            for (name, value) in &options.settings {
                if let Ok(key) = name.parse::<object_store::aws::AmazonS3ConfigKey>() {
                    b = b.with_config(key, value);
                }
            }
            let endpoint = options.setting("AWS_ENDPOINT_URL").unwrap_or_default();
            if endpoint.starts_with("http://") {
                b = b.with_allow_http(true);
            }
            b.build().map(|s| Arc::new(s) as Arc<dyn ObjectStore>)
        }
        "gs" => {
            let mut b = object_store::gcp::GoogleCloudStorageBuilder::from_env()
                .with_bucket_name(bucket)
                .with_retry(retry);
            for (name, value) in &options.settings {
                if let Ok(key) = name.parse::<object_store::gcp::GoogleConfigKey>() {
                    b = b.with_config(key, value);
                }
            }
            b.build().map(|s| Arc::new(s) as Arc<dyn ObjectStore>)
        }
        "az" | "azure" | "abfs" => {
            let mut b = object_store::azure::MicrosoftAzureBuilder::from_env()
                .with_container_name(bucket)
                .with_retry(retry);
            for (name, value) in &options.settings {
                if let Ok(key) = name.parse::<object_store::azure::AzureConfigKey>() {
                    b = b.with_config(key, value);
                }
            }
            b.build().map(|s| Arc::new(s) as Arc<dyn ObjectStore>)
        }
        _ => {
            return Err(RepoError::location(
                url,
                "unknown scheme (s3://, gs://, az:// or a local path)",
                io::Error::from(io::ErrorKind::InvalidInput),
            ))
        }
    };
    built.map_err(|e| RepoError::location(url, "cannot configure the object store", e))
}

#[cfg(not(feature = "cloud"))]
fn cloud_backend(
    url: &str,
    _scheme: &str,
    _bucket: &str,
    _options: &StoreOptions,
) -> Result<Arc<dyn ObjectStore>, RepoError> {
    Err(RepoError::location(
        url,
        "object stores need incremental-core's feature `cloud`",
        io::Error::from(io::ErrorKind::Unsupported),
    ))
}

/// An object read as a stream (see [`Store::reader`]): [`Read`] gives its bytes as they
/// arrive; a failed read is an [`io::Error`] wrapping the store's.
pub struct ObjectReader {
    rt: Arc<Runtime>,
    stream: futures_util::stream::BoxStream<'static, object_store::Result<bytes::Bytes>>,
    buf: bytes::Bytes,
    pos: usize,
}

impl std::fmt::Debug for ObjectReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectReader").finish_non_exhaustive()
    }
}

impl Read for ObjectReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.buf.len() {
            match self.rt.block_on(self.stream.next()) {
                None => return Ok(0),
                Some(Ok(b)) => {
                    self.buf = b;
                    self.pos = 0;
                }
                Some(Err(e)) => return Err(io::Error::other(e)),
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// An object being written (see [`Store::writer`]). Dropped without
/// [`finish`](ObjectWriter::finish), it does not exist (an S3 multipart upload is aborted; one
/// that cannot be, after a crash, is removed by the bucket's lifecycle rule for incomplete
/// uploads, as S3's documentation advises).
pub struct ObjectWriter {
    store: Store,
    key: String,
    buf: Vec<u8>,
    upload: Option<WriteMultipart>,
    size: u64,
}

impl std::fmt::Debug for ObjectWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectWriter")
            .field("location", &self.store.location)
            .field("key", &self.key)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl ObjectWriter {
    /// Completes the object; returns its size.
    pub fn finish(mut self) -> Result<u64, RepoError> {
        let store = self.store.clone();
        let key = self.key.clone();
        match self.upload.take() {
            None => store.put(&key, std::mem::take(&mut self.buf))?,
            Some(mut up) => {
                let _g = store.rt.enter();
                if !self.buf.is_empty() {
                    up.write(&self.buf);
                }
                store.rt.block_on(up.finish()).map_err(|e| {
                    RepoError::store(&store, &key, "cannot complete the upload of", e)
                })?;
            }
        }
        Ok(self.size)
    }

    fn send_part(&mut self) -> io::Result<()> {
        let store = self.store.clone();
        if self.upload.is_none() {
            let p = store.path(&self.key);
            let up = store
                .rt
                .block_on(store.inner.put_multipart(&p))
                .map_err(io::Error::other)?;
            self.upload = Some(WriteMultipart::new_with_chunk_size(up, PART_SIZE));
        }
        let up = self.upload.as_mut().expect("just set");
        let _g = store.rt.enter();
        store
            .rt
            .block_on(up.wait_for_capacity(PARTS_IN_FLIGHT))
            .map_err(io::Error::other)?;
        up.write(&self.buf);
        self.buf.clear();
        Ok(())
    }
}

impl Write for ObjectWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = PART_SIZE - self.buf.len();
        let n = data.len().min(room);
        self.buf.extend_from_slice(&data[..n]);
        self.size += n as u64;
        if self.buf.len() == PART_SIZE {
            self.send_part()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for ObjectWriter {
    fn drop(&mut self) {
        if let Some(up) = self.upload.take() {
            let _g = self.store.rt.enter();
            let _ = self.store.rt.block_on(up.abort());
        }
    }
}
