//! Kafka's primitive types: an [`Encoder`] that appends to a buffer and a bounds-checked
//! [`Decoder`] over a byte slice.
//!
//! Flexible versions (KIP-482) replace int16/int32 length prefixes with unsigned varints holding
//! `length + 1` and add a tagged-field section to every struct; the `compact_*` methods and
//! [`Decoder::skip_tagged_fields`] cover those. The decoder never trusts a length from the wire:
//! every length is checked against the bytes actually left before anything is sliced or
//! allocated, so absurd lengths fail without allocating.

use byteorder::{BigEndian, WriteBytesExt};
use std::fmt;
use std::ops::{Deref, Range};
use std::sync::Arc;

/// Why a buffer could not be decoded. Carries what was being read so that the caller can wrap
/// it with the API, version and broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// What was being decoded ("int32", "compact string", "record batch", ...).
    pub what: &'static str,
    /// Byte offset into the buffer where decoding failed.
    pub at: usize,
    /// The detail: truncation, a negative length, a bad varint.
    pub kind: DecodeErrorKind,
}

/// The kinds of [`DecodeError`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeErrorKind {
    /// The buffer ended before the value did.
    Truncated,
    /// A length prefix was negative (other than the -1 of a null) or larger than the bytes left.
    BadLength(i64),
    /// A varint ran past 5 (or 10) bytes.
    VarintTooLong,
    /// A string was not valid UTF-8.
    NotUtf8,
    /// A value that has a fixed set of meanings had another one.
    Invalid(String),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            DecodeErrorKind::Truncated => write!(f, "{} truncated at byte {}", self.what, self.at),
            DecodeErrorKind::BadLength(n) => {
                write!(f, "{} has impossible length {} at byte {}", self.what, n, self.at)
            }
            DecodeErrorKind::VarintTooLong => {
                write!(f, "{} varint too long at byte {}", self.what, self.at)
            }
            DecodeErrorKind::NotUtf8 => write!(f, "{} is not UTF-8 at byte {}", self.what, self.at),
            DecodeErrorKind::Invalid(s) => write!(f, "{} invalid at byte {}: {}", self.what, self.at, s),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Result of a decode step.
pub type DecodeResult<T> = Result<T, DecodeError>;

/// Appends Kafka primitives to a `Vec<u8>`. Writing to a `Vec` cannot fail, so none of these
/// methods return errors; lengths that don't fit their prefix are a caller bug and are clamped
/// by the callers' own validation (strings and arrays here come from our own structures).
#[derive(Debug, Default)]
pub struct Encoder {
    buf: Vec<u8>,
}

// Writing into a Vec<u8> never fails; byteorder's io::Result is therefore always Ok.
const VEC_WRITE: &str = "writing to a Vec cannot fail";

impl Encoder {
    /// An empty encoder.
    pub fn new() -> Self {
        Encoder { buf: Vec::new() }
    }

    /// Wraps an existing buffer (reused between requests to avoid reallocating).
    pub fn from_vec(buf: Vec<u8>) -> Self {
        Encoder { buf }
    }

    /// The bytes written so far.
    pub fn into_inner(self) -> Vec<u8> {
        self.buf
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// True when nothing was written.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Mutable access, for back-patching lengths and checksums.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.buf
    }

    /// Reserves four bytes for a length written later by [`Encoder::patch_i32`].
    pub fn reserve_i32(&mut self) -> usize {
        let at = self.buf.len();
        self.buf.extend_from_slice(&[0; 4]);
        at
    }

    /// Writes `v` over the four bytes at `at`.
    pub fn patch_i32(&mut self, at: usize, v: i32) {
        self.buf[at..at + 4].copy_from_slice(&v.to_be_bytes());
    }

    /// Writes `v` over the four bytes at `at`.
    pub fn patch_u32(&mut self, at: usize, v: u32) {
        self.buf[at..at + 4].copy_from_slice(&v.to_be_bytes());
    }

