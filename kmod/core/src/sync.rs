//! The IPVS connection synchronisation wire format (`net/netfilter/ipvs/ip_vs_sync.c`), so that
//! fvs directors interoperate with the kernel's `ipvs-m:*` / `ipvs-b:*` sync daemons.
//!
//! * Send side: [`Builder`] lays out version 1 messages exactly as `ip_vs_sync_conn()` fills a
//!   `struct ip_vs_sync_buff` (`struct ip_vs_sync_mesg` header, `ip_vs_sync_v4`/`ip_vs_sync_v6`
//!   records, optional parameters, 32-bit padding *between* records), including its rule for
//!   when a message is full ([`sync_maxlen`] mirrors how `start_sync_thread()` derives that
//!   limit from the interface MTU). [`BuilderV0`] does the same for `ip_vs_sync_conn_v0()`
//!   (`sync_version=0`).
//! * Receive side: [`decode`] and [`Message::records`] apply the checks of
//!   `ip_vs_process_message()`, `ip_vs_process_message_v0()`, `ip_vs_proc_sync_conn()`,
//!   `ip_vs_proc_seqopt()` and `ip_vs_proc_str()` in the kernel's order, reporting each
//!   rejection as an [`Error`] that says whether the kernel drops the rest of the datagram
//!   ([`Error::is_fatal`]) or only that record.
//! * Flag masks applied on each side: [`send_flags`], [`send_flags_v0`], [`syncable`],
//!   [`validate_flags`], [`backup_flags`], [`backup_update_flags`].
//!
//! Everything works on caller-provided byte slices: no allocation, never panics on any input.
//! Multi-byte fields are big-endian on the wire, except the sequence options of version 0
//! messages, which the kernel copies in host byte order (see [`BuilderV0`]).

/// `IP_VS_SYNC_GROUP`: the default IPv4 multicast group, 224.0.0.81.
pub const SYNC_GROUP_V4: [u8; 4] = [224, 0, 0, 81];
/// `IP_VS_SYNC_PORT`: the default UDP port.
pub const SYNC_PORT: u16 = 8848;
/// `SYNC_PROTO_VER`: the `version` byte of a version 1 header.
pub const SYNC_PROTO_VER: u8 = 1;

/// `sizeof(struct ip_vs_sync_mesg_v0)`: nr_conns, syncid, be16 size.
pub const MESG_V0_LEN: usize = 4;
/// `sizeof(struct ip_vs_sync_mesg)`: reserved (0), syncid, be16 size, nr_conns, version, spare.
pub const MESG_LEN: usize = 8;
/// `SIMPLE_CONN_SIZE`, `sizeof(struct ip_vs_sync_conn_v0)`.
pub const CONN_V0_LEN: usize = 24;
/// `sizeof(struct ip_vs_seq)`: init_seq, delta, previous_delta.
pub const SEQ_LEN: usize = 12;
/// `sizeof(struct ip_vs_sync_conn_options)`: in_seq, out_seq.
pub const CONN_OPTIONS_LEN: usize = 2 * SEQ_LEN;
/// `FULL_CONN_SIZE`: a version 0 record followed by its sequence options.
pub const FULL_CONN_V0_LEN: usize = CONN_V0_LEN + CONN_OPTIONS_LEN;
/// `sizeof(struct ip_vs_sync_v4)`.
pub const SYNC_V4_LEN: usize = 36;
/// `sizeof(struct ip_vs_sync_v6)`.
pub const SYNC_V6_LEN: usize = 72;

/// `STYPE_F_INET6`: the `type` bit of an IPv6 record.
pub const STYPE_F_INET6: u8 = 1;
/// `SVER_SHIFT`: `ver_size >> SVER_SHIFT` is the record version (0).
pub const SVER_SHIFT: u32 = 12;
/// `SVER_MASK`: `ver_size & SVER_MASK` is the record size in bytes, options included.
pub const SVER_MASK: u16 = 0x0fff;

/// `IPVS_OPT_SEQ_DATA`: a `struct ip_vs_sync_conn_options` in network byte order.
pub const OPT_SEQ_DATA: u8 = 1;
/// `IPVS_OPT_PE_DATA`: persistence engine data (the SIP Call-ID).
pub const OPT_PE_DATA: u8 = 2;
/// `IPVS_OPT_PE_NAME`: persistence engine name ("sip").
pub const OPT_PE_NAME: u8 = 3;
/// `IPVS_OPT_PARAM`.
pub const OPT_PARAM: u8 = 7;
/// `IPVS_OPT_F_PARAM`: set in an option type, the option may be ignored by receivers that do
/// not know it; clear, it is mandatory.
pub const OPT_F_PARAM: u8 = 1 << (OPT_PARAM - 1);
const OPT_F_SEQ_DATA: u32 = 1 << (OPT_SEQ_DATA - 1);
const OPT_F_PE_DATA: u32 = 1 << (OPT_PE_DATA - 1);
const OPT_F_PE_NAME: u32 = 1 << (OPT_PE_NAME - 1);

/// `IP_VS_PENAME_MAXLEN`.
pub const PENAME_MAXLEN: usize = 16;
/// `IP_VS_PEDATA_MAXLEN`.
pub const PEDATA_MAXLEN: usize = 255;

/// The largest record `ip_vs_sync_conn()` emits: an IPv6 record with sequence options, the
/// longest PE data and the longest PE name.
pub const MAX_RECORD_LEN: usize =
    SYNC_V6_LEN + 2 + CONN_OPTIONS_LEN + 2 + PEDATA_MAXLEN + 2 + PENAME_MAXLEN;

/// `IP_VS_CONN_F_FWD_MASK`.
pub const CONN_F_FWD_MASK: u32 = 0x0007;
/// `IP_VS_CONN_F_MASQ`.
pub const CONN_F_MASQ: u32 = 0x0000;
/// `IP_VS_CONN_F_LOCALNODE`.
pub const CONN_F_LOCALNODE: u32 = 0x0001;
/// `IP_VS_CONN_F_TUNNEL`.
pub const CONN_F_TUNNEL: u32 = 0x0002;
/// `IP_VS_CONN_F_DROUTE`.
pub const CONN_F_DROUTE: u32 = 0x0003;
/// `IP_VS_CONN_F_BYPASS`.
pub const CONN_F_BYPASS: u32 = 0x0004;
/// `IP_VS_CONN_F_SYNC`: entry created by sync; set on every connection a backup creates.
pub const CONN_F_SYNC: u32 = 0x0020;
/// `IP_VS_CONN_F_HASHED`: never sent.
pub const CONN_F_HASHED: u32 = 0x0040;
/// `IP_VS_CONN_F_NOOUTPUT`.
pub const CONN_F_NOOUTPUT: u32 = 0x0080;
/// `IP_VS_CONN_F_INACTIVE`.
pub const CONN_F_INACTIVE: u32 = 0x0100;
/// `IP_VS_CONN_F_OUT_SEQ`.
pub const CONN_F_OUT_SEQ: u32 = 0x0200;
/// `IP_VS_CONN_F_IN_SEQ`.
pub const CONN_F_IN_SEQ: u32 = 0x0400;
/// `IP_VS_CONN_F_SEQ_MASK`: either set, the record carries sequence options.
pub const CONN_F_SEQ_MASK: u32 = 0x0600;
/// `IP_VS_CONN_F_NO_CPORT`.
pub const CONN_F_NO_CPORT: u32 = 0x0800;
/// `IP_VS_CONN_F_TEMPLATE`.
pub const CONN_F_TEMPLATE: u32 = 0x1000;
/// `IP_VS_CONN_F_ONE_PACKET`: never synced.
pub const CONN_F_ONE_PACKET: u32 = 0x2000;
/// `IP_VS_CONN_F_NFCT`: bit 16, the first of the flags not meant for backups (version 1 still
/// carries all 32 bits; [`backup_flags`] drops it).
pub const CONN_F_NFCT: u32 = 1 << 16;
/// `IP_VS_CONN_F_BACKUP_MASK`: the received flags a backup keeps for a new connection.
pub const CONN_F_BACKUP_MASK: u32 = CONN_F_FWD_MASK
    | CONN_F_NOOUTPUT
    | CONN_F_INACTIVE
    | CONN_F_SEQ_MASK
    | CONN_F_NO_CPORT
    | CONN_F_TEMPLATE;
/// `IP_VS_CONN_F_BACKUP_UPD_MASK`: the flags a sync message may change on an existing
/// connection.
pub const CONN_F_BACKUP_UPD_MASK: u32 = CONN_F_INACTIVE | CONN_F_SEQ_MASK;

/// `IP_VS_CTPL_S_LAST`: templates have states NONE and ASSURED.
pub const CTPL_S_LAST: u16 = 2;

/// `ip_vs_sync_conn()` (and `_v0`): `cp->flags & IP_VS_CONN_F_ONE_PACKET` connections are
/// never synced. [`Builder::push`] refuses them.
pub fn syncable(flags: u32) -> bool {
    flags & CONN_F_ONE_PACKET == 0
}

/// `ip_vs_sync_conn()`: `s->v4.flags = htonl(cp->flags & ~IP_VS_CONN_F_HASHED)`; all other
/// bits, including those from bit 16 up, go on the wire.
pub fn send_flags(flags: u32) -> u32 {
    flags & !CONN_F_HASHED
}

/// `ip_vs_sync_conn_v0()`: `s->flags = htons(cp->flags & ~IP_VS_CONN_F_HASHED)`, the field
/// being 16 bits wide (bits 16 and up are lost).
pub fn send_flags_v0(flags: u32) -> u16 {
    (flags & !CONN_F_HASHED) as u16
}

/// `ip_vs_sync_validate_flags()`: a backup skips records with `NO_CPORT` on a template, or with
/// `ONE_PACKET`.
pub fn validate_flags(flags: u32) -> bool {
    if flags & CONN_F_NO_CPORT != 0 && flags & CONN_F_TEMPLATE != 0 {
        return false;
    }
    flags & CONN_F_ONE_PACKET == 0
}

/// `ip_vs_proc_sync_conn()` / `ip_vs_process_message_v0()`: the flags a backup works with,
/// `(flags & IP_VS_CONN_F_BACKUP_MASK) | IP_VS_CONN_F_SYNC`. These are the flags of a new
/// connection (`ip_vs_conn_new`) and the input of [`backup_update_flags`].
pub fn backup_flags(wire: u32) -> u32 {
    (wire & CONN_F_BACKUP_MASK) | CONN_F_SYNC
}

/// `ip_vs_proc_conn()` on an existing connection: only `IP_VS_CONN_F_BACKUP_UPD_MASK` bits come
/// from the message (`backup` = [`backup_flags`] of the record), the rest stay as they are.
pub fn backup_update_flags(existing: u32, backup: u32) -> u32 {
    (backup & CONN_F_BACKUP_UPD_MASK) | (existing & !CONN_F_BACKUP_UPD_MASK)
}

/// `ip_vs_process_message()`'s SyncID filter: a backup with syncid 0 takes every message,
/// otherwise only its own.
pub fn syncid_accepted(backup_syncid: u8, msg_syncid: u8) -> bool {
    backup_syncid == 0 || backup_syncid == msg_syncid
}

/// `pp->num_states` of the protocols `ip_vs_protocol_init()` registers when all are configured
/// (TCP `IP_VS_TCP_S_LAST`, UDP `IP_VS_UDP_S_LAST`, SCTP `IP_VS_SCTP_S_LAST`, AH and ESP 1);
/// `None` where `ip_vs_proto_get()` finds nothing. The default lookup for
/// [`Message::records`].
pub fn kernel_num_states(protocol: u8) -> Option<u16> {
    match protocol {
        6 => Some(11),
        17 => Some(1),
        132 => Some(14),
        50 | 51 => Some(1),
        _ => None,
    }
}

