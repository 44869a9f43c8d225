//! The classic group protocol's calls as typed operations: JoinGroup, SyncGroup, Heartbeat,
//! LeaveGroup, each sent to the group's coordinator with its error code turned into an
//! [`Error`] naming the group. What to do about an error (rejoin, find the coordinator again,
//! give up) is the group module's decision (`group::actions`), not this one's.

use super::offsets::Generation;
use super::Client;
use crate::error::{Context, Error, Result};
use crate::protocol::error_code::ErrorCode;
use crate::protocol::heartbeat::HeartbeatRequest;
use crate::protocol::join_group::{JoinGroupProtocol, JoinGroupRequest};
use crate::protocol::leave_group::{LeaveGroupRequest, LeavingMember};
use crate::protocol::sync_group::SyncGroupRequest;
use crate::protocol::ApiKey;
use std::time::Duration;

/// The protocol type of consumer groups.
const CONSUMER: &str = "consumer";

/// A JoinGroup request's settings.
#[derive(Debug, Clone)]
pub(crate) struct JoinParams<'a> {
    pub group: &'a str,
    pub session_timeout: Duration,
    /// How long the coordinator may hold the join while the group forms.
    pub rebalance_timeout: Duration,
    pub group_instance_id: Option<&'a str>,
    /// (assignor name, subscription payload), in order of preference.
    pub protocols: Vec<(String, Vec<u8>)>,
}

/// A member as the leader sees it in the JoinGroup answer.
#[derive(Debug, Clone)]
pub(crate) struct JoinedMember {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    /// Its subscription payload.
    pub metadata: Vec<u8>,
}

/// A successful JoinGroup.
#[derive(Debug, Clone)]
pub(crate) struct JoinAnswer {
    pub member_id: String,
    pub generation_id: i32,
    /// The assignor the coordinator chose.
    pub protocol_name: String,
    /// Whether this member must compute the assignment.
    pub leads: bool,
    /// Every member (only the leader gets them).
    pub members: Vec<JoinedMember>,
}

fn ms(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}

fn check(api: ApiKey, code: i16, group: &str) -> Result<()> {
    let code = ErrorCode::from_i16(code);
    if code.is_ok() {
        Ok(())
    } else {
        Err(Error::broker(api, code, Context::group(group), None))
    }
}

/// Sends JoinGroup as `member_id` (empty for a new member). When the coordinator answers
/// MEMBER_ID_REQUIRED (KIP-394), `member_id` is set to the id it gave, to join with next, and
/// the error is returned.
pub(crate) fn join_group(client: &Client, p: &JoinParams<'_>, member_id: &mut String) -> Result<JoinAnswer> {
    let coordinator = client.coordinator(p.group)?;
    let req = JoinGroupRequest {
        group_id: p.group.to_string(),
        session_timeout_ms: ms(p.session_timeout),
        rebalance_timeout_ms: ms(p.rebalance_timeout),
        member_id: member_id.clone(),
        group_instance_id: p.group_instance_id.map(str::to_string),
        protocol_type: CONSUMER.into(),
        protocols: p
            .protocols
            .iter()
            .map(|(name, m)| JoinGroupProtocol { name: name.clone(), metadata: m.clone() })
            .collect(),
        reason: None,
    };
    let resp = client.send_waiting(coordinator, &req, p.rebalance_timeout)?;
    if ErrorCode::from_i16(resp.error_code) == ErrorCode::MEMBER_ID_REQUIRED {
        member_id.clone_from(&resp.member_id);
    }
    check(ApiKey::JoinGroup, resp.error_code, p.group)?;
    member_id.clone_from(&resp.member_id);
    Ok(JoinAnswer {
        leads: resp.leader == resp.member_id && !resp.skip_assignment,
        member_id: resp.member_id,
        generation_id: resp.generation_id,
        protocol_name: resp.protocol_name.unwrap_or_default(),
        members: resp
            .members
            .into_iter()
            .map(|m| JoinedMember {
                member_id: m.member_id,
                group_instance_id: m.group_instance_id,
                metadata: m.metadata,
            })
            .collect(),
    })
}

/// Sends SyncGroup for `generation` (with the assignments when leading) and returns this
/// member's assignment payload.
pub(crate) fn sync_group(
    client: &Client,
    group: &str,
    generation: &Generation,
    protocol_name: &str,
    assignments: Vec<(String, Vec<u8>)>,
    wait: Duration,
) -> Result<Vec<u8>> {
    let coordinator = client.coordinator(group)?;
    let req = SyncGroupRequest {
        group_id: group.to_string(),
        generation_id: generation.generation_id,
        member_id: generation.member_id.clone(),
        group_instance_id: generation.group_instance_id.clone(),
        protocol_type: Some(CONSUMER.into()),
        protocol_name: Some(protocol_name.to_string()),
        assignments,
    };
    let resp = client.send_waiting(coordinator, &req, wait)?;
    check(ApiKey::SyncGroup, resp.error_code, group)?;
    Ok(resp.assignment)
}

/// Sends one Heartbeat for `generation`.
pub(crate) fn heartbeat(client: &Client, group: &str, generation: &Generation) -> Result<()> {
    let coordinator = client.coordinator(group)?;
    let req = HeartbeatRequest {
        group_id: group.to_string(),
        generation_id: generation.generation_id,
        member_id: generation.member_id.clone(),
        group_instance_id: generation.group_instance_id.clone(),
    };
    let resp = client.send_to(coordinator, &req)?;
    check(ApiKey::Heartbeat, resp.error_code, group)
}

/// Leaves `group` as `member_id`. A coordinator that no longer knows the member is success:
/// it is gone either way.
pub(crate) fn leave_group(client: &Client, group: &str, member_id: &str, reason: &str) -> Result<()> {
    let coordinator = client.coordinator(group)?;
    let req = LeaveGroupRequest {
        group_id: group.to_string(),
        members: vec![LeavingMember {
            member_id: member_id.to_string(),
            group_instance_id: None,
            reason: Some(reason.to_string()),
        }],
    };
    let resp = client.send_to(coordinator, &req)?;
    // v3+ answer per member; the top-level code wins when set.
    let code = match resp.members.first() {
        Some(m) if resp.error_code == 0 => m.2,
        _ => resp.error_code,
    };
    match check(ApiKey::LeaveGroup, code, group) {
        Err(e) if e.code() == Some(ErrorCode::UNKNOWN_MEMBER_ID) => Ok(()),
        r => r,
    }
}

/// An answer's payload that does not parse, as a decode error from the coordinator.
pub(crate) fn payload_error(api: ApiKey, who: String, source: crate::protocol::codec::DecodeError) -> Error {
    Error::Decode { broker: who, api, version: -1, source }
}
