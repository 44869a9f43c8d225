//! A share group (KIP-932, Kafka 4.2+) as a work queue: start several of these on one topic
//! and each record goes to one of them. A record whose value contains "retry" is released
//! (another member, or this one, gets it again, its delivery count one up) until its third
//! delivery, when it is accepted; everything else is accepted.
//!
//! ```text
//! cargo run --example share_queue -- BROKERS TOPIC GROUP
//! ```
//!
//! A new share group starts at the end of the topic (`share.auto.offset.reset=latest`), so
//! write after starting, or set the group's `share.auto.offset.reset` to `earliest` first.

use plainkafka::{Acknowledge, KafkaClient};

fn main() -> plainkafka::Result<()> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [brokers, topic, group] = args.as_slice() else {
        eprintln!("usage: share_queue BROKERS TOPIC GROUP");
        std::process::exit(2);
    };
    let client = KafkaClient::new(brokers)?;
    let mut queue = client.share_consumer(group, &[topic]).explicit_acknowledgement(true).build()?;
    // Ctrl-C is the way out; `close` (on drop) acknowledges what is pending and leaves.
    loop {
        let Some(job) = queue.consume()? else { continue };
        let value = String::from_utf8_lossy(job.value().unwrap_or_default()).into_owned();
        let delivery = job.delivery_count().unwrap_or(1);
        let how = if value.contains("retry") && delivery < 3 { Acknowledge::Release } else { Acknowledge::Accept };
        println!("{}/{} @{} delivery {delivery}: {value} → {how:?}", job.topic(), job.partition(), job.offset());
        queue.acknowledge(&job, how)?;
    }
}
