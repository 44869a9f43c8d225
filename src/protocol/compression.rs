//! The record codecs: gzip, snappy, lz4, zstd, each behind a cargo feature of the same name
//! (zstd in pure Rust; `zstd-c` puts the reference C library in its place).
//!
//! Kafka's framing of each: gzip is a gzip stream; snappy is the xerial "snappy-java" stream
//! (magic `\x82SNAPPY\0`, then length-prefixed raw blocks) as the Java client writes it, though
//! raw snappy is read too; lz4 is the LZ4 frame format with independent 64 KiB blocks; zstd is a
//! zstd frame. Decompression stops at a size cap, so a small hostile batch can't make us
//! allocate without bound.

use super::records::Compression;

/// Why data could not be compressed or decompressed (or a batch encoded).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CodecError {
    /// This build has no such codec (its cargo feature is off), or no Kafka defines it.
    Unsupported(Compression),
    /// The codec failed: corrupt data.
    Corrupt(Compression, String),
    /// Decompressed data would exceed the cap.
    TooLarge(Compression, usize),
    /// Two timestamps of one batch lie too far apart for a timestamp delta.
    TimestampRange(i64, i64),
}

impl std::fmt::Display for CodecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CodecError::Unsupported(c) => write!(f, "{c:?} compression is not supported by this build"),
            CodecError::Corrupt(c, why) => write!(f, "{c:?} data is corrupt: {why}"),
            CodecError::TooLarge(c, cap) => write!(f, "{c:?} data decompresses to more than {cap} bytes"),
            CodecError::TimestampRange(a, b) => {
                write!(f, "timestamps {a} and {b} are too far apart to share a record batch")
            }
        }
    }
}

/// The most one batch may decompress to.
pub const MAX_DECOMPRESSED: usize = 256 * 1024 * 1024;

/// `data` decompressed with the codec of `attributes` (its low 3 bits), as a v2 batch's
/// records and as a legacy message of `magic`, and what must hold for any input: no panic,
/// nothing past the cap; and data the codec compresses comes back unchanged. For the fuzz
/// targets (feature `unstable`) and the unit tests.
#[cfg(any(test, feature = "unstable"))]
pub fn check_decompress(attributes: u8, magic: i8, data: &[u8]) -> Result<(), String> {
    const CAP: usize = 1 << 20;
    let codec = Compression::from_attributes(i16::from(attributes));
    for out in [decompress(codec, data, CAP), decompress_legacy(codec, data, magic, CAP)].into_iter().flatten() {
        if out.len() > CAP {
            return Err(format!("{codec:?} gave {} bytes past the cap of {CAP}", out.len()));
        }
    }
    if let Ok(packed) = compress(codec, data) {
        let back = decompress(codec, &packed, data.len()).map_err(|e| format!("{codec:?} round trip: {e}"))?;
        if back != data {
            return Err(format!("{codec:?} round trip changed {} bytes into {}", data.len(), back.len()));
        }
    }
    Ok(())
}

#[cfg(any(feature = "gzip", feature = "lz4", feature = "zstd-c"))]
fn read_capped(codec: Compression, r: impl std::io::Read, cap: usize) -> Result<Vec<u8>, CodecError> {
    use std::io::Read;
    let mut out = Vec::new();
    r.take(cap as u64 + 1).read_to_end(&mut out).map_err(|e| CodecError::Corrupt(codec, e.to_string()))?;
    if out.len() > cap {
        return Err(CodecError::TooLarge(codec, cap));
    }
    Ok(out)
}

/// Decompresses `data`, producing at most `cap` bytes.
#[allow(unused_variables)] // `cap` goes unused in a build with every codec off
pub fn decompress(codec: Compression, data: &[u8], cap: usize) -> Result<Vec<u8>, CodecError> {
    match codec {
        Compression::None => Ok(data.to_vec()),
        #[cfg(feature = "gzip")]
        Compression::Gzip => read_capped(codec, flate2::read::MultiGzDecoder::new(data), cap),
        #[cfg(feature = "snappy")]
        Compression::Snappy => snappy::decompress(data, cap),
        #[cfg(feature = "lz4")]
        Compression::Lz4 => read_capped(codec, lz4_flex::frame::FrameDecoder::new(data), cap),
        #[cfg(feature = "zstd-c")]
        Compression::Zstd => {
            let d = zstd::stream::read::Decoder::new(data).map_err(|e| CodecError::Corrupt(codec, e.to_string()))?;
            read_capped(codec, d, cap)
        }
        #[cfg(all(feature = "zstd", not(feature = "zstd-c")))]
        Compression::Zstd => pure_zstd::decompress(data, cap),
        #[allow(unreachable_patterns)] // reached when a codec's feature is off
        other => Err(CodecError::Unsupported(other)),
    }
}

