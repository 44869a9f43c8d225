//! A share group (KIP-932, Kafka 4.2+) as a work queue: each record goes to one of the
//! workers. A job whose value contains "retry" is released (another worker, or this one, gets
//! it again, its delivery count one up) until its third delivery, when it is accepted;
//! everything else is accepted.
//!
//! ```text
//! cargo run --example share_queue                        # two workers on a MockCluster
//! cargo run --example share_queue -- BROKERS TOPIC GROUP # one worker; start several
//! ```
//!
//! A new share group starts at the end of the topic (`share.auto.offset.reset=latest`): the
//! group is set to `earliest` first, so the jobs already written are done too.

use plainkafka::{Acknowledge, ConfigResource, KafkaClient, ShareConsumer};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Works on jobs until `consume` returns `None` (the consumer timeout passed, or forever
/// without one); returns the jobs it finished, with the delivery that finished each.
fn work(name: &str, queue: &mut ShareConsumer) -> plainkafka::Result<Vec<(String, u16)>> {
    let mut done = Vec::new();
    while let Some(job) = queue.consume()? {
        let value = String::from_utf8_lossy(job.value().unwrap_or_default()).into_owned();
        let delivery = job.delivery_count().unwrap_or(1);
        let how = if value.contains("retry") && delivery < 3 { Acknowledge::Release } else { Acknowledge::Accept };
        println!(
            "{name}: {}/{} @{} delivery {delivery}: {value} → {how:?}",
            job.topic(),
            job.partition(),
            job.offset()
        );
        queue.acknowledge(&job, how)?;
        if how == Acknowledge::Accept {
            done.push((value, delivery));
        }
    }
    Ok(done)
}

fn main() -> plainkafka::Result<()> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => demo(),
        [brokers, topic, group] => {
            let client = KafkaClient::new(brokers)?;
            client.alter_configs(
                &ConfigResource::Group(group.clone()),
                &[("share.auto.offset.reset", Some("earliest"))],
            )?;
            let mut queue = client.share_consumer(group, &[topic]).explicit_acknowledgement(true).build()?;
            // Ctrl-C is the way out; `close` (on drop) acknowledges what is pending and leaves.
            work("worker", &mut queue).map(drop)
        }
        _ => {
            eprintln!("usage: share_queue [BROKERS TOPIC GROUP]");
            std::process::exit(2);
        }
    }
}

/// Two workers share ten jobs on an in-process cluster; each job is finished exactly once.
fn demo() -> plainkafka::Result<()> {
    let cluster = plainkafka::mock::MockCluster::new()?;
    let client = KafkaClient::new(&cluster.bootstrap())?;
    client.create_topic("jobs", 2, -1)?;
    client.alter_configs(&ConfigResource::Group("workers".into()), &[("share.auto.offset.reset", Some("earliest"))])?;
    let producer = client.topic("jobs")?.producer().build()?;
    for i in 0..10 {
        let value = if i % 4 == 0 { format!("job-{i}-retry") } else { format!("job-{i}") };
        producer.send(plainkafka::ProducerRecord::new(value))?;
    }
    producer.flush(Duration::from_secs(10))?;
    let done = Arc::new(Mutex::new(Vec::new()));
    let workers: Vec<_> = ["worker-a", "worker-b"]
        .into_iter()
        .map(|name| {
            let (client, done) = (client.clone(), Arc::clone(&done));
            std::thread::spawn(move || -> plainkafka::Result<()> {
                // Three seconds without a job: the queue is empty.
                let mut queue = client
                    .share_consumer("workers", &["jobs"])
                    .explicit_acknowledgement(true)
                    .consumer_timeout(Some(Duration::from_secs(3)))
                    .build()?;
                let mine = work(name, &mut queue)?;
                done.lock().unwrap_or_else(|e| e.into_inner()).extend(mine);
                Ok(())
            })
        })
        .collect();
    for w in workers {
        w.join().expect("worker thread")?;
    }
    let done = done.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let mut times: BTreeMap<&str, usize> = BTreeMap::new();
    for (job, _) in &done {
        *times.entry(job).or_default() += 1;
    }
    println!("{} jobs finished, each once: {}", times.len(), times.values().all(|n| *n == 1));
    let retried: Vec<u16> = done.iter().filter(|(j, _)| j.contains("retry")).map(|(_, d)| *d).collect();
    println!("retried jobs finished at deliveries {retried:?}");
    if times.len() != 10 || times.values().any(|n| *n != 1) || retried.iter().any(|d| *d != 3) {
        eprintln!("unexpected: {done:?}");
        std::process::exit(1);
    }
    Ok(())
}