    /// int8
    pub fn i8(&mut self, v: i8) {
        self.buf.push(v as u8);
    }
    /// boolean
    pub fn bool(&mut self, v: bool) {
        self.buf.push(v as u8);
    }
    /// int16
    pub fn i16(&mut self, v: i16) {
        self.buf.write_i16::<BigEndian>(v).expect(VEC_WRITE);
    }
    /// int32
    pub fn i32(&mut self, v: i32) {
        self.buf.write_i32::<BigEndian>(v).expect(VEC_WRITE);
    }
    /// uint32
    pub fn u32(&mut self, v: u32) {
        self.buf.write_u32::<BigEndian>(v).expect(VEC_WRITE);
    }
    /// int64
    pub fn i64(&mut self, v: i64) {
        self.buf.write_i64::<BigEndian>(v).expect(VEC_WRITE);
    }
    /// uuid (16 raw bytes)
    pub fn uuid(&mut self, v: [u8; 16]) {
        self.buf.extend_from_slice(&v);
    }
    /// Raw bytes, no prefix.
    pub fn raw(&mut self, v: &[u8]) {
        self.buf.extend_from_slice(v);
    }

    /// unsigned_varint
    pub fn uvarint(&mut self, mut v: u32) {
        while v >= 0x80 {
            self.buf.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }

    fn uvarlong(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }

    /// varint (zigzag int32), as used inside records.
    pub fn varint(&mut self, v: i32) {
        self.uvarint(((v << 1) ^ (v >> 31)) as u32);
    }

    /// varlong (zigzag int64), as used inside records.
    pub fn varlong(&mut self, v: i64) {
        self.uvarlong(((v << 1) ^ (v >> 63)) as u64);
    }

    /// A string with the prefix its version calls for.
    pub fn string(&mut self, v: &str, flexible: bool) {
        if flexible {
            self.uvarint(v.len() as u32 + 1);
        } else {
            self.i16(v.len() as i16);
        }
        self.raw(v.as_bytes());
    }

    /// A nullable string with the prefix its version calls for.
    pub fn nullable_string(&mut self, v: Option<&str>, flexible: bool) {
        match v {
            Some(s) => self.string(s, flexible),
            None if flexible => self.uvarint(0),
            None => self.i16(-1),
        }
    }

    /// A nullable byte string with the prefix its version calls for.
    pub fn nullable_bytes(&mut self, v: Option<&[u8]>, flexible: bool) {
        match v {
            Some(b) if flexible => {
                self.uvarint(b.len() as u32 + 1);
                self.raw(b);
            }
            Some(b) => {
                self.i32(b.len() as i32);
                self.raw(b);
            }
            None if flexible => self.uvarint(0),
            None => self.i32(-1),
        }
    }

    /// An array length prefix; `None` is the null array.
    pub fn array_len(&mut self, len: Option<usize>, flexible: bool) {
        match len {
            Some(n) if flexible => self.uvarint(n as u32 + 1),
            Some(n) => self.i32(n as i32),
            None if flexible => self.uvarint(0),
            None => self.i32(-1),
        }
    }

    /// An array, each element written by `f`.
    pub fn array<T>(&mut self, items: &[T], flexible: bool, mut f: impl FnMut(&mut Self, &T)) {
        self.array_len(Some(items.len()), flexible);
        for item in items {
            f(self, item);
        }
    }

    /// An array of int32.
    pub fn i32_array(&mut self, items: &[i32], flexible: bool) {
        self.array(items, flexible, |e, v| e.i32(*v));
    }

    /// An empty tagged-field section, on flexible versions only.
    pub fn tagged_fields(&mut self, flexible: bool) {
        if flexible {
            self.uvarint(0);
        }
    }
}

/// Bytes read from a response frame: either a range of the frame itself, shared, or a buffer of
/// their own. Sharing spares a copy of a Fetch answer's records when only one partition brought
/// any (the frame is then about those records); with several, each partition's are copied, so
/// that one partition's records left unread don't keep the others' memory alive.
#[derive(Clone, Default)]
pub struct FrameBytes {
    buf: Arc<Vec<u8>>,
    start: usize,
    end: usize,
}

impl FrameBytes {
    /// The buffer the bytes are in (the whole frame when shared).
    pub fn buffer(&self) -> &Arc<Vec<u8>> {
        &self.buf
    }

    /// Where the bytes are in [`FrameBytes::buffer`].
    pub fn range(&self) -> Range<usize> {
        self.start..self.end
    }

    /// The same bytes in a buffer of their own (no copy when they already are).
    pub fn unshared(self) -> FrameBytes {
        if self.start == 0 && self.end == self.buf.len() {
            self
        } else {
            FrameBytes::from(self.to_vec())
        }
    }
}

impl From<Vec<u8>> for FrameBytes {
    fn from(v: Vec<u8>) -> FrameBytes {
        FrameBytes { end: v.len(), buf: Arc::new(v), start: 0 }
    }
}

impl From<Arc<Vec<u8>>> for FrameBytes {
    fn from(buf: Arc<Vec<u8>>) -> FrameBytes {
        FrameBytes { end: buf.len(), buf, start: 0 }
    }
}

impl Deref for FrameBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }
}

