//! Per network namespace state of fvs: everything the control and packet paths of one namespace
//! share. Created when a namespace appears (or the module loads), destroyed when it goes away.

use crate::sys::net::{NetRef, Pernet, PernetState};
use crate::{ctl, hooks};
use core::pin::Pin;
use kernel::alloc::KBox;
use kernel::prelude::*;

pub(crate) struct NetState {
    /// Buckets in the connection hash table (reported by GET_INFO and /proc/net/fvs).
    pub(crate) conn_tab_size: u32,
}

static PERNET: Pernet<NetState> = Pernet::new();

impl PernetState for NetState {
    fn pernet() -> &'static Pernet<Self> {
        &PERNET
    }

    fn init(net: NetRef) -> Result<Pin<KBox<Self>>> {
        let state = KBox::pin(NetState { conn_tab_size: 1 << crate::params().conn_tab_bits }, GFP_KERNEL)?;
        ctl::proc::create(net)?;
        if let Err(e) = hooks::register(net) {
            ctl::proc::remove(net);
            return Err(e);
        }
        Ok(state)
    }

    fn exit(net: NetRef, _state: Pin<KBox<Self>>) {
        hooks::unregister(net);
        ctl::proc::remove(net);
    }
}

impl NetState {
    /// The state of `net`; `None` only while the namespace is being set up or torn down.
    pub(crate) fn of(net: NetRef) -> Option<&'static NetState> {
        PERNET.get(net)
    }
}

pub(crate) fn register() -> Result {
    PERNET.register()
}

pub(crate) fn unregister() {
    PERNET.unregister()
}
