//! ipvsadm 1.31's command-line rules: its popt option table, the per-option parsing
//! (`parse_service`, `parse_netmask`, timeouts, weights, scheduler flags, tunnel options, sync
//! daemon options), the command/option compatibility table `commands_v_options`, the tunnel
//! type/option table, and the semantic checks of `process_options()` — with ipvsadm's exact
//! messages and exit codes.

use fvs_uapi::{conn_flags, daemon_state, svc_flags, tun_flags, AF_INET, AF_INET6};

use crate::model::{Daemon, Dest, Service, Timeouts, IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP};
use crate::popt::{ArgKind, Context, Next, OptDef};
use crate::resolve;

/// ipvsadm's MAX_TIMEOUT (31 days).
pub const MAX_TIMEOUT: i64 = 86400 * 31;
/// IPVS_SVC_PERSISTENT_TIMEOUT.
pub const DEFAULT_PERSISTENT_TIMEOUT: u32 = 6 * 60;
pub const DEF_SCHED: &str = "wlc";
pub const DEF_MCAST_IFN: &str = "eth0";
/// Weight upper bound: Debian's ipvsadm 1.31 raises upstream's 65535 to INT_MAX.
pub const MAX_WEIGHT: i64 = i32::MAX as i64;

/// ipvsadm commands (`CMD_*`), in table order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmd {
    Add,
    Edit,
    Del,
    Flush,
    List,
    AddDest,
    DelDest,
    EditDest,
    Timeout,
    StartDaemon,
    StopDaemon,
    Restore,
    Save,
    Zero,
}

impl Cmd {
    fn index(self) -> usize {
        self as usize
    }

    pub fn name(self) -> &'static str {
        CMD_NAMES[self.index()]
    }
}

const CMD_NAMES: [&str; 14] = [
    "add-service",
    "edit-service",
    "delete-service",
    "flush",
    "list",
    "add-server",
    "delete-server",
    "edit-server",
    "set",
    "start-daemon",
    "stop-daemon",
    "restore",
    "save",
    "zero",
];

/// Option bits (`OPTC_*` indices).
pub mod optc {
    pub const NUMERIC: u32 = 0;
    pub const CONNECTION: u32 = 1;
    pub const SERVICE: u32 = 2;
    pub const SCHEDULER: u32 = 3;
    pub const PERSISTENT: u32 = 4;
    pub const NETMASK: u32 = 5;
    pub const SERVER: u32 = 6;
    pub const FORWARD: u32 = 7;
    pub const WEIGHT: u32 = 8;
    pub const UTHRESHOLD: u32 = 9;
    pub const LTHRESHOLD: u32 = 10;
    pub const MCAST: u32 = 11;
    pub const TIMEOUT: u32 = 12;
    pub const DAEMON: u32 = 13;
    pub const STATS: u32 = 14;
    pub const RATE: u32 = 15;
    pub const THRESHOLDS: u32 = 16;
    pub const PERSISTENTCONN: u32 = 17;
    pub const NOSORT: u32 = 18;
    pub const SYNCID: u32 = 19;
    pub const EXACT: u32 = 20;
    pub const ONEPACKET: u32 = 21;
    pub const PERSISTENCE_ENGINE: u32 = 22;
    pub const SCHED_FLAGS: u32 = 23;
    pub const MCAST_GROUP: u32 = 24;
    pub const MCAST_PORT: u32 = 25;
    pub const MCAST_TTL: u32 = 26;
    pub const SYNC_MAXLEN: u32 = 27;
    pub const TUN_INFO: u32 = 28;
    pub const TUN_TYPE: u32 = 29;
    pub const TUN_PORT: u32 = 30;
    pub const TUN_NOCSUM: u32 = 31;
    pub const TUN_CSUM: u32 = 32;
    pub const TUN_REMCSUM: u32 = 33;
    /// Extension: `--json` (not in ipvsadm's table; only legal with `-L`).
    pub const JSON: u32 = 34;
    /// Extension: `--drain SECONDS` (not in ipvsadm's table; only legal with `-d`).
    pub const DRAIN: u32 = 35;
}

const NUMBER_OF_OPT: usize = 34;

/// Option names: ipvsadm's `NUMBER_OF_OPT` columns, then the extension options.
const OPT_NAMES: [&str; NUMBER_OF_OPT + 2] = [
    "numeric",
    "connection",
    "service-address",
    "scheduler",
    "persistent",
    "netmask",
    "real-server",
    "forwarding-method",
    "weight",
    "u-threshold",
    "l-threshold",
    "mcast-interface",
    "timeout",
    "daemon",
    "stats",
    "rate",
    "thresholds",
    "persistent-conn",
    "nosort",
    "syncid",
    "exact",
    "ops",
    "pe",
    "sched-flags",
    "mcast-group",
    "mcast-port",
    "mcast-ttl",
    "sync-maxlen",
    "tun-info",
    "tun-type",
    "tun-port",
    "tun-nocsum",
    "tun-csum",
    "tun-remcsum",
    "json",
    "drain",
];

/// Extension options (not in `commands_v_options`) and the one command each is legal with.
const EXTENSION_OPTS: [(u32, Cmd); 2] = [(optc::JSON, Cmd::List), (optc::DRAIN, Cmd::DelDest)];

/// Upper bound of `--drain SECONDS` (the attribute is a u32; 0 is not a drain).
pub const MAX_DRAIN: i64 = u32::MAX as i64;

/// `commands_v_options`: one row per command, one column per option.
/// '+' compulsory, 'x' illegal, '1' exclusive, ' ' optional.
const COMMANDS_V_OPTIONS: [&[u8; NUMBER_OF_OPT]; 14] = [
    // columns: n c svc s p M r fwd w x y mcast timeout daemon stats rate thresholds
    // persistent-conn nosort syncid exact ops pe b grp port ttl maxlen tun-info tun-type
    // tun-port nocsum csum remcsum
    b"xx+   xxxxxxxxxxxxxxx   xxxxxxxxxx", // ADD
    b"xx+   xxxxxxxxxxxxxxx   xxxxxxxxxx", // EDIT
    b"xx+xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // DEL
    b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // FLUSH
    b" 11xxxxxxxxx11       xxxxxxx xxxxx", // LIST
    b"xx+xxx+    xxxxxxxxxxxxxxxxxx     ", // ADDSRV
    b"xx+xxx+xxxxxxxxxxxxxxxxxxxxxxxxxxx", // DELSRV
    b"xx+xxx+    xxxxxxxxxxxxxxxxxx     ", // EDITSRV
    b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // TIMEOUT
    b"xxxxxxxxxxx xxxxxxx xxxx    xxxxxx", // STARTD
    b"xxxxxxxxxxxxxxxxxxx xxxxxxxxxxxxxx", // STOPD
    b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // RESTORE
    b" xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // SAVE
    b"xx xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", // ZERO
];

const TUN_NAMES: [&str; 3] = ["ipip", "gue", "gre"];
const TUN_OPTS: [u32; 4] = [
    optc::TUN_PORT,
    optc::TUN_NOCSUM,
    optc::TUN_CSUM,
    optc::TUN_REMCSUM,
];
/// `tunnel_types_v_options`: columns tun-port, nocsum, csum, remcsum.
const TUNNEL_TYPES_V_OPTIONS: [&[u8; 4]; 3] = [b"xxxx", b"+111", b"x11x"];

