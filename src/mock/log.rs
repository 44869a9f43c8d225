//! One partition's log in the mock: RecordBatch v2 batches kept as received, with offsets
//! assigned on append, idempotent-producer sequence checks, size-based retention, and the
//! transactions written to it: the ones still open (which hold the last stable offset) and the
//! aborted ones a read_committed fetch must list.

use crate::protocol::codec::Encoder;
use crate::protocol::error_code::ErrorCode;
use crate::protocol::records;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

/// Bytes of a v2 batch header, up to and including the record count.
const HEADER: usize = 61;
/// How many recent batches per producer are remembered to answer retried duplicates (Kafka's
/// own number).
const RECENT: usize = 5;

/// A stored batch: its offsets and bytes (base offset already patched in).
#[derive(Debug, Clone)]
struct Batch {
    base: i64,
    last: i64,
    max_timestamp: i64,
    bytes: Arc<Vec<u8>>,
}

#[derive(Debug, Default)]
struct ProducerState {
    epoch: i16,
    /// (first sequence, last sequence, base offset) of the newest batches.
    recent: VecDeque<(i32, i32, i64)>,
}

/// A partition's log.
#[derive(Debug, Default)]
pub(crate) struct PartitionLog {
    batches: VecDeque<Batch>,
    pub log_start: i64,
    pub next_offset: i64,
    size: usize,
    producers: HashMap<i64, ProducerState>,
    /// Producer id → first offset of its transaction still open here.
    open_txns: HashMap<i64, i64>,
    /// (producer id, first offset, marker offset) of every transaction aborted here.
    aborted: Vec<(i64, i64, i64)>,
}

/// The attribute bit of a transactional batch.
const TRANSACTIONAL: u8 = 0x10;

/// The producer id of `records`' first batch if it is transactional: the produce handler
/// checks the partition is in that producer's transaction before appending.
pub(crate) fn transactional_producer(records: &[u8]) -> Option<i64> {
    (records.len() >= HEADER && records[22] & TRANSACTIONAL != 0).then(|| i64_at(records, 43))
}

fn i16_at(b: &[u8], at: usize) -> i16 {
    i16::from_be_bytes([b[at], b[at + 1]])
}
fn i32_at(b: &[u8], at: usize) -> i32 {
    i32::from_be_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}