/// `start_sync_thread()`'s `c->sync_maxlen`: the largest message a daemon sends (master) or
/// receives (backup). `mcast_v6`: the multicast group is IPv6 (an IPv6 + UDP header, 48 bytes,
/// instead of 28). A master assumes an MTU of 1500 whatever the device says; a backup clamps the
/// device MTU to 1500..=65535. A configured value (`--sync-maxlen`, 0 = none) is clamped to
/// `min..=65535 - hlen` with `min` 1 for a master and 1024 for a backup.
pub fn sync_maxlen(mcast_v6: bool, backup: bool, dev_mtu: u32, configured: u16) -> u16 {
    let hlen: u32 = if mcast_v6 { 40 + 8 } else { 20 + 8 };
    let mtu: u32 = if backup {
        dev_mtu.clamp(1500, 65535)
    } else {
        1500
    };
    let min_mtu: u32 = if backup { 1024 } else { 1 };
    let v = if configured != 0 {
        u32::from(configured).clamp(min_mtu, 65535 - hlen)
    } else {
        mtu - hlen
    };
    v as u16
}

/// `struct ip_vs_seq`, in host order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Seq {
    pub init_seq: u32,
    pub delta: u32,
    pub previous_delta: u32,
}

/// `struct ip_vs_sync_conn_options`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SeqOpts {
    pub in_seq: Seq,
    pub out_seq: Seq,
}

/// The three addresses of a record, of one family (`type & STYPE_F_INET6`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Addrs {
    V4 {
        caddr: [u8; 4],
        vaddr: [u8; 4],
        daddr: [u8; 4],
    },
    V6 {
        caddr: [u8; 16],
        vaddr: [u8; 16],
        daddr: [u8; 16],
    },
}

/// One synced connection (`union ip_vs_sync_conn` plus its options, or a
/// `struct ip_vs_sync_conn_v0`), fields in host order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record<'a> {
    /// IPPROTO_*.
    pub protocol: u8,
    /// The flags as on the wire (after [`send_flags`]); what a backup keeps is
    /// [`backup_flags`]`(flags)`, see [`Record::backup_flags`].
    pub flags: u32,
    /// `cp->state`.
    pub state: u16,
    pub cport: u16,
    pub vport: u16,
    pub dport: u16,
    /// `cp->fwmark`; 0 in version 0.
    pub fwmark: u32,
    /// `cp->timeout / HZ` in seconds; 0 (version 0 always) makes a backup use the protocol's
    /// timeout for `state`, or 3 minutes for templates (`ip_vs_proc_conn`).
    pub timeout: u32,
    pub addrs: Addrs,
    /// Sequence adjustment. Sent iff `flags & CONN_F_SEQ_MASK` (`None` then sends zeros, as
    /// the kernel's zeroed `cp->in_seq`/`out_seq`); received whenever the option is present.
    pub seq: Option<SeqOpts>,
    /// `IPVS_OPT_PE_DATA` (the SIP Call-ID); empty = absent.
    pub pe_data: &'a [u8],
    /// `IPVS_OPT_PE_NAME`; empty = absent. Only sent along with `pe_data`; a received name
    /// without data is ignored by the kernel.
    pub pe_name: &'a [u8],
}

impl Record<'_> {
    /// Whether this is an IPv6 record.
    pub fn is_v6(&self) -> bool {
        matches!(self.addrs, Addrs::V6 { .. })
    }

    /// [`backup_flags`] of the record's flags.
    pub fn backup_flags(&self) -> u32 {
        backup_flags(self.flags)
    }
}

/// Why `ip_vs_process_message()` and its helpers reject a datagram or a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// Datagram shorter than `struct ip_vs_sync_mesg_v0` ("message header too short").
    HeaderTooShort,
    /// The header's size field differs from the datagram length ("bogus message size").
    BadSize { size: u16, len: usize },
    /// Version 1: no room for a `struct ip_vs_sync_v4` ("Dropping buffer, too small").
    Truncated,
    /// Version 1: the record's size runs past the datagram ("Dropping buffer, msg > buffer").
    RecordPastEnd,
    /// Version 1: `ver_size >> SVER_SHIFT` is not 0 ("Unknown version").
    UnknownVersion(u8),
    /// `ip_vs_proc_sync_conn()` -10: `type` neither 0 nor with `STYPE_F_INET6`.
    BadType(u8),
    /// -20: the record's size is below its fixed header (36 or 72 bytes).
    HeaderPastRecord,
    /// -30: one byte left where an option's type and length are expected.
    ParamTruncated,
    /// -40: an option of length 0 or running past the record.
    ParamLength,
    /// -50 (`ip_vs_proc_seqopt`): sequence option whose length is not 24.
    SeqOptLength(u8),
    /// -50: a second sequence option.
    SeqOptTwice,
    /// -60 (`ip_vs_proc_str`): a second PE data option.
    PeDataTwice,
    /// -70: PE name longer than `IP_VS_PENAME_MAXLEN`.
    PeNameLength(u8),
    /// -70: a second PE name option.
    PeNameTwice,
    /// Version 0: no room for a `struct ip_vs_sync_conn_v0` ("BACKUP v0, bogus conn").
    V0Truncated,
    /// Version 0: flags announce sequence options that are not there ("bogus conn options").
    V0OptionsTruncated,
    /// Record skipped (retc 20): an unknown option without `IPVS_OPT_F_PARAM`.
    UnknownMandatoryParam(u8),
    /// Record skipped (retc 25): [`validate_flags`] fails ("Invalid flags").
    InvalidFlags(u32),
    /// Record skipped (retc 30): `ip_vs_proto_get()` does not know the protocol (only checked
    /// for non-templates).
    UnsupportedProtocol(u8),
    /// Record skipped (retc 40): `state >= pp->num_states`, or `>= IP_VS_CTPL_S_LAST` for a
    /// template.
    InvalidState { protocol: u8, state: u16 },
    /// Record skipped (retc 50, `ip_vs_conn_fill_param_sync`): PE data without a PE name
    /// ("Invalid PE parameters").
    PeWithoutName,
}

impl Error {
    /// Whether the kernel stops processing the datagram here (records before this one have
    /// already been applied). Otherwise only this record is dropped and decoding goes on.
    pub fn is_fatal(&self) -> bool {
        !matches!(
            self,
            Error::UnknownMandatoryParam(_)
                | Error::InvalidFlags(_)
                | Error::UnsupportedProtocol(_)
                | Error::InvalidState { .. }
                | Error::PeWithoutName
        )
    }

    /// The `retc` `ip_vs_proc_sync_conn()` returns for this error (negative: the datagram is
    /// dropped), or `None` for checks made elsewhere.
    pub fn retc(&self) -> Option<i32> {
        Some(match self {
            Error::BadType(_) => -10,
            Error::HeaderPastRecord => -20,
            Error::ParamTruncated => -30,
            Error::ParamLength => -40,
            Error::SeqOptLength(_) | Error::SeqOptTwice => -50,
            Error::PeDataTwice => -60,
            Error::PeNameLength(_) | Error::PeNameTwice => -70,
            Error::UnknownMandatoryParam(_) => 20,
            Error::InvalidFlags(_) => 25,
            Error::UnsupportedProtocol(_) => 30,
            Error::InvalidState { .. } => 40,
            Error::PeWithoutName => 50,
            _ => return None,
        })
    }
}

fn be16(b: &[u8], off: usize) -> u16 {
    match b.get(off..off.saturating_add(2)) {
        Some(s) => u16::from_be_bytes([s[0], s[1]]),
        None => 0,
    }
}

fn be32(b: &[u8], off: usize) -> u32 {
    match b.get(off..off.saturating_add(4)) {
        Some(s) => u32::from_be_bytes([s[0], s[1], s[2], s[3]]),
        None => 0,
    }
}

fn ne32(b: &[u8], off: usize) -> u32 {
    match b.get(off..off.saturating_add(4)) {
        Some(s) => u32::from_ne_bytes([s[0], s[1], s[2], s[3]]),
        None => 0,
    }
}

fn arr<const N: usize>(b: &[u8], off: usize) -> [u8; N] {
    let mut a = [0u8; N];
    if let Some(s) = b.get(off..off.saturating_add(N)) {
        a.copy_from_slice(s);
    }
    a
}

/// `ntoh_seq()` (`be`) or a plain host-order copy (version 0).
fn get_seq(b: &[u8], off: usize, be: bool) -> Seq {
    let f = if be { be32 } else { ne32 };
    Seq {
        init_seq: f(b, off),
        delta: f(b, off + 4),
        previous_delta: f(b, off + 8),
    }
}

fn get_seq_opts(b: &[u8], off: usize, be: bool) -> SeqOpts {
    SeqOpts {
        in_seq: get_seq(b, off, be),
        out_seq: get_seq(b, off + SEQ_LEN, be),
    }
}

fn put_seq(out: &mut [u8], s: &Seq, be: bool) {
    let f = if be {
        u32::to_be_bytes
    } else {
        u32::to_ne_bytes
    };
    out[0..4].copy_from_slice(&f(s.init_seq));
    out[4..8].copy_from_slice(&f(s.delta));
    out[8..12].copy_from_slice(&f(s.previous_delta));
}

fn put_seq_opts(out: &mut [u8], o: &SeqOpts, be: bool) {
    put_seq(&mut out[..SEQ_LEN], &o.in_seq, be);
    put_seq(&mut out[SEQ_LEN..CONN_OPTIONS_LEN], &o.out_seq, be);
}

/// Message format, chosen as `ip_vs_process_message()` does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    /// `struct ip_vs_sync_mesg_v0` + `struct ip_vs_sync_conn_v0` records.
    V0,
    /// `struct ip_vs_sync_mesg` + `ip_vs_sync_v4`/`ip_vs_sync_v6` records.
    V1,
}

/// A datagram whose header `ip_vs_process_message()` accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Message<'a> {
    pub version: Version,
    pub syncid: u8,
    /// Records announced by the header; trailing bytes past them are ignored.
    pub nr_conns: u8,
    buf: &'a [u8],
}

/// `ip_vs_process_message()`'s header checks: at least 4 bytes, the be16 size equal to the
/// datagram length, then version 1 iff `version == SYNC_PROTO_VER && reserved == 0 &&
/// spare == 0`, anything else being read as version 0.
///
/// The SyncID filter is [`syncid_accepted`]. A datagram of 4 to 7 bytes is read as version 0:
/// the kernel reads `version`/`spare` past such a datagram, but processes no record either way.
pub fn decode(buf: &[u8]) -> Result<Message<'_>, Error> {
    if buf.len() < MESG_V0_LEN {
        return Err(Error::HeaderTooShort);
    }
    let size = be16(buf, 2);
    if usize::from(size) != buf.len() {
        return Err(Error::BadSize {
            size,
            len: buf.len(),
        });
    }
    let v1 = buf.len() >= MESG_LEN
        && buf[5] == SYNC_PROTO_VER
        && buf[0] == 0
        && buf[6] == 0
        && buf[7] == 0;
    Ok(if v1 {
        Message {
            version: Version::V1,
            syncid: buf[1],
            nr_conns: buf[4],
            buf,
        }
    } else {
        Message {
            version: Version::V0,
            syncid: buf[1],
            nr_conns: buf[0],
            buf,
        }
    })
}

