//! State shared between the application's thread and the fetcher threads: one entry per
//! partition (of one or more topics), behind one mutex, with two condition variables (data ready for the application,
//! room or work for the fetchers).
//!
//! Each partition's position is a [`Part`], the state machine of [`super::position`].

use crate::error::Error;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use super::config::ConsumerConfig;
pub(crate) use super::position::{Part, Position};

/// Everything the fetchers and the application share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub cfg: ConsumerConfig,
    /// The partitions read, in the order of `parts` (fixed for the state's life): an index
    /// into it is a partition's slot.
    pub keys: Vec<(Arc<str>, i32)>,
    /// The distinct topics of `keys`.
    pub topics: Vec<Arc<str>>,
    pub parts: Mutex<Vec<Part>>,
    /// Signalled when a queue gains messages or an error, and on stop.
    pub data_ready: Condvar,
    /// Signalled when a queue drains, a reset happens, and on stop.
    pub work_ready: Condvar,
    stopped: AtomicBool,
    /// Why a fetcher thread died, until the application is told.
    death: Mutex<Option<Error>>,
    /// Set to make the application's wait return early (a group rebalance is due).
    interrupted: AtomicBool,
    /// The bytes the Fetches in flight (of every fetcher thread) were allowed to bring: they
    /// count against `queued_max_bytes_total` until their answers are queued, so that brokers
    /// fetched at once don't each fill the whole room.
    pub fetching: AtomicUsize,
}

impl crate::group::membership::Wake for Shared {
    fn interrupt(&self) {
        Shared::interrupt(self);
    }

    fn stop(&self) {
        Shared::stop(self);
    }
}

impl Shared {
    pub fn new(cfg: ConsumerConfig, keys: Vec<(Arc<str>, i32)>) -> Shared {
        let parts = keys.iter().map(|(_, p)| Part::new(*p, cfg.fetch_message_max_bytes)).collect();
        let mut topics: Vec<Arc<str>> = Vec::new();
        for (t, _) in &keys {
            if !topics.contains(t) {
                topics.push(Arc::clone(t));
            }
        }
        Shared {
            cfg,
            keys,
            topics,
            parts: Mutex::new(parts),
            data_ready: Condvar::new(),
            work_ready: Condvar::new(),
            stopped: AtomicBool::new(false),
            death: Mutex::new(None),
            interrupted: AtomicBool::new(false),
            fetching: AtomicUsize::new(0),
        }
    }

    /// "topic" or "topic1,topic2" for log lines.
    pub fn topics_label(&self) -> String {
        self.topics.iter().map(|t| &**t).collect::<Vec<_>>().join(",")
    }

    /// Wakes the application's wait without stopping anything; it sees
    /// [`Shared::take_interrupt`] return true.
    pub fn interrupt(&self) {
        self.interrupted.store(true, Ordering::Release);
        let _g = self.lock();
        self.data_ready.notify_all();
    }

    /// Whether an interrupt arrived since the last call.
    pub fn take_interrupt(&self) -> bool {
        self.interrupted.swap(false, Ordering::AcqRel)
    }

    pub fn lock(&self) -> MutexGuard<'_, Vec<Part>> {
        // Partition state stays consistent even if a holder panicked: every update is a plain
        // field assignment.
        self.parts.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Acquire)
    }

    pub fn stop(&self) {
        self.stopped.store(true, Ordering::Release);
        // Take the lock so that no waiter misses the wake-up between its check and its wait.
        let _g = self.lock();
        self.data_ready.notify_all();
        self.work_ready.notify_all();
    }

    /// A fetcher thread died with `e`: the application hears it on its next poll, and the
    /// other fetchers stop.
    pub fn die(&self, e: Error) {
        *self.death.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
        self.stop();
    }

    /// Why a fetcher died, once.
    pub fn take_death(&self) -> Option<Error> {
        self.death.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// Waits on `work_ready` for at most `d`, returning early on stop.
    pub fn wait_for_work(&self, d: Duration) {
        let g = self.lock();
        if self.is_stopped() {
            return;
        }
        let _ = self.work_ready.wait_timeout(g, d);
    }
}
