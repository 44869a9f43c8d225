//! SyncGroup (key 14), v0–v5: the leader hands out the assignment; every member gets its own.

use super::codec::{DecodeResult, Decoder, Encoder};
use super::{ApiKey, Request, Response};

/// SyncGroup request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncGroupRequest {
    /// The group.
    pub group_id: String,
    /// The generation from JoinGroup.
    pub generation_id: i32,
    /// This member's id.
    pub member_id: String,
    /// v3+: static membership id.
    pub group_instance_id: Option<String>,
    /// v5+: the protocol type.
    pub protocol_type: Option<String>,
    /// v5+: the assignor.
    pub protocol_name: Option<String>,
    /// The leader's assignment, one entry per member; empty from followers.
    pub assignments: Vec<(String, Vec<u8>)>,
}

/// SyncGroup response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncGroupResponse {
    /// v1+: throttle time.
    pub throttle_time_ms: i32,
    /// Error.
    pub error_code: i16,
    /// v5+: the protocol type.
    pub protocol_type: Option<String>,
    /// v5+: the assignor.
    pub protocol_name: Option<String>,
    /// This member's assignment.
    pub assignment: Vec<u8>,
}

impl Request for SyncGroupRequest {
    const KEY: ApiKey = ApiKey::SyncGroup;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 5;
    const FIRST_FLEXIBLE: i16 = 4;
    type Response = SyncGroupResponse;

    fn encode(&self, e: &mut Encoder, version: i16) {
        let flex = Self::flexible(version);
        e.string(&self.group_id, flex);
        e.i32(self.generation_id);
        e.string(&self.member_id, flex);
        if version >= 3 {
            e.nullable_string(self.group_instance_id.as_deref(), flex);
        }
        if version >= 5 {
            e.nullable_string(self.protocol_type.as_deref(), flex);
            e.nullable_string(self.protocol_name.as_deref(), flex);
        }
        e.array(&self.assignments, flex, |e, (m, a)| {
            e.string(m, flex);
            e.nullable_bytes(Some(a), flex);
            e.tagged_fields(flex);
        });
        e.tagged_fields(flex);
    }

    fn decode(d: &mut Decoder<'_>, version: i16) -> DecodeResult<Self> {
        let flex = Self::flexible(version);
        let group_id = d.string(flex)?;
        let generation_id = d.i32()?;
        let member_id = d.string(flex)?;
        let group_instance_id = if version >= 3 { d.nullable_string(flex)? } else { None };
        let (protocol_type, protocol_name) =
            if version >= 5 { (d.nullable_string(flex)?, d.nullable_string(flex)?) } else { (None, None) };
        let assignments = d.array(flex, 2, |d| {
            let a = (d.string(flex)?, d.nullable_bytes(flex)?.unwrap_or_default().to_vec());
            d.skip_tagged_fields(flex)?;
            Ok(a)
        })?;
        d.skip_tagged_fields(flex)?;
        Ok(SyncGroupRequest {
            group_id,
            generation_id,
            member_id,
            group_instance_id,
            protocol_type,
            protocol_name,
            assignments,
        })
    }
}

impl Response for SyncGroupResponse {
    fn encode(&self, e: &mut Encoder, version: i16) {
        let flex = SyncGroupRequest::flexible(version);
        if version >= 1 {
            e.i32(self.throttle_time_ms);
        }
        e.i16(self.error_code);
        if version >= 5 {
            e.nullable_string(self.protocol_type.as_deref(), flex);
            e.nullable_string(self.protocol_name.as_deref(), flex);
        }
        e.nullable_bytes(Some(&self.assignment), flex);
        e.tagged_fields(flex);
    }

    fn decode(d: &mut Decoder<'_>, version: i16) -> DecodeResult<Self> {
        let flex = SyncGroupRequest::flexible(version);
        let throttle_time_ms = if version >= 1 { d.i32()? } else { 0 };
        let error_code = d.i16()?;
        let (protocol_type, protocol_name) =
            if version >= 5 { (d.nullable_string(flex)?, d.nullable_string(flex)?) } else { (None, None) };
        let assignment = d.nullable_bytes(flex)?.unwrap_or_default().to_vec();
        d.skip_tagged_fields(flex)?;
        Ok(SyncGroupResponse { throttle_time_ms, error_code, protocol_type, protocol_name, assignment })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::test_util::*;

    #[test]
    fn round_trips_every_version_and_rejects_every_truncation() {
        for v in 0..=5 {
            let req = SyncGroupRequest {
                group_id: "g".into(),
                generation_id: 3,
                member_id: "m".into(),
                group_instance_id: (v >= 3).then(|| "i".into()),
                protocol_type: (v >= 5).then(|| "consumer".into()),
                protocol_name: (v >= 5).then(|| "range".into()),
                assignments: vec![("m".into(), vec![1, 2])],
            };
            let resp = SyncGroupResponse {
                throttle_time_ms: if v >= 1 { 1 } else { 0 },
                error_code: 0,
                protocol_type: (v >= 5).then(|| "consumer".into()),
                protocol_name: (v >= 5).then(|| "range".into()),
                assignment: vec![7, 8],
            };
            check_codec(&req, &resp, v);
        }
    }
}
