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
mod syncd;
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
        compat: u8 {
            default: 0,
            description: "Drop-in mode: also answer as the kernel's ip_vs (generic netlink family IPVS, the IPVS socket options, /proc/net/ip_vs*, /proc/sys/net/ipv4/vs); refused while ip_vs is loaded",
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
    /// compat=1: fvs also takes ip_vs's names and interfaces.
    pub(crate) compat: bool,
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
            (*PARAMS.get()).compat = *module_parameters::compat.value() != 0;
        }
        let compat = params().compat;

        sys::layout::check()?;
        hooks::init();
        ctl::genl::init_policies();
        ctl::proc::init();
        // compat: the socket options go first. They fail (EBUSY) when the kernel's ip_vs holds
        // them, before any of ip_vs's names (/proc/net/ip_vs, net/ipv4/vs, "IPVS") is touched.
        if compat {
            ctl::sockopt::register(THIS_MODULE.as_ptr())?;
        }
        let undo_sockopt = || {
            if compat {
                ctl::sockopt::unregister();
            }
        };
        if let Err(e) = conn::cache_init() {
            undo_sockopt();
            return Err(e);
        }
        if let Err(e) = netns::register() {
            conn::cache_exit();
            undo_sockopt();
            return Err(e);
        }
        if let Err(e) = ctl::genl::register(THIS_MODULE.as_ptr()) {
            if e == EEXIST {
                pr_err!("the generic netlink family {} is taken\n", ctl::genl::family_name());
            }
            netns::unregister();
            conn::cache_exit();
            undo_sockopt();
            return Err(e);
        }
        pr_info!(
            "fvs loaded{} (connection table 2^{} buckets, {} bytes per connection)\n",
            if compat { " in ip_vs compat mode" } else { "" },
            bits,
            conn::entry_size()
        );
        Ok(Fvs)
    }
}

impl Drop for Fvs {
    fn drop(&mut self) {
        ctl::genl::unregister();
        if params().compat {
            ctl::sockopt::unregister();
        }
        netns::unregister();
        // Every namespace's connections are unlinked; wait for their RCU frees.
        conn::cache_exit();
        crate::sys::prof::report();
        pr_info!("fvs unloaded\n");
    }
}