fn i64_at(b: &[u8], at: usize) -> i64 {
    i64::from_be_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

impl PartitionLog {
    /// Appends every batch in `records`, returning the base offset of the first. The whole
    /// request is checked before anything is stored, so a bad batch stores nothing. A retried
    /// duplicate from an idempotent producer is not stored again: its original offset comes
    /// back, as from Kafka.
    pub fn append(&mut self, records: &[u8], retention_bytes: Option<usize>) -> Result<i64, ErrorCode> {
        let mut parsed = Vec::new();
        let mut pos = 0;
        while pos < records.len() {
            let rest = &records[pos..];
            if rest.len() < HEADER {
                return Err(ErrorCode::CORRUPT_MESSAGE);
            }
            let len = i32_at(rest, 8);
            if len < (HEADER - 12) as i32 || rest.len() < 12 + len as usize {
                return Err(ErrorCode::CORRUPT_MESSAGE);
            }
            let batch = &rest[..12 + len as usize];
            if batch[16] != 2 {
                return Err(ErrorCode::UNSUPPORTED_FOR_MESSAGE_FORMAT);
            }
            if crc32c::crc32c(&batch[21..]) != u32::from_be_bytes(batch[17..21].try_into().expect("4 bytes")) {
                return Err(ErrorCode::CORRUPT_MESSAGE);
            }
            // Kafka refuses a batch whose offset range and record count disagree (or are empty):
            // a negative last offset delta would move the log end back.
            let (last_delta, count) = (i32_at(batch, 23), i32_at(batch, 57));
            if last_delta < 0 || count <= 0 || i64::from(count) != i64::from(last_delta) + 1 {
                return Err(ErrorCode::INVALID_RECORD);
            }
            parsed.push(batch);
            pos += batch.len();
        }
        if parsed.is_empty() {
            return Err(ErrorCode::CORRUPT_MESSAGE);
        }
        let mut first_base = None;
        for batch in parsed {
            let last_delta = i64::from(i32_at(batch, 23));
            let (producer_id, epoch, base_seq) = (i64_at(batch, 43), i16_at(batch, 51), i32_at(batch, 53));
            if producer_id >= 0 {
                let last_seq = base_seq.wrapping_add(last_delta as i32);
                let p = self.producers.entry(producer_id).or_default();
                if epoch < p.epoch {
                    return Err(ErrorCode::INVALID_PRODUCER_EPOCH);
                }
                if epoch > p.epoch {
                    p.epoch = epoch;
                    p.recent.clear();
                }
                if let Some(&(_, _, base)) = p.recent.iter().find(|r| r.0 == base_seq && r.1 == last_seq) {
                    first_base.get_or_insert(base);
                    continue; // a retry of a batch already stored
                }
                let expected = p.recent.back().map_or(0, |r| r.1.wrapping_add(1));
                if !p.recent.is_empty() && base_seq != expected {
                    return Err(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER);
                }
                p.recent.push_back((base_seq, last_seq, self.next_offset));
                if p.recent.len() > RECENT {
                    p.recent.pop_front();
                }
            }
            let base = self.next_offset;
            if batch[22] & TRANSACTIONAL != 0 && producer_id >= 0 {
                self.open_txns.entry(producer_id).or_insert(base);
            }
            let mut bytes = batch.to_vec();
            // The base offset and leader epoch sit before the CRC'd part, so patching them keeps
            // the checksum valid.
            bytes[..8].copy_from_slice(&base.to_be_bytes());
            bytes[12..16].copy_from_slice(&0i32.to_be_bytes());
            let max_timestamp = i64_at(batch, 35);
            self.size += bytes.len();
            self.batches.push_back(Batch { base, last: base + last_delta, max_timestamp, bytes: Arc::new(bytes) });
            self.next_offset = base + last_delta + 1;
            first_base.get_or_insert(base);
        }
        if let Some(limit) = retention_bytes {
            // Keep the newest batch whatever its size.
            while self.size > limit && self.batches.len() > 1 {
                let old = self.batches.pop_front().expect("more than one");
                self.size -= old.bytes.len();
                self.log_start = self.batches.front().map_or(self.next_offset, |b| b.base);
            }
        }
        Ok(first_base.expect("at least one batch"))
    }

    /// Ends `producer_id`'s transaction here with a commit or abort marker (a control batch
    /// at the log end). Nothing happens when it wrote nothing here.
    pub fn end_transaction(&mut self, producer_id: i64, producer_epoch: i16, commit: bool, now_ms: i64) {
        let Some(first) = self.open_txns.remove(&producer_id) else { return };
        let base = self.next_offset;
        let mut e = Encoder::new();
        records::encode_marker(&mut e, producer_id, producer_epoch, commit, now_ms);
        let mut bytes = e.into_inner();
        bytes[..8].copy_from_slice(&base.to_be_bytes());
        self.size += bytes.len();
        self.batches.push_back(Batch { base, last: base, max_timestamp: now_ms, bytes: Arc::new(bytes) });
        self.next_offset = base + 1;
        if !commit {
            self.aborted.push((producer_id, first, base));
        }
    }

    /// Where the oldest transaction still open begins; the log end when none is. A
    /// read_committed reader reads up to here.
    pub fn last_stable_offset(&self) -> i64 {
        self.open_txns.values().copied().min().unwrap_or(self.next_offset)
    }

    /// The aborted transactions a read_committed fetch from `from` up to `to` must hear of:
    /// (producer id, first offset) of each that ends at or after `from` and begins before `to`.
    pub fn aborted_between(&self, from: i64, to: i64) -> Vec<(i64, i64)> {
        self.aborted
            .iter()
            .filter(|&&(_, first, marker)| marker >= from && first < to)
            .map(|&(p, f, _)| (p, f))
            .collect()
    }

    /// Whole batches from the one holding `offset`, up to `max_bytes` (but always the first,
    /// as KIP-74 asks, so a batch larger than the limit can still be read), none starting at
    /// or past `end`.
    pub fn read(&self, offset: i64, max_bytes: usize, end: i64) -> Vec<u8> {
        let start = self.batches.partition_point(|b| b.last < offset);
        let mut out = Vec::new();
        for b in self.batches.range(start..).take_while(|b| b.base < end) {
            if !out.is_empty() && out.len() + b.bytes.len() > max_bytes {
                break;
            }
            out.extend_from_slice(&b.bytes);
        }
        out
    }

    /// Bytes available from `offset` up to `end` (for a fetch's min bytes).
    pub fn bytes_from(&self, offset: i64, end: i64) -> usize {
        let start = self.batches.partition_point(|b| b.last < offset);
        self.batches.range(start..).take_while(|b| b.base < end).map(|b| b.bytes.len()).sum()
    }

    /// The first offset whose timestamp is at or after `ts`, with that timestamp; `None` if no
    /// record is that recent.
    pub fn offset_for_time(&self, ts: i64) -> Option<(i64, i64)> {
        let b = self.batches.iter().find(|b| b.max_timestamp >= ts)?;
        let mut recs = Vec::new();
        let _ = records::decode(&b.bytes, b.base, &mut recs);
        recs.iter().find(|r| r.timestamp >= ts).map(|r| (r.offset, r.timestamp))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::records::{encode_batch_v2, BatchSpec, Compression, RecordSpec};

    fn batch(n: usize, ts: i64, producer: Option<(i64, i16, i32)>) -> Vec<u8> {
        spec_batch(n, ts, producer, false)
    }

    fn spec_batch(n: usize, ts: i64, producer: Option<(i64, i16, i32)>, transactional: bool) -> Vec<u8> {
        let values: Vec<String> = (0..n).map(|i| format!("v{i}")).collect();
        let recs: Vec<RecordSpec<'_>> = values
            .iter()
            .enumerate()
            .map(|(i, v)| RecordSpec {
                key: None,
                value: Some(v.as_bytes()),
                headers: vec![],
                timestamp: ts + i as i64,
            })
            .collect();
        let (producer_id, producer_epoch, base_sequence) = producer.unwrap_or((-1, -1, -1));
        let spec = BatchSpec {
            base_offset: 0,
            compression: Compression::None,
            producer_id,
            producer_epoch,
            base_sequence,
            transactional,
            ..Default::default()
        };
        let mut e = Encoder::new();
        encode_batch_v2(&mut e, spec, &recs).expect("encode");
        e.into_inner()
    }

    #[test]
    fn appends_assign_offsets_and_reads_return_whole_batches() {
        let mut log = PartitionLog::default();
        assert_eq!(log.append(&batch(3, 1000, None), None), Ok(0));
        assert_eq!(log.append(&batch(2, 2000, None), None), Ok(3));
        assert_eq!(log.next_offset, 5);
        let bytes = Arc::new(log.read(4, 1, i64::MAX));
        let mut recs = Vec::new();
        records::decode(&bytes, 4, &mut recs).expect("decode");
        assert_eq!(recs.iter().map(|r| r.offset).collect::<Vec<_>>(), [4], "the batch holding 4, cut to 4");
        assert_eq!(log.offset_for_time(1001), Some((1, 1001)));
        assert_eq!(log.offset_for_time(2001), Some((4, 2001)));
        assert_eq!(log.offset_for_time(3000), None);
    }

    #[test]
    fn bad_batches_store_nothing() {
        let mut log = PartitionLog::default();
        let mut b = batch(2, 0, None);
        let last = b.len() - 1;
        b[last] ^= 1;
        assert_eq!(log.append(&b, None), Err(ErrorCode::CORRUPT_MESSAGE));
        assert_eq!(log.append(&b[..30], None), Err(ErrorCode::CORRUPT_MESSAGE));
        assert_eq!(log.next_offset, 0);
    }

    /// `batch` with its last offset delta (and the count, when given) rewritten, checksum kept right.
    fn with_range(mut b: Vec<u8>, last_delta: i32, count: Option<i32>) -> Vec<u8> {
        b[23..27].copy_from_slice(&last_delta.to_be_bytes());
        if let Some(c) = count {
            b[57..61].copy_from_slice(&c.to_be_bytes());
        }
        let crc = crc32c::crc32c(&b[21..]);
        b[17..21].copy_from_slice(&crc.to_be_bytes());
        b
    }

    #[test]
    fn batches_whose_offset_range_and_count_disagree_are_refused() {
        let mut log = PartitionLog::default();
        log.append(&batch(2, 0, None), None).expect("append");
        for b in [
            with_range(batch(1, 0, None), -1, None),
            with_range(batch(1, 0, None), -1, Some(0)),
            with_range(batch(1, 0, None), 4, None),
        ] {
            assert_eq!(log.append(&b, None), Err(ErrorCode::INVALID_RECORD));
        }
        assert_eq!(log.next_offset, 2, "the log end never moves back");
    }

    #[test]
    fn idempotent_retries_are_not_stored_twice_and_gaps_are_refused() {
        let mut log = PartitionLog::default();
        assert_eq!(log.append(&batch(2, 0, Some((7, 0, 0))), None), Ok(0));
        assert_eq!(log.append(&batch(2, 0, Some((7, 0, 0))), None), Ok(0), "a retry gets its offset back");
        assert_eq!(log.append(&batch(1, 0, Some((7, 0, 5))), None), Err(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER));
        assert_eq!(log.append(&batch(1, 0, Some((7, 0, 2))), None), Ok(2));
        assert_eq!(log.next_offset, 3);
    }

    #[test]
    fn retention_drops_the_oldest_batches() {
        let mut log = PartitionLog::default();
        for _ in 0..10 {
            log.append(&batch(1, 0, None), Some(200)).expect("append");
        }
        assert!(log.log_start > 0 && log.log_start < 10, "log start {}", log.log_start);
        assert!(log.read(0, 1 << 20, i64::MAX).len() <= 200 + 100);
    }

    #[test]
    fn open_transactions_hold_the_last_stable_offset_and_aborts_are_listed() {
        let mut log = PartitionLog::default();
        log.append(&batch(2, 0, None), None).expect("plain");
        assert_eq!(log.last_stable_offset(), 2);
        log.append(&spec_batch(2, 0, Some((7, 0, 0)), true), None).expect("7 opens at 2");
        log.append(&spec_batch(1, 0, Some((8, 0, 0)), true), None).expect("8 opens at 4");
        log.append(&spec_batch(1, 0, Some((7, 0, 2)), true), None).expect("7 again");
        assert_eq!((log.last_stable_offset(), log.next_offset), (2, 6));
        log.end_transaction(7, 0, false, 0);
        assert_eq!((log.last_stable_offset(), log.next_offset), (4, 7), "8 still open; the marker took 6");
        log.end_transaction(8, 0, true, 0);
        log.end_transaction(9, 0, true, 0);
        assert_eq!(
            (log.last_stable_offset(), log.next_offset),
            (8, 8),
            "a producer that wrote nothing here adds no marker"
        );
        assert_eq!(log.aborted_between(0, 8), [(7, 2)]);
        assert_eq!(log.aborted_between(7, 8), Vec::<(i64, i64)>::new(), "ended before the fetch offset");
        assert_eq!(
            log.read(0, 1 << 20, 4).len(),
            log.read(0, 1 << 20, 3).len(),
            "no batch starting at or past the end"
        );
        let mut recs = Vec::new();
        let bytes = Arc::new(log.read(0, 1 << 20, i64::MAX));
        let summary = records::decode(&bytes, 0, &mut recs).expect("decode");
        assert_eq!(summary.next_offset, Some(8), "the markers are well-formed control batches");
        assert_eq!(recs.len(), 6, "and never delivered as records");
    }
}
