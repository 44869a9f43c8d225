//! The mock's transaction coordinator state (transaction version 1, KIP-98): per transactional
//! id, its producer id and epoch and the transaction open now (its partitions, its groups'
//! pending offsets, when it began). Ending a transaction writes a marker to each of its
//! partitions and applies or drops its offsets; one open past its timeout is aborted and its
//! producer fenced, as Kafka's coordinator does.

use super::State;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// One transactional id's state.
#[derive(Debug)]
pub(crate) struct Transaction {
    pub producer_id: i64,
    pub epoch: i16,
    pub timeout: Duration,
    /// The open transaction's partitions.
    pub partitions: BTreeSet<(String, i32)>,
    /// (group, topic, partition) → next offset, committed if the transaction commits.
    pub offsets: BTreeMap<(String, String, i32), i64>,
    /// Groups added to the open transaction (AddOffsetsToTxn).
    pub groups: BTreeSet<String>,
    /// When the open transaction began; `None` when none is open.
    pub began: Option<Instant>,
    /// How the last transaction ended (true: committed), so that a retried EndTxn gets the
    /// same answer.
    pub last_commit: Option<bool>,
}

impl Transaction {
    pub fn new(producer_id: i64, timeout: Duration) -> Transaction {
        Transaction {
            producer_id,
            epoch: 0,
            timeout,
            partitions: BTreeSet::new(),
            offsets: BTreeMap::new(),
            groups: BTreeSet::new(),
            began: None,
            last_commit: None,
        }
    }

    pub fn is_open(&self) -> bool {
        self.began.is_some()
    }
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl State {
    /// Ends the open transaction of `id`: a marker in each of its partitions, its offsets
    /// applied (commit) or dropped (abort).
    pub fn end_transaction(&mut self, id: &str, commit: bool) {
        let Some(t) = self.txns.get_mut(id) else { return };
        let partitions = std::mem::take(&mut t.partitions);
        let offsets = std::mem::take(&mut t.offsets);
        t.groups.clear();
        t.began = None;
        t.last_commit = Some(commit);
        let (producer_id, epoch) = (t.producer_id, t.epoch);
        let now = now_ms();
        for (topic, p) in partitions {
            let part =
                self.topics.get_mut(&topic).and_then(|t| usize::try_from(p).ok().and_then(|i| t.partitions.get_mut(i)));
            if let Some(part) = part {
                part.log.end_transaction(producer_id, epoch, commit, now);
            }
        }
        if commit {
            self.offsets.extend(offsets);
        }
    }

    /// Aborts every transaction open longer than its timeout and bumps its producer's epoch,
    /// so that the producer, if it still runs, is fenced.
    pub fn expire_transactions(&mut self, now: Instant) {
        let expired: Vec<String> = self
            .txns
            .iter()
            .filter(|(_, t)| t.began.is_some_and(|b| now.duration_since(b) >= t.timeout))
            .map(|(id, _)| id.clone())
            .collect();
        for id in expired {
            self.end_transaction(&id, false);
            if let Some(t) = self.txns.get_mut(&id) {
                t.epoch = t.epoch.saturating_add(1);
            }
        }
    }

    /// The transactional id whose current producer is `producer_id`.
    pub fn transaction_of(&self, producer_id: i64) -> Option<(&String, &Transaction)> {
        self.txns.iter().find(|(_, t)| t.producer_id == producer_id)
    }
}
