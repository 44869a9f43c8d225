//! Consumer groups: the assignors (pure functions), what to do about each coordinator error,
//! membership (join, sync, heartbeat, leave) driven by a [`crate::BalancedConsumer`], and a
//! view from outside (list, describe, committed offsets) for tools.

pub(crate) mod actions;
pub mod assignors;
pub(crate) mod membership;
pub(crate) mod transitions;

pub use crate::client::groups_admin::{GroupDescription, GroupListing, GroupMemberDescription};
pub use assignors::{Assignor, MemberInfo};

use crate::client::offsets::Generation;

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
