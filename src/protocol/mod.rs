//! The Kafka wire protocol, sans-io: bytes in, bytes out. No sockets, threads or clocks live
//! here, so every message can be tested on its own and reused by a broker-side implementation.
//!
//! Each API has a request type that implements [`Request`] (naming its response type and the
//! version range plainkafka speaks) and a response type that implements [`Response`]. Both
//! directions encode and decode. Field names follow the message definitions in Apache Kafka's
//! `clients/src/main/resources/common/message/*.json`.

pub mod add_offsets_to_txn;
pub mod add_partitions_to_txn;
pub mod api_versions;
pub mod codec;
pub mod compression;
pub mod configs;
pub mod consumer_group_describe;
pub mod consumer_group_heartbeat;
pub mod consumer_protocol;
pub mod create_topics;
pub mod delete_topics;
pub mod describe_groups;
pub mod end_txn;
pub mod error_code;
pub mod fetch;
pub mod find_coordinator;
pub mod frame;
pub mod heartbeat;
pub mod init_producer_id;
pub mod join_group;
pub mod leave_group;
pub mod list_groups;
pub mod list_offsets;
pub mod metadata;
pub mod offset_commit;
pub mod offset_fetch;
pub mod partition_errors;
pub mod produce;
pub mod records;
pub mod sasl_authenticate;
pub mod sasl_handshake;
pub mod share_acknowledge;
pub mod share_fetch;
pub mod share_group_describe;
pub mod share_group_heartbeat;
pub mod sync_group;
#[cfg(test)]
mod test_util;
pub mod txn_offset_commit;
pub mod versions;

use codec::{DecodeResult, Decoder, Encoder};

/// The API keys plainkafka speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ApiKey {
    /// Produce (0)
    Produce,
    /// Fetch (1)
    Fetch,
    /// ListOffsets (2)
    ListOffsets,
    /// Metadata (3)
    Metadata,
    /// OffsetCommit (8)
    OffsetCommit,
    /// OffsetFetch (9)
    OffsetFetch,
    /// FindCoordinator (10)
    FindCoordinator,
    /// JoinGroup (11)
    JoinGroup,
    /// Heartbeat (12)
    Heartbeat,
    /// LeaveGroup (13)
    LeaveGroup,
    /// SyncGroup (14)
    SyncGroup,
    /// DescribeGroups (15)
    DescribeGroups,
    /// ListGroups (16)
    ListGroups,
    /// SaslHandshake (17)
    SaslHandshake,
    /// ApiVersions (18)
    ApiVersions,
    /// CreateTopics (19)
    CreateTopics,
    /// DeleteTopics (20)
    DeleteTopics,
    /// InitProducerId (22)
    InitProducerId,
    /// AddPartitionsToTxn (24)
    AddPartitionsToTxn,
    /// AddOffsetsToTxn (25)
    AddOffsetsToTxn,
    /// EndTxn (26)
    EndTxn,
    /// TxnOffsetCommit (28)
    TxnOffsetCommit,
    /// DescribeConfigs (32)
    DescribeConfigs,
    /// SaslAuthenticate (36)
    SaslAuthenticate,
    /// IncrementalAlterConfigs (44)
    IncrementalAlterConfigs,
    /// ConsumerGroupHeartbeat (68): the consumer group protocol (KIP-848)
    ConsumerGroupHeartbeat,
    /// ConsumerGroupDescribe (69): a consumer-protocol group from outside
    ConsumerGroupDescribe,
    /// ShareGroupHeartbeat (76): share group membership (KIP-932)
    ShareGroupHeartbeat,
    /// ShareGroupDescribe (77): a share group from outside
    ShareGroupDescribe,
    /// ShareFetch (78): records acquired for a share group member
    ShareFetch,
    /// ShareAcknowledge (79): a share group member's acknowledgements
    ShareAcknowledge,
}

