//! Phase 2: random well-formed command sequences, a model of what exists, and the final
//! consistency check against full dumps.

use std::collections::{BTreeMap, BTreeSet};

use fvs_uapi::{cmd, cmd_attr, daemon_attr, dest_attr, svc_attr, AF_INET, AF_INET6};

use crate::malformed::SCHEDULERS;
use crate::nl::{
    attrs, get, u16_of, u32_of, Msg, GENL_HDRLEN, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST,
};
use crate::rng::Rng;
use crate::{errname, hex, seq_of, Fuzz};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct SvcKey {
    af: u16,
    proto: u16,
    addr: [u8; 16],
    port: u16,
    fwmark: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct DestKey {
    af: u16,
    addr: [u8; 16],
    port: u16,
}

fn canon(af: u16, a: &[u8]) -> [u8; 16] {
    let mut r = [0u8; 16];
    let n = if af == AF_INET6 { 16 } else { 4 }.min(a.len());
    r[..n].copy_from_slice(&a[..n]);
    r
}

fn show_addr(af: u16, a: &[u8; 16]) -> String {
    if af == AF_INET6 {
        std::net::Ipv6Addr::from(*a).to_string()
    } else {
        std::net::Ipv4Addr::new(a[0], a[1], a[2], a[3]).to_string()
    }
}

impl std::fmt::Display for SvcKey {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        if self.fwmark != 0 {
            write!(f, "af{} fwm {}", self.af, self.fwmark)
        } else {
            write!(
                f,
                "af{} proto {} [{}]:{}",
                self.af,
                self.proto,
                show_addr(self.af, &self.addr),
                self.port
            )
        }
    }
}

impl std::fmt::Display for DestKey {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(
            f,
            "af{} [{}]:{}",
            self.af,
            show_addr(self.af, &self.addr),
            self.port
        )
    }
}

type Model = BTreeMap<SvcKey, BTreeSet<DestKey>>;

fn v4(d: u8) -> Vec<u8> {
    vec![10, 0, 0, d]
}

fn v6(base: u8, d: u8) -> Vec<u8> {
    let mut a = vec![
        0x20, 0x01, 0x0d, 0xb8, 0, base, 0, 0, 0, 0, 0, 0, 0, 0, 0, d,
    ];
    a.truncate(16);
    a
}

fn rand_svc(r: &mut Rng) -> SvcKey {
    let af = if r.chance(1, 3) { AF_INET6 } else { AF_INET };
    if r.chance(1, 5) {
        let fwmark = if r.chance(9, 10) {
            r.range(1, 4) as u32
        } else {
            r.u32().max(1)
        };
        return SvcKey {
            af,
            proto: 0,
            addr: [0; 16],
            port: 0,
            fwmark,
        };
    }
    let a = if af == AF_INET6 {
        v6(0, r.range(1, 2) as u8)
    } else {
        v4(r.range(1, 4) as u8)
    };
    SvcKey {
        af,
        proto: *r.pick(&[6, 6, 17, 17, 132, 0, 255]),
        addr: canon(af, &a),
        port: *r.pick(&[80, 80, 443, 53, 0, 65535]),
        fwmark: 0,
    }
}

fn rand_dest(r: &mut Rng, svc_af: u16) -> DestKey {
    let af = if r.chance(1, 6) {
        if svc_af == AF_INET6 {
            AF_INET
        } else {
            AF_INET6
        }
    } else {
        svc_af
    };
    let a = if af == AF_INET6 {
        v6(1, r.range(1, 3) as u8)
    } else {
        vec![192, 168, 1, r.range(1, 4) as u8]
    };
    DestKey {
        af,
        addr: canon(af, &a),
        port: *r.pick(&[80, 8080, 0, 443]),
    }
}

