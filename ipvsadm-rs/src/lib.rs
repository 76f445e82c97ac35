//! ipvsadm-rs: an ipvsadm 1.31-compatible administration tool for fvs.ko and ip_vs.
//!
//! The binary (`main.rs`) is a thin wrapper around [`run`]; the modules are public so that the
//! behaviour can be tested on a host without IPVS.

pub mod app;
pub mod args;
pub mod cli;
pub mod client;
pub mod format;
pub mod json;
pub mod model;
pub mod netlink;
pub mod popt;
pub mod resolve;
pub mod restore;

use std::io::{Read, Write};

use client::{Backend, Flavor, NetlinkClient};

/// `IPVSADM_RS_FAMILY=FVS|IPVS` forces a generic netlink family.
pub fn forced_flavor() -> Option<Flavor> {
    match std::env::var("IPVSADM_RS_FAMILY")
        .ok()?
        .to_ascii_uppercase()
        .as_str()
    {
        "FVS" => Some(Flavor::Fvs),
        "IPVS" => Some(Flavor::Ipvs),
        _ => None,
    }
}

/// libipvs' `ipvs_init()`: find the family and fetch GET_INFO. Without a family the error is
/// the one the legacy sockopt probe gets, as in libipvs.
fn init(forced: Option<Flavor>) -> Result<(NetlinkClient, model::Info), i32> {
    let mut c = match NetlinkClient::connect(forced) {
        Ok(c) => c,
        Err(_) => return Err(client::sockopt_probe_errno()),
    };
    let info = c.info()?;
    Ok((c, info))
}

/// ipvsadm's `modprobe_ipvs()`: `/sbin/modprobe -- ip_vs` (or `fvs` when FVS is forced).
fn modprobe(forced: Option<Flavor>) -> bool {
    let module = if forced == Some(Flavor::Fvs) {
        "fvs"
    } else {
        "ip_vs"
    };
    std::process::Command::new("/sbin/modprobe")
        .args(["--", module])
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// The whole program: returns the exit status.
pub fn run(argv: &[String], stdin: &mut dyn Read, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    if let Some(code) = cli::handle_extension(argv, out) {
        return code;
    }
    let forced = forced_flavor();
    let (mut backend, info) = match init(forced) {
        Ok(x) => x,
        Err(e) => {
            let retry = if modprobe(forced) {
                init(forced)
            } else {
                Err(e)
            };
            match retry {
                Ok(x) => x,
                Err(e) => {
                    let _ = writeln!(
                        err,
                        "Can't initialize ipvs: {}\nAre you sure that IP Virtual Server is built in the kernel or as module?",
                        client::ipvs_strerror(client::Func::Init, e)
                    );
                    return 2;
                }
            }
        }
    };
    run_with(&mut backend, info, argv, stdin, out, err)
}

/// Everything after initialisation, against any backend.
pub fn run_with(
    backend: &mut dyn Backend,
    info: model::Info,
    argv: &[String],
    stdin: &mut dyn Read,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    if info.version < 0x010104 {
        let v = info.version;
        let _ = write!(
            err,
            "Warning: IPVS version mismatch: \n  Kernel compiled with IPVS version {}.{}.{}\n  ipvsadm v1.31  requires minimum IPVS version 1.1.4\n\n",
            (v >> 16) & 0xff,
            (v >> 8) & 0xff,
            v & 0xff
        );
    }
    let names = format::SystemNames;
    let mut r = app::Runner::new(backend, &names, out, err, info);
    let flow = if argv.len() <= 1 {
        r.list_all(0)
    } else {
        r.process(argv, false, stdin)
    };
    match flow {
        app::Flow::Continue(v) => app::exit_status(v),
        app::Flow::Exit(c) => app::exit_status(c),
    }
}