impl ApiKey {
    /// The wire value.
    pub fn code(self) -> i16 {
        match self {
            ApiKey::Produce => 0,
            ApiKey::Fetch => 1,
            ApiKey::ListOffsets => 2,
            ApiKey::Metadata => 3,
            ApiKey::OffsetCommit => 8,
            ApiKey::OffsetFetch => 9,
            ApiKey::FindCoordinator => 10,
            ApiKey::JoinGroup => 11,
            ApiKey::Heartbeat => 12,
            ApiKey::LeaveGroup => 13,
            ApiKey::SyncGroup => 14,
            ApiKey::DescribeGroups => 15,
            ApiKey::ListGroups => 16,
            ApiKey::SaslHandshake => 17,
            ApiKey::ApiVersions => 18,
            ApiKey::CreateTopics => 19,
            ApiKey::DeleteTopics => 20,
            ApiKey::InitProducerId => 22,
            ApiKey::AddPartitionsToTxn => 24,
            ApiKey::AddOffsetsToTxn => 25,
            ApiKey::EndTxn => 26,
            ApiKey::TxnOffsetCommit => 28,
            ApiKey::DescribeConfigs => 32,
            ApiKey::SaslAuthenticate => 36,
            ApiKey::IncrementalAlterConfigs => 44,
            ApiKey::ConsumerGroupHeartbeat => 68,
            ApiKey::ConsumerGroupDescribe => 69,
            ApiKey::ShareGroupHeartbeat => 76,
            ApiKey::ShareGroupDescribe => 77,
            ApiKey::ShareFetch => 78,
            ApiKey::ShareAcknowledge => 79,
        }
    }

    /// The key for a wire value, if plainkafka speaks it.
    pub fn from_code(code: i16) -> Option<ApiKey> {
        Some(match code {
            0 => ApiKey::Produce,
            1 => ApiKey::Fetch,
            2 => ApiKey::ListOffsets,
            3 => ApiKey::Metadata,
            8 => ApiKey::OffsetCommit,
            9 => ApiKey::OffsetFetch,
            10 => ApiKey::FindCoordinator,
            11 => ApiKey::JoinGroup,
            12 => ApiKey::Heartbeat,
            13 => ApiKey::LeaveGroup,
            14 => ApiKey::SyncGroup,
            15 => ApiKey::DescribeGroups,
            16 => ApiKey::ListGroups,
            17 => ApiKey::SaslHandshake,
            18 => ApiKey::ApiVersions,
            19 => ApiKey::CreateTopics,
            20 => ApiKey::DeleteTopics,
            22 => ApiKey::InitProducerId,
            24 => ApiKey::AddPartitionsToTxn,
            25 => ApiKey::AddOffsetsToTxn,
            26 => ApiKey::EndTxn,
            28 => ApiKey::TxnOffsetCommit,
            32 => ApiKey::DescribeConfigs,
            36 => ApiKey::SaslAuthenticate,
            44 => ApiKey::IncrementalAlterConfigs,
            68 => ApiKey::ConsumerGroupHeartbeat,
            69 => ApiKey::ConsumerGroupDescribe,
            76 => ApiKey::ShareGroupHeartbeat,
            77 => ApiKey::ShareGroupDescribe,
            78 => ApiKey::ShareFetch,
            79 => ApiKey::ShareAcknowledge,
            _ => return None,
        })
    }
}

impl std::fmt::Display for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, f)
    }
}

/// A request body. The version range is what plainkafka implements; the floor also respects
/// what Kafka 4 still accepts (see [`versions`]).
pub trait Request: Sized {
    /// The API.
    const KEY: ApiKey;
    /// Lowest version implemented.
    const MIN_VERSION: i16;
    /// Highest version implemented.
    const MAX_VERSION: i16;
    /// First flexible version (KIP-482): compact encodings, tagged fields, header v2.
    const FIRST_FLEXIBLE: i16;
    /// The response this request is answered with.
    type Response: Response;