impl<'a> Message<'a> {
    /// The records, in order, as `ip_vs_process_message()` / `ip_vs_process_message_v0()`
    /// walk them. `num_states` is `ip_vs_proto_get(protocol)->num_states` (`None`: protocol
    /// not registered), e.g. [`kernel_num_states`].
    ///
    /// Each item is a record the kernel would pass to `ip_vs_proc_conn()`, or why it would
    /// not. After a fatal error ([`Error::is_fatal`]) the iterator ends. One check is left to
    /// the caller: a record with PE data names its engine in `pe_name`, which the kernel looks
    /// up with `__ip_vs_pe_getbyname()` and skips the record if it is not loaded.
    pub fn records(&self, num_states: fn(u8) -> Option<u16>) -> Records<'a> {
        Records {
            buf: self.buf,
            version: self.version,
            remaining: self.nr_conns,
            pos: match self.version {
                Version::V0 => MESG_V0_LEN,
                Version::V1 => MESG_LEN,
            },
            num_states,
        }
    }
}

/// Iterator over a [`Message`]'s records; see [`Message::records`].
#[derive(Clone, Debug)]
pub struct Records<'a> {
    buf: &'a [u8],
    version: Version,
    remaining: u8,
    pos: usize,
    num_states: fn(u8) -> Option<u16>,
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<Record<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let r = match self.version {
            Version::V1 => self.next_v1(),
            Version::V0 => self.next_v0(),
        };
        if let Err(e) = &r {
            if e.is_fatal() {
                self.remaining = 0;
            }
        }
        Some(r)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(usize::from(self.remaining)))
    }
}

/// The protocol/state checks of `ip_vs_proc_sync_conn()` and `ip_vs_process_message_v0()`,
/// on the masked flags.
fn check_state(
    num_states: fn(u8) -> Option<u16>,
    flags: u32,
    protocol: u8,
    state: u16,
) -> Result<(), Error> {
    if flags & CONN_F_TEMPLATE == 0 {
        match num_states(protocol) {
            None => Err(Error::UnsupportedProtocol(protocol)),
            Some(n) if state >= n => Err(Error::InvalidState { protocol, state }),
            Some(_) => Ok(()),
        }
    } else if state >= CTPL_S_LAST {
        Err(Error::InvalidState { protocol, state })
    } else {
        Ok(())
    }
}

impl<'a> Records<'a> {
    /// One iteration of `ip_vs_process_message()`'s version 1 loop.
    fn next_v1(&mut self) -> Result<Record<'a>, Error> {
        let buf = self.buf;
        let p = self.pos;
        if p + SYNC_V4_LEN > buf.len() {
            return Err(Error::Truncated);
        }
        let ver_size = be16(buf, p + 2);
        let size = usize::from(ver_size & SVER_MASK);
        let end = p + size;
        if end > buf.len() {
            return Err(Error::RecordPastEnd);
        }
        if ver_size >> SVER_SHIFT != 0 {
            return Err(Error::UnknownVersion((ver_size >> SVER_SHIFT) as u8));
        }
        // "Make sure we have 32 bit alignment".
        self.pos = p + ((size + 3) & !3);
        proc_sync_conn(buf, p, end, self.num_states)
    }

    /// One iteration of `ip_vs_process_message_v0()`.
    fn next_v0(&mut self) -> Result<Record<'a>, Error> {
        let buf = self.buf;
        let p = self.pos;
        if p + CONN_V0_LEN > buf.len() {
            return Err(Error::V0Truncated);
        }
        let flags = u32::from(be16(buf, p + 20));
        let seq = if flags & CONN_F_SEQ_MASK != 0 {
            self.pos = p + FULL_CONN_V0_LEN;
            if self.pos > buf.len() {
                return Err(Error::V0OptionsTruncated);
            }
            // `opt` is used as is: the sender's host byte order.
            Some(get_seq_opts(buf, p + CONN_V0_LEN, false))
        } else {
            self.pos = p + CONN_V0_LEN;
            None
        };
        if !validate_flags(flags) {
            return Err(Error::InvalidFlags(flags));
        }
        let protocol = buf[p + 1];
        let state = be16(buf, p + 22);
        check_state(self.num_states, backup_flags(flags), protocol, state)?;
        Ok(Record {
            protocol,
            flags,
            state,
            cport: be16(buf, p + 2),
            vport: be16(buf, p + 4),
            dport: be16(buf, p + 6),
            fwmark: 0,
            timeout: 0,
            addrs: Addrs::V4 {
                caddr: arr(buf, p + 8),
                vaddr: arr(buf, p + 12),
                daddr: arr(buf, p + 16),
            },
            seq,
            pe_data: &[],
            pe_name: &[],
        })
    }
}

/// `ip_vs_proc_sync_conn()`: the record at `buf[p..end]` (`p + 36 <= buf.len()`,
/// `end <= buf.len()`).
fn proc_sync_conn(
    buf: &[u8],
    p: usize,
    end: usize,
    num_states: fn(u8) -> Option<u16>,
) -> Result<Record<'_>, Error> {
    let ty = buf[p];
    let v6 = if ty & STYPE_F_INET6 != 0 {
        true
    } else if ty == 0 {
        false
    } else {
        return Err(Error::BadType(ty));
    };
    let hdr = if v6 { SYNC_V6_LEN } else { SYNC_V4_LEN };
    let mut q = p + hdr;
    if q > end {
        return Err(Error::HeaderPastRecord);
    }

    // Optional params: check type & length.
    let mut opt_flags = 0u32;
    let mut seq = None;
    let mut pe_data: &[u8] = &[];
    let mut pe_name: &[u8] = &[];
    while q < end {
        if q + 2 > end {
            return Err(Error::ParamTruncated);
        }
        let ptype = buf[q];
        let plen = buf[q + 1];
        q += 2;
        let data_end = q + usize::from(plen);
        if plen == 0 || data_end > end {
            return Err(Error::ParamLength);
        }
        let data = &buf[q..data_end];
        match ptype & !OPT_F_PARAM {
            OPT_SEQ_DATA => {
                // ip_vs_proc_seqopt()
                if usize::from(plen) != CONN_OPTIONS_LEN {
                    return Err(Error::SeqOptLength(plen));
                }
                if opt_flags & OPT_F_SEQ_DATA != 0 {
                    return Err(Error::SeqOptTwice);
                }
                seq = Some(get_seq_opts(data, 0, true));
                opt_flags |= OPT_F_SEQ_DATA;
            }
            OPT_PE_DATA => {
                // ip_vs_proc_str(.., IP_VS_PEDATA_MAXLEN, ..): plen <= 255 always holds.
                if opt_flags & OPT_F_PE_DATA != 0 {
                    return Err(Error::PeDataTwice);
                }
                pe_data = data;
                opt_flags |= OPT_F_PE_DATA;
            }
            OPT_PE_NAME => {
                if usize::from(plen) > PENAME_MAXLEN {
                    return Err(Error::PeNameLength(plen));
                }
                if opt_flags & OPT_F_PE_NAME != 0 {
                    return Err(Error::PeNameTwice);
                }
                pe_name = data;
                opt_flags |= OPT_F_PE_NAME;
            }
            _ => {
                if ptype & OPT_F_PARAM == 0 {
                    return Err(Error::UnknownMandatoryParam(ptype));
                }
            }
        }
        q = data_end;
    }

    let flags = be32(buf, p + 4);
    if !validate_flags(flags) {
        return Err(Error::InvalidFlags(flags));
    }
    let protocol = buf[p + 1];
    let state = be16(buf, p + 8);
    check_state(num_states, backup_flags(flags), protocol, state)?;
    // ip_vs_conn_fill_param_sync(): PE data needs a PE name.
    if !pe_data.is_empty() && pe_name.is_empty() {
        return Err(Error::PeWithoutName);
    }
    let addrs = if v6 {
        Addrs::V6 {
            caddr: arr(buf, p + 24),
            vaddr: arr(buf, p + 40),
            daddr: arr(buf, p + 56),
        }
    } else {
        Addrs::V4 {
            caddr: arr(buf, p + 24),
            vaddr: arr(buf, p + 28),
            daddr: arr(buf, p + 32),
        }
    };
    Ok(Record {
        protocol,
        flags,
        state,
        cport: be16(buf, p + 10),
        vport: be16(buf, p + 12),
        dport: be16(buf, p + 14),
        fwmark: be32(buf, p + 16),
        timeout: be32(buf, p + 20),
        addrs,
        seq,
        pe_data,
        pe_name,
    })
}

/// Why a record cannot be added to a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PushError {
    /// The message holds records and this one does not fit in what is left: send
    /// [`Builder::message`], [`Builder::clear`] and push again (`sb_queue_tail` + a new
    /// `ip_vs_sync_buff_create`). Also at 255 records, where the kernel's `nr_conns` would wrap.
    Full,
    /// The message is empty and the caller's buffer cannot hold this record.
    BufferTooSmall,
    /// `IP_VS_CONN_F_ONE_PACKET`: the kernel never syncs such connections ([`syncable`]).
    OnePacket,
    /// PE data longer than `IP_VS_PEDATA_MAXLEN` (the option length is one byte).
    PeDataTooLong,
    /// PE name longer than `IP_VS_PENAME_MAXLEN`.
    PeNameTooLong,
    /// A PE name without PE data: `ip_vs_sync_conn()` only sends the name with the data.
    PeNameWithoutData,
    /// Version 0 carries IPv4 only (`ip_vs_sync_conn_v0` skips other families).
    V6InV0,
}

/// The size of the version 1 record `ip_vs_sync_conn()` writes for `rec` (its `len`): fixed
/// header, `2 + 24` for sequence options when `flags & IP_VS_CONN_F_SEQ_MASK`, `2 + len` for
/// PE data and PE name. Padding is not included.
pub fn record_len(rec: &Record<'_>) -> Result<usize, PushError> {
    if !syncable(rec.flags) {
        return Err(PushError::OnePacket);
    }
    if rec.pe_data.len() > PEDATA_MAXLEN {
        return Err(PushError::PeDataTooLong);
    }
    if rec.pe_name.len() > PENAME_MAXLEN {
        return Err(PushError::PeNameTooLong);
    }
    if rec.pe_data.is_empty() && !rec.pe_name.is_empty() {
        return Err(PushError::PeNameWithoutData);
    }
    let mut len = if rec.is_v6() {
        SYNC_V6_LEN
    } else {
        SYNC_V4_LEN
    };
    if rec.flags & CONN_F_SEQ_MASK != 0 {
        len += CONN_OPTIONS_LEN + 2;
    }
    if !rec.pe_data.is_empty() {
        len += rec.pe_data.len() + 2;
    }
    if !rec.pe_name.is_empty() {
        len += rec.pe_name.len() + 2;
    }
    Ok(len)
}

