//! Control hooks: closures a test registers to see each request (of one API, or of every API)
//! before its handler and decide its fate — pass it on, fail it with an error code, hold its
//! response back, cut the response off, close the connection. The ideas are franz-go kfake's
//! `ControlKey`; the fault helpers on [`super::MockCluster`] (`fail_next`, `delay`,
//! `drop_next_response`) are presets built on these hooks.

use crate::protocol::error_code::ErrorCode;
use crate::protocol::ApiKey;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A request as a control hook sees it.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Intercepted<'a> {
    /// The broker it arrived at.
    pub broker: i32,
    /// Its API.
    pub api: ApiKey,
    /// Its version.
    pub version: i16,
    /// The client id in its header.
    pub client_id: Option<&'a str>,
    /// The rest of the frame after the header's fixed fields, as the client sent it (for
    /// flexible versions it starts with the header's tagged fields). Decode it with the
    /// `unstable` feature's `protocol` module if the test needs the request's fields.
    pub body: &'a [u8],
}

/// What a control hook does with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Control {
    /// Not this one: later hooks, then the handler, deal with it.
    Pass,
    /// The handler answers with this error code, as it would with an error of its own (for
    /// partition APIs, in every partition; for group APIs, at the top).
    Fail(ErrorCode),
    /// Hold the response back this long. Later hooks still see the request, so a delay
    /// combines with a failure.
    Delay(Duration),
    /// Send the first half of the handler's response, then close the connection: the client
    /// sees a connection lost mid-frame.
    DropResponse,
    /// Close the connection without answering.
    Close,
    /// Never answer, and keep the connection open, as a hung broker does (a stopped process,
    /// a full disk): the client waits out its request timeout. The request is not handled.
    Ignore,
}

/// Identifies a registered hook, to remove it with [`super::MockCluster::remove_control`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ControlId(pub(crate) u64);

type HookFn = Box<dyn FnMut(&Intercepted<'_>) -> Control + Send>;

pub(crate) struct Hook {
    id: ControlId,
    /// `None`: every API.
    api: Option<ApiKey>,
    /// How many more times it may act (return anything but `Pass`); `None`: until removed.
    uses: Mutex<Option<usize>>,
    f: Mutex<HookFn>,
}

impl Hook {
    fn used_up(&self) -> bool {
        *self.uses.lock().unwrap_or_else(|e| e.into_inner()) == Some(0)
    }
}

/// The registered hooks, consulted in the order they were added. Hooks run outside the
/// cluster's locks, so a hook that blocks holds up only its own connection.
#[derive(Default)]
pub(crate) struct Controls {
    hooks: Vec<Arc<Hook>>,
    next_id: u64,
}

impl std::fmt::Debug for Controls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Controls").field("hooks", &self.hooks.len()).finish()
    }
}

/// What the hooks decided for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Verdict {
    /// The first `Fail`, `DropResponse`, `Close` or `Ignore`, if any hook returned one.
    pub fate: Option<Control>,
    /// The sum of the delays asked for.
    pub delay: Duration,
}

impl Controls {
    /// Adds a hook for `api` (`None`: every API) that acts at most `uses` times.
    pub fn add(&mut self, api: Option<ApiKey>, uses: Option<usize>, f: HookFn) -> ControlId {
        self.next_id += 1;
        let id = ControlId(self.next_id);
        self.hooks.push(Arc::new(Hook { id, api, uses: Mutex::new(uses), f: Mutex::new(f) }));
        id
    }

    /// Removes a hook; false if it was gone already.
    pub fn remove(&mut self, id: ControlId) -> bool {
        let before = self.hooks.len();
        self.hooks.retain(|h| h.id != id);
        self.hooks.len() != before
    }

    /// The hooks that may see a request of `api`, in order (taken under the cluster's lock,
    /// run after it is released).
    pub fn for_api(&self, api: ApiKey) -> Vec<Arc<Hook>> {
        self.hooks.iter().filter(|h| h.api.is_none_or(|a| a == api) && !h.used_up()).cloned().collect()
    }

