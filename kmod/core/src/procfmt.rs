//! The text of /proc/net/ip_vs and /proc/net/ip_vs_stats, byte for byte as ip_vs_ctl.c prints it.
//!
//! fvs.ko prints /proc/net/fvs and /proc/net/fvs_stats with these functions; host tests pin the
//! format. Addresses are given in host order for IPv4 and as 16 raw bytes for IPv6.

use core::fmt::{self, Write};

/// The version triple of `IP_VS_VERSION_CODE`.
pub fn version_triple(code: u32) -> (u32, u32, u32) {
    ((code >> 16) & 0xff, (code >> 8) & 0xff, code & 0xff)
}

/// The three header lines of /proc/net/ip_vs.
pub fn write_info_header<W: Write>(
    w: &mut W,
    version_code: u32,
    conn_tab_size: u32,
) -> fmt::Result {
    let (a, b, c) = version_triple(version_code);
    writeln!(
        w,
        "IP Virtual Server version {a}.{b}.{c} (size={conn_tab_size})"
    )?;
    w.write_str("Prot LocalAddress:Port Scheduler Flags\n")?;
    w.write_str("  -> RemoteAddress:Port Forward Weight ActiveConn InActConn\n")
}

/// An address as the kernel's `%08X` (IPv4, host order) or `[%pI6]` (IPv6, full form) prints it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Addr {
    V4(u32),
    V6([u8; 16]),
}

/// Writes an IPv6 address the way the kernel's `%pI6` does: eight 4-digit lowercase hex groups.
pub fn write_pi6<W: Write>(w: &mut W, a: &[u8; 16]) -> fmt::Result {
    for i in 0..8 {
        if i > 0 {
            w.write_char(':')?;
        }
        write!(w, "{:02x}{:02x}", a[2 * i], a[2 * i + 1])?;
    }
    Ok(())
}

/// Protocol name as `ip_vs_proto_name()` returns it.
pub fn proto_name(protocol: u16) -> &'static str {
    match protocol {
        0 => "IP",
        6 => "TCP",
        17 => "UDP",
        132 => "SCTP",
        51 => "AH",
        50 => "ESP",
        41 => "IPV6",
        _ => "ERR!",
    }
}

/// Forwarding method name as `ip_vs_fwd_name()` returns it, from the connection flags.
pub fn fwd_name(conn_flags: u32) -> &'static str {
    match conn_flags & 0x7 {
        1 => "Local",
        2 => "Tunnel",
        3 => "Route",
        _ => "Masq",
    }
}

/// A service line of /proc/net/ip_vs.
pub struct ServiceLine<'a> {
    pub protocol: u16,
    pub addr: Addr,
    pub port: u16,
    pub fwmark: u32,
    pub sched_name: &'a str,
    pub flags: u32,
    /// Persistence timeout in jiffies (ip_vs prints `svc->timeout` unconverted).
    pub timeout: u32,
    /// Persistence netmask in host order (IPv4) or prefix length (IPv6), printed as `%08X`.
    pub netmask: u32,
}

pub fn write_service<W: Write>(w: &mut W, s: &ServiceLine<'_>) -> fmt::Result {
    let ops = if s.flags & 0x0004 != 0 { "ops " } else { "" };
    if s.fwmark == 0 {
        match s.addr {
            Addr::V6(a) => {
                write!(w, "{}  [", proto_name(s.protocol))?;
                write_pi6(w, &a)?;
                // The kernel omits the "ops " flag for IPv6 services; so do we.
                write!(w, "]:{:04X} {} ", s.port, s.sched_name)?;
            }
            Addr::V4(a) => write!(
                w,
                "{}  {:08X}:{:04X} {} {} ",
                proto_name(s.protocol),
                a,
                s.port,
                s.sched_name,
                ops
            )?,
        }
    } else {
        write!(w, "FWM  {:08X} {} {}", s.fwmark, s.sched_name, ops)?;
    }
    if s.flags & 0x0001 != 0 {
        // ip_vs prints the jiffies value with %d.
        writeln!(w, "persistent {} {:08X}", s.timeout as i32, s.netmask)
    } else {
        w.write_char('\n')
    }
}

