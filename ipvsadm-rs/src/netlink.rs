//! A minimal generic-netlink encoder/decoder: message and attribute framing only.

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

pub const GENL_ID_CTRL: u16 = 0x10;
pub const CTRL_CMD_GETFAMILY: u8 = 3;
pub const CTRL_ATTR_FAMILY_ID: u16 = 1;
pub const CTRL_ATTR_FAMILY_NAME: u16 = 2;

const NLA_TYPE_MASK: u16 = 0x3fff;
pub const NLA_F_NESTED: u16 = 0x8000;

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// Builds one netlink message with a genetlink header and attributes.
#[derive(Clone, Debug)]
pub struct Message {
    buf: Vec<u8>,
    nests: Vec<usize>,
}

impl Message {
    pub fn new(family: u16, flags: u16, cmd: u8, version: u8) -> Self {
        let mut buf = Vec::with_capacity(256);
        buf.extend_from_slice(&0u32.to_ne_bytes()); // length, patched in finish()
        buf.extend_from_slice(&family.to_ne_bytes());
        buf.extend_from_slice(&(flags | NLM_F_REQUEST).to_ne_bytes());
        buf.extend_from_slice(&0u32.to_ne_bytes()); // seq
        buf.extend_from_slice(&0u32.to_ne_bytes()); // pid
        buf.extend_from_slice(&[cmd, version, 0, 0]);
        Message {
            buf,
            nests: Vec::new(),
        }
    }

    pub fn cmd(&self) -> u8 {
        self.buf[NLMSG_HDRLEN]
    }

    pub fn put(&mut self, ty: u16, data: &[u8]) -> &mut Self {
        let len = NLA_HDRLEN + data.len();
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

    /// A NUL-terminated string attribute (`NLA_PUT_STRING`).
    pub fn put_str(&mut self, ty: u16, s: &str) -> &mut Self {
        let mut v = s.as_bytes().to_vec();
        v.push(0);
        self.put(ty, &v)
    }

    pub fn begin_nest(&mut self, ty: u16) -> &mut Self {
        self.nests.push(self.buf.len());
        self.buf.extend_from_slice(&0u16.to_ne_bytes());
        // libnl's nla_nest_start() marks nests with NLA_F_NESTED.
        self.buf
            .extend_from_slice(&(ty | NLA_F_NESTED).to_ne_bytes());
        self
    }

    pub fn end_nest(&mut self) -> &mut Self {
        let start = self.nests.pop().expect("end_nest without begin_nest");
        let len = (self.buf.len() - start) as u16;
        self.buf[start..start + 2].copy_from_slice(&len.to_ne_bytes());
        self
    }

    /// The wire bytes with the given sequence number.
    pub fn finish(&self, seq: u32) -> Vec<u8> {
        debug_assert!(self.nests.is_empty());
        let mut b = self.buf.clone();
        let len = b.len() as u32;
        b[0..4].copy_from_slice(&len.to_ne_bytes());
        b[8..12].copy_from_slice(&seq.to_ne_bytes());
        b
    }

    /// Attribute payload after the genetlink header (for tests and dumps).
    pub fn payload(&self) -> &[u8] {
        &self.buf[NLMSG_HDRLEN + GENL_HDRLEN..]
    }
}

/// One received netlink message.
#[derive(Clone, Debug)]
pub struct Received<'a> {
    pub ty: u16,
    pub flags: u16,
    pub seq: u32,
    pub body: &'a [u8],
}

/// Splits a datagram into netlink messages.
pub fn split_messages(mut data: &[u8]) -> Vec<Received<'_>> {
    let mut out = Vec::new();
    while data.len() >= NLMSG_HDRLEN {
        let len = u32::from_ne_bytes(data[0..4].try_into().unwrap()) as usize;
        if len < NLMSG_HDRLEN || len > data.len() {
            break;
        }
        out.push(Received {
            ty: u16::from_ne_bytes(data[4..6].try_into().unwrap()),
            flags: u16::from_ne_bytes(data[6..8].try_into().unwrap()),
            seq: u32::from_ne_bytes(data[8..12].try_into().unwrap()),
            body: &data[NLMSG_HDRLEN..len],
        });
        let adv = align4(len).min(data.len());
        data = &data[adv..];
    }
    out
}

/// The error code of an NLMSG_ERROR body (0 = ACK, otherwise a negative errno).
pub fn error_code(body: &[u8]) -> i32 {
    if body.len() < 4 {
        return -libc::EINVAL;
    }
    i32::from_ne_bytes(body[0..4].try_into().unwrap())
}

