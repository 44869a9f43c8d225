//! The mock's consumer-protocol groups (KIP-848): the coordinator computes every member's
//! target assignment (a uniform spread of the subscribed topics' partitions), and hands a
//! member a partition only once no other member still owns it. Plain state, no waiting: the
//! ConsumerGroupHeartbeat handler calls [`ConsumerGroup::heartbeat`].
//!
//! Epochs, simplified from Kafka's: the group epoch moves with every change of membership or
//! subscription; a member takes the group epoch once it owns nothing outside its target, and
//! keeps its old epoch while it still has partitions to give up. A heartbeat or commit with any
//! other epoch than the member's is refused (FENCED_MEMBER_EPOCH, STALE_MEMBER_EPOCH).

use crate::protocol::error_code::ErrorCode;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// How long a member may go without a heartbeat (Kafka's `group.consumer.session.timeout.ms`).
pub(crate) const SESSION_TIMEOUT: Duration = Duration::from_secs(45);
/// The heartbeat interval the mock asks for: short, so that tests converge fast.
pub(crate) const HEARTBEAT_INTERVAL: Duration = Duration::from_millis(500);

/// Partitions by topic name.
pub(crate) type Assignment = BTreeMap<String, BTreeSet<i32>>;

#[derive(Debug)]
pub(crate) struct CgMember {
    pub epoch: i32,
    pub instance_id: Option<String>,
    pub topics: Vec<String>,
    /// What the member last said it owns.
    pub owned: Assignment,
    pub target: Assignment,
    pub last_seen: Instant,
}

#[derive(Debug, Default)]
pub(crate) struct ConsumerGroup {
    pub epoch: i32,
    pub members: BTreeMap<String, CgMember>,
}

/// What a member's heartbeat carries.
#[derive(Debug)]
pub(crate) struct Beat<'a> {
    pub member_id: &'a str,
    pub epoch: i32,
    pub instance_id: Option<&'a str>,
    pub topics: Option<Vec<String>>,
    pub owned: Option<Assignment>,
}

impl ConsumerGroup {
    /// A heartbeat: joins (epoch 0), leaves (-1, -2) or reports (the member's epoch). Returns
    /// the member's epoch and the partitions it may own now. `partitions` gives a topic's
    /// partition count.
    pub fn heartbeat(
        &mut self,
        beat: Beat<'_>,
        partitions: &dyn Fn(&str) -> Option<i32>,
        now: Instant,
    ) -> Result<(i32, Assignment), ErrorCode> {
        self.expire(now, partitions);
        match beat.epoch {
            -1 | -2 => {
                if self.members.remove(beat.member_id).is_some() {
                    self.changed(partitions);
                }
                return Ok((beat.epoch, Assignment::new()));
            }
            0 => {
                if let Some(i) = beat.instance_id {
                    // A static member coming back replaces its previous incarnation.
                    let old: Vec<String> = self
                        .members
                        .iter()
                        .filter(|(id, m)| m.instance_id.as_deref() == Some(i) && id.as_str() != beat.member_id)
                        .map(|(id, _)| id.clone())
                        .collect();
                    for id in old {
                        self.members.remove(&id);
                    }
                }
                let topics = beat.topics.clone().unwrap_or_default();
                if topics.is_empty() {
                    return Err(ErrorCode::INVALID_REQUEST);
                }
                self.members.insert(
                    beat.member_id.to_string(),
                    CgMember {
                        epoch: 0,
                        instance_id: beat.instance_id.map(str::to_string),
                        topics,
                        owned: Assignment::new(),
                        target: Assignment::new(),
                        last_seen: now,
                    },
                );
                self.changed(partitions);
            }
            e => {
                let m = self.members.get(beat.member_id).ok_or(ErrorCode::UNKNOWN_MEMBER_ID)?;
                if e != m.epoch {
                    return Err(ErrorCode::FENCED_MEMBER_EPOCH);
                }
                let resubscribed = beat.topics.as_ref().is_some_and(|t| *t != m.topics);
                if let Some(t) = beat.topics.clone() {
                    self.members.get_mut(beat.member_id).expect("checked").topics = t;
                }
                if resubscribed {
                    self.changed(partitions);
                }
            }
        }
        let group_epoch = self.epoch;
        let owned_elsewhere: BTreeSet<(String, i32)> = self
            .members
            .iter()
            .filter(|(id, _)| id.as_str() != beat.member_id)
            .flat_map(|(_, m)| m.owned.iter().flat_map(|(t, ps)| ps.iter().map(move |p| (t.clone(), *p))))
            .collect();
        let m = self.members.get_mut(beat.member_id).expect("present");
        m.last_seen = now;
        if let Some(owned) = beat.owned {
            m.owned = owned;
        }
        let keeps_only_its_own =
            m.owned.iter().all(|(t, ps)| ps.iter().all(|p| m.target.get(t).is_some_and(|x| x.contains(p))));
        let visible: Assignment = if keeps_only_its_own {
            m.epoch = group_epoch;
            // Its whole target, but what another member has yet to give up.
            m.target
                .iter()
                .map(|(t, ps)| {
                    (t.clone(), ps.iter().copied().filter(|p| !owned_elsewhere.contains(&(t.clone(), *p))).collect())
                })
                .collect()
        } else {
            // Give up first: what it may keep.
            m.owned
                .iter()
                .map(|(t, ps)| {
                    (t.clone(), ps.iter().copied().filter(|p| m.target.get(t).is_some_and(|x| x.contains(p))).collect())
                })
                .collect()
        };
        let visible = visible.into_iter().filter(|(_, ps): &(String, BTreeSet<i32>)| !ps.is_empty()).collect();
        Ok((m.epoch, visible))
    }

