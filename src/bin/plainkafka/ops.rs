//! The inspection and administration commands: offsets, lag, reset-offsets, groups, topics,
//! and running a local mock cluster.

use crate::format::{print_json, Json};
use crate::props::Conn;
use crate::{AnyResult, Output};
use plainkafka::Topic;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Write};

/// Committed, latest and lag for one partition; `None` where nothing is committed.
fn lag_of(committed: Option<i64>, latest: i64) -> Option<i64> {
    committed.map(|c| (latest - c).max(0))
}

fn dash(v: Option<i64>) -> String {
    v.map_or_else(|| "-".to_string(), |v| v.to_string())
}

pub(crate) fn offsets(conn: &Conn, topic: &str, group: Option<&str>, output: Output) -> AnyResult<()> {
    let topic = conn.client()?.topic(topic)?;
    let earliest = topic.earliest_available_offsets()?;
    let latest = topic.latest_available_offsets()?;
    let committed = match group {
        Some(g) => topic.committed_offsets(g)?,
        None => Default::default(),
    };
    let rows: Vec<(i32, i64, i64, Option<i64>)> = earliest
        .iter()
        .map(|(p, lo)| (*p, *lo, latest.get(p).copied().unwrap_or(-1), committed.get(p).copied().flatten()))
        .collect();
    if output == Output::Json {
        let parts = rows
            .iter()
            .map(|&(p, lo, hi, c)| {
                Json::Obj(vec![
                    ("partition", Json::Int(p.into())),
                    ("earliest", Json::Int(lo)),
                    ("latest", Json::Int(hi)),
                    ("committed", Json::opt(c)),
                    ("lag", Json::opt(lag_of(c, hi))),
                ])
            })
            .collect();
        return Ok(print_json(&Json::Obj(vec![
            ("topic", Json::Str(topic.name().into())),
            ("partitions", Json::Arr(parts)),
        ]))?);
    }
    let mut out = io::stdout().lock();
    writeln!(out, "PARTITION EARLIEST LATEST COMMITTED LAG")?;
    for (p, lo, hi, c) in rows {
        writeln!(out, "{p} {lo} {hi} {} {}", dash(c), dash(lag_of(c, hi)))?;
    }
    Ok(())
}

pub(crate) fn lag(conn: &Conn, topic: &str, group: &str, output: Output) -> AnyResult<()> {
    let topic = conn.client()?.topic(topic)?;
    let latest = topic.latest_available_offsets()?;
    let committed = topic.committed_offsets(group)?;
    let rows: Vec<(i32, Option<i64>, i64)> =
        latest.iter().map(|(p, hi)| (*p, committed.get(p).copied().flatten(), *hi)).collect();
    // Only what the rows show: a partition with nothing committed has no lag to add (where the
    // group would start depends on its auto_offset_reset); the total says how many there are.
    let total: i64 = rows.iter().filter_map(|&(_, c, hi)| lag_of(c, hi)).sum();
    let uncounted = rows.iter().filter(|(_, c, _)| c.is_none()).count();
    if output == Output::Json {
        let parts = rows
            .iter()
            .map(|&(p, c, hi)| {
                Json::Obj(vec![
                    ("partition", Json::Int(p.into())),
                    ("committed", Json::opt(c)),
                    ("latest", Json::Int(hi)),
                    ("lag", Json::opt(lag_of(c, hi))),
                ])
            })
            .collect();
        return Ok(print_json(&Json::Obj(vec![
            ("topic", Json::Str(topic.name().into())),
            ("group", Json::Str(group.into())),
            ("partitions", Json::Arr(parts)),
            ("total_lag", Json::Int(total)),
            ("partitions_without_commit", Json::Int(uncounted as i64)),
        ]))?);
    }
    let mut out = io::stdout().lock();
    writeln!(out, "PARTITION COMMITTED LATEST LAG")?;
    for (p, c, hi) in rows {
        writeln!(out, "{p} {} {hi} {}", dash(c), dash(lag_of(c, hi)))?;
    }
    if uncounted == 0 {
        writeln!(out, "total lag {total} (to the high watermark)")?;
    } else {
        let without = crate::format::count(uncounted as u64, "partition");
        writeln!(out, "total lag {total} (to the high watermark; {without} with nothing committed not counted)")?;
    }
    Ok(())
}

