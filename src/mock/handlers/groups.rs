//! The classic group protocol: JoinGroup, SyncGroup, Heartbeat, LeaveGroup, and DescribeGroups and ListGroups for tools.

use super::*;

fn join_error(code: ErrorCode, member_id: String) -> JoinGroupResponse {
    JoinGroupResponse {
        throttle_time_ms: 0,
        error_code: code.code(),
        generation_id: -1,
        protocol_type: None,
        protocol_name: None,
        leader: String::new(),
        skip_assignment: false,
        member_id,
        members: Vec::new(),
    }
}

/// JoinGroup, v0–v9.
///
/// Behavior:
/// - A member without an id gets one; from v4 it must come back with it (MEMBER_ID_REQUIRED),
///   as Kafka asks. A static member (group_instance_id) rejoining takes over its old entry;
///   an old id of a replaced static member is FENCED_INSTANCE_ID.
/// - Every join starts a rebalance (or joins the one under way). The request waits until every
///   known member has joined, or until the longest rebalance timeout; members that didn't join
///   are dropped. Then the generation moves on, the protocol is chosen by vote among those all
///   members offer, and the first member to have joined leads: only the leader gets the member
///   list. No initial rebalance delay.
/// - INCONSISTENT_GROUP_PROTOCOL for a protocol type or assignor set that doesn't fit the
///   group; NOT_COORDINATOR on the wrong broker.
pub(super) fn join_group(
    ctx: &Ctx<'_>,
    hdr: &RequestHeader,
    req: JoinGroupRequest,
    v: i16,
    fault: Option<ErrorCode>,
) -> Option<JoinGroupResponse> {
    let shared = ctx.shared;
    let now = Instant::now();
    let mut st = shared.lock();
    if let Err(code) = injected(fault).and_then(|_| coordinates(ctx, &st, &req.group_id)) {
        return Some(join_error(code, req.member_id));
    }
    if st.consumer_groups.get(&req.group_id).is_some_and(|g| !g.members.is_empty()) {
        // The mock doesn't mix protocols in one group (Kafka 4 can).
        return Some(join_error(ErrorCode::INCONSISTENT_GROUP_PROTOCOL, req.member_id));
    }
    let protocols: Vec<(String, Vec<u8>)> =
        req.protocols.iter().map(|p| (p.name.clone(), p.metadata.clone())).collect();
    let client = hdr.client_id.clone().unwrap_or_default();
    // Numbered up front (a number may go unused): the group borrows the state below.
    st.next_member += 1;
    let fresh_id = format!("{}-{}", if client.is_empty() { "member" } else { &client }, st.next_member);
    let g = st.groups.entry(req.group_id.clone()).or_insert_with(|| crate::mock::group::Group::new(now));
    if !g.accepts(&req.protocol_type, &protocols) {
        return Some(join_error(ErrorCode::INCONSISTENT_GROUP_PROTOCOL, req.member_id));
    }
    let mut id = req.member_id.clone();
    match &req.group_instance_id {
        Some(inst) => {
            if id.is_empty() {
                id = fresh_id;
                if let Some(old) = g.statics.get(inst).cloned() {
                    if let Some(m) = g.members.remove(&old) {
                        g.members.insert(id.clone(), m);
                    }
                    if g.leader.as_deref() == Some(old.as_str()) {
                        g.leader = Some(id.clone());
                    }
                    g.statics.insert(inst.clone(), id.clone());
                    if g.state == GroupState::Stable {
                        // A static member's restart: its old place back, no rebalance.
                        if let Some(m) = g.members.get_mut(&id) {
                            m.last_seen = now;
                            m.protocols = protocols;
                        }
                        let leader = g.leader.clone().unwrap_or_default();
                        return Some(JoinGroupResponse {
                            throttle_time_ms: 0,
                            error_code: 0,
                            generation_id: g.generation,
                            protocol_type: g.protocol_type.clone(),
                            protocol_name: g.protocol.clone(),
                            skip_assignment: v >= 9 && leader == id,
                            leader,
                            member_id: id,
                            members: Vec::new(),
                        });
                    }
                }
            } else if g.statics.get(inst).is_some_and(|m| m != &id) {
                return Some(join_error(ErrorCode::FENCED_INSTANCE_ID, id));
            }
        }
        None if id.is_empty() => {
            id = fresh_id;
            if v >= 4 {
                let session = Duration::from_millis(req.session_timeout_ms.max(0) as u64);
                g.pending.insert(id.clone(), now + session);
                return Some(join_error(ErrorCode::MEMBER_ID_REQUIRED, id));
            }
        }
        None => {
            if !g.members.contains_key(&id) && !g.pending.contains_key(&id) {
                return Some(join_error(ErrorCode::UNKNOWN_MEMBER_ID, id));
            }
        }
    }
    g.protocol_type = Some(req.protocol_type.clone());
    g.start_round(now);
    let member = Member {
        instance_id: req.group_instance_id.clone(),
        client_id: client,
        session_timeout: Duration::from_millis(req.session_timeout_ms.max(0) as u64),
        rebalance_timeout: Duration::from_millis(req.rebalance_timeout_ms.max(0) as u64)
            .min(shared.cfg.max_request_wait),
        protocols,
        last_seen: now,
        joined_round: 0,
        seq: 0,
        assignment: Vec::new(),
    };
    g.join(&id, member);
    let longest = g.members.values().map(|m| m.rebalance_timeout).max().unwrap_or_default();
    g.round_deadline = g.round_deadline.max(now + longest);
    let my_round = g.round;
    shared.changed.notify_all();
    loop {
        let Some(g) = st.groups.get_mut(&req.group_id) else {
            return Some(join_error(ErrorCode::UNKNOWN_MEMBER_ID, id));
        };
        let now = Instant::now();
        if g.completed_round < my_round
            && g.state == GroupState::PreparingRebalance
            && (g.all_joined() || now >= g.round_deadline)
        {
            g.complete_round(now);
            shared.changed.notify_all();
        }
        if g.completed_round >= my_round {
            if !g.members.contains_key(&id) {
                return Some(join_error(ErrorCode::UNKNOWN_MEMBER_ID, id));
            }
            let protocol = g.protocol.clone().unwrap_or_default();
            let leader = g.leader.clone().unwrap_or_default();
            let members = if leader == id {
                g.members
                    .iter()
                    .map(|(mid, m)| JoinGroupMember {
                        member_id: mid.clone(),
                        group_instance_id: m.instance_id.clone(),
                        metadata: m
                            .protocols
                            .iter()
                            .find(|(p, _)| *p == protocol)
                            .map(|(_, md)| md.clone())
                            .unwrap_or_default(),
                    })
                    .collect()
            } else {
                Vec::new()
            };
            return Some(JoinGroupResponse {
                throttle_time_ms: 0,
                error_code: 0,
                generation_id: g.generation,
                protocol_type: g.protocol_type.clone(),
                protocol_name: Some(protocol),
                leader,
                skip_assignment: false,
                member_id: id,
                members,
            });
        }
        if shared.shutdown.load(Ordering::Acquire) {
            return Some(join_error(ErrorCode::COORDINATOR_NOT_AVAILABLE, id));
        }
        let until = g.round_deadline;
        st = wait(shared, st, until);
    }
}

