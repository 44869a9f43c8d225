//! Record data: RecordBatch v2 (magic 2, CRC-32C, KIP-98) and the legacy message sets v0/v1
//! (magic 0 and 1, CRC-32), as found in a Fetch response's `records` field.
//!
//! Decoding is zero-copy: records point into the shared buffer the fetch response arrived in.
//! A fetch may end in a partial batch (the broker cuts at the byte limit); that is the end of
//! the data, not an error. Offsets may have gaps (compaction, transaction markers), so the next
//! offset to fetch is taken from the batch's last offset delta, never by counting records.

use super::codec::{DecodeError, DecodeErrorKind, Decoder, Encoder, FrameBytes};
use super::compression::{self, CodecError};
use std::fmt;
use std::sync::Arc;

/// Compression codec ids (attributes bits 0–2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Compression {
    /// No compression.
    None,
    /// gzip (1)
    Gzip,
    /// snappy (2)
    Snappy,
    /// lz4 (3)
    Lz4,
    /// zstd (4)
    Zstd,
    /// An id no Kafka version defines.
    Unknown(u8),
}

impl Compression {
    /// The attributes bits of this codec.
    pub fn id(self) -> i16 {
        match self {
            Compression::None => 0,
            Compression::Gzip => 1,
            Compression::Snappy => 2,
            Compression::Lz4 => 3,
            Compression::Zstd => 4,
            Compression::Unknown(n) => i16::from(n),
        }
    }

    pub(crate) fn from_attributes(attributes: i16) -> Compression {
        match attributes & 0x07 {
            0 => Compression::None,
            1 => Compression::Gzip,
            2 => Compression::Snappy,
            3 => Compression::Lz4,
            4 => Compression::Zstd,
            n => Compression::Unknown(n as u8),
        }
    }
}

/// How a record's timestamp was assigned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimestampType {
    /// Set by the producer.
    CreateTime,
    /// Set by the broker when it appended the batch.
    LogAppendTime,
}

/// A record header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Header name.
    pub key: String,
    /// Header value; `None` is a null value.
    pub value: Option<Vec<u8>>,
}

/// A decoded record. Key and value are ranges into `buf`.
#[derive(Debug, Clone)]
pub struct Record {
    /// The buffer key and value point into.
    pub buf: Arc<Vec<u8>>,
    /// Offset in the partition.
    pub offset: i64,
    /// Timestamp in ms since the epoch; -1 when the message format has none (magic 0).
    pub timestamp: i64,
    /// How the timestamp was assigned.
    pub timestamp_type: TimestampType,
    /// Key range in `buf`.
    pub key: Option<(u32, u32)>,
    /// Value range in `buf`.
    pub value: Option<(u32, u32)>,
    /// Headers (v2 only).
    pub headers: Vec<Header>,
    /// Leader epoch of the batch (v2), -1 when unknown.
    pub leader_epoch: i32,
}

impl Record {
    fn slice(&self, r: Option<(u32, u32)>) -> Option<&[u8]> {
        r.map(|(a, b)| &self.buf[a as usize..b as usize])
    }
    /// The key bytes.
    pub fn key(&self) -> Option<&[u8]> {
        self.slice(self.key)
    }
    /// The value bytes.
    pub fn value(&self) -> Option<&[u8]> {
        self.slice(self.value)
    }
}

/// Why record data could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordsErrorKind {
    /// A checksum did not match: the data is corrupt.
    CrcMismatch {
        /// The checksum stored in the data.
        stored: u32,
        /// The checksum computed over the data.
        computed: u32,
    },
    /// The data is compressed with a codec this build cannot read.
    UnsupportedCompression(Compression),
    /// Compressed data did not decompress (corrupt, or larger than the cap).
    Decompress(CodecError),
    /// A magic byte other than 0, 1 or 2.
    UnknownMagic(i8),
    /// The bytes do not parse.
    Malformed(DecodeError),
}

/// An error in record data, with the offset of the batch or message it was found in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordsError {
    /// Base offset of the batch (or offset of the message).
    pub offset: i64,
    /// What went wrong.
    pub kind: RecordsErrorKind,
}

impl fmt::Display for RecordsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            RecordsErrorKind::CrcMismatch { stored, computed } => write!(
                f,
                "batch at offset {} failed its checksum (stored {stored:#010x}, computed {computed:#010x})",
                self.offset
            ),
            RecordsErrorKind::UnsupportedCompression(c) => {
                write!(
                    f,
                    "batch at offset {} is compressed with {c:?}, which this build cannot decompress",
                    self.offset
                )
            }
            RecordsErrorKind::Decompress(e) => write!(f, "batch at offset {}: {e}", self.offset),
            RecordsErrorKind::UnknownMagic(m) => write!(f, "batch at offset {} has unknown magic {m}", self.offset),
            RecordsErrorKind::Malformed(e) => write!(f, "batch at offset {} is malformed: {e}", self.offset),
        }
    }
}

impl std::error::Error for RecordsError {}

/// What a decode pass saw besides the records it produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RecordsSummary {
    /// The offset after the last complete batch (including control batches and batches whose
    /// records were all below the fetch offset); `None` when no batch was complete.
    pub next_offset: Option<i64>,
    /// When no batch was complete: the size of the first, partial one (the fetch size needed).
    pub first_batch_size: Option<usize>,
}

const V2_HEADER: usize = 61;
const LOG_OVERHEAD: usize = 12; // offset + size
const ATTR_TIMESTAMP_TYPE: i16 = 0x08;
const ATTR_TRANSACTIONAL: i16 = 0x10;
const ATTR_CONTROL: i16 = 0x20;
/// The most headers one batch may carry. Each decoded header takes ~50 bytes of memory for as
/// little as 2 bytes of (possibly highly compressed) input, so a cap bounds what a hostile
/// batch can make the decoder allocate (~50 MiB). Kafka's default batch size limit (1 MB)
/// holds fewer than a million headers.
pub const MAX_HEADERS_PER_BATCH: usize = 1 << 20;

/// What decoding may allocate beyond the bytes it is given: a small compressed batch can
/// expand a lot, and a header takes far more memory decoded than on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// The most one compressed batch (or legacy wrapper) may decompress to. Default 256 MiB.
    pub max_decompressed: usize,
    /// The most headers one batch may carry. Default 2^20 (about 50 MiB decoded).
    pub max_headers: usize,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits { max_decompressed: compression::MAX_DECOMPRESSED, max_headers: MAX_HEADERS_PER_BATCH }
    }
}

/// Decodes every complete batch in `buf`, appending records at or after `fetch_offset` to `out`,
/// within the default [`DecodeLimits`].
pub fn decode(buf: &Arc<Vec<u8>>, fetch_offset: i64, out: &mut Vec<Record>) -> Result<RecordsSummary, RecordsError> {
    decode_with(buf, fetch_offset, DecodeLimits::default(), out)
}

/// [`decode`] within `limits`.
pub fn decode_with(
    buf: &Arc<Vec<u8>>,
    fetch_offset: i64,
    limits: DecodeLimits,
    out: &mut Vec<Record>,
) -> Result<RecordsSummary, RecordsError> {
    decode_filtered(&FrameBytes::from(Arc::clone(buf)), fetch_offset, limits, None, out)
}

/// read_committed: the aborted transactions a Fetch answer listed, applied to its batches in
/// offset order, as the Java client does. A producer's aborted transaction is open from its
/// first offset until its abort marker; its transactional batches in between are dropped.
#[derive(Debug, Clone, Default)]
pub struct AbortedTransactions {
    /// (first offset, producer id), the latest first: the next to start is at the end.
    upcoming: Vec<(i64, i64)>,
    /// Producers whose aborted transaction is open at the current batch.
    open: std::collections::BTreeSet<i64>,
}

