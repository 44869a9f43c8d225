//! `produce`: one message per line of standard input.

use crate::props::Conn;
use crate::{AcksArg, AnyResult, Codec};
use plainkafka::{Acks, Compression, ProducerRecord};
use std::io;
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
    let mut p = b.build()?;
    let mut count = 0u64;
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
        count += 1;
    }
    // Past the producer's delivery timeout (120 s), so each message ends delivered or failed
    // with its own error rather than with the close's.
    p.close(Duration::from_secs(150))?;
    eprintln!("{}", crate::format::count(count, "message"));
    Ok(())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}
