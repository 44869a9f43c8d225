//! Consumer groups: the assignors (pure functions), what to do about each coordinator error,
//! membership (join, sync, heartbeat, leave) driven by a [`crate::BalancedConsumer`], and a
//! view from outside (list, describe, committed offsets) for tools.

pub(crate) mod actions;
pub mod assignors;
pub(crate) mod kip848;
pub(crate) mod membership;
pub(crate) mod share;
pub(crate) mod transitions;

pub use crate::client::groups_admin::{GroupDescription, GroupListing, GroupMemberDescription};
pub use assignors::{Assignor, MemberInfo};

use crate::client::offsets::Generation;

/// Which group protocol a [`crate::BalancedConsumer`] speaks (`group.protocol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GroupProtocol {
    /// The classic protocol (JoinGroup, SyncGroup, Heartbeat): a member computes the
    /// assignment with a client-side assignor. Every Kafka since 0.9 speaks it.
    #[default]
    Classic,
    /// The consumer group protocol (KIP-848, Kafka 4.0+): the coordinator assigns partitions
    /// itself, with a server-side assignor (`group.remote.assignor`: `uniform` or `range`),
    /// and hands them over incrementally, so partitions a member keeps are read without pause
    /// through a rebalance.
    Consumer,
}

/// Whose offsets a transaction commits (the Java client's `ConsumerGroupMetadata`): a group and,
/// for a group member, its generation, so that the coordinator refuses the offsets of a member a
/// rebalance replaced (KIP-447). From [`crate::BalancedConsumer::group_metadata`], or
/// [`ConsumerGroupMetadata::new`] for offsets outside any membership (a `SimpleConsumer`'s).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerGroupMetadata {
    pub(crate) group: String,
    pub(crate) member: Option<Generation>,
}

impl ConsumerGroupMetadata {
    /// A group, without membership: nothing fences the commit.
    pub fn new(group: &str) -> ConsumerGroupMetadata {
        ConsumerGroupMetadata { group: group.to_string(), member: None }
    }

    /// The group.
    pub fn group_id(&self) -> &str {
        &self.group
    }

    /// The member's generation; -1 without membership.
    pub fn generation_id(&self) -> i32 {
        self.member.as_ref().map_or(-1, |m| m.generation_id)
    }
}
