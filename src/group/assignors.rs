//! Partition assignors, as pure functions: the group leader runs one over every member's
//! subscription and hands out the result. They follow the Java client's documented algorithms
//! (RangeAssignor, RoundRobinAssignor, CooperativeStickyAssignor) so that a group mixing
//! plainkafka, Java and librdkafka members divides partitions the same way whoever leads.

use crate::protocol::consumer_protocol::{Subscription, TopicPartitions};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

/// How a group divides partitions between its members.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Assignor {
    /// Per topic, contiguous ranges of partitions; the first members get one extra when the
    /// count doesn't divide (PyKafka's RangeProtocol, Kafka's `range`). Eager rebalancing.
    Range,
    /// Every partition of every topic dealt out in turn (PyKafka's RoundRobinProtocol, Kafka's
    /// `roundrobin`). Eager rebalancing.
    RoundRobin,
    /// Balanced, keeping partitions where they are, and moving them in two steps so that no
    /// member stops reading the partitions it keeps (KIP-429, Kafka's `cooperative-sticky`).
    CooperativeSticky,
}

impl Assignor {
    /// The protocol name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            Assignor::Range => "range",
            Assignor::RoundRobin => "roundrobin",
            Assignor::CooperativeSticky => "cooperative-sticky",
        }
    }

    /// The assignor with wire name `name`.
    pub fn from_name(name: &str) -> Option<Assignor> {
        [Assignor::Range, Assignor::RoundRobin, Assignor::CooperativeSticky].into_iter().find(|a| a.name() == name)
    }

    /// Whether members keep their partitions during a rebalance (incremental protocol).
    pub fn cooperative(self) -> bool {
        self == Assignor::CooperativeSticky
    }

    /// Computes the assignment: member id → its partitions. `partitions` gives each topic's
    /// partition count; topics missing from it are not assigned.
    pub fn assign(
        self,
        members: &[MemberInfo],
        partitions: &BTreeMap<String, i32>,
    ) -> BTreeMap<String, TopicPartitions> {
        let mut sorted: Vec<&MemberInfo> = members.iter().collect();
        sorted.sort_by(|a, b| a.order(b));
        let mut out: BTreeMap<String, TopicPartitions> =
            members.iter().map(|m| (m.member_id.clone(), TopicPartitions::new())).collect();
        match self {
            Assignor::Range => range(&sorted, partitions, &mut out),
            Assignor::RoundRobin => round_robin(&sorted, partitions, &mut out),
            Assignor::CooperativeSticky => cooperative_sticky(&sorted, partitions, &mut out),
        }
        for tps in out.values_mut() {
            tps.retain(|_, ps| !ps.is_empty());
            for ps in tps.values_mut() {
                ps.sort_unstable();
            }
        }
        out
    }
}

impl std::fmt::Display for Assignor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A member as the leader's assignor sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberInfo {
    /// Member id.
    pub member_id: String,
    /// Static membership id.
    pub group_instance_id: Option<String>,
    /// Subscribed topics.
    pub topics: BTreeSet<String>,
    /// Partitions it owns now (cooperative members report them).
    pub owned: TopicPartitions,
    /// The generation `owned` belongs to, -1 if unknown.
    pub generation: i32,
}

impl MemberInfo {
    /// A member as its JoinGroup subscription describes it. The generation of what it owns is
    /// the subscription's (v2+), or the 4 bytes the Java cooperative-sticky assignor puts in
    /// its user data, or -1.
    pub fn from_subscription(member_id: &str, group_instance_id: Option<&str>, sub: Subscription) -> MemberInfo {
        let generation = if sub.generation_id >= 0 {
            sub.generation_id
        } else {
            sub.user_data.as_deref().and_then(|u| u.try_into().ok()).map_or(-1, i32::from_be_bytes)
        };
        MemberInfo {
            member_id: member_id.to_string(),
            group_instance_id: group_instance_id.map(str::to_string),
            topics: sub.topics.into_iter().collect(),
            owned: sub.owned_partitions,
            generation,
        }
    }

    /// The Java client's member order: static members first by instance id, then dynamic
    /// members by member id.
    fn order(&self, other: &MemberInfo) -> Ordering {
        match (&self.group_instance_id, &other.group_instance_id) {
            (Some(a), Some(b)) => a.cmp(b),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => self.member_id.cmp(&other.member_id),
        }
    }
}

