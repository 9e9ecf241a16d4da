//! An ordered parallel map: worker threads process items as fast as they can, the calling
//! thread consumes the results in item order.
//!
//! There is no barrier between batches: a worker takes the next item as soon as it is done
//! with one, so the disk always has `threads` reads in flight. Memory stays bounded because a
//! worker does not start item `i` until the consumer has taken every item before
//! `i - ahead`; at most `ahead + threads` results exist at any time.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::channel;
use std::sync::{Condvar, Mutex};

/// How far ahead of the consumer the workers may go, and how many workers there are.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Lanes {
    /// Worker threads (at least 1).
    pub threads: usize,
    /// Items beyond the oldest unconsumed one that may be started (at least 1).
    pub ahead: usize,
}

/// The consumer's position, shared with the workers.
struct Gate {
    consumed: Mutex<usize>,
    moved: Condvar,
    stop: AtomicBool,
}

impl Gate {
    /// Blocks until item `i` may start; false if the run is stopping.
    fn wait_for(&self, i: usize, ahead: usize) -> bool {
        let Ok(mut c) = self.consumed.lock() else {
            return false;
        };
        while i >= *c + ahead && !self.stop.load(Ordering::Acquire) {
            c = match self.moved.wait(c) {
                Ok(c) => c,
                Err(_) => return false,
            };
        }
        !self.stop.load(Ordering::Acquire)
    }

    fn advance(&self) {
        if let Ok(mut c) = self.consumed.lock() {
            *c += 1;
        }
        self.moved.notify_all();
    }

    fn halt(&self) {
        self.stop.store(true, Ordering::Release);
        // Taking the lock orders the store before any waiter's next check.
        drop(self.consumed.lock());
        self.moved.notify_all();
    }
}

/// Applies `work` to every item on `lanes.threads` threads (each with its own state from
/// `init`) and passes the results to `consume` in item order, on the calling thread. Stops at
/// the first error, from either side, and returns it; the workers then finish the item they
/// hold and exit.
pub(crate) fn ordered_map<T, S, R, E>(
    items: &[T],
    lanes: Lanes,
    init: impl Fn() -> S + Sync,
    work: impl Fn(&mut S, &T) -> Result<R, E> + Sync,
    mut consume: impl FnMut(R) -> Result<(), E>,
) -> Result<(), E>
where
    T: Sync,
    R: Send,
    E: Send,
{
    let ahead = lanes.ahead.max(1);
    let next = AtomicUsize::new(0);
    let gate = Gate {
        consumed: Mutex::new(0),
        moved: Condvar::new(),
        stop: AtomicBool::new(false),
    };
    let (tx, rx) = channel::<(usize, Result<R, E>)>();
    std::thread::scope(|s| {
        for _ in 0..lanes.threads.max(1) {
            let tx = tx.clone();
            let (next, gate, init, work) = (&next, &gate, &init, &work);
            s.spawn(move || {
                let mut state = init();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { return };
                    if !gate.wait_for(i, ahead) {
                        return;
                    }
                    let r = work(&mut state, item);
                    let failed = r.is_err();
                    if tx.send((i, r)).is_err() || failed {
                        return;
                    }
                }
            });
        }
        drop(tx);
        let mut pending = BTreeMap::new();
        let mut expect = 0usize;
        let result = (|| {
            for (i, r) in &rx {
                pending.insert(i, r);
                while let Some(r) = pending.remove(&expect) {
                    consume(r?)?;
                    expect += 1;
                    gate.advance();
                }
            }
            Ok(())
        })();
        gate.halt();
        result
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_in_order_whatever_the_timing() {
        let items: Vec<u64> = (0..200).collect();
        let mut seen = Vec::new();
        let lanes = Lanes {
            threads: 4,
            ahead: 3,
        };
        ordered_map(
            &items,
            lanes,
            || (),
            |_, &x| {
                std::thread::sleep(std::time::Duration::from_micros((x * 7919) % 300));
                Ok::<u64, ()>(x * 2)
            },
            |r| {
                seen.push(r);
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(seen, items.iter().map(|x| x * 2).collect::<Vec<_>>());
    }

    #[test]
    fn workers_never_run_more_than_ahead_items_past_the_consumer() {
        let items: Vec<usize> = (0..100).collect();
        let consumed = AtomicUsize::new(0);
        let lanes = Lanes {
            threads: 3,
            ahead: 2,
        };
        ordered_map(
            &items,
            lanes,
            || (),
            |_, &i| {
                let c = consumed.load(Ordering::SeqCst);
                if i >= c + 2 {
                    return Err(format!("item {i} started with only {c} consumed"));
                }
                Ok(i)
            },
            |_| {
                consumed.fetch_add(1, Ordering::SeqCst);
                Ok(())
            },
        )
        .unwrap();
    }

    #[test]
    fn the_first_error_in_order_is_returned_and_stops_the_run() {
        let items: Vec<u32> = (0..1000).collect();
        let done = AtomicUsize::new(0);
        let mut consumed = 0;
        let r = ordered_map(
            &items,
            Lanes {
                threads: 2,
                ahead: 4,
            },
            || (),
            |_, &x| {
                done.fetch_add(1, Ordering::SeqCst);
                if x == 10 {
                    Err(x)
                } else {
                    Ok(x)
                }
            },
            |_| {
                consumed += 1;
                Ok(())
            },
        );
        assert_eq!(r, Err(10));
        assert_eq!(consumed, 10);
        assert!(done.load(Ordering::SeqCst) < 20);
        let r = ordered_map(
            &items,
            Lanes {
                threads: 2,
                ahead: 4,
            },
            || (),
            |_, &x| Ok::<u32, u32>(x),
            |x| if x == 5 { Err(99) } else { Ok(()) },
        );
        assert_eq!(r, Err(99));
    }

    #[test]
    fn per_thread_state_is_kept_between_items() {
        let items = vec![(); 50];
        let (mut total, mut most) = (0, 0);
        ordered_map(
            &items,
            Lanes {
                threads: 2,
                ahead: 2,
            },
            || 0u32,
            |n, _| {
                *n += 1;
                Ok::<u32, ()>(*n)
            },
            |n| {
                total += 1;
                most = most.max(n);
                Ok(())
            },
        )
        .unwrap();
        // one of the two workers took at least half the items with the same counter
        assert_eq!(total, 50);
        assert!(most >= 25, "{most}");
    }
}
