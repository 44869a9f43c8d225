//! Consumer groups: the assignors (pure functions), what to do about each coordinator error,
//! membership (join, sync, heartbeat, leave) driven by a [`crate::BalancedConsumer`], and a
//! view from outside (list, describe, committed offsets) for tools.

pub(crate) mod actions;
pub mod assignors;
pub(crate) mod membership;
pub(crate) mod transitions;

pub use crate::client::groups_admin::{GroupDescription, GroupListing, GroupMemberDescription};
pub use assignors::{Assignor, MemberInfo};
