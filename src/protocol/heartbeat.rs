//! Heartbeat (key 12), v0–v4: keeps a member alive and tells it when a rebalance starts.

use super::codec::{DecodeResult, Decoder, Encoder};
use super::{ApiKey, Request, Response};

/// Heartbeat request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeartbeatRequest {
    /// The group.
    pub group_id: String,
    /// The member's generation.
    pub generation_id: i32,
    /// The member's id.
    pub member_id: String,
    /// v3+: static membership id.
    pub group_instance_id: Option<String>,
}

/// Heartbeat response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeartbeatResponse {
    /// v1+: throttle time.
    pub throttle_time_ms: i32,
    /// Error: REBALANCE_IN_PROGRESS asks the member to rejoin.
    pub error_code: i16,
}

impl Request for HeartbeatRequest {
    const KEY: ApiKey = ApiKey::Heartbeat;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 4;
    const FIRST_FLEXIBLE: i16 = 4;
    type Response = HeartbeatResponse;

    fn encode(&self, e: &mut Encoder, version: i16) {
        let flex = Self::flexible(version);
        e.string(&self.group_id, flex);
        e.i32(self.generation_id);
        e.string(&self.member_id, flex);
        if version >= 3 {
            e.nullable_string(self.group_instance_id.as_deref(), flex);
        }
        e.tagged_fields(flex);
    }

    fn decode(d: &mut Decoder<'_>, version: i16) -> DecodeResult<Self> {
        let flex = Self::flexible(version);
        let group_id = d.string(flex)?;
        let generation_id = d.i32()?;
        let member_id = d.string(flex)?;
        let group_instance_id = if version >= 3 { d.nullable_string(flex)? } else { None };
        d.skip_tagged_fields(flex)?;
        Ok(HeartbeatRequest { group_id, generation_id, member_id, group_instance_id })
    }
}

impl Response for HeartbeatResponse {
    fn encode(&self, e: &mut Encoder, version: i16) {
        if version >= 1 {
            e.i32(self.throttle_time_ms);
        }
        e.i16(self.error_code);
        e.tagged_fields(HeartbeatRequest::flexible(version));
    }

    fn decode(d: &mut Decoder<'_>, version: i16) -> DecodeResult<Self> {
        let throttle_time_ms = if version >= 1 { d.i32()? } else { 0 };
        let error_code = d.i16()?;
        d.skip_tagged_fields(HeartbeatRequest::flexible(version))?;
        Ok(HeartbeatResponse { throttle_time_ms, error_code })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::test_util::*;

    #[test]
    fn round_trips_every_version_and_rejects_every_truncation() {
        for v in 0..=4 {
            let req = HeartbeatRequest {
                group_id: "g".into(),
                generation_id: 2,
                member_id: "m".into(),
                group_instance_id: (v >= 3).then(|| "i".into()),
            };
            let resp = HeartbeatResponse { throttle_time_ms: if v >= 1 { 5 } else { 0 }, error_code: 27 };
            check_codec(&req, &resp, v);
        }
    }
}
