//! `--json` (extension): machine-readable listings, a superset of `-Ln` with statistics and
//! rates. Addresses are always numeric; services and servers are ordered as in `-L`.

use serde_json::{json, Map, Value};

use crate::args::fmt;
use crate::format::{self, glibc_qsort};
use crate::model::{ntop, Daemon, DestEntry, Info, ServiceEntry, Stats, Timeouts};

fn stats(s: &Stats) -> Value {
    json!({
        "conns": s.conns,
        "inpkts": s.inpkts,
        "outpkts": s.outpkts,
        "inbytes": s.inbytes,
        "outbytes": s.outbytes,
    })
}

fn rates(s: &Stats) -> Value {
    json!({
        "cps": s.cps,
        "inpps": s.inpps,
        "outpps": s.outpps,
        "inbps": s.inbps,
        "outbps": s.outbps,
    })
}

fn family(af: u16) -> &'static str {
    if af == fvs_uapi::AF_INET6 {
        "inet6"
    } else {
        "inet"
    }
}

fn protocol(p: u16) -> Value {
    match p {
        crate::model::IPPROTO_TCP => json!("tcp"),
        crate::model::IPPROTO_UDP => json!("udp"),
        crate::model::IPPROTO_SCTP => json!("sctp"),
        0 => Value::Null,
        n => json!(n),
    }
}

fn dest(d: &DestEntry) -> Value {
    let mut m = Map::new();
    m.insert("family".into(), json!(family(d.af)));
    m.insert("address".into(), json!(ntop(d.af, &d.addr)));
    m.insert("port".into(), json!(d.port));
    m.insert("forward".into(), json!(format::fwd_name(d.conn_flags)));
    m.insert("weight".into(), json!(d.weight));
    m.insert("u_threshold".into(), json!(d.u_threshold));
    m.insert("l_threshold".into(), json!(d.l_threshold));
    m.insert("active_conns".into(), json!(d.activeconns));
    m.insert("inactive_conns".into(), json!(d.inactconns));
    m.insert("persistent_conns".into(), json!(d.persistconns));
    if let Some(left) = d.drain_left {
        // fvs extension: seconds left of a draining server (absent when not draining).
        m.insert("drain_left".into(), json!(left));
    }
    if d.conn_flags & fvs_uapi::conn_flags::FWD_MASK == fvs_uapi::conn_flags::TUNNEL {
        let ty = ["ipip", "gue", "gre"]
            .get(d.tun_type as usize)
            .copied()
            .unwrap_or("unknown");
        let csum = ["nocsum", "csum", "remcsum"]
            .get(d.tun_flags as usize)
            .copied()
            .unwrap_or("unknown");
        m.insert(
            "tunnel".into(),
            json!({ "type": ty, "port": d.tun_port, "checksum": csum }),
        );
    }
    m.insert("stats".into(), stats(&d.stats));
    m.insert("rate".into(), rates(&d.stats));
    Value::Object(m)
}

fn service(se: &ServiceEntry, dests: &[DestEntry], format: u32) -> Value {
    let mut m = Map::new();
    m.insert("family".into(), json!(family(se.af)));
    if se.fwmark != 0 {
        m.insert("fwmark".into(), json!(se.fwmark));
    } else {
        m.insert("protocol".into(), protocol(se.protocol));
        m.insert("address".into(), json!(ntop(se.af, &se.addr)));
        m.insert("port".into(), json!(se.port));
    }
    m.insert("scheduler".into(), json!(se.sched_name));
    let fl = format::sched_flags(se);
    let flags: Vec<&str> = if fl.is_empty() {
        Vec::new()
    } else {
        fl.split(',').collect()
    };
    m.insert("sched_flags".into(), json!(flags));
    let persistent = se.flags & fvs_uapi::svc_flags::PERSISTENT != 0;
    m.insert("persistent".into(), json!(persistent));
    if persistent {
        m.insert("timeout".into(), json!(se.timeout));
        if se.af == fvs_uapi::AF_INET6 {
            m.insert("netmask".into(), json!(se.netmask));
        } else {
            let b = se.netmask.to_ne_bytes();
            m.insert(
                "netmask".into(),
                json!(format!("{}.{}.{}.{}", b[0], b[1], b[2], b[3])),
            );
        }
    }
    m.insert(
        "ops".into(),
        json!(se.flags & fvs_uapi::svc_flags::ONEPACKET != 0),
    );
    m.insert(
        "pe".into(),
        if se.pe_name.is_empty() {
            Value::Null
        } else {
            json!(se.pe_name)
        },
    );
    m.insert("stats".into(), stats(&se.stats));
    m.insert("rate".into(), rates(&se.stats));
    let mut d = dests.to_vec();
    if format & fmt::NOSORT == 0 {
        glibc_qsort(&mut d, &format::cmp_dests);
    }
    m.insert(
        "destinations".into(),
        Value::Array(d.iter().map(dest).collect()),
    );
    Value::Object(m)
}

fn finish(v: Value) -> String {
    let mut s = serde_json::to_string_pretty(&v).unwrap_or_default();
    s.push('\n');
    s
}

