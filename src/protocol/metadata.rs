//! Metadata (key 3), v1–v12: brokers, topics, partition leaders.

use super::codec::{DecodeResult, Decoder, Encoder};
use super::{ApiKey, Request, Response};

/// Metadata request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MetadataRequest {
    /// Topics to describe; `None` means every topic.
    pub topics: Option<Vec<String>>,
    /// v10+: topics asked for by id alone (KIP-516), as a KIP-848 member does for the ids in
    /// its assignment; sent after `topics` (a `topics` of `None` sends none of them).
    pub topic_ids: Vec<[u8; 16]>,
    /// v4+: whether the broker may create missing topics (if it is configured to).
    pub allow_auto_topic_creation: bool,
}

/// A broker in a metadata response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataBroker {
    /// Broker id.
    pub node_id: i32,
    /// Advertised host.
    pub host: String,
    /// Advertised port.
    pub port: i32,
    /// v1+: rack.
    pub rack: Option<String>,
}

/// A partition in a metadata response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataPartition {
    /// Partition error.
    pub error_code: i16,
    /// Partition id.
    pub partition_index: i32,
    /// Leader broker id, -1 when there is none.
    pub leader_id: i32,
    /// v7+: leader epoch, -1 when unknown.
    pub leader_epoch: i32,
    /// Replicas.
    pub replica_nodes: Vec<i32>,
    /// In-sync replicas.
    pub isr_nodes: Vec<i32>,
    /// v5+: offline replicas.
    pub offline_replicas: Vec<i32>,
}

/// A topic in a metadata response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataTopic {
    /// Topic error.
    pub error_code: i16,
    /// Topic name (v12+ may be null when the request named topic ids).
    pub name: Option<String>,
    /// v10+: topic id.
    pub topic_id: [u8; 16],
    /// v1+: internal topic.
    pub is_internal: bool,
    /// Partitions.
    pub partitions: Vec<MetadataPartition>,
    /// v8+: authorized operations bit field.
    pub topic_authorized_operations: i32,
}

/// Metadata response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MetadataResponse {
    /// v3+: throttle time.
    pub throttle_time_ms: i32,
    /// Brokers.
    pub brokers: Vec<MetadataBroker>,
    /// v2+: cluster id.
    pub cluster_id: Option<String>,
    /// v1+: controller id.
    pub controller_id: i32,
    /// Topics.
    pub topics: Vec<MetadataTopic>,
    /// v8–v10: cluster authorized operations.
    pub cluster_authorized_operations: i32,
}

impl Request for MetadataRequest {
    const KEY: ApiKey = ApiKey::Metadata;
    const MIN_VERSION: i16 = 1;
    const MAX_VERSION: i16 = 12;
    const FIRST_FLEXIBLE: i16 = 9;
    type Response = MetadataResponse;

    fn encode(&self, e: &mut Encoder, version: i16) {
        let flex = Self::flexible(version);
        match &self.topics {
            None => e.array_len(None, flex),
            Some(topics) => {
                let ids = if version >= 10 { self.topic_ids.as_slice() } else { &[] };
                e.array_len(Some(topics.len() + ids.len()), flex);
                for t in topics {
                    if version >= 10 {
                        e.uuid([0; 16]);
                        e.nullable_string(Some(t), flex);
                    } else {
                        e.string(t, flex);
                    }
                    e.tagged_fields(flex);
                }
                for id in ids {
                    e.uuid(*id);
                    e.nullable_string(None, flex);
                    e.tagged_fields(flex);
                }
            }
        }
        if version >= 4 {
            e.bool(self.allow_auto_topic_creation);
        }
        if (8..=10).contains(&version) {
            e.bool(false);
        }
        if version >= 8 {
            e.bool(false);
        }
        e.tagged_fields(flex);
    }

    fn decode(d: &mut Decoder<'_>, version: i16) -> DecodeResult<Self> {
        let flex = Self::flexible(version);
        let mut topic_ids = Vec::new();
        let topics = match d.array_len(flex, 2)? {
            None => None,
            Some(n) => {
                let mut v = Vec::with_capacity(n);
                for _ in 0..n {
                    if version >= 10 {
                        let id = d.uuid()?;
                        match d.nullable_string(flex)? {
                            Some(name) => v.push(name),
                            None => topic_ids.push(id),
                        }
                    } else {
                        v.push(d.string(flex)?);
                    }
                    d.skip_tagged_fields(flex)?;
                }
                Some(v)
            }
        };
        let allow_auto_topic_creation = if version >= 4 { d.bool()? } else { true };
        if (8..=10).contains(&version) {
            d.bool()?;
        }
        if version >= 8 {
            d.bool()?;
        }
        d.skip_tagged_fields(flex)?;
        Ok(MetadataRequest { topics, topic_ids, allow_auto_topic_creation })
    }
}

