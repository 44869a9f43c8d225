//! Share group scenarios (KIP-932) every broker with share groups runs: Kafka 4.2+ and the
//! MockCluster. Each takes a running broker; the test binaries call them per broker through
//! `share_scenarios!`.

use super::scenarios::{client, new_topic};
use super::*;
use plainkafka::{Acknowledge, ConfigResource, Message, ShareConsumer};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The shortest acquisition lock the broker allows: Kafka's floor for
/// `share.record.lock.duration.ms` is 15 s, the mock takes any.
pub fn min_lock(b: &Broker) -> Duration {
    match b.kind {
        Kind::Mock => Duration::from_secs(2),
        _ => Duration::from_secs(15),
    }
}

/// A new share group that reads from the start of the log (`share.auto.offset.reset`, the
/// default being the end), plus `extra` group settings, set with plainkafka's own admin call
/// and read back.
pub fn share_group_from_the_start(b: &Broker, group: &str, extra: &[(&str, &str)]) {
    let c = client(b);
    let resource = ConfigResource::Group(group.to_string());
    let mut changes = vec![("share.auto.offset.reset", Some("earliest"))];
    changes.extend(extra.iter().map(|(k, v)| (*k, Some(*v))));
    c.alter_configs(&resource, &changes).expect("alter the group's configs");
    let now: BTreeMap<String, Option<String>> =
        c.describe_configs(&resource).expect("describe configs").into_iter().map(|e| (e.name, e.value)).collect();
    for (k, v) in changes {
        assert_eq!(now.get(k).cloned().flatten().as_deref(), v, "{k} on {group}: {now:?}");
    }
}

fn value(m: &Message) -> String {
    String::from_utf8_lossy(m.value().unwrap_or_default()).into_owned()
}

/// Explicit acknowledgement in a share group: a record released comes back with its delivery
/// count one up, until the group's delivery limit (5 by default) archives it; a rejected one
/// never comes back; an accepted one neither.
pub fn share_group_released_records_come_back_until_the_delivery_limit(b: &Broker) {
    let name = new_topic(b, "shareack", 1);
    let group = unique_topic("shareack-group");
    share_group_from_the_start(b, &group, &[]);
    produce(&b.bootstrap, &name, ["release", "reject", "accept"].map(|v| TestMsg::value(0, v)), false);
    let mut c = client(b)
        .share_consumer(&group, &[&name])
        .explicit_acknowledgement(true)
        .consumer_timeout(Some(Duration::from_secs(3)))
        .build()
        .expect("share consumer");
    let mut deliveries: Vec<(String, u16)> = Vec::new();
    let mut last = None;
    let deadline = Instant::now() + Duration::from_secs(90);
    // Until three seconds pass with nothing once reading began: the released record has run
    // out of deliveries.
    loop {
        assert!(Instant::now() < deadline, "{deliveries:?}");
        let m = match c.consume().expect("consume") {
            Some(m) => m,
            None if deliveries.is_empty() => continue, // still joining
            None => break,
        };
        let v = value(&m);
        deliveries.push((v.clone(), m.delivery_count().expect("a share group's record has a delivery count")));
        let how = match v.as_str() {
            "release" => Acknowledge::Release,
            "reject" => Acknowledge::Reject,
            _ => Acknowledge::Accept,
        };
        c.acknowledge(&m, how).expect("acknowledge");
        last = Some(m);
    }
    let of = |v: &str| deliveries.iter().filter(|(x, _)| x == v).map(|(_, n)| *n).collect::<Vec<_>>();
    assert_eq!(of("release"), [1, 2, 3, 4, 5], "{deliveries:?}");
    assert_eq!(of("reject"), [1], "{deliveries:?}");
    assert_eq!(of("accept"), [1], "{deliveries:?}");
    let last = last.expect("read something");
    assert!(c.acknowledge(&last, Acknowledge::Accept).is_err(), "a record is acknowledged once");
}

