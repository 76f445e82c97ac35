//! Validation of the family's data replies: every attribute must frame correctly and every
//! attribute the IPVS protocol defines must have its exact wire size.

use fvs_uapi::{cmd, cmd_attr, daemon_attr, dest_attr, info_attr, stats_attr, svc_attr};

use crate::nl::{attrs, GENL_HDRLEN};

/// Expected payload size of a known attribute: `Some(n)` exact, `None` any (strings, nests).
enum Size {
    Exact(usize),
    Str,
    Nest,
}

fn nul_string(d: &[u8]) -> Result<(), String> {
    if d.last() != Some(&0) {
        return Err("string attribute without NUL".into());
    }
    Ok(())
}

fn check_size(what: &str, ty: u16, d: &[u8], s: Size) -> Result<(), String> {
    match s {
        Size::Exact(n) if d.len() != n => Err(format!(
            "{what} attribute {ty}: {} bytes, expected {n}",
            d.len()
        )),
        Size::Str => nul_string(d).map_err(|e| format!("{what} attribute {ty}: {e}")),
        _ => Ok(()),
    }
}

fn stats(d: &[u8], wide: bool) -> Result<(), String> {
    for (ty, v) in attrs(d)? {
        let n = match ty {
            stats_attr::INBYTES | stats_attr::OUTBYTES => 8,
            stats_attr::PAD => v.len(),
            stats_attr::CONNS..=stats_attr::OUTBPS => {
                if wide {
                    8
                } else {
                    4
                }
            }
            _ => v.len(),
        };
        check_size("stats", ty, v, Size::Exact(n))?;
    }
    Ok(())
}

fn service(d: &[u8]) -> Result<(), String> {
    use svc_attr::*;
    for (ty, v) in attrs(d)? {
        let s = match ty {
            AF | PROTOCOL | PORT => Size::Exact(2),
            ADDR => Size::Exact(16),
            FWMARK | TIMEOUT | NETMASK => Size::Exact(4),
            FLAGS => Size::Exact(8),
            SCHED_NAME | PE_NAME => Size::Str,
            STATS => {
                stats(v, false)?;
                Size::Nest
            }
            STATS64 => {
                stats(v, true)?;
                Size::Nest
            }
            _ => Size::Nest,
        };
        check_size("service", ty, v, s)?;
    }
    Ok(())
}

fn dest(d: &[u8]) -> Result<(), String> {
    use dest_attr::*;
    for (ty, v) in attrs(d)? {
        let s = match ty {
            ADDR => Size::Exact(16),
            PORT | ADDR_FAMILY | TUN_PORT | TUN_FLAGS => Size::Exact(2),
            FWD_METHOD | WEIGHT | U_THRESH | L_THRESH | ACTIVE_CONNS | INACT_CONNS
            | PERSIST_CONNS => Size::Exact(4),
            TUN_TYPE => Size::Exact(1),
            STATS => {
                stats(v, false)?;
                Size::Nest
            }
            STATS64 => {
                stats(v, true)?;
                Size::Nest
            }
            _ => Size::Nest,
        };
        check_size("dest", ty, v, s)?;
    }
    Ok(())
}

fn daemon(d: &[u8]) -> Result<(), String> {
    use daemon_attr::*;
    for (ty, v) in attrs(d)? {
        let s = match ty {
            STATE | SYNC_ID | MCAST_GROUP => Size::Exact(4),
            MCAST_IFN => Size::Str,
            SYNC_MAXLEN | MCAST_PORT => Size::Exact(2),
            MCAST_GROUP6 => Size::Exact(16),
            MCAST_TTL => Size::Exact(1),
            _ => Size::Nest,
        };
        check_size("daemon", ty, v, s)?;
    }
    Ok(())
}

/// Checks one data message of the IPVS family (body after the nlmsghdr).
pub fn reply(body: &[u8]) -> Result<u8, String> {
    if body.len() < GENL_HDRLEN {
        return Err(format!("genl reply of {} bytes", body.len()));
    }
    let c = body[0];
    let top = attrs(&body[GENL_HDRLEN..])?;
    for (ty, v) in &top {
        match (c, *ty) {
            (cmd::SET_INFO, info_attr::VERSION) | (cmd::SET_INFO, info_attr::CONN_TAB_SIZE) => {
                check_size("info", *ty, v, Size::Exact(4))?
            }
            (cmd::SET_INFO, _) => {}
            (_, cmd_attr::SERVICE) => service(v)?,
            (_, cmd_attr::DEST) => dest(v)?,
            (_, cmd_attr::DAEMON) => daemon(v)?,
            (_, cmd_attr::TIMEOUT_TCP..=cmd_attr::TIMEOUT_UDP) => {
                check_size("config", *ty, v, Size::Exact(4))?
            }
            _ => {}
        }
    }
    match c {
        cmd::NEW_SERVICE | cmd::NEW_DEST | cmd::NEW_DAEMON | cmd::SET_CONFIG | cmd::SET_INFO => {
            Ok(c)
        }
        _ => Err(format!("reply with unexpected command {c}")),
    }
}
