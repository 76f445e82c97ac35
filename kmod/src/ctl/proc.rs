//! /proc/net/fvs and /proc/net/fvs_stats, in the /proc/net/ip_vs and ip_vs_stats formats.

use crate::corelib::procfmt;
use crate::netns::NetState;
use crate::sys::net::NetRef;
use crate::sys::proc::{self, ProcShow, SeqWriter};
use crate::uapi;
use core::ffi::CStr;
use core::fmt;
use kernel::prelude::*;

struct Info;
impl ProcShow for Info {
    const NAME: &'static CStr = c"fvs";
    fn show(w: &mut SeqWriter, net: NetRef) -> fmt::Result {
        let size = NetState::of(net).map(|s| s.conn_tab_size).unwrap_or(0);
        procfmt::write_info_header(w, uapi::IP_VS_VERSION_CODE, size)
    }
}

struct Stats;
impl ProcShow for Stats {
    const NAME: &'static CStr = c"fvs_stats";
    fn show(w: &mut SeqWriter, _net: NetRef) -> fmt::Result {
        procfmt::write_stats(w, &procfmt::Stats::default())
    }
}

pub(crate) fn create(net: NetRef) -> Result {
    proc::create::<Info>(net)?;
    if let Err(e) = proc::create::<Stats>(net) {
        proc::remove::<Info>(net);
        return Err(e);
    }
    Ok(())
}

pub(crate) fn remove(net: NetRef) {
    proc::remove::<Stats>(net);
    proc::remove::<Info>(net);
}
