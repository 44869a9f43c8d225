//! Configuration of brokers, topics and groups: DescribeConfigs (key 32), v1–v4, reads it;
//! IncrementalAlterConfigs (key 44), v0–v1, sets or deletes single entries (KIP-339), leaving
//! the rest as it is. Group resources (type 32, KIP-848/KIP-932) carry a group's own settings,
//! such as a share group's `share.auto.offset.reset`.

use super::codec::{DecodeResult, Decoder, Encoder};
use super::{ApiKey, Request, Response};

/// What a configuration belongs to (`resource_type`).
pub mod resource_type {
    /// A topic.
    pub const TOPIC: i8 = 2;
    /// A broker (its id as the name; empty for the cluster-wide default).
    pub const BROKER: i8 = 4;
    /// A group (Kafka 4.0+).
    pub const GROUP: i8 = 32;
}

/// IncrementalAlterConfigs operation: set the value.
pub const OP_SET: i8 = 0;
/// IncrementalAlterConfigs operation: delete the entry (back to its default).
pub const OP_DELETE: i8 = 1;

/// One entry to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlterableConfig {
    /// The name.
    pub name: String,
    /// [`OP_SET`], [`OP_DELETE`] (2 append and 3 subtract, for lists, are not used).
    pub config_operation: i8,
    /// The value to set.
    pub value: Option<String>,
}

/// The changes to one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlterConfigsResource {
    /// See [`resource_type`].
    pub resource_type: i8,
    /// Its name.
    pub resource_name: String,
    /// The changes.
    pub configs: Vec<AlterableConfig>,
}

/// IncrementalAlterConfigs request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncrementalAlterConfigsRequest {
    /// The resources.
    pub resources: Vec<AlterConfigsResource>,
    /// Only check, change nothing.
    pub validate_only: bool,
}

/// The outcome for one resource, in either answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceResult {
    /// Error.
    pub error_code: i16,
    /// Its explanation.
    pub error_message: Option<String>,
    /// See [`resource_type`].
    pub resource_type: i8,
    /// Its name.
    pub resource_name: String,
}

/// IncrementalAlterConfigs response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncrementalAlterConfigsResponse {
    /// Throttle time.
    pub throttle_time_ms: i32,
    /// Per resource.
    pub responses: Vec<ResourceResult>,
}

fn encode_result(e: &mut Encoder, r: &ResourceResult, flex: bool) {
    e.i16(r.error_code);
    e.nullable_string(r.error_message.as_deref(), flex);
    e.i8(r.resource_type);
    e.string(&r.resource_name, flex);
}

fn decode_result(d: &mut Decoder<'_>, flex: bool) -> DecodeResult<ResourceResult> {
    Ok(ResourceResult {
        error_code: d.i16()?,
        error_message: d.nullable_string(flex)?,
        resource_type: d.i8()?,
        resource_name: d.string(flex)?,
    })
}

impl Request for IncrementalAlterConfigsRequest {
    const KEY: ApiKey = ApiKey::IncrementalAlterConfigs;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 1;
    const FIRST_FLEXIBLE: i16 = 1;
    type Response = IncrementalAlterConfigsResponse;

    fn encode(&self, e: &mut Encoder, version: i16) {
        let flex = Self::flexible(version);
        e.array(&self.resources, flex, |e, r| {
            e.i8(r.resource_type);
            e.string(&r.resource_name, flex);
            e.array(&r.configs, flex, |e, c| {
                e.string(&c.name, flex);
                e.i8(c.config_operation);
                e.nullable_string(c.value.as_deref(), flex);
                e.tagged_fields(flex);
            });
            e.tagged_fields(flex);
        });
        e.bool(self.validate_only);
        e.tagged_fields(flex);
    }

    fn decode(d: &mut Decoder<'_>, version: i16) -> DecodeResult<Self> {
        let flex = Self::flexible(version);
        let resources = d.array(flex, 3, |d| {
            let resource_type = d.i8()?;
            let resource_name = d.string(flex)?;
            let configs = d.array(flex, 3, |d| {
                let c = AlterableConfig {
                    name: d.string(flex)?,
                    config_operation: d.i8()?,
                    value: d.nullable_string(flex)?,
                };
                d.skip_tagged_fields(flex)?;
                Ok(c)
            })?;
            d.skip_tagged_fields(flex)?;
            Ok(AlterConfigsResource { resource_type, resource_name, configs })
        })?;
        let validate_only = d.bool()?;
        d.skip_tagged_fields(flex)?;
        Ok(IncrementalAlterConfigsRequest { resources, validate_only })
    }
}