    /// Checks a commit's member and epoch (OffsetCommit v9 and TxnOffsetCommit).
    pub fn check_commit(&self, member_id: &str, epoch: i32) -> Result<(), ErrorCode> {
        let m = self.members.get(member_id).ok_or(ErrorCode::UNKNOWN_MEMBER_ID)?;
        if epoch != m.epoch {
            return Err(ErrorCode::STALE_MEMBER_EPOCH);
        }
        Ok(())
    }

    /// Drops the members whose session expired.
    pub fn expire(&mut self, now: Instant, partitions: &dyn Fn(&str) -> Option<i32>) {
        let before = self.members.len();
        self.members.retain(|_, m| now.duration_since(m.last_seen) < SESSION_TIMEOUT);
        if self.members.len() != before {
            self.changed(partitions);
        }
    }

    /// Membership or subscriptions changed: a new group epoch and targets, each partition of a
    /// subscribed topic to one member subscribed to it, spread evenly in member id order.
    fn changed(&mut self, partitions: &dyn Fn(&str) -> Option<i32>) {
        self.epoch += 1;
        let topics: BTreeSet<String> = self.members.values().flat_map(|m| m.topics.iter().cloned()).collect();
        for m in self.members.values_mut() {
            m.target.clear();
        }
        let mut load: BTreeMap<String, usize> = self.members.keys().map(|id| (id.clone(), 0)).collect();
        for t in topics {
            for p in 0..partitions(&t).unwrap_or(0) {
                let Some(id) = self
                    .members
                    .iter()
                    .filter(|(_, m)| m.topics.contains(&t))
                    .min_by_key(|(id, _)| (load[id.as_str()], id.as_str()))
                    .map(|(id, _)| id.clone())
                else {
                    continue;
                };
                *load.get_mut(&id).expect("member") += 1;
                self.members.get_mut(&id).expect("member").target.entry(t.clone()).or_default().insert(p);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn beat<'a>(id: &'a str, epoch: i32, owned: Option<Assignment>) -> Beat<'a> {
        Beat { member_id: id, epoch, instance_id: None, topics: Some(vec!["t".into()]), owned }
    }

    fn parts(ps: &[i32]) -> Assignment {
        [("t".to_string(), ps.iter().copied().collect())].into()
    }

    #[test]
    fn partitions_move_only_once_their_owner_gave_them_up() {
        let four = |_: &str| Some(4);
        let now = Instant::now();
        let mut g = ConsumerGroup::default();
        let (ea, a) = g.heartbeat(beat("a", 0, None), &four, now).unwrap();
        assert_eq!(a, parts(&[0, 1, 2, 3]));
        let (ea, _) = g.heartbeat(beat("a", ea, Some(parts(&[0, 1, 2, 3]))), &four, now).unwrap();
        // b joins: the target splits, but a still owns everything.
        let (eb, b) = g.heartbeat(beat("b", 0, None), &four, now).unwrap();
        assert_eq!(b, Assignment::new(), "nothing free yet");
        let (ea2, a) = g.heartbeat(beat("a", ea, Some(parts(&[0, 1, 2, 3]))), &four, now).unwrap();
        assert_eq!((ea2, a.clone()), (ea, parts(&[0, 2])), "a keeps its epoch and is told to give up 1 and 3");
        let (ea3, a) = g.heartbeat(beat("a", ea2, Some(a)), &four, now).unwrap();
        assert!(ea3 > ea2, "having given up, a takes the group epoch");
        assert_eq!(a, parts(&[0, 2]));
        let (eb2, b) = g.heartbeat(beat("b", eb, Some(Assignment::new())), &four, now).unwrap();
        assert_eq!((eb2, b), (ea3, parts(&[1, 3])), "freed, 1 and 3 go to b");
        assert_eq!(g.check_commit("b", eb2), Ok(()));
        assert_eq!(g.check_commit("b", eb2 - 1), Err(ErrorCode::STALE_MEMBER_EPOCH));
        assert_eq!(g.heartbeat(beat("b", eb2 + 5, None), &four, now), Err(ErrorCode::FENCED_MEMBER_EPOCH));
        assert_eq!(g.heartbeat(beat("c", 3, None), &four, now), Err(ErrorCode::UNKNOWN_MEMBER_ID));
        // b leaves; its partitions go back to a, and an expired a frees everything.
        g.heartbeat(beat("b", -1, None), &four, now).unwrap();
        let (_, a) = g.heartbeat(beat("a", ea3, Some(parts(&[0, 2]))), &four, now).unwrap();
        assert_eq!(a, parts(&[0, 1, 2, 3]));
        g.expire(now + SESSION_TIMEOUT, &four);
        assert!(g.members.is_empty());
    }
}
