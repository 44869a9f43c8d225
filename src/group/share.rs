//! Share group membership (KIP-932), run by a heartbeat thread: ShareGroupHeartbeat joins at
//! epoch 0 under the member's own id, keeps the member alive at the interval the coordinator
//! gives and carries its assignment back; -1 leaves. Unlike a consumer group there is nothing
//! to reconcile: several members may read one partition, and what a member was given but not
//! acknowledged goes back to the group when its acquisition lock times out. The consumer just
//! fetches from what it is assigned now.

use super::actions::{self, Action};
use super::kip848::{assigned_names, member_uuid};
use crate::client::Client;
use crate::error::{Context, Error, Result};
use crate::protocol::consumer_protocol::TopicPartitions;
use crate::protocol::error_code::ErrorCode;
use crate::protocol::share_group_heartbeat::ShareGroupHeartbeatRequest;
use crate::protocol::ApiKey;
use crate::retry::REQUEST_MAX;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

#[derive(Debug)]
struct State {
    member_id: String,
    epoch: i32,
    assignment: TopicPartitions,
    /// Bumped with each new assignment, for waiters.
    version: u64,
    fatal: Option<Error>,
    stopped: bool,
}

/// A share group member's membership, shared by its heartbeat thread and the consumer.
#[derive(Debug)]
pub(crate) struct ShareMembership {
    client: Arc<Client>,
    group: String,
    topics: Vec<String>,
    state: Mutex<State>,
    cv: Condvar,
}

impl ShareMembership {
    pub fn new(client: Arc<Client>, group: &str, topics: Vec<String>) -> ShareMembership {
        let state = State {
            member_id: member_uuid(),
            epoch: 0,
            assignment: TopicPartitions::new(),
            version: 0,
            fatal: None,
            stopped: false,
        };
        ShareMembership { client, group: group.to_string(), topics, state: Mutex::new(state), cv: Condvar::new() }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn member_id(&self) -> String {
        self.lock().member_id.clone()
    }

    /// The partitions this member fetches from now.
    pub fn assignment(&self) -> TopicPartitions {
        self.lock().assignment.clone()
    }

    /// An error the membership can't recover from, if one happened.
    pub fn take_fatal(&self) -> Option<Error> {
        self.lock().fatal.take()
    }

    /// Hands the consumer an error (the heartbeat thread's death included).
    pub fn fail(&self, e: Error) {
        self.lock().fatal = Some(e);
        self.cv.notify_all();
    }

    /// Waits until an assignment other than the one at `version` arrives, the member stops or
    /// fails, or `until` passes; returns the version now.
    pub fn wait_for_change(&self, version: u64, until: Instant) -> u64 {
        let mut s = self.lock();
        while s.version == version && !s.stopped && s.fatal.is_none() {
            let now = Instant::now();
            if now >= until {
                break;
            }
            s = self.cv.wait_timeout(s, until - now).unwrap_or_else(|e| e.into_inner()).0;
        }
        s.version
    }

    pub fn version(&self) -> u64 {
        self.lock().version
    }

    pub fn stop(&self) {
        self.lock().stopped = true;
        self.cv.notify_all();
    }

    pub fn is_stopped(&self) -> bool {
        self.lock().stopped
    }

    fn send(
        &self,
        req: &ShareGroupHeartbeatRequest,
    ) -> Result<crate::protocol::share_group_heartbeat::ShareGroupHeartbeatResponse> {
        let not_offered = |broker: &dyn std::fmt::Display| {
            Error::Config(format!(
                "group {}: share groups need the ShareGroupHeartbeat API (KIP-932, Kafka 4.1+, on by default from 4.2), \
                 which broker {broker} does not offer",
                self.group
            ))
        };
        let node = self.client.coordinator(&self.group)?;
        let resp = self.client.send_to(node, req).map_err(|e| match e {
            Error::NoCommonVersion { broker, .. } => not_offered(&broker),
            e => e,
        })?;
        match ErrorCode::from_i16(resp.error_code) {
            ErrorCode::NONE => Ok(resp),
            ErrorCode::UNSUPPORTED_VERSION => Err(not_offered(&node)),
            code => Err(Error::broker(
                ApiKey::ShareGroupHeartbeat,
                code,
                Context::group(&self.group).on_broker(node),
                resp.error_message.clone(),
            )),
        }
    }

    fn request(&self, s: &State, epoch: i32) -> ShareGroupHeartbeatRequest {
        ShareGroupHeartbeatRequest {
            group_id: self.group.clone(),
            member_id: s.member_id.clone(),
            member_epoch: epoch,
            rack_id: None,
            subscribed_topic_names: (epoch >= 0).then(|| self.topics.clone()),
        }
    }

    /// The heartbeat thread's body. Errors back off; a member the coordinator forgot joins
    /// again (its partitions were the group's all along); an error nothing fixes reaches the
    /// consumer.
    pub fn run(&self) {
        let backoff = self.client.backoff(REQUEST_MAX);
        let mut failures = 0;
        let mut next = Instant::now();
        let mut s = self.lock();
        loop {
            if s.stopped {
                return;
            }
            let now = Instant::now();
            if now < next {
                s = self.cv.wait_timeout(s, next - now).unwrap_or_else(|e| e.into_inner()).0;
                continue;
            }
            let req = self.request(&s, s.epoch);
            drop(s);
            let answer = self.send(&req);
            let topics: Vec<&str> = self.topics.iter().map(String::as_str).collect();
            let assignment = match &answer {
                Ok(r) => r.assignment.as_ref().map(|a| assigned_names(&self.client, &self.group, &topics, a)),
                Err(_) => None,
            };
            s = self.lock();
            match answer {
                Ok(r) => {
                    failures = 0;
                    s.epoch = r.member_epoch;
                    next = Instant::now() + Duration::from_millis(r.heartbeat_interval_ms.max(100) as u64);
                    if let Some(a) = assignment.filter(|a| *a != s.assignment) {
                        log::info!("share group {}: epoch {} assigns {a:?}", self.group, s.epoch);
                        s.assignment = a;
                        s.version += 1;
                        self.cv.notify_all();
                    }
                }
                Err(e) => {
                    let action = actions::for_error(&e);
                    log::info!("share group {}: heartbeat: {e} ({action:?})", self.group);
                    match action {
                        Action::Fatal => {
                            s.fatal = Some(e);
                            self.cv.notify_all();
                            return;
                        }
                        Action::RejoinAsNew | Action::Rejoin | Action::RetryNow => s.epoch = 0,
                        Action::FindCoordinator => self.client.forget_coordinator(&self.group),
                        Action::Backoff => {}
                    }
                    next = Instant::now() + backoff.delay(failures);
                    failures += 1;
                }
            }
        }
    }

    /// Leaves the group (epoch -1). A coordinator that no longer knows the member is success.
    pub fn leave(&self) -> Result<()> {
        let req = {
            let s = self.lock();
            if s.epoch <= 0 {
                return Ok(());
            }
            self.request(&s, -1)
        };
        match self.send(&req) {
            Err(e) if matches!(e.code(), Some(ErrorCode::UNKNOWN_MEMBER_ID | ErrorCode::FENCED_MEMBER_EPOCH)) => Ok(()),
            r => r.map(drop),
        }
    }
}
