//! The PyKafka usage guide's three consumers ("Setting the initial offset"), run for real.
//!
//! ```text
//! cargo run --example quickstart                   # an in-process MockCluster (3 brokers)
//! cargo run --example quickstart -- BROKERS        # or $KAFKA_BROKERS: a real cluster
//! ```
//!
//! `scripts/quickstart.sh` starts a local Apache Kafka and runs this against it.

use plainkafka::{KafkaClient, OffsetReset, Producer, ProducerRecord, SimpleConsumer};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn write(producer: &Producer, values: &[String]) -> plainkafka::Result<()> {
    for v in values {
        producer.send(ProducerRecord::new(v.as_str()).partition(0))?;
    }
    println!("  wrote {values:?}");
    Ok(())
}

fn read_all(c: &mut SimpleConsumer) -> plainkafka::Result<Vec<String>> {
    let mut out = Vec::new();
    for m in c.iter() {
        let m = m?;
        out.push(String::from_utf8_lossy(m.value().unwrap_or_default()).into_owned());
    }
    Ok(out)
}

fn explain(c: &SimpleConsumer) {
    for (p, d) in c.start_decisions() {
        match d {
            Some(d) => println!("  partition {p}: started at offset {} because: {d}", d.offset),
            None => println!("  partition {p}: not started"),
        }
    }
}

fn main() -> plainkafka::Result<()> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let given = std::env::args().nth(1).or_else(|| std::env::var("KAFKA_BROKERS").ok());
    // Without a cluster named, run one in this process: no Kafka, no JVM, no Docker.
    let (_mock, brokers) = match given {
        Some(b) => (None, b),
        None => {
            let m = plainkafka::mock::MockCluster::builder().brokers(3).build()?;
            let b = m.bootstrap();
            println!("started an in-process MockCluster: {b}");
            (Some(m), b)
        }
    };
    let stamp = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
    let topic_name = format!("quickstart-{stamp}");
    let group = format!("mygroup-{stamp}");
    let batch = |from: usize, n: usize| (from..from + n).map(|i| format!("message {i}")).collect::<Vec<_>>();

    println!("topic {topic_name} on {brokers}; group {group} has no committed offsets");
    let client = KafkaClient::new(&brokers)?;
    let topic = client.topic(&topic_name)?;
    let producer = topic.producer().build()?;
    write(&producer, &batch(0, 5))?;
    let timeout = Some(Duration::from_millis(1500));

    println!("\nconsumer: auto_offset_reset=LATEST on a new group -> starts at the latest offset");
    let mut c1 = topic
        .simple_consumer()
        .consumer_group(&group)
        .auto_offset_reset(OffsetReset::Latest)
        .consumer_timeout(timeout)
        .build()?;
    println!("  read {:?} (nothing old)", read_all(&mut c1)?);
    explain(&c1);
    write(&producer, &batch(5, 3))?;
    println!("  read {:?}", read_all(&mut c1)?);
    c1.commit_offsets()?;
    println!("  committed {:?}", c1.fetch_offsets()?);
    drop(c1);

    println!("\nconsumer_2: same group, defaults -> starts from the committed offset");
    let mut c2 = topic.simple_consumer().consumer_group(&group).consumer_timeout(timeout).build()?;
    write(&producer, &batch(8, 2))?;
    println!("  read {:?}", read_all(&mut c2)?);
    explain(&c2);
    drop(c2);

    println!("\nconsumer_3: auto_offset_reset=EARLIEST, reset_offset_on_start=True -> starts from the earliest offset");
    let mut c3 = topic
        .simple_consumer()
        .consumer_group(&group)
        .auto_offset_reset(OffsetReset::Earliest)
        .reset_offset_on_start(true)
        .consumer_timeout(timeout)
        .build()?;
    println!("  read {:?}", read_all(&mut c3)?);
    explain(&c3);
    Ok(())
}
