// SPDX-License-Identifier: GPL-2.0

//! fvs: a layer-4 load balancer (LVS/IPVS class) for Linux, in Rust.
//!
//! Crate root of fvs.ko (the crate is `fvs_main` because the module links in `helpers.c` too).
//! Init order: hooks and policies are filled, pernet state is registered (every namespace gets
//! its state, /proc files and netfilter hooks), then the generic netlink family opens the control
//! path. Exit runs in reverse.

use kernel::prelude::*;

mod corelib;
mod ctl;
mod hooks;
mod conn;
mod defense;
mod ftp;
mod netns;
mod rules;
mod sched;
mod sysctl;
mod tunnel;
mod xmit;
mod sys;

/// The IPVS protocol definitions shared with ipvsadm-rs (`uapi/src/ipvs.rs`).
#[allow(dead_code, missing_docs, unreachable_pub)]
pub(crate) mod uapi {
    include!("../../uapi/src/ipvs.rs");
}

module! {
    type: Fvs,
    name: "fvs",
    authors: ["fvs developers"],
    description: "fvs: layer-4 load balancer speaking the IPVS protocol",
    license: "GPL",
    params: {
        conn_tab_bits: i32 {
            default: 12,
            description: "Connection hash table size as a power of two (8..20), like ip_vs",
        },
        ftp_port: u16 {
            default: 21,
            description: "Control port of NAT services the FTP helper watches (0: no helper), like ip_vs_ftp's ports",
        },
    },
}

/// Module-wide settings read once at load.
pub(crate) struct Params {
    pub(crate) conn_tab_bits: u32,
    /// The FTP helper's control port (0: off).
    pub(crate) ftp_port: u16,
}

pub(crate) static PARAMS: sys::KStatic<Params> = sys::KStatic::zeroed();

pub(crate) fn params() -> &'static Params {
    // SAFETY: written once in `Fvs::init` before anything that reads it is registered.
    unsafe { &*PARAMS.get() }
}

struct Fvs;

impl kernel::Module for Fvs {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let bits = *module_parameters::conn_tab_bits.value();
        if !(8..=20).contains(&bits) {
            pr_err!("conn_tab_bits={} out of range 8..20\n", bits);
            return Err(EINVAL);
        }
        // SAFETY: nothing reads PARAMS before the registrations below.
        unsafe {
            (*PARAMS.get()).conn_tab_bits = bits as u32;
            (*PARAMS.get()).ftp_port = *module_parameters::ftp_port.value();
        }

        sys::layout::check()?;
        hooks::init();
        ctl::genl::init_policies();
        conn::cache_init()?;
        if let Err(e) = netns::register() {
            conn::cache_exit();
            return Err(e);
        }
        if let Err(e) = ctl::genl::register(THIS_MODULE.as_ptr()) {
            netns::unregister();
            conn::cache_exit();
            return Err(e);
        }
        pr_info!(
            "fvs loaded (connection table 2^{} buckets, {} bytes per connection)\n",
            bits,
            conn::entry_size()
        );
        Ok(Fvs)
    }
}

impl Drop for Fvs {
    fn drop(&mut self) {
        ctl::genl::unregister();
        netns::unregister();
        // Every namespace's connections are unlinked; wait for their RCU frees.
        conn::cache_exit();
        pr_info!("fvs unloaded\n");
    }
}
