//! ShareGroupHeartbeat (key 76), v1: a share group member's conversation with its group
//! coordinator (KIP-932). As with the consumer group protocol, the member joins at epoch 0
//! with an id of its own and its subscription and leaves at -1; the coordinator assigns
//! partitions, which several members of a share group may read at once. v0 was an early-access
//! version Kafka 4.1 removed.

use super::codec::{DecodeResult, Decoder, Encoder};
use super::{ApiKey, Request};

/// ShareGroupHeartbeat request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareGroupHeartbeatRequest {
    /// The group.
    pub group_id: String,
    /// The member's own id.
    pub member_id: String,
    /// 0 to join, -1 to leave, else the current epoch.
    pub member_epoch: i32,
    /// The member's rack.
    pub rack_id: Option<String>,
    /// The subscribed topics; `None`: unchanged.
    pub subscribed_topic_names: Option<Vec<String>>,
}

/// ShareGroupHeartbeat response: laid out as ConsumerGroupHeartbeat's.
pub type ShareGroupHeartbeatResponse = super::consumer_group_heartbeat::ConsumerGroupHeartbeatResponse;

impl Request for ShareGroupHeartbeatRequest {
    const KEY: ApiKey = ApiKey::ShareGroupHeartbeat;
    const MIN_VERSION: i16 = 1;
    const MAX_VERSION: i16 = 1;
    const FIRST_FLEXIBLE: i16 = 0;
    type Response = ShareGroupHeartbeatResponse;

    fn encode(&self, e: &mut Encoder, _version: i16) {
        e.string(&self.group_id, true);
        e.string(&self.member_id, true);
        e.i32(self.member_epoch);
        e.nullable_string(self.rack_id.as_deref(), true);
        match &self.subscribed_topic_names {
            Some(names) => e.array(names, true, |e, n| e.string(n, true)),
            None => e.array_len(None, true),
        }
        e.tagged_fields(true);
    }

    fn decode(d: &mut Decoder<'_>, _version: i16) -> DecodeResult<Self> {
        let group_id = d.string(true)?;
        let member_id = d.string(true)?;
        let member_epoch = d.i32()?;
        let rack_id = d.nullable_string(true)?;
        let subscribed_topic_names = match d.array_len(true, 1)? {
            None => None,
            Some(n) => Some((0..n).map(|_| d.string(true)).collect::<DecodeResult<Vec<_>>>()?),
        };
        d.skip_tagged_fields(true)?;
        Ok(ShareGroupHeartbeatRequest { group_id, member_id, member_epoch, rack_id, subscribed_topic_names })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::consumer_group_heartbeat::TopicIdPartitions;
    use crate::protocol::test_util::*;

    #[test]
    fn round_trips_and_rejects_every_truncation() {
        let req = ShareGroupHeartbeatRequest {
            group_id: "g".into(),
            member_id: "m".into(),
            member_epoch: 0,
            rack_id: None,
            subscribed_topic_names: Some(vec!["t".into()]),
        };
        for assignment in [None, Some(vec![TopicIdPartitions { topic_id: [1; 16], partitions: vec![0] }])] {
            let resp = ShareGroupHeartbeatResponse {
                throttle_time_ms: 0,
                error_code: 0,
                error_message: None,
                member_id: Some("m".into()),
                member_epoch: 1,
                heartbeat_interval_ms: 5000,
                assignment,
            };
            check_codec(&req, &resp, 1);
        }
    }
}
