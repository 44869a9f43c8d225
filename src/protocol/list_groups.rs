//! ListGroups (key 16), v0–v5: the groups a broker coordinates (for the CLI's `groups`); v5
//! (Kafka 3.8+) says each group's type: classic, consumer (KIP-848) or share (KIP-932).

use super::codec::{DecodeResult, Decoder, Encoder};
use super::{ApiKey, Request, Response};

/// ListGroups request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListGroupsRequest {
    /// v4+: only groups in these states (empty: all).
    pub states_filter: Vec<String>,
    /// v5+: only groups of these types (empty: all).
    pub types_filter: Vec<String>,
}

/// ListGroups response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListGroupsResponse {
    /// v1+: throttle time.
    pub throttle_time_ms: i32,
    /// Error.
    pub error_code: i16,
    /// The groups.
    pub groups: Vec<ListedGroup>,
}

/// One listed group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedGroup {
    /// Group id.
    pub group_id: String,
    /// "consumer" for consumer groups, empty for groups that only store offsets.
    pub protocol_type: String,
    /// v4+: the group's state.
    pub group_state: Option<String>,
    /// v5+: the group's type (`classic`, `consumer`, `share`).
    pub group_type: Option<String>,
}

impl Request for ListGroupsRequest {
    const KEY: ApiKey = ApiKey::ListGroups;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 5;
    const FIRST_FLEXIBLE: i16 = 3;
    type Response = ListGroupsResponse;

    fn encode(&self, e: &mut Encoder, version: i16) {
        let flex = Self::flexible(version);
        if version >= 4 {
            e.array(&self.states_filter, flex, |e, s| e.string(s, flex));
        }
        if version >= 5 {
            e.array(&self.types_filter, flex, |e, s| e.string(s, flex));
        }
        e.tagged_fields(flex);
    }

    fn decode(d: &mut Decoder<'_>, version: i16) -> DecodeResult<Self> {
        let flex = Self::flexible(version);
        let states_filter = if version >= 4 { d.array(flex, 1, |d| d.string(flex))? } else { Vec::new() };
        let types_filter = if version >= 5 { d.array(flex, 1, |d| d.string(flex))? } else { Vec::new() };
        d.skip_tagged_fields(flex)?;
        Ok(ListGroupsRequest { states_filter, types_filter })
    }
}

impl Response for ListGroupsResponse {
    fn encode(&self, e: &mut Encoder, version: i16) {
        let flex = ListGroupsRequest::flexible(version);
        if version >= 1 {
            e.i32(self.throttle_time_ms);
        }
        e.i16(self.error_code);
        e.array(&self.groups, flex, |e, g| {
            e.string(&g.group_id, flex);
            e.string(&g.protocol_type, flex);
            if version >= 4 {
                e.string(g.group_state.as_deref().unwrap_or(""), flex);
            }
            if version >= 5 {
                e.string(g.group_type.as_deref().unwrap_or(""), flex);
            }
            e.tagged_fields(flex);
        });
        e.tagged_fields(flex);
    }

    fn decode(d: &mut Decoder<'_>, version: i16) -> DecodeResult<Self> {
        let flex = ListGroupsRequest::flexible(version);
        let throttle_time_ms = if version >= 1 { d.i32()? } else { 0 };
        let error_code = d.i16()?;
        let groups = d.array(flex, 2, |d| {
            let g = ListedGroup {
                group_id: d.string(flex)?,
                protocol_type: d.string(flex)?,
                group_state: if version >= 4 { Some(d.string(flex)?) } else { None },
                group_type: if version >= 5 { Some(d.string(flex)?) } else { None },
            };
            d.skip_tagged_fields(flex)?;
            Ok(g)
        })?;
        d.skip_tagged_fields(flex)?;
        Ok(ListGroupsResponse { throttle_time_ms, error_code, groups })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::test_util::*;

    #[test]
    fn round_trips_every_version_and_rejects_every_truncation() {
        for v in 0..=5 {
            let req = ListGroupsRequest {
                states_filter: if v >= 4 { vec!["Stable".into()] } else { vec![] },
                types_filter: if v >= 5 { vec!["consumer".into()] } else { vec![] },
            };
            let resp = ListGroupsResponse {
                throttle_time_ms: if v >= 1 { 1 } else { 0 },
                error_code: 0,
                groups: vec![ListedGroup {
                    group_id: "g".into(),
                    protocol_type: "consumer".into(),
                    group_state: (v >= 4).then(|| "Stable".into()),
                    group_type: (v >= 5).then(|| "consumer".into()),
                }],
            };
            check_codec(&req, &resp, v);
        }
    }
}
