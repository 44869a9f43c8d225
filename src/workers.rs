//! Background threads that announce their exit, and a bounded wait for them: a stop or close
//! waits until a deadline, joins what ended, and leaves the rest to finish on their own (a
//! thread stuck connecting to a dead broker must not hang `stop` or `Drop`). A thread that
//! panics hands an [`Error::BackgroundThread`] to its owner's `on_panic`, so the application
//! hears of it instead of waiting for a thread that is gone.

use crate::Error;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::Instant;

/// A set of threads, each of which signals when it ends, however it ends.
#[derive(Debug)]
pub(crate) struct Workers {
    threads: Vec<JoinHandle<()>>,
    tx: Sender<()>,
    /// Behind a mutex only so that whatever holds the workers (a producer used from several
    /// threads) is `Sync`; `join_by` has `&mut self` and never blocks on it.
    exited: Mutex<Receiver<()>>,
}

impl Workers {
    pub fn new() -> Workers {
        let (tx, exited) = channel();
        Workers { threads: Vec::new(), tx, exited: Mutex::new(exited) }
    }

    /// Starts `f` on a thread called `name`; if `f` panics, `on_panic` gets the error.
    pub fn spawn(
        &mut self,
        name: String,
        f: impl FnOnce() + Send + 'static,
        on_panic: impl FnOnce(Error) + Send + 'static,
    ) -> crate::Result<()> {
        struct Signal(Sender<()>);
        impl Drop for Signal {
            fn drop(&mut self) {
                let _ = self.0.send(());
            }
        }
        let signal = Signal(self.tx.clone());
        let what = format!("starting thread {name}");
        let thread = name.clone();
        let t = std::thread::Builder::new()
            .name(name)
            .spawn(move || {
                let _signal = signal;
                if let Err(payload) = catch_unwind(AssertUnwindSafe(f)) {
                    let message = payload
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| payload.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "a panic without a message".into());
                    log::error!("thread {thread} panicked: {message}");
                    on_panic(Error::BackgroundThread { thread, message });
                }
            })
            .map_err(|e| crate::Error::local(what, e))?;
        self.threads.push(t);
        Ok(())
    }

    /// Waits until `deadline` for every thread to end and joins them; threads still running
    /// then are left to finish, with a warning naming `what`.
    pub fn join_by(&mut self, deadline: Instant, what: &str) {
        let rx = self.exited.get_mut().unwrap_or_else(|e| e.into_inner());
        let mut exited = 0;
        while exited < self.threads.len() && rx.recv_timeout(deadline.saturating_duration_since(Instant::now())).is_ok()
        {
            exited += 1;
        }
        let all_exited = exited == self.threads.len();
        for t in self.threads.drain(..) {
            // A thread signals in its last moments: once all have, joining waits no longer.
            if all_exited || t.is_finished() {
                let _ = t.join();
            } else {
                log::warn!("{what}: a thread did not stop in time; leaving it to finish");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn joins_what_ends_and_leaves_what_does_not() {
        let mut w = Workers::new();
        w.spawn("quick".into(), || {}, |_| {}).unwrap();
        let (release, wait) = channel::<()>();
        w.spawn(
            "stuck".into(),
            move || {
                let _ = wait.recv();
            },
            |_| {},
        )
        .unwrap();
        let start = Instant::now();
        w.join_by(Instant::now() + Duration::from_millis(200), "test");
        assert!(start.elapsed() < Duration::from_secs(5), "the stuck thread did not hold up join_by");
        assert!(w.threads.is_empty());
        release.send(()).unwrap();
    }

    #[test]
    fn a_panic_reaches_the_owner_and_the_thread_still_signals() {
        let mut w = Workers::new();
        let (tx, rx) = channel();
        w.spawn("doomed".into(), || panic!("the sky fell"), move |e| tx.send(e).unwrap()).unwrap();
        let e = rx.recv_timeout(Duration::from_secs(10)).expect("on_panic ran");
        assert!(
            matches!(&e, Error::BackgroundThread { thread, message } if thread == "doomed" && message == "the sky fell"),
            "{e:?}"
        );
        assert_eq!(e.retry(), crate::Retry::Never);
        let start = Instant::now();
        w.join_by(Instant::now() + Duration::from_secs(10), "test");
        assert!(start.elapsed() < Duration::from_secs(5), "the panicked thread signalled its exit");
    }
}