/// A real-server line of /proc/net/ip_vs.
pub struct DestLine {
    pub addr: Addr,
    pub port: u16,
    pub conn_flags: u32,
    pub weight: i32,
    pub active: i32,
    pub inactive: i32,
}

pub fn write_dest<W: Write>(w: &mut W, d: &DestLine) -> fmt::Result {
    match d.addr {
        Addr::V6(a) => {
            w.write_str("  -> [")?;
            write_pi6(w, &a)?;
            write!(w, "]:{:04X}      ", d.port)?;
        }
        Addr::V4(a) => write!(w, "  -> {:08X}:{:04X}      ", a, d.port)?,
    }
    writeln!(
        w,
        "{:<7} {:<6} {:<10} {:<10}",
        fwd_name(d.conn_flags),
        d.weight,
        d.active,
        d.inactive
    )
}

/// The header line of /proc/net/ip_vs_conn.
pub const CONN_HEADER: &str =
    "Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData\n";

/// A connection line of /proc/net/ip_vs_conn (ports in host order, addresses as `Addr`).
pub struct ConnLine<'a> {
    pub protocol: u16,
    pub caddr: Addr,
    pub cport: u16,
    pub vaddr: Addr,
    pub vport: u16,
    pub daddr: Addr,
    pub dport: u16,
    pub state: &'a str,
    /// Seconds until the entry expires.
    pub expires: u32,
    /// A persistence template's engine name and data (`PEName PEData`), e.g. SIP's Call-ID.
    pub pe: Option<(&'a str, &'a str)>,
}

fn write_conn_addr<W: Write>(w: &mut W, a: &Addr) -> fmt::Result {
    match a {
        Addr::V4(v) => write!(w, "{:08X}", v),
        Addr::V6(v) => write_pi6(w, v),
    }
}

pub fn write_conn<W: Write>(w: &mut W, c: &ConnLine<'_>) -> fmt::Result {
    write!(w, "{:<3} ", proto_name(c.protocol))?;
    write_conn_addr(w, &c.caddr)?;
    write!(w, " {:04X} ", c.cport)?;
    write_conn_addr(w, &c.vaddr)?;
    write!(w, " {:04X} ", c.vport)?;
    write_conn_addr(w, &c.daddr)?;
    write!(w, " {:04X} {:<11} {:>7}", c.dport, c.state, c.expires)?;
    if let Some((name, data)) = c.pe {
        write!(w, " {} {}", name, data)?;
    }
    writeln!(w)
}

/// Totals and rates shown by /proc/net/ip_vs_stats.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub conns: u64,
    pub inpkts: u64,
    pub outpkts: u64,
    pub inbytes: u64,
    pub outbytes: u64,
    pub cps: u64,
    pub inpps: u64,
    pub outpps: u64,
    pub inbps: u64,
    pub outbps: u64,
}