/// A share group member that dies holding records (`plainkafka consume --share`, stuck writing
/// to a pipe nobody reads, then SIGKILLed: nothing acknowledged, no session closed) loses them
/// when their acquisition lock times out: another member gets every one, delivered a second
/// time.
pub fn share_group_member_killed_holding_records_loses_them_to_another_after_the_lock(b: &Broker) {
    let name = new_topic(b, "sharekill", 1);
    let group = unique_topic("sharekill-group");
    let lock = min_lock(b).as_millis().to_string();
    share_group_from_the_start(b, &group, &[("share.record.lock.duration.ms", &lock)]);
    // Large enough that the first one fills the pipe: the member blocks before acknowledging.
    let big = |i: usize| format!("{i}:{}", "x".repeat(100_000));
    produce(&b.bootstrap, &name, (0..10).map(|i| TestMsg::value(0, big(i))), false);
    let mut child = std::process::Command::new(cli_bin())
        .args(["-b", &b.bootstrap, "consume", &name, "-g", &group, "--share"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("plainkafka consume --share");
    bounded::track(child.id());
    let mut first = [0u8; 1];
    std::io::Read::read_exact(child.stdout.as_mut().expect("stdout"), &mut first).expect("the member printed");
    let _ = child.kill();
    let _ = child.wait();
    bounded::untrack(child.id());
    let mut other = client(b)
        .share_consumer(&group, &[&name])
        .consumer_timeout(Some(Duration::from_secs(2)))
        .build()
        .expect("share consumer");
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut got = BTreeMap::new();
    while got.len() < 10 {
        assert!(Instant::now() < deadline, "{got:?}");
        if let Some(m) = other.consume().expect("consume") {
            got.insert(value(&m).split(':').next().unwrap_or_default().to_string(), m.delivery_count());
        }
    }
    assert!(got.values().all(|n| *n == Some(2)), "each delivered a second time: {got:?}");
}

/// Renewing acquisition locks (KIP-1222): a member that renews the records it holds keeps them
/// well past the lock while another member of the group polls all along and gets none; once
/// accepted they are gone. Meanwhile the group is listed as a share group and described with
/// both members.
pub fn share_group_renewed_records_stay_with_their_member_past_the_lock(b: &Broker) {
    let lock = min_lock(b);
    let name = new_topic(b, "sharerenew", 1);
    let group = unique_topic("sharerenew-group");
    let lock_ms = lock.as_millis().to_string();
    share_group_from_the_start(b, &group, &[("share.record.lock.duration.ms", &lock_ms)]);
    produce(&b.bootstrap, &name, (0..5).map(|i| TestMsg::value(0, format!("renew-{i}"))), false);
    let c = client(b);
    let mut holder: ShareConsumer = c
        .share_consumer(&group, &[&name])
        .explicit_acknowledgement(true)
        .consumer_timeout(Some(Duration::from_secs(1)))
        .build()
        .expect("share consumer");
    let mut held = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while held.len() < 5 {
        assert!(Instant::now() < deadline, "read {} of 5", held.len());
        held.extend(holder.consume().expect("consume"));
    }
    assert_eq!(holder.acquisition_lock_timeout(), Some(lock), "the broker states the group's lock");

    let stop = Arc::new(AtomicBool::new(false));
    let (s, bootstrap, g, t) = (Arc::clone(&stop), b.clone(), group.clone(), name.clone());
    let other = std::thread::spawn(move || {
        let mut c = client(&bootstrap)
            .share_consumer(&g, &[&t])
            .consumer_timeout(Some(Duration::from_millis(200)))
            .build()
            .expect("share consumer");
        let mut got = Vec::new();
        while !s.load(Ordering::Acquire) {
            got.extend(c.consume().expect("the other member consumes").map(|m| value(&m)));
        }
        got
    });
    wait_until("the group to be described with both members", Duration::from_secs(30), || {
        c.describe_group(&group)
            .is_ok_and(|d| d.protocol_type == "share" && d.members.len() == 2 && d.state == "Stable")
    });
    let listed = c.list_groups().expect("list groups");
    let l = listed.iter().find(|l| l.group == group).expect("the share group is listed");
    assert_eq!(l.group_type.as_deref(), Some("share"), "{l:?}");

    // Renewed every third of the lock, for well over one lock.
    let until = Instant::now() + lock * 8 / 5;
    while Instant::now() < until {
        for m in &held {
            holder.acknowledge(m, Acknowledge::Renew).expect("renew");
        }
        holder.commit().expect("the renewals are taken");
        std::thread::sleep(lock / 3);
    }
    for m in &held {
        holder.acknowledge(m, Acknowledge::Accept).expect("accept");
    }
    holder.commit().expect("the acceptances are taken");
    stop.store(true, Ordering::Release);
    let got = other.join().expect("other member");
    assert!(got.is_empty(), "renewed records stayed with their member: {got:?}");
    assert!(holder.acknowledge(&held[0], Acknowledge::Accept).is_err(), "acknowledged for good");
}