/// Output format flags (`FMT_*`).
pub mod fmt {
    pub const NUMERIC: u32 = 0x0001;
    pub const RULE: u32 = 0x0002;
    pub const STATS: u32 = 0x0004;
    pub const RATE: u32 = 0x0008;
    pub const THRESHOLDS: u32 = 0x0010;
    pub const PERSISTENTCONN: u32 = 0x0020;
    pub const NOSORT: u32 = 0x0040;
    pub const EXACT: u32 = 0x0080;
    pub const TUN_INFO: u32 = 0x0100;
    /// Extension: JSON output.
    pub const JSON: u32 = 0x1000;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tag {
    Add,
    Edit,
    Del,
    Clear,
    List,
    Zero,
    AddDest,
    EditDest,
    DelDest,
    Set,
    Help,
    Version,
    Restore,
    Save,
    StartDaemon,
    StopDaemon,
    Tcp,
    Udp,
    Sctp,
    Fwmark,
    Sched,
    Persistent,
    Netmask,
    Real,
    Masq,
    Ipip,
    Gate,
    Weight,
    UThresh,
    LThresh,
    Numeric,
    Connection,
    McastIf,
    SyncId,
    Timeout,
    Daemon,
    Stats,
    Rate,
    Thresholds,
    PersistConn,
    NoSort,
    Sort,
    Exact,
    Ipv6,
    Ops,
    Pe,
    SchedFlags,
    McastGroup,
    McastPort,
    McastTtl,
    SyncMaxlen,
    TunInfo,
    TunType,
    TunPort,
    TunNocsum,
    TunCsum,
    TunRemcsum,
    Json,
    Drain,
}

const fn o(long: &'static str, short: Option<char>, arg: ArgKind, tag: Tag) -> OptDef<Tag> {
    OptDef {
        long,
        short,
        arg,
        tag,
    }
}

use ArgKind::{None as N, Optional as Opt, Required as R};

/// ipvsadm's popt option table, in its order (the order matters for `--list`, listed twice).
const OPTIONS: &[OptDef<Tag>] = &[
    o("add-service", Some('A'), N, Tag::Add),
    o("edit-service", Some('E'), N, Tag::Edit),
    o("delete-service", Some('D'), N, Tag::Del),
    o("clear", Some('C'), N, Tag::Clear),
    o("list", Some('L'), N, Tag::List),
    o("list", Some('l'), N, Tag::List),
    o("zero", Some('Z'), N, Tag::Zero),
    o("add-server", Some('a'), N, Tag::AddDest),
    o("edit-server", Some('e'), N, Tag::EditDest),
    o("delete-server", Some('d'), N, Tag::DelDest),
    o("set", None, N, Tag::Set),
    o("help", Some('h'), N, Tag::Help),
    o("version", Some('v'), N, Tag::Version),
    o("restore", Some('R'), N, Tag::Restore),
    o("save", Some('S'), N, Tag::Save),
    o("start-daemon", None, R, Tag::StartDaemon),
    o("stop-daemon", None, R, Tag::StopDaemon),
    o("tcp-service", Some('t'), R, Tag::Tcp),
    o("udp-service", Some('u'), R, Tag::Udp),
    o("sctp-service", None, R, Tag::Sctp),
    o("fwmark-service", Some('f'), R, Tag::Fwmark),
    o("scheduler", Some('s'), R, Tag::Sched),
    o("persistent", Some('p'), Opt, Tag::Persistent),
    o("netmask", Some('M'), R, Tag::Netmask),
    o("real-server", Some('r'), R, Tag::Real),
    o("masquerading", Some('m'), N, Tag::Masq),
    o("ipip", Some('i'), N, Tag::Ipip),
    o("gatewaying", Some('g'), N, Tag::Gate),
    o("weight", Some('w'), R, Tag::Weight),
    o("u-threshold", Some('x'), R, Tag::UThresh),
    o("l-threshold", Some('y'), R, Tag::LThresh),
    o("numeric", Some('n'), N, Tag::Numeric),
    o("connection", Some('c'), N, Tag::Connection),
    o("mcast-interface", None, R, Tag::McastIf),
    o("syncid", None, R, Tag::SyncId),
    o("timeout", None, N, Tag::Timeout),
    o("daemon", None, N, Tag::Daemon),
    o("stats", None, N, Tag::Stats),
    o("rate", None, N, Tag::Rate),
    o("thresholds", None, N, Tag::Thresholds),
    o("persistent-conn", None, N, Tag::PersistConn),
    o("nosort", None, N, Tag::NoSort),
    o("sort", None, N, Tag::Sort),
    o("exact", Some('X'), N, Tag::Exact),
    o("ipv6", Some('6'), N, Tag::Ipv6),
    o("ops", Some('o'), N, Tag::Ops),
    o("pe", None, R, Tag::Pe),
    o("sched-flags", Some('b'), R, Tag::SchedFlags),
    o("mcast-group", None, R, Tag::McastGroup),
    o("mcast-port", None, R, Tag::McastPort),
    o("mcast-ttl", None, R, Tag::McastTtl),
    o("sync-maxlen", None, R, Tag::SyncMaxlen),
    o("tun-info", None, N, Tag::TunInfo),
    o("tun-type", None, R, Tag::TunType),
    o("tun-port", None, R, Tag::TunPort),
    o("tun-nocsum", None, N, Tag::TunNocsum),
    o("tun-csum", None, N, Tag::TunCsum),
    o("tun-remcsum", None, N, Tag::TunRemcsum),
    o("json", None, N, Tag::Json),
    o("drain", None, R, Tag::Drain),
];

/// Names of every long option, for shell completion.
pub fn long_option_names() -> impl Iterator<Item = &'static str> {
    OPTIONS.iter().map(|d| d.long)
}

/// How the program must stop: text for stdout and stderr, and the exit status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exit {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Exit {
    /// ipvsadm's `fail()`: message and newline on stderr.
    pub fn fail(code: i32, msg: impl Into<String>) -> Self {
        let mut s = msg.into();
        s.push('\n');
        Exit {
            code,
            stdout: String::new(),
            stderr: s,
        }
    }

    /// A popt error reported after the first option: parse_options() returns -1, which
    /// process_options() passes on (exit status 255, or "carry on" while restoring).
    pub fn is_soft(&self) -> bool {
        self.code == SOFT_ERROR
    }
}

/// Marker exit code for popt errors after the first option ("return -1", not "exit").
pub const SOFT_ERROR: i32 = -1;

/// A fully parsed and checked command line (`struct ipvs_command_entry` plus option bits).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandEntry {
    pub cmd: Cmd,
    pub svc: Service,
    pub dest: Dest,
    pub timeout: Timeouts,
    pub daemon: Daemon,
    pub options: u64,
    pub format: u32,
}

impl CommandEntry {
    pub fn has(&self, opt: u32) -> bool {
        self.options & (1u64 << opt) != 0
    }
}

fn bit(opt: u32) -> u64 {
    1u64 << opt
}

/// `Try `%s -h' or '%s --help' for more information.`, exit status 255 (`exit(-1)`).
pub fn tryhelp(program: &str) -> Exit {
    Exit {
        code: 255,
        stdout: String::new(),
        stderr: format!("Try `{program} -h' or '{program} --help' for more information.\n"),
    }
}

/// The `version()` line.
pub fn version_line() -> String {
    let v = fvs_uapi::IP_VS_VERSION_CODE;
    format!(
        "ipvsadm v1.31 2019/12/24 (compiled with popt and IPVS v{}.{}.{})\n",
        (v >> 16) & 0xff,
        (v >> 8) & 0xff,
        v & 0xff
    )
}

/// `usage_exit(program, 0)` text.
pub fn usage(program: &str) -> String {
    let p = program;
    let mut s = version_line();
    s.push_str("Usage:\n");
    for line in [
        "-A|E virtual-service [-s scheduler] [-p [timeout]] [-M netmask] [--pe persistence_engine] [-b sched-flags]",
        "-D virtual-service",
        "-C",
        "-R",
        "-S [-n]",
        "-a|e virtual-service -r server-address [options]",
        "-d virtual-service -r server-address",
        "-L|l [virtual-service] [options]",
        "-Z [virtual-service]",
        "--set tcp tcpfin udp",
        "--start-daemon {master|backup} [daemon-options]",
        "--stop-daemon {master|backup}",
        "-h",
    ] {
        s.push_str(&format!("  {p} {line}\n"));
    }
    s.push('\n');
    s.push_str(USAGE_BODY);
    s
}