pub fn write_stats<W: Write>(w: &mut W, s: &Stats) -> fmt::Result {
    w.write_str("   Total Incoming Outgoing         Incoming         Outgoing\n")?;
    w.write_str("   Conns  Packets  Packets            Bytes            Bytes\n")?;
    writeln!(
        w,
        "{:8X} {:8X} {:8X} {:16X} {:16X}\n",
        s.conns, s.inpkts, s.outpkts, s.inbytes, s.outbytes
    )?;
    w.write_str(" Conns/s   Pkts/s   Pkts/s          Bytes/s          Bytes/s\n")?;
    writeln!(
        w,
        "{:8X} {:8X} {:8X} {:16X} {:16X}",
        s.cps, s.inpps, s.outpps, s.inbps, s.outbps
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::String;

    #[test]
    fn header_matches_ip_vs() {
        let mut s = String::new();
        write_info_header(&mut s, 0x010201, 4096).unwrap();
        assert_eq!(
            s,
            "IP Virtual Server version 1.2.1 (size=4096)\n\
             Prot LocalAddress:Port Scheduler Flags\n  \
             -> RemoteAddress:Port Forward Weight ActiveConn InActConn\n"
        );
    }

    #[test]
    fn service_and_dest_lines() {
        let mut s = String::new();
        let svc = ServiceLine {
            protocol: 6,
            addr: Addr::V4(0x0a000001),
            port: 80,
            fwmark: 0,
            sched_name: "wlc",
            flags: 0x0001,
            timeout: 300,
            netmask: 0xffffffff,
        };
        write_service(&mut s, &svc).unwrap();
        write_dest(
            &mut s,
            &DestLine {
                addr: Addr::V4(0xc0a80102),
                port: 8080,
                conn_flags: 0,
                weight: 1,
                active: 2,
                inactive: 3,
            },
        )
        .unwrap();
        assert_eq!(
            s,
            "TCP  0A000001:0050 wlc  persistent 300 FFFFFFFF\n  -> C0A80102:1F90      Masq    1      2          3         \n"
        );
    }

    #[test]
    fn ipv6_and_fwmark_lines() {
        let mut a = [0u8; 16];
        a[0] = 0x20;
        a[1] = 0x01;
        a[15] = 1;
        let mut s = String::new();
        let svc = ServiceLine {
            protocol: 17,
            addr: Addr::V6(a),
            port: 53,
            fwmark: 0,
            sched_name: "rr",
            flags: 0,
            timeout: 0,
            netmask: 0,
        };
        write_service(&mut s, &svc).unwrap();
        let svc = ServiceLine {
            protocol: 6,
            addr: Addr::V4(0),
            port: 0,
            fwmark: 7,
            sched_name: "sh",
            flags: 0x4,
            timeout: 0,
            netmask: 0,
        };
        write_service(&mut s, &svc).unwrap();
        assert_eq!(
            s,
            "UDP  [2001:0000:0000:0000:0000:0000:0000:0001]:0035 rr \nFWM  00000007 sh ops \n"
        );
    }

    #[test]
    fn conn_line_matches_ip_vs() {
        let mut s = String::new();
        let c = ConnLine {
            protocol: 6,
            caddr: Addr::V4(0x0a000102),
            cport: 40000,
            vaddr: Addr::V4(0x0a000101),
            vport: 80,
            daddr: Addr::V4(0x0a000201),
            dport: 80,
            state: "SYN_RECV",
            expires: 59,
            pe: None,
        };
        write_conn(&mut s, &c).unwrap();
        // "%-3s %08X %04X %08X %04X %s %04X %-11s %7u%s\n"
        assert_eq!(
            s,
            "TCP 0A000102 9C40 0A000101 0050 0A000201 0050 SYN_RECV         59\n"
        );
        // A SIP template: " <pe name> <pe data>" follows the expiry.
        let mut s = String::new();
        let t = ConnLine {
            protocol: 17,
            cport: 0,
            vport: 5060,
            dport: 5060,
            state: "ASSURED",
            pe: Some(("sip", "a84b@pc33")),
            ..c
        };
        write_conn(&mut s, &t).unwrap();
        assert_eq!(
            s,
            "UDP 0A000102 0000 0A000101 13C4 0A000201 13C4 ASSURED          59 sip a84b@pc33\n"
        );
    }

    #[test]
    fn stats_block() {
        let mut s = String::new();
        write_stats(
            &mut s,
            &Stats {
                conns: 0x1f,
                inbytes: 0xabc,
                ..Default::default()
            },
        )
        .unwrap();
        assert!(s.contains("      1F        0        0              ABC                0\n\n"));
    }
}
