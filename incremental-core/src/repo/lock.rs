//! The lock of a stanza: one object, `STANZA/lock.json`, that keeps a backup and an expire
//! (or two backups) of the same stanza from running at the same time.
//!
//! # The locking rule
//!
//! * A backup holds its stanza's lock for its whole run; `xb expire` holds it while it plans
//!   and deletes. Other stanzas of the repository are not affected.
//! * The lock is taken by creating the object only if it does not exist (a conditional
//!   `PUT`: `If-None-Match: *` on S3, an exclusive create on a local path), so two holders
//!   can never both succeed, from any number of hosts. It records who holds it: host name,
//!   process id, purpose (`backup`, `expire`) and since when.
//! * A second holder is refused ([`RepoError::Locked`](super::RepoError::Locked)), naming the
//!   holder and the lock's key.
//! * A lock left by a process that was killed (`kill -9`, a crash) on **this** host is taken
//!   over when that process id no longer exists. Takeovers on one host are serialized by a
//!   local file lock in the temporary directory, each checking again that the record is
//!   still the stale one before replacing it.
//! * A lock left by another host is never taken over (its process cannot be checked from
//!   here): once sure that nothing runs there, delete the object named in the error by hand
//!   (`aws s3 rm s3://bucket/prefix/STANZA/lock.json`, or `rm` on a local path).
//! * The holder deletes the lock when done, also on error (the guard's `Drop`).
//! * Restore and verify only read, and take no lock: an expire that deletes the backup they
//!   read makes them fail on a missing object (never restore something incomplete).

use std::fs::File;
use std::os::unix::io::AsRawFd;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::error::RepoError;
use super::hash;
use super::keys;
use super::repository::Repository;

/// What the lock object records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LockRecord {
    pub host: String,
    pub pid: u32,
    pub purpose: String,
    /// Unix seconds.
    pub since: u64,
}

impl LockRecord {
    fn describe(&self) -> String {
        format!(
            "{} (pid {} on host {}, since {})",
            self.purpose,
            self.pid,
            self.host,
            keys::new_id(self.since, true)
                .trim_end_matches('F')
                .to_string()
                + " UTC"
        )
    }
}

/// The stanza's lock, held until dropped or released.
#[derive(Debug)]
pub(crate) struct LockGuard {
    repo: Repository,
    key: String,
    released: bool,
}

impl LockGuard {
    /// Releases the lock (deletes its object), reporting a failure to.
    pub(crate) fn release(mut self) -> Result<(), RepoError> {
        self.released = true;
        self.repo.store().delete(&self.key)
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        if !self.released {
            let _ = self.repo.store().delete(&self.key);
        }
    }
}

/// Takes the stanza's lock for `purpose` (`"backup"`, `"expire"`): see the module's rule.
pub(crate) fn acquire(repo: &Repository, purpose: &str) -> Result<LockGuard, RepoError> {
    let store = repo.store();
    let key = keys::lock(repo.stanza());
    let me = LockRecord {
        host: hostname(),
        pid: std::process::id(),
        purpose: purpose.to_string(),
        since: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    };
    let bytes = serde_json::to_vec_pretty(&me).expect("a lock record serializes");
    let guard = || LockGuard {
        repo: repo.clone(),
        key: key.clone(),
        released: false,
    };
    // A few rounds: the holder may release between our create and our read.
    for _ in 0..5 {
        if put_new(repo, &key, &bytes)? {
            return Ok(guard());
        }
        let Some(held) = store.get_opt(&key)? else {
            continue;
        };
        let rec: Option<LockRecord> = serde_json::from_slice(&held).ok();
        let holder = match &rec {
            Some(r) => r.describe(),
            None => "an unreadable lock record".to_string(),
        };
        let stale = rec
            .as_ref()
            .is_some_and(|r| r.host == me.host && r.pid != me.pid && !pid_alive(r.pid));
        if !stale {
            return Err(RepoError::Locked {
                location: store.location().to_string(),
                key,
                holder,
            });
        }
        // Take it over, one process of this host at a time, if it is still the stale one.
        let _local = local_lock(store.location(), &key);
        if store.get_opt(&key)?.as_deref() == Some(&held[..]) {
            store.delete(&key)?;
        }
    }
    let holder = store
        .get_opt(&key)?
        .and_then(|b| serde_json::from_slice::<LockRecord>(&b).ok())
        .map_or_else(|| "another process".to_string(), |r| r.describe());
    Err(RepoError::Locked {
        location: store.location().to_string(),
        key,
        holder,
    })
}

/// Creates the lock object, trying again a few times on a failure: on a local path, a
/// holder releasing the lock of a stanza without backups removes the stanza's emptied
/// directory, which fails a create running at that moment ("File exists").
fn put_new(repo: &Repository, key: &str, bytes: &[u8]) -> Result<bool, RepoError> {
    let mut tries = 0;
    loop {
        match repo.store().put_new(key, bytes.to_vec()) {
            Err(_) if tries < 4 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(20 << tries));
            }
            r => return r,
        }
    }
}