/// Writes the record into `out[..len]` (`len` from [`record_len`], `out.len() >= len`).
fn encode_record(rec: &Record<'_>, len: usize, out: &mut [u8]) {
    let out = &mut out[..len];
    out[0] = if rec.is_v6() { STYPE_F_INET6 } else { 0 };
    out[1] = rec.protocol;
    // Version 0 in the top 4 bits.
    out[2..4].copy_from_slice(&((len as u16) & SVER_MASK).to_be_bytes());
    out[4..8].copy_from_slice(&send_flags(rec.flags).to_be_bytes());
    out[8..10].copy_from_slice(&rec.state.to_be_bytes());
    out[10..12].copy_from_slice(&rec.cport.to_be_bytes());
    out[12..14].copy_from_slice(&rec.vport.to_be_bytes());
    out[14..16].copy_from_slice(&rec.dport.to_be_bytes());
    out[16..20].copy_from_slice(&rec.fwmark.to_be_bytes());
    out[20..24].copy_from_slice(&rec.timeout.to_be_bytes());
    let mut p = match &rec.addrs {
        Addrs::V4 {
            caddr,
            vaddr,
            daddr,
        } => {
            out[24..28].copy_from_slice(caddr);
            out[28..32].copy_from_slice(vaddr);
            out[32..36].copy_from_slice(daddr);
            SYNC_V4_LEN
        }
        Addrs::V6 {
            caddr,
            vaddr,
            daddr,
        } => {
            out[24..40].copy_from_slice(caddr);
            out[40..56].copy_from_slice(vaddr);
            out[56..72].copy_from_slice(daddr);
            SYNC_V6_LEN
        }
    };
    if rec.flags & CONN_F_SEQ_MASK != 0 {
        out[p] = OPT_SEQ_DATA;
        out[p + 1] = CONN_OPTIONS_LEN as u8;
        p += 2;
        put_seq_opts(
            &mut out[p..p + CONN_OPTIONS_LEN],
            &rec.seq.unwrap_or_default(),
            true,
        );
        p += CONN_OPTIONS_LEN;
    }
    if !rec.pe_data.is_empty() {
        out[p] = OPT_PE_DATA;
        out[p + 1] = rec.pe_data.len() as u8;
        p += 2;
        out[p..p + rec.pe_data.len()].copy_from_slice(rec.pe_data);
        p += rec.pe_data.len();
        if !rec.pe_name.is_empty() {
            out[p] = OPT_PE_NAME;
            out[p + 1] = rec.pe_name.len() as u8;
            p += 2;
            out[p..p + rec.pe_name.len()].copy_from_slice(rec.pe_name);
        }
    }
}

/// The buffer [`Builder`] needs to follow the kernel's sizing exactly for a given
/// `sync_maxlen`: `ip_vs_sync_buff_create()` allocates `max(len + 8, sync_maxlen)`, so the
/// first record always fits even when `sync_maxlen` is below it.
pub const fn buffer_len(max_len: u16) -> usize {
    let m = max_len as usize;
    if m > MESG_LEN + MAX_RECORD_LEN {
        m
    } else {
        MESG_LEN + MAX_RECORD_LEN
    }
}

/// The message buffer both builders fill: the capacity rule of `ip_vs_sync_buff_create`
/// (the first record sets it to `max(header + len, max_len)`, limited by the caller's buffer)
/// and the record count.
#[derive(Debug)]
struct MsgBuf<'b> {
    buf: &'b mut [u8],
    syncid: u8,
    max_len: usize,
    /// The header's length: where the first record goes.
    hdr: usize,
    end: usize,
    head: usize,
    nr_conns: u8,
}

impl<'b> MsgBuf<'b> {
    fn new(syncid: u8, max_len: u16, hdr: usize, buf: &'b mut [u8]) -> Self {
        MsgBuf {
            buf,
            syncid,
            max_len: usize::from(max_len),
            hdr,
            end: 0,
            head: hdr,
            nr_conns: 0,
        }
    }

    /// Appends a record of `len` bytes written by `write` (into the buffer from the record's
    /// start on), after zero padding to a 4-byte boundary when `align` (version 1); on error
    /// the message is unchanged.
    fn push(
        &mut self,
        len: usize,
        align: bool,
        write: impl FnOnce(&mut [u8]),
    ) -> Result<(), PushError> {
        let pad;
        if self.nr_conns == 0 {
            pad = 0;
            let end = (self.hdr + len).max(self.max_len).min(self.buf.len());
            if self.hdr + len > end {
                return Err(PushError::BufferTooSmall);
            }
            self.end = end;
        } else {
            // `pad = (4 - (size_t) buff->head) & 3`, the buffer itself being aligned.
            pad = if align {
                self.head.wrapping_neg() & 3
            } else {
                0
            };
            if self.head + pad + len > self.end || self.nr_conns == u8::MAX {
                return Err(PushError::Full);
            }
        }
        let p = self.head;
        self.buf[p..p + pad].fill(0);
        write(&mut self.buf[p + pad..]);
        self.head = p + pad + len;
        self.nr_conns += 1;
        Ok(())
    }

    fn clear(&mut self) {
        self.head = self.hdr;
        self.end = 0;
        self.nr_conns = 0;
    }
}

/// A version 1 message under construction, laid out as `ip_vs_sync_conn()` fills an
/// `ip_vs_sync_buff`.
///
/// The first record sets the message's capacity to `max(8 + len, max_len)`
/// (`ip_vs_sync_buff_create`); each further record goes in after zero padding that 4-aligns
/// it, if `head + pad + len` stays within that capacity. Nothing follows the last record, and
/// the header's size counts no trailing padding. The capacity is further limited by the
/// caller's buffer; [`buffer_len`] gives the size that never limits it.
#[derive(Debug)]
pub struct Builder<'b> {
    m: MsgBuf<'b>,
}

impl<'b> Builder<'b> {
    /// An empty message for `syncid` (`ipvs->mcfg.syncid`), at most `max_len` bytes
    /// (`ipvs->mcfg.sync_maxlen`, see [`sync_maxlen`]), written into `buf`.
    pub fn new(syncid: u8, max_len: u16, buf: &'b mut [u8]) -> Self {
        Builder {
            m: MsgBuf::new(syncid, max_len, MESG_LEN, buf),
        }
    }

    /// Appends `rec`; on error the message is unchanged.
    pub fn push(&mut self, rec: &Record<'_>) -> Result<(), PushError> {
        let len = record_len(rec)?;
        self.m.push(len, true, |out| encode_record(rec, len, out))
    }

    /// Records in the message.
    pub fn nr_conns(&self) -> u8 {
        self.m.nr_conns
    }

    /// Size of the message so far (`ntohs(m->size)`), header included.
    pub fn len(&self) -> usize {
        self.m.head
    }

    /// No record yet: the kernel would not have created a buffer, nor send one.
    pub fn is_empty(&self) -> bool {
        self.m.nr_conns == 0
    }

    /// The message to send (`ip_vs_send_sync_msg`), its header filled in; `None` while empty.
    pub fn message(&mut self) -> Option<&[u8]> {
        let m = &mut self.m;
        if m.nr_conns == 0 {
            return None;
        }
        let size = m.head as u16;
        let h = &mut m.buf[..MESG_LEN];
        h[0] = 0; // reserved: old nr_conns, must be zero now
        h[1] = m.syncid;
        h[2..4].copy_from_slice(&size.to_be_bytes());
        h[4] = m.nr_conns;
        h[5] = SYNC_PROTO_VER;
        h[6] = 0;
        h[7] = 0;
        Some(&m.buf[..m.head])
    }

    /// Starts a new, empty message in the same buffer.
    pub fn clear(&mut self) {
        self.m.clear();
    }
}

/// What both message builders offer: the master fills either, as `sync_version` says.
pub trait MessageBuilder {
    /// Appends `rec`; on error the message is unchanged.
    fn push(&mut self, rec: &Record<'_>) -> Result<(), PushError>;
    /// Records in the message.
    fn nr_conns(&self) -> u8;
    /// The message to send, its header filled in; `None` while empty.
    fn message(&mut self) -> Option<&[u8]>;
    /// Starts a new, empty message in the same buffer.
    fn clear(&mut self);
}

impl MessageBuilder for Builder<'_> {
    fn push(&mut self, rec: &Record<'_>) -> Result<(), PushError> {
        Builder::push(self, rec)
    }
    fn nr_conns(&self) -> u8 {
        Builder::nr_conns(self)
    }
    fn message(&mut self) -> Option<&[u8]> {
        Builder::message(self)
    }
    fn clear(&mut self) {
        Builder::clear(self)
    }
}

/// A version 0 message under construction, as `ip_vs_sync_conn_v0()` fills it
/// (`net.ipv4.vs.sync_version = 0`): IPv4 only; no fwmark, timeout or PE data (dropped);
/// 16-bit flags ([`send_flags_v0`]); the sequence options appended when
/// `flags & IP_VS_CONN_F_SEQ_MASK`, copied in host byte order (`memcpy` of
/// `cp->sync_conn_opt`), which is how a receiver of the same byte order reads them back. The
/// first record sets the capacity to `max(4 + len, max_len)`; records are not padded.
#[derive(Debug)]
pub struct BuilderV0<'b> {
    m: MsgBuf<'b>,
}

impl<'b> BuilderV0<'b> {
    /// An empty version 0 message for `syncid`, at most `max_len` bytes, written into `buf`.
    pub fn new(syncid: u8, max_len: u16, buf: &'b mut [u8]) -> Self {
        BuilderV0 {
            m: MsgBuf::new(syncid, max_len, MESG_V0_LEN, buf),
        }
    }

    /// Appends `rec`; on error the message is unchanged.
    pub fn push(&mut self, rec: &Record<'_>) -> Result<(), PushError> {
        let Addrs::V4 {
            caddr,
            vaddr,
            daddr,
        } = rec.addrs
        else {
            return Err(PushError::V6InV0);
        };
        if !syncable(rec.flags) {
            return Err(PushError::OnePacket);
        }
        let flags = send_flags_v0(rec.flags);
        let seq = u32::from(flags) & CONN_F_SEQ_MASK != 0;
        let len = if seq { FULL_CONN_V0_LEN } else { CONN_V0_LEN };
        self.m.push(len, false, |s| {
            s[0] = 0;
            s[1] = rec.protocol;
            s[2..4].copy_from_slice(&rec.cport.to_be_bytes());
            s[4..6].copy_from_slice(&rec.vport.to_be_bytes());
            s[6..8].copy_from_slice(&rec.dport.to_be_bytes());
            s[8..12].copy_from_slice(&caddr);
            s[12..16].copy_from_slice(&vaddr);
            s[16..20].copy_from_slice(&daddr);
            s[20..22].copy_from_slice(&flags.to_be_bytes());
            s[22..24].copy_from_slice(&rec.state.to_be_bytes());
            if seq {
                put_seq_opts(
                    &mut s[CONN_V0_LEN..FULL_CONN_V0_LEN],
                    &rec.seq.unwrap_or_default(),
                    false,
                );
            }
        })
    }

    /// Records in the message.
    pub fn nr_conns(&self) -> u8 {
        self.m.nr_conns
    }

    /// Size of the message so far, header included.
    pub fn len(&self) -> usize {
        self.m.head
    }

    /// No record yet.
    pub fn is_empty(&self) -> bool {
        self.m.nr_conns == 0
    }

    /// The message to send, its header filled in; `None` while empty.
    pub fn message(&mut self) -> Option<&[u8]> {
        let m = &mut self.m;
        if m.nr_conns == 0 {
            return None;
        }
        let size = m.head as u16;
        m.buf[0] = m.nr_conns;
        m.buf[1] = m.syncid;
        m.buf[2..4].copy_from_slice(&size.to_be_bytes());
        Some(&m.buf[..m.head])
    }

    /// Starts a new, empty message in the same buffer.
    pub fn clear(&mut self) {
        self.m.clear();
    }
}

impl MessageBuilder for BuilderV0<'_> {
    fn push(&mut self, rec: &Record<'_>) -> Result<(), PushError> {
        BuilderV0::push(self, rec)
    }
    fn nr_conns(&self) -> u8 {
        BuilderV0::nr_conns(self)
    }
    fn message(&mut self) -> Option<&[u8]> {
        BuilderV0::message(self)
    }
    fn clear(&mut self) {
        BuilderV0::clear(self)
    }
}

/// The sync sysctls the master's decision reads (`net.ipv4.vs.sync_*`).
#[derive(Clone, Copy, Debug)]
pub struct SyncSysctls {
    /// `sync_threshold[0]`: the packet count at which a connection is first synced.
    pub threshold: u32,
    /// `sync_threshold[1]` (`sync_period`): then every this many packets; 0: only once.
    pub period: u32,
    /// `sync_refresh_period`, in seconds; 0: off (the packet counts decide).
    pub refresh_secs: u32,
    /// `sync_retries` (0..3): resends within a refresh period.
    pub retries: u32,
    /// `sync_persist_mode`: connections controlled by a persistence template are not synced
    /// (their template is).
    pub persist_mode: bool,
}