/// Parsed attributes, indexed by type (the last occurrence wins, like `nla_parse`).
#[derive(Clone, Debug, Default)]
pub struct Attrs<'a> {
    slots: Vec<Option<&'a [u8]>>,
}

impl<'a> Attrs<'a> {
    pub fn parse(mut data: &'a [u8]) -> Self {
        let mut slots: Vec<Option<&'a [u8]>> = Vec::new();
        while data.len() >= NLA_HDRLEN {
            let len = u16::from_ne_bytes([data[0], data[1]]) as usize;
            let ty = u16::from_ne_bytes([data[2], data[3]]) & NLA_TYPE_MASK;
            if len < NLA_HDRLEN || len > data.len() {
                break;
            }
            let idx = ty as usize;
            if slots.len() <= idx {
                slots.resize(idx + 1, None);
            }
            slots[idx] = Some(&data[NLA_HDRLEN..len]);
            let adv = align4(len).min(data.len());
            data = &data[adv..];
        }
        Attrs { slots }
    }

    /// Attributes of a genetlink message body (after the 4-byte genl header).
    pub fn parse_genl(body: &'a [u8]) -> Self {
        if body.len() < GENL_HDRLEN {
            return Attrs::default();
        }
        Self::parse(&body[GENL_HDRLEN..])
    }

    pub fn get(&self, ty: u16) -> Option<&'a [u8]> {
        self.slots.get(ty as usize).copied().flatten()
    }

    pub fn has(&self, ty: u16) -> bool {
        self.get(ty).is_some()
    }

    pub fn nested(&self, ty: u16) -> Option<Attrs<'a>> {
        self.get(ty).map(Attrs::parse)
    }

    pub fn u8(&self, ty: u16) -> Option<u8> {
        self.get(ty).and_then(|d| d.first().copied())
    }

    pub fn u16(&self, ty: u16) -> Option<u16> {
        self.get(ty)
            .filter(|d| d.len() >= 2)
            .map(|d| u16::from_ne_bytes([d[0], d[1]]))
    }

    pub fn u32(&self, ty: u16) -> Option<u32> {
        self.get(ty)
            .filter(|d| d.len() >= 4)
            .map(|d| u32::from_ne_bytes(d[..4].try_into().unwrap()))
    }

    pub fn u64(&self, ty: u16) -> Option<u64> {
        self.get(ty)
            .filter(|d| d.len() >= 8)
            .map(|d| u64::from_ne_bytes(d[..8].try_into().unwrap()))
    }

    /// A string attribute up to its first NUL.
    pub fn string(&self, ty: u16) -> Option<String> {
        self.get(ty).map(|d| {
            let end = d.iter().position(|&b| b == 0).unwrap_or(d.len());
            String::from_utf8_lossy(&d[..end]).into_owned()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_nested_and_parse_back() {
        let mut m = Message::new(0x20, 0, 1, 1);
        m.begin_nest(1)
            .put_u16(1, 2)
            .put_str(6, "rr")
            .put_u32(9, 0xffff_ffff)
            .end_nest();
        let wire = m.finish(7);
        assert_eq!(wire.len() % 4, 0);
        let msgs = split_messages(&wire);
        assert_eq!(msgs.len(), 1);
        assert_eq!(msgs[0].ty, 0x20);
        assert_eq!(msgs[0].seq, 7);
        assert_eq!(msgs[0].flags, NLM_F_REQUEST);
        let top = Attrs::parse_genl(msgs[0].body);
        let svc = top.nested(1).unwrap();
        assert_eq!(svc.u16(1), Some(2));
        assert_eq!(svc.string(6).as_deref(), Some("rr"));
        assert_eq!(svc.u32(9), Some(0xffff_ffff));
        assert_eq!(svc.get(3), None);
    }

    #[test]
    fn string_attribute_layout_matches_libnl() {
        // NLA_PUT_STRING("wlc"): len 8 (4 header + "wlc\0"), no padding needed.
        let mut m = Message::new(0x20, 0, 1, 1);
        m.put_str(6, "wlc");
        assert_eq!(m.payload(), &[8, 0, 6, 0, b'w', b'l', b'c', 0]);
        let mut m = Message::new(0x20, 0, 1, 1);
        m.put_str(6, "rr");
        assert_eq!(m.payload(), &[7, 0, 6, 0, b'r', b'r', 0, 0]);
    }
}
