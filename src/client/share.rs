//! A share group member's data requests (KIP-932): ShareFetch and ShareAcknowledge to a
//! partition leader, with the session epoch the caller keeps, and every error code turned into
//! an [`Error`] naming the group and broker.

use super::Client;
use crate::error::{Context, Error, Result};
use crate::protocol::error_code::ErrorCode;
use crate::protocol::share_acknowledge::{ShareAcknowledgeRequest, ShareAcknowledgeResponse};
use crate::protocol::share_fetch::{ShareFetchRequest, ShareFetchResponse};
use crate::protocol::ApiKey;
use std::time::Duration;

fn check(api: ApiKey, code: i16, message: Option<String>, group: &str, node: i32) -> Result<()> {
    match ErrorCode::from_i16(code) {
        ErrorCode::NONE => Ok(()),
        code => Err(Error::broker(api, code, Context::group(group).on_broker(node), message)),
    }
}

/// One ShareFetch at broker `node`, which may hold it for its `max_wait_ms`.
pub(crate) fn fetch(client: &Client, node: i32, req: &ShareFetchRequest) -> Result<ShareFetchResponse> {
    let wait = Duration::from_millis(req.max_wait_ms.max(0) as u64);
    let resp = client.send_waiting(node, req, wait)?;
    let group = req.group_id.as_deref().unwrap_or_default();
    check(ApiKey::ShareFetch, resp.error_code, resp.error_message.clone(), group, node)?;
    Ok(resp)
}

/// One ShareAcknowledge at broker `node`.
pub(crate) fn acknowledge(
    client: &Client,
    node: i32,
    req: &ShareAcknowledgeRequest,
) -> Result<ShareAcknowledgeResponse> {
    let resp = client.send_to(node, req)?;
    let group = req.group_id.as_deref().unwrap_or_default();
    check(ApiKey::ShareAcknowledge, resp.error_code, resp.error_message.clone(), group, node)?;
    Ok(resp)
}
