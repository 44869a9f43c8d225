//! The mock's share groups (KIP-932): membership, and per partition the records in flight:
//! which are acquired by whom until when, how many times each was delivered, which came back.
//! Plain state, no waiting and no clock of its own: the ShareGroupHeartbeat, ShareFetch and
//! ShareAcknowledge handlers call in with the time.
//!
//! Simplified from Kafka's: every member is assigned every partition of the topics it
//! subscribes to (records, not partitions, are what members share); the share-partition start
//! offset is the first offset not yet accepted, rejected or archived; a member that leaves, or
//! whose share session closes, gives its acquired records back at once.

use crate::protocol::error_code::ErrorCode;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// How long a member may go without a heartbeat (`group.share.session.timeout.ms`).
pub(crate) const SESSION_TIMEOUT: Duration = Duration::from_secs(45);
/// The heartbeat interval the mock asks for.
pub(crate) const HEARTBEAT_INTERVAL: Duration = Duration::from_millis(500);

/// Acknowledgement types on the wire.
pub(crate) const GAP: i8 = 0;
pub(crate) const ACCEPT: i8 = 1;
pub(crate) const RELEASE: i8 = 2;
pub(crate) const REJECT: i8 = 3;
pub(crate) const RENEW: i8 = 4;

/// A share group's settings, changed with IncrementalAlterConfigs on the group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ShareConfig {
    /// `share.auto.offset.reset`: where a partition's first fetch starts.
    pub earliest: bool,
    /// `share.record.lock.duration.ms`.
    pub lock: Duration,
    /// `share.delivery.count.limit`: deliveries after which a record is archived, not offered
    /// again.
    pub delivery_limit: i16,
}

impl Default for ShareConfig {
    fn default() -> Self {
        ShareConfig { earliest: false, lock: Duration::from_secs(30), delivery_limit: 5 }
    }
}

impl ShareConfig {
    /// The settings' names and values, as DescribeConfigs lists them.
    pub fn entries(&self) -> Vec<(&'static str, String)> {
        vec![
            ("share.auto.offset.reset", if self.earliest { "earliest" } else { "latest" }.to_string()),
            ("share.record.lock.duration.ms", self.lock.as_millis().to_string()),
            ("share.delivery.count.limit", self.delivery_limit.to_string()),
        ]
    }

