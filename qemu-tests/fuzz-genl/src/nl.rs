//! A tiny netlink / generic netlink encoder, the socket transport and a strict reply parser.

use std::io;
use std::os::fd::AsRawFd;

use netlink_sys::{protocols::NETLINK_GENERIC, Socket, SocketAddr};

pub const NLMSG_HDRLEN: usize = 16;
pub const GENL_HDRLEN: usize = 4;
pub const NLA_HDRLEN: usize = 4;

pub const NLM_F_REQUEST: u16 = 0x1;
pub const NLM_F_MULTI: u16 = 0x2;
pub const NLM_F_ACK: u16 = 0x4;
pub const NLM_F_DUMP: u16 = 0x300;

pub const NLMSG_NOOP: u16 = 1;
pub const NLMSG_ERROR: u16 = 2;
pub const NLMSG_DONE: u16 = 3;
pub const NLMSG_OVERRUN: u16 = 4;

pub const GENL_ID_CTRL: u16 = 0x10;
pub const CTRL_CMD_GETFAMILY: u8 = 3;
pub const CTRL_ATTR_FAMILY_ID: u16 = 1;
pub const CTRL_ATTR_FAMILY_NAME: u16 = 2;

pub const NLA_F_NESTED: u16 = 0x8000;
pub const NLA_TYPE_MASK: u16 = 0x3fff;

pub fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// Raw message builder: the caller controls every header field; lengths are patched by
/// `end_nest()` / `finish()` unless the caller overrides them afterwards.
#[derive(Clone, Debug, Default)]
pub struct Msg {
    pub buf: Vec<u8>,
    nests: Vec<usize>,
}

impl Msg {
    /// nlmsghdr (length patched later) followed by a genlmsghdr.
    pub fn new(ty: u16, flags: u16, cmd: u8, version: u8, reserved: u16) -> Self {
        let mut m = Msg::default();
        m.header(ty, flags);
        m.buf.push(cmd);
        m.buf.push(version);
        m.buf.extend_from_slice(&reserved.to_ne_bytes());
        m
    }

    /// Only the nlmsghdr.
    pub fn header(&mut self, ty: u16, flags: u16) {
        self.buf.extend_from_slice(&0u32.to_ne_bytes());
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        self.buf.extend_from_slice(&flags.to_ne_bytes());
        self.buf.extend_from_slice(&0u32.to_ne_bytes());
        self.buf.extend_from_slice(&0u32.to_ne_bytes());
    }

    pub fn put(&mut self, ty: u16, data: &[u8]) -> &mut Self {
        let len = (NLA_HDRLEN + data.len()).min(0xffff);
        self.buf.extend_from_slice(&(len as u16).to_ne_bytes());
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        self.buf.extend_from_slice(data);
        self.buf.resize(align4(self.buf.len()), 0);
        self
    }

    pub fn put_u8(&mut self, ty: u16, v: u8) -> &mut Self {
        self.put(ty, &[v])
    }
    pub fn put_u16(&mut self, ty: u16, v: u16) -> &mut Self {
        self.put(ty, &v.to_ne_bytes())
    }
    pub fn put_u32(&mut self, ty: u16, v: u32) -> &mut Self {
        self.put(ty, &v.to_ne_bytes())
    }
    pub fn put_be16(&mut self, ty: u16, v: u16) -> &mut Self {
        self.put(ty, &v.to_be_bytes())
    }
    pub fn put_str(&mut self, ty: u16, s: &str) -> &mut Self {
        let mut v = s.as_bytes().to_vec();
        v.push(0);
        self.put(ty, &v)
    }

    pub fn begin_nest(&mut self, ty: u16) -> &mut Self {
        self.nests.push(self.buf.len());
        self.buf.extend_from_slice(&0u16.to_ne_bytes());
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        self
    }

    pub fn end_nest(&mut self) -> &mut Self {
        let start = self.nests.pop().expect("end_nest without begin_nest");
        let len = (self.buf.len() - start).min(0xffff) as u16;
        self.buf[start..start + 2].copy_from_slice(&len.to_ne_bytes());
        self
    }