impl fmt::Debug for FrameBytes {
    // The range, not the frame's bytes: a Fetch answer's frame can be megabytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FrameBytes({} bytes at {:?} of {})", self.end - self.start, self.range(), self.buf.len())
    }
}

impl PartialEq for FrameBytes {
    fn eq(&self, other: &FrameBytes) -> bool {
        **self == **other
    }
}

impl Eq for FrameBytes {}

/// Reads Kafka primitives from a slice, never past its end.
#[derive(Debug, Clone)]
pub struct Decoder<'a> {
    buf: &'a [u8],
    pos: usize,
    /// The frame `buf` is, when [`Decoder::sharing`] said so: [`Decoder::nullable_frame_bytes`]
    /// then hands out ranges of it instead of copies.
    frame: Option<&'a Arc<Vec<u8>>>,
}

impl<'a> Decoder<'a> {
    /// A decoder over `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Decoder { buf, pos: 0, frame: None }
    }

    /// This decoder, handing out [`FrameBytes`] that share `frame` when it reads over all of
    /// `frame` (otherwise unchanged: they are copies).
    pub fn sharing(mut self, frame: &'a Arc<Vec<u8>>) -> Self {
        if std::ptr::eq(self.buf, frame.as_slice()) {
            self.frame = Some(frame);
        }
        self
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Position in the buffer.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// The unread bytes.
    pub fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    /// An error of `kind` at the current position.
    pub fn error(&self, what: &'static str, kind: DecodeErrorKind) -> DecodeError {
        DecodeError { what, at: self.pos, kind }
    }

    /// Takes the next `n` bytes.
    pub fn take(&mut self, n: usize, what: &'static str) -> DecodeResult<&'a [u8]> {
        if n > self.remaining() {
            return Err(self.error(what, DecodeErrorKind::Truncated));
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    fn array_of<const N: usize>(&mut self, what: &'static str) -> DecodeResult<[u8; N]> {
        let bytes = self.take(N, what)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    /// int8
    pub fn i8(&mut self) -> DecodeResult<i8> {
        Ok(self.array_of::<1>("int8")?[0] as i8)
    }
    /// boolean
    pub fn bool(&mut self) -> DecodeResult<bool> {
        Ok(self.array_of::<1>("boolean")?[0] != 0)
    }
    /// int16
    pub fn i16(&mut self) -> DecodeResult<i16> {
        Ok(i16::from_be_bytes(self.array_of("int16")?))
    }
    /// int32
    pub fn i32(&mut self) -> DecodeResult<i32> {
        Ok(i32::from_be_bytes(self.array_of("int32")?))
    }
    /// uint32
    pub fn u32(&mut self) -> DecodeResult<u32> {
        Ok(u32::from_be_bytes(self.array_of("uint32")?))
    }
    /// int64
    pub fn i64(&mut self) -> DecodeResult<i64> {
        Ok(i64::from_be_bytes(self.array_of("int64")?))
    }
    /// uuid
    pub fn uuid(&mut self) -> DecodeResult<[u8; 16]> {
        self.array_of("uuid")
    }

    /// unsigned_varint (at most 5 bytes).
    pub fn uvarint(&mut self) -> DecodeResult<u32> {
        let v = self.uvar(5, "unsigned varint")?;
        Ok(v as u32)
    }

    fn uvar(&mut self, max_bytes: usize, what: &'static str) -> DecodeResult<u64> {
        let mut v: u64 = 0;
        for i in 0..max_bytes {
            let b = self.array_of::<1>(what)?[0];
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(self.error(what, DecodeErrorKind::VarintTooLong))
    }

    /// varint (zigzag int32)
    pub fn varint(&mut self) -> DecodeResult<i32> {
        let u = self.uvar(5, "varint")? as u32;
        Ok(((u >> 1) as i32) ^ -((u & 1) as i32))
    }

    /// varlong (zigzag int64)
    pub fn varlong(&mut self) -> DecodeResult<i64> {
        let u = self.uvar(10, "varlong")?;
        Ok(((u >> 1) as i64) ^ -((u & 1) as i64))
    }

    /// A length that must fit in what is left; `None` for the null marker.
    fn checked_len(&mut self, raw: i64, what: &'static str) -> DecodeResult<Option<usize>> {
        if raw == -1 {
            return Ok(None);
        }
        if raw < 0 || raw as u64 > self.remaining() as u64 {
            return Err(self.error(what, DecodeErrorKind::BadLength(raw)));
        }
        Ok(Some(raw as usize))
    }

    fn str_of(&mut self, len: usize, what: &'static str) -> DecodeResult<String> {
        let at = self.pos;
        let bytes = self.take(len, what)?;
        std::str::from_utf8(bytes).map(str::to_owned).map_err(|_| DecodeError {
            what,
            at,
            kind: DecodeErrorKind::NotUtf8,
        })
    }

    /// A nullable string with the prefix its version calls for.
    pub fn nullable_string(&mut self, flexible: bool) -> DecodeResult<Option<String>> {
        let raw = if flexible { i64::from(self.uvarint()?) - 1 } else { i64::from(self.i16()?) };
        match self.checked_len(raw, "string")? {
            None => Ok(None),
            Some(n) => self.str_of(n, "string").map(Some),
        }
    }

    /// A string; null is an error.
    pub fn string(&mut self, flexible: bool) -> DecodeResult<String> {
        self.nullable_string(flexible)?
            .ok_or_else(|| self.error("string", DecodeErrorKind::Invalid("null where a string is required".into())))
    }

    /// Nullable bytes with the prefix its version calls for, borrowed from the buffer.
    pub fn nullable_bytes(&mut self, flexible: bool) -> DecodeResult<Option<&'a [u8]>> {
        let raw = if flexible { i64::from(self.uvarint()?) - 1 } else { i64::from(self.i32()?) };
        match self.checked_len(raw, "bytes")? {
            None => Ok(None),
            Some(n) => self.take(n, "bytes").map(Some),
        }
    }

    /// [`Decoder::nullable_bytes`] as [`FrameBytes`]: a range of the frame when sharing it (and
    /// not empty), a copy otherwise.
    pub fn nullable_frame_bytes(&mut self, flexible: bool) -> DecodeResult<Option<FrameBytes>> {
        let Some(bytes) = self.nullable_bytes(flexible)? else { return Ok(None) };
        Ok(Some(match self.frame {
            Some(frame) if !bytes.is_empty() => {
                FrameBytes { buf: Arc::clone(frame), start: self.pos - bytes.len(), end: self.pos }
            }
            _ => FrameBytes::from(bytes.to_vec()),
        }))
    }

    /// Bytes whose length is a zigzag varint, as inside records; -1 is null.
    pub fn varint_bytes(&mut self) -> DecodeResult<Option<&'a [u8]>> {
        let raw = i64::from(self.varint()?);
        match self.checked_len(raw, "record bytes")? {
            None => Ok(None),
            Some(n) => self.take(n, "record bytes").map(Some),
        }
    }

    /// An array length; `None` is the null array. The count is checked against the bytes left
    /// (every element takes at least `min_elem` bytes), so a huge count never drives a big
    /// allocation or a long loop.
    pub fn array_len(&mut self, flexible: bool, min_elem: usize) -> DecodeResult<Option<usize>> {
        let raw = if flexible { i64::from(self.uvarint()?) - 1 } else { i64::from(self.i32()?) };
        if raw == -1 {
            return Ok(None);
        }
        if raw < 0 || (raw as u64).saturating_mul(min_elem.max(1) as u64) > self.remaining() as u64 {
            return Err(self.error("array", DecodeErrorKind::BadLength(raw)));
        }
        Ok(Some(raw as usize))
    }

    /// An array, each element read by `f`; null reads as empty.
    pub fn array<T>(
        &mut self,
        flexible: bool,
        min_elem: usize,
        mut f: impl FnMut(&mut Self) -> DecodeResult<T>,
    ) -> DecodeResult<Vec<T>> {
        let n = self.array_len(flexible, min_elem)?.unwrap_or(0);
        let mut out = Vec::with_capacity(n); // n is bounded by the bytes left (array_len)
        for _ in 0..n {
            out.push(f(self)?);
        }
        Ok(out)
    }

    /// An array of int32.
    pub fn i32_array(&mut self, flexible: bool) -> DecodeResult<Vec<i32>> {
        self.array(flexible, 4, |d| d.i32())
    }

    /// Skips a tagged-field section on flexible versions. Fields we don't model are ignored, as
    /// the protocol intends.
    pub fn skip_tagged_fields(&mut self, flexible: bool) -> DecodeResult<()> {
        if !flexible {
            return Ok(());
        }
        let n = self.uvarint()?;
        for _ in 0..n {
            let _tag = self.uvarint()?;
            let len = self.uvarint()? as usize;
            self.take(len, "tagged field")?;
        }
        Ok(())
    }

    /// Fails unless every byte was read: trailing garbage means we misread the version.
    pub fn finish(&self, what: &'static str) -> DecodeResult<()> {
        if self.remaining() != 0 {
            return Err(
                self.error(what, DecodeErrorKind::Invalid(format!("{} unexpected trailing bytes", self.remaining())))
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_including_extremes() {
        for v in [0, 1, -1, 63, -64, 64, 300, i32::MAX, i32::MIN] {
            let mut e = Encoder::new();
            e.varint(v);
            let bytes = e.into_inner();
            let mut d = Decoder::new(&bytes);
            assert_eq!(d.varint().unwrap(), v);
            assert_eq!(d.remaining(), 0);
        }
        for v in [0i64, -1, 1 << 40, i64::MAX, i64::MIN] {
            let mut e = Encoder::new();
            e.varlong(v);
            let bytes = e.into_inner();
            assert_eq!(Decoder::new(&bytes).varlong().unwrap(), v);
        }
    }

    #[test]
    fn zigzag_matches_the_protocol_guide() {
        // The protocol guide's examples: 0->0, -1->1, 1->2, -2->3.
        for (v, wire) in [(0, 0u8), (-1, 1), (1, 2), (-2, 3)] {
            let mut e = Encoder::new();
            e.varint(v);
            assert_eq!(e.into_inner(), vec![wire]);
        }
    }

    #[test]
    fn overlong_varint_is_an_error() {
        let bytes = [0xff; 11];
        assert_eq!(Decoder::new(&bytes).uvarint().unwrap_err().kind, DecodeErrorKind::VarintTooLong);
        assert_eq!(Decoder::new(&bytes).varlong().unwrap_err().kind, DecodeErrorKind::VarintTooLong);
    }

    #[test]
    fn strings_and_bytes_round_trip_in_both_encodings() {
        for flexible in [false, true] {
            let mut e = Encoder::new();
            e.string("héllo", flexible);
            e.nullable_string(None, flexible);
            e.nullable_bytes(Some(b"\x00\x01"), flexible);
            e.nullable_bytes(None, flexible);
            e.tagged_fields(flexible);
            let bytes = e.into_inner();
            let mut d = Decoder::new(&bytes);
            assert_eq!(d.string(flexible).unwrap(), "héllo");
            assert_eq!(d.nullable_string(flexible).unwrap(), None);
            assert_eq!(d.nullable_bytes(flexible).unwrap(), Some(&b"\x00\x01"[..]));
            assert_eq!(d.nullable_bytes(flexible).unwrap(), None);
            d.skip_tagged_fields(flexible).unwrap();
            d.finish("test").unwrap();
        }
    }

    #[test]
    fn absurd_lengths_fail_without_allocating() {
        // int32 array count of 2^31-1 with four bytes behind it.
        let mut bytes = i32::MAX.to_be_bytes().to_vec();
        bytes.extend_from_slice(&[0, 0, 0, 0]);
        let err = Decoder::new(&bytes).i32_array(false).unwrap_err();
        assert!(matches!(err.kind, DecodeErrorKind::BadLength(_)));
        // Negative lengths other than -1.
        let bytes = (-2i32).to_be_bytes();
        assert!(Decoder::new(&bytes).nullable_bytes(false).is_err());
        let bytes = (-7i16).to_be_bytes();
        assert!(Decoder::new(&bytes).nullable_string(false).is_err());
        // A compact string claiming 4 GiB.
        let mut e = Encoder::new();
        e.uvarint(u32::MAX);
        assert!(Decoder::new(&e.into_inner()).string(true).is_err());
    }

    #[test]
    fn tagged_fields_are_skipped() {
        let mut e = Encoder::new();
        e.uvarint(2);
        e.uvarint(0);
        e.uvarint(3);
        e.raw(b"abc");
        e.uvarint(7);
        e.uvarint(0);
        e.i8(42);
        let bytes = e.into_inner();
        let mut d = Decoder::new(&bytes);
        d.skip_tagged_fields(true).unwrap();
        assert_eq!(d.i8().unwrap(), 42);
    }
}
