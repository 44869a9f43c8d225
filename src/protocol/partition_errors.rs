//! Per-topic partition error codes: the answer OffsetCommit, AddPartitionsToTxn (v0–v3) and
//! TxnOffsetCommit share, each entry and topic with tagged fields on flexible versions.

use super::codec::{DecodeResult, Decoder, Encoder};

/// Per topic: (partition, error code).
pub type PartitionErrors = Vec<(String, Vec<(i32, i16)>)>;

/// Appends `topics`, each seen through `view` as (topic, its partitions' error codes).
pub(crate) fn encode<T>(e: &mut Encoder, topics: &[T], flex: bool, view: impl Fn(&T) -> (&str, &[(i32, i16)])) {
    e.array(topics, flex, |e, t| {
        let (topic, partitions) = view(t);
        e.string(topic, flex);
        e.array(partitions, flex, |e, (p, code)| {
            e.i32(*p);
            e.i16(*code);
            e.tagged_fields(flex);
        });
        e.tagged_fields(flex);
    });
}

/// Reads what [`encode`] writes.
pub(crate) fn decode(d: &mut Decoder<'_>, flex: bool) -> DecodeResult<PartitionErrors> {
    d.array(flex, 2, |d| {
        let topic = d.string(flex)?;
        let partitions = d.array(flex, 6, |d| {
            let p = (d.i32()?, d.i16()?);
            d.skip_tagged_fields(flex)?;
            Ok(p)
        })?;
        d.skip_tagged_fields(flex)?;
        Ok((topic, partitions))
    })
}
