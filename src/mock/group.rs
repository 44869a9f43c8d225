//! The mock's classic group coordinator: the group states and transitions of Kafka's own
//! (Empty → PreparingRebalance → CompletingRebalance → Stable), without the waiting. The
//! handlers wait on the cluster's condition variable and call these to move the group on.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

/// A group's state, named as DescribeGroups names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GroupState {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
}

impl GroupState {
    pub fn name(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Member {
    pub instance_id: Option<String>,
    pub client_id: String,
    pub session_timeout: Duration,
    pub rebalance_timeout: Duration,
    pub protocols: Vec<(String, Vec<u8>)>,
    pub last_seen: Instant,
    /// The round this member last joined in.
    pub joined_round: u64,
    /// Order of first join, to pick a leader the way Kafka does (the first to join).
    pub seq: u64,
    pub assignment: Vec<u8>,
}

#[derive(Debug)]
pub(crate) struct Group {
    pub state: GroupState,
    pub generation: i32,
    pub protocol_type: Option<String>,
    pub protocol: Option<String>,
    pub leader: Option<String>,
    pub members: BTreeMap<String, Member>,
    /// Ids handed out with MEMBER_ID_REQUIRED, not yet joined, with when they expire.
    pub pending: HashMap<String, Instant>,
    /// Static instance id → member id.
    pub statics: HashMap<String, String>,
    /// Incremented when a rebalance starts; a round completes when every member joined it.
    pub round: u64,
    pub completed_round: u64,
    pub round_deadline: Instant,
    next_seq: u64,
}

impl Group {
    pub fn new(now: Instant) -> Group {
        Group {
            state: GroupState::Empty,
            generation: 0,
            protocol_type: None,
            protocol: None,
            leader: None,
            members: BTreeMap::new(),
            pending: HashMap::new(),
            statics: HashMap::new(),
            round: 0,
            completed_round: 0,
            round_deadline: now,
            next_seq: 0,
        }
    }

    /// Adds or updates a member joining the current round.
    pub fn join(&mut self, id: &str, mut m: Member) {
        m.joined_round = self.round;
        m.seq = match self.members.get(id) {
            Some(old) => old.seq,
            None => {
                self.next_seq += 1;
                self.next_seq
            }
        };
        if let Some(i) = &m.instance_id {
            self.statics.insert(i.clone(), id.to_string());
        }
        self.pending.remove(id);
        self.members.insert(id.to_string(), m);
    }

    /// Starts a rebalance unless one is under way: members must join again by the deadline.
    pub fn start_round(&mut self, now: Instant) {
        if self.state == GroupState::PreparingRebalance {
            return;
        }
        self.round += 1;
        self.state = GroupState::PreparingRebalance;
        let longest = self.members.values().map(|m| m.rebalance_timeout).max().unwrap_or_default();
        self.round_deadline = now + longest;
    }

    pub fn all_joined(&self) -> bool {
        self.members.values().all(|m| m.joined_round == self.round)
    }

    /// Ends the join phase: members that didn't join are dropped, the generation moves on, the
    /// protocol is chosen by vote, and the leader is kept or the earliest member takes over.
    pub fn complete_round(&mut self, now: Instant) {
        let round = self.round;
        self.members.retain(|_, m| m.joined_round == round);
        let live: Vec<String> = self.members.keys().cloned().collect();
        self.statics.retain(|_, id| live.contains(id));
        self.completed_round = round;
        self.generation += 1;
        if self.members.is_empty() {
            self.state = GroupState::Empty;
            self.leader = None;
            self.protocol = None;
            return;
        }
        self.protocol = self.vote();
        if !self.leader.as_ref().is_some_and(|l| self.members.contains_key(l)) {
            self.leader = self.members.iter().min_by_key(|(_, m)| m.seq).map(|(id, _)| id.clone());
        }
        for m in self.members.values_mut() {
            m.last_seen = now;
            m.assignment.clear();
        }
        self.state = GroupState::CompletingRebalance;
    }

    /// The protocol every member supports that most members prefer (Kafka's vote).
    fn vote(&self) -> Option<String> {
        let first = self.members.values().next()?;
        let candidates: Vec<&String> = first
            .protocols
            .iter()
            .map(|(n, _)| n)
            .filter(|n| self.members.values().all(|m| m.protocols.iter().any(|(p, _)| p == *n)))
            .collect();
        let mut votes: BTreeMap<&String, usize> = BTreeMap::new();
        for m in self.members.values() {
            if let Some((n, _)) = m.protocols.iter().find(|(p, _)| candidates.contains(&p)) {
                *votes.entry(n).or_default() += 1;
            }
        }
        // The most votes wins; a tie goes to the earliest candidate.
        let mut best: Option<(&String, usize)> = None;
        for c in candidates {
            let v = votes.get(c).copied().unwrap_or(0);
            if best.is_none_or(|(_, b)| v > b) {
                best = Some((c, v));
            }
        }
        best.map(|(c, _)| c.clone())
    }

    /// Whether a joining member's protocols are compatible with the group's.
    pub fn accepts(&self, protocol_type: &str, protocols: &[(String, Vec<u8>)]) -> bool {
        if self.members.is_empty() {
            return true;
        }
        self.protocol_type.as_deref() == Some(protocol_type)
            && protocols.iter().any(|(p, _)| self.members.values().all(|m| m.protocols.iter().any(|(q, _)| q == p)))
    }

    /// Removes a member; the others must rebalance.
    pub fn remove(&mut self, id: &str, now: Instant) {
        if self.members.remove(id).is_some() {
            self.statics.retain(|_, m| m != id);
            if self.members.is_empty() {
                self.round += 1;
                self.complete_round(now);
            } else {
                self.start_round(now);
            }
        }
    }

    /// Drops members whose session ran out and ends a join phase whose deadline passed.
    /// Returns whether anything changed.
    pub fn expire(&mut self, now: Instant) -> bool {
        let before = (self.members.len(), self.state, self.generation, self.pending.len());
        self.pending.retain(|_, until| *until > now);
        match self.state {
            GroupState::Stable | GroupState::CompletingRebalance => {
                let dead: Vec<String> = self
                    .members
                    .iter()
                    .filter(|(_, m)| now.duration_since(m.last_seen) > m.session_timeout)
                    .map(|(id, _)| id.clone())
                    .collect();
                for id in dead {
                    self.remove(&id, now);
                }
            }
            GroupState::PreparingRebalance => {
                // A member that hasn't rejoined and whose session ran out is gone (Kafka keeps
                // its heartbeat timer running during the join phase).
                let round = self.round;
                let dead: Vec<String> = self
                    .members
                    .iter()
                    .filter(|(_, m)| m.joined_round != round && now.duration_since(m.last_seen) > m.session_timeout)
                    .map(|(id, _)| id.clone())
                    .collect();
                for id in dead {
                    self.members.remove(&id);
                    self.statics.retain(|_, m| *m != id);
                }
                if now >= self.round_deadline || self.all_joined() {
                    self.complete_round(now);
                }
            }
            _ => {}
        }
        before != (self.members.len(), self.state, self.generation, self.pending.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(protocols: &[&str], now: Instant) -> Member {
        Member {
            instance_id: None,
            client_id: "c".into(),
            session_timeout: Duration::from_secs(10),
            rebalance_timeout: Duration::from_secs(5),
            protocols: protocols.iter().map(|p| (p.to_string(), vec![])).collect(),
            last_seen: now,
            joined_round: 0,
            seq: 0,
            assignment: vec![],
        }
    }

    #[test]
    fn a_round_completes_when_everyone_rejoined_and_the_first_member_leads() {
        let now = Instant::now();
        let mut g = Group::new(now);
        g.start_round(now);
        g.join("a", member(&["range", "roundrobin"], now));
        assert!(g.all_joined());
        g.complete_round(now);
        assert_eq!((g.state, g.generation, g.leader.as_deref()), (GroupState::CompletingRebalance, 1, Some("a")));
        g.state = GroupState::Stable;
        // b joins: a must rejoin before the round completes.
        g.start_round(now);
        g.join("b", member(&["roundrobin", "range"], now));
        assert!(!g.all_joined());
        g.join("a", member(&["range", "roundrobin"], now));
        assert!(g.all_joined());
        g.complete_round(now);
        assert_eq!(g.generation, 2);
        assert_eq!(g.leader.as_deref(), Some("a"));
        assert_eq!(g.protocol.as_deref(), Some("range"), "a tie goes to the first candidate");
    }

    #[test]
    fn members_that_miss_the_deadline_or_their_session_are_dropped() {
        let now = Instant::now();
        let mut g = Group::new(now);
        g.start_round(now);
        g.join("a", member(&["range"], now));
        g.join("b", member(&["range"], now));
        g.complete_round(now);
        g.state = GroupState::Stable;
        g.start_round(now);
        g.join("b", member(&["range"], now));
        assert!(!g.expire(now + Duration::from_secs(1)), "before the deadline nothing changes");
        assert!(g.expire(now + Duration::from_secs(6)));
        assert_eq!(g.members.keys().collect::<Vec<_>>(), ["b"]);
        assert_eq!(g.leader.as_deref(), Some("b"));
        g.state = GroupState::Stable;
        assert!(g.expire(now + Duration::from_secs(20)), "b's session ran out");
        assert_eq!(g.state, GroupState::Empty);
    }

    #[test]
    fn incompatible_protocols_are_refused() {
        let now = Instant::now();
        let mut g = Group::new(now);
        g.protocol_type = Some("consumer".into());
        g.join("a", member(&["range"], now));
        assert!(g.accepts("consumer", &[("range".into(), vec![])]));
        assert!(!g.accepts("consumer", &[("roundrobin".into(), vec![])]));
        assert!(!g.accepts("connect", &[("range".into(), vec![])]));
    }
}
