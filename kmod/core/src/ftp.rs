//! The text side of ip_vs's FTP helper (`ip_vs_ftp.c`): finding the data-connection address
//! and port in a control connection's packet — the client's `PORT`/`EPRT` commands and
//! `PASV`/`EPSV` requests, the server's `227`/`229` replies — and writing the replacement a
//! NAT director puts in a `227`/`229` reply. Byte-for-byte the C parser's rules
//! (`ip_vs_ftp_get_addrport`, `in4_pton`, `in6_pton`), so fvs accepts and rejects exactly
//! what ip_vs does.

/// What a parser looks for (`IP_VS_FTP_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Port,
    Pasv,
    Eprt,
    Epsv,
}

/// An address and port found in a packet, with where their text starts and ends (the bytes
/// `start..end` are what a NAT rewrite replaces).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Found {
    /// `union nf_inet_addr`: IPv4 in the first 4 bytes.
    pub addr: [u8; 16],
    pub port: u16,
    pub start: usize,
    pub end: usize,
}

/// `ip_vs_ftp_get_addrport`'s three outcomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddrPort {
    /// The pattern is not there (0).
    NoMatch,
    /// The pattern is there (or the packet ends inside it) but what follows is not a valid
    /// address/port (-1).
    Invalid,
    Found(Found),
}

fn eq_ic(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.eq_ignore_ascii_case(y))
}

/// `in4_pton(src, len, dst, delim, &end)`: a dotted quad ended by `delim`, ':' or the end of
/// the data. Returns the address and the offset of the terminator.
pub fn in4_pton(src: &[u8], delim: u8) -> Option<([u8; 4], usize)> {
    let mut d = [0u8; 4];
    let (mut i, mut w, mut seen) = (0usize, 0u32, false);
    let mut s = 0;
    loop {
        let c = src.get(s).copied().unwrap_or(0);
        let terminator = c == delim || c == 0 || c == b':';
        if terminator || c == b'.' {
            if !seen {
                return None;
            }
            *d.get_mut(i)? = w as u8;
            i += 1;
            (w, seen) = (0, false);
            if terminator {
                return if i == 4 { Some((d, s)) } else { None };
            }
        } else if c.is_ascii_digit() {
            w = w * 10 + u32::from(c - b'0');
            seen = true;
            if w > 255 {
                return None;
            }
        } else {
            return None;
        }
        if i >= 4 {
            return None;
        }
        s += 1;
    }
}

/// `in6_pton(src, len, dst, delim, &end)`: an IPv6 address (with one `::` and an optional
/// trailing dotted quad) ended by `delim` or the end of the data. Returns the address and the
/// offset of the terminator.
pub fn in6_pton(src: &[u8], delim: u8) -> Option<([u8; 16], usize)> {
    let end = src
        .iter()
        .position(|&c| c == delim || c == 0)
        .unwrap_or(src.len());
    let text = &src[..end];
    let mut out = [0u8; 16];
    let (head, tail) = match text.windows(2).position(|w| w == b"::") {
        Some(p) => (&text[..p], Some(&text[p + 2..])),
        None => (text, None),
    };
    if tail.is_some_and(|t| t.windows(2).any(|w| w == b"::")) {
        return None;
    }
    // Groups of up to 4 hex digits; the last may be a dotted quad (two groups).
    fn groups(part: &[u8], last: bool, out: &mut [u16; 8]) -> Option<usize> {
        if part.is_empty() {
            return Some(0);
        }
        let mut n = 0;
        let items: usize = part.split(|&c| c == b':').count();
        for (k, g) in part.split(|&c| c == b':').enumerate() {
            if last && k + 1 == items && g.contains(&b'.') {
                let (q, e) = in4_pton(g, 0)?;
                if e != g.len() || n + 2 > 8 {
                    return None;
                }
                out[n] = u16::from_be_bytes([q[0], q[1]]);
                out[n + 1] = u16::from_be_bytes([q[2], q[3]]);
                n += 2;
                continue;
            }
            if g.is_empty() || g.len() > 4 || n >= 8 {
                return None;
            }
            let mut v = 0u16;
            for &c in g {
                v = v << 4 | (c as char).to_digit(16)? as u16;
            }
            out[n] = v;
            n += 1;
        }
        Some(n)
    }
    let mut h = [0u16; 8];
    let mut t = [0u16; 8];
    let nh = groups(head, tail.is_none(), &mut h)?;
    let nt = match tail {
        Some(tl) => groups(tl, true, &mut t)?,
        None => 0,
    };
    let words = match tail {
        None if nh == 8 => h,
        Some(_) if nh + nt < 8 => {
            let mut w = [0u16; 8];
            w[..nh].copy_from_slice(&h[..nh]);
            w[8 - nt..].copy_from_slice(&t[..nt]);
            w
        }
        _ => return None,
    };
    for (i, w) in words.iter().enumerate() {
        out[2 * i..2 * i + 2].copy_from_slice(&w.to_be_bytes());
    }
    Some((out, end))
}

