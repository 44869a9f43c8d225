//! Kafka's error codes (the protocol guide's table), with the retriable flag the Java client
//! assigns to each. Codes this table doesn't know are kept as [`ErrorCode::Unknown`] so that
//! nothing a newer broker says is lost.

macro_rules! error_codes {
    ($( $name:ident = $code:literal, $retriable:literal, $text:literal; )*) => {
        /// A Kafka error code. Variants carry the protocol guide's names so they can be
        /// searched for in Kafka's documentation and logs.
        #[allow(non_camel_case_types)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ErrorCode {
            $(
                #[doc = $text]
                $name,
            )*
            /// A code this version of plainkafka does not know.
            Unknown(i16),
        }

        impl ErrorCode {
            /// The code for a wire value; 0 is `None` (no error).
            pub fn from_i16(code: i16) -> ErrorCode {
                match code {
                    $( $code => ErrorCode::$name, )*
                    other => ErrorCode::Unknown(other),
                }
            }

            /// The wire value.
            pub fn code(self) -> i16 {
                match self {
                    $( ErrorCode::$name => $code, )*
                    ErrorCode::Unknown(c) => c,
                }
            }

            /// Whether the Java client treats the error as transient: the same request may
            /// succeed later (perhaps after a metadata refresh).
            pub fn is_retriable(self) -> bool {
                match self {
                    $( ErrorCode::$name => $retriable, )*
                    ErrorCode::Unknown(_) => false,
                }
            }

            /// The protocol guide's name, such as `OFFSET_OUT_OF_RANGE`.
            pub fn name(self) -> &'static str {
                match self {
                    $( ErrorCode::$name => stringify!($name), )*
                    ErrorCode::Unknown(_) => "UNKNOWN",
                }
            }

            /// A one-line description.
            pub fn description(self) -> &'static str {
                match self {
                    $( ErrorCode::$name => $text, )*
                    ErrorCode::Unknown(_) => "an error code this client does not know",
                }
            }
        }

        #[cfg(test)]
        const ALL_CODES: &[i16] = &[$($code),*];
    };
}