/// The SERVICE nest; `full` adds the fields NEW/SET need.
fn put_svc(m: &mut Msg, r: &mut Rng, k: &SvcKey, full: bool) {
    m.begin_nest(cmd_attr::SERVICE);
    m.put_u16(svc_attr::AF, k.af);
    if k.fwmark != 0 {
        m.put_u32(svc_attr::FWMARK, k.fwmark);
    } else {
        m.put_u16(svc_attr::PROTOCOL, k.proto);
        if k.af == AF_INET && r.chance(1, 4) {
            m.put(svc_attr::ADDR, &k.addr[..4]);
        } else {
            m.put(svc_attr::ADDR, &k.addr);
        }
        m.put_be16(svc_attr::PORT, k.port);
    }
    if full {
        let sched = if r.chance(17, 20) {
            *r.pick(&SCHEDULERS)
        } else {
            *r.pick(&["", "bogus", "RR", "abcdefghijklmno"])
        };
        m.put_str(svc_attr::SCHED_NAME, sched);
        match r.below(20) {
            0..=2 => {
                m.put_str(svc_attr::PE_NAME, "sip");
            }
            3 => {
                m.put_str(svc_attr::PE_NAME, "bogus");
            }
            _ => {}
        }
        let flags = if r.chance(1, 2) { 0 } else { r.u32() & 0x3f };
        let mask = if r.chance(4, 5) { u32::MAX } else { r.u32() };
        let mut fl = flags.to_ne_bytes().to_vec();
        fl.extend_from_slice(&mask.to_ne_bytes());
        m.put(svc_attr::FLAGS, &fl);
        let any = r.u32();
        m.put_u32(
            svc_attr::TIMEOUT,
            *r.pick(&[0, 300, 1, 86400, u32::MAX, any]),
        );
        let any = r.u32();
        let nm = if k.af == AF_INET6 {
            *r.pick(&[128, 64, 1, 0, 129, any])
        } else {
            *r.pick(&[u32::MAX, u32::from_ne_bytes([255, 255, 255, 0]), 0, any])
        };
        m.put_u32(svc_attr::NETMASK, nm);
    }
    m.end_nest();
}

fn put_dest(m: &mut Msg, r: &mut Rng, d: &DestKey, svc_af: u16, full: bool) {
    m.begin_nest(cmd_attr::DEST);
    // Without IPVS_DEST_ATTR_ADDR_FAMILY the dest takes the service's family.
    if d.af != svc_af || r.chance(9, 10) {
        m.put_u16(dest_attr::ADDR_FAMILY, d.af);
    }
    if d.af == AF_INET && r.chance(1, 4) {
        m.put(dest_attr::ADDR, &d.addr[..4]);
    } else {
        m.put(dest_attr::ADDR, &d.addr);
    }
    m.put_be16(dest_attr::PORT, d.port);
    if full {
        m.put_u32(
            dest_attr::FWD_METHOD,
            if r.chance(9, 10) {
                r.below(4) as u32
            } else {
                r.u32() & 0x3fff
            },
        );
        let any = r.u32() as i32;
        let w: i32 = *r.pick(&[0, 1, 1, 5, 100, 65535, -1, i32::MAX, i32::MIN, any]);
        m.put_u32(dest_attr::WEIGHT, w as u32);
        m.put_u8(
            dest_attr::TUN_TYPE,
            if r.chance(4, 5) {
                r.below(3) as u8
            } else {
                r.u8()
            },
        );
        let any = r.u16();
        m.put_be16(dest_attr::TUN_PORT, *r.pick(&[0, 6080, any]));
        m.put_u16(dest_attr::TUN_FLAGS, r.below(8) as u16);
        let (u, l) = match r.below(4) {
            0 => (0, 0),
            1 => (100, 10),
            2 => (10, 100),
            _ => (r.u32(), r.u32()),
        };
        m.put_u32(dest_attr::U_THRESH, u);
        m.put_u32(dest_attr::L_THRESH, l);
    }
    m.end_nest();
}

fn put_daemon(m: &mut Msg, r: &mut Rng, start: bool) {
    m.begin_nest(cmd_attr::DAEMON);
    let state = if r.chance(9, 10) {
        r.range(1, 2) as u32
    } else {
        *r.pick(&[0, 3, u32::MAX])
    };
    m.put_u32(daemon_attr::STATE, state);
    m.put_str(
        daemon_attr::MCAST_IFN,
        if r.chance(9, 10) {
            "lo"
        } else {
            "nonexistent0"
        },
    );
    m.put_u32(daemon_attr::SYNC_ID, r.below(256) as u32);
    if start {
        if r.chance(1, 3) {
            m.put_u16(
                daemon_attr::SYNC_MAXLEN,
                *r.pick(&[0, 1, 1500, 9000, 65535]),
            );
        }
        if r.chance(1, 3) {
            m.put_u16(daemon_attr::MCAST_PORT, *r.pick(&[0, 8848, 65535]));
        }
        if r.chance(1, 3) {
            m.put_u8(daemon_attr::MCAST_TTL, *r.pick(&[0, 1, 255]));
        }
        match r.below(4) {
            0 => {
                m.put(daemon_attr::MCAST_GROUP, &[224, 0, 0, 81]);
            }
            1 => {
                m.put(
                    daemon_attr::MCAST_GROUP6,
                    &[0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x51],
                );
            }
            _ => {}
        }
    }
    m.end_nest();
}

