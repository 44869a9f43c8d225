//! What a group member does about each error its coordinator returns: a pure table, so the
//! join, sync, heartbeat and commit paths agree and the table can be tested on its own.

use crate::error::{Error, Retry};
use crate::protocol::error_code::ErrorCode;
use crate::protocol::ApiKey;

/// The member's next step after an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// Join again at once with the member id the coordinator just gave (MEMBER_ID_REQUIRED).
    RetryNow,
    /// The coordinator forgot this member: join again under a fresh id.
    RejoinAsNew,
    /// A rebalance happened or is happening: join again under the same id.
    Rejoin,
    /// The coordinator moved or the connection failed: look it up again, after a pause.
    FindCoordinator,
    /// Transient: try again after a pause.
    Backoff,
    /// Nothing the member can do: the application sees the error.
    Fatal,
}

/// The step for a broker error code.
pub(crate) fn for_code(code: ErrorCode) -> Action {
    match code {
        ErrorCode::MEMBER_ID_REQUIRED => Action::RetryNow,
        // Under the consumer protocol, a fenced member joins again (epoch 0, same id), its
        // partitions lost; a commit from an epoch just replaced is retried with the new one.
        ErrorCode::UNKNOWN_MEMBER_ID | ErrorCode::FENCED_MEMBER_EPOCH => Action::RejoinAsNew,
        ErrorCode::STALE_MEMBER_EPOCH => Action::Backoff,
        // A static member whose previous instance the coordinator still holds: it goes soon.
        ErrorCode::UNRELEASED_INSTANCE_ID => Action::Backoff,
        ErrorCode::ILLEGAL_GENERATION | ErrorCode::REBALANCE_IN_PROGRESS => Action::Rejoin,
        ErrorCode::NOT_COORDINATOR | ErrorCode::COORDINATOR_NOT_AVAILABLE => Action::FindCoordinator,
        // FENCED_INSTANCE_ID means another process runs with this group_instance_id: rejoining
        // would fence it in turn, back and forth, so the Java client stops, and so do we.
        ErrorCode::FENCED_INSTANCE_ID => Action::Fatal,
        c if c.is_retriable() => Action::Backoff,
        _ => Action::Fatal,
    }
}

/// The step for any error from a group request.
pub(crate) fn for_error(e: &Error) -> Action {
    match e {
        // Kafka's coordinators (3.9 and 4.x, classic groups) never answer SyncGroup with
        // INVALID_REQUEST. librdkafka's mock does, to a follower whose SyncGroup arrives after
        // the leader's (Kafka answers it with the assignment), and librdkafka's own consumer
        // rejoins on any SyncGroup error but fencing. So it is a retry like any other: backed
        // off and counted against rebalance_max_retries, so a broker that always sends it
        // can't keep a member rejoining at once, and a finite limit hands it to the application.
        Error::Broker { api: ApiKey::SyncGroup, code: ErrorCode::INVALID_REQUEST, .. } => Action::Backoff,
        Error::Broker { code, .. } => for_code(*code),
        other => match other.retry() {
            Retry::Never => Action::Fatal,
            Retry::Backoff => Action::Backoff,
            Retry::Reconnect | Retry::RefreshMetadata => Action::FindCoordinator,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_group_error_has_its_step() {
        let table = [
            (ErrorCode::MEMBER_ID_REQUIRED, Action::RetryNow),
            (ErrorCode::UNKNOWN_MEMBER_ID, Action::RejoinAsNew),
            (ErrorCode::FENCED_MEMBER_EPOCH, Action::RejoinAsNew),
            (ErrorCode::STALE_MEMBER_EPOCH, Action::Backoff),
            (ErrorCode::UNRELEASED_INSTANCE_ID, Action::Backoff),
            (ErrorCode::UNSUPPORTED_ASSIGNOR, Action::Fatal),
            (ErrorCode::ILLEGAL_GENERATION, Action::Rejoin),
            (ErrorCode::REBALANCE_IN_PROGRESS, Action::Rejoin),
            (ErrorCode::NOT_COORDINATOR, Action::FindCoordinator),
            (ErrorCode::COORDINATOR_NOT_AVAILABLE, Action::FindCoordinator),
            (ErrorCode::COORDINATOR_LOAD_IN_PROGRESS, Action::Backoff),
            (ErrorCode::FENCED_INSTANCE_ID, Action::Fatal),
            (ErrorCode::INCONSISTENT_GROUP_PROTOCOL, Action::Fatal),
            (ErrorCode::INVALID_SESSION_TIMEOUT, Action::Fatal),
            (ErrorCode::GROUP_AUTHORIZATION_FAILED, Action::Fatal),
        ];
        for (code, action) in table {
            assert_eq!(for_code(code), action, "{code}");
        }
        let io = Error::io("b", None, std::io::ErrorKind::ConnectionReset.into());
        assert_eq!(for_error(&io), Action::FindCoordinator);
        assert_eq!(for_error(&Error::Config("x".into())), Action::Fatal);
        let broker = |api, code| Error::broker(api, code, crate::error::Context::group("g"), None);
        assert_eq!(for_error(&broker(ApiKey::SyncGroup, ErrorCode::INVALID_REQUEST)), Action::Backoff);
        assert_eq!(for_error(&broker(ApiKey::JoinGroup, ErrorCode::INVALID_REQUEST)), Action::Fatal);
    }
}
