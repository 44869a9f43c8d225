//! The metadata cache: brokers, topic partitions with their leaders, group coordinators. Plain
//! data, filled from Metadata and FindCoordinator answers; no sockets here.

use crate::protocol::error_code::ErrorCode;
use crate::protocol::metadata::MetadataResponse;
use std::collections::{BTreeMap, HashMap, HashSet};

/// A partition's leader and replicas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionInfo {
    /// Partition id.
    pub partition: i32,
    /// Leader broker id; `None` while there is no leader.
    pub leader: Option<i32>,
    /// Leader epoch, -1 if the broker doesn't say.
    pub leader_epoch: i32,
    /// Replica broker ids.
    pub replicas: Vec<i32>,
    /// In-sync replica broker ids.
    pub isr: Vec<i32>,
}

/// What is known about the cluster now.
#[derive(Debug, Default)]
pub(crate) struct Metadata {
    pub brokers: HashMap<i32, String>,
    pub topics: HashMap<String, BTreeMap<i32, PartitionInfo>>,
    /// Topics the last answer about them called unknown (UNKNOWN_TOPIC_OR_PARTITION), as
    /// opposed to known but not ready (a leader still being elected).
    pub unknown: HashSet<String>,
    pub coordinators: HashMap<String, i32>,
    /// Transaction coordinators, by transactional id.
    pub txn_coordinators: HashMap<String, i32>,
    /// Topic ids (Metadata v10+) and names, both ways; a recreated topic's new id replaces
    /// its old one.
    pub topic_ids: HashMap<String, [u8; 16]>,
    pub topic_names: HashMap<[u8; 16], String>,
}

impl Metadata {
    /// Takes in a Metadata answer; `complete` when it lists every topic, so that topics it
    /// doesn't mention are gone.
    pub fn absorb(&mut self, resp: MetadataResponse, complete: bool) {
        if complete {
            self.topics.clear();
        }
        for b in resp.brokers {
            self.brokers.insert(b.node_id, format!("{}:{}", b.host, b.port));
        }
        for t in resp.topics {
            let Some(name) = t.name else { continue };
            let code = ErrorCode::from_i16(t.error_code);
            if !code.is_ok() {
                log::debug!("metadata for topic {name}: {code}");
                if code == ErrorCode::UNKNOWN_TOPIC_OR_PARTITION {
                    self.topics.remove(&name);
                    self.unknown.insert(name);
                }
                continue;
            }
            self.unknown.remove(&name);
            if t.topic_id != [0; 16] {
                if let Some(old) = self.topic_ids.insert(name.clone(), t.topic_id) {
                    self.topic_names.remove(&old);
                }
                self.topic_names.insert(t.topic_id, name.clone());
            }
            let parts = t
                .partitions
                .into_iter()
                .map(|p| {
                    let info = PartitionInfo {
                        partition: p.partition_index,
                        leader: (p.leader_id >= 0).then_some(p.leader_id),
                        leader_epoch: p.leader_epoch,
                        replicas: p.replica_nodes,
                        isr: p.isr_nodes,
                    };
                    (p.partition_index, info)
                })
                .collect();
            self.topics.insert(name, parts);
        }
    }

    /// The partitions of `topic` once every one of them has a leader.
    pub fn ready_partitions(&self, topic: &str) -> Option<Vec<PartitionInfo>> {
        let p = self.topics.get(topic)?;
        (!p.is_empty() && p.values().all(|p| p.leader.is_some())).then(|| p.values().cloned().collect())
    }

    /// The leader of `topic`/`partition`, if known.
    pub fn leader(&self, topic: &str, partition: i32) -> Option<i32> {
        self.topics.get(topic)?.get(&partition)?.leader
    }

    /// The addresses to ask for metadata: every known broker (sorted), then the bootstrap
    /// addresses not among them.
    pub fn metadata_targets(&self, bootstrap: &[String]) -> Vec<String> {
        let mut addrs: Vec<String> = self.brokers.values().cloned().collect();
        addrs.sort();
        for b in bootstrap {
            if !addrs.contains(b) {
                addrs.push(b.clone());
            }
        }
        addrs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::metadata::{MetadataBroker, MetadataPartition, MetadataTopic};

    fn topic(name: &str, code: i16, leaders: &[i32]) -> MetadataTopic {
        MetadataTopic {
            error_code: code,
            name: Some(name.into()),
            partitions: leaders
                .iter()
                .enumerate()
                .map(|(i, &l)| MetadataPartition {
                    partition_index: i as i32,
                    leader_id: l,
                    leader_epoch: 3,
                    replica_nodes: vec![1, 2],
                    isr_nodes: vec![1],
                    error_code: 0,
                    offline_replicas: vec![],
                })
                .collect(),
            topic_id: [0; 16],
            is_internal: false,
            topic_authorized_operations: 0,
        }
    }

    fn response(topics: Vec<MetadataTopic>) -> MetadataResponse {
        MetadataResponse {
            brokers: vec![MetadataBroker { node_id: 1, host: "h1".into(), port: 9092, rack: None }],
            topics,
            ..Default::default()
        }
    }

    #[test]
    fn leaders_brokers_and_vanished_topics() {
        let mut m = Metadata::default();
        m.absorb(response(vec![topic("a", 0, &[1, -1]), topic("b", 0, &[1])]), true);
        assert_eq!(m.brokers.get(&1).map(String::as_str), Some("h1:9092"));
        assert_eq!(m.leader("a", 0), Some(1));
        assert_eq!(m.leader("a", 1), None, "leader -1 is no leader");
        assert_eq!(m.ready_partitions("a"), None, "not ready while a partition has no leader");
        assert_eq!(m.ready_partitions("b").map(|p| p.len()), Some(1));
        // A partial answer keeps what it doesn't mention; an error for a topic removes it
        // only when the topic is unknown.
        m.absorb(response(vec![topic("a", ErrorCode::LEADER_NOT_AVAILABLE.code(), &[])]), false);
        assert!(m.topics.contains_key("a"));
        m.absorb(response(vec![topic("a", ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.code(), &[])]), false);
        assert!(!m.topics.contains_key("a"));
        assert!(m.topics.contains_key("b"));
        // A complete answer drops every topic it doesn't list.
        m.absorb(response(vec![]), true);
        assert!(m.topics.is_empty());
    }

    #[test]
    fn metadata_targets_known_brokers_first() {
        let mut m = Metadata::default();
        m.brokers.insert(2, "b:2".into());
        m.brokers.insert(1, "a:1".into());
        assert_eq!(m.metadata_targets(&["z:9".into(), "a:1".into()]), vec!["a:1", "b:2", "z:9"]);
    }
}