/// `ip_vs_ftp_get_addrport(data, limit, pattern, skip, ext, mode, addr, port, af)`. `skip`: the
/// character that precedes the address (0: none); `ext`: the extended (`|af|addr|port|`)
/// format; `preset`: the address an EPSV reply without one stands for.
pub fn get_addrport(
    data: &[u8],
    pattern: &[u8],
    skip: u8,
    ext: bool,
    mode: Mode,
    v6: bool,
    preset: [u8; 16],
) -> AddrPort {
    use AddrPort::{Invalid, NoMatch};
    let plen = pattern.len();
    if data.len() < plen {
        return if eq_ic(data, &pattern[..data.len()]) {
            Invalid
        } else {
            NoMatch
        };
    }
    if !eq_ic(&data[..plen], pattern) {
        return NoMatch;
    }
    let n = data.len();
    let mut s = plen;
    if skip != 0 {
        let mut found = false;
        loop {
            let Some(&c) = data.get(s) else {
                return Invalid;
            };
            if !found {
                if !ext && c.is_ascii_digit() {
                    break;
                }
                if c == skip {
                    found = true;
                }
            } else if c != skip {
                break;
            }
            s += 1;
        }
    }
    if !ext {
        let mut p = [0u8; 6];
        let mut i = 0;
        let mut d = s;
        loop {
            let Some(&c) = data.get(d) else {
                return Invalid;
            };
            if c.is_ascii_digit() {
                let val = u32::from(p[i]) * 10 + u32::from(c - b'0');
                if val > 255 {
                    return Invalid;
                }
                p[i] = val as u8;
            } else if c == b',' && i < 5 {
                i += 1;
                p[i] = 0;
            } else {
                break;
            }
            d += 1;
        }
        if i != 5 {
            return Invalid;
        }
        let mut addr = [0u8; 16];
        addr[..4].copy_from_slice(&p[..4]);
        return AddrPort::Found(Found {
            addr,
            port: u16::from_be_bytes([p[4], p[5]]),
            start: s,
            end: d,
        });
    }
    if s == n {
        return Invalid;
    }
    let start = s;
    let edelim = data[s];
    s += 1;
    if !(33..=126).contains(&edelim) || s == n {
        return Invalid;
    }
    let mut addr = preset;
    if data[s] == edelim {
        // No family (and so no address): only in an EPSV reply.
        if mode != Mode::Epsv {
            return Invalid;
        }
        s += 1;
        if s == n || data[s] != edelim {
            return Invalid;
        }
        s += 1;
    } else {
        if data[s] != if v6 { b'2' } else { b'1' } {
            return Invalid;
        }
        s += 1;
        if s == n || data[s] != edelim {
            return Invalid;
        }
        s += 1;
        if s == n {
            return Invalid;
        }
        let rest = &data[s..];
        let e = if v6 {
            let Some((a, e)) = in6_pton(rest, edelim) else {
                return Invalid;
            };
            addr = a;
            e
        } else {
            let Some((a, e)) = in4_pton(rest, edelim) else {
                return Invalid;
            };
            addr = [0; 16];
            addr[..4].copy_from_slice(&a);
            e
        };
        s += e;
        if s == n || data[s] != edelim {
            return Invalid;
        }
        s += 1;
    }
    let mut hport = 0u32;
    loop {
        let Some(&c) = data.get(s) else {
            return Invalid;
        };
        if !c.is_ascii_digit() {
            break;
        }
        hport = hport * 10 + u32::from(c - b'0');
        if hport > 65535 {
            return Invalid;
        }
        s += 1;
    }
    if s == n || hport == 0 || data[s] != edelim {
        return Invalid;
    }
    AddrPort::Found(Found {
        addr,
        port: hport as u16,
        start,
        end: s + 1,
    })
}

