// (Included by `uapi/src/lib.rs` and by fvs.ko: keep this file free of inner attributes.)

/// Version reported by GET_INFO: 1.2.1, the same as the kernel's ip_vs.
pub const IP_VS_VERSION_CODE: u32 = 0x010201;

/// Generic netlink family names: fvs registers "FVS"; the kernel's ip_vs registers "IPVS".
pub const FVS_GENL_NAME: &str = "FVS";
pub const IPVS_GENL_NAME: &str = "IPVS";
pub const IPVS_GENL_VERSION: u8 = 0x1;

pub const IP_VS_SCHEDNAME_MAXLEN: usize = 16;
pub const IP_VS_PENAME_MAXLEN: usize = 16;
pub const IP_VS_IFNAME_MAXLEN: usize = 16;
pub const IP_VS_PEDATA_MAXLEN: usize = 255;

/// Virtual service flags (`IP_VS_SVC_F_*`).
pub mod svc_flags {
    pub const PERSISTENT: u32 = 0x0001;
    pub const HASHED: u32 = 0x0002;
    pub const ONEPACKET: u32 = 0x0004;
    pub const SCHED1: u32 = 0x0008;
    pub const SCHED2: u32 = 0x0010;
    pub const SCHED3: u32 = 0x0020;
    pub const SCHED_SH_FALLBACK: u32 = SCHED1;
    pub const SCHED_SH_PORT: u32 = SCHED2;
    pub const SCHED_MH_FALLBACK: u32 = SCHED1;
    pub const SCHED_MH_PORT: u32 = SCHED2;
}

/// Sync daemon states (`IP_VS_STATE_*`).
pub mod daemon_state {
    pub const NONE: u32 = 0x0000;
    pub const MASTER: u32 = 0x0001;
    pub const BACKUP: u32 = 0x0002;
}

/// Connection flags (`IP_VS_CONN_F_*`); the low bits are the forwarding method.
pub mod conn_flags {
    pub const FWD_MASK: u32 = 0x0007;
    pub const MASQ: u32 = 0x0000;
    pub const LOCALNODE: u32 = 0x0001;
    pub const TUNNEL: u32 = 0x0002;
    pub const DROUTE: u32 = 0x0003;
    pub const BYPASS: u32 = 0x0004;
    pub const SYNC: u32 = 0x0020;
    pub const HASHED: u32 = 0x0040;
    pub const NOOUTPUT: u32 = 0x0080;
    pub const INACTIVE: u32 = 0x0100;
    pub const OUT_SEQ: u32 = 0x0200;
    pub const IN_SEQ: u32 = 0x0400;
    pub const SEQ_MASK: u32 = 0x0600;
    pub const NO_CPORT: u32 = 0x0800;
    pub const TEMPLATE: u32 = 0x1000;
    pub const ONE_PACKET: u32 = 0x2000;
    pub const NFCT: u32 = 1 << 16;
    pub const DEST_MASK: u32 = FWD_MASK | ONE_PACKET | NFCT;
}

/// Tunnel types (`IP_VS_CONN_F_TUNNEL_TYPE_*`).
pub mod tun_type {
    pub const IPIP: u8 = 0;
    pub const GUE: u8 = 1;
    pub const GRE: u8 = 2;
    pub const MAX: u8 = 3;
}

/// Tunnel encapsulation flags (`IP_VS_TUNNEL_ENCAP_FLAG_*`).
pub mod tun_flags {
    pub const NOCSUM: u16 = 0;
    pub const CSUM: u16 = 1 << 0;
    pub const REMCSUM: u16 = 1 << 1;
}

/// Generic netlink commands (`IPVS_CMD_*`).
pub mod cmd {
    pub const UNSPEC: u8 = 0;
    pub const NEW_SERVICE: u8 = 1;
    pub const SET_SERVICE: u8 = 2;
    pub const DEL_SERVICE: u8 = 3;
    pub const GET_SERVICE: u8 = 4;
    pub const NEW_DEST: u8 = 5;
    pub const SET_DEST: u8 = 6;
    pub const DEL_DEST: u8 = 7;
    pub const GET_DEST: u8 = 8;
    pub const NEW_DAEMON: u8 = 9;
    pub const DEL_DAEMON: u8 = 10;
    pub const GET_DAEMON: u8 = 11;
    pub const SET_CONFIG: u8 = 12;
    pub const GET_CONFIG: u8 = 13;
    pub const SET_INFO: u8 = 14;
    pub const GET_INFO: u8 = 15;
    pub const ZERO: u8 = 16;
    pub const FLUSH: u8 = 17;
    pub const MAX: u8 = FLUSH;
}

/// Top-level command attributes (`IPVS_CMD_ATTR_*`).
pub mod cmd_attr {
    pub const UNSPEC: u16 = 0;
    pub const SERVICE: u16 = 1;
    pub const DEST: u16 = 2;
    pub const DAEMON: u16 = 3;
    pub const TIMEOUT_TCP: u16 = 4;
    pub const TIMEOUT_TCP_FIN: u16 = 5;
    pub const TIMEOUT_UDP: u16 = 6;
    pub const MAX: u16 = TIMEOUT_UDP;
}

