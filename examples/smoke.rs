use plainkafka::{KafkaClient, OffsetReset};
use std::time::Duration;
fn main() -> plainkafka::Result<()> {
    env_logger::init();
    let client = KafkaClient::new(&std::env::args().nth(1).unwrap())?;
    let topic = client.topic(&std::env::args().nth(2).unwrap())?;
    println!("earliest {:?} latest {:?}", topic.earliest_available_offsets()?, topic.latest_available_offsets()?);
    let mut c = topic.simple_consumer().consumer_group("g1").auto_offset_reset(OffsetReset::Earliest).consumer_timeout(Some(Duration::from_secs(2))).build()?;
    let mut n = 0;
    for m in c.iter() { let m = m?; n += 1; if n <= 3 { println!("{:?} {:?}", m, m.value().map(String::from_utf8_lossy)); } }
    println!("read {n}; decisions {:?}", c.start_decisions());
    c.commit_offsets()?;
    println!("committed {:?}", c.fetch_offsets()?);
    Ok(())
}