impl AbortedTransactions {
    /// From a Fetch answer's list: (producer id, first offset) pairs.
    pub fn new(aborted: impl IntoIterator<Item = (i64, i64)>) -> AbortedTransactions {
        let mut upcoming: Vec<(i64, i64)> = aborted.into_iter().map(|(pid, first)| (first, pid)).collect();
        upcoming.sort_unstable_by(|a, b| b.cmp(a));
        AbortedTransactions { upcoming, open: Default::default() }
    }

    /// Opens the transactions that started at or before `last_offset`.
    fn reach(&mut self, last_offset: i64) {
        while let Some(&(first, pid)) = self.upcoming.last() {
            if first > last_offset {
                break;
            }
            self.open.insert(pid);
            self.upcoming.pop();
        }
    }
}

/// [`decode_with`], dropping the batches of aborted transactions (read_committed) when
/// `aborted` is given. Control batches are never delivered either way.
pub fn decode_filtered(
    records: &FrameBytes,
    fetch_offset: i64,
    limits: DecodeLimits,
    mut aborted: Option<&mut AbortedTransactions>,
    out: &mut Vec<Record>,
) -> Result<RecordsSummary, RecordsError> {
    // Records point into the buffer the batches are in (positions count from its start).
    let buf = records.buffer();
    let data: &[u8] = &buf[..records.range().end];
    let mut summary = RecordsSummary::default();
    let mut pos = records.range().start;
    // Offsets only go up: a batch that goes back (a broker bug, or hostile data) yields no
    // record already passed and doesn't pull the next fetch offset back.
    let mut floor = fetch_offset;
    while data.len() - pos >= LOG_OVERHEAD + 5 {
        let base_offset = i64::from_be_bytes(data[pos..pos + 8].try_into().expect("8 bytes"));
        let size = i32::from_be_bytes(data[pos + 8..pos + 12].try_into().expect("4 bytes"));
        let malformed = |at: usize, kind| RecordsError {
            offset: base_offset,
            kind: RecordsErrorKind::Malformed(DecodeError { what: "record batch", at, kind }),
        };
        // The magic byte sits 5 bytes into the batch, past the leader epoch.
        if size < 5 {
            return Err(malformed(pos + 8, DecodeErrorKind::BadLength(i64::from(size))));
        }
        let total = LOG_OVERHEAD + size as usize;
        if data.len() - pos < total {
            if summary.next_offset.is_none() {
                summary.first_batch_size = Some(total);
            }
            break;
        }
        let batch = &data[pos..pos + total];
        let magic = batch[16] as i8;
        let next = match magic {
            2 => decode_v2(buf, pos, batch, floor, limits, aborted.as_deref_mut(), out)?,
            0 | 1 => decode_legacy(buf, pos, batch, magic, floor, limits, out)?,
            m => return Err(RecordsError { offset: base_offset, kind: RecordsErrorKind::UnknownMagic(m) }),
        };
        floor = floor.max(next);
        summary.next_offset = Some(summary.next_offset.map_or(next, |n| n.max(next)));
        pos += total;
    }
    if summary.next_offset.is_none() && summary.first_batch_size.is_none() && pos < data.len() {
        // Fewer bytes than a batch header: the whole batch is still to come.
        summary.first_batch_size = Some(LOG_OVERHEAD + 5);
    }
    Ok(summary)
}

/// A v2 batch at `start` in `buf`; returns the offset after it.
fn decode_v2(
    buf: &Arc<Vec<u8>>,
    start: usize,
    batch: &[u8],
    fetch_offset: i64,
    limits: DecodeLimits,
    aborted: Option<&mut AbortedTransactions>,
    out: &mut Vec<Record>,
) -> Result<i64, RecordsError> {
    let mut d = Decoder::new(batch);
    let err = |e: DecodeError, base| RecordsError { offset: base, kind: RecordsErrorKind::Malformed(e) };
    let base_offset = d.i64().map_err(|e| err(e, -1))?;
    let header = (|| {
        d.i32()?; // batch length, already checked
        let leader_epoch = d.i32()?;
        d.i8()?; // magic
        let crc = d.u32()?;
        Ok((leader_epoch, crc))
    })();
    let (leader_epoch, crc) = header.map_err(|e| err(e, base_offset))?;
    if batch.len() < V2_HEADER {
        return Err(err(d.error("record batch header", DecodeErrorKind::Truncated), base_offset));
    }
    let computed = crc32c::crc32c(&batch[21..]);
    if computed != crc {
        return Err(RecordsError {
            offset: base_offset,
            kind: RecordsErrorKind::CrcMismatch { stored: crc, computed },
        });
    }
    let mut fields = || -> Result<_, DecodeError> {
        let attributes = d.i16()?;
        let last_offset_delta = d.i32()?;
        let base_timestamp = d.i64()?;
        let max_timestamp = d.i64()?;
        let producer_id = d.i64()?;
        d.i16()?; // producer epoch
        d.i32()?; // base sequence
        let count = d.i32()?;
        Ok((attributes, last_offset_delta, base_timestamp, max_timestamp, producer_id, count))
    };
    let (attributes, last_offset_delta, base_timestamp, max_timestamp, producer_id, count) =
        fields().map_err(|e| err(e, base_offset))?;
    // The checksum covers only what follows the CRC, so the base offset is unchecked data:
    // sums that leave i64 are corrupt batches, not offsets.
    let invalid = |what: &'static str, why: String| err(d.error(what, DecodeErrorKind::Invalid(why)), base_offset);
    let next = base_offset
        .checked_add(i64::from(last_offset_delta))
        .and_then(|n| n.checked_add(1))
        .filter(|_| base_offset >= 0)
        .ok_or_else(|| {
            invalid(
                "record batch",
                format!("base offset {base_offset} + last offset delta {last_offset_delta} is no offset"),
            )
        })?;
    if let (Some(a), true) = (aborted, producer_id >= 0) {
        a.reach(next - 1);
        if attributes & ATTR_CONTROL != 0 {
            if control_type(&batch[V2_HEADER..]) == Some(CONTROL_ABORT) {
                a.open.remove(&producer_id);
            }
        } else if attributes & ATTR_TRANSACTIONAL != 0 && a.open.contains(&producer_id) {
            return Ok(next);
        }
    }
    if attributes & ATTR_CONTROL != 0 || next <= fetch_offset {
        return Ok(next);
    }
    let compression = Compression::from_attributes(attributes);
    // Compressed records live in a buffer of their own; uncompressed ones stay in the fetch buffer.
    let (buf, body_start, body_end) = if compression == Compression::None {
        (Arc::clone(buf), start + d.position(), start + batch.len())
    } else {
        let plain = compression::decompress(compression, d.rest(), limits.max_decompressed)
            .map_err(|e| codec_error(base_offset, e))?;
        let len = plain.len();
        (Arc::new(plain), 0, len)
    };
    // The records end where their batch ends, not where the partition's data ends.
    let body = &buf[body_start..body_end];
    let log_append = attributes & ATTR_TIMESTAMP_TYPE != 0;
    let timestamp_type = if log_append { TimestampType::LogAppendTime } else { TimestampType::CreateTime };
    // Each record takes at least 7 bytes, so a huge count fails here instead of looping.
    if count < 0 || (count as usize).saturating_mul(7) > body.len() {
        return Err(err(d.error("record count", DecodeErrorKind::BadLength(i64::from(count))), base_offset));
    }
    let mut rd = Decoder::new(body);
    let mut headers_left = limits.max_headers;
    // Room for the whole batch at once (the count was bounded by the bytes above): grown by
    // doubling, a fetch's vector, which may become its partition's queue, would hold up to
    // twice the records it carries.
    out.reserve(count as usize);
    for _ in 0..count {
        let rec = read_v2_record(&mut rd, body_start, &mut headers_left).map_err(|e| err(e, base_offset))?;
        // base_offset + last_offset_delta was checked above, so a delta within
        // 0..=last_offset_delta can't overflow: one compare per record.
        if !(0..=last_offset_delta).contains(&rec.offset_delta) {
            return Err(invalid("record", format!("offset delta {} is outside the batch", rec.offset_delta)));
        }
        let offset = base_offset + i64::from(rec.offset_delta);
        if offset < fetch_offset {
            continue;
        }
        let timestamp = if log_append {
            max_timestamp
        } else {
            base_timestamp.checked_add(rec.timestamp_delta).ok_or_else(|| {
                invalid("record", format!("base timestamp {base_timestamp} + delta {} overflows", rec.timestamp_delta))
            })?
        };
        out.push(Record {
            buf: Arc::clone(&buf),
            offset,
            timestamp,
            timestamp_type,
            key: rec.key,
            value: rec.value,
            headers: rec.headers,
            leader_epoch,
        });
    }
    // Bytes past the declared records mean the count (or a length) is wrong: the batch can't be
    // trusted, as the Java client decides too.
    rd.finish("record batch").map_err(|e| err(e, base_offset))?;
    Ok(next)
}