impl Default for SyncSysctls {
    /// ip_vs's defaults: threshold 3, period 50, no refresh period, no retries.
    fn default() -> Self {
        SyncSysctls {
            threshold: 3,
            period: 50,
            refresh_secs: 0,
            retries: 0,
            persist_mode: false,
        }
    }
}

/// What a connection remembers between syncs (`cp->old_state` and `cp->sync_endtime`),
/// packed into 24 bits: the state last synced (8 bits), and the connection's end time at
/// that sync in seconds modulo 2^14 with the retries made in its low 2 bits (ip_vs keeps
/// the end time in jiffies with the retries in the same 2 low bits).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SyncMark(pub u32);

const MARK_TIME_BITS: u32 = 14;
const MARK_TIME_MASK: u32 = (1 << MARK_TIME_BITS) - 1;

impl SyncMark {
    /// The state of the last sync.
    pub fn old_state(self) -> u8 {
        (self.0 >> 16) as u8
    }
    fn endtime(self) -> u32 {
        (self.0 >> 2) & MARK_TIME_MASK
    }
    fn retries(self) -> u32 {
        self.0 & 3
    }
    fn new(old_state: u8, endtime: u32, retries: u32) -> Self {
        SyncMark((u32::from(old_state) << 16) | ((endtime & MARK_TIME_MASK) << 2) | (retries & 3))
    }
}

/// `IP_VS_TCP_S_*` states in which `ip_vs_sync_conn_needed` syncs: ESTABLISHED, FIN_WAIT,
/// TIME_WAIT, CLOSE, CLOSE_WAIT.
const TCP_SYNC_STATES: u32 = (1 << 1) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7);
const TCP_S_ESTABLISHED: u8 = 1;
/// `IP_VS_SCTP_S_*`: ESTABLISHED, SHUTDOWN_SENT, SHUTDOWN_RECEIVED, SHUTDOWN_ACK_SENT, CLOSED.
const SCTP_SYNC_STATES: u32 = (1 << 7) | (1 << 8) | (1 << 9) | (1 << 10) | (1 << 12);
const SCTP_S_ESTABLISHED: u8 = 7;

/// The decision of [`sync_needed`] for one packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyncDecision {
    /// The mark to store; the connection is synced if storing it wins over a concurrent
    /// update (compare-and-swap from the mark read), or regardless when `force`.
    pub mark: SyncMark,
    /// A state change that must go out even if another CPU updated the mark meanwhile.
    pub force: bool,
}

