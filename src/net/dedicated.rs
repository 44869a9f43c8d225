//! Connections owned by one thread (a fetcher, a producer's sender), one per broker, reopened
//! when broken. Unlike the cluster's pool they are never shared, so a long-polling Fetch or a
//! Produce awaiting acks holds up no one else.

use super::Connection;
use crate::cluster::Cluster;
use crate::error::Result;
use std::collections::hash_map::Entry;
use std::collections::HashMap;

/// One connection per broker id, opened on first use and replaced once broken.
#[derive(Debug, Default)]
pub struct Dedicated {
    conns: HashMap<i32, Connection>,
}

impl Dedicated {
    /// The connection to broker `node`, opening a new one if there is none or it broke.
    pub fn get(&mut self, cluster: &Cluster, node: i32) -> Result<&mut Connection> {
        if self.conns.get(&node).is_some_and(Connection::is_broken) {
            self.conns.remove(&node);
        }
        Ok(match self.conns.entry(node) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => e.insert(cluster.open(node)?),
        })
    }

    /// The open connection to `node`, if any (to read a response to a request already written).
    pub fn existing(&mut self, node: i32) -> Option<&mut Connection> {
        self.conns.get_mut(&node)
    }
}