impl Response for IncrementalAlterConfigsResponse {
    fn encode(&self, e: &mut Encoder, version: i16) {
        let flex = IncrementalAlterConfigsRequest::flexible(version);
        e.i32(self.throttle_time_ms);
        e.array(&self.responses, flex, |e, r| {
            encode_result(e, r, flex);
            e.tagged_fields(flex);
        });
        e.tagged_fields(flex);
    }

    fn decode(d: &mut Decoder<'_>, version: i16) -> DecodeResult<Self> {
        let flex = IncrementalAlterConfigsRequest::flexible(version);
        let throttle_time_ms = d.i32()?;
        let responses = d.array(flex, 6, |d| {
            let r = decode_result(d, flex)?;
            d.skip_tagged_fields(flex)?;
            Ok(r)
        })?;
        d.skip_tagged_fields(flex)?;
        Ok(IncrementalAlterConfigsResponse { throttle_time_ms, responses })
    }
}

/// One resource to describe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribeConfigsResource {
    /// See [`resource_type`].
    pub resource_type: i8,
    /// Its name.
    pub resource_name: String,
    /// The entries wanted; `None` for all.
    pub configuration_keys: Option<Vec<String>>,
}

/// DescribeConfigs request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribeConfigsRequest {
    /// The resources.
    pub resources: Vec<DescribeConfigsResource>,
    /// Whether to list where each value could come from.
    pub include_synonyms: bool,
    /// v3+: whether to include each entry's documentation.
    pub include_documentation: bool,
}

/// One entry of a described resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribedConfig {
    /// The name.
    pub name: String,
    /// The value (`None` when sensitive or unset).
    pub value: Option<String>,
    /// Whether it can't be changed.
    pub read_only: bool,
    /// Where the value comes from: 1 topic or group, 2 dynamic broker, 3 dynamic default
    /// broker, 4 static broker, 5 default, 6 dynamic broker logger, 8 group (Kafka 4); -1
    /// unknown.
    pub config_source: i8,
    /// Whether the value is hidden.
    pub is_sensitive: bool,
    /// Synonyms, asked for with `include_synonyms`: (name, value, source).
    pub synonyms: Vec<(String, Option<String>, i8)>,
    /// v3+: the value's type (0 unknown).
    pub config_type: i8,
    /// v3+: documentation.
    pub documentation: Option<String>,
}

/// One described resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribeConfigsResult {
    /// The outcome, resource type and name.
    pub result: ResourceResult,
    /// The entries.
    pub configs: Vec<DescribedConfig>,
}

/// DescribeConfigs response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribeConfigsResponse {
    /// Throttle time.
    pub throttle_time_ms: i32,
    /// Per resource.
    pub results: Vec<DescribeConfigsResult>,
}

impl Request for DescribeConfigsRequest {
    const KEY: ApiKey = ApiKey::DescribeConfigs;
    const MIN_VERSION: i16 = 1;
    const MAX_VERSION: i16 = 4;
    const FIRST_FLEXIBLE: i16 = 4;
    type Response = DescribeConfigsResponse;

    fn encode(&self, e: &mut Encoder, version: i16) {
        let flex = Self::flexible(version);
        e.array(&self.resources, flex, |e, r| {
            e.i8(r.resource_type);
            e.string(&r.resource_name, flex);
            match &r.configuration_keys {
                None => e.array_len(None, flex),
                Some(keys) => e.array(keys, flex, |e, k| e.string(k, flex)),
            }
            e.tagged_fields(flex);
        });
        e.bool(self.include_synonyms);
        if version >= 3 {
            e.bool(self.include_documentation);
        }
        e.tagged_fields(flex);
    }

    fn decode(d: &mut Decoder<'_>, version: i16) -> DecodeResult<Self> {
        let flex = Self::flexible(version);
        let resources = d.array(flex, 3, |d| {
            let resource_type = d.i8()?;
            let resource_name = d.string(flex)?;
            let configuration_keys = match d.array_len(flex, 1)? {
                None => None,
                Some(n) => Some((0..n).map(|_| d.string(flex)).collect::<DecodeResult<Vec<_>>>()?),
            };
            d.skip_tagged_fields(flex)?;
            Ok(DescribeConfigsResource { resource_type, resource_name, configuration_keys })
        })?;
        let include_synonyms = d.bool()?;
        let include_documentation = version >= 3 && d.bool()?;
        d.skip_tagged_fields(flex)?;
        Ok(DescribeConfigsRequest { resources, include_synonyms, include_documentation })
    }
}