/// `-L --json` (with `info`) or `-L -t ... --json` (without).
pub fn services(
    info: Option<&Info>,
    list: &[(ServiceEntry, Vec<DestEntry>)],
    format: u32,
) -> String {
    let svcs: Vec<Value> = list.iter().map(|(s, d)| service(s, d, format)).collect();
    match info {
        Some(i) => finish(json!({
            "version": format!("{}.{}.{}", (i.version >> 16) & 0xff, (i.version >> 8) & 0xff, i.version & 0xff),
            "conn_tab_size": i.size,
            "services": svcs,
        })),
        None => finish(json!({ "services": svcs })),
    }
}

pub fn timeouts(t: &Timeouts) -> String {
    finish(json!({ "tcp": t.tcp, "tcp_fin": t.tcp_fin, "udp": t.udp }))
}

pub fn daemons(list: &[Daemon]) -> String {
    let v: Vec<Value> = list
        .iter()
        .take(2)
        .filter(|d| d.state & 3 != 0)
        .map(|d| {
            json!({
                "state": if d.state & 1 != 0 { "master" } else { "backup" },
                "mcast_interface": d.mcast_ifn,
                "syncid": d.syncid,
                "sync_maxlen": d.sync_maxlen,
                "mcast_group": if d.mcast_af != 0 { json!(ntop(d.mcast_af, &d.mcast_group)) } else { Value::Null },
                "mcast_port": d.mcast_port,
                "mcast_ttl": d.mcast_ttl,
            })
        })
        .collect();
    finish(json!({ "daemons": v }))
}

/// Connection entries from the /proc table (lines after the header).
pub fn conns(lines: &[String]) -> String {
    let v: Vec<Value> = lines
        .iter()
        .map(|l| format::scan_conn(l))
        .filter(|c| c.n >= 9)
        .map(|c| {
            let [(caf, ca), (vaf, va), (daf, da)] = format::conn_addrs(&c);
            json!({
                "protocol": c.protocol,
                "state": c.state,
                "expires": c.expires,
                "client": { "address": ntop(caf, &ca), "port": c.cport },
                "virtual": { "address": ntop(vaf, &va), "port": c.vport },
                "destination": { "address": ntop(daf, &da), "port": c.dport },
                "pe_name": if c.n == 11 { json!(c.pe_name) } else { Value::Null },
                "pe_data": if c.n == 11 { json!(c.pe_data) } else { Value::Null },
            })
        })
        .collect();
    finish(json!({ "connections": v }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::v4;

    #[test]
    fn json_listing_has_services_dests_and_stats() {
        let se = ServiceEntry {
            af: 2,
            protocol: 6,
            addr: v4([10, 0, 0, 1]),
            port: 80,
            sched_name: "rr".into(),
            netmask: 0xffff_ffff,
            stats: Stats {
                conns: 7,
                ..Stats::default()
            },
            ..Default::default()
        };
        let d = DestEntry {
            af: 2,
            addr: v4([10, 0, 0, 2]),
            port: 80,
            conn_flags: 0,
            weight: 3,
            ..Default::default()
        };
        let s = services(
            Some(&Info {
                version: 0x010201,
                size: 4096,
            }),
            &[(se, vec![d])],
            0,
        );
        let v: Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["version"], "1.2.1");
        assert_eq!(v["conn_tab_size"], 4096);
        assert_eq!(v["services"][0]["address"], "10.0.0.1");
        assert_eq!(v["services"][0]["protocol"], "tcp");
        assert_eq!(v["services"][0]["stats"]["conns"], 7);
        assert_eq!(v["services"][0]["destinations"][0]["forward"], "Masq");
        assert_eq!(v["services"][0]["destinations"][0]["weight"], 3);
        assert!(v["services"][0]["destinations"][0]
            .get("drain_left")
            .is_none());
    }

    #[test]
    fn json_draining_dest() {
        let se = ServiceEntry {
            af: 2,
            protocol: 6,
            addr: v4([10, 0, 0, 1]),
            port: 80,
            sched_name: "rr".into(),
            netmask: 0xffff_ffff,
            ..Default::default()
        };
        let d = DestEntry {
            af: 2,
            addr: v4([10, 0, 0, 2]),
            port: 80,
            drain_left: Some(17),
            ..Default::default()
        };
        let e = DestEntry {
            addr: v4([10, 0, 0, 3]),
            drain_left: None,
            ..d.clone()
        };
        let v: Value =
            serde_json::from_str(&services(None, &[(se, vec![d, e])], fmt::NOSORT)).unwrap();
        assert_eq!(v["services"][0]["destinations"][0]["drain_left"], 17);
        assert!(v["services"][0]["destinations"][1]
            .get("drain_left")
            .is_none());
    }

    #[test]
    fn json_connections() {
        let s = conns(&[
            "TCP 0A000064 D431 0A000001 0050 0A000002 0050 ESTABLISHED     895\n".to_string(),
        ]);
        let v: Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["connections"][0]["client"]["address"], "10.0.0.100");
        assert_eq!(v["connections"][0]["client"]["port"], 54321);
        assert_eq!(v["connections"][0]["destination"]["port"], 80);
        assert_eq!(v["connections"][0]["expires"], 895);
    }
}
