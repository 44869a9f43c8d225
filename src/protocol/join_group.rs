//! JoinGroup (key 11), v0–v9: enter a group, or rejoin it after a rebalance started.
//!
//! From v4 a broker may answer a member without an id with MEMBER_ID_REQUIRED and an id to join
//! with; tansu does so at every version, so callers handle it whatever the version.

use super::codec::{DecodeResult, Decoder, Encoder};
use super::{ApiKey, Request, Response};

/// JoinGroup request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinGroupRequest {
    /// The group.
    pub group_id: String,
    /// How long the coordinator waits for a heartbeat before removing the member.
    pub session_timeout_ms: i32,
    /// v1+: how long the coordinator waits for members to rejoin during a rebalance.
    pub rebalance_timeout_ms: i32,
    /// Empty on the first join.
    pub member_id: String,
    /// v5+: static membership id (KIP-345).
    pub group_instance_id: Option<String>,
    /// "consumer" for consumer groups.
    pub protocol_type: String,
    /// The assignors this member supports, in preference order, with its subscription.
    pub protocols: Vec<JoinGroupProtocol>,
    /// v8+: why the member (re)joins.
    pub reason: Option<String>,
}

/// One protocol a member offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinGroupProtocol {
    /// Assignor name ("range", "roundrobin", "cooperative-sticky").
    pub name: String,
    /// The member's subscription for this assignor.
    pub metadata: Vec<u8>,
}

/// JoinGroup response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinGroupResponse {
    /// v2+: throttle time.
    pub throttle_time_ms: i32,
    /// Error.
    pub error_code: i16,
    /// The new generation.
    pub generation_id: i32,
    /// v7+: the protocol type.
    pub protocol_type: Option<String>,
    /// The assignor chosen by the coordinator.
    pub protocol_name: Option<String>,
    /// The leader's member id.
    pub leader: String,
    /// v9+: the leader must not compute an assignment (static leader rejoining).
    pub skip_assignment: bool,
    /// This member's id.
    pub member_id: String,
    /// Every member with its subscription; only sent to the leader.
    pub members: Vec<JoinGroupMember>,
}

/// A member as the leader sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinGroupMember {
    /// Member id.
    pub member_id: String,
    /// v5+: static membership id.
    pub group_instance_id: Option<String>,
    /// The member's subscription.
    pub metadata: Vec<u8>,
}

impl Request for JoinGroupRequest {
    const KEY: ApiKey = ApiKey::JoinGroup;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 9;
    const FIRST_FLEXIBLE: i16 = 6;
    type Response = JoinGroupResponse;

    fn encode(&self, e: &mut Encoder, version: i16) {
        let flex = Self::flexible(version);
        e.string(&self.group_id, flex);
        e.i32(self.session_timeout_ms);
        if version >= 1 {
            e.i32(self.rebalance_timeout_ms);
        }
        e.string(&self.member_id, flex);
        if version >= 5 {
            e.nullable_string(self.group_instance_id.as_deref(), flex);
        }
        e.string(&self.protocol_type, flex);
        e.array(&self.protocols, flex, |e, p| {
            e.string(&p.name, flex);
            e.nullable_bytes(Some(&p.metadata), flex);
            e.tagged_fields(flex);
        });
        if version >= 8 {
            e.nullable_string(self.reason.as_deref(), flex);
        }
        e.tagged_fields(flex);
    }

    fn decode(d: &mut Decoder<'_>, version: i16) -> DecodeResult<Self> {
        let flex = Self::flexible(version);
        let group_id = d.string(flex)?;
        let session_timeout_ms = d.i32()?;
        let rebalance_timeout_ms = if version >= 1 { d.i32()? } else { session_timeout_ms };
        let member_id = d.string(flex)?;
        let group_instance_id = if version >= 5 { d.nullable_string(flex)? } else { None };
        let protocol_type = d.string(flex)?;
        let protocols = d.array(flex, 2, |d| {
            let p = JoinGroupProtocol {
                name: d.string(flex)?,
                metadata: d.nullable_bytes(flex)?.unwrap_or_default().to_vec(),
            };
            d.skip_tagged_fields(flex)?;
            Ok(p)
        })?;
        let reason = if version >= 8 { d.nullable_string(flex)? } else { None };
        d.skip_tagged_fields(flex)?;
        Ok(JoinGroupRequest {
            group_id,
            session_timeout_ms,
            rebalance_timeout_ms,
            member_id,
            group_instance_id,
            protocol_type,
            protocols,
            reason,
        })
    }
}