/// `ip_vs_sync_conn_needed()`: whether the master syncs connection `cp` on a packet from the
/// client, its `pkts`th (`in_pkts`; for a template, its own count). `now` and `timeout` are
/// in seconds; `mark` is what the connection remembers ([`SyncMark`]); `controlled`: the
/// connection is controlled by a persistence template (`in_persistence`). `None`: not now.
#[allow(clippy::too_many_arguments)]
pub fn sync_needed(
    s: &SyncSysctls,
    protocol: u8,
    template: bool,
    controlled: bool,
    state: u8,
    mark: SyncMark,
    pkts: u32,
    now: u32,
    timeout: u32,
) -> Option<SyncDecision> {
    let n = now.wrapping_add(timeout) & MARK_TIME_MASK;
    let mut force = false;
    let set = |force| {
        Some(SyncDecision {
            mark: SyncMark::new(state, n, 0),
            force,
        })
    };
    if template {
        // force stays false
    } else if s.persist_mode && controlled {
        return None;
    } else if protocol == 6 || protocol == 132 {
        let (states, est) = if protocol == 6 {
            (TCP_SYNC_STATES, TCP_S_ESTABLISHED)
        } else {
            (SCTP_SYNC_STATES, SCTP_S_ESTABLISHED)
        };
        if state >= 32 || states & (1 << state) == 0 {
            return None;
        }
        force = state != mark.old_state();
        if force && state != est {
            return set(true);
        }
    }
    let mut retries_next = 0;
    if s.refresh_secs > 0 {
        // Signed distance between the new and the synced end time, modulo 2^14 s.
        let orig = mark.endtime();
        let diff = {
            let d = n.wrapping_sub(orig) & MARK_TIME_MASK;
            if d >= 1 << (MARK_TIME_BITS - 1) {
                (1 << MARK_TIME_BITS) - d
            } else {
                d
            }
        };
        let min_diff = (timeout / 2).max(10);
        if diff < s.refresh_secs.min(min_diff) {
            let retries = mark.retries();
            if retries >= s.retries {
                return None;
            }
            // time_before(now, orig - timeout + (sync_refresh_period >> 3))
            let since = now.wrapping_add(timeout).wrapping_sub(orig) & MARK_TIME_MASK;
            if since < s.refresh_secs / 8 {
                return None;
            }
            retries_next = retries + 1;
        }
    }
    if s.period > 0 {
        if !template && pkts % s.period != s.threshold {
            return None;
        }
    } else if s.refresh_secs == 0 && pkts != s.threshold {
        return None;
    }
    Some(SyncDecision {
        mark: SyncMark::new(state, n, retries_next),
        force,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    const TCP: u8 = 6;
    const UDP: u8 = 17;

    fn v4rec() -> Record<'static> {
        Record {
            protocol: TCP,
            flags: CONN_F_DROUTE | CONN_F_HASHED,
            state: 1,
            cport: 40000,
            vport: 80,
            dport: 8080,
            fwmark: 0,
            timeout: 900,
            addrs: Addrs::V4 {
                caddr: [192, 168, 1, 10],
                vaddr: [10, 0, 0, 1],
                daddr: [10, 0, 0, 2],
            },
            seq: None,
            pe_data: &[],
            pe_name: &[],
        }
    }

    /// `struct ip_vs_sync_v4` of [`v4rec`], by hand.
    #[rustfmt::skip]
    const V4REC: [u8; 36] = [
        0x00, 0x06, 0x00, 0x24,     // type 0, IPPROTO_TCP, ver_size = 0 << 12 | 36
        0x00, 0x00, 0x00, 0x03,     // flags: DROUTE (HASHED stripped)
        0x00, 0x01, 0x9c, 0x40,     // state ESTABLISHED, cport 40000
        0x00, 0x50, 0x1f, 0x90,     // vport 80, dport 8080
        0x00, 0x00, 0x00, 0x00,     // fwmark
        0x00, 0x00, 0x03, 0x84,     // timeout 900 s
        192, 168, 1, 10,            // caddr
        10, 0, 0, 1,                // vaddr
        10, 0, 0, 2,                // daddr
    ];

    fn golden_v4() -> Vec<u8> {
        // struct ip_vs_sync_mesg: reserved, syncid 7, size 44, nr_conns 1, version 1, spare.
        let mut m = std::vec![0x00, 0x07, 0x00, 44, 0x01, 0x01, 0x00, 0x00];
        m.extend_from_slice(&V4REC);
        m
    }

    const V6_C: [u8; 16] = [
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,
    ];
    const V6_V: [u8; 16] = [
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00,
    ];
    const V6_D: [u8; 16] = [
        0x20, 0x01, 0x0d, 0xb8, 0, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02,
    ];

    fn v6seqrec() -> Record<'static> {
        Record {
            protocol: TCP,
            flags: CONN_F_MASQ | CONN_F_IN_SEQ | CONN_F_OUT_SEQ,
            state: 1,
            cport: 54321,
            vport: 443,
            dport: 443,
            fwmark: 7,
            timeout: 300,
            addrs: Addrs::V6 {
                caddr: V6_C,
                vaddr: V6_V,
                daddr: V6_D,
            },
            seq: Some(SeqOpts {
                in_seq: Seq {
                    init_seq: 0x1122_3344,
                    delta: 5,
                    previous_delta: 2,
                },
                out_seq: Seq {
                    init_seq: 0xa0b0_c0d0,
                    delta: (-5i32) as u32,
                    previous_delta: 0,
                },
            }),
            pe_data: &[],
            pe_name: &[],
        }
    }

    /// A v6 record with IPVS_OPT_SEQ_DATA (98 bytes), 2 bytes of padding, then [`V4REC`].
    fn golden_v6_seq() -> Vec<u8> {
        let mut m = std::vec![0x00, 0x09, 0x00, 144, 0x02, 0x01, 0x00, 0x00];
        #[rustfmt::skip]
        m.extend_from_slice(&[
            0x01, 0x06, 0x00, 0x62,     // type STYPE_F_INET6, TCP, size 72 + 2 + 24 = 98
            0x00, 0x00, 0x06, 0x00,     // flags IN_SEQ | OUT_SEQ
            0x00, 0x01, 0xd4, 0x31,     // state 1, cport 54321
            0x01, 0xbb, 0x01, 0xbb,     // vport 443, dport 443
            0x00, 0x00, 0x00, 0x07,     // fwmark 7
            0x00, 0x00, 0x01, 0x2c,     // timeout 300
        ]);
        m.extend_from_slice(&V6_C);
        m.extend_from_slice(&V6_V);
        m.extend_from_slice(&V6_D);
        #[rustfmt::skip]
        m.extend_from_slice(&[
            0x01, 0x18,                 // IPVS_OPT_SEQ_DATA, sizeof(ip_vs_sync_conn_options)
            0x11, 0x22, 0x33, 0x44, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x02, // in_seq
            0xa0, 0xb0, 0xc0, 0xd0, 0xff, 0xff, 0xff, 0xfb, 0x00, 0x00, 0x00, 0x00, // out_seq
            0x00, 0x00,                 // pad: (4 - head) & 3 with head = 8 + 98
        ]);
        m.extend_from_slice(&V4REC);
        assert_eq!(m.len(), 144);
        m
    }

    const CALL_ID: &[u8] = b"a84b4c76e66710@pc33.example.com";

    fn sip_rec() -> Record<'static> {
        Record {
            protocol: UDP,
            flags: CONN_F_TEMPLATE | CONN_F_MASQ,
            state: 0,
            cport: 0,
            vport: 5060,
            dport: 5060,
            fwmark: 0,
            timeout: 360,
            addrs: Addrs::V4 {
                caddr: [10, 1, 1, 1],
                vaddr: [10, 0, 0, 5],
                daddr: [10, 0, 0, 6],
            },
            seq: None,
            pe_data: CALL_ID,
            pe_name: b"sip",
        }
    }

    /// A SIP persistence template: IPVS_OPT_PE_DATA (Call-ID) + IPVS_OPT_PE_NAME.
    fn golden_sip() -> Vec<u8> {
        let mut m = std::vec![0x00, 0x01, 0x00, 82, 0x01, 0x01, 0x00, 0x00];
        #[rustfmt::skip]
        m.extend_from_slice(&[
            0x00, 0x11, 0x00, 0x4a,     // type 0, UDP, size 36 + 2 + 31 + 2 + 3 = 74
            0x00, 0x00, 0x10, 0x00,     // flags TEMPLATE
            0x00, 0x00, 0x00, 0x00,     // state 0, cport 0
            0x13, 0xc4, 0x13, 0xc4,     // vport 5060, dport 5060
            0x00, 0x00, 0x00, 0x00,     // fwmark
            0x00, 0x00, 0x01, 0x68,     // timeout 360
            10, 1, 1, 1, 10, 0, 0, 5, 10, 0, 0, 6,
            0x02, 31,                   // IPVS_OPT_PE_DATA
        ]);
        m.extend_from_slice(CALL_ID);
        m.extend_from_slice(&[0x03, 0x03, b's', b'i', b'p']); // IPVS_OPT_PE_NAME
        assert_eq!(m.len(), 82);
        m
    }

    fn v0recs() -> [Record<'static>; 2] {
        [
            Record {
                protocol: TCP,
                flags: CONN_F_INACTIVE | CONN_F_TUNNEL,
                state: 2,
                cport: 5000,
                vport: 80,
                dport: 80,
                fwmark: 0,
                timeout: 0,
                addrs: Addrs::V4 {
                    caddr: [172, 16, 0, 9],
                    vaddr: [10, 0, 0, 1],
                    daddr: [10, 0, 0, 3],
                },
                seq: None,
                pe_data: &[],
                pe_name: &[],
            },
            Record {
                protocol: TCP,
                flags: CONN_F_IN_SEQ,
                state: 1,
                cport: 5001,
                vport: 21,
                dport: 21,
                fwmark: 0,
                timeout: 0,
                addrs: Addrs::V4 {
                    caddr: [172, 16, 0, 9],
                    vaddr: [10, 0, 0, 1],
                    daddr: [10, 0, 0, 3],
                },
                seq: Some(SeqOpts {
                    in_seq: Seq {
                        init_seq: 1000,
                        delta: 16,
                        previous_delta: 8,
                    },
                    out_seq: Seq::default(),
                }),
                pe_data: &[],
                pe_name: &[],
            },
        ]
    }

    /// `ip_vs_sync_mesg_v0` + a simple `ip_vs_sync_conn_v0` + a full one (options in host order).
    fn golden_v0() -> Vec<u8> {
        #[rustfmt::skip]
        let mut m = std::vec![
            0x02, 0x03, 0x00, 76,       // nr_conns 2, syncid 3, size 4 + 24 + 48
            0x00, 0x06, 0x13, 0x88,     // reserved, TCP, cport 5000
            0x00, 0x50, 0x00, 0x50,     // vport 80, dport 80
            172, 16, 0, 9, 10, 0, 0, 1, 10, 0, 0, 3,
            0x01, 0x02, 0x00, 0x02,     // flags INACTIVE | TUNNEL, state 2
            0x00, 0x06, 0x13, 0x89,
            0x00, 0x15, 0x00, 0x15,
            172, 16, 0, 9, 10, 0, 0, 1, 10, 0, 0, 3,
            0x04, 0x00, 0x00, 0x01,     // flags IN_SEQ, state 1
        ];
        for v in [1000u32, 16, 8, 0, 0, 0] {
            m.extend_from_slice(&v.to_ne_bytes());
        }
        assert_eq!(m.len(), 76);
        m
    }

    fn all(buf: &[u8]) -> Vec<Result<Record<'_>, Error>> {
        decode(buf).unwrap().records(kernel_num_states).collect()
    }

    fn build(max_len: u16, syncid: u8, recs: &[Record<'_>]) -> Vec<u8> {
        let mut buf = std::vec![0u8; buffer_len(max_len)];
        let mut b = Builder::new(syncid, max_len, &mut buf);
        for r in recs {
            b.push(r).unwrap();
        }
        b.message().unwrap().to_vec()
    }

    #[test]
    fn layout_constants() {
        assert_eq!(CONN_F_BACKUP_MASK, 0x1f87);
        assert_eq!(CONN_F_BACKUP_UPD_MASK, 0x0700);
        assert_eq!(OPT_F_PARAM, 0x40);
        assert_eq!(MAX_RECORD_LEN, 373);
        assert_eq!(FULL_CONN_V0_LEN, 48);
        assert_eq!(
            kernel_num_states(TCP),
            Some(crate::proto::tcp::STATES.len() as u16)
        );
        assert_eq!(
            kernel_num_states(132),
            Some(crate::proto::sctp::STATES.len() as u16)
        );
        assert_eq!(
            kernel_num_states(UDP),
            Some(crate::proto::udp::NORMAL as u16 + 1)
        );
        assert_eq!(kernel_num_states(1), None);
    }

    #[test]
    fn golden_v4_record() {
        let g = golden_v4();
        assert_eq!(build(1472, 7, &[v4rec()]), g);
        let m = decode(&g).unwrap();
        assert_eq!((m.version, m.syncid, m.nr_conns), (Version::V1, 7, 1));
        let mut want = v4rec();
        want.flags = CONN_F_DROUTE;
        assert_eq!(all(&g), [Ok(want)]);
    }

    #[test]
    fn golden_v6_record_with_seq_and_padding() {
        let g = golden_v6_seq();
        let mut v4 = v4rec();
        v4.flags = CONN_F_DROUTE;
        assert_eq!(build(1472, 9, &[v6seqrec(), v4]), g);
        assert_eq!(all(&g), [Ok(v6seqrec()), Ok(v4)]);
    }

    #[test]
    fn golden_pe_data_and_name() {
        let g = golden_sip();
        assert_eq!(build(1472, 1, &[sip_rec()]), g);
        assert_eq!(all(&g), [Ok(sip_rec())]);
    }

    #[test]
    fn golden_v0_message() {
        let g = golden_v0();
        let m = decode(&g).unwrap();
        assert_eq!((m.version, m.syncid, m.nr_conns), (Version::V0, 3, 2));
        let want = v0recs();
        assert_eq!(all(&g), [Ok(want[0]), Ok(want[1])]);
        let mut buf = [0u8; 200];
        let mut b = BuilderV0::new(3, 1472, &mut buf);
        b.push(&want[0]).unwrap();
        b.push(&want[1]).unwrap();
        assert_eq!(b.message().unwrap(), &g[..]);
    }

    #[test]
    fn v0_builder_drops_what_v0_cannot_carry() {
        let mut buf = [0u8; 200];
        let mut b = BuilderV0::new(0, 1472, &mut buf);
        assert_eq!(b.push(&v6seqrec()), Err(PushError::V6InV0));
        let mut r = sip_rec();
        r.flags |= CONN_F_NFCT | CONN_F_HASHED;
        b.push(&r).unwrap();
        let msg = b.message().unwrap().to_vec();
        let got = all(&msg);
        let mut want = sip_rec();
        want.fwmark = 0;
        want.timeout = 0;
        want.pe_data = &[];
        want.pe_name = &[];
        assert_eq!(got, [Ok(want)]);
        r.flags |= CONN_F_ONE_PACKET;
        assert_eq!(b.push(&r), Err(PushError::OnePacket));
    }

    #[test]
    fn header_checks() {
        assert_eq!(decode(&[0, 0, 0]), Err(Error::HeaderTooShort));
        let mut g = golden_v4();
        g[3] = 45;
        assert_eq!(decode(&g), Err(Error::BadSize { size: 45, len: 44 }));
        g[3] = 44;
        // Not version 1 unless reserved, spare are 0 and version is 1: read as v0 with
        // nr_conns = reserved = 0.
        for (i, v) in [(5, 2), (6, 1), (7, 1)] {
            let mut h = g.clone();
            h[i] = v;
            let m = decode(&h).unwrap();
            assert_eq!((m.version, m.nr_conns), (Version::V0, 0));
            assert_eq!(m.records(kernel_num_states).count(), 0);
        }
        // 4..7 bytes: v0, and no record can be read.
        let m = decode(&[1, 5, 0, 4]).unwrap();
        assert_eq!(m.version, Version::V0);
        assert_eq!(all(&[1, 5, 0, 4]), [Err(Error::V0Truncated)]);
        assert!(syncid_accepted(0, 9));
        assert!(syncid_accepted(9, 9));
        assert!(!syncid_accepted(8, 9));
    }

    /// A v1 message of the given records' raw bytes (no padding added).
    fn raw_v1(nr: u8, body: &[u8]) -> Vec<u8> {
        let mut m = std::vec![0, 0, 0, 0, nr, 1, 0, 0];
        m.extend_from_slice(body);
        let n = m.len() as u16;
        m[2..4].copy_from_slice(&n.to_be_bytes());
        m
    }

    /// [`V4REC`] with options appended and its size updated.
    fn v4_with_opts(opts: &[u8]) -> Vec<u8> {
        let mut r = V4REC.to_vec();
        r.extend_from_slice(opts);
        let n = r.len() as u16;
        r[2..4].copy_from_slice(&n.to_be_bytes());
        r
    }

    fn first(m: &[u8]) -> Result<Record<'_>, Error> {
        decode(m)
            .unwrap()
            .records(kernel_num_states)
            .next()
            .unwrap()
    }

    #[test]
    fn record_framing_checks() {
        // ip_vs_process_message(): room for ip_vs_sync_v4.
        assert_eq!(first(&raw_v1(1, &V4REC[..35])), Err(Error::Truncated));
        let mut r = V4REC;
        r[3] = 40;
        assert_eq!(first(&raw_v1(1, &r)), Err(Error::RecordPastEnd));
        r[2] = 0x10;
        r[3] = 36;
        assert_eq!(first(&raw_v1(1, &r)), Err(Error::UnknownVersion(1)));
        // ip_vs_proc_sync_conn(): type, then the fixed header against the size.
        let mut r = V4REC;
        r[0] = 2;
        assert_eq!(first(&raw_v1(1, &r)), Err(Error::BadType(2)));
        r[0] = 3; // STYPE_F_INET6 is tested alone: an IPv6 record, too short here.
        assert_eq!(first(&raw_v1(1, &r)), Err(Error::HeaderPastRecord));
        let mut r = V4REC;
        r[3] = 30;
        assert_eq!(first(&raw_v1(1, &r)), Err(Error::HeaderPastRecord));
        for e in [Error::Truncated, Error::BadType(2), Error::HeaderPastRecord] {
            assert!(e.is_fatal());
        }
    }

    #[test]
    fn option_checks() {
        let seq = [0u8; 24];
        let cases: [(Vec<u8>, Error); 9] = [
            (std::vec![0x01], Error::ParamTruncated),
            (std::vec![0x02, 0x00, 0, 0], Error::ParamLength),
            (std::vec![0x02, 0x03, 1, 2], Error::ParamLength),
            (std::vec![0x01, 0x04, 0, 0, 0, 0], Error::SeqOptLength(4)),
            (
                [&[1u8, 24][..], &seq, &[1, 24], &seq].concat(),
                Error::SeqOptTwice,
            ),
            (std::vec![2, 1, b'x', 2, 1, b'y'], Error::PeDataTwice),
            (
                [&[3u8, 17][..], &[b'a'; 17]].concat(),
                Error::PeNameLength(17),
            ),
            (std::vec![3, 1, b'x', 3, 1, b'y'], Error::PeNameTwice),
            (std::vec![5, 1, 0], Error::UnknownMandatoryParam(5)),
        ];
        for (opts, err) in cases {
            assert_eq!(
                first(&raw_v1(1, &v4_with_opts(&opts))),
                Err(err),
                "{opts:?}"
            );
        }
        let codes: Vec<_> = [
            Error::ParamTruncated,
            Error::ParamLength,
            Error::SeqOptTwice,
            Error::PeDataTwice,
            Error::PeNameTwice,
            Error::UnknownMandatoryParam(5),
        ]
        .iter()
        .map(|e| e.retc())
        .collect();
        assert_eq!(
            codes,
            [
                Some(-30),
                Some(-40),
                Some(-50),
                Some(-60),
                Some(-70),
                Some(20)
            ]
        );

        let mut want = v4rec();
        want.flags = CONN_F_DROUTE;
        // Unknown optional parameter (IPVS_OPT_F_PARAM): ignored.
        assert_eq!(first(&raw_v1(1, &v4_with_opts(&[0x45, 2, 9, 9]))), Ok(want));
        // IPVS_OPT_F_PARAM | IPVS_OPT_SEQ_DATA is still the sequence option.
        let mut opts = std::vec![0x41, 24];
        opts.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3]);
        opts.extend_from_slice(&[0; 12]);
        want.seq = Some(SeqOpts {
            in_seq: Seq {
                init_seq: 1,
                delta: 2,
                previous_delta: 3,
            },
            out_seq: Seq::default(),
        });
        assert_eq!(first(&raw_v1(1, &v4_with_opts(&opts))), Ok(want));
        // A PE name of exactly IP_VS_PENAME_MAXLEN is fine; a name without data is ignored.
        want.seq = None;
        want.pe_name = &[b'n'; 16];
        let opts = [&[3u8, 16][..], &[b'n'; 16]].concat();
        assert_eq!(first(&raw_v1(1, &v4_with_opts(&opts))), Ok(want));
        // Data without a name: skipped (ip_vs_conn_fill_param_sync).
        assert_eq!(
            first(&raw_v1(1, &v4_with_opts(&[2, 1, b'x']))),
            Err(Error::PeWithoutName)
        );
    }

    #[test]
    fn skipped_records_do_not_stop_the_message() {
        let mut bad: [[u8; 36]; 5] = [V4REC; 5];
        bad[0][6] = 0x20; // ONE_PACKET
        bad[1][6] = 0x18; // NO_CPORT | TEMPLATE
        bad[2][1] = 1; // ICMP: no ip_vs_protocol
        bad[3][9] = 11; // TCP state IP_VS_TCP_S_LAST
        bad[4][6] = 0x10; // template state 2
        bad[4][9] = 2;
        let want = [
            Error::InvalidFlags(0x2003),
            Error::InvalidFlags(0x1803),
            Error::UnsupportedProtocol(1),
            Error::InvalidState {
                protocol: TCP,
                state: 11,
            },
            Error::InvalidState {
                protocol: TCP,
                state: 2,
            },
        ];
        for (r, e) in bad.iter().zip(want) {
            assert!(!e.is_fatal());
            let m = raw_v1(2, &[&r[..], &V4REC].concat());
            let got = all(&m);
            assert_eq!(got.len(), 2);
            assert_eq!(got[0], Err(e));
            assert!(got[1].is_ok());
        }
        // A template skips the protocol check.
        let mut r = V4REC;
        r[1] = 1;
        r[6] = 0x10;
        r[9] = 1;
        assert!(first(&raw_v1(1, &r)).is_ok());
    }

    #[test]
    fn fatal_error_ends_the_walk_and_trailing_bytes_are_ignored() {
        let mut r = V4REC;
        r[0] = 4;
        let m = raw_v1(3, &[&V4REC[..], &r, &V4REC].concat());
        let got = all(&m);
        assert_eq!(got.len(), 2);
        assert!(got[0].is_ok());
        assert_eq!(got[1], Err(Error::BadType(4)));
        // nr_conns 1 with two records: the second is not looked at.
        let m = raw_v1(1, &[&V4REC[..], &[0xff; 40]].concat());
        assert_eq!(all(&m).len(), 1);
        // A record whose size is not a multiple of 4: the next starts 4-aligned.
        let r = v4_with_opts(&[0x45, 1, 0]);
        assert_eq!(r.len(), 39);
        let m = raw_v1(2, &[&r[..], &[0], &V4REC].concat());
        assert!(all(&m).iter().all(|r| r.is_ok()));
    }

    #[test]
    fn v0_checks() {
        let g = golden_v0();
        // Options announced but cut off.
        let mut m = g[..4 + 24 + 40].to_vec();
        m[3] = m.len() as u8;
        let got = all(&m);
        assert_eq!(got.len(), 2);
        assert_eq!(got[1], Err(Error::V0OptionsTruncated));
        let mut m = g[..4 + 20].to_vec();
        m[3] = m.len() as u8;
        assert_eq!(all(&m), [Err(Error::V0Truncated)]);
        // Skips are per record.
        let mut m = g.clone();
        m[4 + 22 + 1] = 11;
        let got = all(&m);
        assert_eq!(
            got[0],
            Err(Error::InvalidState {
                protocol: TCP,
                state: 11
            })
        );
        assert!(got[1].is_ok());
    }

    #[test]
    fn flag_helpers() {
        assert_eq!(send_flags(0xffff_ffff), !CONN_F_HASHED);
        assert_eq!(
            send_flags_v0(CONN_F_NFCT | CONN_F_HASHED | CONN_F_TEMPLATE),
            0x1000
        );
        assert!(!syncable(CONN_F_ONE_PACKET));
        assert!(syncable(CONN_F_TEMPLATE | CONN_F_NO_CPORT));
        assert!(validate_flags(CONN_F_NO_CPORT));
        assert!(validate_flags(CONN_F_TEMPLATE));
        assert!(!validate_flags(CONN_F_NO_CPORT | CONN_F_TEMPLATE));
        assert!(!validate_flags(CONN_F_ONE_PACKET));
        assert_eq!(backup_flags(0xffff_ffff), 0x1fa7);
        assert_eq!(backup_flags(CONN_F_NFCT | CONN_F_HASHED), CONN_F_SYNC);
        // Existing NAT conn, established and no seq: the message makes it inactive with
        // seq adjustment; its forwarding method and other bits stay.
        let existing = CONN_F_MASQ | CONN_F_HASHED | CONN_F_NFCT;
        let upd = backup_flags(CONN_F_DROUTE | CONN_F_INACTIVE | CONN_F_IN_SEQ);
        assert_eq!(
            backup_update_flags(existing, upd),
            existing | CONN_F_INACTIVE | CONN_F_IN_SEQ
        );
        assert_eq!(
            backup_update_flags(existing | CONN_F_INACTIVE, CONN_F_SYNC),
            existing
        );
    }

    #[test]
    fn maxlen_from_mtu() {
        assert_eq!(sync_maxlen(false, false, 9000, 0), 1472);
        assert_eq!(sync_maxlen(true, false, 9000, 0), 1452);
        assert_eq!(sync_maxlen(false, true, 9000, 0), 8972);
        assert_eq!(sync_maxlen(false, true, 576, 0), 1472);
        assert_eq!(sync_maxlen(false, true, 100_000, 0), 65507);
        assert_eq!(sync_maxlen(false, false, 1500, 1), 1);
        assert_eq!(sync_maxlen(false, true, 1500, 100), 1024);
        assert_eq!(sync_maxlen(true, false, 1500, 65535), 65487);
        assert_eq!(buffer_len(1), 381);
        assert_eq!(buffer_len(1472), 1472);
    }

    #[test]
    fn builder_capacity() {
        let mut v4 = v4rec();
        v4.flags = CONN_F_DROUTE;
        // Three 36-byte records fill 8 + 108; the fourth does not fit.
        let mut buf = [0u8; 400];
        let mut b = Builder::new(0, 116, &mut buf);
        assert!(b.is_empty() && b.message().is_none());
        for _ in 0..3 {
            b.push(&v4).unwrap();
        }
        assert_eq!(b.push(&v4), Err(PushError::Full));
        assert_eq!(b.len(), 116);
        assert_eq!(b.message().unwrap().len(), 116);
        b.clear();
        b.push(&v4).unwrap();
        assert_eq!(b.nr_conns(), 1);
        // A first record larger than max_len still goes in alone (max(len + 8, maxlen)).
        let mut b = Builder::new(1, 1, &mut buf);
        b.push(&sip_rec()).unwrap();
        assert_eq!(b.push(&v4), Err(PushError::Full));
        assert_eq!(b.message().unwrap(), &golden_sip()[..]);
        // Padding counts: 82 + 2 + 36 = 120.
        for (max, ok) in [(120, true), (119, false)] {
            let mut b = Builder::new(0, max, &mut buf);
            b.push(&sip_rec()).unwrap();
            assert_eq!(b.push(&v4).is_ok(), ok);
        }
        // The caller's buffer bounds it too.
        let mut small = [0u8; 43];
        let mut b = Builder::new(0, 1472, &mut small);
        assert_eq!(b.push(&v4), Err(PushError::BufferTooSmall));
        let mut small = [0u8; 90];
        let mut b = Builder::new(0, 1472, &mut small);
        b.push(&v4).unwrap();
        b.push(&v4).unwrap();
        assert_eq!(b.push(&v4), Err(PushError::Full));
        // nr_conns is one byte: 255 records at most.
        let mut big = std::vec![0u8; 65535];
        let mut b = Builder::new(0, 65535, &mut big);
        for _ in 0..255 {
            b.push(&v4).unwrap();
        }
        assert_eq!(b.push(&v4), Err(PushError::Full));
        assert_eq!(all(b.message().unwrap()).len(), 255);
    }

    #[test]
    fn builder_refuses_what_the_kernel_never_sends() {
        let mut buf = [0u8; 1000];
        let mut b = Builder::new(0, 1472, &mut buf);
        let mut r = v4rec();
        r.flags |= CONN_F_ONE_PACKET;
        assert_eq!(b.push(&r), Err(PushError::OnePacket));
        let mut r = v4rec();
        r.pe_name = b"sip";
        assert_eq!(b.push(&r), Err(PushError::PeNameWithoutData));
        r.pe_data = &[0; 256];
        assert_eq!(b.push(&r), Err(PushError::PeDataTooLong));
        r.pe_data = &[0; 255];
        r.pe_name = &[b'a'; 17];
        assert_eq!(b.push(&r), Err(PushError::PeNameTooLong));
        assert!(b.is_empty());
    }

    /// Owned data for a generated record.
    #[derive(Clone, Debug)]
    struct Gen {
        protocol: u8,
        flags: u32,
        state: u16,
        ports: [u16; 3],
        fwmark: u32,
        timeout: u32,
        v6: bool,
        a: [[u8; 16]; 3],
        seq: [u32; 6],
        pe_data: Vec<u8>,
        pe_name: Vec<u8>,
    }

    impl Gen {
        fn rec(&self) -> Record<'_> {
            let s = |i: usize| Seq {
                init_seq: self.seq[i],
                delta: self.seq[i + 1],
                previous_delta: self.seq[i + 2],
            };
            let v4 = |i: usize| [self.a[i][0], self.a[i][1], self.a[i][2], self.a[i][3]];
            Record {
                protocol: self.protocol,
                flags: self.flags,
                state: self.state,
                cport: self.ports[0],
                vport: self.ports[1],
                dport: self.ports[2],
                fwmark: self.fwmark,
                timeout: self.timeout,
                addrs: if self.v6 {
                    Addrs::V6 {
                        caddr: self.a[0],
                        vaddr: self.a[1],
                        daddr: self.a[2],
                    }
                } else {
                    Addrs::V4 {
                        caddr: v4(0),
                        vaddr: v4(1),
                        daddr: v4(2),
                    }
                },
                seq: (self.flags & CONN_F_SEQ_MASK != 0).then(|| SeqOpts {
                    in_seq: s(0),
                    out_seq: s(3),
                }),
                pe_data: &self.pe_data,
                pe_name: &self.pe_name,
            }
        }
    }

    /// Records the kernel sends and a kernel backup accepts.
    fn valid_record() -> impl Strategy<Value = Gen> {
        (
            any::<u32>(),
            prop::sample::select(&[6u8, 17, 132, 50, 51][..]),
            any::<u8>(),
            any::<u16>(),
            any::<[u16; 3]>(),
            any::<(u32, u32, bool)>(),
            any::<[[u8; 16]; 3]>(),
            any::<[u32; 6]>(),
            prop_oneof![
                Just((Vec::new(), Vec::new())),
                (
                    prop::collection::vec(any::<u8>(), 1..=255),
                    prop::collection::vec(any::<u8>(), 1..=16)
                ),
            ],
        )
            .prop_map(
                |(f, proto, tproto, st, ports, (fwmark, timeout, v6), a, seq, (pd, pn))| {
                    let mut flags = f & !(CONN_F_ONE_PACKET | CONN_F_HASHED);
                    let (protocol, state);
                    if flags & CONN_F_TEMPLATE != 0 {
                        flags &= !CONN_F_NO_CPORT;
                        protocol = tproto;
                        state = st % CTPL_S_LAST;
                    } else {
                        protocol = proto;
                        state = st % kernel_num_states(proto).unwrap();
                    }
                    Gen {
                        protocol,
                        flags,
                        state,
                        ports,
                        fwmark,
                        timeout,
                        v6,
                        a,
                        seq,
                        pe_data: pd,
                        pe_name: pn,
                    }
                },
            )
    }

    /// Decodes one built message and checks it against the records pushed.
    fn check_message(msg: &[u8], syncid: u8, pushed: &[Gen]) -> Result<(), TestCaseError> {
        let m = decode(msg).unwrap();
        prop_assert_eq!((m.version, m.syncid), (Version::V1, syncid));
        prop_assert_eq!(usize::from(m.nr_conns), pushed.len());
        let got: Vec<_> = m.records(kernel_num_states).collect();
        let want: Vec<_> = pushed.iter().map(|g| Ok(g.rec())).collect();
        prop_assert_eq!(got, want);
        Ok(())
    }

    proptest! {
        /// build → decode gives the records back, split into messages that each respect
        /// max(8 + first record, max_len) and are as full as the kernel makes them.
        #[test]
        fn v1_round_trip(
            gens in prop::collection::vec(valid_record(), 1..40),
            max_len in prop_oneof![1u16..700, any::<u16>()],
            syncid in any::<u8>(),
        ) {
            let mut buf = std::vec![0u8; buffer_len(max_len)];
            let mut b = Builder::new(syncid, max_len, &mut buf);
            let mut pushed: Vec<Gen> = Vec::new();
            let mut cap = 0;
            for g in &gens {
                let r = g.rec();
                let len = record_len(&r).unwrap();
                match b.push(&r) {
                    Ok(()) => {
                        if pushed.is_empty() {
                            cap = (8 + len).max(usize::from(max_len));
                        }
                        pushed.push(g.clone());
                        prop_assert!(b.len() <= cap);
                    }
                    Err(PushError::Full) => {
                        let pad = b.len().wrapping_neg() & 3;
                        prop_assert!(b.len() + pad + len > cap || pushed.len() == 255);
                        check_message(b.message().unwrap(), syncid, &pushed)?;
                        b.clear();
                        pushed.clear();
                        b.push(&r).unwrap();
                        cap = (8 + len).max(usize::from(max_len));
                        pushed.push(g.clone());
                    }
                    Err(e) => prop_assert!(false, "{:?}", e),
                }
            }
            let msg = b.message().unwrap().to_vec();
            prop_assert!(msg.len() <= cap && msg.len() <= 65535);
            check_message(&msg, syncid, &pushed)?;
        }

        /// The same for version 0 (IPv4, no fwmark/timeout/PE; options in host order).
        #[test]
        fn v0_round_trip(
            gens in prop::collection::vec(valid_record(), 1..40),
            max_len in 1u16..400,
        ) {
            let mut buf = std::vec![0u8; 400];
            let mut b = BuilderV0::new(5, max_len, &mut buf);
            let mut msgs: Vec<Vec<u8>> = Vec::new();
            let mut want = Vec::new();
            for g in &gens {
                let mut g = g.clone();
                g.v6 = false;
                g.flags &= 0xffff;
                g.fwmark = 0;
                g.timeout = 0;
                g.pe_data.clear();
                g.pe_name.clear();
                if b.push(&g.rec()) == Err(PushError::Full) {
                    let m = b.message().unwrap();
                    prop_assert!(m.len() <= usize::from(max_len).max(52));
                    msgs.push(m.to_vec());
                    b.clear();
                    b.push(&g.rec()).unwrap();
                }
                want.push(g);
            }
            msgs.push(b.message().unwrap().to_vec());
            let mut got = Vec::new();
            for m in &msgs {
                let d = decode(m).unwrap();
                prop_assert_eq!(d.version, Version::V0);
                got.extend(d.records(kernel_num_states));
            }
            let want: Vec<_> = want.iter().map(|g| Ok(g.rec())).collect();
            prop_assert_eq!(got, want);
        }
    }

    /// Decodes everything and checks what holds for any input.
    fn decode_all(buf: &[u8]) {
        let Ok(m) = decode(buf) else { return };
        let mut n = 0;
        for r in m.records(kernel_num_states) {
            n += 1;
            if let Ok(r) = r {
                assert!(r.pe_name.len() <= PENAME_MAXLEN);
                assert!(r.pe_data.is_empty() || !r.pe_name.is_empty());
                assert!(validate_flags(r.flags));
            }
        }
        assert!(n <= usize::from(m.nr_conns));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        /// Random datagrams, with the size field made right (and sometimes a v1 header) so
        /// that records get parsed.
        #[test]
        fn random_bytes_never_panic(
            mut buf in prop::collection::vec(any::<u8>(), 0..600),
            fix_size in any::<bool>(),
            v1 in any::<bool>(),
        ) {
            decode_all(&buf);
            if buf.len() >= 8 && fix_size {
                let n = buf.len() as u16;
                buf[2..4].copy_from_slice(&n.to_be_bytes());
                if v1 {
                    buf[0] = 0;
                    buf[5] = 1;
                    buf[6] = 0;
                    buf[7] = 0;
                }
                decode_all(&buf);
            }
        }

        /// Valid messages with bytes flipped, cut or extended, the size field fixed or not.
        #[test]
        fn mutated_messages_never_panic(
            gens in prop::collection::vec(valid_record(), 1..6),
            flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
            cut in any::<prop::sample::Index>(),
            extra in prop::collection::vec(any::<u8>(), 0..8),
            how in 0u8..4,
            fix_size in any::<bool>(),
        ) {
            let recs: Vec<_> = gens.iter().map(Gen::rec).collect();
            let mut m = build(65535, 1, &recs);
            for (i, x) in &flips {
                let i = i.index(m.len());
                m[i] ^= x;
            }
            match how {
                0 => m.truncate(cut.index(m.len() + 1)),
                1 => m.extend_from_slice(&extra),
                _ => {}
            }
            if fix_size && m.len() >= 4 {
                let n = m.len() as u16;
                m[2..4].copy_from_slice(&n.to_be_bytes());
            }
            decode_all(&m);
        }

        /// Random option lists inside one IPv4 or IPv6 record.
        #[test]
        fn random_options_never_panic(
            opts in prop::collection::vec(
                (prop::sample::select(&[0u8, 1, 2, 3, 4, 0x41, 0x42, 0x43, 0x45, 0xff][..]),
                 prop::collection::vec(any::<u8>(), 0..30)),
                0..6),
            len_delta in -3i32..3,
            v6 in any::<bool>(),
        ) {
            let mut r = if v6 {
                let mut r = std::vec![0u8; 72];
                r[0] = 1;
                r[1] = TCP;
                r
            } else {
                V4REC.to_vec()
            };
            for (t, d) in &opts {
                r.push(*t);
                r.push(d.len() as u8);
                r.extend_from_slice(d);
            }
            let size = (r.len() as i32 + len_delta).clamp(0, 0xfff) as u16;
            r[2..4].copy_from_slice(&size.to_be_bytes());
            decode_all(&raw_v1(1, &r));
            decode_all(&raw_v1(2, &[&r[..], &[0, 0, 0], &V4REC].concat()));
        }
    }

    #[test]
    fn sync_needed_defaults_follow_ip_vs() {
        let s = SyncSysctls::default();
        let m = SyncMark::default();
        // UDP: the 3rd packet, then every 50th (53, 103...).
        let udp: Vec<u32> = (1..200)
            .filter(|&p| sync_needed(&s, 17, false, false, 0, m, p, 100, 300).is_some())
            .collect();
        assert_eq!(udp, [3, 53, 103, 153]);
        // TCP SYN_RECV (3) is never synced; ESTABLISHED by the packet counts, as UDP (its
        // state change does not force it: ip_vs only forces the closing states).
        assert_eq!(sync_needed(&s, 6, false, false, 3, m, 3, 100, 60), None);
        assert_eq!(sync_needed(&s, 6, false, false, 1, m, 2, 100, 900), None);
        let d = sync_needed(&s, 6, false, false, 1, m, 3, 100, 900).unwrap();
        assert!(d.force);
        assert_eq!(d.mark.old_state(), 1);
        // Already synced in ESTABLISHED: only the packet counts.
        assert_eq!(
            sync_needed(&s, 6, false, false, 1, d.mark, 2, 100, 900),
            None
        );
        assert!(sync_needed(&s, 6, false, false, 1, d.mark, 53, 100, 900).is_some());
        // FIN_WAIT after ESTABLISHED: at once, whatever the count.
        let f = sync_needed(&s, 6, false, false, 4, d.mark, 7, 100, 120).unwrap();
        assert!(f.force);
        assert_eq!(f.mark.old_state(), 4);
        // Templates: whenever asked (their connection was synced), never forced.
        let t = sync_needed(&s, 6, true, false, 0, m, 1, 100, 360).unwrap();
        assert!(!t.force);
        // persist mode: controlled connections are left to their template.
        let p = SyncSysctls {
            persist_mode: true,
            ..s
        };
        assert_eq!(sync_needed(&p, 17, false, true, 0, m, 3, 100, 300), None);
        assert!(sync_needed(&p, 17, false, false, 0, m, 3, 100, 300).is_some());
        // SCTP: ESTABLISHED (7) syncs, COOKIE_ECHOED (6) does not.
        assert!(sync_needed(&s, 132, false, false, 7, m, 3, 100, 900).is_some());
        assert_eq!(sync_needed(&s, 132, false, false, 6, m, 3, 100, 900), None);
    }

    #[test]
    fn sync_needed_refresh_period() {
        let s = SyncSysctls {
            refresh_secs: 60,
            period: 0,
            ..SyncSysctls::default()
        };
        // period 0 with a refresh period: every packet may sync, the end time decides.
        let d = sync_needed(&s, 17, false, false, 0, SyncMark::default(), 1, 1000, 300).unwrap();
        // 10 s later the end time moved by 10 s: within the refresh period, no retries left.
        assert_eq!(
            sync_needed(&s, 17, false, false, 0, d.mark, 9, 1010, 300),
            None
        );
        // 61 s later: synced again.
        assert!(sync_needed(&s, 17, false, false, 0, d.mark, 9, 1061, 300).is_some());
        // With retries: one resend once an eighth of the period has passed.
        let r = SyncSysctls { retries: 1, ..s };
        assert_eq!(
            sync_needed(&r, 17, false, false, 0, d.mark, 9, 1003, 300),
            None
        );
        let again = sync_needed(&r, 17, false, false, 0, d.mark, 9, 1010, 300).unwrap();
        assert_eq!(
            sync_needed(&r, 17, false, false, 0, again.mark, 9, 1020, 300),
            None
        );
    }

    proptest! {
        #[test]
        fn sync_needed_never_panics(
            proto in any::<u8>(), template in any::<bool>(), controlled in any::<bool>(),
            state in any::<u8>(), mark in 0u32..(1 << 24), pkts in any::<u32>(),
            now in any::<u32>(), timeout in any::<u32>(), threshold in any::<u32>(),
            period in any::<u32>(), refresh in any::<u32>(), retries in 0u32..4,
        ) {
            let s = SyncSysctls { threshold, period, refresh_secs: refresh, retries, persist_mode: controlled };
            if let Some(d) = sync_needed(&s, proto, template, controlled, state, SyncMark(mark), pkts, now, timeout) {
                prop_assert_eq!(d.mark.old_state(), state);
                prop_assert!(d.mark.0 < 1 << 24);
            }
        }
    }
}
