//! Connections: a shared pool for short requests (metadata, offsets, commits, group calls), and
//! [`Dedicated`] connections owned by one thread (a fetcher, a producer's sender). Broken
//! connections are dropped, never reused.

use crate::error::{Error, Result};
use crate::net::{Connection, ConnectionConfig};
use crate::protocol::ApiKey;
use crate::protocol::Request;
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// One idle connection per broker address, taken out while a request is in flight, so that
/// threads never share a connection mid-request.
#[derive(Debug, Default)]
pub(crate) struct Pool {
    idle: Mutex<HashMap<String, Connection>>,
}

impl Pool {
    /// Sends `req` to `addr` and reads the answer, which the broker may hold for up to `extra`
    /// beyond the request timeout.
    pub fn send<R: Request>(
        &self,
        addr: &str,
        cfg: &ConnectionConfig,
        req: &R,
        extra: Duration,
    ) -> Result<R::Response> {
        self.with(addr, cfg, |conn| conn.send(req, extra))?
    }

    /// Runs `f` on a connection to `addr` (pooled, or opened now), which goes back to the
    /// pool unless `f` broke it.
    pub fn with<T>(&self, addr: &str, cfg: &ConnectionConfig, f: impl FnOnce(&mut Connection) -> T) -> Result<T> {
        let pooled = self.idle.lock().unwrap_or_else(|e| e.into_inner()).remove(addr);
        let mut conn = match pooled {
            Some(c) => c,
            None => Connection::connect(addr, cfg)?,
        };
        let r = f(&mut conn);
        if !conn.is_broken() {
            self.idle.lock().unwrap_or_else(|e| e.into_inner()).insert(addr.to_string(), conn);
        }
        Ok(r)
    }
}

/// One connection per broker id, owned by one thread, opened on first use and replaced once
/// broken. Unlike the pool's they are never shared, so a long-polling Fetch or a Produce
/// awaiting acks holds up no one else.
#[derive(Debug, Default)]
pub(crate) struct Dedicated {
    conns: HashMap<i32, Connection>,
}

impl Dedicated {
    /// The connection to broker `node`, opening a new one with `open` if there is none or it
    /// broke.
    pub fn get(&mut self, node: i32, open: impl FnOnce() -> Result<Connection>) -> Result<&mut Connection> {
        if self.conns.get(&node).is_some_and(Connection::is_broken) {
            self.conns.remove(&node);
        }
        Ok(match self.conns.entry(node) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => e.insert(open()?),
        })
    }

    /// Whether there is a connection to `node` that has not broken: the requests written on it
    /// may still be answered.
    pub fn is_open(&self, node: i32) -> bool {
        self.conns.get(&node).is_some_and(|c| !c.is_broken())
    }

    /// The connection a request of `api` to `node` was written on, to read its answer; an
    /// error if it is gone.
    pub fn written_on(&mut self, node: i32, api: ApiKey) -> Result<&mut Connection> {
        self.conns.get_mut(&node).ok_or_else(|| {
            let closed = std::io::Error::new(std::io::ErrorKind::NotConnected, "the connection was closed");
            Error::io(format!("broker {node}"), Some(api), closed)
        })
    }
}