fn msg(f: &Fuzz, flags: u16, c: u8) -> Msg {
    Msg::new(
        f.family,
        NLM_F_REQUEST | flags,
        c,
        fvs_uapi::IPVS_GENL_VERSION,
        0,
    )
}

fn svc_key_of(body: &[u8]) -> Result<SvcKey, String> {
    let top = attrs(&body[GENL_HDRLEN..])?;
    let s = attrs(get(&top, cmd_attr::SERVICE).ok_or("service reply without SERVICE")?)?;
    let af = get(&s, svc_attr::AF)
        .and_then(u16_of)
        .ok_or("service without AF")?;
    if let Some(fw) = get(&s, svc_attr::FWMARK).and_then(u32_of) {
        return Ok(SvcKey {
            af,
            proto: 0,
            addr: [0; 16],
            port: 0,
            fwmark: fw,
        });
    }
    let p = get(&s, svc_attr::PORT).ok_or("service without PORT")?;
    Ok(SvcKey {
        af,
        proto: get(&s, svc_attr::PROTOCOL)
            .and_then(u16_of)
            .ok_or("service without PROTOCOL")?,
        addr: canon(af, get(&s, svc_attr::ADDR).ok_or("service without ADDR")?),
        port: u16::from_be_bytes([p[0], p[1]]),
        fwmark: 0,
    })
}

fn dest_key_of(body: &[u8], svc_af: u16) -> Result<DestKey, String> {
    let top = attrs(&body[GENL_HDRLEN..])?;
    let d = attrs(get(&top, cmd_attr::DEST).ok_or("dest reply without DEST")?)?;
    let af = get(&d, dest_attr::ADDR_FAMILY)
        .and_then(u16_of)
        .unwrap_or(svc_af);
    let p = get(&d, dest_attr::PORT).ok_or("dest without PORT")?;
    Ok(DestKey {
        af,
        addr: canon(af, get(&d, dest_attr::ADDR).ok_or("dest without ADDR")?),
        port: u16::from_be_bytes([p[0], p[1]]),
    })
}

/// Reads the whole state with dumps (services, then each one's dests).
fn dump_state(f: &mut Fuzz, seq: &mut u32) -> Result<Model, String> {
    let mut model = Model::new();
    *seq = seq.wrapping_add(1);
    let m = msg(f, NLM_F_DUMP, cmd::GET_SERVICE);
    let out = f.exchange(&m.finish(*seq), *seq)?;
    if out.result() != 0 {
        return Err(format!("service dump: {}", errname(-out.result())));
    }
    for b in &out.data {
        let k = svc_key_of(b)?;
        if model.insert(k, BTreeSet::new()).is_some() {
            return Err(format!("service {k} listed twice"));
        }
    }
    let keys: Vec<SvcKey> = model.keys().copied().collect();
    let mut r = Rng::for_message(0, 3, 0);
    for k in keys {
        // GET_SERVICE of the one service must answer it.
        *seq = seq.wrapping_add(1);
        let mut m = msg(f, NLM_F_ACK, cmd::GET_SERVICE);
        put_svc(&mut m, &mut r, &k, false);
        let out = f.exchange(&m.finish(*seq), *seq)?;
        if out.result() != 0 || out.data.len() != 1 || svc_key_of(&out.data[0])? != k {
            return Err(format!(
                "GET_SERVICE {k}: {} ({} replies)",
                out.describe(),
                out.data.len()
            ));
        }
        *seq = seq.wrapping_add(1);
        let mut m = msg(f, NLM_F_DUMP, cmd::GET_DEST);
        m.begin_nest(cmd_attr::SERVICE);
        m.put_u16(svc_attr::AF, k.af);
        if k.fwmark != 0 {
            m.put_u32(svc_attr::FWMARK, k.fwmark);
        } else {
            m.put_u16(svc_attr::PROTOCOL, k.proto);
            m.put(svc_attr::ADDR, &k.addr);
            m.put_be16(svc_attr::PORT, k.port);
        }
        m.end_nest();
        let out = f.exchange(&m.finish(*seq), *seq)?;
        if out.result() != 0 {
            return Err(format!("dest dump of {k}: {}", errname(-out.result())));
        }
        let set = model.get_mut(&k).unwrap();
        for b in &out.data {
            let d = dest_key_of(b, k.af)?;
            if !set.insert(d) {
                return Err(format!("dest {d} of {k} listed twice"));
            }
        }
    }
    for c in [cmd::GET_DAEMON, cmd::GET_INFO, cmd::GET_CONFIG] {
        *seq = seq.wrapping_add(1);
        let fl = if c == cmd::GET_DAEMON {
            NLM_F_DUMP
        } else {
            NLM_F_ACK
        };
        let out = f.exchange(&msg(f, fl, c).finish(*seq), *seq)?;
        if out.result() != 0 {
            return Err(format!("cmd {c}: {}", errname(-out.result())));
        }
    }
    Ok(model)
}