    /// Appends the body for `version`.
    fn encode(&self, e: &mut Encoder, version: i16);
    /// Reads a body of `version`.
    fn decode(d: &mut Decoder<'_>, version: i16) -> DecodeResult<Self>;

    /// Whether `version` uses the flexible encoding.
    fn flexible(version: i16) -> bool {
        version >= Self::FIRST_FLEXIBLE
    }

    /// The highest version this request may go at: `MAX_VERSION`, unless a newer version would
    /// change what the request means (a transaction of version 1 must not use the versions
    /// that carry KIP-890's version 2).
    fn max_version(&self) -> i16 {
        Self::MAX_VERSION
    }
}

/// A response body.
pub trait Response: Sized {
    /// Appends the body for `version`.
    fn encode(&self, e: &mut Encoder, version: i16);
    /// Reads a body of `version`.
    fn decode(d: &mut Decoder<'_>, version: i16) -> DecodeResult<Self>;
}

/// The version ranges a broker advertises and plainkafka picks from.
pub use versions::{negotiate, VersionRange};

/// Runs `$body` with `$t` bound to the request type of `$key`.
macro_rules! with_request_type {
    ($key:expr, $t:ident => $body:expr) => {
        match $key {
            ApiKey::Produce => {
                type $t = produce::ProduceRequest;
                Some($body)
            }
            ApiKey::InitProducerId => {
                type $t = init_producer_id::InitProducerIdRequest;
                Some($body)
            }
            ApiKey::AddPartitionsToTxn => {
                type $t = add_partitions_to_txn::AddPartitionsToTxnRequest;
                Some($body)
            }
            ApiKey::EndTxn => {
                type $t = end_txn::EndTxnRequest;
                Some($body)
            }
            ApiKey::AddOffsetsToTxn => {
                type $t = add_offsets_to_txn::AddOffsetsToTxnRequest;
                Some($body)
            }
            ApiKey::TxnOffsetCommit => {
                type $t = txn_offset_commit::TxnOffsetCommitRequest;
                Some($body)
            }
            ApiKey::Fetch => {
                type $t = fetch::FetchRequest;
                Some($body)
            }
            ApiKey::ListOffsets => {
                type $t = list_offsets::ListOffsetsRequest;
                Some($body)
            }
            ApiKey::Metadata => {
                type $t = metadata::MetadataRequest;
                Some($body)
            }
            ApiKey::OffsetCommit => {
                type $t = offset_commit::OffsetCommitRequest;
                Some($body)
            }
            ApiKey::OffsetFetch => {
                type $t = offset_fetch::OffsetFetchRequest;
                Some($body)
            }
            ApiKey::FindCoordinator => {
                type $t = find_coordinator::FindCoordinatorRequest;
                Some($body)
            }
            ApiKey::ApiVersions => {
                type $t = api_versions::ApiVersionsRequest;
                Some($body)
            }
            ApiKey::CreateTopics => {
                type $t = create_topics::CreateTopicsRequest;
                Some($body)
            }
            ApiKey::DeleteTopics => {
                type $t = delete_topics::DeleteTopicsRequest;
                Some($body)
            }
            ApiKey::JoinGroup => {
                type $t = join_group::JoinGroupRequest;
                Some($body)
            }
            ApiKey::Heartbeat => {
                type $t = heartbeat::HeartbeatRequest;
                Some($body)
            }
            ApiKey::LeaveGroup => {
                type $t = leave_group::LeaveGroupRequest;
                Some($body)
            }
            ApiKey::SyncGroup => {
                type $t = sync_group::SyncGroupRequest;
                Some($body)
            }
            ApiKey::DescribeGroups => {
                type $t = describe_groups::DescribeGroupsRequest;
                Some($body)
            }
            ApiKey::ListGroups => {
                type $t = list_groups::ListGroupsRequest;
                Some($body)
            }
            ApiKey::SaslHandshake => {
                type $t = sasl_handshake::SaslHandshakeRequest;
                Some($body)
            }
            ApiKey::SaslAuthenticate => {
                type $t = sasl_authenticate::SaslAuthenticateRequest;
                Some($body)
            }
            ApiKey::ConsumerGroupHeartbeat => {
                type $t = consumer_group_heartbeat::ConsumerGroupHeartbeatRequest;
                Some($body)
            }
            ApiKey::ConsumerGroupDescribe => {
                type $t = consumer_group_describe::ConsumerGroupDescribeRequest;
                Some($body)
            }
            ApiKey::ShareGroupHeartbeat => {
                type $t = share_group_heartbeat::ShareGroupHeartbeatRequest;
                Some($body)
            }
            ApiKey::ShareGroupDescribe => {
                type $t = share_group_describe::ShareGroupDescribeRequest;
                Some($body)
            }
            ApiKey::DescribeConfigs => {
                type $t = configs::DescribeConfigsRequest;
                Some($body)
            }
            ApiKey::IncrementalAlterConfigs => {
                type $t = configs::IncrementalAlterConfigsRequest;
                Some($body)
            }
            ApiKey::ShareFetch => {
                type $t = share_fetch::ShareFetchRequest;
                Some($body)
            }
            ApiKey::ShareAcknowledge => {
                type $t = share_acknowledge::ShareAcknowledgeRequest;
                Some($body)
            }
        }
    };
}

/// The version range implemented for `key`, if plainkafka implements the API.
pub fn implemented(key: ApiKey) -> Option<VersionRange> {
    with_request_type!(key, R => VersionRange { min: R::MIN_VERSION, max: R::MAX_VERSION })
}

/// Decodes a response body of any implemented API and version, discarding the result: the
/// entry point for fuzzing and for checking captured bytes. `None` if the API or version isn't
/// implemented. The body is decoded as a connection does, from a shared frame.
pub fn check_response(key: ApiKey, version: i16, body: &[u8]) -> Option<codec::DecodeResult<()>> {
    let range = implemented(key)?;
    if version < range.min || version > range.max {
        return None;
    }
    let frame = std::sync::Arc::new(body.to_vec());
    let mut d = Decoder::new(&frame).sharing(&frame);
    with_request_type!(key, R => <R as Request>::Response::decode(&mut d, version).map(drop))
}

/// Decodes a request frame (after its size prefix: header, body) as a broker reads it and
/// encodes the request again at the same version, for checking captured bytes: a layout error
/// shows as a difference. `None` if the API or version isn't implemented.
pub fn reencode_request(frame: &[u8]) -> Option<codec::DecodeResult<Vec<u8>>> {
    let mut d = Decoder::new(frame);
    let hdr = match frame::RequestHeader::decode(&mut d) {
        Ok(h) => h,
        Err(e) => return Some(Err(e)),
    };
    let key = ApiKey::from_code(hdr.api_key)?;
    let range = implemented(key)?;
    if hdr.api_version < range.min || hdr.api_version > range.max {
        return None;
    }
    let v = hdr.api_version;
    with_request_type!(key, R => (|| {
        d.skip_tagged_fields(R::flexible(v))?;
        let req = R::decode(&mut d, v)?;
        d.finish("request")?;
        let mut out = frame::encode_request(Vec::new(), &req, v, hdr.correlation_id, hdr.client_id.as_deref().unwrap_or(""));
        out.drain(..4);
        Ok(out)
    })())
}

/// Decodes a response frame (after its size prefix) of `key` at `version` as a client reads it
/// and encodes it again, as the MockCluster would: see [`reencode_request`].
pub fn reencode_response(key: ApiKey, version: i16, frame: &[u8]) -> Option<codec::DecodeResult<Vec<u8>>> {
    let range = implemented(key)?;
    if version < range.min || version > range.max {
        return None;
    }
    with_request_type!(key, R => (|| {
        let (corr, mut d) = frame::decode_response_header::<R>(frame, version)?;
        let resp = <R as Request>::Response::decode(&mut d, version)?;
        d.finish("response")?;
        let mut out = frame::encode_response::<R>(&resp, version, corr);
        out.drain(..4);
        Ok(out)
    })())
}

/// Decodes a whole response frame (after its size prefix: correlation id, header, body) of any
/// implemented API and version, as a client reads it. `None` if the API or version isn't
/// implemented.
pub fn check_response_frame(key: ApiKey, version: i16, frame: &[u8]) -> Option<codec::DecodeResult<()>> {
    let range = implemented(key)?;
    if version < range.min || version > range.max {
        return None;
    }
    with_request_type!(key, R => frame::decode_response_header::<R>(frame, version)
        .and_then(|(_, mut d)| <R as Request>::Response::decode(&mut d, version).map(drop)))
}

/// Decodes a request body of any implemented API and version, like [`check_response`].
pub fn check_request(key: ApiKey, version: i16, body: &[u8]) -> Option<codec::DecodeResult<()>> {
    let range = implemented(key)?;
    if version < range.min || version > range.max {
        return None;
    }
    with_request_type!(key, R => R::decode(&mut Decoder::new(body), version).map(drop))
}

/// Every API key plainkafka knows.
pub const ALL_KEYS: [ApiKey; 31] = [
    ApiKey::Produce,
    ApiKey::Fetch,
    ApiKey::ListOffsets,
    ApiKey::Metadata,
    ApiKey::OffsetCommit,
    ApiKey::OffsetFetch,
    ApiKey::FindCoordinator,
    ApiKey::ApiVersions,
    ApiKey::InitProducerId,
    ApiKey::AddPartitionsToTxn,
    ApiKey::AddOffsetsToTxn,
    ApiKey::EndTxn,
    ApiKey::TxnOffsetCommit,
    ApiKey::JoinGroup,
    ApiKey::Heartbeat,
    ApiKey::LeaveGroup,
    ApiKey::SyncGroup,
    ApiKey::DescribeGroups,
    ApiKey::ListGroups,
    ApiKey::CreateTopics,
    ApiKey::DeleteTopics,
    ApiKey::SaslHandshake,
    ApiKey::SaslAuthenticate,
    ApiKey::ConsumerGroupHeartbeat,
    ApiKey::ConsumerGroupDescribe,
    ApiKey::ShareGroupHeartbeat,
    ApiKey::ShareGroupDescribe,
    ApiKey::ShareFetch,
    ApiKey::ShareAcknowledge,
    ApiKey::DescribeConfigs,
    ApiKey::IncrementalAlterConfigs,
];

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic PRNG (xorshift64*), so the test needs no extra crate and every run
    /// checks the same inputs.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
    }

