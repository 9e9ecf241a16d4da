//! Throttling: one limit on the bytes per second that all reader threads of a backup read
//! together ([`BackupOptions::set_read_limit`](super::BackupOptions::set_read_limit)).
//!
//! The limiter keeps the instant from which the next read may start: a read of `n` bytes
//! starts at that instant (or now, when it is past) and moves it `n / rate` later. So reads
//! are spread evenly, never more than one piece ([`PIECE`]) ahead of the rate, and an idle
//! spell earns no burst afterwards. Reads are cut into pieces so that a low rate gives short
//! reads often, not a large read every few seconds.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::progress::Cancel;

/// The largest read a throttled reader makes at once (a multiple of every page size and of
/// the `O_DIRECT` alignment).
pub(crate) const PIECE: usize = 256 << 10;

/// The longest single sleep: a cancelled backup stops waiting within this.
const NAP: Duration = Duration::from_millis(50);

/// A read-rate limit shared by several threads.
#[derive(Debug)]
pub(crate) struct ReadLimit {
    bytes_per_sec: u64,
    /// When the next read may start.
    next: Mutex<Option<Instant>>,
}

impl ReadLimit {
    /// At most `bytes_per_sec` bytes per second (at least 1).
    pub(crate) fn new(bytes_per_sec: u64) -> ReadLimit {
        ReadLimit {
            bytes_per_sec: bytes_per_sec.max(1),
            next: Mutex::new(None),
        }
    }

    /// The time `bytes` take at the rate.
    fn cost(&self, bytes: u64) -> Duration {
        Duration::from_secs_f64(bytes as f64 / self.bytes_per_sec as f64)
    }

    /// Books `bytes` and returns when their read may start.
    fn book(&self, bytes: u64) -> Instant {
        let now = Instant::now();
        let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
        let start = next.map_or(now, |n| n.max(now));
        *next = Some(start + self.cost(bytes));
        start
    }

    /// Waits until `bytes` more may be read; `false` when `cancel` was set meanwhile.
    pub(crate) fn take(&self, bytes: u64, cancel: &Cancel) -> bool {
        let start = self.book(bytes);
        loop {
            if cancel.is_cancelled() {
                return false;
            }
            let now = Instant::now();
            if now >= start {
                return true;
            }
            std::thread::sleep((start - now).min(NAP));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn several_threads_together_keep_to_the_rate() {
        // 4 threads reading 40 pieces of 64 KiB (2.5 MiB) at 10 MiB/s: about 0.25 s, of
        // which the first piece is free
        let limit = ReadLimit::new(10 << 20);
        let cancel = Cancel::new();
        let t0 = Instant::now();
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..10 {
                        assert!(limit.take(64 << 10, &cancel));
                    }
                });
            }
        });
        let took = t0.elapsed();
        let least = limit.cost(39 * (64 << 10));
        assert!(took >= least, "{took:?} < {least:?}");
        assert!(took < Duration::from_secs(5), "{took:?}");
    }

    #[test]
    fn reads_are_spread_evenly_and_idle_time_earns_no_burst() {
        let limit = ReadLimit::new(1 << 20);
        let t0 = Instant::now();
        let first = limit.book(PIECE as u64);
        let second = limit.book(PIECE as u64);
        assert!(first <= t0 + Duration::from_millis(50));
        assert_eq!(second - first, Duration::from_millis(250));
        // after a pause longer than the booked time, the next read starts now, and the one
        // after it a full piece's time later (no saved-up allowance)
        std::thread::sleep(Duration::from_millis(600));
        let now = Instant::now();
        let third = limit.book(PIECE as u64);
        let fourth = limit.book(PIECE as u64);
        assert!(third >= now);
        assert_eq!(fourth - third, Duration::from_millis(250));
    }

    #[test]
    fn a_cancelled_wait_returns_promptly() {
        let limit = ReadLimit::new(1 << 10);
        let cancel = Cancel::new();
        assert!(limit.take(1 << 20, &cancel)); // the first read is free, the next waits 1024 s
        let t0 = Instant::now();
        std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(Duration::from_millis(100));
                cancel.cancel();
            });
            assert!(!limit.take(1, &cancel));
        });
        assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
    }
}