const USAGE_BODY: &str = "Commands:
Either long or short options are allowed.
  --add-service     -A        add virtual service with options
  --edit-service    -E        edit virtual service with options
  --delete-service  -D        delete virtual service
  --clear           -C        clear the whole table
  --restore         -R        restore rules from stdin
  --save            -S        save rules to stdout
  --add-server      -a        add real server with options
  --edit-server     -e        edit real server with options
  --delete-server   -d        delete real server
  --list            -L|-l     list the table
  --zero            -Z        zero counters in a service or all services
  --set tcp tcpfin udp        set connection timeout values
  --start-daemon              start connection sync daemon
  --stop-daemon               stop connection sync daemon
  --help            -h        display this help message

virtual-service:
  --tcp-service|-t  service-address   service-address is host[:port]
  --udp-service|-u  service-address   service-address is host[:port]
  --sctp-service    service-address   service-address is host[:port]
  --fwmark-service|-f fwmark          fwmark is an integer greater than zero

Options:
  --ipv6         -6                   fwmark entry uses IPv6
  --scheduler    -s scheduler         one of rr|wrr|lc|wlc|lblc|lblcr|dh|sh|sed|nq|fo|ovf|mh,
                                      the default scheduler is wlc.
  --pe            engine              alternate persistence engine may be sip,
                                      not set by default.
  --persistent   -p [timeout]         persistent service
  --netmask      -M netmask           persistent granularity mask
  --real-server  -r server-address    server-address is host (and port)
  --gatewaying   -g                   gatewaying (direct routing) (default)
  --ipip         -i                   ipip encapsulation (tunneling)
  --masquerading -m                   masquerading (NAT)
  --tun-type      type                one of ipip|gue|gre,
                                      the default tunnel type is ipip.
  --tun-port      port                tunnel destination port
  --tun-nocsum                        tunnel encapsulation without checksum
  --tun-csum                          tunnel encapsulation with checksum
  --tun-remcsum                       tunnel encapsulation with remote checksum
  --weight       -w weight            capacity of real server
  --u-threshold  -x uthreshold        upper threshold of connections
  --l-threshold  -y lthreshold        lower threshold of connections
  --connection   -c                   output of current IPVS connections
  --timeout                           output of timeout (tcp tcpfin udp)
  --daemon                            output of daemon information
  --stats                             output of statistics information
  --rate                              output of rate information
  --exact                             expand numbers (display exact values)
  --thresholds                        output of thresholds information
  --persistent-conn                   output of persistent connection info
  --tun-info                          output of tunnel information
  --nosort                            disable sorting output of service/server entries
  --sort                              does nothing, for backwards compatibility
  --ops          -o                   one-packet scheduling
  --numeric      -n                   numeric output of addresses and ports
  --sched-flags  -b flags             scheduler flags (comma-separated)
Daemon Options:
  --syncid sid                        syncid for connection sync (default=255)
  --sync-maxlen length                Max sync message length (default=1472)
  --mcast-interface interface         multicast interface for connection sync
  --mcast-group address               IPv4/IPv6 group (default=224.0.0.81)
  --mcast-port port                   UDP port (default=8848)
  --mcast-ttl ttl                     Multicast TTL (default=1)
";

const SERVICE_ADDR: u32 = 1;
const SERVICE_PORT: u32 = 2;

/// ipvsadm's `parse_service()`: `host[:port]`, `[v6addr]:port` or a bare IPv6 address.
/// Mutates `svc` like the C code (address/af/netmask may be set even when the port then fails)
/// and returns the SERVICE_* bits (0 on error).
fn parse_service(buf: &str, svc: &mut Service) -> u32 {
    if buf.bytes().all(|b| b.is_ascii_digit()) {
        return 0;
    }
    let mut host = buf;
    let mut port: Option<&str> = None;
    if let Some(rest) = buf.strip_prefix('[') {
        let close = match rest.find(']') {
            Some(p) => p,
            None => return 0,
        };
        let after = &rest[close + 1..];
        if !after.starts_with(':') {
            return 0;
        }
        host = &rest[..close];
        port = Some(&after[1..]);
    }
    if let Some(a6) = resolve::inet_pton6(host) {
        svc.addr = a6;
        svc.af = AF_INET6;
        svc.netmask = 128;
    } else {
        // strrchr(buf, ':') on what is left of the buffer (for "[a.b.c.d]:p" the ']' has
        // already been cut, so no port is found).
        port = None;
        if let Some(p) = host.rfind(':') {
            port = Some(&host[p + 1..]);
            host = &host[..p];
        }
        let a4 = match resolve::inet_aton(host).or_else(|| resolve::host_to_addr(host)) {
            Some(a) => a,
            None => return 0,
        };
        svc.addr = crate::model::v4(a4);
        svc.af = AF_INET;
    }
    let mut result = SERVICE_ADDR;
    if let Some(p) = port {
        result |= SERVICE_PORT;
        if let Some(n) = resolve::string_to_number(p, 0, 65535) {
            svc.port = n as u16;
        } else if let Some(n) = resolve::service_to_port(p, svc.protocol) {
            svc.port = n;
        } else {
            return 0;
        }
    }
    result
}

/// Splits like `strtok(s, ",")`: empty fields are skipped.
fn strtok_commas(s: &str) -> impl Iterator<Item = &str> {
    s.split(',').filter(|f| !f.is_empty())
}

fn parse_sched_flags(sched: &str, arg: &str) -> Result<u32, Exit> {
    let sched = if sched.is_empty() { DEF_SCHED } else { sched };
    let mut flags = 0;
    for flag in strtok_commas(arg) {
        let (bitv, need) = match flag {
            "flag-1" => (svc_flags::SCHED1, None),
            "flag-2" => (svc_flags::SCHED2, None),
            "flag-3" => (svc_flags::SCHED3, None),
            "sh-fallback" => (svc_flags::SCHED_SH_FALLBACK, Some("sh")),
            "sh-port" => (svc_flags::SCHED_SH_PORT, Some("sh")),
            "mh-fallback" => (svc_flags::SCHED_MH_FALLBACK, Some("mh")),
            "mh-port" => (svc_flags::SCHED_MH_PORT, Some("mh")),
            _ => return Err(Exit::fail(2, format!("invalid scheduler flag `{flag}'"))),
        };
        flags |= bitv;
        if let Some(n) = need {
            if sched != n {
                return Err(Exit::fail(
                    2,
                    format!("incompatible scheduler flag `{flag}'"),
                ));
            }
        }
    }
    Ok(flags)
}

fn parse_timeout(buf: Option<&str>, min: i64, max: i64) -> Result<u32, Exit> {
    match buf {
        None => Ok(DEFAULT_PERSISTENT_TIMEOUT),
        Some(b) => resolve::string_to_number(b, min, max)
            .map(|v| v as u32)
            .ok_or_else(|| Exit::fail(2, format!("invalid timeout value `{b}' specified"))),
    }
}

/// `strncpy(dst, src, n)` into a NUL-terminated buffer read back as a C string.
fn strncpy(src: &str, n: usize) -> String {
    let b = src.as_bytes();
    let end = b.len().min(n);
    String::from_utf8_lossy(&b[..end]).into_owned()
}

fn set_option(options: &mut u64, opt: u32) -> Result<(), Exit> {
    if *options & bit(opt) != 0 {
        return Err(Exit::fail(
            2,
            format!("multiple '{}' options specified", OPT_NAMES[opt as usize]),
        ));
    }
    *options |= bit(opt);
    Ok(())
}

fn is_ipv4_multicast(a: [u8; 4]) -> bool {
    (a[0] & 0xf0) == 0xe0
}