/// Service attributes, nested in `cmd_attr::SERVICE` (`IPVS_SVC_ATTR_*`).
pub mod svc_attr {
    pub const UNSPEC: u16 = 0;
    pub const AF: u16 = 1;
    pub const PROTOCOL: u16 = 2;
    pub const ADDR: u16 = 3;
    pub const PORT: u16 = 4;
    pub const FWMARK: u16 = 5;
    pub const SCHED_NAME: u16 = 6;
    pub const FLAGS: u16 = 7;
    pub const TIMEOUT: u16 = 8;
    pub const NETMASK: u16 = 9;
    pub const STATS: u16 = 10;
    pub const PE_NAME: u16 = 11;
    pub const STATS64: u16 = 12;
    pub const MAX: u16 = STATS64;
}

/// Destination attributes, nested in `cmd_attr::DEST` (`IPVS_DEST_ATTR_*`).
pub mod dest_attr {
    pub const UNSPEC: u16 = 0;
    pub const ADDR: u16 = 1;
    pub const PORT: u16 = 2;
    pub const FWD_METHOD: u16 = 3;
    pub const WEIGHT: u16 = 4;
    pub const U_THRESH: u16 = 5;
    pub const L_THRESH: u16 = 6;
    pub const ACTIVE_CONNS: u16 = 7;
    pub const INACT_CONNS: u16 = 8;
    pub const PERSIST_CONNS: u16 = 9;
    pub const STATS: u16 = 10;
    pub const ADDR_FAMILY: u16 = 11;
    pub const STATS64: u16 = 12;
    pub const TUN_TYPE: u16 = 13;
    pub const TUN_PORT: u16 = 14;
    pub const TUN_FLAGS: u16 = 15;
    pub const MAX: u16 = TUN_FLAGS;
    /// fvs extension, not in ip_vs: in DEL_DEST, drain the real server for this many seconds
    /// (u32; no new connections, removed when its connections end or the time is up); in a
    /// dump, the seconds left of a draining real server. Numbered well above ip_vs's own
    /// attributes so that a future IPVS_DEST_ATTR_* cannot collide with it; sent only to fvs.
    pub const FVS_DRAIN: u16 = 32;
    pub const FVS_MAX: u16 = FVS_DRAIN;
}

/// Sync daemon attributes, nested in `cmd_attr::DAEMON` (`IPVS_DAEMON_ATTR_*`).
pub mod daemon_attr {
    pub const UNSPEC: u16 = 0;
    pub const STATE: u16 = 1;
    pub const MCAST_IFN: u16 = 2;
    pub const SYNC_ID: u16 = 3;
    pub const SYNC_MAXLEN: u16 = 4;
    pub const MCAST_GROUP: u16 = 5;
    pub const MCAST_GROUP6: u16 = 6;
    pub const MCAST_PORT: u16 = 7;
    pub const MCAST_TTL: u16 = 8;
    pub const MAX: u16 = MCAST_TTL;
}

/// Statistics attributes, nested in `*_ATTR_STATS` / `*_ATTR_STATS64` (`IPVS_STATS_ATTR_*`).
/// In STATS they are u32 (bytes u64); in STATS64 all are u64.
pub mod stats_attr {
    pub const UNSPEC: u16 = 0;
    pub const CONNS: u16 = 1;
    pub const INPKTS: u16 = 2;
    pub const OUTPKTS: u16 = 3;
    pub const INBYTES: u16 = 4;
    pub const OUTBYTES: u16 = 5;
    pub const CPS: u16 = 6;
    pub const INPPS: u16 = 7;
    pub const OUTPPS: u16 = 8;
    pub const INBPS: u16 = 9;
    pub const OUTBPS: u16 = 10;
    pub const PAD: u16 = 11;
    pub const MAX: u16 = PAD;
}

/// GET_INFO reply attributes (`IPVS_INFO_ATTR_*`).
pub mod info_attr {
    pub const UNSPEC: u16 = 0;
    pub const VERSION: u16 = 1;
    pub const CONN_TAB_SIZE: u16 = 2;
    pub const MAX: u16 = CONN_TAB_SIZE;
}

/// Address families as carried in IPVS_SVC_ATTR_AF / IPVS_DEST_ATTR_ADDR_FAMILY.
pub const AF_INET: u16 = 2;
pub const AF_INET6: u16 = 10;

/// Size of `union nf_inet_addr`, the length bound for address attributes.
pub const NF_INET_ADDR_LEN: u16 = 16;
/// Size of `struct ip_vs_flags` { flags, mask }.
pub const IP_VS_FLAGS_LEN: u16 = 8;

/// The kinds of netlink attribute validation used by the IPVS policies. Mirrors the kernel's
/// `NLA_*` types that ip_vs_ctl.c uses; fvs.ko turns these tables into `struct nla_policy` arrays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttrKind {
    /// No policy (attribute slot unused).
    Unspec,
    U8,
    U16,
    U32,
    U64,
    Nested,
    /// NUL-terminated string of at most `len` characters (excluding the NUL).
    NulString(u16),
    /// Binary of at most `len` bytes.
    Binary(u16),
    /// No type check, minimum length `len` (`{ .len = N }` in C).
    MinLen(u16),
}

