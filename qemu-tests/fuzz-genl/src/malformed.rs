//! Phase 1: malformed messages.

use fvs_uapi::{
    cmd, cmd_attr, AttrKind, CMD_POLICY, DAEMON_POLICY, DEST_POLICY, IPVS_GENL_VERSION, SVC_POLICY,
};

use crate::nl::{Msg, NLA_F_NESTED, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST};
use crate::rng::Rng;
use crate::seq_of;

pub const SCHEDULERS: [&str; 14] = [
    "rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos",
];

/// Which nested policy an attribute value is generated for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ctx {
    Top,
    Svc,
    Dest,
    Daemon,
}

/// A builder that remembers where every attribute header is (for later mutation).
struct B {
    m: Msg,
    attr_offs: Vec<usize>,
}

impl B {
    fn put(&mut self, ty: u16, d: &[u8]) {
        self.attr_offs.push(self.m.buf.len());
        self.m.put(ty, d);
    }
    fn begin(&mut self, ty: u16) {
        self.attr_offs.push(self.m.buf.len());
        self.m.begin_nest(ty);
    }
    fn end(&mut self) {
        self.m.end_nest();
    }
}

fn random_string(r: &mut Rng, max: usize) -> Vec<u8> {
    let n = match r.below(6) {
        0 => 0,
        1 => max.saturating_sub(1),
        2 => max,
        3 => max + 1,
        4 => *r.pick(&[max + 5, 64, 255, 256, 300, 1000]),
        _ => r.below(max as u64 + 2) as usize,
    };
    (0..n)
        .map(|_| match r.below(10) {
            0 => r.u8(),
            1 => 0,
            _ => b'a' + r.below(26) as u8,
        })
        .collect()
}

fn semantic_string(r: &mut Rng, ctx: Ctx, ty: u16) -> Vec<u8> {
    match (ctx, ty) {
        (Ctx::Svc, 6) => r.pick(&SCHEDULERS[..]).as_bytes().to_vec(),
        (Ctx::Svc, 11) => r.pick(&["sip", "", "SIP", "sipx"]).as_bytes().to_vec(),
        (Ctx::Daemon, 2) => r
            .pick(&["lo", "", "nonexistent0", "lo:0"])
            .as_bytes()
            .to_vec(),
        _ => random_string(r, 16),
    }
}

/// A value for an integer attribute of the right size.
fn semantic_int(r: &mut Rng, ctx: Ctx, ty: u16, size: usize) -> Vec<u8> {
    let v: u64 = match (ctx, ty) {
        (Ctx::Svc, 1) | (Ctx::Dest, 11) => *r.pick(&[2, 10, 2, 10, 0, 1, 3, 28, 0xffff]),
        (Ctx::Svc, 2) => *r.pick(&[6, 17, 132, 6, 0, 1, 255, 0x106]),
        (Ctx::Dest, 3) => r.below(9),
        (Ctx::Dest, 13) => r.below(5),
        (Ctx::Daemon, 1) => r.below(5),
        _ => r.interesting_u32() as u64 | if r.chance(1, 8) { r.next() << 32 } else { 0 },
    };
    v.to_ne_bytes()[..size].to_vec()
}

fn addr(r: &mut Rng) -> Vec<u8> {
    let n = *r.pick(&[0usize, 1, 3, 4, 4, 5, 8, 15, 16, 16, 16, 17, 20, 32]);
    let mut v = vec![0u8; n];
    for b in v.iter_mut() {
        *b = if r.chance(1, 2) { r.u8() } else { 0 };
    }
    if n >= 4 && r.chance(1, 2) {
        v[..4].copy_from_slice(&[10, 0, 0, r.below(4) as u8 + 1]);
    }
    v
}

fn wrong_len(r: &mut Rng) -> usize {
    *r.pick(&[0usize, 1, 2, 3, 5, 6, 7, 8, 9, 12, 16, 17, 64])
}