/// A control record's type: an abort or a commit marker.
const CONTROL_ABORT: i16 = 0;
const CONTROL_COMMIT: i16 = 1;

/// Appends the control batch a broker writes to end a transaction of `producer_id` in a
/// partition: one record whose key is (version 0, commit or abort) and whose value is
/// (version 0, the coordinator's epoch).
pub fn encode_marker(e: &mut Encoder, producer_id: i64, producer_epoch: i16, commit: bool, timestamp: i64) {
    let kind = if commit { CONTROL_COMMIT } else { CONTROL_ABORT };
    let key = [0i16.to_be_bytes(), kind.to_be_bytes()].concat();
    let value = [0u8, 0, 0, 0, 0, 0];
    let rec = [RecordSpec { key: Some(&key), value: Some(&value), headers: vec![], timestamp }];
    let spec = BatchSpec { producer_id, producer_epoch, transactional: true, control: true, ..BatchSpec::default() };
    encode_batch_v2(e, spec, &rec).expect("an uncompressed batch of one record always encodes");
}

/// The type of the first control record in `records` (a control batch's, never compressed):
/// its key is a version and a type, two 16-bit integers.
fn control_type(records: &[u8]) -> Option<i16> {
    let mut d = Decoder::new(records);
    let mut no_headers = 0;
    let rec = read_v2_record(&mut d, 0, &mut no_headers).ok()?;
    let (start, end) = rec.key?;
    let key = records.get(start as usize..end as usize)?;
    Some(i16::from_be_bytes(key.get(2..4)?.try_into().ok()?))
}

struct V2Record {
    offset_delta: i32,
    timestamp_delta: i64,
    key: Option<(u32, u32)>,
    value: Option<(u32, u32)>,
    headers: Vec<Header>,
}

fn read_v2_record(d: &mut Decoder<'_>, base: usize, headers_left: &mut usize) -> Result<V2Record, DecodeError> {
    let len = d.varint()?;
    if len < 0 {
        return Err(d.error("record length", DecodeErrorKind::BadLength(i64::from(len))));
    }
    let start = d.position();
    let body = d.take(len as usize, "record")?;
    let mut r = Decoder::new(body);
    r.i8()?; // attributes (unused)
    let timestamp_delta = r.varlong()?;
    let offset_delta = r.varint()?;
    let range = |r: &Decoder<'_>, s: Option<&[u8]>| {
        s.map(|s| {
            let end = base + start + r.position();
            ((end - s.len()) as u32, end as u32)
        })
    };
    let k = r.varint_bytes()?;
    let key = range(&r, k);
    let v = r.varint_bytes()?;
    let value = range(&r, v);
    let n = r.varint()?;
    if n < 0 || (n as usize).saturating_mul(2) > r.remaining() {
        return Err(r.error("header count", DecodeErrorKind::BadLength(i64::from(n))));
    }
    if n as usize > *headers_left {
        let why = "more headers in one batch than the decoder's limit".to_string();
        return Err(r.error("header count", DecodeErrorKind::Invalid(why)));
    }
    *headers_left -= n as usize;
    let mut headers = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let key = r
            .varint_bytes()?
            .ok_or_else(|| r.error("header key", DecodeErrorKind::Invalid("null header key".into())))?;
        let key = String::from_utf8_lossy(key).into_owned();
        let value = r.varint_bytes()?.map(<[u8]>::to_vec);
        headers.push(Header { key, value });
    }
    r.finish("record")?;
    Ok(V2Record { offset_delta, timestamp_delta, key, value, headers })
}

fn codec_error(offset: i64, e: CodecError) -> RecordsError {
    let kind = match e {
        CodecError::Unsupported(c) => RecordsErrorKind::UnsupportedCompression(c),
        other => RecordsErrorKind::Decompress(other),
    };
    RecordsError { offset, kind }
}

/// A legacy message (magic 0 or 1) at `start` in `buf`; returns the offset after it. A
/// compressed one is a wrapper whose value is a message set of its own.
fn decode_legacy(
    buf: &Arc<Vec<u8>>,
    start: usize,
    msg: &[u8],
    magic: i8,
    fetch_offset: i64,
    limits: DecodeLimits,
    out: &mut Vec<Record>,
) -> Result<i64, RecordsError> {
    let m = read_legacy(buf, start, msg)?;
    let bad_offset = |offset: i64, why: &str| {
        let e = DecodeError { what: "message", at: 0, kind: DecodeErrorKind::Invalid(why.to_string()) };
        RecordsError { offset, kind: RecordsErrorKind::Malformed(e) }
    };
    // Offsets come from unchecked bytes (legacy checksums don't cover them).
    let next = m.offset.checked_add(1).filter(|_| m.offset >= 0).ok_or_else(|| bad_offset(m.offset, "no offset"))?;
    if m.compression == Compression::None {
        if m.offset >= fetch_offset {
            out.push(m.record);
        }
        return Ok(next);
    }
    let (a, b) = m.record.value.unwrap_or((0, 0));
    let value = &buf[a as usize..b as usize];
    let inner = compression::decompress_legacy(m.compression, value, magic, limits.max_decompressed)
        .map_err(|e| codec_error(m.offset, e))?;
    let inner = Arc::new(inner);
    let mut inner_msgs = Vec::new();
    let mut pos = 0;
    while inner.len() - pos >= LOG_OVERHEAD {
        let size = i32::from_be_bytes(inner[pos + 8..pos + 12].try_into().expect("4 bytes"));
        let total = usize::try_from(size).ok().map(|n| n + LOG_OVERHEAD).filter(|t| *t <= inner.len() - pos);
        let Some(total) = total else {
            let e = DecodeError { what: "inner message", at: pos, kind: DecodeErrorKind::BadLength(i64::from(size)) };
            return Err(RecordsError { offset: m.offset, kind: RecordsErrorKind::Malformed(e) });
        };
        let i = read_legacy(&inner, pos, &inner[pos..pos + total])?;
        // Kafka never nests compression; a compressed message inside a wrapper would otherwise
        // be handed out as a plain record holding compressed bytes.
        if i.compression != Compression::None {
            return Err(bad_offset(m.offset, "a compressed message is nested inside a compressed wrapper"));
        }
        inner_msgs.push(i);
        pos += total;
    }
    if pos != inner.len() {
        let e = DecodeError { what: "inner message", at: pos, kind: DecodeErrorKind::Truncated };
        return Err(RecordsError { offset: m.offset, kind: RecordsErrorKind::Malformed(e) });
    }
    // Magic 1 wrappers number their inner messages from 0 and carry the last one's absolute
    // offset; magic 0 inner messages carry absolute offsets.
    let last_relative = inner_msgs.last().map_or(0, |i| i.offset);
    for mut i in inner_msgs {
        if magic == 1 {
            i.record.offset = m
                .offset
                .checked_sub(last_relative)
                .and_then(|o| o.checked_add(i.offset))
                .filter(|o| (0..next).contains(o))
                .ok_or_else(|| bad_offset(m.offset, "an inner message's relative offset is outside the wrapper"))?;
            if m.record.timestamp_type == TimestampType::LogAppendTime {
                i.record.timestamp = m.record.timestamp;
                i.record.timestamp_type = TimestampType::LogAppendTime;
            }
        }
        if i.record.offset >= fetch_offset {
            out.push(i.record);
        }
    }
    Ok(next)
}