error_codes! {
    UNKNOWN_SERVER_ERROR = -1, false, "The server experienced an unexpected error.";
    NONE = 0, false, "No error.";
    OFFSET_OUT_OF_RANGE = 1, false, "The requested offset is outside the range the server holds for the partition.";
    CORRUPT_MESSAGE = 2, true, "A message failed its CRC check, had an invalid size, or is otherwise corrupt.";
    UNKNOWN_TOPIC_OR_PARTITION = 3, true, "This server does not host this topic-partition.";
    INVALID_FETCH_SIZE = 4, false, "The requested fetch size is invalid.";
    LEADER_NOT_AVAILABLE = 5, true, "There is no leader for this topic-partition: a leader election is in progress.";
    NOT_LEADER_OR_FOLLOWER = 6, true, "This server is not the leader or a follower for that topic-partition.";
    REQUEST_TIMED_OUT = 7, true, "The request timed out.";
    BROKER_NOT_AVAILABLE = 8, false, "The broker is not available.";
    REPLICA_NOT_AVAILABLE = 9, true, "The replica is not available for the requested topic-partition.";
    MESSAGE_TOO_LARGE = 10, false, "The request included a message larger than the server will accept.";
    STALE_CONTROLLER_EPOCH = 11, false, "The controller moved to another broker.";
    OFFSET_METADATA_TOO_LARGE = 12, false, "The metadata field of the offset request was too large.";
    NETWORK_EXCEPTION = 13, true, "The server disconnected before a response was received.";
    COORDINATOR_LOAD_IN_PROGRESS = 14, true, "The coordinator is loading and cannot process requests yet.";
    COORDINATOR_NOT_AVAILABLE = 15, true, "The coordinator is not available.";
    NOT_COORDINATOR = 16, true, "This is not the correct coordinator.";
    INVALID_TOPIC_EXCEPTION = 17, false, "The request attempted an operation on an invalid topic.";
    RECORD_LIST_TOO_LARGE = 18, false, "The request batch is larger than the maximum segment size.";
    NOT_ENOUGH_REPLICAS = 19, true, "Fewer in-sync replicas than required.";
    NOT_ENOUGH_REPLICAS_AFTER_APPEND = 20, true, "Written with fewer in-sync replicas than required.";
    INVALID_REQUIRED_ACKS = 21, false, "The required acks value is invalid.";
    ILLEGAL_GENERATION = 22, false, "The group generation id is not valid.";
    INCONSISTENT_GROUP_PROTOCOL = 23, false, "The member's protocol type or protocols are not compatible with the group.";
    INVALID_GROUP_ID = 24, false, "The group id is invalid.";
    UNKNOWN_MEMBER_ID = 25, false, "The coordinator does not know this member id.";
    INVALID_SESSION_TIMEOUT = 26, false, "The session timeout is outside the broker's allowed range.";
    REBALANCE_IN_PROGRESS = 27, false, "The group is rebalancing, so a rejoin is needed.";
    INVALID_COMMIT_OFFSET_SIZE = 28, false, "The committing offset data size is not valid.";
    TOPIC_AUTHORIZATION_FAILED = 29, false, "Topic authorization failed.";
    GROUP_AUTHORIZATION_FAILED = 30, false, "Group authorization failed.";
    CLUSTER_AUTHORIZATION_FAILED = 31, false, "Cluster authorization failed.";
    INVALID_TIMESTAMP = 32, false, "The timestamp of the message is out of the acceptable range.";
    UNSUPPORTED_SASL_MECHANISM = 33, false, "The broker does not support the requested SASL mechanism.";
    ILLEGAL_SASL_STATE = 34, false, "The request is not valid given the current SASL state.";
    UNSUPPORTED_VERSION = 35, false, "The version of the API is not supported.";
    TOPIC_ALREADY_EXISTS = 36, false, "The topic already exists.";
    INVALID_PARTITIONS = 37, false, "The number of partitions is invalid.";
    INVALID_REPLICATION_FACTOR = 38, false, "The replication factor is invalid.";
    INVALID_REPLICA_ASSIGNMENT = 39, false, "The replica assignment is invalid.";
    INVALID_CONFIG = 40, false, "The configuration is invalid.";
    NOT_CONTROLLER = 41, true, "This is not the correct controller for this cluster.";
    INVALID_REQUEST = 42, false, "The request is malformed or otherwise invalid; see the broker log.";
    UNSUPPORTED_FOR_MESSAGE_FORMAT = 43, false, "The message format version on the broker does not support the request.";
    POLICY_VIOLATION = 44, false, "The request parameters do not satisfy the configured policy.";
    OUT_OF_ORDER_SEQUENCE_NUMBER = 45, false, "The broker received an out of order sequence number.";
    DUPLICATE_SEQUENCE_NUMBER = 46, false, "The broker received a duplicate sequence number.";
    INVALID_PRODUCER_EPOCH = 47, false, "The producer attempted to produce with an old epoch.";
    INVALID_TXN_STATE = 48, false, "The producer attempted a transactional operation in an invalid state.";
    INVALID_PRODUCER_ID_MAPPING = 49, false, "The producer id does not match the transactional id.";
    INVALID_TRANSACTION_TIMEOUT = 50, false, "The transaction timeout is larger than the broker allows.";
    CONCURRENT_TRANSACTIONS = 51, true, "Another transaction for this producer is still completing.";
    TRANSACTION_COORDINATOR_FENCED = 52, false, "The transaction coordinator has been fenced.";
    TRANSACTIONAL_ID_AUTHORIZATION_FAILED = 53, false, "Transactional id authorization failed.";
    SECURITY_DISABLED = 54, false, "Security features are disabled.";
    OPERATION_NOT_ATTEMPTED = 55, false, "The broker did not attempt this operation.";
    KAFKA_STORAGE_ERROR = 56, true, "Disk error when trying to access the log file.";
    LOG_DIR_NOT_FOUND = 57, false, "The user-specified log directory is not found.";
    SASL_AUTHENTICATION_FAILED = 58, false, "SASL authentication failed.";
    UNKNOWN_PRODUCER_ID = 59, false, "The broker could not locate the producer metadata.";
    REASSIGNMENT_IN_PROGRESS = 60, false, "A partition reassignment is in progress.";
    DELEGATION_TOKEN_AUTH_DISABLED = 61, false, "Delegation token feature is not enabled.";
    DELEGATION_TOKEN_NOT_FOUND = 62, false, "Delegation token is not found on the server.";
    DELEGATION_TOKEN_OWNER_MISMATCH = 63, false, "The principal does not match the delegation token's owner.";
    DELEGATION_TOKEN_REQUEST_NOT_ALLOWED = 64, false, "Delegation token requests are not allowed on this connection.";
    DELEGATION_TOKEN_AUTHORIZATION_FAILED = 65, false, "Delegation token authorization failed.";
    DELEGATION_TOKEN_EXPIRED = 66, false, "Delegation token is expired.";
    INVALID_PRINCIPAL_TYPE = 67, false, "The supplied principal type is not supported.";
    NON_EMPTY_GROUP = 68, false, "The group is not empty.";
    GROUP_ID_NOT_FOUND = 69, false, "The group id does not exist.";
    FETCH_SESSION_ID_NOT_FOUND = 70, true, "The fetch session id was not found.";
    INVALID_FETCH_SESSION_EPOCH = 71, true, "The fetch session epoch is invalid.";
    LISTENER_NOT_FOUND = 72, true, "No matching listener on the leader for the request's listener.";
    TOPIC_DELETION_DISABLED = 73, false, "Topic deletion is disabled.";
    FENCED_LEADER_EPOCH = 74, true, "The leader epoch in the request is older than the broker's.";
    UNKNOWN_LEADER_EPOCH = 75, true, "The leader epoch in the request is newer than the broker's.";
    UNSUPPORTED_COMPRESSION_TYPE = 76, false, "The requesting client does not support the compression type of the data.";
    STALE_BROKER_EPOCH = 77, false, "The broker epoch has changed.";
    OFFSET_NOT_AVAILABLE = 78, true, "The leader high watermark has not caught up after an election.";
    MEMBER_ID_REQUIRED = 79, false, "The group member must rejoin with the member id the coordinator returned.";
    PREFERRED_LEADER_NOT_AVAILABLE = 80, true, "The preferred leader was not available.";
    GROUP_MAX_SIZE_REACHED = 81, false, "The group has reached its maximum size.";
    FENCED_INSTANCE_ID = 82, false, "Another member with the same group.instance.id fenced this one.";
    ELIGIBLE_LEADERS_NOT_AVAILABLE = 83, true, "Eligible topic partition leaders are not available.";
    ELECTION_NOT_NEEDED = 84, true, "Leader election not needed for the topic partition.";
    NO_REASSIGNMENT_IN_PROGRESS = 85, false, "No partition reassignment is in progress.";
    GROUP_SUBSCRIBED_TO_TOPIC = 86, false, "The group is subscribed to the topic, so its offsets cannot be deleted.";
    INVALID_RECORD = 87, false, "The record failed the broker's validation.";
    UNSTABLE_OFFSET_COMMIT = 88, true, "There are unstable offsets that need to be cleared.";
    THROTTLING_QUOTA_EXCEEDED = 89, true, "The throttling quota has been exceeded.";
    PRODUCER_FENCED = 90, false, "A newer producer with the same transactional id fenced this one.";
    RESOURCE_NOT_FOUND = 91, false, "A request illegally referred to a resource that does not exist.";
    DUPLICATE_RESOURCE = 92, false, "A request illegally referred to the same resource twice.";
    UNACCEPTABLE_CREDENTIAL = 93, false, "The requested credential would not meet the criteria for acceptability.";
    INCONSISTENT_VOTER_SET = 94, false, "The voter set of the request does not match the receiver's.";
    INVALID_UPDATE_VERSION = 95, false, "The given update version was invalid.";
    FEATURE_UPDATE_FAILED = 96, false, "Unable to update finalized features due to an unexpected server error.";
    PRINCIPAL_DESERIALIZATION_FAILURE = 97, false, "The forwarded principal could not be deserialized.";
    SNAPSHOT_NOT_FOUND = 98, false, "The requested snapshot was not found.";
    POSITION_OUT_OF_RANGE = 99, false, "The requested position is not greater than or equal to zero and less than the snapshot size.";
    UNKNOWN_TOPIC_ID = 100, true, "This server does not host this topic id.";
    DUPLICATE_BROKER_REGISTRATION = 101, false, "This broker id is already in use.";
    BROKER_ID_NOT_REGISTERED = 102, false, "The given broker id was not registered.";
    INCONSISTENT_TOPIC_ID = 103, true, "The log's topic id does not match the topic id in the request.";
    INCONSISTENT_CLUSTER_ID = 104, false, "The cluster id in the request does not match the receiver's.";
    TRANSACTIONAL_ID_NOT_FOUND = 105, false, "The transactional id could not be found.";
    FETCH_SESSION_TOPIC_ID_ERROR = 106, true, "The fetch session saw an inconsistent topic id use.";
    INELIGIBLE_REPLICA = 107, false, "The new ISR contains at least one ineligible replica.";
    NEW_LEADER_ELECTED = 108, false, "The AlterPartition request was rejected because a new leader was elected.";
    OFFSET_MOVED_TO_TIERED_STORAGE = 109, false, "The requested offset was moved to tiered storage.";
    FENCED_MEMBER_EPOCH = 110, false, "The member epoch is fenced by the group coordinator.";
    UNRELEASED_INSTANCE_ID = 111, false, "The instance id is still used by another member.";
    UNSUPPORTED_ASSIGNOR = 112, false, "The assignor or its version range is not supported by the group.";
    STALE_MEMBER_EPOCH = 113, false, "The member epoch is stale.";
    MISMATCHED_ENDPOINT_TYPE = 114, false, "The request was sent to an endpoint of the wrong type.";
    UNSUPPORTED_ENDPOINT_TYPE = 115, false, "This endpoint type is not supported yet.";
    UNKNOWN_CONTROLLER_ID = 116, false, "This controller id is not known.";
    UNKNOWN_SUBSCRIPTION_ID = 117, false, "The client sent a telemetry request with an unknown subscription id.";
    TELEMETRY_TOO_LARGE = 118, false, "The client's telemetry payload is too large.";
    INVALID_REGISTRATION = 119, false, "The controller considered the broker registration invalid.";
    TRANSACTION_ABORTABLE = 120, false, "The server hit an error the transactional producer can abort from.";
    INVALID_RECORD_STATE = 121, false, "The record state is invalid for this acknowledgement.";
    SHARE_SESSION_NOT_FOUND = 122, true, "The share session was not found.";
    INVALID_SHARE_SESSION_EPOCH = 123, true, "The share session epoch is invalid.";
    FENCED_STATE_EPOCH = 124, false, "The share coordinator rejected the request because the share-group state epoch did not match.";
    INVALID_VOTER_KEY = 125, false, "The voter key does not match the receiving replica's key.";
    DUPLICATE_VOTER = 126, false, "The voter is already part of the set of voters.";
    VOTER_NOT_FOUND = 127, false, "The voter is not part of the set of voters.";
    INVALID_REGULAR_EXPRESSION = 128, false, "The regular expression is not valid.";
    REBOOTSTRAP_REQUIRED = 129, false, "The client must repeat its bootstrap.";
    STREAMS_INVALID_TOPOLOGY = 130, false, "The supplied streams topology is invalid.";
    STREAMS_INVALID_TOPOLOGY_EPOCH = 131, false, "The supplied streams topology epoch is invalid.";
    STREAMS_TOPOLOGY_FENCED = 132, false, "The supplied streams topology epoch is outdated.";
    SHARE_SESSION_LIMIT_REACHED = 133, true, "The broker's share-session cache is full.";
}

impl ErrorCode {
    /// True for code 0.
    pub fn is_ok(self) -> bool {
        self == ErrorCode::NONE
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.name(), self.code(), self.description())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips() {
        for &c in ALL_CODES {
            let e = ErrorCode::from_i16(c);
            assert!(!matches!(e, ErrorCode::Unknown(_)), "{c}");
            assert_eq!(e.code(), c);
        }
        assert_eq!(ALL_CODES.len(), 135, "codes -1..=133");
    }

    #[test]
    fn unknown_codes_are_kept() {
        let e = ErrorCode::from_i16(999);
        assert_eq!(e, ErrorCode::Unknown(999));
        assert_eq!(e.code(), 999);
        assert!(!e.is_retriable());
    }

    #[test]
    fn retriable_flags_follow_the_java_client() {
        assert!(ErrorCode::NOT_LEADER_OR_FOLLOWER.is_retriable());
        assert!(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS.is_retriable());
        assert!(!ErrorCode::OFFSET_OUT_OF_RANGE.is_retriable());
        assert!(!ErrorCode::TOPIC_AUTHORIZATION_FAILED.is_retriable());
    }
}