/// Where `--to` puts each partition: the next offset the group will read. `earliest` and
/// `latest` are the log's bounds, looked up once by the caller.
fn target(
    topic: &Topic,
    to: &str,
    partitions: &[i32],
    earliest: &BTreeMap<i32, i64>,
    latest: &BTreeMap<i32, i64>,
) -> AnyResult<BTreeMap<i32, i64>> {
    let pick =
        |m: &BTreeMap<i32, i64>| m.iter().filter(|(p, _)| partitions.contains(p)).map(|(p, o)| (*p, *o)).collect();
    Ok(match to {
        "earliest" => pick(earliest),
        "latest" => pick(latest),
        t if t.starts_with('@') => {
            let millis: i64 = t[1..].parse().map_err(|_| format!("--to {t}: expected @MILLIS"))?;
            topic
                .offsets_for_timestamp(millis)?
                .into_iter()
                .filter(|(p, _)| partitions.contains(p))
                .map(|(p, o)| (p, o.unwrap_or(latest[&p])))
                .collect()
        }
        n => {
            let offset: i64 =
                n.parse().map_err(|_| format!("--to {n}: expected earliest, latest, OFFSET or @MILLIS"))?;
            if offset < 0 {
                return Err(format!("--to {n}: offsets are not negative").into());
            }
            partitions.iter().map(|p| (*p, offset)).collect()
        }
    })
}

pub(crate) fn reset_offsets(
    conn: &Conn,
    topic: &str,
    group: &str,
    to: &str,
    partitions: &[i32],
    dry_run: bool,
) -> AnyResult<()> {
    let topic = conn.client()?.topic(topic)?;
    let all: Vec<i32> = topic.partitions().iter().map(|p| p.partition).collect();
    for p in partitions {
        if !all.contains(p) {
            return Err(format!("{} has no partition {p}", topic.name()).into());
        }
    }
    let chosen = if partitions.is_empty() { all } else { partitions.to_vec() };
    let (earliest, latest) = (topic.earliest_available_offsets()?, topic.latest_available_offsets()?);
    let mut new = target(&topic, to, &chosen, &earliest, &latest)?;
    // Past either end of the log, as Kafka's own tool does: the nearest end, and say so.
    for (p, o) in new.iter_mut() {
        let (lo, hi) = (earliest.get(p).copied().unwrap_or(0), latest.get(p).copied().unwrap_or(0));
        let clamped = (*o).clamp(lo, hi.max(lo));
        if clamped != *o {
            eprintln!("partition {p}: {o} is outside the log ({lo}..{hi}); {clamped} instead");
            *o = clamped;
        }
    }
    let old = topic.committed_offsets(group)?;
    // Committed first: the table says what was done, so it must not print for a refusal.
    if !dry_run {
        let offsets: Vec<(i32, i64)> = new.iter().map(|(p, o)| (*p, *o)).collect();
        topic
            .commit_offsets(group, &offsets)
            .map_err(|e| format!("{e} (is a member of {group} still running? stop it first)"))?;
    }
    let mut out = io::stdout().lock();
    writeln!(out, "PARTITION OLD NEW")?;
    for (p, o) in &new {
        writeln!(out, "{p} {} {o}", dash(old.get(p).copied().flatten()))?;
    }
    if dry_run {
        writeln!(out, "dry run: nothing committed")?;
    }
    Ok(())
}

pub(crate) fn groups(conn: &Conn, output: Output) -> AnyResult<()> {
    let list = conn.client()?.list_groups()?;
    if output == Output::Json {
        let items = list
            .iter()
            .map(|g| {
                Json::Obj(vec![
                    ("group", Json::Str(g.group.clone())),
                    ("state", g.state.clone().map_or(Json::Null, Json::Str)),
                    ("protocol_type", Json::Str(g.protocol_type.clone())),
                    ("type", g.group_type.clone().map_or(Json::Null, Json::Str)),
                ])
            })
            .collect();
        return Ok(print_json(&Json::Arr(items))?);
    }
    let mut out = io::stdout().lock();
    writeln!(out, "GROUP STATE PROTOCOL_TYPE TYPE")?;
    for g in list {
        let kind = if g.protocol_type.is_empty() { "-" } else { &g.protocol_type };
        let group_type = g.group_type.as_deref().unwrap_or("-");
        writeln!(out, "{} {} {kind} {group_type}", g.group, g.state.as_deref().unwrap_or("-"))?;
    }
    Ok(())
}