struct Legacy {
    offset: i64,
    compression: Compression,
    record: Record,
}

/// One legacy message, checksum verified; key and value as ranges into `buf`.
fn read_legacy(buf: &Arc<Vec<u8>>, start: usize, msg: &[u8]) -> Result<Legacy, RecordsError> {
    let offset = i64::from_be_bytes(msg[0..8].try_into().expect("8 bytes"));
    let err = |e: DecodeError| RecordsError { offset, kind: RecordsErrorKind::Malformed(e) };
    let mut d = Decoder::new(&msg[LOG_OVERHEAD..]);
    let crc = d.u32().map_err(err)?;
    let computed = crc32fast::hash(d.rest());
    if computed != crc {
        return Err(RecordsError { offset, kind: RecordsErrorKind::CrcMismatch { stored: crc, computed } });
    }
    let magic = d.i8().map_err(err)?;
    if magic > 1 {
        return Err(RecordsError { offset, kind: RecordsErrorKind::UnknownMagic(magic) });
    }
    let attributes = i16::from(d.i8().map_err(err)?);
    let timestamp = if magic == 1 { d.i64().map_err(err)? } else { -1 };
    let base = start + LOG_OVERHEAD;
    let range = |d: &Decoder<'_>, s: Option<&[u8]>| {
        s.map(|s| {
            let end = base + d.position();
            ((end - s.len()) as u32, end as u32)
        })
    };
    let k = d.nullable_bytes(false).map_err(err)?;
    let key = range(&d, k);
    let v = d.nullable_bytes(false).map_err(err)?;
    let value = range(&d, v);
    d.finish("message").map_err(err)?;
    let log_append = magic == 1 && attributes & ATTR_TIMESTAMP_TYPE != 0;
    Ok(Legacy {
        offset,
        compression: Compression::from_attributes(attributes),
        record: Record {
            buf: Arc::clone(buf),
            offset,
            timestamp,
            timestamp_type: if log_append { TimestampType::LogAppendTime } else { TimestampType::CreateTime },
            key,
            value,
            headers: Vec::new(),
            leader_epoch: -1,
        },
    })
}

/// A record to be written into a batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordSpec<'a> {
    /// Key.
    pub key: Option<&'a [u8]>,
    /// Value.
    pub value: Option<&'a [u8]>,
    /// Headers.
    pub headers: Vec<(&'a str, Option<&'a [u8]>)>,
    /// Timestamp in ms.
    pub timestamp: i64,
}

/// The batch-level fields of a RecordBatch v2 being written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchSpec {
    /// Offset of the first record (0 when producing: the broker assigns offsets).
    pub base_offset: i64,
    /// Codec for the records section.
    pub compression: Compression,
    /// Idempotent producer id, -1 for none.
    pub producer_id: i64,
    /// Idempotent producer epoch, -1 for none.
    pub producer_epoch: i16,
    /// Sequence number of the first record, -1 for none.
    pub base_sequence: i32,
    /// Written in a transaction (attribute bit 4): read_committed consumers drop it if the
    /// transaction aborts.
    pub transactional: bool,
    /// A control batch (attribute bit 5): a transaction marker a broker writes, never data.
    pub control: bool,
}

impl Default for BatchSpec {
    fn default() -> Self {
        BatchSpec {
            base_offset: 0,
            compression: Compression::None,
            producer_id: -1,
            producer_epoch: -1,
            base_sequence: -1,
            transactional: false,
            control: false,
        }
    }
}

/// The bytes a varint (zigzag) of `v` takes.
fn varlong_len(v: i64) -> usize {
    let z = ((v << 1) ^ (v >> 63)) as u64;
    (64 - z.leading_zeros() as usize).max(1).div_ceil(7)
}

/// The bytes a length-prefixed field (`-1` for null) takes.
fn field_len(b: Option<&[u8]>) -> usize {
    b.map_or(1, |b| varlong_len(b.len() as i64) + b.len())
}

/// A record read back from a [`BatchBuilder`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltRecord<'a> {
    /// Timestamp in ms.
    pub timestamp: i64,
    /// Key.
    pub key: Option<&'a [u8]>,
    /// Value.
    pub value: Option<&'a [u8]>,
    /// Headers.
    pub headers: Vec<Header>,
}

/// The records of a v2 batch, added one at a time: each record is encoded once, when it is
/// added (a producer's open batch), and [`BatchBuilder::write`] puts the batch header around
/// them, compressing them then. Offset deltas count from 0; timestamps are deltas from the
/// first record's.
#[derive(Debug, Default, Clone)]
pub struct BatchBuilder {
    records: Vec<u8>,
    count: usize,
    base_ts: i64,
    max_ts: i64,
}

impl BatchBuilder {
    /// An empty batch that writes into `buf` (cleared), so a spent batch's buffer can be reused.
    pub fn with_buffer(mut buf: Vec<u8>) -> BatchBuilder {
        buf.clear();
        BatchBuilder { records: buf, count: 0, base_ts: 0, max_ts: 0 }
    }

    /// Records added.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Whether no record was added.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Bytes of the encoded records (before compression).
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Gives the buffer back, for another batch.
    pub fn into_buffer(self) -> Vec<u8> {
        self.records
    }