    /// Drops the hooks that used up their uses.
    pub fn prune(&mut self) {
        self.hooks.retain(|h| !h.used_up());
    }
}

/// Shows `req` to `hooks`, in order, until one decides its fate.
pub(crate) fn decide(hooks: &[Arc<Hook>], req: &Intercepted<'_>) -> Verdict {
    let mut verdict = Verdict::default();
    for h in hooks {
        let control = {
            let mut uses = h.uses.lock().unwrap_or_else(|e| e.into_inner());
            if *uses == Some(0) {
                continue;
            }
            let control = (h.f.lock().unwrap_or_else(|e| e.into_inner()))(req);
            if control != Control::Pass {
                if let Some(n) = uses.as_mut() {
                    *n -= 1;
                }
            }
            control
        };
        match control {
            Control::Pass => {}
            Control::Delay(d) => verdict.delay += d,
            fate => {
                verdict.fate = Some(fate);
                break;
            }
        }
    }
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(broker: i32, api: ApiKey) -> Intercepted<'static> {
        Intercepted { broker, api, version: 0, client_id: None, body: &[] }
    }

    fn decide_all(c: &mut Controls, r: &Intercepted<'_>) -> Verdict {
        let v = decide(&c.for_api(r.api), r);
        c.prune();
        v
    }

    #[test]
    fn first_fate_wins_delays_add_up_and_used_hooks_go() {
        let mut c = Controls::default();
        let slow = c.add(
            None,
            None,
            Box::new(|r| if r.broker == 1 { Control::Delay(Duration::from_millis(5)) } else { Control::Pass }),
        );
        c.add(Some(ApiKey::Fetch), Some(2), Box::new(|_| Control::Fail(ErrorCode::NOT_LEADER_OR_FOLLOWER)));
        c.add(Some(ApiKey::Fetch), None, Box::new(|_| Control::Close));
        let v = decide_all(&mut c, &req(1, ApiKey::Fetch));
        assert_eq!(
            v,
            Verdict { fate: Some(Control::Fail(ErrorCode::NOT_LEADER_OR_FOLLOWER)), delay: Duration::from_millis(5) }
        );
        assert_eq!(
            decide_all(&mut c, &req(2, ApiKey::Fetch)).fate,
            Some(Control::Fail(ErrorCode::NOT_LEADER_OR_FOLLOWER))
        );
        // Its two uses are spent: the next hook decides now.
        assert_eq!(decide_all(&mut c, &req(2, ApiKey::Fetch)).fate, Some(Control::Close));
        assert_eq!(c.hooks.len(), 2);
        // Other APIs only meet the hook for every API.
        assert_eq!(
            decide_all(&mut c, &req(1, ApiKey::Metadata)),
            Verdict { fate: None, delay: Duration::from_millis(5) }
        );
        assert!(c.remove(slow));
        assert!(!c.remove(slow));
        assert_eq!(decide_all(&mut c, &req(1, ApiKey::Metadata)), Verdict::default());
    }

    #[test]
    fn passing_does_not_use_a_hook_up() {
        let mut c = Controls::default();
        let mut seen = 0;
        c.add(
            Some(ApiKey::Produce),
            Some(1),
            Box::new(move |_| {
                seen += 1;
                if seen < 3 {
                    Control::Pass
                } else {
                    Control::DropResponse
                }
            }),
        );
        assert_eq!(decide_all(&mut c, &req(1, ApiKey::Produce)).fate, None);
        assert_eq!(decide_all(&mut c, &req(1, ApiKey::Produce)).fate, None);
        assert_eq!(decide_all(&mut c, &req(1, ApiKey::Produce)).fate, Some(Control::DropResponse));
        assert!(c.hooks.is_empty());
    }
}