/// Policy for top-level command attributes (`ip_vs_cmd_policy`).
pub const CMD_POLICY: [AttrKind; cmd_attr::MAX as usize + 1] = [
    AttrKind::Unspec,
    AttrKind::Nested,
    AttrKind::Nested,
    AttrKind::Nested,
    AttrKind::U32,
    AttrKind::U32,
    AttrKind::U32,
];

/// Policy for `IPVS_CMD_ATTR_DAEMON` (`ip_vs_daemon_policy`).
pub const DAEMON_POLICY: [AttrKind; daemon_attr::MAX as usize + 1] = [
    AttrKind::Unspec,
    AttrKind::U32,
    AttrKind::NulString(IP_VS_IFNAME_MAXLEN as u16 - 1),
    AttrKind::U32,
    AttrKind::U16,
    AttrKind::U32,
    AttrKind::MinLen(16),
    AttrKind::U16,
    AttrKind::U8,
];

/// Policy for `IPVS_CMD_ATTR_SERVICE` (`ip_vs_svc_policy`).
pub const SVC_POLICY: [AttrKind; svc_attr::MAX as usize + 1] = [
    AttrKind::Unspec,
    AttrKind::U16,
    AttrKind::U16,
    AttrKind::Binary(NF_INET_ADDR_LEN),
    AttrKind::U16,
    AttrKind::U32,
    AttrKind::NulString(IP_VS_SCHEDNAME_MAXLEN as u16 - 1),
    AttrKind::Binary(IP_VS_FLAGS_LEN),
    AttrKind::U32,
    AttrKind::U32,
    AttrKind::Nested,
    AttrKind::NulString(IP_VS_PENAME_MAXLEN as u16),
    AttrKind::Unspec,
];

/// Policy for `IPVS_CMD_ATTR_DEST` (`ip_vs_dest_policy`).
pub const DEST_POLICY: [AttrKind; dest_attr::MAX as usize + 1] = [
    AttrKind::Unspec,
    AttrKind::Binary(NF_INET_ADDR_LEN),
    AttrKind::U16,
    AttrKind::U32,
    AttrKind::U32,
    AttrKind::U32,
    AttrKind::U32,
    AttrKind::U32,
    AttrKind::U32,
    AttrKind::U32,
    AttrKind::Nested,
    AttrKind::U16,
    AttrKind::Unspec,
    AttrKind::U8,
    AttrKind::U16,
    AttrKind::U16,
];

/// `DEST_POLICY` with fvs's extension attributes (`dest_attr::FVS_*`): what fvs parses.
pub const DEST_POLICY_FVS: [AttrKind; dest_attr::FVS_MAX as usize + 1] = {
    let mut p = [AttrKind::Unspec; dest_attr::FVS_MAX as usize + 1];
    let mut i = 0;
    while i < DEST_POLICY.len() {
        p[i] = DEST_POLICY[i];
        i += 1;
    }
    p[dest_attr::FVS_DRAIN as usize] = AttrKind::U32;
    p
};

/// Default timeouts in seconds, as ip_vs: TCP established 900, TCP FIN_WAIT 120, UDP 300.
pub const DEFAULT_TIMEOUT_TCP: u32 = 15 * 60;
pub const DEFAULT_TIMEOUT_TCP_FIN: u32 = 2 * 60;
pub const DEFAULT_TIMEOUT_UDP: u32 = 5 * 60;

/// Default sync daemon parameters, as ip_vs_sync.c.
pub const DEFAULT_MCAST_GROUP: [u8; 4] = [224, 0, 0, 81];
pub const DEFAULT_MCAST_PORT: u16 = 8848;
pub const DEFAULT_MCAST_TTL: u8 = 1;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_cover_every_attribute() {
        assert_eq!(CMD_POLICY.len(), cmd_attr::MAX as usize + 1);
        assert_eq!(SVC_POLICY[svc_attr::SCHED_NAME as usize], AttrKind::NulString(15));
        assert_eq!(DEST_POLICY[dest_attr::TUN_TYPE as usize], AttrKind::U8);
        assert_eq!(DEST_POLICY_FVS[dest_attr::TUN_FLAGS as usize], AttrKind::U16);
        assert_eq!(DEST_POLICY_FVS[dest_attr::MAX as usize + 1], AttrKind::Unspec);
        assert_eq!(DEST_POLICY_FVS[dest_attr::FVS_DRAIN as usize], AttrKind::U32);
        assert_eq!(DAEMON_POLICY[daemon_attr::MCAST_TTL as usize], AttrKind::U8);
    }

    #[test]
    fn mh_flags_alias_sh_flags() {
        assert_eq!(svc_flags::SCHED_MH_FALLBACK, svc_flags::SCHED_SH_FALLBACK);
        assert_eq!(svc_flags::SCHED_MH_PORT, svc_flags::SCHED_SH_PORT);
    }
}
