//! The generic netlink family "FVS", speaking the IPVS protocol of include/uapi/linux/ip_vs.h.

use crate::netns::NetState;
use crate::sys::genl::{Dump, Family, Handlers, OpSpec, Policy, Request};
use crate::uapi::{self, cmd, info_attr};
use kernel::prelude::*;

const N_OPS: usize = 16;

static FAMILY: Family<N_OPS> = Family::new();
pub(crate) static CMD_POLICY: Policy<{ uapi::cmd_attr::MAX as usize + 1 }> = Policy::new();
pub(crate) static SVC_POLICY: Policy<{ uapi::svc_attr::MAX as usize + 1 }> = Policy::new();
pub(crate) static DEST_POLICY: Policy<{ uapi::dest_attr::MAX as usize + 1 }> = Policy::new();
pub(crate) static DAEMON_POLICY: Policy<{ uapi::daemon_attr::MAX as usize + 1 }> = Policy::new();

pub(crate) fn family() -> &'static Family<N_OPS> {
    &FAMILY
}

pub(crate) fn init_policies() {
    CMD_POLICY.init(&uapi::CMD_POLICY);
    SVC_POLICY.init(&uapi::SVC_POLICY);
    DEST_POLICY.init(&uapi::DEST_POLICY);
    DAEMON_POLICY.init(&uapi::DAEMON_POLICY);
}

const fn op(cmd: u8, doit: bool, dumpit: bool) -> OpSpec {
    OpSpec { cmd, doit, dumpit }
}

pub(crate) fn register(module: *mut kernel::bindings::module) -> Result {
    FAMILY.register(
        uapi::FVS_GENL_NAME,
        uapi::IPVS_GENL_VERSION,
        &CMD_POLICY,
        &[
            op(cmd::NEW_SERVICE, true, false),
            op(cmd::SET_SERVICE, true, false),
            op(cmd::DEL_SERVICE, true, false),
            op(cmd::GET_SERVICE, true, true),
            op(cmd::NEW_DEST, true, false),
            op(cmd::SET_DEST, true, false),
            op(cmd::DEL_DEST, true, false),
            op(cmd::GET_DEST, false, true),
            op(cmd::NEW_DAEMON, true, false),
            op(cmd::DEL_DAEMON, true, false),
            op(cmd::GET_DAEMON, false, true),
            op(cmd::SET_CONFIG, true, false),
            op(cmd::GET_CONFIG, true, false),
            op(cmd::GET_INFO, true, false),
            op(cmd::ZERO, true, false),
            op(cmd::FLUSH, true, false),
        ],
        Handlers { doit, dumpit },
        cmd::FLUSH + 1,
        module,
    )
}

pub(crate) fn unregister() {
    FAMILY.unregister()
}

fn doit(req: &Request<'_>) -> Result {
    let state = NetState::of(req.net()).ok_or(ENOENT)?;
    match req.cmd() {
        cmd::GET_INFO => req.reply(cmd::SET_INFO, |m| {
            m.put_u32(info_attr::VERSION, uapi::IP_VS_VERSION_CODE)?;
            m.put_u32(info_attr::CONN_TAB_SIZE, state.conn_tab_size)
        }),
        _ => Err(crate::sys::errno::eopnotsupp()),
    }
}

fn dumpit(_dump: &mut Dump<'_>) -> Result {
    Ok(())
}