/// Decompresses the value of a legacy wrapper message of `magic`. Kafka wrote the LZ4 frame
/// header checksum of magic-0 messages over the wrong bytes (KAFKA-3160) and its own reader skips
/// the check for them; the checksum is recomputed here so the frame decoder accepts it.
pub fn decompress_legacy(codec: Compression, data: &[u8], magic: i8, cap: usize) -> Result<Vec<u8>, CodecError> {
    #[cfg(feature = "lz4")]
    if codec == Compression::Lz4 && magic == 0 {
        return decompress(codec, &lz4_repair_header_checksum(data), cap);
    }
    let _ = magic;
    decompress(codec, data, cap)
}

/// The frame with its header checksum byte recomputed (xxHash32 of the descriptor, second byte).
#[cfg(feature = "lz4")]
fn lz4_repair_header_checksum(data: &[u8]) -> Vec<u8> {
    use std::hash::Hasher;
    let mut out = data.to_vec();
    let Some(&flg) = data.get(4) else { return out };
    // FLG, BD, then an 8-byte content size and a 4-byte dictionary id when flagged.
    let descriptor = 2 + if flg & 0x08 != 0 { 8 } else { 0 } + if flg & 0x01 != 0 { 4 } else { 0 };
    if data.len() > 4 + descriptor {
        let mut h = twox_hash::XxHash32::with_seed(0);
        h.write(&data[4..4 + descriptor]);
        out[4 + descriptor] = (h.finish() >> 8) as u8;
    }
    out
}

/// Compresses `data` as Kafka expects for `codec`.
pub fn compress(codec: Compression, data: &[u8]) -> Result<Vec<u8>, CodecError> {
    #[allow(unused)]
    let io = |e: std::io::Error| CodecError::Corrupt(codec, e.to_string());
    match codec {
        Compression::None => Ok(data.to_vec()),
        #[cfg(feature = "gzip")]
        Compression::Gzip => {
            use std::io::Write;
            let mut w = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            w.write_all(data).map_err(io)?;
            w.finish().map_err(io)
        }
        #[cfg(feature = "snappy")]
        Compression::Snappy => snappy::compress(data),
        #[cfg(feature = "lz4")]
        Compression::Lz4 => {
            use lz4_flex::frame::{BlockMode, BlockSize, FrameEncoder, FrameInfo};
            use std::io::Write;
            // Kafka's reader (KafkaLZ4BlockInputStream) wants independent blocks, no content size.
            let info = FrameInfo::new().block_size(BlockSize::Max64KB).block_mode(BlockMode::Independent);
            let mut w = FrameEncoder::with_frame_info(info, Vec::new());
            w.write_all(data).map_err(io)?;
            w.finish().map_err(|e| CodecError::Corrupt(codec, e.to_string()))
        }
        #[cfg(feature = "zstd-c")]
        Compression::Zstd => zstd::bulk::compress(data, 3).map_err(io),
        #[cfg(all(feature = "zstd", not(feature = "zstd-c")))]
        Compression::Zstd => Ok(pure_zstd::compress(data)),
        #[allow(unreachable_patterns)]
        other => Err(CodecError::Unsupported(other)),
    }
}

/// zstd in pure Rust (ruzstd), for builds without a C compiler. (With `zstd-c` too, only the
/// tests use it, to check the two read each other.)
#[cfg(all(feature = "zstd", any(not(feature = "zstd-c"), test)))]
mod pure_zstd {
    use super::{CodecError, Compression};
    use std::io::Read;

    fn corrupt(e: impl std::fmt::Display) -> CodecError {
        CodecError::Corrupt(Compression::Zstd, e.to_string())
    }

    /// Reads every frame of `data`, one after another as the C library does, skipping skippable
    /// frames. ruzstd refuses frames whose window exceeds 100 MiB, so a frame header alone can't
    /// make it reserve more than that.
    pub fn decompress(data: &[u8], cap: usize) -> Result<Vec<u8>, CodecError> {
        use ruzstd::decoding::errors::{FrameDecoderError, ReadFrameHeaderError};
        let mut out = Vec::new();
        let mut rest = data;
        while !rest.is_empty() {
            let mut frame = match ruzstd::decoding::StreamingDecoder::new(&mut rest) {
                Ok(frame) => frame,
                Err(FrameDecoderError::ReadFrameHeaderError(ReadFrameHeaderError::SkipFrame { length, .. })) => {
                    let length = usize::try_from(length).unwrap_or(usize::MAX);
                    rest = rest.get(length..).ok_or_else(|| corrupt("a skippable frame runs past the data"))?;
                    continue;
                }
                Err(e) => return Err(corrupt(e)),
            };
            let room = cap - out.len();
            (&mut frame).take(room as u64 + 1).read_to_end(&mut out).map_err(corrupt)?;
            if out.len() > cap {
                return Err(CodecError::TooLarge(Compression::Zstd, cap));
            }
        }
        Ok(out)
    }