fn sync_error(code: ErrorCode) -> SyncGroupResponse {
    SyncGroupResponse {
        throttle_time_ms: 0,
        error_code: code.code(),
        protocol_type: None,
        protocol_name: None,
        assignment: Vec::new(),
    }
}

/// SyncGroup, v0–v5.
///
/// Behavior:
/// - The leader's assignment is stored (members it leaves out get an empty one) and the group
///   becomes Stable; followers wait for it, up to their rebalance timeout.
/// - In a Stable group, a member gets its current assignment back. REBALANCE_IN_PROGRESS if a
///   new rebalance started meanwhile; UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION and
///   FENCED_INSTANCE_ID as Kafka checks them.
pub(super) fn sync_group(
    ctx: &Ctx<'_>,
    _: &RequestHeader,
    req: SyncGroupRequest,
    _: i16,
    fault: Option<ErrorCode>,
) -> Option<SyncGroupResponse> {
    let shared = ctx.shared;
    let mut st = shared.lock();
    let group = req.group_id.as_str();
    let check = fault
        .map_or(Ok(()), Err)
        .and_then(|_| coordinates(ctx, &st, group))
        .and_then(|_| check_member(&st, group, &req.member_id, req.group_instance_id.as_deref(), req.generation_id));
    if let Err(code) = check {
        return Some(sync_error(code));
    }
    let deadline = {
        let g = st.groups.get_mut(group).expect("checked");
        let m = g.members.get_mut(&req.member_id).expect("checked");
        m.last_seen = Instant::now();
        let deadline = Instant::now() + m.rebalance_timeout;
        if g.state == GroupState::CompletingRebalance && g.leader.as_deref() == Some(req.member_id.as_str()) {
            for (id, m) in g.members.iter_mut() {
                m.assignment =
                    req.assignments.iter().find(|(a, _)| a == id).map(|(_, b)| b.clone()).unwrap_or_default();
            }
            g.state = GroupState::Stable;
            shared.changed.notify_all();
        }
        deadline
    };
    loop {
        let g = st.groups.get(group).expect("groups are never dropped");
        if g.generation != req.generation_id
            || g.state == GroupState::PreparingRebalance
            || g.state == GroupState::Empty
        {
            return Some(sync_error(ErrorCode::REBALANCE_IN_PROGRESS));
        }
        if g.state == GroupState::Stable {
            let Some(m) = g.members.get(&req.member_id) else { return Some(sync_error(ErrorCode::UNKNOWN_MEMBER_ID)) };
            return Some(SyncGroupResponse {
                throttle_time_ms: 0,
                error_code: 0,
                protocol_type: g.protocol_type.clone(),
                protocol_name: g.protocol.clone(),
                assignment: m.assignment.clone(),
            });
        }
        if Instant::now() >= deadline || shared.shutdown.load(Ordering::Acquire) {
            return Some(sync_error(ErrorCode::REBALANCE_IN_PROGRESS));
        }
        st = wait(shared, st, deadline);
    }
}

