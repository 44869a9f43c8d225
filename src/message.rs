//! A consumed message.

use crate::protocol::records::{Header, Record, TimestampType};
use std::fmt;
use std::sync::Arc;

/// A message's timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp {
    /// Milliseconds since the Unix epoch.
    pub millis: i64,
    /// Set by the producer or by the broker.
    pub kind: TimestampType,
}

/// A message read from a partition. Key and value borrow from the fetch buffer they arrived in,
/// so reading a message copies nothing.
#[derive(Clone)]
pub struct Message {
    topic: Arc<str>,
    partition: i32,
    record: Record,
    /// From a share group: how many times the record was delivered; 0 otherwise.
    delivery_count: u16,
}

impl Message {
    pub(crate) fn new(topic: Arc<str>, partition: i32, record: Record) -> Message {
        Message { topic, partition, record, delivery_count: 0 }
    }

    pub(crate) fn shared(topic: Arc<str>, partition: i32, record: Record, delivery_count: u16) -> Message {
        Message { topic, partition, record, delivery_count }
    }

    /// From a [`crate::ShareConsumer`]: how many times the record has been delivered to the
    /// share group, this time included (2 and more: released, or its lock timed out, before).
    /// `None` from the other consumers.
    pub fn delivery_count(&self) -> Option<u16> {
        (self.delivery_count > 0).then_some(self.delivery_count)
    }

    /// The topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The partition.
    pub fn partition(&self) -> i32 {
        self.partition
    }

    /// The offset within the partition.
    pub fn offset(&self) -> i64 {
        self.record.offset
    }

    /// The key; `None` for a null key.
    pub fn key(&self) -> Option<&[u8]> {
        self.record.key()
    }

    /// The value; `None` for a null value (a tombstone).
    pub fn value(&self) -> Option<&[u8]> {
        self.record.value()
    }

    /// The headers (RecordBatch v2 only; empty for older formats).
    pub fn headers(&self) -> &[Header] {
        &self.record.headers
    }

    /// The timestamp; `None` for messages in the oldest format (magic 0), which have none.
    pub fn timestamp(&self) -> Option<Timestamp> {
        (self.record.timestamp >= 0)
            .then_some(Timestamp { millis: self.record.timestamp, kind: self.record.timestamp_type })
    }
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("topic", &self.topic)
            .field("partition", &self.partition)
            .field("offset", &self.offset())
            .field("key", &self.key().map(String::from_utf8_lossy))
            .field("value_len", &self.value().map(<[u8]>::len))
            .field("headers", &self.headers().len())
            .field("timestamp", &self.timestamp())
            .finish()
    }
}
