//! The consumer group protocol (KIP-848, Kafka 4.0+): members whose partitions the
//! coordinator assigns, handed over one by one as members come and go, with no stop for the
//! rest of the group. A first member reads a four-partition topic alone; a second joins and
//! takes half; between them every record is read once.
//!
//! ```text
//! cargo run --example consumer_protocol                  # on a MockCluster
//! cargo run --example consumer_protocol -- BROKERS       # on Kafka 4.x (a new topic)
//! ```

use plainkafka::group::GroupProtocol;
use plainkafka::{BalancedConsumer, KafkaClient, ProducerRecord};
use std::collections::BTreeSet;
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A member; each assignment it gets is printed and its size sent to `assigned`.
fn member(
    client: &KafkaClient,
    (group, topic): (&str, &str),
    name: &'static str,
    assigned: mpsc::Sender<usize>,
) -> plainkafka::Result<BalancedConsumer> {
    client
        .balanced_consumer(group, &[topic])
        .group_protocol(GroupProtocol::Consumer)
        .on_assigned(move |parts| {
            println!("{name} now reads partitions {:?}", parts.iter().map(|(_, p)| *p).collect::<Vec<_>>());
            let _ = assigned.send(parts.len());
        })
        .consumer_timeout(Some(Duration::from_millis(200)))
        .build()
}

/// Reads what `c` is given until `idle` passes without a record.
fn read(c: &mut BalancedConsumer, idle: Duration, seen: &mut Vec<String>) -> plainkafka::Result<()> {
    let mut last = std::time::Instant::now();
    while last.elapsed() < idle {
        if let Some(m) = c.consume()? {
            seen.push(String::from_utf8_lossy(m.value().unwrap_or_default()).into_owned());
            last = std::time::Instant::now();
        }
    }
    Ok(())
}

fn main() -> plainkafka::Result<()> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let _cluster;
    let brokers = match args.first() {
        Some(b) => b.clone(),
        None => {
            _cluster = plainkafka::mock::MockCluster::new()?;
            _cluster.bootstrap()
        }
    };
    let client = KafkaClient::new(&brokers)?;
    let stamp = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
    let (topic, group) = (format!("kip848-{stamp}"), format!("kip848-group-{stamp}"));
    client.create_topic(&topic, 4, -1)?;
    let producer = client.topic(&topic)?.producer().build()?;
    let write = |from: usize| -> plainkafka::Result<()> {
        for i in from..from + 40 {
            producer.send(ProducerRecord::new(format!("record-{i}")).partition((i % 4) as i32))?;
        }
        producer.flush(Duration::from_secs(10))
    };

    let (mut first_seen, mut second_seen) = (Vec::new(), Vec::new());
    let (first_assigned, _) = mpsc::channel();
    let mut first = member(&client, (&group, &topic), "first", first_assigned)?;
    write(0)?;
    read(&mut first, Duration::from_secs(3), &mut first_seen)?;
    // The second member joins: the coordinator moves two partitions to it once the first has
    // committed and given them up, while the first keeps reading the other two. What is
    // written then goes to both.
    let (second_assigned, assigned) = mpsc::channel();
    let mut second = member(&client, (&group, &topic), "second", second_assigned)?;
    std::thread::scope(|s| {
        let a = s.spawn(|| read(&mut first, Duration::from_secs(8), &mut first_seen));
        let b = s.spawn(|| read(&mut second, Duration::from_secs(8), &mut second_seen));
        let _ = assigned.recv_timeout(Duration::from_secs(30));
        write(40)?;
        a.join().expect("first member")?;
        b.join().expect("second member")
    })?;
    first.stop();
    second.stop();
    let distinct: BTreeSet<&String> = first_seen.iter().chain(&second_seen).collect();
    println!("first read {}, second read {}: {} distinct of 80", first_seen.len(), second_seen.len(), distinct.len());
    if distinct.len() != 80 {
        std::process::exit(1);
    }
    Ok(())
}