pub(crate) fn describe_group(conn: &Conn, group: &str, output: Output) -> AnyResult<()> {
    let client = conn.client()?;
    let d = client.describe_group(group)?;
    // A share group commits no offsets: its members acknowledge records one by one.
    let committed = if d.protocol_type == "share" { BTreeMap::new() } else { client.group_offsets(group)? };
    // Share group members read a partition together: all of them are listed.
    let mut owner: BTreeMap<(String, i32), String> = BTreeMap::new();
    for m in &d.members {
        for (t, ps) in &m.assignment {
            for p in ps {
                let o = owner.entry((t.clone(), *p)).or_default();
                if !o.is_empty() {
                    o.push(',');
                }
                o.push_str(&m.member_id);
            }
        }
    }
    let mut topics: BTreeSet<&str> = committed.keys().map(|(t, _)| t.as_str()).collect();
    topics.extend(owner.keys().map(|(t, _)| t.as_str()));
    let mut rows = Vec::new();
    for topic in topics {
        for (p, hi) in client.topic(topic)?.latest_available_offsets()? {
            let key = (topic.to_string(), p);
            let c = committed.get(&key).copied();
            rows.push((key.0.clone(), p, c, hi, owner.get(&key).cloned()));
        }
    }
    let protocol = if d.protocol.is_empty() { "-" } else { &d.protocol };
    if output == Output::Json {
        let members = d
            .members
            .iter()
            .map(|m| {
                let assigned = m
                    .assignment
                    .iter()
                    .map(|(t, ps)| {
                        Json::Obj(vec![
                            ("topic", Json::Str(t.clone())),
                            ("partitions", Json::Arr(ps.iter().map(|p| Json::Int((*p).into())).collect())),
                        ])
                    })
                    .collect();
                Json::Obj(vec![
                    ("member_id", Json::Str(m.member_id.clone())),
                    ("group_instance_id", m.group_instance_id.clone().map_or(Json::Null, Json::Str)),
                    ("client_id", Json::Str(m.client_id.clone())),
                    ("client_host", Json::Str(m.client_host.clone())),
                    ("assignment", Json::Arr(assigned)),
                ])
            })
            .collect();
        let parts = rows
            .iter()
            .map(|(t, p, c, hi, m)| {
                Json::Obj(vec![
                    ("topic", Json::Str(t.clone())),
                    ("partition", Json::Int((*p).into())),
                    ("committed", Json::opt(*c)),
                    ("latest", Json::Int(*hi)),
                    ("lag", Json::opt(lag_of(*c, *hi))),
                    ("member", m.clone().map_or(Json::Null, Json::Str)),
                ])
            })
            .collect();
        return Ok(print_json(&Json::Obj(vec![
            ("group", Json::Str(d.group.clone())),
            ("state", Json::Str(d.state.clone())),
            ("protocol", Json::Str(d.protocol.clone())),
            ("type", Json::Str(d.protocol_type.clone())),
            ("members", Json::Arr(members)),
            ("partitions", Json::Arr(parts)),
        ]))?);
    }
    let mut out = io::stdout().lock();
    writeln!(out, "group {} state {} protocol {protocol} members {}", d.group, d.state, d.members.len())?;
    for m in &d.members {
        let parts: Vec<String> =
            m.assignment.iter().flat_map(|(t, ps)| ps.iter().map(move |p| format!("{t}/{p}"))).collect();
        writeln!(
            out,
            "member {} client {} host {} assigned {}",
            m.member_id,
            m.client_id,
            m.client_host,
            parts.join(",")
        )?;
    }
    writeln!(out, "TOPIC PARTITION COMMITTED LATEST LAG MEMBER")?;
    for (t, p, c, hi, m) in rows {
        writeln!(out, "{t} {p} {} {hi} {} {}", dash(c), dash(lag_of(c, hi)), m.as_deref().unwrap_or("-"))?;
    }
    Ok(())
}

pub(crate) fn topics(conn: &Conn, output: Output) -> AnyResult<()> {
    let client = conn.client()?;
    let mut rows = Vec::new();
    for name in client.topics()? {
        let n = client.topic(&name).map_or(0, |t| t.partitions().len());
        rows.push((name, n));
    }
    if output == Output::Json {
        let items = rows
            .into_iter()
            .map(|(t, n)| Json::Obj(vec![("topic", Json::Str(t)), ("partitions", Json::Int(n as i64))]))
            .collect();
        return Ok(print_json(&Json::Arr(items))?);
    }
    let mut out = io::stdout().lock();
    writeln!(out, "TOPIC PARTITIONS")?;
    for (t, n) in rows {
        writeln!(out, "{t} {n}")?;
    }
    Ok(())
}

