//! A fetcher thread: resolves start offsets for its partitions, then long-polls their leaders.
//! Partitions are named by their slot in [`Shared::keys`], so no lookup by name is needed.
//!
//! Thread `i` of `n` serves the partitions whose leader's id is `i` modulo `n` (leaderless
//! partitions go by partition id, to decide who refreshes metadata). Each round it writes one
//! Fetch per broker, covering all that broker's partitions with room in their queues, and only
//! then reads the answers, so one thread fetches from every broker at once. Each thread owns
//! its connections: a Fetch waiting out `fetch_wait_max` never holds up anyone else's request.

use super::state::{Part, Position, Shared};
use crate::client::fetch::{self, FetchOutcome, FetchParams, PartitionFetch};
use crate::client::offsets as broker_offsets;
use crate::client::pool::Dedicated;
use crate::error::{Error, Retry};
use crate::offsets::{decide_out_of_range, decide_start};
use crate::protocol::records::{self, Record};
use crate::retry;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The most a whole Fetch response may carry (the Java client's `fetch.max.bytes` default).
const FETCH_MAX_BYTES: usize = 50 * 1024 * 1024;
/// How long an idle fetcher sleeps before looking for work again, when nothing wakes it.
const IDLE_WAIT: Duration = Duration::from_millis(100);

/// Runs fetcher `idx` of `n` until the consumer stops.
pub(crate) fn run(shared: Arc<Shared>, idx: usize, n: usize) {
    let mut f = Fetcher { shared, idx, n, conns: Dedicated::default(), refresh: false, refresh_failures: 0 };
    while !f.shared.is_stopped() {
        f.step();
    }
}

/// The next per-partition fetch size when a fetch brought only part of a batch of `needed`
/// bytes: at least double, at least `needed`, at most `limit`; `None` once `limit` is reached.
/// (Brokers that honour KIP-74 return whole batches; this covers those that cut them.)
fn grow_fetch_size(current: usize, needed: usize, limit: usize) -> Option<usize> {
    (current < limit).then(|| needed.max(current.saturating_mul(2)).min(limit))
}

#[derive(Debug, Clone, Copy)]
struct Planned {
    slot: usize,
    epoch: u64,
    offset: i64,
    size: usize,
}

#[derive(Debug, Default)]
struct Plan {
    /// (slot, epoch, after OFFSET_OUT_OF_RANGE)
    resolve: Vec<(usize, u64, bool)>,
    fetch: BTreeMap<i32, Vec<Planned>>,
    leaderless: bool,
    next_wake: Option<Instant>,
}

struct Fetcher {
    shared: Arc<Shared>,
    idx: usize,
    n: usize,
    conns: Dedicated,
    refresh: bool,
    refresh_failures: u32,
}

impl Fetcher {
    fn step(&mut self) {
        if self.refresh {
            self.refresh_metadata();
            return;
        }
        let plan = self.plan();
        if plan.leaderless {
            self.refresh = true;
        }
        if !plan.resolve.is_empty() {
            self.resolve(&plan.resolve);
        }
        if !plan.fetch.is_empty() {
            self.fetch(plan.fetch);
        } else if plan.resolve.is_empty() && !self.refresh {
            let wait = plan.next_wake.map_or(IDLE_WAIT, |t| t.saturating_duration_since(Instant::now()).min(IDLE_WAIT));
            self.shared.wait_for_work(wait);
        }
    }

    fn refresh_metadata(&mut self) {
        let wait = self.shared.client.backoff(retry::REQUEST_MAX).delay(self.refresh_failures);
        // Waits out the backoff, but wakes at once on stop.
        self.shared.wait_for_work(wait);
        if self.shared.is_stopped() {
            return;
        }
        let topics: Vec<&str> = self.shared.topics.iter().map(|t| &**t).collect();
        match self.shared.client.refresh_metadata(&topics) {
            Ok(()) => {
                self.refresh = false;
                self.refresh_failures = 0;
            }
            Err(e) => {
                self.refresh_failures = self.refresh_failures.saturating_add(1);
                log::warn!("{}: metadata refresh failed: {e}", self.shared.topics_label());
            }
        }
    }

    fn plan(&self) -> Plan {
        let now = Instant::now();
        let leaders = self.shared.client.leaders_of(&self.shared.keys);
        let parts = self.shared.lock();
        let mut plan = Plan::default();
        for (slot, (p, leader)) in parts.iter().zip(leaders).enumerate() {
            let owner = leader.unwrap_or(p.partition).rem_euclid(self.n as i32) as usize;
            if owner != self.idx || p.position == Position::Failed {
                continue;
            }
            if p.backing_off(now) {
                plan.next_wake =
                    Some(plan.next_wake.map_or(p.retry_at.unwrap_or(now), |w| w.min(p.retry_at.unwrap_or(now))));
                continue;
            }
            let Some(leader) = leader else {
                plan.leaderless = true;
                continue;
            };
            match p.position {
                Position::Unresolved => plan.resolve.push((slot, p.epoch, false)),
                Position::OutOfRange => plan.resolve.push((slot, p.epoch, true)),
                Position::At(offset) if p.queue.len() < self.shared.cfg.queued_max_messages => plan
                    .fetch
                    .entry(leader)
                    .or_default()
                    .push(Planned { slot, epoch: p.epoch, offset, size: p.fetch_size }),
                _ => {}
            }
        }
        plan
    }

    /// Applies `f` to each partition (slot, epoch) of `list` whose epoch hasn't moved since it
    /// was planned.
    fn with_current(&self, list: impl IntoIterator<Item = (usize, u64)>, mut f: impl FnMut(&mut Part)) {
        let mut parts = self.shared.lock();
        for (slot, epoch) in list {
            if let Some(p) = parts.get_mut(slot).filter(|p| p.epoch == epoch) {
                f(p);
            }
        }
    }

    /// A failure that concerns every partition in `list`: back off if it may pass, otherwise
    /// hand it to the application and stop those partitions.
    fn fail(&mut self, list: &[(usize, u64)], e: &Error) {
        match e.retry() {
            Retry::Never => {
                log::error!("{e}");
                self.with_current(list.iter().copied(), |p| {
                    p.position = Position::Failed;
                    p.error = Some(e.clone());
                });
                self.shared.data_ready.notify_all();
            }
            how => {
                log::debug!("{e} ({how:?})");
                if how != Retry::Backoff {
                    self.refresh = true;
                }
                let base = self.shared.client.retry_backoff();
                self.with_current(list.iter().copied(), |p| p.back_off(base));
            }
        }
    }

    /// Runs the start-offset rules (or the out-of-range reset) for `list`, one topic at a time.
    fn resolve(&mut self, list: &[(usize, u64, bool)]) {
        let shared = Arc::clone(&self.shared);
        for topic in &shared.topics {
            let of_topic: Vec<(usize, u64, bool)> =
                list.iter().copied().filter(|r| shared.keys[r.0].0 == *topic).collect();
            if !of_topic.is_empty() {
                self.resolve_topic(topic, &of_topic);
            }
        }
        shared.data_ready.notify_all();
    }

    fn resolve_topic(&mut self, topic: &str, list: &[(usize, u64, bool)]) {
        let shared = Arc::clone(&self.shared);
        let cfg = &shared.cfg;
        let client = &shared.client;
        let partition_of = |slot: usize| shared.keys[slot].1;
        let ids: Vec<i32> = list.iter().map(|r| partition_of(r.0)).collect();
        let keys: Vec<(usize, u64)> = list.iter().map(|r| (r.0, r.1)).collect();
        let attempts = cfg.offsets_commit_max_retries.max(1);
        let ask_group: Vec<i32> =
            list.iter().filter(|r| !r.2 && !cfg.reset_offset_on_start).map(|r| partition_of(r.0)).collect();
        let result = (|| {
            let committed = match &cfg.consumer_group {
                Some(g) if !ask_group.is_empty() => {
                    broker_offsets::fetch_committed(client, g, topic, &ask_group, attempts)?
                }
                _ => BTreeMap::new(),
            };
            let bounds = broker_offsets::log_bounds(client, topic, &ids, attempts)?;
            Ok::<_, Error>((committed, bounds))
        })();
        let (committed, bounds_of) = match result {
            Ok(r) => r,
            Err(e) => return self.fail(&keys, &e),
        };
        let mut parts = shared.lock();
        for &(slot, epoch, out_of_range) in list {
            let partition = partition_of(slot);
            let Some(p) = parts.get_mut(slot).filter(|p| p.epoch == epoch) else { continue };
            let Some(&bounds) = bounds_of.get(&partition) else { continue };
            let d = if out_of_range {
                decide_out_of_range(bounds, cfg.auto_offset_reset)
            } else {
                let c = committed.get(&partition).copied().flatten();
                decide_start(c, bounds, cfg.auto_offset_reset, cfg.reset_offset_on_start, cfg.consumer_group.is_some())
            };
            log::info!("{topic}/{partition}: start at {} ({d})", d.offset);
            p.position = Position::At(d.offset);
            p.decision = Some(d);
            p.high_watermark = bounds.high_watermark;
            p.succeeded();
        }
    }

    fn fetch(&mut self, plan: BTreeMap<i32, Vec<Planned>>) {
        let cfg = &self.shared.cfg;
        let params =
            FetchParams { wait: cfg.fetch_wait_max, min_bytes: cfg.fetch_min_bytes, max_bytes: FETCH_MAX_BYTES };
        let deadline = Instant::now() + params.wait + self.shared.client.connection_config().request_timeout;
        let mut inflight = Vec::new();
        for (leader, planned) in plan {
            let keys: Vec<(usize, u64)> = planned.iter().map(|p| (p.slot, p.epoch)).collect();
            let wanted: Vec<PartitionFetch<'_>> = planned
                .iter()
                .map(|p| {
                    let (topic, partition) = &self.shared.keys[p.slot];
                    PartitionFetch { topic, partition: *partition, offset: p.offset, max_bytes: p.size }
                })
                .collect();
            match fetch::send(&mut self.conns, &self.shared.client, leader, &params, &wanted, deadline) {
                Ok(pending) => inflight.push((pending, planned, keys)),
                Err(e) => self.fail(&keys, &e),
            }
        }
        for (pending, planned, keys) in inflight {
            let outcomes = match fetch::read(&mut self.conns, pending, deadline) {
                Ok(r) => r,
                Err(e) => {
                    self.fail(&keys, &e);
                    continue;
                }
            };
            for (topic, partition, outcome) in outcomes {
                let matching = planned.iter().find(|p| {
                    let (t, q) = &self.shared.keys[p.slot];
                    *q == partition && **t == *topic
                });
                if let Some(p) = matching {
                    self.apply(*p, outcome);
                }
            }
        }
    }

    /// Applies one partition's fetch result.
    fn apply(&mut self, planned: Planned, outcome: FetchOutcome) {
        let (topic, partition) = self.shared.keys[planned.slot].clone();
        let (high_watermark, buf) = match outcome {
            FetchOutcome::Data { high_watermark, records } => (high_watermark, records),
            FetchOutcome::OutOfRange => return self.out_of_range(planned),
            FetchOutcome::Failed(e) => return self.fail(&[(planned.slot, planned.epoch)], &e),
        };
        // Decode before taking the lock: the application keeps consuming meanwhile.
        let buf = Arc::new(buf);
        let mut recs: Vec<Record> = Vec::new();
        let decoded = records::decode(&buf, planned.offset, &mut recs);
        let cfg = &self.shared.cfg;
        let mut parts = self.shared.lock();
        let Some(p) = parts.get_mut(planned.slot) else { return };
        if p.epoch != planned.epoch || p.position != Position::At(planned.offset) {
            return; // reset while the request was in flight
        }
        p.high_watermark = high_watermark;
        p.succeeded();
        let delivered = recs.last().map(|r| r.offset + 1);
        let had_records = !recs.is_empty();
        p.queue.extend(recs);
        match decoded {
            Ok(summary) => {
                if let Some(next) = summary.next_offset.or(delivered) {
                    p.position = Position::At(next.max(planned.offset));
                } else if let Some(need) = summary.first_batch_size {
                    match grow_fetch_size(p.fetch_size, need, cfg.fetch_message_max_bytes_limit) {
                        Some(grown) => {
                            log::info!(
                                "{topic}/{partition}: batch at {} needs {need} bytes; fetch size {} -> {grown}",
                                planned.offset,
                                p.fetch_size
                            );
                            p.fetch_size = grown;
                        }
                        None => {
                            p.position = Position::Failed;
                            p.error = Some(Error::RecordTooLarge {
                                topic: topic.to_string(),
                                partition,
                                offset: planned.offset,
                                size: need,
                                max: cfg.fetch_message_max_bytes_limit,
                            });
                        }
                    }
                }
            }
            Err(e) => {
                log::error!("{topic}/{partition}: {e}");
                p.position = Position::Failed;
                p.error = Some(Error::Records { topic: topic.to_string(), partition, source: e });
            }
        }
        if had_records || p.error.is_some() {
            self.shared.data_ready.notify_all();
        }
    }

    /// The position fell outside the log: reset it, or stop the partition with the error.
    fn out_of_range(&mut self, planned: Planned) {
        let (topic, partition) = self.shared.keys[planned.slot].clone();
        let key = [(planned.slot, planned.epoch)];
        let reset = self.shared.cfg.reset_offset_on_fetch;
        self.with_current(key, |p| {
            if reset {
                log::warn!(
                    "{topic}/{partition}: offset {} is out of range; applying auto_offset_reset",
                    planned.offset
                );
                p.position = Position::OutOfRange;
            } else {
                p.position = Position::Failed;
                p.error = Some(Error::OffsetOutOfRange { topic: topic.to_string(), partition, offset: planned.offset });
            }
        });
        self.shared.data_ready.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::grow_fetch_size;

    #[test]
    fn fetch_size_grows_to_the_batch_then_stops_at_the_limit() {
        // (current, needed, limit) -> next
        let table = [
            (1000, 50_000, 1 << 20, Some(50_000)), // straight to what the batch needs
            (1000, 1500, 1 << 20, Some(2000)),     // at least double, to avoid creeping
            (1000, 50_000, 10_000, Some(10_000)),  // capped at the limit...
            (10_000, 50_000, 10_000, None),        // ...and past it the batch can't be read
            (usize::MAX / 2 + 1, usize::MAX, usize::MAX, Some(usize::MAX)),
        ];
        for (current, needed, limit, next) in table {
            assert_eq!(grow_fetch_size(current, needed, limit), next, "{current} {needed} {limit}");
        }
    }
}