    #[test]
    fn every_decoder_survives_random_and_mutated_input() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for key in ALL_KEYS {
            let Some(range) = implemented(key) else { continue };
            for version in range.min..=range.max {
                for _ in 0..300 {
                    let len = (rng.next() % 96) as usize;
                    let mut body: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
                    // Bias toward small and boundary values, which reach deeper into decoders.
                    for b in body.iter_mut() {
                        match rng.next() % 4 {
                            0 => *b = 0,
                            1 => *b = 0xff,
                            _ => {}
                        }
                    }
                    let _ = check_response(key, version, &body);
                    let _ = check_request(key, version, &body);
                }
            }
        }
        for _ in 0..3000 {
            let len = (rng.next() % 200) as usize;
            let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            let _ = consumer_protocol::Subscription::decode(&bytes);
            let _ = consumer_protocol::Assignment::decode(&bytes);
            let mut out = Vec::new();
            let _ = records::decode(&std::sync::Arc::new(bytes), 0, &mut out);
        }
    }

    #[test]
    fn dispatch_knows_what_is_implemented() {
        assert_eq!(implemented(ApiKey::Fetch), Some(VersionRange { min: 4, max: 17 }));
        assert_eq!(implemented(ApiKey::Produce), Some(VersionRange { min: 3, max: 12 }));
        assert!(check_response(ApiKey::Fetch, 3, &[]).is_none());
        assert!(check_response(ApiKey::Fetch, 4, &[]).expect("implemented").is_err());
    }
}
