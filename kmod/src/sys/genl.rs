//! Generic netlink: one family with a policy built from the uapi tables, typed attribute access,
//! and reply/dump message builders. Handlers live in `ctl/`; they never see a raw pointer.

use super::bindings as b;
use super::net::NetRef;
use super::KStatic;
use crate::uapi::AttrKind;
use core::ffi::{c_int, c_void};
use core::ptr::NonNull;
use kernel::prelude::*;

/// A `struct nla_policy` array built from a uapi policy table.
pub(crate) struct Policy<const N: usize>(KStatic<[b::nla_policy; N]>);

impl<const N: usize> Policy<N> {
    pub(crate) const fn new() -> Self {
        Self(KStatic::zeroed())
    }

    /// Fills the table; called once from module init before the family is registered.
    pub(crate) fn init(&'static self, kinds: &[AttrKind; N]) {
        // SAFETY: module init, before registration publishes the table.
        let tab = unsafe { &mut *self.0.get() };
        for (p, k) in tab.iter_mut().zip(kinds.iter()) {
            let (ty, len) = match *k {
                AttrKind::Unspec => (b::NLA_UNSPEC, 0),
                AttrKind::U8 => (b::NLA_U8, 0),
                AttrKind::U16 => (b::NLA_U16, 0),
                AttrKind::U32 => (b::NLA_U32, 0),
                AttrKind::U64 => (b::NLA_U64, 0),
                AttrKind::Nested => (b::NLA_NESTED, 0),
                AttrKind::NulString(n) => (b::NLA_NUL_STRING, n),
                AttrKind::Binary(n) => (b::NLA_BINARY, n),
                AttrKind::MinLen(n) => (b::NLA_UNSPEC, n),
            };
            p.type_ = ty as u8;
            p.len = len;
        }
    }

    fn as_ptr(&'static self) -> *const b::nla_policy {
        self.0.get() as *const b::nla_policy
    }
}

/// A netlink attribute inside a request that outlives `'a`.
#[derive(Clone, Copy)]
pub(crate) struct Attr<'a>(&'a b::nlattr);

const NLA_HDRLEN: usize = 4;

impl<'a> Attr<'a> {
    /// The payload bytes.
    pub(crate) fn payload(&self) -> &'a [u8] {
        let len = (self.0.nla_len as usize).saturating_sub(NLA_HDRLEN);
        // SAFETY: netlink validated `nla_len` against the message when parsing, so the payload
        // of `nla_len - NLA_HDRLEN` bytes follows the header inside the request buffer.
        unsafe { core::slice::from_raw_parts((self.0 as *const b::nlattr as *const u8).add(NLA_HDRLEN), len) }
    }

    fn fixed<const L: usize>(&self) -> Result<[u8; L]> {
        let p = self.payload();
        if p.len() < L {
            return Err(EINVAL);
        }
        let mut v = [0u8; L];
        v.copy_from_slice(&p[..L]);
        Ok(v)
    }

    pub(crate) fn u8(&self) -> Result<u8> {
        Ok(self.fixed::<1>()?[0])
    }
    pub(crate) fn u16(&self) -> Result<u16> {
        Ok(u16::from_ne_bytes(self.fixed()?))
    }
    /// A big-endian 16-bit value (ports), returned in host order.
    pub(crate) fn be16(&self) -> Result<u16> {
        Ok(u16::from_be_bytes(self.fixed()?))
    }
    pub(crate) fn u32(&self) -> Result<u32> {
        Ok(u32::from_ne_bytes(self.fixed()?))
    }

    /// A NUL-terminated string attribute (policy-checked), without its NUL.
    pub(crate) fn str_bytes(&self) -> &'a [u8] {
        let p = self.payload();
        let end = p.iter().position(|&c| c == 0).unwrap_or(p.len());
        &p[..end]
    }

    /// Parses a nested attribute against `policy` (liberal validation, as ip_vs does).
    pub(crate) fn nested<const N: usize>(&self, policy: &'static Policy<N>) -> Result<Attrs<'a, N>> {
        let p = self.payload();
        parse(p.as_ptr(), p.len(), policy)
    }
}

