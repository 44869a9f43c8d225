//! Partitioners: which partition a message goes to. Pure functions of the key, the partition
//! count and (for the keyless ones) a counter.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Kafka's murmur2 (the Java client's `Utils.murmur2`): seed 0x9747b28c, little-endian 4-byte
/// blocks, the tail mixed in reverse order.
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let mut h: u32 = SEED ^ data.len() as u32;
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = chunks.remainder();
    if tail.len() >= 3 {
        h ^= u32::from(tail[2]) << 16;
    }
    if tail.len() >= 2 {
        h ^= u32::from(tail[1]) << 8;
    }
    if !tail.is_empty() {
        h ^= u32::from(tail[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// The Java client's partition for a keyed message: `toPositive(murmur2(key)) % partitions`.
pub fn murmur2_partition(key: &[u8], partitions: i32) -> i32 {
    (murmur2(key) & 0x7fff_ffff) % partitions
}

/// A user-supplied partitioner: `(key, partition count) -> partition`.
pub type PartitionFn = Arc<dyn Fn(Option<&[u8]>, i32) -> i32 + Send + Sync>;

/// How messages without an explicit partition are spread.
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum Partitioner {
    /// Keyed messages by murmur2 like the Java client (and librdkafka's `murmur2_random`);
    /// keyless ones round-robin. The default.
    #[default]
    Default,
    /// Every message round-robin, keyed or not (PyKafka's default `RandomPartitioner` spreads
    /// the same way, in turn).
    RoundRobin,
    /// Keyed messages by murmur2; keyless ones stay on one partition for `n` messages, then move
    /// on (fuller batches, as the Java client's sticky partitioner).
    Sticky(usize),
    /// Keyed messages by CRC-32 of the key (PyKafka's `HashingPartitioner` idea, with a hash that
    /// is stable across processes); keyless ones round-robin.
    Hashing,
    /// A function of the key and the partition count.
    Custom(PartitionFn),
}

impl fmt::Debug for Partitioner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Partitioner::Default => write!(f, "Default"),
            Partitioner::RoundRobin => write!(f, "RoundRobin"),
            Partitioner::Sticky(n) => write!(f, "Sticky({n})"),
            Partitioner::Hashing => write!(f, "Hashing"),
            Partitioner::Custom(_) => write!(f, "Custom"),
        }
    }
}

impl Partitioner {
    /// The partition for `key` among `partitions`; `counter` counts keyless messages.
    pub fn partition(&self, key: Option<&[u8]>, partitions: i32, counter: &AtomicUsize) -> i32 {
        let next = || (counter.fetch_add(1, Ordering::Relaxed) % partitions as usize) as i32;
        match (self, key) {
            (Partitioner::Custom(f), key) => f(key, partitions),
            (Partitioner::RoundRobin, _) => next(),
            (Partitioner::Hashing, Some(k)) => (crc32fast::hash(k) % partitions as u32) as i32,
            (Partitioner::Default | Partitioner::Sticky(_), Some(k)) => murmur2_partition(k, partitions),
            (Partitioner::Sticky(n), None) => {
                ((counter.fetch_add(1, Ordering::Relaxed) / (*n).max(1)) % partitions as usize) as i32
            }
            (_, None) => next(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur2_matches_kafkas_test_vectors() {
        // From Apache Kafka's UtilsTest.testMurmur2.
        let cases: [(&[u8], i32); 6] = [
            (b"21", -973932308),
            (b"foobar", -790332482),
            (b"a-little-bit-long-string", -985981536),
            (b"a-little-bit-longer-string", -1486304829),
            (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
            (b"abc", 479470107),
        ];
        for (key, want) in cases {
            assert_eq!(murmur2(key), want, "{}", String::from_utf8_lossy(key));
        }
    }

    #[test]
    fn keyless_spreading() {
        let c = AtomicUsize::new(0);
        let rr: Vec<i32> = (0..6).map(|_| Partitioner::Default.partition(None, 3, &c)).collect();
        assert_eq!(rr, vec![0, 1, 2, 0, 1, 2]);
        let c = AtomicUsize::new(0);
        let sticky: Vec<i32> = (0..6).map(|_| Partitioner::Sticky(2).partition(None, 3, &c)).collect();
        assert_eq!(sticky, vec![0, 0, 1, 1, 2, 2]);
    }

    #[test]
    fn keyed_partitioners_are_stable() {
        let c = AtomicUsize::new(0);
        for p in [Partitioner::Default, Partitioner::Sticky(5), Partitioner::Hashing] {
            let a = p.partition(Some(b"user-42"), 12, &c);
            assert_eq!(a, p.partition(Some(b"user-42"), 12, &c), "{p:?}");
            assert!((0..12).contains(&a));
        }
        let custom = Partitioner::Custom(Arc::new(|k: Option<&[u8]>, n| k.map_or(0, |k| k.len() as i32 % n)));
        assert_eq!(custom.partition(Some(b"abcd"), 3, &c), 1);
        let c = AtomicUsize::new(0);
        let rr: Vec<i32> = (0..3).map(|_| Partitioner::RoundRobin.partition(Some(b"k"), 2, &c)).collect();
        assert_eq!(rr, vec![0, 1, 0], "round-robin ignores keys");
    }
}