    /// The most bytes a record with these fields takes in a batch, whatever its deltas.
    pub fn size_bound<'h>(
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: impl Iterator<Item = (&'h str, Option<&'h [u8]>)>,
    ) -> usize {
        // Length prefix, attributes, timestamp and offset deltas at their widest.
        5 + 1 + 10 + 5 + Self::fields_len(key, value, headers)
    }

    fn fields_len<'h>(
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: impl Iterator<Item = (&'h str, Option<&'h [u8]>)>,
    ) -> usize {
        let mut n = 0;
        let mut len = field_len(key) + field_len(value);
        for (k, v) in headers {
            n += 1;
            len += field_len(Some(k.as_bytes())) + field_len(v);
        }
        len + varlong_len(n as i64)
    }

    /// Adds a record; returns the bytes it took. Refused (and nothing added) when its
    /// timestamp cannot be written as a delta from the first record's.
    pub fn push<'h, H>(
        &mut self,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: H,
    ) -> Result<usize, CodecError>
    where
        H: Iterator<Item = (&'h str, Option<&'h [u8]>)> + Clone,
    {
        if self.count == 0 {
            self.base_ts = timestamp;
            self.max_ts = timestamp;
        }
        let delta = timestamp.checked_sub(self.base_ts).ok_or(CodecError::TimestampRange(self.base_ts, timestamp))?;
        // A batch's bytes are bounded by a request's size, so its count fits an i32.
        let offset_delta = self.count as i32;
        let body = 1
            + varlong_len(delta)
            + varlong_len(i64::from(offset_delta))
            + Self::fields_len(key, value, headers.clone());
        let start = self.records.len();
        self.records.reserve(body + 5);
        let mut e = Encoder::from_vec(std::mem::take(&mut self.records));
        e.varint(body as i32);
        e.i8(0);
        e.varlong(delta);
        e.varint(offset_delta);
        put_field(&mut e, key);
        put_field(&mut e, value);
        e.varint(headers.clone().count() as i32);
        for (k, v) in headers {
            put_field(&mut e, Some(k.as_bytes()));
            put_field(&mut e, v);
        }
        self.records = e.into_inner();
        self.count += 1;
        self.max_ts = self.max_ts.max(timestamp);
        Ok(self.records.len() - start)
    }

    /// Appends the whole RecordBatch v2 (at least one record added) to `e`.
    pub fn write(&self, e: &mut Encoder, spec: BatchSpec) -> Result<(), CodecError> {
        if spec.compression == Compression::None {
            self.write_payload(e, spec, &self.records);
        } else {
            self.write_payload(e, spec, &compression::compress(spec.compression, &self.records)?);
        }
        Ok(())
    }

    /// As [`BatchBuilder::write`], but writes the records uncompressed (and says so in the
    /// attributes) when the codec doesn't make them smaller, as with data that is already
    /// compressed or random: readers and the broker then skip a decompression that gains
    /// nothing, and the batch never outgrows the size its records were counted against.
    /// Returns the codec written.
    pub fn write_compact(&self, e: &mut Encoder, spec: BatchSpec) -> Result<Compression, CodecError> {
        if spec.compression != Compression::None {
            let packed = compression::compress(spec.compression, &self.records)?;
            if packed.len() < self.records.len() {
                self.write_payload(e, spec, &packed);
                return Ok(spec.compression);
            }
        }
        self.write_payload(e, BatchSpec { compression: Compression::None, ..spec }, &self.records);
        Ok(Compression::None)
    }

    /// The batch's header, then `payload`: the records, encoded by `spec.compression`.
    fn write_payload(&self, e: &mut Encoder, spec: BatchSpec, payload: &[u8]) {
        let start = e.len();
        e.i64(spec.base_offset);
        let len_at = e.reserve_i32();
        e.i32(-1); // partition leader epoch: set by the broker
        e.i8(2);
        let crc_at = e.reserve_i32();
        let attributes = spec.compression.id()
            | if spec.transactional { ATTR_TRANSACTIONAL } else { 0 }
            | if spec.control { ATTR_CONTROL } else { 0 };
        e.i16(attributes);
        e.i32(self.count as i32 - 1);
        e.i64(self.base_ts);
        e.i64(self.max_ts);
        e.i64(spec.producer_id);
        e.i16(spec.producer_epoch);
        e.i32(spec.base_sequence);
        e.i32(self.count as i32);
        e.raw(payload);
        let end = e.len();
        e.patch_i32(len_at, (end - start - LOG_OVERHEAD) as i32);
        let crc = crc32c::crc32c(&e.as_mut_slice()[crc_at + 4..end]);
        e.patch_u32(crc_at, crc);
    }

    /// The records added, read back (for delivery reports, which hand the application its
    /// records again).
    pub fn records(&self) -> impl Iterator<Item = BuiltRecord<'_>> + '_ {
        let mut d = Decoder::new(&self.records);
        let mut headers_left = usize::MAX;
        let buf = &self.records[..];
        std::iter::from_fn(move || {
            if d.remaining() == 0 {
                return None;
            }
            // These bytes were written by `push`: they always read back.
            let r = read_v2_record(&mut d, 0, &mut headers_left).ok()?;
            let slice = |r: Option<(u32, u32)>| r.map(|(a, b)| &buf[a as usize..b as usize]);
            Some(BuiltRecord {
                timestamp: self.base_ts + r.timestamp_delta,
                key: slice(r.key),
                value: slice(r.value),
                headers: r.headers,
            })
        })
    }
}

fn put_field(e: &mut Encoder, b: Option<&[u8]>) {
    match b {
        Some(b) => {
            e.varint(b.len() as i32);
            e.raw(b);
        }
        None => e.varint(-1),
    }
}