/// Attributes of one nesting level, indexed by attribute type (0..N).
pub(crate) struct Attrs<'a, const N: usize> {
    tb: [*mut b::nlattr; N],
    _life: core::marker::PhantomData<&'a b::nlattr>,
}

impl<'a, const N: usize> Attrs<'a, N> {
    pub(crate) fn get(&self, ty: u16) -> Option<Attr<'a>> {
        let p = *self.tb.get(ty as usize)?;
        // SAFETY: non-null entries point into the request buffer, which outlives `'a`.
        NonNull::new(p).map(|p| Attr(unsafe { &*p.as_ptr() }))
    }
}

fn parse<'a, const N: usize>(head: *const u8, len: usize, policy: &'static Policy<N>) -> Result<Attrs<'a, N>> {
    let mut tb = [core::ptr::null_mut(); N];
    // SAFETY: `head..head+len` is a validated attribute stream inside the request; `tb` has room
    // for attribute types 0..=N-1; the policy covers the same range.
    let ret = unsafe {
        b::__nla_parse(
            tb.as_mut_ptr(),
            (N - 1) as c_int,
            head as *const b::nlattr,
            len as c_int,
            policy.as_ptr(),
            b::netlink_validation_NL_VALIDATE_LIBERAL as _,
            core::ptr::null_mut(),
        )
    };
    if ret < 0 {
        return Err(Error::from_errno(ret));
    }
    Ok(Attrs { tb, _life: core::marker::PhantomData })
}

/// A message being built (reply or dump entry).
pub(crate) struct Msg {
    skb: *mut b::sk_buff,
}

impl Msg {
    pub(crate) fn put(&mut self, ty: u16, data: &[u8]) -> Result {
        // SAFETY: `skb` is the message under construction, owned by this builder.
        let r = unsafe { b::nla_put(self.skb, ty as c_int, data.len() as c_int, data.as_ptr() as *const c_void) };
        if r < 0 {
            return Err(EMSGSIZE);
        }
        Ok(())
    }
    pub(crate) fn put_u8(&mut self, ty: u16, v: u8) -> Result {
        self.put(ty, &[v])
    }
    pub(crate) fn put_u16(&mut self, ty: u16, v: u16) -> Result {
        self.put(ty, &v.to_ne_bytes())
    }
    /// Puts a 16-bit value in network byte order (ports).
    pub(crate) fn put_be16(&mut self, ty: u16, v: u16) -> Result {
        self.put(ty, &v.to_be_bytes())
    }
    pub(crate) fn put_u32(&mut self, ty: u16, v: u32) -> Result {
        self.put(ty, &v.to_ne_bytes())
    }
    /// Puts a 64-bit value with the padding attribute `pad`, as `nla_put_u64_64bit`.
    pub(crate) fn put_u64(&mut self, ty: u16, v: u64, pad: u16) -> Result {
        let bytes = v.to_ne_bytes();
        // SAFETY: as in `put`.
        let r = unsafe {
            b::nla_put_64bit(self.skb, ty as c_int, 8, bytes.as_ptr() as *const c_void, pad as c_int)
        };
        if r < 0 {
            return Err(EMSGSIZE);
        }
        Ok(())
    }
    /// Puts a NUL-terminated string.
    pub(crate) fn put_str(&mut self, ty: u16, s: &[u8]) -> Result {
        let mut buf = [0u8; 64];
        let n = s.len().min(buf.len() - 1);
        buf[..n].copy_from_slice(&s[..n]);
        self.put(ty, &buf[..n + 1])
    }

    /// Puts a nested attribute whose content `fill` writes.
    pub(crate) fn nest(&mut self, ty: u16, fill: impl FnOnce(&mut Msg) -> Result) -> Result {
        // SAFETY: as in `put`.
        let start = unsafe { b::fvs_nla_nest_start(self.skb, ty as c_int) };
        if start.is_null() {
            return Err(EMSGSIZE);
        }
        match fill(self) {
            // SAFETY: `start` was returned by nest_start on this skb.
            Ok(()) => unsafe { b::fvs_nla_nest_end(self.skb, start) },
            Err(e) => {
                // SAFETY: as above.
                unsafe { b::fvs_nla_nest_cancel(self.skb, start) };
                return Err(e);
            }
        }
        Ok(())
    }
}

