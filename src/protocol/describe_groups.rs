//! DescribeGroups (key 15), v0–v5: a group's state, protocol and members with their
//! assignments (for the CLI's `group` command).

use super::codec::{DecodeResult, Decoder, Encoder};
use super::{ApiKey, Request, Response};

/// DescribeGroups request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribeGroupsRequest {
    /// The groups.
    pub groups: Vec<String>,
    /// v3+: whether to return the authorized operations.
    pub include_authorized_operations: bool,
}

/// DescribeGroups response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribeGroupsResponse {
    /// v1+: throttle time.
    pub throttle_time_ms: i32,
    /// The groups.
    pub groups: Vec<DescribedGroup>,
}

/// One group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribedGroup {
    /// Error.
    pub error_code: i16,
    /// Group id.
    pub group_id: String,
    /// "Stable", "PreparingRebalance", "CompletingRebalance", "Empty" or "Dead".
    pub group_state: String,
    /// "consumer" for consumer groups.
    pub protocol_type: String,
    /// The assignor in use.
    pub protocol_data: String,
    /// The members.
    pub members: Vec<DescribedMember>,
    /// v3+: authorized operations bit field.
    pub authorized_operations: i32,
}

/// One member of a described group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribedMember {
    /// Member id.
    pub member_id: String,
    /// v4+: static membership id.
    pub group_instance_id: Option<String>,
    /// The client id it joined with.
    pub client_id: String,
    /// The host it joined from.
    pub client_host: String,
    /// Its subscription.
    pub member_metadata: Vec<u8>,
    /// Its assignment.
    pub member_assignment: Vec<u8>,
}

impl Request for DescribeGroupsRequest {
    const KEY: ApiKey = ApiKey::DescribeGroups;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 5;
    const FIRST_FLEXIBLE: i16 = 5;
    type Response = DescribeGroupsResponse;

    fn encode(&self, e: &mut Encoder, version: i16) {
        let flex = Self::flexible(version);
        e.array(&self.groups, flex, |e, g| e.string(g, flex));
        if version >= 3 {
            e.bool(self.include_authorized_operations);
        }
        e.tagged_fields(flex);
    }

    fn decode(d: &mut Decoder<'_>, version: i16) -> DecodeResult<Self> {
        let flex = Self::flexible(version);
        let groups = d.array(flex, 1, |d| d.string(flex))?;
        let include_authorized_operations = version >= 3 && d.bool()?;
        d.skip_tagged_fields(flex)?;
        Ok(DescribeGroupsRequest { groups, include_authorized_operations })
    }
}

impl Response for DescribeGroupsResponse {
    fn encode(&self, e: &mut Encoder, version: i16) {
        let flex = DescribeGroupsRequest::flexible(version);
        if version >= 1 {
            e.i32(self.throttle_time_ms);
        }
        e.array(&self.groups, flex, |e, g| {
            e.i16(g.error_code);
            e.string(&g.group_id, flex);
            e.string(&g.group_state, flex);
            e.string(&g.protocol_type, flex);
            e.string(&g.protocol_data, flex);
            e.array(&g.members, flex, |e, m| {
                e.string(&m.member_id, flex);
                if version >= 4 {
                    e.nullable_string(m.group_instance_id.as_deref(), flex);
                }
                e.string(&m.client_id, flex);
                e.string(&m.client_host, flex);
                e.nullable_bytes(Some(&m.member_metadata), flex);
                e.nullable_bytes(Some(&m.member_assignment), flex);
                e.tagged_fields(flex);
            });
            if version >= 3 {
                e.i32(g.authorized_operations);
            }
            e.tagged_fields(flex);
        });
        e.tagged_fields(flex);
    }

    fn decode(d: &mut Decoder<'_>, version: i16) -> DecodeResult<Self> {
        let flex = DescribeGroupsRequest::flexible(version);
        let throttle_time_ms = if version >= 1 { d.i32()? } else { 0 };
        let groups = d.array(flex, 7, |d| {
            let error_code = d.i16()?;
            let group_id = d.string(flex)?;
            let group_state = d.string(flex)?;
            let protocol_type = d.string(flex)?;
            let protocol_data = d.string(flex)?;
            let members = d.array(flex, 6, |d| {
                let m = DescribedMember {
                    member_id: d.string(flex)?,
                    group_instance_id: if version >= 4 { d.nullable_string(flex)? } else { None },
                    client_id: d.string(flex)?,
                    client_host: d.string(flex)?,
                    member_metadata: d.nullable_bytes(flex)?.unwrap_or_default().to_vec(),
                    member_assignment: d.nullable_bytes(flex)?.unwrap_or_default().to_vec(),
                };
                d.skip_tagged_fields(flex)?;
                Ok(m)
            })?;
            let authorized_operations = if version >= 3 { d.i32()? } else { i32::MIN };
            d.skip_tagged_fields(flex)?;
            Ok(DescribedGroup {
                error_code,
                group_id,
                group_state,
                protocol_type,
                protocol_data,
                members,
                authorized_operations,
            })
        })?;
        d.skip_tagged_fields(flex)?;
        Ok(DescribeGroupsResponse { throttle_time_ms, groups })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::test_util::*;

    #[test]
    fn round_trips_every_version_and_rejects_every_truncation() {
        for v in 0..=5 {
            let req = DescribeGroupsRequest { groups: vec!["g".into()], include_authorized_operations: v >= 3 };
            let resp = DescribeGroupsResponse {
                throttle_time_ms: if v >= 1 { 2 } else { 0 },
                groups: vec![DescribedGroup {
                    error_code: 0,
                    group_id: "g".into(),
                    group_state: "Stable".into(),
                    protocol_type: "consumer".into(),
                    protocol_data: "range".into(),
                    members: vec![DescribedMember {
                        member_id: "m".into(),
                        group_instance_id: (v >= 4).then(|| "i".into()),
                        client_id: "c".into(),
                        client_host: "/127.0.0.1".into(),
                        member_metadata: vec![1],
                        member_assignment: vec![2],
                    }],
                    authorized_operations: if v >= 3 { 8 } else { i32::MIN },
                }],
            };
            check_codec(&req, &resp, v);
        }
    }
}
