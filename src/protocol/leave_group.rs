//! LeaveGroup (key 13), v0–v5: a member leaves so its partitions move at once, without waiting
//! for its session to time out. v3+ (KIP-345) names members in a batch.

use super::codec::{DecodeResult, Decoder, Encoder};
use super::{ApiKey, Request, Response};

/// A member leaving.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeavingMember {
    /// Member id.
    pub member_id: String,
    /// v3+: static membership id.
    pub group_instance_id: Option<String>,
    /// v5+: why it leaves.
    pub reason: Option<String>,
}

/// LeaveGroup request. Before v3 exactly one member leaves (the first of `members`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaveGroupRequest {
    /// The group.
    pub group_id: String,
    /// The members leaving.
    pub members: Vec<LeavingMember>,
}

/// LeaveGroup response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaveGroupResponse {
    /// v1+: throttle time.
    pub throttle_time_ms: i32,
    /// Error.
    pub error_code: i16,
    /// v3+: per member (member id, instance id, error).
    pub members: Vec<(String, Option<String>, i16)>,
}

impl Request for LeaveGroupRequest {
    const KEY: ApiKey = ApiKey::LeaveGroup;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 5;
    const FIRST_FLEXIBLE: i16 = 4;
    type Response = LeaveGroupResponse;

    fn encode(&self, e: &mut Encoder, version: i16) {
        let flex = Self::flexible(version);
        e.string(&self.group_id, flex);
        if version < 3 {
            e.string(self.members.first().map_or("", |m| &m.member_id), flex);
        } else {
            e.array(&self.members, flex, |e, m| {
                e.string(&m.member_id, flex);
                e.nullable_string(m.group_instance_id.as_deref(), flex);
                if version >= 5 {
                    e.nullable_string(m.reason.as_deref(), flex);
                }
                e.tagged_fields(flex);
            });
        }
        e.tagged_fields(flex);
    }

    fn decode(d: &mut Decoder<'_>, version: i16) -> DecodeResult<Self> {
        let flex = Self::flexible(version);
        let group_id = d.string(flex)?;
        let members = if version < 3 {
            vec![LeavingMember { member_id: d.string(flex)?, group_instance_id: None, reason: None }]
        } else {
            d.array(flex, 3, |d| {
                let m = LeavingMember {
                    member_id: d.string(flex)?,
                    group_instance_id: d.nullable_string(flex)?,
                    reason: if version >= 5 { d.nullable_string(flex)? } else { None },
                };
                d.skip_tagged_fields(flex)?;
                Ok(m)
            })?
        };
        d.skip_tagged_fields(flex)?;
        Ok(LeaveGroupRequest { group_id, members })
    }
}

impl Response for LeaveGroupResponse {
    fn encode(&self, e: &mut Encoder, version: i16) {
        let flex = LeaveGroupRequest::flexible(version);
        if version >= 1 {
            e.i32(self.throttle_time_ms);
        }
        e.i16(self.error_code);
        if version >= 3 {
            e.array(&self.members, flex, |e, (m, i, code)| {
                e.string(m, flex);
                e.nullable_string(i.as_deref(), flex);
                e.i16(*code);
                e.tagged_fields(flex);
            });
        }
        e.tagged_fields(flex);
    }

    fn decode(d: &mut Decoder<'_>, version: i16) -> DecodeResult<Self> {
        let flex = LeaveGroupRequest::flexible(version);
        let throttle_time_ms = if version >= 1 { d.i32()? } else { 0 };
        let error_code = d.i16()?;
        let members = if version >= 3 {
            d.array(flex, 4, |d| {
                let m = (d.string(flex)?, d.nullable_string(flex)?, d.i16()?);
                d.skip_tagged_fields(flex)?;
                Ok(m)
            })?
        } else {
            Vec::new()
        };
        d.skip_tagged_fields(flex)?;
        Ok(LeaveGroupResponse { throttle_time_ms, error_code, members })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::test_util::*;

    #[test]
    fn round_trips_every_version_and_rejects_every_truncation() {
        for v in 0..=5 {
            let req = LeaveGroupRequest {
                group_id: "g".into(),
                members: vec![LeavingMember {
                    member_id: "m".into(),
                    group_instance_id: (v >= 3).then(|| "i".into()),
                    reason: (v >= 5).then(|| "bye".into()),
                }],
            };
            let resp = LeaveGroupResponse {
                throttle_time_ms: if v >= 1 { 1 } else { 0 },
                error_code: 0,
                members: if v >= 3 { vec![("m".into(), Some("i".into()), 0)] } else { vec![] },
            };
            check_codec(&req, &resp, v);
        }
    }
}
