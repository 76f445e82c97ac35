//! The FTP helper for NAT services (`ip_vs_ftp.c`): FTP's data connections use addresses
//! and ports that the control connection carries as text, which a NAT director must see.
//!
//! - The client's `PORT`/`EPRT` (active mode): an entry is made for the data connection the
//!   real server will open from port 20 (control port - 1) to the client's address and port.
//! - The client's `PASV`/`EPSV`, then the real server's `227`/`229` reply (passive mode): an
//!   entry is made, client port still unknown, for the client's connection to the port the
//!   server gave, and the reply is rewritten to carry the virtual address. A rewrite that
//!   changes the payload's length relies on conntrack's sequence adjustment, as ip_vs does
//!   (`nf_nat_mangle_tcp_packet`); conntrack is turned on in the namespace when an FTP service
//!   gets a NAT real server, and control connections keep their conntrack entries.
//!
//! Data connections are controlled by their control connection (which stays while they do)
//! and start in LISTEN with its 2-minute timeout. The text side (parsers, replacement text)
//! is `kmod/core/src/ftp.rs`, tested on the host.

use crate::conn::{Conn, ConnKey, F_APP, F_FTP_EPSV, F_FTP_MASK, F_FTP_PASV};
use crate::corelib::ftp::{self as text, ClientCmd, Mode};
use crate::corelib::proto::tcp;
use crate::netns::NetState;
use crate::rules::{InetAddr, AF_INET6};
use crate::sys::bh::jiffies;
use crate::sys::ct::Mangle;
use crate::sys::nf::Skb;
use crate::sys::rcu::RcuGuard;
use crate::sys::rcuhash::EntryRef;
use crate::uapi::conn_flags;

const IPPROTO_TCP: u8 = 6;

/// The flags a new connection gets from the helper: `F_APP` (with `IP_VS_CONN_F_NFCT`, as
/// `ip_vs_ftp_init_conn` sets it) for a NAT TCP connection to the helper's port
/// (`tcp_app_conn_bind`).
pub(crate) fn bind_flags(protocol: u8, vport: u16, conn_flags: u32) -> u32 {
    let port = crate::params().ftp_port;
    if protocol == IPPROTO_TCP && port != 0 && vport == port && conn_flags & conn_flags::FWD_MASK == conn_flags::MASQ {
        F_APP | conn_flags::NFCT
    } else {
        0
    }
}

/// Where a control packet's TCP header and payload are.
pub(crate) struct Seg {
    pub(crate) af: u16,
    /// Offset of the TCP header from the network header.
    pub(crate) l4off: usize,
}

/// The payload of the (linearised) segment: its offset and length. `None`: the packet cannot
/// be made linear and writable (it is dropped, as ip_vs does).
fn payload(skb: &mut Skb, seg: &Seg) -> Option<(usize, usize)> {
    let len = skb.len();
    skb.ensure_writable(len).ok()?;
    let h = skb.linear_mut(len as usize)?;
    let doff = (*h.get(seg.l4off + 12)? >> 4) as usize * 4;
    // A data offset inside the fixed header, or past the segment, is malformed: not parsed.
    if doff < 20 || seg.l4off + doff > len as usize {
        return None;
    }
    let start = seg.l4off + doff;
    Some((start, (len as usize).saturating_sub(start)))
}

/// `ip_vs_tcp_conn_listen`: a data connection waits for its first packet in LISTEN.
fn listen(st: &NetState, c: &Conn) {
    let s = tcp::State::Listen as u8;
    c.update(|_, f| (s, f));
    let t = crate::hooks::state_timeout(st, IPPROTO_TCP, s);
    c.set_expires(jiffies() + t as u64 * crate::sys::hz() as u64);
}

fn established(c: &Conn) -> bool {
    c.state() == tcp::State::Established as u8
}

fn set_mode(c: &Conn, mode: u32) {
    c.update(|s, f| (s, (f & !F_FTP_MASK) | mode));
}

/// A new data connection controlled by the control connection `c`.
#[allow(clippy::too_many_arguments)]
fn data_conn<'g>(
    st: &'g NetState,
    g: &'g RcuGuard,
    c: &Conn,
    key: ConnKey,
    daddr: InetAddr,
    dport: u16,
    extra: u32,
) -> Option<&'g Conn> {
    let flags = c.dest.conf().conn_flags | conn_flags::NFCT | extra;
    let mut n = Conn::new(key, c.svc.clone(), c.dest.clone(), dport, flags, jiffies(), EntryRef::try_hold(c));
    n.daddr = daddr;
    st.conns.insert(g, n).ok().map(|(e, _)| e)
}