pub(crate) fn describe_topic(conn: &Conn, topic: &str, output: Output) -> AnyResult<()> {
    let topic = conn.client()?.topic(topic)?;
    let earliest = topic.earliest_available_offsets()?;
    let latest = topic.latest_available_offsets()?;
    let ids = |v: &[i32]| v.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(",");
    if output == Output::Json {
        let parts = topic
            .partitions()
            .iter()
            .map(|p| {
                let list = |v: &[i32]| Json::Arr(v.iter().map(|i| Json::Int((*i).into())).collect());
                Json::Obj(vec![
                    ("partition", Json::Int(p.partition.into())),
                    ("leader", Json::opt(p.leader.map(i64::from))),
                    ("replicas", list(&p.replicas)),
                    ("isr", list(&p.isr)),
                    ("earliest", Json::opt(earliest.get(&p.partition).copied())),
                    ("latest", Json::opt(latest.get(&p.partition).copied())),
                ])
            })
            .collect();
        return Ok(print_json(&Json::Obj(vec![
            ("topic", Json::Str(topic.name().into())),
            ("partitions", Json::Arr(parts)),
        ]))?);
    }
    let mut out = io::stdout().lock();
    writeln!(out, "PARTITION LEADER REPLICAS ISR EARLIEST LATEST")?;
    for p in topic.partitions() {
        writeln!(
            out,
            "{} {} {} {} {} {}",
            p.partition,
            dash(p.leader.map(i64::from)),
            ids(&p.replicas),
            ids(&p.isr),
            dash(earliest.get(&p.partition).copied()),
            dash(latest.get(&p.partition).copied())
        )?;
    }
    Ok(())
}

pub(crate) fn create_topic(conn: &Conn, topic: &str, partitions: i32, replication_factor: i16) -> AnyResult<()> {
    conn.client()?.create_topic(topic, partitions, replication_factor)?;
    eprintln!("created {topic} with {partitions} partitions");
    Ok(())
}

pub(crate) fn configs(
    conn: &Conn,
    resource: &plainkafka::ConfigResource,
    set: &[String],
    delete: &[String],
    output: Output,
) -> AnyResult<()> {
    let client = conn.client()?;
    let mut changes: Vec<(&str, Option<&str>)> = Vec::new();
    for kv in set {
        let (k, v) = kv.split_once('=').ok_or_else(|| format!("--set {kv}: expected NAME=VALUE"))?;
        changes.push((k, Some(v)));
    }
    changes.extend(delete.iter().map(|k| (k.as_str(), None)));
    if !changes.is_empty() {
        client.alter_configs(resource, &changes)?;
    }
    let entries = client.describe_configs(resource)?;
    let source = |e: &plainkafka::ConfigEntry| if e.is_default { "default" } else { "set" };
    if output == Output::Json {
        let items = entries
            .iter()
            .map(|e| {
                Json::Obj(vec![
                    ("name", Json::Str(e.name.clone())),
                    ("value", e.value.clone().map_or(Json::Null, Json::Str)),
                    ("source", Json::Str(source(e).into())),
                    ("read_only", Json::Bool(e.read_only)),
                    ("sensitive", Json::Bool(e.sensitive)),
                ])
            })
            .collect();
        return Ok(print_json(&Json::Arr(items))?);
    }
    let mut out = io::stdout().lock();
    writeln!(out, "NAME VALUE SOURCE")?;
    for e in &entries {
        let value = match (&e.value, e.sensitive) {
            (_, true) => "(hidden)",
            (Some(v), false) => v.as_str(),
            (None, false) => "-",
        };
        writeln!(out, "{} {value} {}", e.name, source(e))?;
    }
    Ok(())
}

pub(crate) fn delete_topic(conn: &Conn, topic: &str) -> AnyResult<()> {
    conn.client()?.delete_topic(topic)?;
    eprintln!("deleted {topic}");
    Ok(())
}

pub(crate) fn mock(
    brokers: usize,
    port: Option<u16>,
    partitions: i32,
    sasl_users: &[String],
    tls: Option<(&std::path::Path, Option<&std::path::Path>)>,
) -> AnyResult<()> {
    let mut b = plainkafka::mock::MockCluster::builder().brokers(brokers).partitions(partitions);
    if let Some(p) = port {
        b = b.port(p);
    }
    for u in sasl_users {
        let (user, password) = u.split_once(':').ok_or_else(|| format!("--sasl-user {u:?}: expected USER:PASSWORD"))?;
        b = b.sasl_user(user, password);
    }
    if let Some((_, client_ca)) = tls {
        b = b.tls_generated()?;
        if let Some(path) = client_ca {
            let pem = std::fs::read_to_string(path).map_err(|e| format!("--tls-client-ca {}: {e}", path.display()))?;
            b = b.tls_client_ca(&pem);
        }
    }
    let cluster = b.build()?;
    if let (Some((path, _)), Some(ca)) = (tls, cluster.tls_ca_pem()) {
        std::fs::write(path, ca).map_err(|e| format!("--tls-ca-out {}: {e}", path.display()))?;
    }
    let mut out = io::stdout().lock();
    writeln!(out, "{}", cluster.bootstrap())?;
    out.flush()?;
    eprintln!("plainkafka mock: {brokers} broker(s); Ctrl-C stops");
    // Serve until the process is interrupted; the brokers run on their own threads.
    loop {
        std::thread::park();
    }
}