fn compare(model: &Model, got: &Model) -> Vec<String> {
    let mut diffs = Vec::new();
    for (k, ds) in model {
        match got.get(k) {
            None => diffs.push(format!("service {k} expected but not listed")),
            Some(g) => {
                for d in ds.difference(g) {
                    diffs.push(format!("dest {d} of {k} expected but not listed"));
                }
                for d in g.difference(ds) {
                    diffs.push(format!("dest {d} of {k} listed but not expected"));
                }
            }
        }
    }
    for k in got.keys() {
        if !model.contains_key(k) {
            diffs.push(format!("service {k} listed but not expected"));
        }
    }
    diffs
}

/// Runs the sequence phase; returns the number of model mismatches.
pub fn run(
    f: &mut Fuzz,
    seed: u64,
    start: u64,
    n: u64,
    show: bool,
    keep: bool,
) -> Result<u64, String> {
    let mut ctl_seq: u32 = 0x4000_0000;
    let mut model = dump_state(f, &mut ctl_seq)?;
    let mut bad: u64 = 0;
    let mut complain = |what: String| {
        bad += 1;
        if bad <= 20 {
            eprintln!("model mismatch: {what}");
        }
    };
    for i in start..start + n {
        let mut r = Rng::for_message(seed, 2, i);
        let seq = seq_of(i) | 0x8000_0000;
        let roll = r.below(100);
        // Services and dests of the model are preferred targets, so most commands hit state.
        let existing: Vec<SvcKey> = model.keys().copied().collect();
        let svc = if !existing.is_empty() && r.chance(1, 2) {
            *r.pick(&existing)
        } else {
            rand_svc(&mut r)
        };
        let dest = match model.get(&svc) {
            Some(ds) if !ds.is_empty() && r.chance(1, 2) => {
                let v: Vec<DestKey> = ds.iter().copied().collect();
                *r.pick(&v)
            }
            _ => rand_dest(&mut r, svc.af),
        };
        let (c, flags) = match roll {
            0..=14 => (cmd::NEW_SERVICE, NLM_F_ACK),
            15..=22 => (cmd::SET_SERVICE, NLM_F_ACK),
            23..=28 => (cmd::DEL_SERVICE, NLM_F_ACK),
            29..=48 => (cmd::NEW_DEST, NLM_F_ACK),
            49..=58 => (cmd::SET_DEST, NLM_F_ACK),
            59..=66 => (cmd::DEL_DEST, NLM_F_ACK),
            67..=69 => (cmd::ZERO, NLM_F_ACK),
            70 => (cmd::FLUSH, NLM_F_ACK),
            71..=73 => (cmd::SET_CONFIG, NLM_F_ACK),
            74 => (cmd::NEW_DAEMON, NLM_F_ACK),
            75 => (cmd::DEL_DAEMON, NLM_F_ACK),
            76..=80 => (cmd::GET_SERVICE, NLM_F_DUMP),
            81..=85 => (cmd::GET_DEST, NLM_F_DUMP),
            86..=89 => (cmd::GET_SERVICE, NLM_F_ACK),
            90..=92 => (cmd::GET_DAEMON, NLM_F_DUMP),
            93..=96 => (cmd::GET_INFO, NLM_F_ACK),
            _ => (cmd::GET_CONFIG, NLM_F_ACK),
        };
        let mut m = msg(f, flags, c);
        match c {
            cmd::NEW_SERVICE | cmd::SET_SERVICE => put_svc(&mut m, &mut r, &svc, true),
            cmd::DEL_SERVICE | cmd::GET_DEST => {
                let full = r.chance(1, 2);
                put_svc(&mut m, &mut r, &svc, full)
            }
            cmd::GET_SERVICE if flags == NLM_F_ACK => put_svc(&mut m, &mut r, &svc, false),
            cmd::ZERO if r.chance(2, 3) => put_svc(&mut m, &mut r, &svc, false),
            cmd::NEW_DEST | cmd::SET_DEST | cmd::DEL_DEST => {
                let full = c != cmd::DEL_DEST || r.chance(1, 2);
                let svc_full = r.chance(1, 2);
                put_svc(&mut m, &mut r, &svc, svc_full);
                put_dest(&mut m, &mut r, &dest, svc.af, full);
            }
            cmd::SET_CONFIG => {
                for a in [
                    cmd_attr::TIMEOUT_TCP,
                    cmd_attr::TIMEOUT_TCP_FIN,
                    cmd_attr::TIMEOUT_UDP,
                ] {
                    if r.chance(3, 4) {
                        let any = r.u32();
                        let v = *r.pick(&[0, 1, 60, 900, 86400, 0x7fff_ffff, u32::MAX, any]);
                        m.put_u32(a, v);
                    }
                }
            }
            cmd::NEW_DAEMON => put_daemon(&mut m, &mut r, true),
            cmd::DEL_DAEMON => put_daemon(&mut m, &mut r, false),
            _ => {}
        }
        let wire = m.finish(seq);
        if show {
            println!("sequence {i} cmd{c} {}", hex(&wire));
        }
        let out = f.exchange(&wire, seq)?;
        if show {
            println!("  -> {}", out.describe());
        }
        f.trace("S", i, &format!("cmd{c}"), &out);
        let res = out.result();
        let has_svc = model.contains_key(&svc);
        let has_dest = model.get(&svc).is_some_and(|d| d.contains(&dest));
        let at = format!("sequence {i} (seed {seed}) cmd{c} {svc}");
        match (c, res) {
            (cmd::NEW_SERVICE, 0) => {
                if has_svc {
                    complain(format!("{at}: added although it exists"));
                }
                model.insert(svc, BTreeSet::new());
            }
            (cmd::NEW_SERVICE, e) if e == -libc::EEXIST && !has_svc => {
                complain(format!("{at}: EEXIST but not in the model"))
            }
            (cmd::SET_SERVICE | cmd::DEL_SERVICE, 0) if !has_svc => {
                complain(format!("{at}: succeeded on a service not in the model"))
            }
            (cmd::SET_SERVICE | cmd::DEL_SERVICE | cmd::NEW_DEST, e)
                if e == -libc::ESRCH && has_svc =>
            {
                complain(format!("{at}: ESRCH but the service is in the model"))
            }
            (cmd::NEW_DEST, 0) => {
                if !has_svc {
                    complain(format!(
                        "{at}: dest {dest} added to a service not in the model"
                    ));
                } else if has_dest {
                    complain(format!("{at}: dest {dest} added although it exists"));
                }
                model.entry(svc).or_default().insert(dest);
            }
            (cmd::NEW_DEST, e) if e == -libc::EEXIST && !has_dest => {
                complain(format!("{at}: dest {dest} EEXIST but not in the model"))
            }
            (cmd::SET_DEST | cmd::DEL_DEST, 0) if !has_dest => {
                complain(format!("{at}: dest {dest} changed but not in the model"))
            }
            (cmd::SET_DEST | cmd::DEL_DEST, e) if e == -libc::ENOENT && has_dest => {
                complain(format!("{at}: dest {dest} ENOENT but in the model"))
            }
            _ => {}
        }
        if res == 0 {
            match c {
                cmd::DEL_SERVICE => {
                    model.remove(&svc);
                }
                cmd::DEL_DEST => {
                    if let Some(d) = model.get_mut(&svc) {
                        d.remove(&dest);
                    }
                }
                cmd::FLUSH => model.clear(),
                _ => {}
            }
        }
    }
    let got = dump_state(f, &mut ctl_seq)?;
    let diffs = compare(&model, &got);
    for d in diffs.iter().take(20) {
        eprintln!("final state: {d}");
    }
    bad += diffs.len() as u64;
    let ndest: usize = got.values().map(|d| d.len()).sum();
    println!(
        "final state: {} services, {} dests; {} mismatches with the model",
        got.len(),
        ndest,
        bad
    );
    if !keep {
        ctl_seq = ctl_seq.wrapping_add(1);
        let out = f.exchange(&msg(f, NLM_F_ACK, cmd::FLUSH).finish(ctl_seq), ctl_seq)?;
        if out.result() != 0 {
            return Err(format!("final flush: {}", out.describe()));
        }
        for state in [1u32, 2] {
            ctl_seq = ctl_seq.wrapping_add(1);
            let mut m = msg(f, NLM_F_ACK, cmd::DEL_DAEMON);
            m.begin_nest(cmd_attr::DAEMON);
            m.put_u32(daemon_attr::STATE, state);
            m.end_nest();
            f.exchange(&m.finish(ctl_seq), ctl_seq)?;
        }
    }
    Ok(bad)
}