/// This machine's host name (what a lock and a backup's manifest record).
pub(crate) fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates within it
    // (or truncates, which the search for NUL handles).
    let r = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if r != 0 {
        return "unknown".to_string();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// Whether process `pid` exists on this host.
fn pid_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 only checks that the process exists and may be signalled.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

/// An exclusive lock on a local file named after the lock object, held while it lives
/// (`None` if the file cannot be opened: the takeover then goes unserialized).
fn local_lock(location: &str, key: &str) -> Option<File> {
    let name = hash::hex(&hash::sha256(format!("{location}\n{key}").as_bytes()));
    let path = std::env::temp_dir().join(format!("xb-lock-{}.lck", &name[..16]));
    let f = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .ok()?;
    // SAFETY: flock on a file descriptor we own; blocks until granted.
    let r = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) };
    (r == 0).then_some(f)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::super::store::Store;
    use super::*;

    fn hammer(store: Store) {
        let repo = Repository::new(store, "s").unwrap();
        let inside = Arc::new(AtomicBool::new(false));
        let entered = Arc::new(AtomicUsize::new(0));
        let refused = Arc::new(AtomicUsize::new(0));
        std::thread::scope(|sc| {
            for _ in 0..8 {
                let (repo, inside, entered, refused) = (
                    repo.clone(),
                    inside.clone(),
                    entered.clone(),
                    refused.clone(),
                );
                sc.spawn(move || {
                    for _ in 0..25 {
                        match acquire(&repo, "backup") {
                            Ok(g) => {
                                assert!(!inside.swap(true, Ordering::SeqCst), "two holders");
                                entered.fetch_add(1, Ordering::SeqCst);
                                std::thread::sleep(std::time::Duration::from_millis(1));
                                inside.store(false, Ordering::SeqCst);
                                g.release().unwrap();
                            }
                            Err(RepoError::Locked { holder, key, .. }) => {
                                assert_eq!(key, "s/lock.json");
                                assert!(holder.contains("backup (pid "), "{holder}");
                                refused.fetch_add(1, Ordering::SeqCst);
                            }
                            Err(e) => panic!("{e}"),
                        }
                    }
                });
            }
        });
        let (e, r) = (
            entered.load(Ordering::SeqCst),
            refused.load(Ordering::SeqCst),
        );
        assert_eq!(e + r, 200);
        assert!(e > 0 && r > 0, "entered {e}, refused {r}");
        assert!(repo.store().get_opt("s/lock.json").unwrap().is_none());
    }

    #[test]
    fn one_holder_at_a_time_in_memory() {
        hammer(Store::memory());
    }

    #[test]
    fn one_holder_at_a_time_on_a_local_path() {
        let dir = tempfile::tempdir().unwrap();
        hammer(Store::open(dir.path().to_str().unwrap(), &Default::default()).unwrap());
    }

    #[test]
    fn refused_names_the_holder_and_drop_releases() {
        let repo = Repository::new(Store::memory(), "s").unwrap();
        let g = acquire(&repo, "expire").unwrap();
        let e = acquire(&repo, "backup").unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("s/lock.json"), "{msg}");
        assert!(msg.contains("expire (pid "), "{msg}");
        assert!(msg.contains(&hostname()), "{msg}");
        drop(g);
        acquire(&repo, "backup").unwrap().release().unwrap();
    }

    fn dead_pid() -> u32 {
        let mut c = std::process::Command::new("true").spawn().unwrap();
        let pid = c.id();
        c.wait().unwrap();
        assert!(!pid_alive(pid));
        pid
    }

    fn plant(repo: &Repository, host: &str, pid: u32) {
        let rec = LockRecord {
            host: host.into(),
            pid,
            purpose: "backup".into(),
            since: 1_796_584_217,
        };
        repo.store()
            .put(&keys::lock("s"), serde_json::to_vec(&rec).unwrap())
            .unwrap();
    }

    #[test]
    fn a_dead_process_lock_of_this_host_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().to_str().unwrap(), &Default::default()).unwrap();
        let repo = Repository::new(store, "s").unwrap();
        plant(&repo, &hostname(), dead_pid());
        let g = acquire(&repo, "expire").unwrap();
        let rec: LockRecord =
            serde_json::from_slice(&repo.store().get("s/lock.json").unwrap()).unwrap();
        assert_eq!(rec.pid, std::process::id());
        assert_eq!(rec.purpose, "expire");
        g.release().unwrap();
    }

    #[test]
    fn a_live_process_lock_is_not_taken_over() {
        let repo = Repository::new(Store::memory(), "s").unwrap();
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        plant(&repo, &hostname(), child.id());
        let r = acquire(&repo, "expire");
        child.kill().unwrap();
        child.wait().unwrap();
        let msg = r.unwrap_err().to_string();
        assert!(msg.contains(&format!("pid {}", child.id())), "{msg}");
    }

    #[test]
    fn another_hosts_lock_must_be_removed_by_hand() {
        let repo = Repository::new(Store::memory(), "s").unwrap();
        plant(&repo, "elsewhere.example", dead_pid());
        let e = acquire(&repo, "expire").unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("host elsewhere.example"), "{msg}");
        assert!(msg.contains("since 20261206-191017 UTC"), "{msg}");
        assert!(msg.contains("delete s/lock.json by hand"), "{msg}");
        repo.store().delete("s/lock.json").unwrap();
        acquire(&repo, "expire").unwrap().release().unwrap();
    }
}