/// Appends a RecordBatch v2 holding `records` (non-empty), with consecutive offset deltas and
/// create-time timestamps. Only magic 2 is ever written (Kafka 4 rejects older formats).
pub fn encode_batch_v2(e: &mut Encoder, spec: BatchSpec, records: &[RecordSpec<'_>]) -> Result<(), CodecError> {
    let mut b = BatchBuilder::default();
    for r in records {
        b.push(r.timestamp, r.key, r.value, r.headers.iter().copied())?;
    }
    b.write(e, spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(i: usize) -> (Vec<u8>, Vec<u8>) {
        (format!("k{i}").into_bytes(), format!("value-{i}").into_bytes())
    }

    fn batch(base: i64, n: usize) -> Vec<u8> {
        let data: Vec<_> = (0..n).map(spec).collect();
        let recs: Vec<_> = data
            .iter()
            .enumerate()
            .map(|(i, (k, v))| RecordSpec {
                key: Some(k),
                value: Some(v),
                headers: if i == 0 { vec![("h", Some(&b"x"[..])), ("n", None)] } else { vec![] },
                timestamp: 1_000 + i as i64,
            })
            .collect();
        let mut e = Encoder::new();
        encode_batch_v2(&mut e, BatchSpec { base_offset: base, ..BatchSpec::default() }, &recs).unwrap();
        e.into_inner()
    }

    /// A legacy message with magic 0 or 1 (CRC-32 over magic..end).
    fn legacy(offset: i64, magic: i8, key: Option<&[u8]>, value: &[u8]) -> Vec<u8> {
        let mut m = Encoder::new();
        m.i8(magic);
        m.i8(0);
        if magic == 1 {
            m.i64(5_000);
        }
        m.nullable_bytes(key, false);
        m.nullable_bytes(Some(value), false);
        let body = m.into_inner();
        let mut e = Encoder::new();
        e.i64(offset);
        e.i32(body.len() as i32 + 4);
        e.u32(crc32fast::hash(&body));
        e.raw(&body);
        e.into_inner()
    }

    fn decode_all(bytes: Vec<u8>, from: i64) -> (Vec<Record>, Result<RecordsSummary, RecordsError>) {
        let buf = Arc::new(bytes);
        let mut out = Vec::new();
        let r = decode(&buf, from, &mut out);
        (out, r)
    }

    #[test]
    fn batches_in_the_middle_of_a_shared_frame_decode_as_their_copy_does() {
        let mut batches = batch(100, 3);
        batches.extend(batch(103, 2));
        // A frame: a length prefix, the batches, and bytes of a next field after them.
        let mut e = Encoder::new();
        e.nullable_bytes(Some(&batches), false);
        e.raw(&[0xff; 9]);
        let frame = Arc::new(e.into_inner());
        let shared = Decoder::new(&frame).sharing(&frame).nullable_frame_bytes(false).unwrap().unwrap();
        assert_eq!(shared.range(), 4..4 + batches.len());
        let (copied, copied_summary) = decode_all(batches, 0);
        let mut out = Vec::new();
        let summary = decode_filtered(&shared, 0, DecodeLimits::default(), None, &mut out).unwrap();
        assert_eq!(Ok(summary), copied_summary, "the bytes after the range are not read as a batch");
        assert_eq!(out.len(), 5);
        for (a, b) in out.iter().zip(&copied) {
            assert!(Arc::ptr_eq(&a.buf, &frame), "the records point into the frame");
            assert_eq!(
                (a.offset, a.key(), a.value(), a.headers.len()),
                (b.offset, b.key(), b.value(), b.headers.len())
            );
        }
    }

    #[test]
    fn v2_batch_round_trips_with_headers_and_timestamps() {
        let (recs, s) = decode_all(batch(100, 3), 0);
        assert_eq!(s.unwrap().next_offset, Some(103));
        assert_eq!(recs.len(), 3);
        assert_eq!(recs[1].offset, 101);
        assert_eq!(recs[1].key(), Some(&b"k1"[..]));
        assert_eq!(recs[1].value(), Some(&b"value-1"[..]));
        assert_eq!(recs[2].timestamp, 1_002);
        assert_eq!(
            recs[0].headers,
            vec![Header { key: "h".into(), value: Some(b"x".to_vec()) }, Header { key: "n".into(), value: None }]
        );
    }

    /// A one-record v2 batch with these header fields, its checksum made right.
    fn crafted(base_offset: i64, last_offset_delta: i32, base_timestamp: i64, timestamp_delta: i64) -> Vec<u8> {
        let mut body = Encoder::new();
        body.i8(0);
        body.varlong(timestamp_delta);
        body.varint(0); // offset delta
        body.varint(-1); // key
        body.varint(1);
        body.raw(b"v");
        body.varint(0); // headers
        let rec = body.into_inner();
        let mut r = Encoder::new();
        r.varint(rec.len() as i32);
        r.raw(&rec);
        let records = r.into_inner();
        let mut e = Encoder::new();
        e.i64(base_offset);
        let len_at = e.reserve_i32();
        e.i32(-1);
        e.i8(2);
        let crc_at = e.reserve_i32();
        e.i16(0);
        e.i32(last_offset_delta);
        e.i64(base_timestamp);
        e.i64(base_timestamp);
        e.i64(-1);
        e.i16(-1);
        e.i32(-1);
        e.i32(1);
        e.raw(&records);
        let end = e.len();
        e.patch_i32(len_at, (end - LOG_OVERHEAD) as i32);
        let crc = crc32c::crc32c(&e.as_mut_slice()[crc_at + 4..end]);
        e.patch_u32(crc_at, crc);
        e.into_inner()
    }

    #[test]
    fn offsets_and_timestamps_that_leave_i64_are_errors_not_panics() {
        // The checksum covers none of the base offset, so these pass it.
        let cases = [
            (i64::MAX, 0, 0, 0, "base offset i64::MAX"),
            (i64::MAX - 3, 5, 0, 0, "a last offset delta past i64::MAX"),
            (-7, 0, 0, 0, "a negative base offset"),
            (0, 0, i64::MAX, 1, "base timestamp i64::MAX plus a delta"),
            (0, 0, i64::MIN, -1, "base timestamp i64::MIN minus a delta"),
        ];
        for (base, delta, ts, ts_delta, what) in cases {
            let (recs, r) = decode_all(crafted(base, delta, ts, ts_delta), 0);
            assert!(recs.is_empty(), "{what}");
            let e = r.expect_err(what);
            assert!(matches!(e.kind, RecordsErrorKind::Malformed(_)), "{what}: {e}");
        }
        // The same batch with sane values decodes.
        let (recs, r) = decode_all(crafted(5, 0, 1_000, 2), 0);
        assert_eq!(r.unwrap().next_offset, Some(6));
        assert_eq!((recs[0].offset, recs[0].timestamp), (5, 1_002));
    }

    #[test]
    fn a_batch_with_more_headers_than_the_cap_is_refused() {
        let headers = vec![("", None); MAX_HEADERS_PER_BATCH + 1];
        let recs = [RecordSpec { key: None, value: None, headers, timestamp: 0 }];
        let mut e = Encoder::new();
        encode_batch_v2(&mut e, BatchSpec::default(), &recs).unwrap();
        let (out, r) = decode_all(e.into_inner(), 0);
        assert!(out.is_empty());
        let e = r.expect_err("over the cap");
        assert!(e.to_string().contains("headers in one batch"), "{e}");
        // At the cap, it decodes.
        let headers = vec![("", None); MAX_HEADERS_PER_BATCH];
        let recs = [RecordSpec { key: None, value: None, headers, timestamp: 0 }];
        let mut e = Encoder::new();
        encode_batch_v2(&mut e, BatchSpec::default(), &recs).unwrap();
        let (out, r) = decode_all(e.into_inner(), 0);
        assert_eq!((out.len(), out[0].headers.len()), (1, MAX_HEADERS_PER_BATCH));
        assert!(r.is_ok());
    }

    #[test]
    fn a_record_outside_its_batch_is_an_error() {
        // last_offset_delta -1 says the batch holds nothing, yet it has a record at delta 0.
        let (recs, r) = decode_all(crafted(10, -1, 0, 0), 0);
        assert!(recs.is_empty());
        assert!(matches!(r.map_err(|e| e.kind), Err(RecordsErrorKind::Malformed(_))));
    }

    #[test]
    fn legacy_offsets_that_leave_i64_are_errors() {
        for offset in [i64::MAX, -5] {
            let (recs, r) = decode_all(legacy(offset, 0, None, b"v"), 0);
            assert!(recs.is_empty(), "{offset}");
            assert!(r.is_err(), "legacy offset {offset}");
        }
        let (recs, r) = decode_all(legacy(i64::MAX - 1, 1, None, b"v"), 0);
        assert_eq!((recs.len(), r.unwrap().next_offset), (1, Some(i64::MAX)));
    }

    #[test]
    fn varint_lengths_match_what_the_encoder_writes() {
        let mut values = vec![0, 1, -1, 63, 64, -64, -65, i64::MAX, i64::MIN, i64::from(i32::MAX), i64::from(i32::MIN)];
        values.extend((0..63).flat_map(|b| [1i64 << b, (1i64 << b) - 1, -(1i64 << b)]));
        for v in values {
            let mut e = Encoder::new();
            e.varlong(v);
            assert_eq!(varlong_len(v), e.len(), "{v}");
        }
    }

    #[test]
    fn records_added_one_by_one_read_back_and_write_the_same_batch() {
        let headers: [(&str, Option<&[u8]>); 2] = [("h", Some(b"x")), ("n", None)];
        let mut b = BatchBuilder::with_buffer(b"left over".to_vec());
        let mut recs = Vec::new();
        for i in 0..300i64 {
            let value = vec![b'v'; (i * 7) as usize];
            let key = (i % 3 != 0).then(|| format!("k{i}").into_bytes());
            let hs: &[(&str, Option<&[u8]>)] = if i % 2 == 0 { &headers } else { &[] };
            // Out-of-order timestamps give negative deltas.
            let ts = 1_000 + (i % 5) * 1_000 - 2_000;
            let bound = BatchBuilder::size_bound(key.as_deref(), Some(&value), hs.iter().copied());
            let took = b.push(ts, key.as_deref(), Some(&value), hs.iter().copied()).unwrap();
            assert!(took <= bound, "record {i}: {took} > bound {bound}");
            recs.push((ts, key, value, hs.to_vec()));
        }
        assert_eq!(b.count(), 300);
        let back: Vec<_> = b.records().collect();
        assert_eq!(back.len(), 300);
        for (r, (ts, key, value, hs)) in back.iter().zip(&recs) {
            assert_eq!((r.timestamp, r.key, r.value), (*ts, key.as_deref(), Some(&value[..])));
            let want: Vec<Header> =
                hs.iter().map(|(k, v)| Header { key: k.to_string(), value: v.map(<[u8]>::to_vec) }).collect();
            assert_eq!(r.headers, want);
        }
        let specs: Vec<RecordSpec<'_>> = recs
            .iter()
            .map(|(ts, k, v, hs)| RecordSpec { key: k.as_deref(), value: Some(v), headers: hs.clone(), timestamp: *ts })
            .collect();
        let mut whole = Encoder::new();
        encode_batch_v2(&mut whole, BatchSpec::default(), &specs).unwrap();
        let mut built = Encoder::new();
        b.write(&mut built, BatchSpec::default()).unwrap();
        assert_eq!(built.into_inner(), whole.into_inner());
        let mut out = Vec::new();
        let mut e = Encoder::new();
        b.write(&mut e, BatchSpec { base_offset: 10, ..BatchSpec::default() }).unwrap();
        decode(&Arc::new(e.into_inner()), 0, &mut out).unwrap();
        assert_eq!(out.iter().map(|r| r.offset).collect::<Vec<_>>(), (10..310).collect::<Vec<_>>());
        assert_eq!(out[0].timestamp, -1_000);
    }

    #[cfg(feature = "lz4")]
    #[test]
    fn a_batch_the_codec_would_not_shrink_is_written_uncompressed() {
        // The attributes' codec bits sit after base offset, length, epoch, magic and crc.
        let codec_of = |bytes: &[u8]| bytes[22] & 0x07;
        let compact = |value: &[u8]| {
            let mut b = BatchBuilder::default();
            b.push(5, None, Some(value), std::iter::empty()).unwrap();
            let mut e = Encoder::new();
            let spec = BatchSpec { compression: Compression::Lz4, ..BatchSpec::default() };
            let written = b.write_compact(&mut e, spec).unwrap();
            let mut plain = Encoder::new();
            b.write(&mut plain, BatchSpec::default()).unwrap();
            let bytes = e.into_inner();
            let mut out = Vec::new();
            decode(&Arc::new(bytes.clone()), 0, &mut out).unwrap();
            assert_eq!(out[0].value(), Some(value));
            (written, codec_of(&bytes), bytes.len(), plain.len())
        };
        let (written, bits, len, plain) = compact(&[b'x'; 4000]);
        assert_eq!((written, bits), (Compression::Lz4, 3));
        assert!(len < plain / 10, "{len} bytes against {plain}");
        // A short value with nothing repeated: lz4's frame alone outweighs any gain.
        let (written, bits, len, plain) = compact(b"q7#Zk");
        assert_eq!((written, bits, len), (Compression::None, 0, plain));
    }

    #[test]
    fn a_record_too_far_in_time_from_the_first_is_refused_and_nothing_added() {
        let mut b = BatchBuilder::default();
        b.push(i64::MIN, None, Some(b"a"), std::iter::empty()).unwrap();
        let len = b.len();
        assert_eq!(b.push(1, None, Some(b"b"), std::iter::empty()), Err(CodecError::TimestampRange(i64::MIN, 1)));
        assert_eq!((b.count(), b.len()), (1, len));
    }

    #[test]
    fn timestamps_too_far_apart_for_one_batch_are_refused_before_writing() {
        let recs = [
            RecordSpec { key: None, value: Some(b"a"), headers: vec![], timestamp: i64::MIN },
            RecordSpec { key: None, value: Some(b"b"), headers: vec![], timestamp: 1 },
        ];
        let mut e = Encoder::new();
        let r = encode_batch_v2(&mut e, BatchSpec::default(), &recs);
        assert_eq!(r, Err(CodecError::TimestampRange(i64::MIN, 1)));
        assert!(e.is_empty(), "nothing half-written");
    }

    #[test]
    fn a_batch_that_goes_back_yields_nothing_and_does_not_pull_the_offset_back() {
        let mut bytes = batch(20, 3);
        bytes.extend(batch(16, 2));
        bytes.extend(batch(23, 1));
        let (recs, s) = decode_all(bytes, 0);
        assert_eq!(recs.iter().map(|r| r.offset).collect::<Vec<_>>(), vec![20, 21, 22, 23]);
        assert_eq!(s.unwrap().next_offset, Some(24));
    }

    #[test]
    fn records_below_the_fetch_offset_are_dropped() {
        let (recs, s) = decode_all(batch(100, 5), 103);
        assert_eq!(recs.iter().map(|r| r.offset).collect::<Vec<_>>(), vec![103, 104]);
        assert_eq!(s.unwrap().next_offset, Some(105));
    }

    #[test]
    fn a_partial_trailing_batch_ends_the_data() {
        let mut bytes = batch(0, 2);
        let second = batch(2, 2);
        bytes.extend_from_slice(&second[..second.len() - 3]);
        let (recs, s) = decode_all(bytes, 0);
        assert_eq!(recs.len(), 2);
        assert_eq!(s.unwrap(), RecordsSummary { next_offset: Some(2), first_batch_size: None });
    }

    #[test]
    fn a_lone_partial_batch_reports_the_size_it_needs() {
        let full = batch(0, 2);
        for cut in 1..full.len() {
            let (recs, s) = decode_all(full[..cut].to_vec(), 0);
            assert!(recs.is_empty());
            let s = s.unwrap();
            assert_eq!(s.next_offset, None);
            let need = s.first_batch_size.unwrap();
            assert!(need > cut, "cut {cut} needs {need}");
        }
    }

    #[test]
    fn corrupt_checksum_is_an_error_with_the_offset() {
        let mut bytes = batch(7, 2);
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        let (_, r) = decode_all(bytes, 0);
        let e = r.unwrap_err();
        assert_eq!(e.offset, 7);
        assert!(matches!(e.kind, RecordsErrorKind::CrcMismatch { .. }));
    }

    #[test]
    fn control_batches_are_skipped_but_advance_the_offset() {
        let mut bytes = batch(10, 1);
        // Set the control bit and recompute the CRC.
        bytes[22] |= 0x20;
        let crc = crc32c::crc32c(&bytes[21..]);
        bytes[17..21].copy_from_slice(&crc.to_be_bytes());
        bytes.extend_from_slice(&batch(12, 1)); // a gap at 11
        let (recs, s) = decode_all(bytes, 0);
        assert_eq!(recs.iter().map(|r| r.offset).collect::<Vec<_>>(), vec![12]);
        assert_eq!(s.unwrap().next_offset, Some(13));
    }

    /// A transactional batch of `pid` at `base` with `n` records, or (with `marker`) a control
    /// batch holding that marker (0 abort, 1 commit).
    fn txn_batch(base: i64, n: usize, pid: i64, marker: Option<i16>) -> Vec<u8> {
        let key = marker.map(|t| [0i16.to_be_bytes(), t.to_be_bytes()].concat());
        let recs: Vec<RecordSpec<'_>> = (0..n)
            .map(|_| RecordSpec { key: key.as_deref(), value: Some(b"v"), headers: vec![], timestamp: 1 })
            .collect();
        let mut e = Encoder::new();
        let spec = BatchSpec {
            base_offset: base,
            compression: Compression::None,
            producer_id: pid,
            producer_epoch: 0,
            base_sequence: 0,
            transactional: true,
            control: marker.is_some(),
        };
        encode_batch_v2(&mut e, spec, &recs).unwrap();
        e.into_inner()
    }

    #[test]
    fn read_committed_drops_aborted_transactions_and_never_delivers_markers() {
        // Producers 7 and 8 interleave: 7 commits offsets 0-1 (marker at 4), 8 aborts 2-3
        // (marker at 5), 8 then commits 6-7 (marker at 8), 7 aborts 9 (marker at 10).
        let mut log = txn_batch(0, 2, 7, None);
        log.extend(txn_batch(2, 2, 8, None));
        log.extend(txn_batch(4, 1, 7, Some(1)));
        log.extend(txn_batch(5, 1, 8, Some(0)));
        log.extend(txn_batch(6, 2, 8, None));
        log.extend(txn_batch(8, 1, 8, Some(1)));
        log.extend(txn_batch(9, 1, 7, None));
        log.extend(txn_batch(10, 1, 7, Some(0)));
        let buf = FrameBytes::from(log);
        let offsets = |fetch: i64, aborted: Option<&mut AbortedTransactions>| {
            let mut out = Vec::new();
            let s = decode_filtered(&buf, fetch, DecodeLimits::default(), aborted, &mut out).unwrap();
            assert_eq!(s.next_offset, Some(11));
            out.iter().map(|r| r.offset).collect::<Vec<_>>()
        };
        assert_eq!(offsets(0, None), [0, 1, 2, 3, 6, 7, 9], "read_uncommitted: every data record, no marker");
        let mut committed = AbortedTransactions::new([(8, 2), (7, 9)]);
        assert_eq!(offsets(0, Some(&mut committed)), [0, 1, 6, 7]);
        // From the middle of the aborted transaction, which the broker still lists.
        assert_eq!(offsets(3, Some(&mut AbortedTransactions::new([(8, 2), (7, 9)]))), [6, 7]);
        assert_eq!(control_type(&txn_batch(0, 1, 1, Some(1))[V2_HEADER..]), Some(1));
        assert_eq!(control_type(&[0xff, 0x01]), None, "a garbled control record is no marker");
    }

    #[test]
    #[cfg(all(feature = "gzip", feature = "snappy", feature = "lz4", feature = "zstd"))]
    fn compressed_v2_batches_decode_with_every_codec() {
        let data: Vec<(Vec<u8>, Vec<u8>)> = (0..50).map(spec).collect();
        let recs: Vec<_> = data
            .iter()
            .map(|(k, v)| RecordSpec { key: Some(k), value: Some(v), headers: vec![("h", None)], timestamp: 7 })
            .collect();
        for c in [Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd] {
            let mut e = Encoder::new();
            let spec = BatchSpec {
                base_offset: 100,
                compression: c,
                producer_id: 9,
                producer_epoch: 1,
                base_sequence: 0,
                ..BatchSpec::default()
            };
            encode_batch_v2(&mut e, spec, &recs).unwrap();
            let (got, s) = decode_all(e.into_inner(), 110);
            assert_eq!(s.unwrap().next_offset, Some(150), "{c:?}");
            assert_eq!(got.len(), 40, "{c:?}: records before the fetch offset are dropped");
            assert_eq!(got[0].offset, 110);
            assert_eq!(got[0].value(), Some(&b"value-10"[..]), "{c:?}");
            assert_eq!(got[0].headers, vec![Header { key: "h".into(), value: None }]);
        }
    }

    #[test]
    fn unknown_codecs_are_reported_not_misread() {
        let mut bytes = batch(0, 1);
        bytes[22] |= 0x07; // codec 7: defined by no Kafka
        let crc = crc32c::crc32c(&bytes[21..]);
        bytes[17..21].copy_from_slice(&crc.to_be_bytes());
        let (_, r) = decode_all(bytes, 0);
        assert_eq!(r.unwrap_err().kind, RecordsErrorKind::UnsupportedCompression(Compression::Unknown(7)));
    }

    /// A magic-1 gzip wrapper at `offset` around `inner`.
    #[cfg(feature = "gzip")]
    fn gzip_wrapper(offset: i64, inner: &[u8]) -> Vec<u8> {
        let z = compression::compress(Compression::Gzip, inner).unwrap();
        let mut m = Encoder::new();
        m.i8(1);
        m.i8(1); // gzip
        m.i64(5_000);
        m.nullable_bytes(None, false);
        m.nullable_bytes(Some(&z), false);
        let body = m.into_inner();
        let mut e = Encoder::new();
        e.i64(offset);
        e.i32(body.len() as i32 + 4);
        e.u32(crc32fast::hash(&body));
        e.raw(&body);
        e.into_inner()
    }

    /// A magic-1 gzip wrapper: inner offsets relative, the wrapper carrying the last one's.
    #[test]
    #[cfg(feature = "gzip")]
    fn legacy_compressed_wrappers_unpack_with_absolute_offsets() {
        let mut inner = legacy(0, 1, None, b"a");
        inner.extend_from_slice(&legacy(1, 1, None, b"b"));
        inner.extend_from_slice(&legacy(2, 1, None, b"c"));
        // 42: the last inner message's absolute offset.
        let (got, s) = decode_all(gzip_wrapper(42, &inner), 41);
        assert_eq!(s.unwrap().next_offset, Some(43));
        assert_eq!(
            got.iter().map(|r| (r.offset, r.value().unwrap().to_vec())).collect::<Vec<_>>(),
            vec![(41, b"b".to_vec()), (42, b"c".to_vec())]
        );
    }

    #[test]
    #[cfg(feature = "gzip")]
    fn a_compressed_message_nested_in_a_compressed_wrapper_is_refused() {
        let nested = gzip_wrapper(0, &legacy(0, 1, None, b"deep"));
        let mut inner = legacy(0, 1, None, b"a");
        inner.extend_from_slice(&nested);
        let (got, r) = decode_all(gzip_wrapper(7, &inner), 0);
        let e = r.unwrap_err();
        assert!(e.to_string().contains("nested"), "{e}");
        assert!(got.is_empty());
        // A partial inner message is refused too, not dropped.
        let mut inner = legacy(0, 1, None, b"a");
        inner.extend_from_slice(&[0, 0, 0]);
        assert!(decode_all(gzip_wrapper(7, &inner), 0).1.is_err());
    }

    /// `batch(base, n)` with its record count set to `count`, checksum made right.
    fn with_count(base: i64, n: usize, count: i32) -> Vec<u8> {
        let mut b = batch(base, n);
        b[57..61].copy_from_slice(&count.to_be_bytes());
        let crc = crc32c::crc32c(&b[21..]);
        b[17..21].copy_from_slice(&crc.to_be_bytes());
        b
    }

    #[test]
    fn records_are_read_within_their_batch_only() {
        // Count 3 in a batch holding 2: the third record must not be read from the next batch.
        let mut bytes = with_count(0, 2, 3);
        bytes.extend_from_slice(&batch(2, 2));
        let (got, r) = decode_all(bytes, 0);
        assert!(r.is_err(), "{got:?}");
        // Count 1 in a batch holding 2: the second record's bytes are trailing bytes.
        let (_, r) = decode_all(with_count(0, 2, 1), 0);
        assert!(r.unwrap_err().to_string().contains("trailing"));
        // The count as written decodes.
        assert_eq!(decode_all(with_count(0, 2, 2), 0).0.len(), 2);
    }

    #[test]
    fn legacy_v0_and_v1_messages_decode() {
        let mut bytes = legacy(5, 0, None, b"zero");
        bytes.extend_from_slice(&legacy(6, 1, Some(b"k"), b"one"));
        let (recs, s) = decode_all(bytes, 0);
        assert_eq!(s.unwrap().next_offset, Some(7));
        assert_eq!(recs[0].value(), Some(&b"zero"[..]));
        assert_eq!(recs[0].timestamp, -1);
        assert_eq!(recs[1].key(), Some(&b"k"[..]));
        assert_eq!(recs[1].timestamp, 5_000);
    }

    #[test]
    fn legacy_crc_mismatch_is_an_error() {
        let mut bytes = legacy(5, 1, None, b"v");
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert!(matches!(decode_all(bytes, 0).1.unwrap_err().kind, RecordsErrorKind::CrcMismatch { .. }));
    }

    #[test]
    fn absurd_record_counts_and_lengths_fail_cleanly() {
        // A batch whose record count claims 2^31-1.
        let mut bytes = batch(0, 1);
        bytes[57..61].copy_from_slice(&i32::MAX.to_be_bytes());
        let crc = crc32c::crc32c(&bytes[21..]);
        bytes[17..21].copy_from_slice(&crc.to_be_bytes());
        assert!(matches!(decode_all(bytes, 0).1.unwrap_err().kind, RecordsErrorKind::Malformed(_)));
        // A negative batch length.
        let mut bytes = batch(0, 1);
        bytes[8..12].copy_from_slice(&(-5i32).to_be_bytes());
        assert!(decode_all(bytes, 0).1.is_err());
    }

    #[test]
    fn every_byte_set_to_every_boundary_value_never_panics() {
        // Any byte of a valid v2 batch or legacy message set, set to a boundary value, either
        // fails the checksum, changes only fields outside it (offset, length, epoch), or makes
        // the data partial: an error or fewer records, never a panic.
        let mut legacy_set = legacy(5, 0, Some(b"k"), b"zero");
        legacy_set.extend_from_slice(&legacy(6, 1, None, b"one"));
        for good in [batch(0, 3), legacy_set] {
            for i in 0..good.len() {
                for v in [0x00, 0x01, 0x04, 0x05, 0x7f, 0x80, 0xfe, 0xff] {
                    let mut bytes = good.clone();
                    bytes[i] = v;
                    let _ = decode_all(bytes, 0);
                }
            }
        }
    }

    #[test]
    fn a_batch_too_short_for_its_magic_byte_is_malformed() {
        for size in 0i32..5 {
            let mut bytes = batch(0, 1);
            bytes[8..12].copy_from_slice(&size.to_be_bytes());
            let (_, r) = decode_all(bytes, 0);
            assert!(matches!(r.unwrap_err().kind, RecordsErrorKind::Malformed(_)), "size {size}");
        }
    }
}