    /// One frame at ruzstd's fastest level (about the C library's level 1).
    pub fn compress(data: &[u8]) -> Vec<u8> {
        ruzstd::encoding::compress_to_vec(data, ruzstd::encoding::CompressionLevel::Fastest)
    }
}

#[cfg(feature = "snappy")]
mod snappy {
    use super::{CodecError, Compression};

    const XERIAL_MAGIC: [u8; 8] = [0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0];
    const XERIAL_HEADER: usize = 16; // magic, version, compatible version
    const BLOCK: usize = 32 * 1024; // snappy-java's default block size

    fn corrupt(why: impl std::fmt::Display) -> CodecError {
        CodecError::Corrupt(Compression::Snappy, why.to_string())
    }

    /// No snappy element yields more than 64 bytes from 2 or more bytes of input, so a block
    /// can't decompress to more than this many times its size: a larger declared length is a
    /// lie, refused before anything is allocated for it.
    const MAX_RATIO: usize = 64;

    fn raw_block(block: &[u8], out: &mut Vec<u8>, cap: usize) -> Result<(), CodecError> {
        let n = snap::raw::decompress_len(block).map_err(corrupt)?;
        if n > block.len().saturating_mul(MAX_RATIO) {
            return Err(corrupt(format!("a {}-byte block claims {n} bytes", block.len())));
        }
        if out.len() + n > cap {
            return Err(CodecError::TooLarge(Compression::Snappy, cap));
        }
        let at = out.len();
        out.resize(at + n, 0);
        snap::raw::Decoder::new().decompress(block, &mut out[at..]).map_err(corrupt)?;
        Ok(())
    }

    pub fn decompress(data: &[u8], cap: usize) -> Result<Vec<u8>, CodecError> {
        let mut out = Vec::new();
        if !data.starts_with(&XERIAL_MAGIC) {
            raw_block(data, &mut out, cap)?;
            return Ok(out);
        }
        let mut rest = data.get(XERIAL_HEADER..).ok_or_else(|| corrupt("truncated xerial header"))?;
        while !rest.is_empty() {
            let len = rest.get(..4).ok_or_else(|| corrupt("truncated block length"))?;
            let len = i32::from_be_bytes([len[0], len[1], len[2], len[3]]);
            let block = usize::try_from(len)
                .ok()
                .and_then(|n| rest.get(4..4 + n))
                .ok_or_else(|| corrupt(format!("block length {len} past the end")))?;
            raw_block(block, &mut out, cap)?;
            rest = &rest[4 + block.len()..];
        }
        Ok(out)
    }

    pub fn compress(data: &[u8]) -> Result<Vec<u8>, CodecError> {
        let mut out = Vec::with_capacity(data.len() / 2 + XERIAL_HEADER);
        out.extend_from_slice(&XERIAL_MAGIC);
        out.extend_from_slice(&1i32.to_be_bytes());
        out.extend_from_slice(&1i32.to_be_bytes());
        let mut enc = snap::raw::Encoder::new();
        for chunk in data.chunks(BLOCK) {
            let block = enc.compress_vec(chunk).map_err(corrupt)?;
            out.extend_from_slice(&(block.len() as i32).to_be_bytes());
            out.extend_from_slice(&block);
        }
        Ok(out)
    }
}

#[cfg(test)]
#[cfg(all(feature = "gzip", feature = "snappy", feature = "lz4", feature = "zstd"))]
mod tests {
    use super::*;

    const ALL: [Compression; 4] = [Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd];

    fn sample() -> Vec<u8> {
        (0..200_000u32).flat_map(|i| (i % 251).to_le_bytes()).collect()
    }

    #[test]
    fn every_codec_round_trips() {
        let data = sample();
        for c in ALL {
            let z = compress(c, &data).unwrap();
            assert!(z.len() < data.len(), "{c:?} compresses");
            assert_eq!(decompress(c, &z, MAX_DECOMPRESSED).unwrap(), data, "{c:?}");
        }
    }

    #[test]
    fn decompression_stops_at_the_cap() {
        let data = vec![0u8; 1_000_000];
        for c in ALL {
            let z = compress(c, &data).unwrap();
            assert_eq!(decompress(c, &z, 999_999).unwrap_err(), CodecError::TooLarge(c, 999_999), "{c:?}");
        }
    }