/// A value for attribute `ty` under the given policy kind: usually right, often not.
fn value(r: &mut Rng, ctx: Ctx, ty: u16, kind: AttrKind, depth: u32, b: &mut B) {
    let good = r.chance(3, 4);
    match kind {
        AttrKind::U8 | AttrKind::U16 | AttrKind::U32 | AttrKind::U64 => {
            let size = match kind {
                AttrKind::U8 => 1,
                AttrKind::U16 => 2,
                AttrKind::U32 => 4,
                _ => 8,
            };
            let size = if good { size } else { wrong_len(r) };
            let mut v = semantic_int(r, ctx, ty, size.min(8));
            v.resize(size, r.u8());
            // A port in network byte order is just another u16 here.
            b.put(ty, &v);
        }
        AttrKind::NulString(max) => {
            let mut s = if good {
                semantic_string(r, ctx, ty)
            } else {
                random_string(r, max as usize)
            };
            if r.chance(4, 5) {
                s.push(0);
            }
            b.put(ty, &s);
        }
        AttrKind::Binary(_) => {
            let v = if ty == 7 && ctx == Ctx::Svc {
                // struct ip_vs_flags { flags, mask }
                let n = if good { 8 } else { wrong_len(r) };
                let mut v = r.interesting_u32().to_ne_bytes().to_vec();
                v.extend_from_slice(&r.interesting_u32().to_ne_bytes());
                v.resize(n, 0xff);
                v
            } else {
                addr(r)
            };
            b.put(ty, &v);
        }
        AttrKind::MinLen(_) => {
            let v = addr(r);
            b.put(ty, &v);
        }
        AttrKind::Nested => {
            let inner = match (ctx, ty) {
                (Ctx::Top, cmd_attr::SERVICE) => Some(Ctx::Svc),
                (Ctx::Top, cmd_attr::DEST) => Some(Ctx::Dest),
                (Ctx::Top, cmd_attr::DAEMON) => Some(Ctx::Daemon),
                _ => None,
            };
            let flag = if r.chance(1, 2) { NLA_F_NESTED } else { 0 };
            if !good && r.chance(1, 2) {
                // Not a nest at all.
                let n = r.below(12) as usize;
                let v = r.bytes(n);
                b.put(ty | flag, &v);
                return;
            }
            b.begin(ty | flag);
            match inner {
                Some(c) if depth < 3 => nest_body(r, c, depth + 1, b),
                _ => soup(r, depth + 1, b),
            }
            b.end();
        }
        AttrKind::Unspec => {
            let n = r.below(24) as usize;
            let v = r.bytes(n);
            b.put(ty, &v);
        }
    }
}

fn policy(ctx: Ctx) -> &'static [AttrKind] {
    match ctx {
        Ctx::Top => &CMD_POLICY,
        Ctx::Svc => &SVC_POLICY,
        Ctx::Dest => &DEST_POLICY,
        Ctx::Daemon => &DAEMON_POLICY,
    }
}

/// The attributes of one nest, mostly following the policy.
fn nest_body(r: &mut Rng, ctx: Ctx, depth: u32, b: &mut B) {
    let pol = policy(ctx);
    let p_incl = r.range(3, 10);
    for ty in 1..pol.len() as u16 {
        if r.chance(p_incl, 10) {
            value(r, ctx, ty, pol[ty as usize], depth, b);
            if r.chance(1, 30) {
                value(r, ctx, ty, pol[ty as usize], depth, b); // duplicate
            }
        }
    }
    if r.chance(1, 5) {
        // Unknown / out-of-range types, type 0, and flag bits.
        let any = r.u16();
        let ty = *r.pick(&[0u16, pol.len() as u16, pol.len() as u16 + 1, 0x3fff, any]);
        let kind = *r.pick(&[AttrKind::U32, AttrKind::Nested, AttrKind::Unspec]);
        value(r, ctx, ty, kind, depth, b);
    }
}

/// Attributes of random types, lengths and nesting.
fn soup(r: &mut Rng, depth: u32, b: &mut B) {
    let k = r.below(6);
    for _ in 0..k {
        let ty = if r.chance(3, 4) {
            r.below(20) as u16
        } else {
            r.u16()
        };
        if depth < 4 && r.chance(1, 4) {
            b.begin(ty);
            soup(r, depth + 1, b);
            b.end();
        } else {
            let n = if r.chance(1, 10) {
                r.below(600) as usize
            } else {
                r.below(20) as usize
            };
            let v = r.bytes(n);
            b.put(ty, &v);
        }
    }
}