impl Response for MetadataResponse {
    fn encode(&self, e: &mut Encoder, version: i16) {
        let flex = MetadataRequest::flexible(version);
        if version >= 3 {
            e.i32(self.throttle_time_ms);
        }
        e.array(&self.brokers, flex, |e, b| {
            e.i32(b.node_id);
            e.string(&b.host, flex);
            e.i32(b.port);
            e.nullable_string(b.rack.as_deref(), flex);
            e.tagged_fields(flex);
        });
        if version >= 2 {
            e.nullable_string(self.cluster_id.as_deref(), flex);
        }
        e.i32(self.controller_id);
        e.array(&self.topics, flex, |e, t| {
            e.i16(t.error_code);
            if version >= 12 {
                e.nullable_string(t.name.as_deref(), flex);
            } else {
                e.string(t.name.as_deref().unwrap_or(""), flex);
            }
            if version >= 10 {
                e.uuid(t.topic_id);
            }
            e.bool(t.is_internal);
            e.array(&t.partitions, flex, |e, p| {
                e.i16(p.error_code);
                e.i32(p.partition_index);
                e.i32(p.leader_id);
                if version >= 7 {
                    e.i32(p.leader_epoch);
                }
                e.i32_array(&p.replica_nodes, flex);
                e.i32_array(&p.isr_nodes, flex);
                if version >= 5 {
                    e.i32_array(&p.offline_replicas, flex);
                }
                e.tagged_fields(flex);
            });
            if version >= 8 {
                e.i32(t.topic_authorized_operations);
            }
            e.tagged_fields(flex);
        });
        if (8..=10).contains(&version) {
            e.i32(self.cluster_authorized_operations);
        }
        e.tagged_fields(flex);
    }

    fn decode(d: &mut Decoder<'_>, version: i16) -> DecodeResult<Self> {
        let flex = MetadataRequest::flexible(version);
        let throttle_time_ms = if version >= 3 { d.i32()? } else { 0 };
        let brokers = d.array(flex, 10, |d| {
            let b = MetadataBroker {
                node_id: d.i32()?,
                host: d.string(flex)?,
                port: d.i32()?,
                rack: d.nullable_string(flex)?,
            };
            d.skip_tagged_fields(flex)?;
            Ok(b)
        })?;
        let cluster_id = if version >= 2 { d.nullable_string(flex)? } else { None };
        let controller_id = d.i32()?;
        let topics = d.array(flex, 8, |d| {
            let error_code = d.i16()?;
            let name = if version >= 12 { d.nullable_string(flex)? } else { Some(d.string(flex)?) };
            let topic_id = if version >= 10 { d.uuid()? } else { [0; 16] };
            let is_internal = d.bool()?;
            let partitions = d.array(flex, 14, |d| {
                let p = MetadataPartition {
                    error_code: d.i16()?,
                    partition_index: d.i32()?,
                    leader_id: d.i32()?,
                    leader_epoch: if version >= 7 { d.i32()? } else { -1 },
                    replica_nodes: d.i32_array(flex)?,
                    isr_nodes: d.i32_array(flex)?,
                    offline_replicas: if version >= 5 { d.i32_array(flex)? } else { Vec::new() },
                };
                d.skip_tagged_fields(flex)?;
                Ok(p)
            })?;
            let topic_authorized_operations = if version >= 8 { d.i32()? } else { i32::MIN };
            d.skip_tagged_fields(flex)?;
            Ok(MetadataTopic { error_code, name, topic_id, is_internal, partitions, topic_authorized_operations })
        })?;
        let cluster_authorized_operations = if (8..=10).contains(&version) { d.i32()? } else { i32::MIN };
        d.skip_tagged_fields(flex)?;
        Ok(MetadataResponse {
            throttle_time_ms,
            brokers,
            cluster_id,
            controller_id,
            topics,
            cluster_authorized_operations,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::test_util::*;

    fn sample(version: i16) -> MetadataResponse {
        MetadataResponse {
            throttle_time_ms: if version >= 3 { 5 } else { 0 },
            brokers: vec![MetadataBroker { node_id: 1, host: "127.0.0.1".into(), port: 9092, rack: Some("r1".into()) }],
            cluster_id: if version >= 2 { Some("c".into()) } else { None },
            controller_id: 1,
            topics: vec![MetadataTopic {
                error_code: 0,
                name: Some("t".into()),
                topic_id: if version >= 10 { [7; 16] } else { [0; 16] },
                is_internal: false,
                partitions: vec![MetadataPartition {
                    error_code: 0,
                    partition_index: 0,
                    leader_id: 1,
                    leader_epoch: if version >= 7 { 3 } else { -1 },
                    replica_nodes: vec![1],
                    isr_nodes: vec![1],
                    offline_replicas: if version >= 5 { vec![2] } else { vec![] },
                }],
                topic_authorized_operations: if version >= 8 { 0 } else { i32::MIN },
            }],
            cluster_authorized_operations: if (8..=10).contains(&version) { 0 } else { i32::MIN },
        }
    }

    #[test]
    fn round_trips_every_version_and_rejects_every_truncation() {
        for v in MetadataRequest::MIN_VERSION..=MetadataRequest::MAX_VERSION {
            let bytes = round_trip_response::<MetadataRequest>(&sample(v), v);
            assert_every_prefix_fails::<MetadataRequest>(&bytes, v);
            for topics in [None, Some(vec!["a".to_string(), "b".to_string()]), Some(vec![])] {
                let topic_ids = if v >= 10 && topics.is_some() { vec![[9; 16]] } else { vec![] };
                let req = MetadataRequest { topics, topic_ids, allow_auto_topic_creation: true };
                let bytes = round_trip_request(&req, v);
                assert_every_request_prefix_fails::<MetadataRequest>(&bytes, v);
            }
        }
    }
}
