//! The Kafka wire protocol, sans-io: bytes in, bytes out. No sockets, threads or clocks live
//! here, so every message can be tested on its own and reused by a broker-side implementation.
//!
//! Each API has a request type that implements [`Request`] (naming its response type and the
//! version range plainkafka speaks) and a response type that implements [`Response`]. Both
//! directions encode and decode. Field names follow the message definitions in Apache Kafka's
//! `clients/src/main/resources/common/message/*.json`.

pub mod api_versions;
pub mod codec;
pub mod error_code;
pub mod fetch;
pub mod find_coordinator;
pub mod frame;
pub mod list_offsets;
pub mod metadata;
pub mod offset_commit;
pub mod offset_fetch;
pub mod records;
#[cfg(test)]
mod test_util;
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
    /// ApiVersions (18)
    ApiVersions,
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
            ApiKey::ApiVersions => 18,
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
            18 => ApiKey::ApiVersions,
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