fn pick_cmd(r: &mut Rng) -> u8 {
    match r.below(10) {
        0..=6 => r.range(1, cmd::MAX as u64) as u8,
        7 => *r.pick(&[0u8, cmd::MAX + 1, cmd::MAX + 2, 0x7f, 0x80, 0xff]),
        _ => r.u8(),
    }
}

fn pick_flags(r: &mut Rng) -> u16 {
    let mut f = NLM_F_REQUEST | NLM_F_ACK;
    if r.chance(1, 5) {
        f |= NLM_F_DUMP;
    }
    if r.chance(1, 10) {
        f &= !NLM_F_ACK;
    }
    if r.chance(1, 10) {
        f |= r.u16() & !NLM_F_REQUEST;
    }
    if r.chance(1, 10) {
        f |= *r.pick(&[0x100u16, 0x200, 0x8, 0x10, 0x20]);
    }
    if r.chance(1, 40) {
        f &= !NLM_F_REQUEST;
    }
    f
}

/// One genl message (not finished): the structured or random body for a command.
fn one(r: &mut Rng, family: u16) -> (u8, B) {
    let c = pick_cmd(r);
    let flags = pick_flags(r);
    let version = if r.chance(9, 10) {
        IPVS_GENL_VERSION
    } else {
        r.u8()
    };
    let reserved = if r.chance(9, 10) { 0 } else { r.u16() };
    let mut b = B {
        m: Msg::new(family, flags, c, version, reserved),
        attr_offs: Vec::new(),
    };
    match r.below(100) {
        0..=5 => {} // genl header only
        6..=64 => {
            let mut tops: Vec<u16> = match c {
                cmd::NEW_SERVICE
                | cmd::SET_SERVICE
                | cmd::DEL_SERVICE
                | cmd::GET_SERVICE
                | cmd::ZERO
                | cmd::GET_DEST => vec![cmd_attr::SERVICE],
                cmd::NEW_DEST | cmd::SET_DEST | cmd::DEL_DEST => {
                    vec![cmd_attr::SERVICE, cmd_attr::DEST]
                }
                cmd::NEW_DAEMON | cmd::DEL_DAEMON => vec![cmd_attr::DAEMON],
                cmd::SET_CONFIG => vec![
                    cmd_attr::TIMEOUT_TCP,
                    cmd_attr::TIMEOUT_TCP_FIN,
                    cmd_attr::TIMEOUT_UDP,
                ],
                _ => vec![],
            };
            tops.retain(|_| r.chance(9, 10));
            if r.chance(1, 5) {
                tops.push(r.below(cmd_attr::MAX as u64 + 2) as u16);
            }
            if tops.len() > 1 && r.chance(1, 8) {
                let i = r.below(tops.len() as u64 + 1) as usize;
                let last = tops.len().saturating_sub(1);
                tops.swap(0, i.min(last));
            }
            for ty in tops {
                let kind = CMD_POLICY
                    .get(ty as usize)
                    .copied()
                    .unwrap_or(AttrKind::Unspec);
                value(r, Ctx::Top, ty, kind, 0, &mut b);
            }
        }
        65..=89 => soup(r, 0, &mut b),
        90..=94 => {
            let n = r.below(64) as usize;
            let v = r.bytes(n);
            b.m.buf.extend_from_slice(&v);
        }
        _ => {
            // Oversize: big attributes, sometimes beyond the socket's send buffer.
            let n = if r.chance(1, 4) {
                r.range(1, 8)
            } else {
                r.range(1, 2)
            };
            for _ in 0..n {
                let ty = r.below(8) as u16;
                let len = r.range(1000, 65531) as usize;
                let fill = r.u8();
                b.put(ty, &vec![fill; len]);
            }
        }
    }
    (c, b)
}