/// `ip_vs_ftp_in`: a client's packet on the control connection `key`. Records a PASV/EPSV
/// request, or makes the entry for an active-mode data connection. False: drop the packet.
pub(crate) fn pkt_in(st: &NetState, skb: &mut Skb, seg: &Seg, key: &ConnKey) -> bool {
    let v6 = seg.af == AF_INET6;
    // tcp_dnat_handler: a helper reads only packets with a valid checksum.
    if !skb.tcp_csum_ok(seg.l4off as u32, v6) {
        return false;
    }
    let g = RcuGuard::new();
    let Some(c) = st.conns.lookup(&g, key) else { return true };
    if !established(c) {
        return true;
    }
    let Some((start, len)) = payload(skb, seg) else { return false };
    if len == 0 {
        return true;
    }
    let cmd = {
        let Some(h) = skb.linear_mut(start + len) else { return false };
        text::scan_client(&h[start..], v6)
    };
    let found = match cmd {
        ClientCmd::Pasv => {
            set_mode(c, F_FTP_PASV);
            return true;
        }
        ClientCmd::Epsv => {
            set_mode(c, F_FTP_EPSV);
            return true;
        }
        ClientCmd::Port(f) | ClientCmd::Eprt(f) => f,
        ClientCmd::None => return true,
    };
    set_mode(c, 0);
    // The real server connects from the port below the control port, to the client's.
    let dkey = ConnKey {
        af: key.af,
        protocol: IPPROTO_TCP,
        caddr: found.addr,
        cport: found.port,
        vaddr: c.key.vaddr,
        vport: c.key.vport.wrapping_sub(1),
    };
    let n = match st.conns.lookup(&g, &dkey) {
        Some(n) => n,
        None => match data_conn(st, &g, c, dkey, c.daddr, c.dport.wrapping_sub(1), 0) {
            Some(n) => n,
            None => return false,
        },
    };
    listen(st, n);
    true
}

/// `ip_vs_ftp_out`: a real server's packet on the control connection found by the reply's
/// addresses. After a PASV/EPSV, a `227`/`229` reply makes the entry for the client's data
/// connection and is rewritten to the virtual address. False: drop the packet.
#[allow(clippy::too_many_arguments)]
pub(crate) fn pkt_out(
    st: &NetState,
    skb: &mut Skb,
    seg: &Seg,
    saddr: &InetAddr,
    sport: u16,
    daddr: &InetAddr,
    dport: u16,
) -> bool {
    let v6 = seg.af == AF_INET6;
    if !skb.tcp_csum_ok(seg.l4off as u32, v6) {
        return false;
    }
    let g = RcuGuard::new();
    let Some(c) = st.conns.lookup_out(&g, seg.af, IPPROTO_TCP, saddr, sport, daddr, dport) else { return true };
    if !established(c) {
        return true;
    }
    let mode = match c.flags() & F_FTP_MASK {
        F_FTP_PASV => Mode::Pasv,
        F_FTP_EPSV => Mode::Epsv,
        _ => return true,
    };
    let Some((start, len)) = payload(skb, seg) else { return false };
    if len == 0 {
        return true;
    }
    let found = {
        let Some(h) = skb.linear_mut(start + len) else { return false };
        text::scan_server(&h[start..], mode, v6, c.daddr)
    };
    let Some(f) = found else { return true };
    // The entry may exist (a repeated reply); else one without the client's port.
    let n = match st.conns.lookup_out(&g, seg.af, IPPROTO_TCP, &f.addr, f.port, &c.key.caddr, 0) {
        Some(n) => n,
        None => {
            let key = ConnKey {
                af: seg.af as u8,
                protocol: IPPROTO_TCP,
                caddr: c.key.caddr,
                cport: 0,
                vaddr: c.key.vaddr,
                vport: f.port,
            };
            match data_conn(st, &g, c, key, f.addr, f.port, conn_flags::NO_CPORT) {
                Some(n) => n,
                None => return false,
            }
        }
    };
    let repl = if mode == Mode::Pasv {
        let v = n.key.vaddr;
        text::pasv_text([v[0], v[1], v[2], v[3]], n.key.vport)
    } else {
        text::epsv_text(n.key.vport)
    };
    let ok = skb.mangle_tcp(seg.l4off as u32, f.start as u32, (f.end - f.start) as u32, repl.as_bytes()) == Mangle::Done;
    set_mode(c, 0);
    listen(st, n);
    ok
}