/// Heartbeat, v0–v4.
///
/// Behavior:
/// - Keeps a member's session alive; REBALANCE_IN_PROGRESS while a rebalance waits for members
///   to rejoin; UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION, FENCED_INSTANCE_ID as Kafka checks them.
pub(super) fn heartbeat(
    ctx: &Ctx<'_>,
    _: &RequestHeader,
    req: HeartbeatRequest,
    _: i16,
    fault: Option<ErrorCode>,
) -> Option<HeartbeatResponse> {
    let mut st = ctx.shared.lock();
    let group = req.group_id.as_str();
    let check = fault
        .map_or(Ok(()), Err)
        .and_then(|_| coordinates(ctx, &st, group))
        .and_then(|_| check_member(&st, group, &req.member_id, req.group_instance_id.as_deref(), req.generation_id))
        .and_then(|_| {
            let g = st.groups.get_mut(group).expect("checked");
            if let Some(m) = g.members.get_mut(&req.member_id) {
                m.last_seen = Instant::now();
            }
            match g.state {
                GroupState::PreparingRebalance => Err(ErrorCode::REBALANCE_IN_PROGRESS),
                _ => Ok(()),
            }
        });
    Some(HeartbeatResponse { throttle_time_ms: 0, error_code: code_of(check) })
}

/// LeaveGroup, v0–v5.
///
/// Behavior:
/// - Removes the members named (by member id, or by instance id for static members), and the
///   others rebalance at once. UNKNOWN_MEMBER_ID for a member the group doesn't know.
pub(super) fn leave_group(
    ctx: &Ctx<'_>,
    _: &RequestHeader,
    req: LeaveGroupRequest,
    _: i16,
    fault: Option<ErrorCode>,
) -> Option<LeaveGroupResponse> {
    let mut st = ctx.shared.lock();
    if let Err(code) = injected(fault).and_then(|_| coordinates(ctx, &st, &req.group_id)) {
        return Some(LeaveGroupResponse { throttle_time_ms: 0, error_code: code.code(), members: Vec::new() });
    }
    let now = Instant::now();
    let mut members = Vec::new();
    let mut first_code = 0;
    for m in &req.members {
        let code = match st.groups.get_mut(&req.group_id) {
            Some(g) => {
                let id = match (&m.group_instance_id, m.member_id.is_empty()) {
                    (Some(i), true) => g.statics.get(i).cloned().unwrap_or_default(),
                    _ => m.member_id.clone(),
                };
                if g.members.contains_key(&id) {
                    g.remove(&id, now);
                    0
                } else {
                    ErrorCode::UNKNOWN_MEMBER_ID.code()
                }
            }
            None => ErrorCode::UNKNOWN_MEMBER_ID.code(),
        };
        if first_code == 0 {
            first_code = code;
        }
        members.push((m.member_id.clone(), m.group_instance_id.clone(), code));
    }
    ctx.shared.changed.notify_all();
    // Before v3 the one member's error is the top-level error.
    Some(LeaveGroupResponse {
        throttle_time_ms: 0,
        error_code: if req.members.len() == 1 { first_code } else { 0 },
        members,
    })
}