/// What parsing decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parsed {
    /// A command to execute.
    Run(Box<CommandEntry>),
    /// Stop now (help, version, or an error).
    Exit(Exit),
}

/// ipvsadm's `parse_options()` followed by the checks of `process_options()`.
/// `program` is argv[0]; `argv` includes it.
pub fn parse(argv: &[String]) -> Parsed {
    match parse_inner(argv) {
        Ok(ce) => Parsed::Run(Box::new(ce)),
        Err(e) => Parsed::Exit(e),
    }
}

fn parse_inner(argv: &[String]) -> Result<CommandEntry, Exit> {
    let program = argv.first().map(String::as_str).unwrap_or("ipvsadm");
    let mut ctx = Context::new(OPTIONS, argv);
    let mut svc = Service::default();
    let mut dest = Dest::default();
    let mut timeout = Timeouts::default();
    let mut daemon = Daemon::default();
    let mut options: u64 = 0;
    let mut format: u32 = 0;
    let mut sched_flags_arg = String::new();

    let first = ctx.next_opt();
    let (tag, arg) = match first {
        Next::Opt(t, a) => (t, a),
        _ => return Err(tryhelp(program)),
    };
    let cmd = match tag {
        Tag::Add => Cmd::Add,
        Tag::Edit => Cmd::Edit,
        Tag::Del => Cmd::Del,
        Tag::AddDest => Cmd::AddDest,
        Tag::EditDest => Cmd::EditDest,
        Tag::DelDest => Cmd::DelDest,
        Tag::Clear => Cmd::Flush,
        Tag::List => Cmd::List,
        Tag::Zero => Cmd::Zero,
        Tag::Set => Cmd::Timeout,
        Tag::Restore => Cmd::Restore,
        Tag::Save => Cmd::Save,
        Tag::StartDaemon | Tag::StopDaemon => {
            let start = tag == Tag::StartDaemon;
            match arg.as_deref() {
                Some("master") => daemon.state = daemon_state::MASTER,
                Some("backup") => daemon.state = daemon_state::BACKUP,
                _ if start => {
                    return Err(Exit::fail(2, "illegal start-daemon parameter specified"))
                }
                _ => return Err(Exit::fail(2, "illegal start_daemon specified")),
            }
            if start {
                Cmd::StartDaemon
            } else {
                Cmd::StopDaemon
            }
        }
        Tag::Help => {
            return Err(Exit {
                code: 0,
                stdout: usage(program),
                stderr: String::new(),
            })
        }
        Tag::Version => {
            return Err(Exit {
                code: 0,
                stdout: version_line(),
                stderr: String::new(),
            })
        }
        _ => return Err(tryhelp(program)),
    };

    loop {
        let (tag, arg) = match ctx.next_opt() {
            Next::Opt(t, a) => (t, a),
            Next::End => break,
            Next::Error(e) => {
                return Err(Exit {
                    code: SOFT_ERROR,
                    stdout: String::new(),
                    stderr: format!("{}: {}\n", ctx.bad_option(), e.message()),
                })
            }
        };
        let a = arg.as_deref();
        let a_str = a.unwrap_or("");
        match tag {
            Tag::Tcp | Tag::Udp | Tag::Sctp => {
                set_option(&mut options, optc::SERVICE)?;
                svc.protocol = match tag {
                    Tag::Tcp => IPPROTO_TCP,
                    Tag::Udp => IPPROTO_UDP,
                    _ => IPPROTO_SCTP,
                };
                if parse_service(a_str, &mut svc) & SERVICE_ADDR == 0 {
                    return Err(Exit::fail(
                        2,
                        "illegal virtual server address[:port] specified",
                    ));
                }
            }
            Tag::Fwmark => {
                set_option(&mut options, optc::SERVICE)?;
                svc.af = AF_INET;
                svc.protocol = IPPROTO_TCP;
                svc.fwmark = resolve::parse_fwmark(a_str).ok_or_else(|| {
                    Exit::fail(2, format!("invalid fwmark value `{a_str}' specified"))
                })?;
            }
            Tag::Sched => {
                set_option(&mut options, optc::SCHEDULER)?;
                svc.sched_name = strncpy(a_str, fvs_uapi::IP_VS_SCHEDNAME_MAXLEN - 1);
            }
            Tag::Persistent => {
                set_option(&mut options, optc::PERSISTENT)?;
                svc.flags |= svc_flags::PERSISTENT;
                svc.timeout = parse_timeout(a, 1, MAX_TIMEOUT)?;
            }
            Tag::Netmask => {
                set_option(&mut options, optc::NETMASK)?;
                if svc.af != AF_INET6 {
                    let m = resolve::inet_aton(a_str).or_else(|| resolve::host_to_addr(a_str));
                    match m {
                        Some(m) => svc.netmask = u32::from_ne_bytes(m),
                        None => {
                            return Err(Exit::fail(
                                2,
                                "illegal virtual server persistent mask specified",
                            ))
                        }
                    }
                } else {
                    let m = resolve::atoi(a_str);
                    svc.netmask = m as u32;
                    if !(1..=128).contains(&m) {
                        return Err(Exit::fail(2, "illegal ipv6 netmask specified"));
                    }
                }
            }
            Tag::Real => {
                set_option(&mut options, optc::SERVER)?;
                let mut t = svc.clone();
                let parse = parse_service(a_str, &mut t);
                dest.af = t.af;
                dest.addr = t.addr;
                dest.port = t.port;
                if parse & SERVICE_ADDR == 0 {
                    return Err(Exit::fail(
                        2,
                        "illegal real server address[:port] specified",
                    ));
                }
                if parse == SERVICE_ADDR {
                    dest.port = svc.port;
                }
            }
            Tag::Ipip | Tag::Gate | Tag::Masq => {
                set_option(&mut options, optc::FORWARD)?;
                dest.conn_flags = match tag {
                    Tag::Ipip => conn_flags::TUNNEL,
                    Tag::Gate => conn_flags::DROUTE,
                    _ => conn_flags::MASQ,
                };
            }
            Tag::Weight => {
                set_option(&mut options, optc::WEIGHT)?;
                dest.weight = resolve::string_to_number(a_str, 0, MAX_WEIGHT)
                    .ok_or_else(|| Exit::fail(2, "illegal weight specified"))?
                    as i32;
            }
            Tag::UThresh => {
                set_option(&mut options, optc::UTHRESHOLD)?;
                dest.u_threshold = resolve::string_to_number(a_str, 0, i32::MAX as i64)
                    .ok_or_else(|| Exit::fail(2, "illegal u_threshold specified"))?
                    as u32;
            }
            Tag::LThresh => {
                set_option(&mut options, optc::LTHRESHOLD)?;
                dest.l_threshold = resolve::string_to_number(a_str, 0, i32::MAX as i64)
                    .ok_or_else(|| Exit::fail(2, "illegal l_threshold specified"))?
                    as u32;
            }
            Tag::Connection => set_option(&mut options, optc::CONNECTION)?,
            Tag::Numeric => {
                set_option(&mut options, optc::NUMERIC)?;
                format |= fmt::NUMERIC;
            }
            Tag::McastIf => {
                set_option(&mut options, optc::MCAST)?;
                daemon.mcast_ifn = strncpy(a_str, fvs_uapi::IP_VS_IFNAME_MAXLEN - 1);
            }
            Tag::SyncId => {
                set_option(&mut options, optc::SYNCID)?;
                daemon.syncid = resolve::string_to_number(a_str, 0, 255)
                    .ok_or_else(|| Exit::fail(2, "illegal syncid specified"))?
                    as u32;
            }
            Tag::Timeout => set_option(&mut options, optc::TIMEOUT)?,
            Tag::Daemon => set_option(&mut options, optc::DAEMON)?,
            Tag::Stats => {
                set_option(&mut options, optc::STATS)?;
                format |= fmt::STATS;
            }
            Tag::Rate => {
                set_option(&mut options, optc::RATE)?;
                format |= fmt::RATE;
            }
            Tag::Thresholds => {
                set_option(&mut options, optc::THRESHOLDS)?;
                format |= fmt::THRESHOLDS;
            }
            Tag::PersistConn => {
                set_option(&mut options, optc::PERSISTENTCONN)?;
                format |= fmt::PERSISTENTCONN;
            }
            Tag::NoSort => {
                set_option(&mut options, optc::NOSORT)?;
                format |= fmt::NOSORT;
            }
            Tag::Sort => {}
            Tag::Exact => {
                set_option(&mut options, optc::EXACT)?;
                format |= fmt::EXACT;
            }
            Tag::Ipv6 => {
                if svc.fwmark != 0 {
                    svc.af = AF_INET6;
                    svc.netmask = 128;
                } else {
                    return Err(Exit::fail(2, "-6 used before -f\n"));
                }
            }
            Tag::Ops => {
                set_option(&mut options, optc::ONEPACKET)?;
                svc.flags |= svc_flags::ONEPACKET;
            }
            Tag::Pe => {
                set_option(&mut options, optc::PERSISTENCE_ENGINE)?;
                svc.pe_name = strncpy(a_str, fvs_uapi::IP_VS_PENAME_MAXLEN);
            }
            Tag::SchedFlags => {
                set_option(&mut options, optc::SCHED_FLAGS)?;
                sched_flags_arg = strncpy(a_str, 127);
            }
            Tag::McastGroup => {
                set_option(&mut options, optc::MCAST_GROUP)?;
                if a_str.contains(':') {
                    match resolve::inet_pton6(a_str) {
                        Some(g) if g[0] == 0xff => {
                            daemon.mcast_group = g;
                        }
                        _ => {
                            return Err(Exit::fail(
                                2,
                                format!("invalid IPv6 mcast-group `{a_str}'"),
                            ))
                        }
                    }
                    daemon.mcast_af = AF_INET6;
                } else {
                    match resolve::inet_pton4(a_str) {
                        Some(g) if is_ipv4_multicast(g) => {
                            daemon.mcast_group = crate::model::v4(g);
                        }
                        _ => {
                            return Err(Exit::fail(
                                2,
                                format!("invalid IPv4 mcast-group `{a_str}'"),
                            ))
                        }
                    }
                    daemon.mcast_af = AF_INET;
                }
            }
            Tag::McastPort => {
                set_option(&mut options, optc::MCAST_PORT)?;
                daemon.mcast_port = resolve::string_to_number(a_str, 1, 65535)
                    .ok_or_else(|| Exit::fail(2, "illegal mcast-port specified"))?
                    as u16;
            }
            Tag::McastTtl => {
                set_option(&mut options, optc::MCAST_TTL)?;
                daemon.mcast_ttl = resolve::string_to_number(a_str, 1, 255)
                    .ok_or_else(|| Exit::fail(2, "illegal mcast-ttl specified"))?
                    as u8;
            }
            Tag::SyncMaxlen => {
                set_option(&mut options, optc::SYNC_MAXLEN)?;
                daemon.sync_maxlen = resolve::string_to_number(a_str, 1, 65535 - 20 - 8)
                    .ok_or_else(|| Exit::fail(2, "illegal sync-maxlen specified"))?
                    as u16;
            }
            Tag::TunInfo => {
                set_option(&mut options, optc::TUN_INFO)?;
                format |= fmt::TUN_INFO;
            }
            Tag::TunType => {
                set_option(&mut options, optc::TUN_TYPE)?;
                dest.tun_type = match a_str {
                    "ipip" => fvs_uapi::tun_type::IPIP,
                    "gue" => fvs_uapi::tun_type::GUE,
                    "gre" => fvs_uapi::tun_type::GRE,
                    _ => return Err(Exit::fail(2, "illegal tunnel type specified")),
                };
            }
            Tag::TunPort => {
                set_option(&mut options, optc::TUN_PORT)?;
                dest.tun_port = resolve::string_to_number(a_str, 1, 65535)
                    .ok_or_else(|| Exit::fail(2, "illegal tunnel port specified"))?
                    as u16;
            }
            Tag::TunNocsum => {
                set_option(&mut options, optc::TUN_NOCSUM)?;
                dest.tun_flags |= tun_flags::NOCSUM;
            }
            Tag::TunCsum => {
                set_option(&mut options, optc::TUN_CSUM)?;
                dest.tun_flags |= tun_flags::CSUM;
            }
            Tag::TunRemcsum => {
                set_option(&mut options, optc::TUN_REMCSUM)?;
                dest.tun_flags |= tun_flags::REMCSUM;
            }
            Tag::Json => {
                set_option(&mut options, optc::JSON)?;
                format |= fmt::JSON;
            }
            Tag::Drain => {
                set_option(&mut options, optc::DRAIN)?;
                dest.drain = Some(
                    resolve::string_to_number(a_str, 1, MAX_DRAIN)
                        .ok_or_else(|| Exit::fail(2, "illegal drain time specified"))?
                        as u32,
                );
            }
            _ => {
                return Err(Exit::fail(
                    2,
                    format!("invalid option `{}'", ctx.bad_option()),
                ));
            }
        }
    }

    if cmd == Cmd::Timeout {
        let a = ctx.get_arg();
        let b = ctx.get_arg();
        let c = ctx.get_arg();
        match (a, b, c) {
            (Some(a), Some(b), Some(c)) => {
                timeout.tcp = parse_timeout(Some(&a), 0, MAX_TIMEOUT)?;
                timeout.tcp_fin = parse_timeout(Some(&b), 0, MAX_TIMEOUT)?;
                timeout.udp = parse_timeout(Some(&c), 0, MAX_TIMEOUT)?;
            }
            _ => return Err(Exit::fail(2, "--set option requires 3 timeout values")),
        }
    }

    if let Some(extra) = ctx.get_arg() {
        return Err(Exit::fail(2, format!("unexpected argument {extra}")));
    }

    if !sched_flags_arg.is_empty() {
        svc.flags &= !(svc_flags::SCHED1 | svc_flags::SCHED2 | svc_flags::SCHED3);
        svc.flags |= parse_sched_flags(&svc.sched_name, &sched_flags_arg)?;
    }

    let mut ce = CommandEntry {
        cmd,
        svc,
        dest,
        timeout,
        daemon,
        options,
        format,
    };
    check(&mut ce)?;
    Ok(ce)
}