impl Response for JoinGroupResponse {
    fn encode(&self, e: &mut Encoder, version: i16) {
        let flex = JoinGroupRequest::flexible(version);
        if version >= 2 {
            e.i32(self.throttle_time_ms);
        }
        e.i16(self.error_code);
        e.i32(self.generation_id);
        if version >= 7 {
            e.nullable_string(self.protocol_type.as_deref(), flex);
            e.nullable_string(self.protocol_name.as_deref(), flex);
        } else {
            e.string(self.protocol_name.as_deref().unwrap_or(""), flex);
        }
        e.string(&self.leader, flex);
        if version >= 9 {
            e.bool(self.skip_assignment);
        }
        e.string(&self.member_id, flex);
        e.array(&self.members, flex, |e, m| {
            e.string(&m.member_id, flex);
            if version >= 5 {
                e.nullable_string(m.group_instance_id.as_deref(), flex);
            }
            e.nullable_bytes(Some(&m.metadata), flex);
            e.tagged_fields(flex);
        });
        e.tagged_fields(flex);
    }

    fn decode(d: &mut Decoder<'_>, version: i16) -> DecodeResult<Self> {
        let flex = JoinGroupRequest::flexible(version);
        let throttle_time_ms = if version >= 2 { d.i32()? } else { 0 };
        let error_code = d.i16()?;
        let generation_id = d.i32()?;
        let (protocol_type, protocol_name) = if version >= 7 {
            (d.nullable_string(flex)?, d.nullable_string(flex)?)
        } else {
            (None, Some(d.string(flex)?))
        };
        let leader = d.string(flex)?;
        let skip_assignment = version >= 9 && d.bool()?;
        let member_id = d.string(flex)?;
        let members = d.array(flex, 3, |d| {
            let m = JoinGroupMember {
                member_id: d.string(flex)?,
                group_instance_id: if version >= 5 { d.nullable_string(flex)? } else { None },
                metadata: d.nullable_bytes(flex)?.unwrap_or_default().to_vec(),
            };
            d.skip_tagged_fields(flex)?;
            Ok(m)
        })?;
        d.skip_tagged_fields(flex)?;
        Ok(JoinGroupResponse {
            throttle_time_ms,
            error_code,
            generation_id,
            protocol_type,
            protocol_name,
            leader,
            skip_assignment,
            member_id,
            members,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::test_util::*;

    #[test]
    fn round_trips_every_version_and_rejects_every_truncation() {
        for v in 0..=9 {
            let req = JoinGroupRequest {
                group_id: "g".into(),
                session_timeout_ms: 10_000,
                rebalance_timeout_ms: if v >= 1 { 20_000 } else { 10_000 },
                member_id: "m".into(),
                group_instance_id: (v >= 5).then(|| "i".into()),
                protocol_type: "consumer".into(),
                protocols: vec![JoinGroupProtocol { name: "range".into(), metadata: vec![0, 1, 2] }],
                reason: (v >= 8).then(|| "r".into()),
            };
            let resp = JoinGroupResponse {
                throttle_time_ms: if v >= 2 { 3 } else { 0 },
                error_code: 0,
                generation_id: 4,
                protocol_type: (v >= 7).then(|| "consumer".into()),
                protocol_name: Some("range".into()),
                leader: "m".into(),
                skip_assignment: v >= 9,
                member_id: "m".into(),
                members: vec![JoinGroupMember {
                    member_id: "m".into(),
                    group_instance_id: (v >= 5).then(|| "i".into()),
                    metadata: vec![9],
                }],
            };
            check_codec(&req, &resp, v);
        }
    }
}