/// A generic-netlink request being handled by a `doit` operation.
pub(crate) struct Request<'a> {
    info: &'a b::genl_info,
    family: *const b::genl_family,
}

impl<'a> Request<'a> {
    pub(crate) fn cmd(&self) -> u8 {
        // SAFETY: genetlink sets `genlhdr` for every request it dispatches.
        unsafe { (*self.info.genlhdr).cmd }
    }

    pub(crate) fn net(&self) -> NetRef {
        // SAFETY: the request's namespace is alive while the request is handled; `genl_info_net`
        // never returns null.
        unsafe { NetRef::from_raw(b::fvs_genl_info_net(self.info)).unwrap_unchecked() }
    }

    /// Top-level attribute `ty` (already parsed and validated by genetlink with the family policy).
    pub(crate) fn attr(&self, ty: u16) -> Option<Attr<'a>> {
        if ty > crate::uapi::cmd_attr::MAX {
            return None;
        }
        // SAFETY: `attrs` has `maxattr + 1` entries, each null or pointing into the request.
        let p = unsafe { *self.info.attrs.add(ty as usize) };
        // SAFETY: as above; the request buffer outlives `'a`.
        NonNull::new(p).map(|p| Attr(unsafe { &*p.as_ptr() }))
    }

    /// Sends a reply with command `cmd` whose attributes `fill` writes. Allocates with
    /// GFP_KERNEL, so it may sleep: never call it inside an RCU read-side section (hold what
    /// `fill` needs by reference count instead).
    pub(crate) fn reply(&self, cmd: u8, fill: impl FnOnce(&mut Msg) -> Result) -> Result {
        // SAFETY: allocation of a fresh netlink message.
        let skb = unsafe { b::fvs_genlmsg_new(b::FVS_NLMSG_DEFAULT_SIZE, b::FVS_GFP_KERNEL) };
        if skb.is_null() {
            return Err(ENOMEM);
        }
        let info = self.info as *const b::genl_info as *mut b::genl_info;
        // SAFETY: `skb` is ours; `info` and `family` are the request's.
        let hdr = unsafe { b::fvs_genlmsg_put_reply(skb, info, self.family, 0, cmd) };
        let mut msg = Msg { skb };
        let filled = if hdr.is_null() { Err(EMSGSIZE) } else { fill(&mut msg) };
        if let Err(e) = filled {
            // SAFETY: the message was never sent, so we still own it.
            unsafe { b::fvs_nlmsg_free(skb) };
            return Err(e);
        }
        // SAFETY: `hdr` was returned by genlmsg_put_reply on `skb`; genlmsg_reply consumes `skb`.
        let r = unsafe {
            b::fvs_genlmsg_end(skb, hdr);
            b::fvs_genlmsg_reply(skb, info)
        };
        if r < 0 {
            return Err(Error::from_errno(r));
        }
        Ok(())
    }
}

/// A dump in progress: the output skb and the netlink callback with its resume cursor.
pub(crate) struct Dump<'a> {
    skb: *mut b::sk_buff,
    cb: &'a mut b::netlink_callback,
    family: *const b::genl_family,
}

impl<'a> Dump<'a> {
    pub(crate) fn cmd(&self) -> u8 {
        self.request_hdr().map(|h| h.0).unwrap_or(0)
    }