    /// Sets one (`None`: back to its default). INVALID_CONFIG for an unknown name or a bad
    /// value.
    pub fn set(&mut self, name: &str, value: Option<&str>) -> Result<(), ErrorCode> {
        let default = ShareConfig::default();
        let bad = ErrorCode::INVALID_CONFIG;
        match (name, value) {
            ("share.auto.offset.reset", None) => self.earliest = default.earliest,
            ("share.auto.offset.reset", Some("earliest")) => self.earliest = true,
            ("share.auto.offset.reset", Some("latest")) => self.earliest = false,
            ("share.record.lock.duration.ms", None) => self.lock = default.lock,
            ("share.record.lock.duration.ms", Some(v)) => {
                self.lock = Duration::from_millis(v.parse::<u64>().ok().filter(|ms| *ms >= 1).ok_or(bad)?)
            }
            ("share.delivery.count.limit", None) => self.delivery_limit = default.delivery_limit,
            ("share.delivery.count.limit", Some(v)) => {
                self.delivery_limit = v.parse::<i16>().ok().filter(|n| *n >= 1).ok_or(bad)?
            }
            _ => return Err(bad),
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Held {
    Available,
    Acquired { member: u64, until: Instant },
}

#[derive(Debug, Clone, Copy)]
struct InFlight {
    held: Held,
    deliveries: i16,
}

/// One partition's records as the group sees them.
#[derive(Debug, Default)]
pub(crate) struct SharePartitionState {
    /// The first offset never delivered; `None` until the first fetch places it.
    next: Option<i64>,
    /// Delivered offsets (below `next`) not yet done with: available again, or acquired.
    in_flight: BTreeMap<i64, InFlight>,
}

/// Acquired offsets `first..=last`, each delivered `deliveries` times now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Acquired {
    pub first: i64,
    pub last: i64,
    pub deliveries: i16,
}

#[derive(Debug)]
pub(crate) struct SgMember {
    pub epoch: i32,
    pub topics: Vec<String>,
    pub client_id: String,
    pub last_seen: Instant,
    /// Stands for the member in the partitions' records (member ids are long strings).
    pub number: u64,
}

#[derive(Debug, Default)]
pub(crate) struct ShareGroup {
    pub epoch: i32,
    pub members: BTreeMap<String, SgMember>,
    pub config: ShareConfig,
    pub partitions: BTreeMap<(String, i32), SharePartitionState>,
    next_number: u64,
}

impl ShareGroup {
    /// A heartbeat: joins (epoch 0), leaves (-1) or keeps the member (its epoch). Returns the
    /// member's epoch; a member that left or expired gives back what it acquired.
    pub fn heartbeat(
        &mut self,
        member_id: &str,
        epoch: i32,
        topics: Option<Vec<String>>,
        client_id: &str,
        now: Instant,
    ) -> Result<i32, ErrorCode> {
        self.expire(now);
        if epoch == -1 {
            self.leave(member_id);
            return Ok(-1);
        }
        if epoch == 0 {
            let topics = topics.filter(|t| !t.is_empty()).ok_or(ErrorCode::INVALID_REQUEST)?;
            self.leave(member_id);
            self.epoch += 1;
            self.next_number += 1;
            let m = SgMember {
                epoch: self.epoch,
                topics,
                client_id: client_id.to_string(),
                last_seen: now,
                number: self.next_number,
            };
            self.members.insert(member_id.to_string(), m);
            return Ok(self.epoch);
        }
        let m = self.members.get_mut(member_id).ok_or(ErrorCode::UNKNOWN_MEMBER_ID)?;
        if epoch != m.epoch {
            return Err(ErrorCode::FENCED_MEMBER_EPOCH);
        }
        m.last_seen = now;
        if let Some(t) = topics.filter(|t| *t != m.topics) {
            m.topics = t;
            self.epoch += 1;
            m.epoch = self.epoch;
        }
        Ok(m.epoch)
    }

    fn leave(&mut self, member_id: &str) {
        if let Some(m) = self.members.remove(member_id) {
            self.epoch += 1;
            self.release_member(m.number);
        }
    }

    fn expire(&mut self, now: Instant) {
        let gone: Vec<String> = self
            .members
            .iter()
            .filter(|(_, m)| now.duration_since(m.last_seen) > SESSION_TIMEOUT)
            .map(|(id, _)| id.clone())
            .collect();
        for id in gone {
            self.leave(&id);
        }
    }

    /// Gives back everything `number` acquired, as Kafka does when its share session closes.
    pub fn release_member(&mut self, number: u64) {
        let limit = self.config.delivery_limit;
        for p in self.partitions.values_mut() {
            p.in_flight.retain(|_, r| {
                if matches!(r.held, Held::Acquired { member, .. } if member == number) {
                    r.held = Held::Available;
                    return r.deliveries < limit;
                }
                true
            });
        }
    }

    /// The member's number, if `member_id` belongs to the group.
    pub fn number(&self, member_id: &str) -> Option<u64> {
        self.members.get(member_id).map(|m| m.number)
    }

    /// Records whose lock ran out go back (or, past the delivery limit, are archived).
    pub fn expire_locks(&mut self, now: Instant) {
        let limit = self.config.delivery_limit;
        for p in self.partitions.values_mut() {
            p.in_flight.retain(|_, r| match r.held {
                Held::Acquired { until, .. } if until <= now => {
                    r.held = Held::Available;
                    r.deliveries < limit
                }
                _ => true,
            });
        }
    }

    /// Acquires up to `max` records of a partition whose log holds `log_start..log_end` for
    /// member `number`: first those offered again, then new ones.
    pub fn acquire(
        &mut self,
        key: (String, i32),
        number: u64,
        (log_start, log_end): (i64, i64),
        max: usize,
        now: Instant,
    ) -> Vec<Acquired> {
        let (earliest, until) = (self.config.earliest, now + self.config.lock);
        let p = self.partitions.entry(key).or_default();
        let next = *p.next.get_or_insert(if earliest { log_start } else { log_end });
        let mut got: Vec<(i64, i16)> = Vec::new();
        for (offset, r) in p.in_flight.iter_mut() {
            if got.len() >= max {
                break;
            }
            if r.held == Held::Available && *offset >= log_start {
                r.deliveries = r.deliveries.saturating_add(1);
                r.held = Held::Acquired { member: number, until };
                got.push((*offset, r.deliveries));
            }
        }
        let mut offset = next.max(log_start);
        while got.len() < max && offset < log_end {
            p.in_flight.insert(offset, InFlight { held: Held::Acquired { member: number, until }, deliveries: 1 });
            got.push((offset, 1));
            offset += 1;
        }
        p.next = Some(offset);
        got.sort_unstable();
        let mut out: Vec<Acquired> = Vec::new();
        for (offset, deliveries) in got {
            match out.last_mut() {
                Some(a) if a.last + 1 == offset && a.deliveries == deliveries => a.last = offset,
                _ => out.push(Acquired { first: offset, last: offset, deliveries }),
            }
        }
        out
    }

    /// Acknowledges `offset` of a partition for member `number`: INVALID_RECORD_STATE unless the
    /// member holds it.
    pub fn acknowledge(
        &mut self,
        key: &(String, i32),
        number: u64,
        offset: i64,
        kind: i8,
        now: Instant,
    ) -> Result<(), ErrorCode> {
        let (lock, limit) = (self.config.lock, self.config.delivery_limit);
        let p = self.partitions.get_mut(key).ok_or(ErrorCode::INVALID_RECORD_STATE)?;
        let r = p.in_flight.get_mut(&offset).ok_or(ErrorCode::INVALID_RECORD_STATE)?;
        if !matches!(r.held, Held::Acquired { member, .. } if member == number) {
            return Err(ErrorCode::INVALID_RECORD_STATE);
        }
        match kind {
            GAP | ACCEPT | REJECT => {
                p.in_flight.remove(&offset);
            }
            RELEASE if r.deliveries >= limit => {
                p.in_flight.remove(&offset);
            }
            RELEASE => r.held = Held::Available,
            RENEW => r.held = Held::Acquired { member: number, until: now + lock },
            _ => return Err(ErrorCode::INVALID_REQUEST),
        }
        Ok(())
    }

    /// The first offset not yet done with in a partition (its share-partition start offset).
    #[cfg(test)]
    pub fn start_offset(&self, key: &(String, i32)) -> Option<i64> {
        let p = self.partitions.get(key)?;
        p.in_flight.keys().next().copied().or(p.next)
    }

    /// When the next lock runs out, for a fetch waiting for records to come back.
    pub fn next_expiry(&self) -> Option<Instant> {
        self.partitions
            .values()
            .flat_map(|p| p.in_flight.values())
            .filter_map(|r| match r.held {
                Held::Acquired { until, .. } => Some(until),
                Held::Available => None,
            })
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> (String, i32) {
        ("t".to_string(), 0)
    }

    fn group(now: Instant) -> (ShareGroup, u64, u64) {
        let mut g = ShareGroup::default();
        g.config.earliest = true;
        g.heartbeat("a", 0, Some(vec!["t".into()]), "c", now).unwrap();
        g.heartbeat("b", 0, Some(vec!["t".into()]), "c", now).unwrap();
        let (a, b) = (g.number("a").unwrap(), g.number("b").unwrap());
        (g, a, b)
    }

    #[test]
    fn members_share_records_and_a_release_comes_back_counted() {
        let now = Instant::now();
        let (mut g, a, b) = group(now);
        assert_eq!(g.acquire(key(), a, (0, 10), 4, now), [Acquired { first: 0, last: 3, deliveries: 1 }]);
        assert_eq!(g.acquire(key(), b, (0, 10), 100, now), [Acquired { first: 4, last: 9, deliveries: 1 }]);
        assert_eq!(g.acknowledge(&key(), b, 0, ACCEPT, now), Err(ErrorCode::INVALID_RECORD_STATE), "a's record");
        g.acknowledge(&key(), a, 0, ACCEPT, now).unwrap();
        g.acknowledge(&key(), a, 1, RELEASE, now).unwrap();
        g.acknowledge(&key(), a, 2, REJECT, now).unwrap();
        assert_eq!(g.acknowledge(&key(), a, 0, ACCEPT, now), Err(ErrorCode::INVALID_RECORD_STATE), "done with");
        assert_eq!(g.acquire(key(), b, (0, 10), 100, now), [Acquired { first: 1, last: 1, deliveries: 2 }]);
        assert_eq!(g.start_offset(&key()), Some(1));
    }

    #[test]
    fn a_lock_runs_out_a_renewal_keeps_it_and_the_limit_archives() {
        let now = Instant::now();
        let (mut g, a, b) = group(now);
        g.config.lock = Duration::from_secs(10);
        g.acquire(key(), a, (0, 2), 100, now);
        let later = now + Duration::from_secs(6);
        g.acknowledge(&key(), a, 1, RENEW, later).unwrap();
        g.expire_locks(now + Duration::from_secs(11));
        assert_eq!(
            g.acquire(key(), b, (0, 2), 100, now + Duration::from_secs(11)),
            [Acquired { first: 0, last: 0, deliveries: 2 }]
        );
        g.acknowledge(&key(), a, 1, ACCEPT, now + Duration::from_secs(11)).unwrap();
        // Released again and again: archived after the fifth delivery.
        let mut t = now + Duration::from_secs(20);
        for n in 2..=5 {
            g.acknowledge(&key(), b, 0, RELEASE, t).unwrap();
            t += Duration::from_secs(1);
            if n < 5 {
                assert_eq!(g.acquire(key(), b, (0, 2), 100, t), [Acquired { first: 0, last: 0, deliveries: n + 1 }]);
            }
        }
        assert!(g.acquire(key(), b, (0, 2), 100, t).is_empty());
        assert_eq!(g.start_offset(&key()), Some(2));
    }

    #[test]
    fn a_member_leaving_gives_its_records_back_and_latest_starts_at_the_end() {
        let now = Instant::now();
        let (mut g, a, b) = group(now);
        g.acquire(key(), a, (0, 3), 100, now);
        g.heartbeat("a", -1, None, "c", now).unwrap();
        assert_eq!(g.acquire(key(), b, (0, 3), 100, now), [Acquired { first: 0, last: 2, deliveries: 2 }]);
        let mut fresh = ShareGroup::default();
        fresh.heartbeat("c", 0, Some(vec!["t".into()]), "c", now).unwrap();
        let c = fresh.number("c").unwrap();
        assert!(fresh.acquire(key(), c, (0, 3), 100, now).is_empty(), "latest: only what comes next");
        assert_eq!(fresh.acquire(key(), c, (0, 5), 100, now), [Acquired { first: 3, last: 4, deliveries: 1 }]);
        assert_eq!(fresh.heartbeat("c", 7, None, "c", now), Err(ErrorCode::FENCED_MEMBER_EPOCH));
        assert_eq!(fresh.heartbeat("x", 1, None, "c", now), Err(ErrorCode::UNKNOWN_MEMBER_ID));
    }
}