/// The leader's work on members' JoinGroup payloads as they arrive (`metadata`, possibly
/// hostile), for topics of `counts` partitions: decode each (a member whose payload doesn't
/// decode is left out, as the leader would refuse it), assign with every assignor, and check
/// what any input must give: no partition to two members, to a member not subscribed to its
/// topic, or outside its topic; with the eager assignors, every partition of a subscribed
/// topic assigned. For the fuzz targets (feature `unstable`) and the unit tests.
#[cfg(any(test, feature = "unstable"))]
pub fn check_leader_assignment(metadata: &[&[u8]], counts: &BTreeMap<String, i32>) -> Result<(), String> {
    let members: Vec<MemberInfo> = metadata
        .iter()
        .enumerate()
        .filter_map(|(i, m)| {
            let sub = Subscription::decode(m).ok()?;
            let instance = (i % 2 == 1).then(|| format!("static-{i}"));
            Some(MemberInfo::from_subscription(&format!("member-{i}"), instance.as_deref(), sub))
        })
        .collect();
    for assignor in [Assignor::Range, Assignor::RoundRobin, Assignor::CooperativeSticky] {
        let plan = assignor.assign(&members, counts);
        let mut owner: BTreeMap<(&str, i32), &str> = BTreeMap::new();
        for (member, tps) in &plan {
            let info =
                members.iter().find(|m| &m.member_id == member).ok_or(format!("{assignor}: unknown {member}"))?;
            for (topic, ps) in tps {
                if !info.topics.contains(topic) {
                    return Err(format!("{assignor}: {member} got {topic}, which it did not subscribe to"));
                }
                let count = counts.get(topic).copied().unwrap_or(0);
                for &p in ps {
                    if !(0..count).contains(&p) {
                        return Err(format!("{assignor}: {member} got {topic}/{p}, outside its {count} partitions"));
                    }
                    if let Some(other) = owner.insert((topic, p), member) {
                        return Err(format!("{assignor}: {topic}/{p} went to {other} and {member}"));
                    }
                }
            }
        }
        if !assignor.cooperative() {
            for (topic, &count) in counts {
                if members.iter().any(|m| m.topics.contains(topic)) {
                    if let Some(p) = (0..count).find(|p| !owner.contains_key(&(topic.as_str(), *p))) {
                        return Err(format!("{assignor}: {topic}/{p} was assigned to nobody"));
                    }
                }
            }
        }
    }
    Ok(())
}

fn give(out: &mut BTreeMap<String, TopicPartitions>, member: &str, topic: &str, partition: i32) {
    out.entry(member.to_string()).or_default().entry(topic.to_string()).or_default().push(partition);
}

fn range(sorted: &[&MemberInfo], partitions: &BTreeMap<String, i32>, out: &mut BTreeMap<String, TopicPartitions>) {
    for (topic, &count) in partitions {
        let subscribed: Vec<&&MemberInfo> = sorted.iter().filter(|m| m.topics.contains(topic)).collect();
        if subscribed.is_empty() || count <= 0 {
            continue;
        }
        let n = subscribed.len() as i32;
        let (per, extra) = (count / n, count % n);
        for (i, m) in subscribed.iter().enumerate() {
            let i = i as i32;
            let start = per * i + i.min(extra);
            let len = per + i32::from(i < extra);
            for p in start..start + len {
                give(out, &m.member_id, topic, p);
            }
        }
    }
}

fn round_robin(
    sorted: &[&MemberInfo],
    partitions: &BTreeMap<String, i32>,
    out: &mut BTreeMap<String, TopicPartitions>,
) {
    if sorted.is_empty() {
        return;
    }
    let mut next = 0;
    for (topic, &count) in partitions {
        if !sorted.iter().any(|m| m.topics.contains(topic)) {
            continue;
        }
        for p in 0..count.max(0) {
            // Walk the circle to the next member subscribed to this topic.
            while !sorted[next % sorted.len()].topics.contains(topic) {
                next += 1;
            }
            give(out, &sorted[next % sorted.len()].member_id, topic, p);
            next += 1;
        }
    }
}

