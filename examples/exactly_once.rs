//! Consume → transform → produce, exactly once: every message of INPUT appears once in OUTPUT,
//! upper-cased, however often this process is killed and restarted.
//!
//! ```text
//! cargo run --example exactly_once -- BROKERS INPUT OUTPUT GROUP TRANSACTIONAL_ID [IDLE_SECS]
//! ```
//!
//! Each transaction holds up to 100 outputs and the inputs' offsets. A restarted process with
//! the same transactional id fences its predecessor (whose open transaction is aborted, so
//! read_committed readers never see its outputs) and resumes from the offsets the last
//! committed transaction wrote. The transactional id doubles as the group instance id (static
//! membership), so a restart takes the partitions back without waiting for the old session to
//! time out. With IDLE_SECS it exits once no input came for that long; it prints a line per
//! committed transaction.

use plainkafka::{KafkaClient, ProducerRecord};
use std::io::Write;
use std::time::{Duration, Instant};

fn main() -> plainkafka::Result<()> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [brokers, input, output, group, txn_id, rest @ ..] = args.as_slice() else {
        eprintln!("usage: exactly_once BROKERS INPUT OUTPUT GROUP TRANSACTIONAL_ID [IDLE_SECS]");
        std::process::exit(2);
    };
    let idle_exit = rest.first().map(|s| Duration::from_secs(s.parse().expect("IDLE_SECS: a number of seconds")));

    let client = KafkaClient::new(brokers)?;
    let mut consumer = client
        .balanced_consumer(group, &[input])
        // Offsets move only inside transactions, with the outputs they produced.
        .auto_commit_enable(false)
        .group_instance_id(txn_id)
        .consumer_timeout(Some(Duration::from_millis(500)))
        .build()?;
    let producer = client.topic(output)?.producer().transactional_id(txn_id).build()?;

    let mut total = 0;
    let mut last_input = Instant::now();
    loop {
        let n = producer.transact_from(&mut consumer, Duration::from_secs(60), |txn, consumer| {
            let mut n = 0;
            for msg in consumer.iter().take(100) {
                let msg = msg?;
                let value = msg.value().unwrap_or_default().to_ascii_uppercase();
                let mut out = ProducerRecord::new(value);
                if let Some(key) = msg.key() {
                    out = out.key(key.to_vec());
                }
                txn.produce(out)?;
                n += 1;
            }
            Ok(n)
        });
        let n = match n {
            Ok(n) => n,
            // Aborted because the group rebalanced: the consumer went back to its last commit,
            // so running the next transaction reads those messages again.
            Err(e @ plainkafka::Error::Rebalanced { .. }) => {
                eprintln!("{e}");
                continue;
            }
            Err(e) => return Err(e),
        };
        if n > 0 {
            total += n;
            last_input = Instant::now();
            println!("committed {n} (total {total})");
            std::io::stdout().flush().ok();
        } else if idle_exit.is_some_and(|idle| last_input.elapsed() >= idle) {
            println!("idle; {total} messages in this run");
            return Ok(());
        }
    }
}