/// `generic_opt_check()`.
fn generic_opt_check(cmd: Cmd, options: u64) -> Result<(), Exit> {
    let row = COMMANDS_V_OPTIONS[cmd.index()];
    let mut last = 0usize;
    let mut count = 0;
    for (j, &rule) in row.iter().enumerate() {
        if options & bit(j as u32) == 0 {
            if rule == b'+' {
                return Err(Exit::fail(
                    2,
                    format!(
                        "You need to supply the '{}' option for the '{}' command",
                        OPT_NAMES[j],
                        cmd.name()
                    ),
                ));
            }
        } else {
            if rule == b'x' {
                return Err(Exit::fail(
                    2,
                    format!(
                        "Illegal '{}' option with the '{}' command",
                        OPT_NAMES[j],
                        cmd.name()
                    ),
                ));
            }
            if rule == b'1' {
                count += 1;
                if count == 1 {
                    last = j;
                    continue;
                }
                return Err(Exit::fail(
                    2,
                    format!(
                        "The option '{}' conflicts with the '{}' option in the '{}' command",
                        OPT_NAMES[j],
                        OPT_NAMES[last],
                        cmd.name()
                    ),
                ));
            }
        }
    }
    // Each extension option is legal with one command only.
    for (opt, only) in EXTENSION_OPTS {
        if options & bit(opt) != 0 && cmd != only {
            return Err(Exit::fail(
                2,
                format!(
                    "Illegal '{}' option with the '{}' command",
                    OPT_NAMES[opt as usize],
                    cmd.name()
                ),
            ));
        }
    }
    Ok(())
}

