//! `produce`: one message per line of standard input.

use crate::props::Conn;
use crate::{AcksArg, AnyResult, Codec};
use plainkafka::{Acks, BorrowedRecord, Compression, Producer};
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub(crate) struct ProduceOpts {
    pub partition: Option<i32>,
    pub key: Option<String>,
    pub key_delimiter: Option<String>,
    pub compression: Option<Codec>,
    pub acks: AcksArg,
    pub headers: Vec<String>,
    /// Producer properties (-X), applied over the flags.
    pub props: Vec<(String, String)>,
}

pub(crate) fn produce(conn: &Conn, topic: &str, o: ProduceOpts) -> AnyResult<()> {
    let mut headers = Vec::new();
    for h in &o.headers {
        let (name, value) = h.split_once('=').ok_or_else(|| format!("header {h:?} is not name=value"))?;
        headers.push((name.to_string(), Some(value.as_bytes().to_vec())));
    }
    let topic = conn.producing_client()?.topic(topic)?;
    let mut b = topic.producer().required_acks(match o.acks {
        AcksArg::Zero => Acks::None,
        AcksArg::One => Acks::Leader,
        AcksArg::All => Acks::All,
    });
    if let Some(codec) = o.compression {
        b = b.compression(match codec {
            Codec::None => Compression::None,
            Codec::Gzip => Compression::Gzip,
            Codec::Snappy => Compression::Snappy,
            Codec::Lz4 => Compression::Lz4,
            Codec::Zstd => Compression::Zstd,
        });
    }
    for (k, v) in &o.props {
        b = b.set(k, v)?;
    }
    b = b.on_statistics(|s| eprintln!("{}", s.to_json()));
    let p = Arc::new(b.build()?);
    // With a transactional id, all of standard input is one transaction.
    let transactional = o.props.iter().any(|(k, v)| k == "transactional.id" && !v.trim().is_empty());
    if transactional {
        p.begin_transaction()?;
    }
    let count = Arc::new(AtomicU64::new(0));
    on_signal_flush(Arc::clone(&p), Arc::clone(&count), transactional);
    let read = read_lines(&p, &o, &headers, &count);
    if transactional {
        let ended = read.and_then(|()| Ok(p.commit_transaction(FINAL_FLUSH)?));
        if let Err(e) = ended {
            return match p.abort_transaction(FINAL_FLUSH) {
                Ok(()) => Err(format!("{e}; the transaction was aborted: nothing was written").into()),
                Err(a) => Err(format!("{e}; aborting the transaction failed too: {a}").into()),
            };
        }
    } else {
        read?;
        p.flush(FINAL_FLUSH)?;
    }
    eprintln!("{}", crate::format::count(count.load(Ordering::Acquire), "message"));
    Ok(())
}

/// Produces one message per line of standard input, read into one reused buffer: each line
/// is copied into its batch, so nothing is allocated per message.
fn read_lines(
    p: &Producer,
    o: &ProduceOpts,
    headers: &[(String, Option<Vec<u8>>)],
    count: &AtomicU64,
) -> AnyResult<()> {
    use io::BufRead;
    let headers: Vec<(&str, Option<&[u8]>)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_deref())).collect();
    let fixed_key = o.key.as_deref().map(str::as_bytes);
    let mut input = io::BufReader::with_capacity(1 << 20, io::stdin().lock());
    let mut line = Vec::new();
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        let mut text = &line[..];
        if let Some(rest) = text.strip_suffix(b"\n") {
            text = rest;
        }
        if let Some(rest) = text.strip_suffix(b"\r") {
            text = rest;
        }
        let (key, value) = match &o.key_delimiter {
            Some(d) => match find(text, d.as_bytes()) {
                Some(at) => (Some(&text[..at]), &text[at + d.len()..]),
                None => (None, text),
            },
            None => (fixed_key, text),
        };
        let rec =
            BorrowedRecord { value: Some(value), key, headers: &headers, timestamp: None, partition: o.partition };
        p.produce_borrowed(rec)?;
        count.fetch_add(1, Ordering::AcqRel);
    }
}

/// Past the producer's delivery timeout (120 s), so each message ends delivered or failed with
/// its own error rather than with the flush's.
const FINAL_FLUSH: Duration = Duration::from_secs(150);

/// SIGINT or SIGTERM ends `produce` cleanly: what was read is delivered (the main thread may be
/// blocked reading standard input, so the handler flushes itself), the count is printed, and
/// the process exits 0, or 1 when a message failed. In a transaction, the transaction is
/// aborted instead and the process exits 1: nothing was written. A second signal exits at once.
fn on_signal_flush(p: Arc<Producer>, count: Arc<AtomicU64>, transactional: bool) {
    let seen = AtomicBool::new(false);
    let set = ctrlc::set_handler(move || {
        if seen.swap(true, Ordering::AcqRel) {
            std::process::exit(130);
        }
        if transactional {
            match p.abort_transaction(FINAL_FLUSH) {
                Ok(()) => {
                    eprintln!("plainkafka: stopped by a signal; the transaction was aborted: nothing was written")
                }
                Err(e) => eprintln!("plainkafka: stopped by a signal; aborting the transaction failed: {e}"),
            }
            std::process::exit(1);
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
    match needle {
        [] => None,
        // The usual one-byte delimiter: a byte scan, not a slice comparison at every position.
        [b] => haystack.iter().position(|c| c == b),
        _ => haystack.windows(needle.len()).position(|w| w == needle),
    }
}
