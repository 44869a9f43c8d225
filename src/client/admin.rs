//! Topic administration: create, delete and list topics (the CLI's `create-topic`,
//! `delete-topic` and `topics`); and the settings of topics, brokers and groups (`configs`).

use super::Client;
use crate::error::{Context, Error, Result};
use crate::protocol::configs::{
    resource_type, AlterConfigsResource, AlterableConfig, DescribeConfigsRequest, DescribeConfigsResource,
    IncrementalAlterConfigsRequest, ResourceResult, OP_DELETE, OP_SET,
};
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
    client.await_partitions(topic, TIMEOUT, false).map(drop)
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

/// What a configuration belongs to, for [`crate::KafkaClient::describe_configs`] and
/// [`crate::KafkaClient::alter_configs`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigResource {
    /// A topic's settings (`retention.ms`, `cleanup.policy`...).
    Topic(String),
    /// A broker's dynamic settings, by broker id.
    Broker(i32),
    /// A group's settings (Kafka 4.0+): a share group's `share.auto.offset.reset`,
    /// `share.record.lock.duration.ms`, a consumer group's `consumer.session.timeout.ms`...
    Group(String),
}

impl ConfigResource {
    fn wire(&self) -> (i8, String) {
        match self {
            ConfigResource::Topic(t) => (resource_type::TOPIC, t.clone()),
            ConfigResource::Broker(id) => (resource_type::BROKER, id.to_string()),
            ConfigResource::Group(g) => (resource_type::GROUP, g.clone()),
        }
    }

    fn context(&self) -> Context {
        match self {
            ConfigResource::Topic(t) => Context::topic(t),
            ConfigResource::Broker(id) => Context::broker(*id),
            ConfigResource::Group(g) => Context::group(g),
        }
    }

    /// The broker to ask: the one described, or any (it forwards changes to the controller).
    fn node(&self, client: &Client) -> Result<i32> {
        match self {
            ConfigResource::Broker(id) => Ok(*id),
            _ => client.any_broker(),
        }
    }
}

/// One setting of a [`ConfigResource`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigEntry {
    /// The name.
    pub name: String,
    /// The value; `None` when sensitive or unset.
    pub value: Option<String>,
    /// Whether the value is the default rather than set on the resource (or the broker).
    pub is_default: bool,
    /// Whether it can't be changed.
    pub read_only: bool,
    /// Whether the value is hidden (passwords).
    pub sensitive: bool,
}

/// Every setting of `resource` (DescribeConfigs), sorted by name.
pub(crate) fn describe_configs(client: &Client, resource: &ConfigResource) -> Result<Vec<ConfigEntry>> {
    let (resource_type, resource_name) = resource.wire();
    let req = DescribeConfigsRequest {
        resources: vec![DescribeConfigsResource { resource_type, resource_name, configuration_keys: None }],
        include_synonyms: false,
        include_documentation: false,
    };
    let node = resource.node(client)?;
    let resp = client.send_to(node, &req)?;
    let r = resp.results.into_iter().next().ok_or_else(|| missing(ApiKey::DescribeConfigs, resource))?;
    check_resource(ApiKey::DescribeConfigs, resource, r.result)?;
    let mut out: Vec<ConfigEntry> = r
        .configs
        .into_iter()
        .map(|c| ConfigEntry {
            // Source 5 is the default; -1 (unknown) is what pre-2.0 brokers send for it too.
            is_default: matches!(c.config_source, 5 | -1),
            name: c.name,
            value: c.value,
            read_only: c.read_only,
            sensitive: c.is_sensitive,
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Sets (`Some`) or deletes (`None`, back to the default) each of `changes` on `resource`,
/// leaving its other settings as they are (IncrementalAlterConfigs): all or none.
pub(crate) fn alter_configs(
    client: &Client,
    resource: &ConfigResource,
    changes: &[(&str, Option<&str>)],
) -> Result<()> {
    let (resource_type, resource_name) = resource.wire();
    let configs = changes
        .iter()
        .map(|(name, value)| AlterableConfig {
            name: name.to_string(),
            config_operation: if value.is_some() { OP_SET } else { OP_DELETE },
            value: value.map(str::to_string),
        })
        .collect();
    let req = IncrementalAlterConfigsRequest {
        resources: vec![AlterConfigsResource { resource_type, resource_name, configs }],
        validate_only: false,
    };
    let node = resource.node(client)?;
    let resp = client.send_waiting(node, &req, TIMEOUT)?;
    let r = resp.responses.into_iter().next().ok_or_else(|| missing(ApiKey::IncrementalAlterConfigs, resource))?;
    check_resource(ApiKey::IncrementalAlterConfigs, resource, r)
}

fn missing(api: ApiKey, resource: &ConfigResource) -> Error {
    Error::broker(
        api,
        ErrorCode::UNKNOWN_SERVER_ERROR,
        resource.context(),
        Some("the answer did not mention the resource".into()),
    )
}

fn check_resource(api: ApiKey, resource: &ConfigResource, r: ResourceResult) -> Result<()> {
    match ErrorCode::from_i16(r.error_code) {
        ErrorCode::NONE => Ok(()),
        code => Err(Error::broker(api, code, resource.context(), r.error_message)),
    }
}
