//! Version negotiation: the highest version both sides speak.
//!
//! Brokers advertise a range per API (ApiVersions). Kafka 4 removed old versions (KIP-896) but
//! still advertises Produce from v0 and closes the connection on v0–v2 (KAFKA-18659), so the
//! floors we will ever send are kept here, in one table, instead of trusting the advertisement.

use super::ApiKey;

/// An inclusive range of versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionRange {
    /// Lowest version.
    pub min: i16,
    /// Highest version.
    pub max: i16,
}

impl std::fmt::Display for VersionRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "v{}–v{}", self.min, self.max)
    }
}

/// The lowest version plainkafka sends for an API regardless of what a broker advertises:
/// KIP-896's floors for Kafka 4, which every broker since 0.11 also accepts.
pub fn floor(key: ApiKey) -> i16 {
    match key {
        ApiKey::Produce => 3,
        ApiKey::Fetch => 4,
        ApiKey::ListOffsets => 1,
        ApiKey::Metadata => 0,
        ApiKey::OffsetCommit => 2,
        ApiKey::OffsetFetch => 1,
        ApiKey::FindCoordinator => 0,
        ApiKey::ApiVersions => 0,
        ApiKey::InitProducerId
        | ApiKey::AddPartitionsToTxn
        | ApiKey::AddOffsetsToTxn
        | ApiKey::EndTxn
        | ApiKey::TxnOffsetCommit => 0,
        ApiKey::JoinGroup
        | ApiKey::Heartbeat
        | ApiKey::LeaveGroup
        | ApiKey::SyncGroup
        | ApiKey::DescribeGroups
        | ApiKey::ListGroups => 0,
        ApiKey::CreateTopics => 2,
        ApiKey::DeleteTopics => 1,
        ApiKey::SaslHandshake => 1,
        ApiKey::SaslAuthenticate => 0,
        ApiKey::ConsumerGroupHeartbeat | ApiKey::ConsumerGroupDescribe => 0,
        // v0 was early access (Kafka 4.0), removed in 4.1.
        ApiKey::ShareGroupHeartbeat | ApiKey::ShareGroupDescribe | ApiKey::ShareFetch | ApiKey::ShareAcknowledge => 1,
        ApiKey::DescribeConfigs => 1,
        ApiKey::IncrementalAlterConfigs => 0,
    }
}

/// The version to use: the highest in both `ours` (raised to the KIP-896 floor) and `broker`,
/// or `None` when they don't overlap.
pub fn negotiate(key: ApiKey, ours: VersionRange, broker: VersionRange) -> Option<i16> {
    let lo = ours.min.max(floor(key)).max(broker.min);
    let hi = ours.max.min(broker.max);
    (lo <= hi).then_some(hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(min: i16, max: i16) -> VersionRange {
        VersionRange { min, max }
    }

    #[test]
    fn picks_the_highest_common_version() {
        assert_eq!(negotiate(ApiKey::Fetch, r(4, 12), r(0, 16)), Some(12));
        assert_eq!(negotiate(ApiKey::Fetch, r(4, 12), r(0, 5)), Some(5));
        assert_eq!(negotiate(ApiKey::Fetch, r(4, 12), r(0, 3)), None);
        assert_eq!(negotiate(ApiKey::Fetch, r(4, 12), r(13, 18)), None);
    }

    #[test]
    fn kafka4_produce_advertisement_is_not_trusted_below_v3() {
        // Kafka 4 advertises Produce 0–13 but closes the connection on v0–v2.
        assert_eq!(negotiate(ApiKey::Produce, r(0, 2), r(0, 13)), None);
        assert_eq!(negotiate(ApiKey::Produce, r(0, 9), r(0, 13)), Some(9));
    }
}