    #[test]
    fn corrupt_and_truncated_input_is_an_error_not_a_panic() {
        let data = sample();
        for c in ALL {
            let z = compress(c, &data[..5000]).unwrap();
            // A prefix may be a valid shorter stream (a bare xerial header is an empty one); it
            // must never panic nor yield the original data.
            for n in 0..z.len() {
                if c == Compression::Lz4 && n >= z.len() - 4 {
                    // lz4_flex reads a frame missing only its end mark; all the data is there.
                    continue;
                }
                let r = decompress(c, &z[..n], MAX_DECOMPRESSED);
                assert!(r.map_or(true, |d| d != data[..5000]), "{c:?} prefix {n}");
            }
            let mut bad = z.clone();
            for i in (0..bad.len()).step_by(7) {
                bad[i] ^= 0xa5;
            }
            let _ = decompress(c, &bad, MAX_DECOMPRESSED);
        }
    }

    #[test]
    fn magic_0_lz4_with_kafkas_broken_header_checksum_is_read() {
        use std::hash::Hasher;
        let data = sample();
        let mut z = compress(Compression::Lz4, &data[..3000]).unwrap();
        // What old Kafka wrote: the checksum over the magic number and the descriptor.
        let mut h = twox_hash::XxHash32::with_seed(0);
        h.write(&z[0..6]);
        z[6] = (h.finish() >> 8) as u8;
        assert!(decompress(Compression::Lz4, &z, MAX_DECOMPRESSED).is_err(), "a standard reader refuses it");
        assert_eq!(decompress_legacy(Compression::Lz4, &z, 0, MAX_DECOMPRESSED).unwrap(), data[..3000]);
        assert!(decompress_legacy(Compression::Lz4, &z, 1, MAX_DECOMPRESSED).is_err(), "magic 1 was written right");
    }

    #[test]
    fn a_snappy_length_beyond_any_ratio_is_refused_before_allocating() {
        // A 5-byte block whose varint header claims 200 MiB.
        let mut block = Vec::new();
        let mut n: u32 = 200 << 20;
        while n >= 0x80 {
            block.push((n as u8) | 0x80);
            n >>= 7;
        }
        block.push(n as u8);
        let r = decompress(Compression::Snappy, &block, 256 << 20);
        assert!(matches!(r, Err(CodecError::Corrupt(Compression::Snappy, ref why)) if why.contains("claims")), "{r:?}");
    }

    /// With both zstd features on, the C library does the work; the pure-Rust codec must read
    /// what it writes and the other way round (and read concatenated and skippable frames).
    #[cfg(feature = "zstd-c")]
    #[test]
    fn pure_rust_zstd_and_the_c_library_read_each_other() {
        let data = sample();
        let by_c = zstd::bulk::compress(&data, 3).unwrap();
        assert_eq!(pure_zstd::decompress(&by_c, MAX_DECOMPRESSED).unwrap(), data);
        let by_rust = pure_zstd::compress(&data);
        assert!(by_rust.len() < data.len() / 4, "ruzstd compresses: {} of {}", by_rust.len(), data.len());
        assert_eq!(zstd::stream::decode_all(&by_rust[..]).unwrap(), data);
        let mut two = by_rust.clone();
        two.extend_from_slice(&[0x50, 0x2A, 0x4D, 0x18, 3, 0, 0, 0, 1, 2, 3]); // a skippable frame
        two.extend_from_slice(&by_c);
        let both = pure_zstd::decompress(&two, MAX_DECOMPRESSED).unwrap();
        assert_eq!(both.len(), 2 * data.len());
        assert_eq!(
            pure_zstd::decompress(&by_c, data.len() - 1),
            Err(CodecError::TooLarge(Compression::Zstd, data.len() - 1))
        );
        for cut in [1, 4, 5, 9, by_c.len() / 2, by_c.len() - 1] {
            assert!(pure_zstd::decompress(&by_c[..cut], MAX_DECOMPRESSED).is_err(), "a frame cut at {cut} is an error");
        }
    }

    #[test]
    fn raw_snappy_blocks_are_read_too() {
        let block = snap::raw::Encoder::new().compress_vec(b"hello hello hello").unwrap();
        assert_eq!(decompress(Compression::Snappy, &block, 100).unwrap(), b"hello hello hello");
    }
}

#[cfg(test)]
#[cfg(not(any(feature = "gzip", feature = "snappy", feature = "lz4", feature = "zstd", feature = "zstd-c")))]
mod without_codecs {
    use super::*;

    #[test]
    fn a_build_without_codecs_reports_them_unsupported() {
        for c in [Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd] {
            assert_eq!(decompress(c, b"anything", MAX_DECOMPRESSED).unwrap_err(), CodecError::Unsupported(c));
            assert_eq!(compress(c, b"anything").unwrap_err(), CodecError::Unsupported(c));
        }
    }
}