    /// Closes open nests, patches nlmsg_len and nlmsg_seq; returns the wire bytes.
    pub fn finish(mut self, seq: u32) -> Vec<u8> {
        while !self.nests.is_empty() {
            self.end_nest();
        }
        let len = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        self.buf[8..12].copy_from_slice(&seq.to_ne_bytes());
        self.buf
    }
}

// ---------------------------------------------------------------------------------------------
// Strict reply parsing

/// One received netlink message.
#[derive(Clone, Debug)]
pub struct Rx {
    pub ty: u16,
    pub flags: u16,
    pub seq: u32,
    pub body: Vec<u8>,
}

/// Splits a datagram into netlink messages; any framing defect is an error.
pub fn split(mut data: &[u8]) -> Result<Vec<Rx>, String> {
    let mut out = Vec::new();
    while !data.is_empty() {
        if data.len() < NLMSG_HDRLEN {
            return Err(format!(
                "{} trailing bytes after the last message",
                data.len()
            ));
        }
        let len = u32::from_ne_bytes(data[0..4].try_into().unwrap()) as usize;
        if len < NLMSG_HDRLEN || len > data.len() {
            return Err(format!("nlmsg_len {len} with {} bytes left", data.len()));
        }
        out.push(Rx {
            ty: u16::from_ne_bytes(data[4..6].try_into().unwrap()),
            flags: u16::from_ne_bytes(data[6..8].try_into().unwrap()),
            seq: u32::from_ne_bytes(data[8..12].try_into().unwrap()),
            body: data[NLMSG_HDRLEN..len].to_vec(),
        });
        data = &data[align4(len).min(data.len())..];
    }
    Ok(out)
}

/// Parses a run of attributes; the whole buffer must be consumed.
pub fn attrs(mut data: &[u8]) -> Result<Vec<(u16, &[u8])>, String> {
    let mut out = Vec::new();
    while !data.is_empty() {
        if data.len() < NLA_HDRLEN {
            return Err(format!(
                "{} trailing bytes after the last attribute",
                data.len()
            ));
        }
        let len = u16::from_ne_bytes([data[0], data[1]]) as usize;
        let ty = u16::from_ne_bytes([data[2], data[3]]);
        if len < NLA_HDRLEN || len > data.len() {
            return Err(format!(
                "attribute type {ty:#x}: nla_len {len} with {} bytes left",
                data.len()
            ));
        }
        out.push((ty & NLA_TYPE_MASK, &data[NLA_HDRLEN..len]));
        data = &data[align4(len).min(data.len())..];
    }
    Ok(out)
}

pub fn get<'a>(a: &[(u16, &'a [u8])], ty: u16) -> Option<&'a [u8]> {
    a.iter().rev().find(|(t, _)| *t == ty).map(|(_, d)| *d)
}

pub fn u16_of(d: &[u8]) -> Option<u16> {
    (d.len() == 2).then(|| u16::from_ne_bytes([d[0], d[1]]))
}
pub fn u32_of(d: &[u8]) -> Option<u32> {
    (d.len() == 4).then(|| u32::from_ne_bytes(d.try_into().unwrap()))
}

/// The errno of an NLMSG_ERROR body (0 = ACK); with NETLINK_CAP_ACK the body is errno + the
/// request's nlmsghdr, possibly followed by extended-ack attributes.
pub fn error_code(body: &[u8]) -> Result<i32, String> {
    if body.len() < 4 + NLMSG_HDRLEN {
        return Err(format!("NLMSG_ERROR body of {} bytes", body.len()));
    }
    Ok(i32::from_ne_bytes(body[0..4].try_into().unwrap()))
}

// ---------------------------------------------------------------------------------------------
// Transport

pub struct Conn {
    pub sock: Socket,
    rx: Vec<u8>,
}

