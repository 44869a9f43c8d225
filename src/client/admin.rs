//! Topic administration: create, delete and list topics (the CLI's `create-topic`,
//! `delete-topic` and `topics`).

use super::Client;
use crate::error::{Context, Error, Result};
use crate::protocol::create_topics::{CreatableTopic, CreateTopicsRequest};
use crate::protocol::delete_topics::DeleteTopicsRequest;
use crate::protocol::error_code::ErrorCode;
use crate::protocol::ApiKey;
use std::time::Duration;

/// How long the broker may take to create or delete a topic.
const TIMEOUT: Duration = Duration::from_secs(30);

/// Creates `topic` with `partitions` and `replication_factor` (-1 for the broker's defaults),
/// and waits until its partitions have leaders.
pub(crate) fn create_topic(client: &Client, topic: &str, partitions: i32, replication_factor: i16) -> Result<()> {
    let req = CreateTopicsRequest {
        topics: vec![CreatableTopic {
            name: topic.to_string(),
            num_partitions: partitions,
            replication_factor,
            assignments: Vec::new(),
            configs: Vec::new(),
        }],
        timeout_ms: TIMEOUT.as_millis() as i32,
        validate_only: false,
    };
    let resp = client.send_waiting(client.any_broker()?, &req, TIMEOUT)?;
    let r = resp.topics.into_iter().find(|t| t.name == topic).ok_or_else(|| {
        Error::broker(
            ApiKey::CreateTopics,
            ErrorCode::UNKNOWN_SERVER_ERROR,
            Context::topic(topic),
            Some("the answer did not mention the topic".into()),
        )
    })?;
    let code = ErrorCode::from_i16(r.error_code);
    if !code.is_ok() {
        return Err(Error::broker(ApiKey::CreateTopics, code, Context::topic(topic), r.error_message));
    }
    client.partitions(topic, TIMEOUT).map(drop)
}

/// Deletes `topic`.
pub(crate) fn delete_topic(client: &Client, topic: &str) -> Result<()> {
    let req = DeleteTopicsRequest { names: vec![topic.to_string()], timeout_ms: TIMEOUT.as_millis() as i32 };
    let resp = client.send_waiting(client.any_broker()?, &req, TIMEOUT)?;
    for r in resp.responses {
        let code = ErrorCode::from_i16(r.error_code);
        if r.name == topic && !code.is_ok() {
            return Err(Error::broker(ApiKey::DeleteTopics, code, Context::topic(topic), r.error_message));
        }
    }
    Ok(())
}
