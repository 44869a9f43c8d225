//! What goes into a producer and what comes back.

use crate::error::Error;

/// A message to produce.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProducerRecord {
    /// The value; `None` writes a null (a tombstone on compacted topics).
    pub value: Option<Vec<u8>>,
    /// The key; chooses the partition unless one is given.
    pub key: Option<Vec<u8>>,
    /// Headers.
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    /// Create time in ms since the epoch; `None` uses the time it was produced.
    pub timestamp: Option<i64>,
    /// An explicit partition, overriding the partitioner.
    pub partition: Option<i32>,
}

impl ProducerRecord {
    /// A record with this value.
    pub fn new(value: impl Into<Vec<u8>>) -> ProducerRecord {
        ProducerRecord { value: Some(value.into()), ..Default::default() }
    }

    /// Sets the key.
    pub fn key(mut self, key: impl Into<Vec<u8>>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push((name.to_string(), Some(value.into())));
        self
    }

    /// Sets the create time (ms since the epoch).
    pub fn timestamp(mut self, millis: i64) -> Self {
        self.timestamp = Some(millis);
        self
    }

    /// Sends to this partition.
    pub fn partition(mut self, partition: i32) -> Self {
        self.partition = Some(partition);
        self
    }

    /// An estimate of the bytes the record holds, for the bounds on unread delivery reports.
    pub(crate) fn size_estimate(&self) -> usize {
        let bytes = |b: &Option<Vec<u8>>| b.as_ref().map_or(0, Vec::len);
        21 + bytes(&self.key)
            + bytes(&self.value)
            + self.headers.iter().map(|(k, v)| k.len() + bytes(v) + 10).sum::<usize>()
    }
}

/// A message to produce, borrowed from the caller (see [`crate::Producer::produce_borrowed`]):
/// its bytes are copied into the batch, so nothing is allocated for it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BorrowedRecord<'a> {
    /// The value; `None` writes a null (a tombstone on compacted topics).
    pub value: Option<&'a [u8]>,
    /// The key; chooses the partition unless one is given.
    pub key: Option<&'a [u8]>,
    /// Headers.
    pub headers: &'a [(&'a str, Option<&'a [u8]>)],
    /// Create time in ms since the epoch; `None` uses the time it was produced.
    pub timestamp: Option<i64>,
    /// An explicit partition, overriding the partitioner.
    pub partition: Option<i32>,
}

impl<'a> BorrowedRecord<'a> {
    /// A record with this value.
    pub fn new(value: &'a [u8]) -> BorrowedRecord<'a> {
        BorrowedRecord { value: Some(value), ..Default::default() }
    }
}

/// Where an acknowledged message was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    /// The partition.
    pub partition: i32,
    /// The offset; `None` with `required_acks(0)` (the broker doesn't answer) and for a retry
    /// the broker recognised as a duplicate of a write it had already made.
    pub offset: Option<i64>,
}

/// The outcome of one message, from [`crate::Producer::get_delivery_report`].
#[derive(Debug)]
pub struct DeliveryReport {
    /// The message.
    pub record: ProducerRecord,
    /// Where it was written, or why it wasn't.
    pub result: Result<Delivery, Error>,
}