/// Sticky and balanced: members keep valid owned partitions (no more than a balanced share),
/// free partitions go to the least-loaded subscribed member, then partitions move from the
/// most- to the least-loaded member until no move narrows the gap. Finally, as KIP-429 asks, a
/// partition changing owner is withheld from its new owner this round: the old owner revokes
/// it, rejoins, and the next rebalance hands it over.
fn cooperative_sticky(
    sorted: &[&MemberInfo],
    partitions: &BTreeMap<String, i32>,
    out: &mut BTreeMap<String, TopicPartitions>,
) {
    if sorted.is_empty() {
        return;
    }
    let exists = |t: &str, p: i32| partitions.get(t).is_some_and(|&n| p >= 0 && p < n);
    // Who owned what: a partition claimed by two members goes to the newer generation, and to
    // nobody on a tie.
    let mut claims: BTreeMap<(String, i32), Vec<(i32, usize)>> = BTreeMap::new();
    for (i, m) in sorted.iter().enumerate() {
        for (t, ps) in &m.owned {
            for &p in ps {
                if m.topics.contains(t) && exists(t, p) {
                    claims.entry((t.clone(), p)).or_default().push((m.generation, i));
                }
            }
        }
    }
    let mut previous: BTreeMap<(String, i32), usize> = BTreeMap::new();
    for (tp, mut c) in claims {
        c.sort_by_key(|claim| std::cmp::Reverse(claim.0));
        if c.len() == 1 || c[0].0 > c[1].0 {
            previous.insert(tp, c[0].1);
        }
    }
    let all: Vec<(String, i32)> =
        partitions.iter().flat_map(|(t, &n)| (0..n.max(0)).map(move |p| (t.clone(), p))).collect();
    let eligible = |i: usize, t: &str| sorted[i].topics.contains(t);
    let total_eligible = all.iter().filter(|(t, _)| sorted.iter().any(|m| m.topics.contains(t))).count();
    // A balanced share: nobody keeps more than this many of its old partitions.
    let cap = total_eligible.div_ceil(sorted.len());
    let mut owner: BTreeMap<(String, i32), usize> = BTreeMap::new();
    let mut load = vec![0usize; sorted.len()];
    for (tp, &i) in &previous {
        if load[i] < cap {
            owner.insert(tp.clone(), i);
            load[i] += 1;
        }
    }
    // Free partitions, those with the fewest candidates first, to the least-loaded candidate.
    let mut free: Vec<&(String, i32)> = all.iter().filter(|tp| !owner.contains_key(*tp)).collect();
    free.sort_by_key(|(t, p)| ((0..sorted.len()).filter(|&i| eligible(i, t)).count(), t.clone(), *p));
    for tp in free {
        let best = (0..sorted.len()).filter(|&i| eligible(i, &tp.0)).min_by_key(|&i| (load[i], i));
        if let Some(i) = best {
            owner.insert(tp.clone(), i);
            load[i] += 1;
        }
    }
    // Even out what different subscriptions left unbalanced, one move at a time; each move
    // lowers the sum of squared loads, so this ends.
    loop {
        let mut moved = false;
        let mut by_load: Vec<usize> = (0..sorted.len()).collect();
        by_load.sort_by_key(|&i| std::cmp::Reverse(load[i]));
        'search: for &from in &by_load {
            for (tp, o) in owner.iter_mut() {
                if *o != from {
                    continue;
                }
                let to = (0..sorted.len())
                    .filter(|&j| eligible(j, &tp.0) && load[j] + 1 < load[from])
                    .min_by_key(|&j| (load[j], j));
                if let Some(to) = to {
                    *o = to;
                    load[from] -= 1;
                    load[to] += 1;
                    moved = true;
                    break 'search;
                }
            }
        }
        if !moved {
            break;
        }
    }
    for ((t, p), i) in owner {
        let handed_over = previous.get(&(t.clone(), p)).is_some_and(|&prev| prev != i);
        if !handed_over {
            give(out, &sorted[i].member_id, &t, p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: &str, topics: &[&str]) -> MemberInfo {
        MemberInfo {
            member_id: id.into(),
            group_instance_id: None,
            topics: topics.iter().map(|t| t.to_string()).collect(),
            owned: TopicPartitions::new(),
            generation: -1,
        }
    }

    fn counts(list: &[(&str, i32)]) -> BTreeMap<String, i32> {
        list.iter().map(|(t, n)| (t.to_string(), *n)).collect()
    }

    /// The assignment as "member: topic-partition ..." lines, for hand-checked tables.
    fn show(a: &BTreeMap<String, TopicPartitions>) -> Vec<String> {
        a.iter()
            .map(|(m, tps)| {
                let parts: Vec<String> =
                    tps.iter().flat_map(|(t, ps)| ps.iter().map(move |p| format!("{t}{p}"))).collect();
                format!("{m}: {}", parts.join(" "))
            })
            .collect()
    }

    #[test]
    fn range_gives_contiguous_ranges_with_the_extras_first() {
        let members = [member("c1", &["t0", "t1"]), member("c0", &["t0", "t1"])];
        let a = Assignor::Range.assign(&members, &counts(&[("t0", 3), ("t1", 3)]));
        // Kafka's documented example: C0 gets t0p0 t0p1 t1p0 t1p1, C1 gets t0p2 t1p2.
        assert_eq!(show(&a), ["c0: t00 t01 t10 t11", "c1: t02 t12"]);

        let three = [member("a", &["t"]), member("b", &["t"]), member("c", &["t"])];
        let a = Assignor::Range.assign(&three, &counts(&[("t", 7)]));
        assert_eq!(show(&a), ["a: t0 t1 t2", "b: t3 t4", "c: t5 t6"]);
        let a = Assignor::Range.assign(&three, &counts(&[("t", 2)]));
        assert_eq!(show(&a), ["a: t0", "b: t1", "c: "], "more members than partitions");
    }

    #[test]
    fn round_robin_deals_across_topics_and_skips_unsubscribed_members() {
        let members = [member("c0", &["t0", "t1"]), member("c1", &["t0", "t1"])];
        let a = Assignor::RoundRobin.assign(&members, &counts(&[("t0", 3), ("t1", 3)]));
        // Kafka's documented example: C0 gets t0p0 t0p2 t1p1, C1 gets t0p1 t1p0 t1p2.
        assert_eq!(show(&a), ["c0: t00 t02 t11", "c1: t01 t10 t12"]);

        // Kafka's second example: C0 on t0; C1 on t0,t1; C2 on t0,t1,t2 (1, 2, 3 partitions).
        let members = [member("c0", &["t0"]), member("c1", &["t0", "t1"]), member("c2", &["t0", "t1", "t2"])];
        let a = Assignor::RoundRobin.assign(&members, &counts(&[("t0", 1), ("t1", 2), ("t2", 3)]));
        assert_eq!(show(&a), ["c0: t00", "c1: t10", "c2: t11 t20 t21 t22"]);
    }

    #[test]
    fn static_members_sort_first_by_instance_id() {
        let mut a = member("zzz", &["t"]);
        a.group_instance_id = Some("b".into());
        let mut b = member("aaa", &["t"]);
        b.group_instance_id = Some("a".into());
        let c = member("000", &["t"]);
        let out = Assignor::Range.assign(&[a, b, c], &counts(&[("t", 3)]));
        assert_eq!(show(&out), ["000: t2", "aaa: t0", "zzz: t1"]);
    }

    #[test]
    fn sticky_balances_a_fresh_group() {
        let members = [member("a", &["t"]), member("b", &["t"]), member("c", &["t"])];
        let a = Assignor::CooperativeSticky.assign(&members, &counts(&[("t", 7)]));
        assert_eq!(show(&a), ["a: t0 t3 t6", "b: t1 t4", "c: t2 t5"]);
    }

    #[test]
    fn sticky_keeps_owned_partitions_and_withholds_handovers_for_one_round() {
        // a owned everything; b joins. a keeps half; the other half is taken from a now but
        // reaches b only in the next round, after a has revoked it.
        let mut a = member("a", &["t"]);
        a.owned = [("t".to_string(), vec![0, 1, 2, 3])].into();
        a.generation = 5;
        let b = member("b", &["t"]);
        let out = Assignor::CooperativeSticky.assign(&[a.clone(), b.clone()], &counts(&[("t", 4)]));
        assert_eq!(show(&out), ["a: t0 t1", "b: "]);
        // Next round: a owns 0,1; b gets 2,3.
        a.owned = [("t".to_string(), vec![0, 1])].into();
        let out = Assignor::CooperativeSticky.assign(&[a.clone(), b], &counts(&[("t", 4)]));
        assert_eq!(show(&out), ["a: t0 t1", "b: t2 t3"]);
        // A member leaves: its partitions go to the others; nobody else moves.
        let mut b = member("b", &["t"]);
        b.owned = [("t".to_string(), vec![2, 3])].into();
        b.generation = 6;
        let c = member("c", &["t"]);
        let out = Assignor::CooperativeSticky.assign(&[b, c], &counts(&[("t", 4)]));
        assert_eq!(show(&out), ["b: t2 t3", "c: t0 t1"]);
    }

    #[test]
    fn sticky_resolves_double_claims_by_generation() {
        let mut a = member("a", &["t"]);
        a.owned = [("t".to_string(), vec![0, 1])].into();
        a.generation = 3;
        let mut b = member("b", &["t"]);
        b.owned = [("t".to_string(), vec![1])].into();
        b.generation = 4;
        let out = Assignor::CooperativeSticky.assign(&[a, b], &counts(&[("t", 2)]));
        assert_eq!(show(&out), ["a: t0", "b: t1"]);
    }

    #[test]
    fn sticky_balances_members_with_different_subscriptions() {
        // a reads t1 and t2; b only t1; c only t2. Everyone ends with two.
        let members = [member("a", &["t1", "t2"]), member("b", &["t1"]), member("c", &["t2"])];
        let out = Assignor::CooperativeSticky.assign(&members, &counts(&[("t1", 3), ("t2", 3)]));
        let loads: Vec<usize> = out.values().map(|tps| tps.values().map(Vec::len).sum()).collect();
        assert_eq!(loads, [2, 2, 2], "{:?}", show(&out));
        for (m, tps) in &out {
            let subscribed = &members.iter().find(|x| &x.member_id == m).unwrap().topics;
            assert!(tps.keys().all(|t| subscribed.contains(t)), "{m} got a topic it doesn't read");
        }
    }

    #[test]
    fn every_assignor_covers_each_partition_once_for_uneven_counts() {
        for assignor in [Assignor::Range, Assignor::RoundRobin, Assignor::CooperativeSticky] {
            for n_members in 1..=5 {
                for n_parts in 0..=9 {
                    let members: Vec<MemberInfo> =
                        (0..n_members).map(|i| member(&format!("m{i}"), &["x", "y"])).collect();
                    let out = assignor.assign(&members, &counts(&[("x", n_parts), ("y", 2)]));
                    let mut seen = BTreeSet::new();
                    for tps in out.values() {
                        for (t, ps) in tps {
                            for p in ps {
                                assert!(seen.insert((t.clone(), *p)), "{assignor}: {t}/{p} twice");
                            }
                        }
                    }
                    assert_eq!(seen.len(), n_parts as usize + 2, "{assignor} {n_members} {n_parts}");
                    if assignor != Assignor::Range {
                        let loads: Vec<usize> = out.values().map(|t| t.values().map(Vec::len).sum()).collect();
                        let (lo, hi) = (loads.iter().min().unwrap(), loads.iter().max().unwrap());
                        assert!(hi - lo <= 1, "{assignor} unbalanced: {loads:?}");
                    }
                }
            }
        }
    }

    /// Hostile subscriptions: owned partitions claimed twice, outside their topic, negative,
    /// for topics not subscribed, with every generation; payloads cut short or with bytes
    /// flipped. The leader's assignment stays consistent for all of them.
    #[test]
    fn hostile_subscriptions_never_break_the_leaders_assignment() {
        let counts = counts(&[("x", 5), ("y", 3)]);
        let sub = |topics: &[&str], owned: &[(&str, &[i32])], generation: i32| {
            Subscription {
                topics: topics.iter().map(|t| t.to_string()).collect(),
                user_data: None,
                owned_partitions: owned.iter().map(|(t, ps)| (t.to_string(), ps.to_vec())).collect(),
                generation_id: generation,
                rack_id: None,
            }
            .encode(crate::protocol::consumer_protocol::VERSION)
        };
        let payloads = [
            sub(&["x", "y"], &[("x", &[0, 1, 1, 7, -1, i32::MAX]), ("z", &[0])], 5),
            sub(&["x"], &[("x", &[0, 1]), ("y", &[0])], 5),
            sub(&["y"], &[("y", &[0, 1, 2])], i32::MAX),
            sub(&[], &[("x", &[2])], -1),
            sub(&["x", "x", "y"], &[], i32::MIN),
        ];
        let refs: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
        check_leader_assignment(&refs, &counts).unwrap();
        // Every prefix, and every byte set to boundary values, of each payload.
        for i in 0..payloads.len() {
            for cut in 0..payloads[i].len() {
                let mut refs = refs.clone();
                refs[i] = &payloads[i][..cut];
                check_leader_assignment(&refs, &counts).unwrap();
            }
            for at in 0..payloads[i].len() {
                for v in [0x00, 0x01, 0x7f, 0x80, 0xff] {
                    let mut changed = payloads[i].clone();
                    changed[at] = v;
                    let mut refs = refs.clone();
                    refs[i] = &changed;
                    check_leader_assignment(&refs, &counts).unwrap();
                }
            }
        }
    }

    #[test]
    fn names_round_trip() {
        for a in [Assignor::Range, Assignor::RoundRobin, Assignor::CooperativeSticky] {
            assert_eq!(Assignor::from_name(a.name()), Some(a));
        }
        assert_eq!(Assignor::from_name("sticky"), None);
    }
}
