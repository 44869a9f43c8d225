//! The consumer protocol's payloads, carried opaquely inside JoinGroup and SyncGroup: a
//! member's subscription (v0–v3) and its assignment (v0–v3). Each starts with its own version;
//! a newer version than we know is read as the newest we know, as the Java client does (later
//! versions only append fields).

use super::codec::{DecodeResult, Decoder, Encoder};
use std::collections::BTreeMap;

/// The newest payload version written.
pub const VERSION: i16 = 3;

/// Topic → partitions, sorted.
pub type TopicPartitions = BTreeMap<String, Vec<i32>>;

/// What a member subscribes to (ConsumerProtocolSubscription).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subscription {
    /// Subscribed topics.
    pub topics: Vec<String>,
    /// Assignor-specific data.
    pub user_data: Option<Vec<u8>>,
    /// v1+: partitions the member owns now (cooperative rebalancing).
    pub owned_partitions: TopicPartitions,
    /// v2+: the generation `owned_partitions` belong to, -1 if unknown.
    pub generation_id: i32,
    /// v3+: the member's rack.
    pub rack_id: Option<String>,
}

/// What a member is given (ConsumerProtocolAssignment).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Assignment {
    /// Assigned partitions.
    pub partitions: TopicPartitions,
    /// Assignor-specific data.
    pub user_data: Option<Vec<u8>>,
}

fn encode_tps(e: &mut Encoder, tps: &TopicPartitions) {
    let list: Vec<(&String, &Vec<i32>)> = tps.iter().collect();
    e.array(&list, false, |e, (t, ps)| {
        e.string(t, false);
        e.i32_array(ps, false);
    });
}

fn decode_tps(d: &mut Decoder<'_>) -> DecodeResult<TopicPartitions> {
    let list = d.array(false, 6, |d| Ok((d.string(false)?, d.i32_array(false)?)))?;
    let mut out = TopicPartitions::new();
    for (t, ps) in list {
        out.entry(t).or_default().extend(ps);
    }
    Ok(out)
}

impl Subscription {
    /// Encodes at `version` (0–3).
    pub fn encode(&self, version: i16) -> Vec<u8> {
        let mut e = Encoder::new();
        e.i16(version);
        e.array(&self.topics, false, |e, t| e.string(t, false));
        e.nullable_bytes(self.user_data.as_deref(), false);
        if version >= 1 {
            encode_tps(&mut e, &self.owned_partitions);
        }
        if version >= 2 {
            e.i32(self.generation_id);
        }
        if version >= 3 {
            e.nullable_string(self.rack_id.as_deref(), false);
        }
        e.into_inner()
    }

    /// Decodes any version; fields of versions after 3 are ignored.
    pub fn decode(bytes: &[u8]) -> DecodeResult<Subscription> {
        let mut d = Decoder::new(bytes);
        let version = d.i16()?;
        let topics = d.array(false, 2, |d| d.string(false))?;
        let user_data = d.nullable_bytes(false)?.map(<[u8]>::to_vec);
        let owned_partitions = if version >= 1 { decode_tps(&mut d)? } else { TopicPartitions::new() };
        let generation_id = if version >= 2 { d.i32()? } else { -1 };
        let rack_id = if version >= 3 { d.nullable_string(false)? } else { None };
        Ok(Subscription { topics, user_data, owned_partitions, generation_id, rack_id })
    }
}

impl Assignment {
    /// Encodes at `version` (0–3; the layout is the same in all of them).
    pub fn encode(&self, version: i16) -> Vec<u8> {
        let mut e = Encoder::new();
        e.i16(version);
        encode_tps(&mut e, &self.partitions);
        e.nullable_bytes(self.user_data.as_deref(), false);
        e.into_inner()
    }

    /// Decodes any version. An empty payload is an empty assignment: brokers send one to a
    /// member the leader left out, and to every member when the group protocol ends the sync.
    pub fn decode(bytes: &[u8]) -> DecodeResult<Assignment> {
        if bytes.is_empty() {
            return Ok(Assignment::default());
        }
        let mut d = Decoder::new(bytes);
        let _version = d.i16()?;
        let partitions = decode_tps(&mut d)?;
        // librdkafka and older clients may end the payload before the user data.
        let user_data = if d.remaining() == 0 { None } else { d.nullable_bytes(false)?.map(<[u8]>::to_vec) };
        Ok(Assignment { partitions, user_data })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tps(list: &[(&str, &[i32])]) -> TopicPartitions {
        list.iter().map(|(t, p)| (t.to_string(), p.to_vec())).collect()
    }

    #[test]
    fn subscriptions_round_trip_at_every_version_and_truncations_fail() {
        for v in 0..=3 {
            let s = Subscription {
                topics: vec!["a".into(), "b".into()],
                user_data: Some(vec![0, 0, 0, 7]),
                owned_partitions: if v >= 1 { tps(&[("a", &[0, 2])]) } else { TopicPartitions::new() },
                generation_id: if v >= 2 { 7 } else { -1 },
                rack_id: (v >= 3).then(|| "r1".into()),
            };
            let bytes = s.encode(v);
            assert_eq!(Subscription::decode(&bytes).unwrap(), s, "v{v}");
            for n in 0..bytes.len() {
                assert!(Subscription::decode(&bytes[..n]).is_err(), "v{v} prefix {n}");
            }
        }
    }

    #[test]
    fn a_newer_subscription_version_is_read_as_v3() {
        let s = Subscription { topics: vec!["t".into()], generation_id: 2, ..Default::default() };
        let mut bytes = s.encode(3);
        bytes[1] = 9; // version 9
        bytes.extend_from_slice(&[1, 2, 3]); // a field we don't know
        assert_eq!(Subscription::decode(&bytes).unwrap(), s);
    }

    #[test]
    fn assignments_round_trip_and_tolerate_missing_user_data() {
        let a = Assignment { partitions: tps(&[("a", &[1]), ("b", &[0, 3])]), user_data: None };
        let bytes = a.encode(0);
        assert_eq!(Assignment::decode(&bytes).unwrap(), a);
        assert_eq!(Assignment::decode(&bytes[..bytes.len() - 4]).unwrap(), a, "without the user data field");
        assert_eq!(Assignment::decode(&[]).unwrap(), Assignment::default());
        for n in 1..bytes.len() - 4 {
            assert!(Assignment::decode(&bytes[..n]).is_err(), "prefix {n}");
        }
    }
}
