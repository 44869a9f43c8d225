//! `produce`: one message per line of standard input.

use crate::props::Conn;
use crate::{AcksArg, AnyResult, Codec};
use plainkafka::{Acks, Compression, Producer, ProducerRecord};
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub(crate) struct ProduceOpts {
    pub partition: Option<i32>,
    pub key: Option<String>,
    pub key_delimiter: Option<String>,
    pub compression: Codec,
    pub acks: AcksArg,
    pub headers: Vec<String>,
    /// Producer properties (-X), applied over the flags.
    pub props: Vec<(String, String)>,
}

pub(crate) fn produce(conn: &Conn, topic: &str, o: ProduceOpts) -> AnyResult<()> {
    use io::BufRead;
    let mut headers = Vec::new();
    for h in &o.headers {
        let (name, value) = h.split_once('=').ok_or_else(|| format!("header {h:?} is not name=value"))?;
        headers.push((name.to_string(), Some(value.as_bytes().to_vec())));
    }
    let topic = conn.producing_client()?.topic(topic)?;
    let mut b = topic
        .producer()
        .compression(match o.compression {
            Codec::None => Compression::None,
            Codec::Gzip => Compression::Gzip,
            Codec::Snappy => Compression::Snappy,
            Codec::Lz4 => Compression::Lz4,
            Codec::Zstd => Compression::Zstd,
        })
        .required_acks(match o.acks {
            AcksArg::Zero => Acks::None,
            AcksArg::One => Acks::Leader,
            AcksArg::All => Acks::All,
        });
    for (k, v) in &o.props {
        b = b.set(k, v)?;
    }
    b = b.on_statistics(|s| eprintln!("{}", s.to_json()));
    let p = Arc::new(b.build()?);
    let count = Arc::new(AtomicU64::new(0));
    on_signal_flush(Arc::clone(&p), Arc::clone(&count));
    for line in io::stdin().lock().split(b'\n') {
        let mut line = line?;
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        let (key, value) = match &o.key_delimiter {
            Some(d) => match find(&line, d.as_bytes()) {
                Some(at) => (Some(line[..at].to_vec()), line[at + d.len()..].to_vec()),
                None => (None, line),
            },
            None => (o.key.as_ref().map(|k| k.as_bytes().to_vec()), line),
        };
        let rec = ProducerRecord {
            value: Some(value),
            key,
            headers: headers.clone(),
            timestamp: None,
            partition: o.partition,
        };
        p.produce(rec)?;
        count.fetch_add(1, Ordering::AcqRel);
    }
    p.flush(FINAL_FLUSH)?;
    eprintln!("{}", crate::format::count(count.load(Ordering::Acquire), "message"));
    Ok(())
}

/// Past the producer's delivery timeout (120 s), so each message ends delivered or failed with
/// its own error rather than with the flush's.
const FINAL_FLUSH: Duration = Duration::from_secs(150);

/// SIGINT or SIGTERM ends `produce` cleanly: what was read is delivered (the main thread may be
/// blocked reading standard input, so the handler flushes itself), the count is printed, and
/// the process exits 0, or 1 when a message failed. A second signal exits at once.
fn on_signal_flush(p: Arc<Producer>, count: Arc<AtomicU64>) {
    let seen = AtomicBool::new(false);
    let set = ctrlc::set_handler(move || {
        if seen.swap(true, Ordering::AcqRel) {
            std::process::exit(130);
        }
        let code = match p.flush(FINAL_FLUSH) {
            Ok(()) => {
                eprintln!("{}, stopped by a signal", crate::format::count(count.load(Ordering::Acquire), "message"));
                0
            }
            Err(e) => {
                eprintln!("plainkafka: {e}");
                1
            }
        };
        std::process::exit(code);
    });
    if let Err(e) = set {
        log::warn!("no signal handler ({e}): Ctrl-C will end the process without delivering what is queued");
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}