/// Post-build mutations of lengths and bytes. Returns a tag describing them.
fn mutate(r: &mut Rng, b: &mut B) -> &'static str {
    let buf = &mut b.m.buf;
    match r.below(20) {
        0..=2 if buf.len() > 20 => {
            // Truncate inside the attributes (nests and attributes then claim more bytes).
            let cut = r.range(17, buf.len() as u64 - 1) as usize;
            buf.truncate(cut);
            "trunc"
        }
        3..=5 if !b.attr_offs.is_empty() => {
            let off = *r.pick(&b.attr_offs);
            if off + 2 <= buf.len() {
                let cur = u16::from_ne_bytes([buf[off], buf[off + 1]]);
                let left = (buf.len() - off) as u16;
                let any = r.u16();
                let v = *r.pick(&[
                    0,
                    1,
                    2,
                    3,
                    4,
                    cur.wrapping_add(1),
                    cur.wrapping_add(4),
                    cur.wrapping_sub(1),
                    left.wrapping_add(1),
                    left.wrapping_add(4),
                    0x7fff,
                    0xffff,
                    any,
                ]);
                buf[off..off + 2].copy_from_slice(&v.to_ne_bytes());
            }
            "nla_len"
        }
        6 if !b.attr_offs.is_empty() => {
            let off = *r.pick(&b.attr_offs);
            if off + 4 <= buf.len() {
                let t = u16::from_ne_bytes([buf[off + 2], buf[off + 3]]);
                let t = t ^ *r.pick(&[0x8000u16, 0x4000, 0xc000, 1, 0x3fff]);
                buf[off + 2..off + 4].copy_from_slice(&t.to_ne_bytes());
            }
            "nla_type"
        }
        7..=8 if buf.len() > 20 => {
            for _ in 0..r.range(1, 4) {
                let i = r.range(16, buf.len() as u64 - 1) as usize;
                buf[i] ^= 1 << r.below(8);
            }
            "flip"
        }
        9 => {
            // Unaligned tail.
            let n = r.range(1, 3) as usize;
            let v = r.bytes(n);
            buf.extend_from_slice(&v);
            "tail"
        }
        _ => "",
    }
}

/// Message `idx` of the malformed phase: (description, wire bytes).
pub fn generate(seed: u64, idx: u64, family: u16) -> (String, Vec<u8>) {
    let mut r = Rng::for_message(seed, 1, idx);
    let seq = seq_of(idx);
    let kind = r.below(100);
    if kind < 3 {
        // Shorter than a genl header: nlmsghdr only, or 1..3 bytes of genl header.
        let mut m = Msg::default();
        m.header(family, pick_flags(&mut r));
        let n = r.below(4) as usize;
        let v = r.bytes(n);
        m.buf.extend_from_slice(&v);
        return (format!("short{n}"), m.finish(seq));
    }
    if kind < 7 {
        // Several requests in one datagram.
        let n = r.range(2, 3);
        let mut wire = Vec::new();
        let mut cmds = Vec::new();
        for _ in 0..n {
            let (c, mut b) = one(&mut r, family);
            mutate(&mut r, &mut b);
            let mut w = b.m.finish(seq);
            w.resize(crate::nl::align4(w.len()), 0);
            wire.extend_from_slice(&w);
            cmds.push(c.to_string());
        }
        return (format!("multi:{}", cmds.join("+")), wire);
    }
    let (c, mut b) = one(&mut r, family);
    let tag = mutate(&mut r, &mut b);
    let mut wire = b.m.finish(seq);
    let mut lie = "";
    if kind < 12 {
        // nlmsg_len that lies: beyond the datagram (the kernel ignores the message), or short
        // of it by less than a header (the rest is not another message).
        let len = wire.len() as u32;
        let v = match r.below(4) {
            0 => len + r.range(1, 64) as u32,
            1 => u32::MAX,
            2 => len.saturating_sub(r.range(1, 15) as u32).max(16),
            _ => r.range(0, 15) as u32,
        };
        wire[0..4].copy_from_slice(&v.to_ne_bytes());
        lie = "+lie";
    }
    let sep = if tag.is_empty() { "" } else { "+" };
    (format!("cmd{c}{sep}{tag}{lie}"), wire)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_and_total() {
        for i in 0..200_000 {
            let (w1, a) = generate(7, i, 0x18);
            let (w2, b) = generate(7, i, 0x18);
            assert_eq!((w1, &a), (w2, &b));
            assert!(a.len() >= 16);
        }
    }
}