    fn request_hdr(&self) -> Option<(u8, *const u8, usize)> {
        let nlh = self.cb.nlh;
        if nlh.is_null() {
            return None;
        }
        // SAFETY: `cb->nlh` is the dump request, valid for the whole dump.
        let len = unsafe { (*nlh).nlmsg_len } as usize;
        const NLMSG_HDRLEN: usize = 16;
        const GENL_HDRLEN: usize = 4;
        if len < NLMSG_HDRLEN + GENL_HDRLEN {
            return None;
        }
        let base = nlh as *const u8;
        // SAFETY: length checked above; the genl header follows the netlink header.
        let cmd = unsafe { *base.add(NLMSG_HDRLEN) };
        // SAFETY: attributes follow the headers, `len - 20` bytes of them.
        Some((cmd, unsafe { base.add(NLMSG_HDRLEN + GENL_HDRLEN) }, len - NLMSG_HDRLEN - GENL_HDRLEN))
    }

    /// The request's top-level attributes, parsed with `policy` (as `nlmsg_parse_deprecated`).
    pub(crate) fn request_attrs<const N: usize>(&self, policy: &'static Policy<N>) -> Result<Attrs<'a, N>> {
        let (_, head, len) = self.request_hdr().ok_or(EINVAL)?;
        parse(head, len, policy)
    }

    pub(crate) fn net(&self) -> NetRef {
        // SAFETY: the dump runs on a socket whose namespace is alive; `sock_net` is never null.
        unsafe { NetRef::from_raw(b::fvs_skb_sock_net(self.skb)).unwrap_unchecked() }
    }

    /// Resume cursor slot `i` (0..6), zero on the first call.
    pub(crate) fn cursor(&self, i: usize) -> i64 {
        // SAFETY: genetlink's dumps use the `args` view of the callback's scratch union, zeroed
        // by netlink before the first call.
        let args = unsafe { &self.cb.__bindgen_anon_1.args };
        args.get(i).copied().unwrap_or(0) as i64
    }

    pub(crate) fn set_cursor(&mut self, i: usize, v: i64) {
        // SAFETY: as in `cursor`.
        let args = unsafe { &mut self.cb.__bindgen_anon_1.args };
        if let Some(a) = args.get_mut(i) {
            *a = v as _;
        }
    }

    /// Appends one message with command `cmd`; returns `Err(EMSGSIZE)` when the skb is full,
    /// in which case nothing of this entry remains in the skb.
    pub(crate) fn entry(&mut self, cmd: u8, fill: impl FnOnce(&mut Msg) -> Result) -> Result {
        // SAFETY: `cb->skb` is the dump request's skb; its control block carries the portid.
        let portid = unsafe { b::fvs_netlink_cb_portid(self.cb.skb) };
        // SAFETY: as above for `nlh`.
        let seq = unsafe { (*self.cb.nlh).nlmsg_seq };
        // SAFETY: `skb` is the dump output buffer owned by netlink for this call.
        let hdr = unsafe { b::genlmsg_put(self.skb, portid, seq, self.family, b::NLM_F_MULTI as c_int, cmd) };
        if hdr.is_null() {
            return Err(EMSGSIZE);
        }
        let mut msg = Msg { skb: self.skb };
        match fill(&mut msg) {
            Ok(()) => {
                // SAFETY: `hdr` was returned by genlmsg_put on this skb.
                unsafe { b::fvs_genlmsg_end(self.skb, hdr) };
                Ok(())
            }
            Err(e) => {
                // SAFETY: as above; cancel trims the skb back to before this entry.
                unsafe { b::fvs_genlmsg_cancel(self.skb, hdr) };
                Err(e)
            }
        }
    }

    fn len(&self) -> c_int {
        // SAFETY: `skb` is valid for the call.
        unsafe { (*self.skb).len as c_int }
    }
}

/// Handlers for the family's commands.
pub(crate) struct Handlers {
    pub(crate) doit: fn(&Request<'_>) -> Result,
    /// Fills the dump; returns normally when done or when the skb is full (cursor saved).
    pub(crate) dumpit: fn(&mut Dump<'_>) -> Result,
}

/// Which operations a command supports and who may call it.
pub(crate) struct OpSpec {
    pub(crate) cmd: u8,
    pub(crate) doit: bool,
    pub(crate) dumpit: bool,
}

/// A generic netlink family with `NOPS` small ops.
pub(crate) struct Family<const NOPS: usize> {
    fam: KStatic<b::genl_family>,
    ops: KStatic<[b::genl_small_ops; NOPS]>,
    handlers: KStatic<Option<Handlers>>,
}

impl<const NOPS: usize> Family<NOPS> {
    pub(crate) const fn new() -> Self {
        Self { fam: KStatic::zeroed(), ops: KStatic::zeroed(), handlers: KStatic::zeroed() }
    }

    fn handlers(&'static self) -> &'static Handlers {
        // SAFETY: set before registration and never changed while registered.
        unsafe { (*self.handlers.get()).as_ref().unwrap_unchecked() }
    }

    /// Fills and registers the family. Every op requires CAP_NET_ADMIN over the namespace's
    /// user namespace (GENL_UNS_ADMIN_PERM), reads included, as ip_vs refuses unprivileged reads.
    pub(crate) fn register<const NP: usize>(
        &'static self,
        name: &str,
        version: u8,
        policy: &'static Policy<NP>,
        specs: &[OpSpec; NOPS],
        handlers: Handlers,
        resv_start_op: u8,
        module: *mut kernel::bindings::module,
    ) -> Result {
        // SAFETY: module init; the family is not yet registered, so nothing else reads it.
        unsafe {
            *self.handlers.get() = Some(handlers);
            let ops = &mut *self.ops.get();
            for (op, spec) in ops.iter_mut().zip(specs.iter()) {
                op.cmd = spec.cmd;
                op.validate = (b::genl_validate_flags_GENL_DONT_VALIDATE_STRICT | b::genl_validate_flags_GENL_DONT_VALIDATE_DUMP) as u8;
                op.flags = b::GENL_UNS_ADMIN_PERM as u8;
                op.doit = if spec.doit { Some(Self::doit_trampoline) } else { None };
                op.dumpit = if spec.dumpit { Some(Self::dumpit_trampoline) } else { None };
            }
            let fam = &mut *self.fam.get();
            for (d, s) in fam.name.iter_mut().zip(name.bytes()) {
                *d = s as _;
            }
            fam.version = version as _;
            fam.maxattr = (NP - 1) as _;
            fam.policy = policy.as_ptr();
            fam.set_netnsok(1);
            fam.set_parallel_ops(1);
            fam.small_ops = ops.as_ptr();
            fam.n_small_ops = NOPS as u8;
            fam.resv_start_op = resv_start_op;
            fam.module = module as *mut b::module;
        }
        // SAFETY: the family and everything it points to are statics of this module.
        let r = unsafe { b::genl_register_family(self.fam.get()) };
        if r < 0 {
            return Err(Error::from_errno(r));
        }
        Ok(())
    }

    pub(crate) fn unregister(&'static self) {
        // SAFETY: registered by `register`; unregistering waits for running handlers.
        unsafe { b::genl_unregister_family(self.fam.get()) };
    }
}

// The trampolines need the `'static` family; fvs has exactly one, `crate::ctl::genl::FAMILY`.
impl<const NOPS: usize> Family<NOPS> {
    unsafe extern "C" fn doit_trampoline(_skb: *mut b::sk_buff, info: *mut b::genl_info) -> c_int {
        let fam = crate::ctl::genl::family();
        // SAFETY: genetlink passes a valid info for the duration of the call.
        let Some(info) = (unsafe { info.as_ref() }) else { return -(b::EINVAL as c_int) };
        let req = Request { info, family: fam.fam.get() };
        match (fam.handlers().doit)(&req) {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        }
    }

    unsafe extern "C" fn dumpit_trampoline(skb: *mut b::sk_buff, cb: *mut b::netlink_callback) -> c_int {
        let fam = crate::ctl::genl::family();
        // SAFETY: netlink passes a valid callback for the duration of the call.
        let Some(cb) = (unsafe { cb.as_mut() }) else { return -(b::EINVAL as c_int) };
        let mut dump = Dump { skb, cb, family: fam.fam.get() };
        match (fam.handlers().dumpit)(&mut dump) {
            Ok(()) | Err(EMSGSIZE) => dump.len(),
            Err(e) => e.to_errno(),
        }
    }
}
