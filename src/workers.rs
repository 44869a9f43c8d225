//! Background threads that announce their exit, and a bounded wait for them: a stop or close
//! waits until a deadline, joins what ended, and leaves the rest to finish on their own (a
//! thread stuck connecting to a dead broker must not hang `stop` or `Drop`).

use std::sync::mpsc::{channel, Receiver, Sender};
use std::thread::JoinHandle;
use std::time::Instant;

/// A set of threads, each of which signals when it ends, however it ends.
#[derive(Debug)]
pub(crate) struct Workers {
    threads: Vec<JoinHandle<()>>,
    tx: Sender<()>,
    exited: Receiver<()>,
}

impl Workers {
    pub fn new() -> Workers {
        let (tx, exited) = channel();
        Workers { threads: Vec::new(), tx, exited }
    }

    /// Starts `f` on a thread called `name`.
    pub fn spawn(&mut self, name: String, f: impl FnOnce() + Send + 'static) -> crate::Result<()> {
        struct Signal(Sender<()>);
        impl Drop for Signal {
            fn drop(&mut self) {
                let _ = self.0.send(());
            }
        }
        let signal = Signal(self.tx.clone());
        let what = format!("starting thread {name}");
        let t = std::thread::Builder::new()
            .name(name)
            .spawn(move || {
                let _signal = signal;
                f();
            })
            .map_err(|e| crate::Error::local(what, e))?;
        self.threads.push(t);
        Ok(())
    }

    /// Waits until `deadline` for every thread to end and joins them; threads still running
    /// then are left to finish, with a warning naming `what`.
    pub fn join_by(&mut self, deadline: Instant, what: &str) {
        let mut exited = 0;
        while exited < self.threads.len()
            && self.exited.recv_timeout(deadline.saturating_duration_since(Instant::now())).is_ok()
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
        w.spawn("quick".into(), || {}).unwrap();
        let (release, wait) = channel::<()>();
        w.spawn("stuck".into(), move || {
            let _ = wait.recv();
        })
        .unwrap();
        let start = Instant::now();
        w.join_by(Instant::now() + Duration::from_millis(200), "test");
        assert!(start.elapsed() < Duration::from_secs(5), "the stuck thread did not hold up join_by");
        assert!(w.threads.is_empty());
        release.send(()).unwrap();
    }
}