/// What a client's control packet asks for (`ip_vs_ftp_in`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientCmd {
    /// `PASV` (IPv4 only): the next `227` reply carries the server's data address.
    Pasv,
    /// `EPSV`, `EPSV 1` (IPv4) or `EPSV 2` (IPv6): the next `229` reply carries the port.
    Epsv,
    /// `PORT a,b,c,d,p,p` (IPv4): the server will connect to this client address.
    Port(Found),
    /// `EPRT |af|addr|port|`.
    Eprt(Found),
    None,
}

/// `ip_vs_ftp_in`'s scan of a client packet's payload.
pub fn scan_client(data: &[u8], v6: bool) -> ClientCmd {
    let n = data.len();
    let mut i = 0;
    while n >= 6 && i <= n - 6 {
        if !v6 && eq_ic(&data[i..i + 6], b"PASV\r\n") {
            return ClientCmd::Pasv;
        }
        if eq_ic(&data[i..i + 4], b"EPSV") && (data[i + 4] == b' ' || data[i + 4] == b'\r') {
            if data[i + 4] == b' ' {
                let proto = data[i + 5];
                if i + 7 > n || data[i + 6] != b'\r' {
                    return ClientCmd::None;
                }
                if !((v6 && proto == b'2') || (!v6 && proto == b'1')) {
                    return ClientCmd::None;
                }
            }
            return ClientCmd::Epsv;
        }
        i += 1;
    }
    if !v6 {
        if let AddrPort::Found(f) =
            get_addrport(data, b"PORT", b' ', false, Mode::Port, v6, [0; 16])
        {
            return ClientCmd::Port(f);
        }
    }
    match get_addrport(data, b"EPRT", b' ', true, Mode::Eprt, v6, [0; 16]) {
        AddrPort::Found(f) => ClientCmd::Eprt(f),
        _ => ClientCmd::None,
    }
}

/// `ip_vs_ftp_out`'s parse of a server reply after a `PASV` (`227 ... (a,b,c,d,p,p)`) or an
/// `EPSV` (`229 ... (|||port|)`, the address defaulting to `server`).
pub fn scan_server(data: &[u8], mode: Mode, v6: bool, server: [u8; 16]) -> Option<Found> {
    let r = match mode {
        Mode::Pasv => get_addrport(data, b"227 ", b'(', false, Mode::Pasv, v6, [0; 16]),
        Mode::Epsv => get_addrport(data, b"229 ", b'(', true, Mode::Epsv, v6, server),
        _ => return None,
    };
    match r {
        AddrPort::Found(f) => Some(f),
        _ => None,
    }
}

/// A formatted replacement (at most `xxx.xxx.xxx.xxx,ppp,ppp`'s 23 bytes).
#[derive(Clone, Copy, Debug)]
pub struct Text {
    buf: [u8; 24],
    len: usize,
}