/// `tunnel_opt_check()`.
fn tunnel_opt_check(tun_type: u8, options: u64) -> Result<(), Exit> {
    let i = tun_type as usize;
    let row = TUNNEL_TYPES_V_OPTIONS[i];
    let mut last = 0u32;
    let mut count = 0;
    for (j, &k) in TUN_OPTS.iter().enumerate() {
        let rule = row[j];
        if options & bit(k) == 0 {
            if rule == b'+' {
                return Err(Exit::fail(
                    2,
                    format!(
                        "You need to supply the '{}' option for the '{}' tunnel type",
                        OPT_NAMES[k as usize], TUN_NAMES[i]
                    ),
                ));
            }
        } else {
            if rule == b'x' {
                return Err(Exit::fail(
                    2,
                    format!(
                        "Illegal '{}' option with the '{}' tunnel type",
                        OPT_NAMES[k as usize], TUN_NAMES[i]
                    ),
                ));
            }
            if rule == b'1' {
                count += 1;
                if count == 1 {
                    last = k;
                    continue;
                }
                return Err(Exit::fail(
                    2,
                    format!(
                        "The option '{}' conflicts with the '{}' option in the '{}' tunnel type",
                        OPT_NAMES[k as usize], OPT_NAMES[last as usize], TUN_NAMES[i]
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// The checks at the top of `process_options()`, after parsing.
fn check(ce: &mut CommandEntry) -> Result<(), Exit> {
    generic_opt_check(ce.cmd, ce.options)?;

    if matches!(ce.cmd, Cmd::Add | Cmd::Edit) {
        if ce.svc.fwmark == 0 && ce.svc.port == 0 && ce.svc.flags & svc_flags::PERSISTENT == 0 {
            return Err(Exit::fail(
                2,
                "Zero port specified for non-persistent service",
            ));
        }
        if ce.svc.flags & svc_flags::ONEPACKET != 0
            && ce.svc.fwmark == 0
            && ce.svc.protocol != IPPROTO_UDP
        {
            return Err(Exit::fail(
                2,
                "One-Packet Scheduling is only for UDP virtual services",
            ));
        }
        if ce.svc.sched_name.is_empty() {
            ce.svc.sched_name = DEF_SCHED.to_string();
        }
    }

    if ce.cmd == Cmd::StartDaemon && ce.daemon.mcast_ifn.is_empty() {
        ce.daemon.mcast_ifn = DEF_MCAST_IFN.to_string();
    }

    let fwd = ce.dest.conn_flags & conn_flags::FWD_MASK;
    if matches!(ce.cmd, Cmd::AddDest | Cmd::EditDest) {
        if ce.svc.fwmark == 0 && (fwd == conn_flags::TUNNEL || fwd == conn_flags::DROUTE) {
            ce.dest.port = ce.svc.port;
        }
        if ce.dest.af != ce.svc.af && fwd != conn_flags::TUNNEL {
            return Err(Exit::fail(
                2,
                "Different address family is allowed only for tunneling servers",
            ));
        }
        let tun_opts = bit(optc::TUN_TYPE)
            | bit(optc::TUN_PORT)
            | bit(optc::TUN_NOCSUM)
            | bit(optc::TUN_CSUM)
            | bit(optc::TUN_REMCSUM);
        if ce.options & tun_opts != 0 && fwd != conn_flags::TUNNEL {
            return Err(Exit::fail(2, "Tunnel options conflict with forward method"));
        }
        tunnel_opt_check(ce.dest.tun_type, ce.options)?;
    }

    if ce.cmd == Cmd::List {
        let o = ce.options;
        let any = |bits: &[u32]| bits.iter().any(|b| o & bit(*b) != 0);
        if (any(&[optc::CONNECTION, optc::TIMEOUT, optc::DAEMON])
            && any(&[optc::STATS, optc::RATE, optc::THRESHOLDS]))
            || (any(&[optc::TIMEOUT, optc::DAEMON]) && any(&[optc::PERSISTENTCONN]))
        {
            return Err(Exit::fail(2, "options conflicts in the list command"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        std::iter::once("ipvsadm")
            .chain(s.split_whitespace())
            .map(String::from)
            .collect()
    }

    fn run(s: &str) -> Result<CommandEntry, Exit> {
        parse_inner(&argv(s))
    }

    fn err(s: &str) -> (i32, String) {
        match run(s) {
            Ok(ce) => panic!("`{s}` parsed: {ce:?}"),
            Err(e) => (e.code, e.stderr),
        }
    }

    fn fails(s: &str, msg: &str) {
        assert_eq!(err(s), (2, format!("{msg}\n")), "for `{s}`");
    }

    #[test]
    fn first_option_must_be_a_command() {
        let th = "Try `ipvsadm -h' or 'ipvsadm --help' for more information.\n".to_string();
        assert_eq!(err("-t 1.1.1.1:80 -A"), (255, th.clone()));
        assert_eq!(err("-nL"), (255, th.clone()));
        assert_eq!(err("-V"), (255, th.clone()));
        assert_eq!(err(""), (255, th.clone()));
        assert_eq!(err("--add -t 1.1.1.1:80"), (255, th.clone()));
        assert_eq!(err("-L=n"), (255, th.clone()));
        assert_eq!(err("--timeout -L"), (255, th));
    }

    #[test]
    fn popt_errors_after_the_command() {
        assert_eq!(err("-A -t"), (SOFT_ERROR, "-t: missing argument\n".into()));
        assert_eq!(err("-Ax"), (SOFT_ERROR, "-Ax: missing argument\n".into()));
        assert_eq!(
            err("-A -t 1.1.1.1:80 -Q"),
            (SOFT_ERROR, "-Q: unknown option\n".into())
        );
        assert_eq!(
            err("-A --tcp 1.1.1.1:80"),
            (SOFT_ERROR, "--tcp: unknown option\n".into())
        );
        assert_eq!(
            err("-L --numeric=1"),
            (
                SOFT_ERROR,
                "--numeric=1: option does not take an argument\n".into()
            )
        );
        assert_eq!(
            err("-Ln="),
            (
                SOFT_ERROR,
                "-Ln=: option does not take an argument\n".into()
            )
        );
        assert_eq!(
            err("-A -t 1.1.1.1:80 -p -5"),
            (SOFT_ERROR, "-5: unknown option\n".into())
        );
    }

    #[test]
    fn option_table_messages() {
        fails(
            "-A -t 10.0.0.1:80 -w 3",
            "Illegal 'weight' option with the 'add-service' command",
        );
        fails("-L -A", "invalid option `-A'");
        fails("-Lh", "invalid option `-Lh'");
        fails(
            "-list -n",
            "Illegal 'scheduler' option with the 'list' command",
        );
        fails("-L -n -n", "multiple 'numeric' options specified");
        fails(
            "-A -u 1.1.1.1:53 -o -f 3",
            "multiple 'service-address' options specified",
        );
        fails(
            "-a -r 1.1.1.1",
            "You need to supply the 'service-address' option for the 'add-server' command",
        );
        fails(
            "-a -t 1.1.1.1:80",
            "You need to supply the 'real-server' option for the 'add-server' command",
        );
        fails(
            "-L -c --timeout",
            "The option 'timeout' conflicts with the 'connection' option in the 'list' command",
        );
        fails("-L -c --stats", "options conflicts in the list command");
        fails(
            "-L --daemon --persistent-conn",
            "options conflicts in the list command",
        );
        fails(
            "-Z -t 1.1.1.1:80 -n",
            "Illegal 'numeric' option with the 'zero' command",
        );
        fails("-C -n", "Illegal 'numeric' option with the 'flush' command");
        fails(
            "-S -c",
            "Illegal 'connection' option with the 'save' command",
        );
        fails(
            "--stop-daemon master --syncid 3 --mcast-port 9",
            "Illegal 'mcast-port' option with the 'stop-daemon' command",
        );
        fails(
            "-A -t 1.1.1.1:80 --json",
            "Illegal 'json' option with the 'add-service' command",
        );
    }

    #[test]
    fn value_messages() {
        fails(
            "-A -t 1.1.1.1",
            "Zero port specified for non-persistent service",
        );
        fails(
            "-A -t 1.1.1.1:80 -o",
            "One-Packet Scheduling is only for UDP virtual services",
        );
        fails(
            "-A -t 1.1.1.1:8\\0",
            "illegal virtual server address[:port] specified",
        );
        fails(
            "-A -t 80",
            "illegal virtual server address[:port] specified",
        );
        fails(
            "-A -t [::1]",
            "illegal virtual server address[:port] specified",
        );
        fails(
            "-A -t 1.1.1.1:65536",
            "illegal virtual server address[:port] specified",
        );
        fails(
            "-A -t 1.1.1.1:nosuchservicename",
            "illegal virtual server address[:port] specified",
        );
        fails("-A -f 0", "invalid fwmark value `0' specified");
        fails("-A -f 1 -p 0", "invalid timeout value `0' specified");
        fails(
            "-A -f 1 -p 2678401",
            "invalid timeout value `2678401' specified",
        );
        fails("-A -6 -f 1", "-6 used before -f\n");
        fails("-A -t [::1]:80 -p -M 129", "illegal ipv6 netmask specified");
        fails(
            "-A -t 1.1.1.1:80 -p -M 1.2.3.4.5",
            "illegal virtual server persistent mask specified",
        );
        fails(
            "-A -t 1.1.1.1:80 -b sh-port",
            "incompatible scheduler flag `sh-port'",
        );
        fails(
            "-A -t 1.1.1.1:80 -s sh -b sh-port,flag-3,bogus",
            "invalid scheduler flag `bogus'",
        );
        fails(
            "-a -t 1.1.1.1:80 -r 2.2.2.2 -w -1",
            "illegal weight specified",
        );
        fails(
            "-a -t 1.1.1.1:80 -r 2.2.2.2 -w 2147483648",
            "illegal weight specified",
        );
        fails(
            "-a -t 1.1.1.1:80 -r 2.2.2.2 -x x",
            "illegal u_threshold specified",
        );
        fails(
            "-a -t 1.1.1.1:80 -r 2.2.2.2 -y -2",
            "illegal l_threshold specified",
        );
        fails(
            "-a -t 1.1.1.1:80 -r :80",
            "illegal real server address[:port] specified",
        );
        fails(
            "-a -t 1.1.1.1:80 -r 2.2.2.2 --tun-type gue",
            "Tunnel options conflict with forward method",
        );
        fails(
            "-a -t 1.1.1.1:80 -r 2.2.2.2 -i --tun-type vxlan",
            "illegal tunnel type specified",
        );
        fails(
            "-a -t 1.1.1.1:80 -r 2.2.2.2 -i --tun-type gue",
            "You need to supply the 'tun-port' option for the 'gue' tunnel type",
        );
        fails(
            "-a -t 1.1.1.1:80 -r 2.2.2.2 -i --tun-port 0",
            "illegal tunnel port specified",
        );
        fails(
            "-a -t 1.1.1.1:80 -r 2.2.2.2 -i --tun-port 5",
            "Illegal 'tun-port' option with the 'ipip' tunnel type",
        );
        fails(
            "-a -t 1.1.1.1:80 -r 2.2.2.2 -i --tun-type gre --tun-csum --tun-nocsum",
            "The option 'tun-csum' conflicts with the 'tun-nocsum' option in the 'gre' tunnel type",
        );
        fails(
            "-a -t 1.1.1.1:80 -r 2.2.2.2 -i --tun-type gre --tun-remcsum",
            "Illegal 'tun-remcsum' option with the 'gre' tunnel type",
        );
        fails(
            "-a -t 1.1.1.1:80 -r [::1]:80 -m",
            "Different address family is allowed only for tunneling servers",
        );
        fails(
            "--start-daemon foo",
            "illegal start-daemon parameter specified",
        );
        fails("--stop-daemon foo", "illegal start_daemon specified");
        fails(
            "--start-daemon master --mcast-group 1.2.3.4",
            "invalid IPv4 mcast-group `1.2.3.4'",
        );
        fails(
            "--start-daemon master --mcast-group ::1",
            "invalid IPv6 mcast-group `::1'",
        );
        fails(
            "--start-daemon master --syncid 256",
            "illegal syncid specified",
        );
        fails(
            "--start-daemon master --mcast-port 0",
            "illegal mcast-port specified",
        );
        fails(
            "--start-daemon master --mcast-ttl 256",
            "illegal mcast-ttl specified",
        );
        fails(
            "--start-daemon master --sync-maxlen 65508",
            "illegal sync-maxlen specified",
        );
        fails("--set 1 2", "--set option requires 3 timeout values");
        fails("--set 1 2 3 4", "unexpected argument 4");
        fails("--set 1 x 3", "invalid timeout value `x' specified");
        fails("-A -- -t 1.1.1.1:80", "unexpected argument -t");
        fails("foo -L", "unexpected argument foo");
        fails("-L -", "unexpected argument -");
    }

    #[test]
    fn help_and_version() {
        let e = err("-h -Q");
        assert_eq!(e.0, 0);
        match run("-h") {
            Err(Exit {
                code: 0, stdout, ..
            }) => {
                assert!(stdout.starts_with(
                    "ipvsadm v1.31 2019/12/24 (compiled with popt and IPVS v1.2.1)\nUsage:\n  ipvsadm -A|E virtual-service"
                ));
                assert!(stdout.ends_with(
                    "  --mcast-ttl ttl                     Multicast TTL (default=1)\n"
                ));
            }
            other => panic!("{other:?}"),
        }
        match run("--version") {
            Err(Exit {
                code: 0, stdout, ..
            }) => {
                assert_eq!(
                    stdout,
                    "ipvsadm v1.31 2019/12/24 (compiled with popt and IPVS v1.2.1)\n"
                )
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn service_parsing() {
        let ce = run("-A -t 10.0.0.1:80 -s rr").unwrap();
        assert_eq!(ce.cmd, Cmd::Add);
        assert_eq!(ce.svc.af, AF_INET);
        assert_eq!(ce.svc.protocol, IPPROTO_TCP);
        assert_eq!(&ce.svc.addr[..4], &[10, 0, 0, 1]);
        assert_eq!(ce.svc.port, 80);
        assert_eq!(ce.svc.sched_name, "rr");
        assert_eq!(ce.svc.netmask, 0xffff_ffff);

        let ce = run("-A -t [2001:db8::1]:443 -p").unwrap();
        assert_eq!(ce.svc.af, AF_INET6);
        assert_eq!(ce.svc.addr[..4], [0x20, 0x01, 0x0d, 0xb8]);
        assert_eq!(ce.svc.addr[15], 1);
        assert_eq!(ce.svc.port, 443);
        assert_eq!(ce.svc.netmask, 128);
        assert_eq!(ce.svc.timeout, 360);
        assert_eq!(ce.svc.sched_name, "wlc");

        // A bare IPv6 address has no port.
        let ce = run("-A -u 2001:db8::2 -p 10").unwrap();
        assert_eq!(ce.svc.port, 0);
        assert_eq!(ce.svc.af, AF_INET6);
        // "[a.b.c.d]:port" loses its port, exactly like ipvsadm.
        let ce = run("-A -t [1.2.3.4]:80 -p").unwrap();
        assert_eq!(ce.svc.port, 0);
        assert_eq!(&ce.svc.addr[..4], &[1, 2, 3, 4]);
        // inet_aton forms and names.
        let ce = run("-A -t 10.1:80").unwrap();
        assert_eq!(&ce.svc.addr[..4], &[10, 0, 0, 1]);
        let ce = run("-A -t 127.0.0.1:http").unwrap();
        assert_eq!(ce.svc.port, 80);
        let ce = run("-A -u 127.0.0.1:domain").unwrap();
        assert_eq!(ce.svc.port, 53);
        let ce = run("-A -t localhost:80").unwrap();
        assert_eq!(&ce.svc.addr[..4], &[127, 0, 0, 1]);
        // Attached and '=' forms.
        let ce = run("-At=10.0.0.1:80 -p=30").unwrap();
        assert_eq!(ce.svc.timeout, 30);
        // The scheduler name is cut to 15 characters.
        let ce = run("-A -t 1.1.1.1:80 -s 0123456789abcdefghij").unwrap();
        assert_eq!(ce.svc.sched_name, "0123456789abcde");
        let ce = run("-A -t 1.1.1.1:80 -s sh -b sh-port,sh-fallback").unwrap();
        assert_eq!(
            ce.svc.flags,
            svc_flags::SCHED_SH_PORT | svc_flags::SCHED_SH_FALLBACK
        );
    }

    #[test]
    fn netmask_and_fwmark() {
        let ce = run("-A -f 1 -M 64 -6 -p").unwrap();
        assert_eq!(
            (ce.svc.af, ce.svc.netmask, ce.svc.fwmark),
            (AF_INET6, 128, 1)
        );
        let ce = run("-A -f 1 -6 -M 64 -p").unwrap();
        assert_eq!(ce.svc.netmask, 64);
        let ce = run("-E -t 1.1.1.1:80 -p 60 -M 255.255.255.0").unwrap();
        assert_eq!(ce.svc.netmask.to_ne_bytes(), [255, 255, 255, 0]);
    }

    #[test]
    fn dest_parsing() {
        let ce = run("-a -t 10.0.0.1:80 -r 10.0.0.2 -m -w 5").unwrap();
        assert_eq!(ce.dest.port, 80);
        assert_eq!(ce.dest.conn_flags, conn_flags::MASQ);
        assert_eq!(ce.dest.weight, 5);
        // Direct routing forces the service port.
        let ce = run("-a -t 10.0.0.1:80 -r 10.0.0.2:8080").unwrap();
        assert_eq!(ce.dest.port, 80);
        assert_eq!(ce.dest.conn_flags, conn_flags::DROUTE);
        let ce = run("-a -t 10.0.0.1:80 -r 10.0.0.2:8080 -m").unwrap();
        assert_eq!(ce.dest.port, 8080);
        // Tunnels may cross families and carry GUE options.
        let ce = run(
            "-a -t 10.0.0.1:80 -r [2001:db8::5]:80 -i --tun-type gue --tun-port 6080 --tun-csum",
        )
        .unwrap();
        assert_eq!(ce.dest.af, AF_INET6);
        assert_eq!(
            (ce.dest.tun_type, ce.dest.tun_port, ce.dest.tun_flags),
            (1, 6080, 1)
        );
        // Debian allows weights up to INT_MAX.
        let ce = run("-a -t 10.0.0.1:80 -r 10.0.0.2 -w 2147483647").unwrap();
        assert_eq!(ce.dest.weight, i32::MAX);
        // Default weight 1.
        let ce = run("-e -f 7 -r 10.0.0.2 -x 10 -y 5").unwrap();
        assert_eq!(
            (ce.dest.weight, ce.dest.u_threshold, ce.dest.l_threshold),
            (1, 10, 5)
        );
    }

    #[test]
    fn drain_option() {
        let ce = run("-d -t 10.0.0.1:80 -r 10.0.0.2 --drain 20").unwrap();
        assert_eq!(ce.cmd, Cmd::DelDest);
        assert!(ce.has(optc::DRAIN));
        assert_eq!(ce.dest.drain, Some(20));
        assert_eq!(&ce.dest.addr[..4], &[10, 0, 0, 2]);
        let ce = run("--delete-server --drain=4294967295 -u 10.0.0.1:53 -r 10.0.0.2:53").unwrap();
        assert_eq!(ce.dest.drain, Some(u32::MAX));
        let ce = run("-d -f 7 -r 10.0.0.2 --drain 1").unwrap();
        assert_eq!(ce.dest.drain, Some(1));
        let ce = run("-d --sctp-service 10.0.0.1:80 -r 10.0.0.2 --drain 5").unwrap();
        assert_eq!(ce.dest.drain, Some(5));
        // Without --drain: nothing changes.
        let ce = run("-d -t 10.0.0.1:80 -r 10.0.0.2").unwrap();
        assert_eq!(ce.dest.drain, None);
        assert!(!ce.has(optc::DRAIN));

        for bad in ["0", "-1", "abc", "4294967296", "", "20s", "1.5"] {
            fails(
                &format!("-d -t 10.0.0.1:80 -r 10.0.0.2 --drain={bad}"),
                "illegal drain time specified",
            );
        }
        fails(
            "-d -t 10.0.0.1:80 -r 10.0.0.2 --drain 5 --drain 6",
            "multiple 'drain' options specified",
        );
        assert_eq!(
            err("-d -t 10.0.0.1:80 -r 10.0.0.2 --drain"),
            (SOFT_ERROR, "--drain: missing argument\n".into())
        );
        // Only -d takes it; the table's own checks come first.
        for (cmd, name) in [
            ("-a -t 10.0.0.1:80 -r 10.0.0.2", "add-server"),
            ("-e -t 10.0.0.1:80 -r 10.0.0.2", "edit-server"),
            ("-A -t 10.0.0.1:80", "add-service"),
            ("-E -t 10.0.0.1:80", "edit-service"),
            ("-D -t 10.0.0.1:80", "delete-service"),
            ("-Z -t 10.0.0.1:80", "zero"),
            ("-L", "list"),
            ("-S", "save"),
            ("-C", "flush"),
            ("-R", "restore"),
            ("--set 1 2 3", "set"),
            ("--start-daemon master", "start-daemon"),
            ("--stop-daemon master", "stop-daemon"),
        ] {
            fails(
                &format!("{cmd} --drain 20"),
                &format!("Illegal 'drain' option with the '{name}' command"),
            );
        }
        fails(
            "-d -t 10.0.0.1:80 --drain 20",
            "You need to supply the 'real-server' option for the 'delete-server' command",
        );
        fails(
            "-a -t 10.0.0.1:80 -r 10.0.0.2 --drain 20 --json",
            "Illegal 'json' option with the 'add-server' command",
        );
        // Not a command word.
        assert_eq!(err("--drain 20 -d -t 10.0.0.1:80 -r 10.0.0.2").0, 255);
    }

    #[test]
    fn list_forms() {
        let ce = run("-Lnc").unwrap();
        assert!(ce.has(optc::CONNECTION));
        assert_eq!(ce.format, fmt::NUMERIC);
        let ce = run("--list --numeric --stats --exact").unwrap();
        assert_eq!(ce.format, fmt::NUMERIC | fmt::STATS | fmt::EXACT);
        let ce = run("-l --sort --sort --nosort").unwrap();
        assert_eq!(ce.format, fmt::NOSORT);
        let ce = run("-L --stats --rate").unwrap();
        assert_eq!(ce.format, fmt::STATS | fmt::RATE);
        let ce = run("--start-daemon backup").unwrap();
        assert_eq!(ce.daemon.mcast_ifn, "eth0");
        assert_eq!(ce.daemon.state, daemon_state::BACKUP);
        let ce = run("--set 10 20 30").unwrap();
        assert_eq!(
            ce.timeout,
            Timeouts {
                tcp: 10,
                tcp_fin: 20,
                udp: 30
            }
        );
    }
}