/// DescribeGroups, v0–v5.
///
/// Behavior:
/// - State, protocol type and chosen assignor, and each member with its client id, host, the
///   subscription for the chosen assignor and its assignment. A group only known for its
///   commits is Empty; one never seen is Dead; a consumer-protocol or share group is Dead with
///   GROUP_ID_NOT_FOUND. NOT_COORDINATOR per group on the wrong broker.
pub(super) fn describe_groups(
    ctx: &Ctx<'_>,
    _: &RequestHeader,
    req: DescribeGroupsRequest,
    _: i16,
    fault: Option<ErrorCode>,
) -> Option<DescribeGroupsResponse> {
    let st = ctx.shared.lock();
    let groups = req
        .groups
        .into_iter()
        .map(|id| {
            let mut d = DescribedGroup {
                error_code: 0,
                group_id: id.clone(),
                group_state: "Dead".into(),
                protocol_type: String::new(),
                protocol_data: String::new(),
                members: Vec::new(),
                authorized_operations: i32::MIN,
            };
            if let Err(code) = injected(fault).and_then(|_| coordinates(ctx, &st, &id)) {
                d.error_code = code.code();
                return d;
            }
            match st.groups.get(&id) {
                Some(g) => {
                    d.group_state = g.state.name().into();
                    d.protocol_type = g.protocol_type.clone().unwrap_or_default();
                    let protocol = g.protocol.clone().unwrap_or_default();
                    if g.state == GroupState::Stable {
                        d.protocol_data.clone_from(&protocol);
                    }
                    d.members = g
                        .members
                        .iter()
                        .map(|(mid, m)| DescribedMember {
                            member_id: mid.clone(),
                            group_instance_id: m.instance_id.clone(),
                            client_id: m.client_id.clone(),
                            client_host: "/127.0.0.1".into(),
                            member_metadata: m
                                .protocols
                                .iter()
                                .find(|(p, _)| *p == protocol)
                                .map(|(_, md)| md.clone())
                                .unwrap_or_default(),
                            member_assignment: m.assignment.clone(),
                        })
                        .collect();
                }
                // A group of the newer protocols is not a classic group: Kafka answers so, and
                // ConsumerGroupDescribe or ShareGroupDescribe describe it.
                None if st.consumer_groups.contains_key(&id)
                    || st.share_groups.get(&id).is_some_and(|g| g.epoch > 0) =>
                {
                    d.error_code = ErrorCode::GROUP_ID_NOT_FOUND.code();
                }
                None if st.offsets.keys().any(|k| k.0 == id) => d.group_state = "Empty".into(),
                None => {}
            }
            d
        })
        .collect();
    Some(DescribeGroupsResponse { throttle_time_ms: 0, groups })
}

/// ListGroups, v0–v5.
///
/// Behavior:
/// - The groups this broker coordinates, including those only known for their commits
///   (protocol type empty), filtered by state from v4 and by type from v5 (`classic`, or
///   `consumer` for consumer-protocol groups, which are Stable with members and Empty
///   without).
pub(super) fn list_groups(
    ctx: &Ctx<'_>,
    _: &RequestHeader,
    req: ListGroupsRequest,
    _: i16,
    fault: Option<ErrorCode>,
) -> Option<ListGroupsResponse> {
    let st = ctx.shared.lock();
    if let Some(code) = fault {
        return Some(ListGroupsResponse { throttle_time_ms: 0, error_code: code.code(), groups: Vec::new() });
    }
    let mut names: BTreeSet<&String> = st.groups.keys().collect();
    names.extend(st.offsets.keys().map(|k| &k.0));
    names.extend(st.consumer_groups.keys());
    let shares = st.share_groups.iter().filter(|(_, g)| g.epoch > 0);
    names.extend(shares.clone().map(|(n, _)| n));
    let groups = names
        .into_iter()
        .filter(|n| ctx.shared.coordinator(&st, n) == ctx.broker)
        .map(|n| match (st.consumer_groups.get(n), st.share_groups.get(n).filter(|g| g.epoch > 0)) {
            (_, Some(g)) => ListedGroup {
                group_id: n.clone(),
                protocol_type: "share".into(),
                group_state: Some(if g.members.is_empty() { "Empty" } else { "Stable" }.into()),
                group_type: Some("share".into()),
            },
            (Some(g), None) => ListedGroup {
                group_id: n.clone(),
                protocol_type: "consumer".into(),
                group_state: Some(if g.members.is_empty() { "Empty" } else { "Stable" }.into()),
                group_type: Some("consumer".into()),
            },
            (None, None) => {
                let g = st.groups.get(n);
                ListedGroup {
                    group_id: n.clone(),
                    protocol_type: g.and_then(|g| g.protocol_type.clone()).unwrap_or_default(),
                    group_state: Some(g.map_or("Empty", |g| g.state.name()).to_string()),
                    group_type: Some("classic".into()),
                }
            }
        })
        .filter(|g| req.states_filter.is_empty() || req.states_filter.iter().any(|s| Some(s) == g.group_state.as_ref()))
        .filter(|g| {
            req.types_filter.is_empty() || req.types_filter.iter().any(|t| Some(t.to_ascii_lowercase()) == g.group_type)
        })
        .collect();
    Some(ListGroupsResponse { throttle_time_ms: 0, error_code: 0, groups })
}