impl Text {
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    fn push_num(&mut self, v: u32) {
        let mut digits = [0u8; 10];
        let mut k = 0;
        let mut v = v;
        loop {
            digits[k] = b'0' + (v % 10) as u8;
            k += 1;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        while k > 0 {
            k -= 1;
            self.push(digits[k]);
        }
    }

    fn push(&mut self, c: u8) {
        if let Some(b) = self.buf.get_mut(self.len) {
            *b = c;
            self.len += 1;
        }
    }
}

/// The `227` reply's new text: the virtual address and port as `a,b,c,d,p1,p2`.
pub fn pasv_text(vaddr: [u8; 4], port: u16) -> Text {
    let mut t = Text {
        buf: [0; 24],
        len: 0,
    };
    for (i, v) in vaddr.iter().chain(port.to_be_bytes().iter()).enumerate() {
        if i > 0 {
            t.push(b',');
        }
        t.push_num(u32::from(*v));
    }
    t
}

/// The `229` reply's new text: `|||port|` (the client uses the virtual address).
pub fn epsv_text(port: u16) -> Text {
    let mut t = Text {
        buf: [0; 24],
        len: 0,
    };
    for _ in 0..3 {
        t.push(b'|');
    }
    t.push_num(u32::from(port));
    t.push(b'|');
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::format;
    use std::vec::Vec;

    fn v4(a: [u8; 4]) -> [u8; 16] {
        let mut x = [0; 16];
        x[..4].copy_from_slice(&a);
        x
    }

    #[test]
    fn port_command() {
        let d = b"PORT 10,0,1,2,195,80\r\n";
        let ClientCmd::Port(f) = scan_client(d, false) else {
            panic!()
        };
        assert_eq!((f.addr, f.port), (v4([10, 0, 1, 2]), 195 * 256 + 80));
        assert_eq!(&d[f.start..f.end], b"10,0,1,2,195,80");
        assert_eq!(scan_client(b"port 1,2,3,4,5\r\n", false), ClientCmd::None);
        assert_eq!(
            scan_client(b"PORT 1,2,3,256,5,6\r\n", false),
            ClientCmd::None
        );
        assert_eq!(
            scan_client(b"PORT 10,0,1,2,195,80\r\n", true),
            ClientCmd::None
        );
    }

    #[test]
    fn pasv_epsv_requests() {
        assert_eq!(scan_client(b"PASV\r\n", false), ClientCmd::Pasv);
        assert_eq!(scan_client(b"pasv\r\n", true), ClientCmd::None);
        assert_eq!(scan_client(b"EPSV\r\n", true), ClientCmd::Epsv);
        assert_eq!(scan_client(b"EPSV 1\r\n", false), ClientCmd::Epsv);
        assert_eq!(scan_client(b"EPSV 2\r\n", false), ClientCmd::None);
        assert_eq!(scan_client(b"EPSV ALL\r\n", false), ClientCmd::None);
    }

    #[test]
    fn eprt_command() {
        let ClientCmd::Eprt(f) = scan_client(b"EPRT |1|10.0.1.2|5282|\r\n", false) else {
            panic!()
        };
        assert_eq!((f.addr, f.port), (v4([10, 0, 1, 2]), 5282));
        let ClientCmd::Eprt(f) = scan_client(b"EPRT |2|fd00:1::2|5282|\r\n", true) else {
            panic!()
        };
        assert_eq!(f.addr, [0xfd, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        assert_eq!(
            scan_client(b"EPRT |2|10.0.1.2|5282|\r\n", false),
            ClientCmd::None
        );
        assert_eq!(
            scan_client(b"EPRT |1|10.0.1.2|0|\r\n", false),
            ClientCmd::None
        );
        assert_eq!(
            scan_client(b"EPRT |1|10.0.1.2|65536|\r\n", false),
            ClientCmd::None
        );
    }

    #[test]
    fn server_replies() {
        let d = b"227 Entering Passive Mode (10,0,2,1,39,16).\r\n";
        let f = scan_server(d, Mode::Pasv, false, [0; 16]).unwrap();
        assert_eq!((f.addr, f.port), (v4([10, 0, 2, 1]), 39 * 256 + 16));
        assert_eq!(&d[f.start..f.end], b"10,0,2,1,39,16");
        // "(" is optional before a digit.
        assert!(scan_server(
            b"227 Passive 10,0,2,1,39,16\r\n",
            Mode::Pasv,
            false,
            [0; 16]
        )
        .is_some());
        let srv = v4([10, 0, 2, 1]);
        let d = b"229 Entering Extended Passive Mode (|||6446|)\r\n";
        let f = scan_server(d, Mode::Epsv, false, srv).unwrap();
        assert_eq!((f.addr, f.port), (srv, 6446));
        assert_eq!(&d[f.start..f.end], b"|||6446|");
        assert!(scan_server(b"230 Logged in\r\n", Mode::Pasv, false, [0; 16]).is_none());
    }

    #[test]
    fn partial_pattern_is_invalid() {
        assert_eq!(
            get_addrport(b"PO", b"PORT", b' ', false, Mode::Port, false, [0; 16]),
            AddrPort::Invalid
        );
        assert_eq!(
            get_addrport(b"XY", b"PORT", b' ', false, Mode::Port, false, [0; 16]),
            AddrPort::NoMatch
        );
    }

    #[test]
    fn texts() {
        assert_eq!(
            pasv_text([10, 0, 1, 100], 0x2710).as_bytes(),
            b"10,0,1,100,39,16"
        );
        assert_eq!(
            pasv_text([255, 255, 255, 255], 65535).as_bytes(),
            b"255,255,255,255,255,255"
        );
        assert_eq!(epsv_text(21).as_bytes(), b"|||21|");
    }

    #[test]
    fn in6_forms() {
        assert_eq!(
            in6_pton(b"::1|", b'|'),
            Some(([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], 3))
        );
        assert_eq!(
            in6_pton(b"::ffff:10.0.0.1|", b'|').map(|x| x.0[12..].to_vec()),
            Some(std::vec![10, 0, 0, 1])
        );
        assert!(in6_pton(b"1::2::3|", b'|').is_none());
        assert!(in6_pton(b"12345::|", b'|').is_none());
        assert!(in6_pton(b"1:2:3:4:5:6:7:8:9|", b'|').is_none());
    }

    proptest! {
        /// What the director writes into a 227 reply parses back to the same address and port.
        #[test]
        fn pasv_round_trip(a in any::<[u8; 4]>(), p in any::<u16>()) {
            let t = pasv_text(a, p);
            let mut d = Vec::from(&b"227 Entering Passive Mode ("[..]);
            d.extend_from_slice(t.as_bytes());
            d.extend_from_slice(b")\r\n");
            let f = scan_server(&d, Mode::Pasv, false, [0; 16]).unwrap();
            prop_assert_eq!((f.addr, f.port), (v4(a), p));
            prop_assert_eq!(&d[f.start..f.end], t.as_bytes());
        }

        #[test]
        fn epsv_round_trip(p in 1u16..) {
            let t = epsv_text(p);
            let d = format!("229 Extended ({})\r\n", core::str::from_utf8(t.as_bytes()).unwrap());
            let f = scan_server(d.as_bytes(), Mode::Epsv, false, v4([1, 2, 3, 4])).unwrap();
            prop_assert_eq!((f.addr, f.port), (v4([1, 2, 3, 4]), p));
        }

        #[test]
        fn eprt_round_trip(a in any::<[u8; 4]>(), p in 1u16..) {
            let d = format!("EPRT |1|{}.{}.{}.{}|{}|\r\n", a[0], a[1], a[2], a[3], p);
            prop_assert_eq!(scan_client(d.as_bytes(), false),
                ClientCmd::Eprt(Found { addr: v4(a), port: p, start: 5, end: d.len() - 2 }));
        }

        /// Arbitrary payloads never panic, and anything found lies inside the payload.
        #[test]
        fn never_panics(d in proptest::collection::vec(any::<u8>(), 0..80), v6 in any::<bool>()) {
            for r in [scan_client(&d, v6)] {
                if let ClientCmd::Port(f) | ClientCmd::Eprt(f) = r {
                    prop_assert!(f.start <= f.end && f.end <= d.len());
                }
            }
            for m in [Mode::Pasv, Mode::Epsv] {
                if let Some(f) = scan_server(&d, m, v6, [0; 16]) {
                    prop_assert!(f.start <= f.end && f.end <= d.len());
                }
            }
        }

        /// Structured near-misses around the real formats never panic either.
        #[test]
        fn near_misses(prefix in "(PORT|EPRT|227 |229 |EPSV|PASV)", body in "[0-9,|().:a-f ]{0,40}") {
            let d = format!("{prefix}{body}\r\n");
            let _ = scan_client(d.as_bytes(), false);
            let _ = scan_client(d.as_bytes(), true);
            let _ = scan_server(d.as_bytes(), Mode::Pasv, false, [0; 16]);
            let _ = scan_server(d.as_bytes(), Mode::Epsv, true, [0; 16]);
        }
    }
}
