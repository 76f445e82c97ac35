//! Netfilter entry points: LOCAL_IN and FORWARD for IPv4 and IPv6, at ip_vs's priorities.
//!
//! Skeleton stage: every packet is accepted unchanged.

use crate::sys::nf::{Family, Hook, HookPoint, HookSet, HookSpec, HookState, Skb, Verdict};
use crate::sys::net::NetRef;
use kernel::prelude::*;

/// ip_vs schedules new connections at LOCAL_IN with priority NF_IP_PRI_NAT_SRC - 1 (99) and
/// handles replies at FORWARD priority 100.
const PRI_LOCAL_IN: i32 = 100 - 1;
const PRI_FORWARD: i32 = 100;

struct InHook;
impl Hook for InHook {
    fn hook(_skb: &mut Skb, _state: &HookState<'_>) -> Verdict {
        Verdict::Accept
    }
}

struct ReplyHook;
impl Hook for ReplyHook {
    fn hook(_skb: &mut Skb, _state: &HookState<'_>) -> Verdict {
        Verdict::Accept
    }
}

static HOOKS: HookSet<4> = HookSet::new();

pub(crate) fn init() {
    HOOKS.init(&[
        HookSpec::new::<InHook>(Family::Ipv4, HookPoint::LocalIn, PRI_LOCAL_IN),
        HookSpec::new::<ReplyHook>(Family::Ipv4, HookPoint::Forward, PRI_FORWARD),
        HookSpec::new::<InHook>(Family::Ipv6, HookPoint::LocalIn, PRI_LOCAL_IN),
        HookSpec::new::<ReplyHook>(Family::Ipv6, HookPoint::Forward, PRI_FORWARD),
    ]);
}

pub(crate) fn register(net: NetRef) -> Result {
    HOOKS.register(net)
}

pub(crate) fn unregister(net: NetRef) {
    HOOKS.unregister(net)
}