impl Response for DescribeConfigsResponse {
    fn encode(&self, e: &mut Encoder, version: i16) {
        let flex = DescribeConfigsRequest::flexible(version);
        e.i32(self.throttle_time_ms);
        e.array(&self.results, flex, |e, r| {
            encode_result(e, &r.result, flex);
            e.array(&r.configs, flex, |e, c| {
                e.string(&c.name, flex);
                e.nullable_string(c.value.as_deref(), flex);
                e.bool(c.read_only);
                e.i8(c.config_source);
                e.bool(c.is_sensitive);
                e.array(&c.synonyms, flex, |e, (name, value, source)| {
                    e.string(name, flex);
                    e.nullable_string(value.as_deref(), flex);
                    e.i8(*source);
                    e.tagged_fields(flex);
                });
                if version >= 3 {
                    e.i8(c.config_type);
                    e.nullable_string(c.documentation.as_deref(), flex);
                }
                e.tagged_fields(flex);
            });
            e.tagged_fields(flex);
        });
        e.tagged_fields(flex);
    }

    fn decode(d: &mut Decoder<'_>, version: i16) -> DecodeResult<Self> {
        let flex = DescribeConfigsRequest::flexible(version);
        let throttle_time_ms = d.i32()?;
        let results = d.array(flex, 7, |d| {
            let result = decode_result(d, flex)?;
            let configs = d.array(flex, 6, |d| {
                let name = d.string(flex)?;
                let value = d.nullable_string(flex)?;
                let read_only = d.bool()?;
                let config_source = d.i8()?;
                let is_sensitive = d.bool()?;
                let synonyms = d.array(flex, 3, |d| {
                    let s = (d.string(flex)?, d.nullable_string(flex)?, d.i8()?);
                    d.skip_tagged_fields(flex)?;
                    Ok(s)
                })?;
                let (config_type, documentation) =
                    if version >= 3 { (d.i8()?, d.nullable_string(flex)?) } else { (0, None) };
                d.skip_tagged_fields(flex)?;
                Ok(DescribedConfig {
                    name,
                    value,
                    read_only,
                    config_source,
                    is_sensitive,
                    synonyms,
                    config_type,
                    documentation,
                })
            })?;
            d.skip_tagged_fields(flex)?;
            Ok(DescribeConfigsResult { result, configs })
        })?;
        d.skip_tagged_fields(flex)?;
        Ok(DescribeConfigsResponse { throttle_time_ms, results })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::test_util::*;

    fn result() -> ResourceResult {
        ResourceResult {
            error_code: 0,
            error_message: None,
            resource_type: resource_type::GROUP,
            resource_name: "q".into(),
        }
    }

    #[test]
    fn incremental_alter_configs_round_trips_every_version_and_rejects_every_truncation() {
        for v in 0..=1 {
            let req = IncrementalAlterConfigsRequest {
                resources: vec![AlterConfigsResource {
                    resource_type: resource_type::GROUP,
                    resource_name: "q".into(),
                    configs: vec![
                        AlterableConfig {
                            name: "share.auto.offset.reset".into(),
                            config_operation: OP_SET,
                            value: Some("earliest".into()),
                        },
                        AlterableConfig {
                            name: "share.record.lock.duration.ms".into(),
                            config_operation: OP_DELETE,
                            value: None,
                        },
                    ],
                }],
                validate_only: false,
            };
            let resp = IncrementalAlterConfigsResponse { throttle_time_ms: 0, responses: vec![result()] };
            check_codec(&req, &resp, v);
        }
    }

    #[test]
    fn describe_configs_round_trips_every_version_and_rejects_every_truncation() {
        for v in 1..=4 {
            for keys in [None, Some(vec!["share.auto.offset.reset".to_string()])] {
                let req = DescribeConfigsRequest {
                    resources: vec![DescribeConfigsResource {
                        resource_type: resource_type::GROUP,
                        resource_name: "q".into(),
                        configuration_keys: keys,
                    }],
                    include_synonyms: true,
                    include_documentation: v >= 3,
                };
                let resp = DescribeConfigsResponse {
                    throttle_time_ms: 0,
                    results: vec![DescribeConfigsResult {
                        result: result(),
                        configs: vec![DescribedConfig {
                            name: "share.auto.offset.reset".into(),
                            value: Some("earliest".into()),
                            read_only: false,
                            config_source: 1,
                            is_sensitive: false,
                            synonyms: vec![("share.auto.offset.reset".into(), Some("earliest".into()), 1)],
                            config_type: if v >= 3 { 2 } else { 0 },
                            documentation: if v >= 3 { Some("where to start".into()) } else { None },
                        }],
                    }],
                };
                check_codec(&req, &resp, v);
            }
        }
    }
}
