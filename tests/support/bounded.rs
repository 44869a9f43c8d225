//! Bounds on what tests wait for, so that a hang fails a test instead of stalling the run:
//! child processes get a deadline (killed past it, failing the test with what they printed),
//! and every test that calls [`super::init_logging`] is watched: one running past
//! [`test_limit`] ends the test binary, naming the test, after killing the children it started.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How long a child process run to completion may take by default.
pub const CHILD_LIMIT: Duration = Duration::from_secs(300);

/// How long one test may run: `PLAINKAFKA_TEST_LIMIT_SECS`, default 15 minutes (the slowest
/// test, with a cold download of Kafka's jars, takes a few).
pub fn test_limit() -> Duration {
    let secs = std::env::var("PLAINKAFKA_TEST_LIMIT_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(900);
    Duration::from_secs(secs)
}

/// Runs `cmd` to completion with `input` on its stdin and returns its output. Past `limit` it
/// is killed and the test fails with what it printed.
pub fn output_within(cmd: &mut Command, input: &[u8], limit: Duration) -> Output {
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("starting {cmd:?}: {e}"));
    // Written from a thread: a child that prints a lot before reading all its input must not
    // block on a full pipe while we block on its stdin.
    let stdin = child.stdin.take();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        if let Some(mut s) = stdin {
            let _ = s.write_all(&input);
        }
    });
    let (out, killed) = wait_output_within(child, limit);
    let _ = writer.join();
    if killed {
        panic!(
            "{cmd:?} was still running after {limit:?} and was killed\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out
}

/// Collects `child`'s output, killing it if it runs past `limit`; says whether it was killed.
pub fn wait_output_within(child: Child, limit: Duration) -> (Output, bool) {
    let pid = child.id();
    track(pid);
    let (done, finished) = std::sync::mpsc::channel::<()>();
    let killer = std::thread::spawn(move || {
        let late = finished.recv_timeout(limit).is_err();
        if late {
            kill(pid);
        }
        late
    });
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("waiting for process {pid}: {e}"));
    untrack(pid);
    let _ = done.send(());
    let killed = killer.join().unwrap_or(false);
    (out, killed)
}

fn kill(pid: u32) {
    let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
}

/// Children still running, killed if the watchdog ends the binary.
fn children() -> &'static Mutex<BTreeSet<u32>> {
    static C: OnceLock<Mutex<BTreeSet<u32>>> = OnceLock::new();
    C.get_or_init(Default::default)
}

/// Registers a child process the watchdog should kill if it ends the test binary.
pub fn track(pid: u32) {
    children().lock().unwrap_or_else(|e| e.into_inner()).insert(pid);
}

/// The child exited (or was waited for).
pub fn untrack(pid: u32) {
    children().lock().unwrap_or_else(|e| e.into_inner()).remove(&pid);
}

/// Tests running now: an id per test thread → (name, started).
fn running() -> &'static Mutex<BTreeMap<u64, (String, Instant)>> {
    static R: OnceLock<Mutex<BTreeMap<u64, (String, Instant)>>> = OnceLock::new();
    R.get_or_init(Default::default)
}

/// Registered on a test's thread; its destructor runs when the test's thread ends.
struct Watched(u64);

impl Watched {
    fn new() -> Watched {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        // libtest names each test's thread after the test.
        let name = std::thread::current().name().unwrap_or("a test").to_string();
        running().lock().unwrap_or_else(|e| e.into_inner()).insert(id, (name, Instant::now()));
        start_monitor();
        Watched(id)
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        running().lock().unwrap_or_else(|e| e.into_inner()).remove(&self.0);
    }
}

thread_local! {
    static WATCHED: Watched = Watched::new();
}

/// Watches the calling test (once per test thread).
pub fn watch_this_test() {
    WATCHED.with(|_| {});
}

fn start_monitor() {
    static STARTED: OnceLock<()> = OnceLock::new();
    STARTED.get_or_init(|| {
        let limit = test_limit();
        std::thread::spawn(move || loop {
            std::thread::sleep(Duration::from_secs(1));
            let late = running()
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .values()
                .find(|(_, at)| at.elapsed() > limit)
                .map(|(name, at)| (name.clone(), at.elapsed()));
            if let Some((name, took)) = late {
                // Straight to stderr: eprintln! from here would land in the hung test's capture
                // buffer, which is never printed.
                let _ = writeln!(
                    std::io::stderr(),
                    "watchdog: test {name} has run for {took:?} (limit {limit:?}); ending the test binary"
                );
                for pid in children().lock().unwrap_or_else(|e| e.into_inner()).iter() {
                    kill(*pid);
                }
                std::process::exit(101);
            }
        });
    });
}