fn last_errno() -> i32 {
    io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

impl Conn {
    pub fn open() -> io::Result<Conn> {
        let mut sock = Socket::new(NETLINK_GENERIC)?;
        sock.bind_auto()?;
        sock.connect(&SocketAddr::new(0, 0))?;
        sock.set_cap_ack(true)?;
        let _ = sock.set_ext_ack(true);
        let _ = sock.set_rx_buf_sz(4 * 1024 * 1024);
        Ok(Conn {
            sock,
            rx: vec![0u8; 1 << 20],
        })
    }

    /// Sends one datagram; Err(errno) if sendmsg fails (e.g. EMSGSIZE for oversize).
    pub fn send(&self, wire: &[u8]) -> Result<(), i32> {
        // SAFETY: `wire` is a valid readable buffer of the given length.
        let n = unsafe { libc::send(self.sock.as_raw_fd(), wire.as_ptr().cast(), wire.len(), 0) };
        if n < 0 {
            return Err(last_errno());
        }
        Ok(())
    }

    /// Receives one datagram; Ok(None) when nothing arrives within `timeout_ms`
    /// (0 = don't wait). A truncated datagram is an error.
    pub fn recv(&mut self, timeout_ms: i32) -> Result<Option<Vec<Rx>>, String> {
        let fd = self.sock.as_raw_fd();
        loop {
            // SAFETY: `self.rx` is a valid writable buffer of the given length.
            let n = unsafe {
                libc::recv(
                    fd,
                    self.rx.as_mut_ptr().cast(),
                    self.rx.len(),
                    libc::MSG_DONTWAIT | libc::MSG_TRUNC,
                )
            };
            if n >= 0 {
                let n = n as usize;
                if n > self.rx.len() {
                    return Err(format!("datagram of {n} bytes truncated"));
                }
                return split(&self.rx[..n]).map(Some);
            }
            let e = last_errno();
            match e {
                libc::EINTR => continue,
                libc::EAGAIN => {
                    if timeout_ms == 0 {
                        return Ok(None);
                    }
                    let mut p = libc::pollfd {
                        fd,
                        events: libc::POLLIN,
                        revents: 0,
                    };
                    // SAFETY: one valid pollfd.
                    let r = unsafe { libc::poll(&mut p, 1, timeout_ms) };
                    if r == 0 {
                        return Ok(None);
                    }
                    if r < 0 && last_errno() != libc::EINTR {
                        return Err(format!("poll: errno {}", last_errno()));
                    }
                }
                // The socket layer reports a lost reply (receive buffer overflow) as ENOBUFS.
                _ => return Err(format!("recv: {}", crate::errname(e))),
            }
        }
    }

    /// Resolves a generic netlink family id by name (CTRL_CMD_GETFAMILY).
    pub fn resolve(&mut self, name: &str) -> Result<u16, String> {
        let mut m = Msg::new(
            GENL_ID_CTRL,
            NLM_F_REQUEST | NLM_F_ACK,
            CTRL_CMD_GETFAMILY,
            1,
            0,
        );
        m.put_str(CTRL_ATTR_FAMILY_NAME, name);
        let seq = 0x7fff_0001;
        self.send(&m.finish(seq))
            .map_err(|e| format!("send: {}", crate::errname(e)))?;
        let mut id = None;
        loop {
            let msgs = self
                .recv(2000)?
                .ok_or_else(|| "no reply to CTRL_CMD_GETFAMILY".to_string())?;
            for r in msgs {
                if r.seq != seq {
                    continue;
                }
                if r.ty == NLMSG_ERROR {
                    let e = error_code(&r.body)?;
                    if e != 0 {
                        return Err(format!("family {name}: {}", crate::errname(-e)));
                    }
                    return id.ok_or_else(|| format!("family {name}: no id in reply"));
                }
                if r.ty == GENL_ID_CTRL && r.body.len() >= GENL_HDRLEN {
                    let a = attrs(&r.body[GENL_HDRLEN..])?;
                    id = get(&a, CTRL_ATTR_FAMILY_ID).and_then(u16_of);
                }
            }
        }
    }
}
