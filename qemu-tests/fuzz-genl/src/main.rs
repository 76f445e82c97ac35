//! fvs-fuzz-genl: a control-plane fuzzer for the IPVS generic netlink protocol.
//!
//! Phase 1 (`--malformed N`) sends N malformed messages (wrong types, lengths, truncated nests,
//! lying length fields, random flags and headers, oversize and empty payloads). Phase 2
//! (`--sequences N`) sends N well-formed commands with random values, keeps a model of the
//! services and destinations that the replies say exist, and checks it against full dumps at
//! the end. Every reply must parse. Each message is generated from its own PRNG seeded by
//! (seed, phase, index), so `--seed S --start I --malformed 1 --show` reproduces message I.
//!
//! Exit status: 0 on success; 1 when the socket breaks or a reply does not parse; 2 usage;
//! 3 when the final state disagrees with the model built from the replies.

mod check;
mod malformed;
mod nl;
mod rng;
mod seq;

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Instant;

use nl::{Conn, NLMSG_DONE, NLMSG_ERROR, NLMSG_NOOP, NLMSG_OVERRUN, NLM_F_MULTI};

pub fn errname(e: i32) -> String {
    let names: &[(i32, &str)] = &[
        (libc::EPERM, "EPERM"),
        (libc::ENOENT, "ENOENT"),
        (libc::ESRCH, "ESRCH"),
        (libc::EINTR, "EINTR"),
        (libc::EIO, "EIO"),
        (libc::E2BIG, "E2BIG"),
        (libc::EBADF, "EBADF"),
        (libc::EAGAIN, "EAGAIN"),
        (libc::ENOMEM, "ENOMEM"),
        (libc::EACCES, "EACCES"),
        (libc::EFAULT, "EFAULT"),
        (libc::EBUSY, "EBUSY"),
        (libc::EEXIST, "EEXIST"),
        (libc::ENODEV, "ENODEV"),
        (libc::EINVAL, "EINVAL"),
        (libc::ENOSPC, "ENOSPC"),
        (libc::ERANGE, "ERANGE"),
        (libc::EMSGSIZE, "EMSGSIZE"),
        (libc::ENOPROTOOPT, "ENOPROTOOPT"),
        (libc::EPROTONOSUPPORT, "EPROTONOSUPPORT"),
        (libc::EOPNOTSUPP, "EOPNOTSUPP"),
        (libc::EAFNOSUPPORT, "EAFNOSUPPORT"),
        (libc::EADDRINUSE, "EADDRINUSE"),
        (libc::EADDRNOTAVAIL, "EADDRNOTAVAIL"),
        (libc::ENOBUFS, "ENOBUFS"),
        (libc::ENOTCONN, "ENOTCONN"),
        (libc::ECONNREFUSED, "ECONNREFUSED"),
        (libc::EALREADY, "EALREADY"),
        (libc::ENOTSUP, "ENOTSUP"),
        (libc::ENOSYS, "ENOSYS"),
        (libc::ENXIO, "ENXIO"),
        (libc::ENETDOWN, "ENETDOWN"),
        (libc::ENETUNREACH, "ENETUNREACH"),
        (libc::EHOSTUNREACH, "EHOSTUNREACH"),
    ];
    names
        .iter()
        .find(|(n, _)| *n == e)
        .map(|(_, s)| s.to_string())
        .unwrap_or_else(|| format!("E{e}"))
}

/// What the kernel answered to one datagram.
#[derive(Debug, Default)]
pub struct Outcome {
    /// NLMSG_ERROR codes (0 = ACK) in arrival order; NLMSG_DONE codes as well (marked).
    pub codes: Vec<(bool, i32)>,
    /// Data messages (genl replies of the family), already validated.
    pub data: Vec<Vec<u8>>,
    pub send_err: Option<i32>,
}

impl Outcome {
    /// A compact, state-independent description: "ok", "EINVAL", "dump", "dump:EINVAL",
    /// "send:EMSGSIZE", "none", joined by ',' when one datagram carried several requests.
    pub fn describe(&self) -> String {
        if let Some(e) = self.send_err {
            return format!("send:{}", errname(e));
        }
        if self.codes.is_empty() {
            return if self.data.is_empty() {
                "none".into()
            } else {
                "data".into()
            };
        }
        self.codes
            .iter()
            .map(|(done, c)| match (done, c) {
                (false, 0) => "ok".to_string(),
                (false, c) => errname(-c),
                (true, 0) => "dump".to_string(),
                (true, c) => format!("dump:{}", errname(-c)),
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The first error (negative errno) or 0.
    pub fn result(&self) -> i32 {
        if let Some(e) = self.send_err {
            return -e;
        }
        self.codes
            .iter()
            .map(|(_, c)| *c)
            .find(|c| *c != 0)
            .unwrap_or(0)
    }
}

pub struct Fuzz {
    pub conn: Conn,
    pub family: u16,
    pub sent: u64,
    pub replies: u64,
    /// Reply codes: (errno name, count); "ACK" for 0, "DONE" for successful dumps.
    pub table: BTreeMap<String, u64>,
    pub stalls: u64,
    pub strays: u64,
    pub trace: Option<std::io::BufWriter<std::fs::File>>,
}

impl Fuzz {
    /// Sends one datagram with sequence number `seq` and drains every reply.
    pub fn exchange(&mut self, wire: &[u8], seq: u32) -> Result<Outcome, String> {
        let mut out = Outcome::default();
        self.sent += 1;
        if let Err(e) = self.conn.send(wire) {
            *self
                .table
                .entry(format!("send:{}", errname(e)))
                .or_default() += 1;
            out.send_err = Some(e);
            return Ok(out);
        }
        // Generic netlink handles a request synchronously inside sendmsg(), and continues a
        // dump inside each recvmsg(): every reply is queued when we look, except the rest
        // of a dump in progress, which we wait for.
        let mut dumping = false;
        loop {
            let timeout = if dumping { 3000 } else { 0 };
            let Some(msgs) = self.conn.recv(timeout)? else {
                if dumping {
                    self.stalls += 1;
                    eprintln!("seq {seq}: dump stalled (no NLMSG_DONE within 3 s)");
                }
                break;
            };
            for r in msgs {
                self.replies += 1;
                if r.seq != seq {
                    self.strays += 1;
                    eprintln!(
                        "seq {seq}: stray reply type {} seq {} ({} bytes)",
                        r.ty,
                        r.seq,
                        r.body.len()
                    );
                    continue;
                }
                match r.ty {
                    NLMSG_ERROR => {
                        let c = nl::error_code(&r.body)?;
                        let k = if c == 0 { "ACK".into() } else { errname(-c) };
                        *self.table.entry(k).or_default() += 1;
                        out.codes.push((false, c));
                        dumping = false;
                    }
                    NLMSG_DONE => {
                        if r.body.len() < 4 {
                            return Err(format!("seq {seq}: NLMSG_DONE of {} bytes", r.body.len()));
                        }
                        let c = i32::from_ne_bytes(r.body[0..4].try_into().unwrap());
                        let k = if c == 0 {
                            "DONE".into()
                        } else {
                            format!("DONE:{}", errname(-c))
                        };
                        *self.table.entry(k).or_default() += 1;
                        out.codes.push((true, c));
                        dumping = false;
                    }
                    NLMSG_NOOP | NLMSG_OVERRUN => {
                        return Err(format!("seq {seq}: unexpected message type {}", r.ty))
                    }
                    t if t == self.family => {
                        check::reply(&r.body).map_err(|e| format!("seq {seq}: bad reply: {e}"))?;
                        if r.flags & NLM_F_MULTI != 0 {
                            dumping = true;
                        }
                        out.data.push(r.body);
                    }
                    t => return Err(format!("seq {seq}: reply of foreign type {t}")),
                }
            }
        }
        Ok(out)
    }

    pub fn trace(&mut self, phase: &str, idx: u64, what: &str, out: &Outcome) {
        if let Some(t) = self.trace.as_mut() {
            let _ = writeln!(t, "{phase} {idx} {what} {}", out.describe());
        }
    }
}

struct Args {
    family: String,
    malformed: u64,
    sequences: u64,
    seed: u64,
    start: u64,
    show: bool,
    trace: Option<String>,
    keep: bool,
}

const USAGE: &str =
    "usage: fvs-fuzz-genl [FAMILY] [--family NAME] [--malformed N] [--sequences N] \
[--seed S] [--start I] [--show] [--trace FILE] [--keep]
  FAMILY/--family  generic netlink family (default FVS; IPVS for the kernel's ip_vs)
  --malformed N    malformed messages (default 100000)
  --sequences N    well-formed random commands (default 10000)
  --seed S         PRNG seed (default 1); message I of a phase depends only on (S, phase, I)
  --start I        first message index of each phase (default 0)
  --show           print the messages (hex) instead of only sending them
  --trace FILE     write one line per message: phase, index, command, outcome
  --keep           leave the final state (default: flush and stop the sync daemons)";

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        family: fvs_uapi::FVS_GENL_NAME.into(),
        malformed: 100_000,
        sequences: 10_000,
        seed: 1,
        start: 0,
        show: false,
        trace: None,
        keep: false,
    };
    let mut it = std::env::args().skip(1);
    let num = |v: Option<String>, what: &str| -> Result<u64, String> {
        let v = v.ok_or_else(|| format!("{what} needs a value"))?;
        let r = if let Some(h) = v.strip_prefix("0x") {
            u64::from_str_radix(h, 16)
        } else {
            v.parse()
        };
        r.map_err(|_| format!("{what}: bad number {v}"))
    };
    while let Some(x) = it.next() {
        match x.as_str() {
            "--family" => a.family = it.next().ok_or("--family needs a value")?,
            "--malformed" => a.malformed = num(it.next(), "--malformed")?,
            "--sequences" => a.sequences = num(it.next(), "--sequences")?,
            "--seed" => a.seed = num(it.next(), "--seed")?,
            "--start" => a.start = num(it.next(), "--start")?,
            "--show" => a.show = true,
            "--trace" => a.trace = Some(it.next().ok_or("--trace needs a value")?),
            "--keep" => a.keep = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            s if !s.starts_with('-') => a.family = s.to_string(),
            s => return Err(format!("unknown option {s}")),
        }
    }
    Ok(a)
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn run(a: &Args) -> Result<i32, String> {
    let mut conn = Conn::open().map_err(|e| format!("socket: {e}"))?;
    let family = conn.resolve(&a.family)?;
    let trace = match &a.trace {
        Some(p) => Some(std::io::BufWriter::new(
            std::fs::File::create(p).map_err(|e| format!("{p}: {e}"))?,
        )),
        None => None,
    };
    let mut f = Fuzz {
        conn,
        family,
        sent: 0,
        replies: 0,
        table: BTreeMap::new(),
        stalls: 0,
        strays: 0,
        trace,
    };
    println!(
        "fvs-fuzz-genl: family {} (id {family}), seed {}, malformed {}, sequences {}, start {}",
        a.family, a.seed, a.malformed, a.sequences, a.start
    );
    let t0 = Instant::now();
    for i in a.start..a.start + a.malformed {
        let (what, wire) = malformed::generate(a.seed, i, family);
        if a.show {
            println!("malformed {i} {what} {}", hex(&wire));
        }
        let out = f.exchange(&wire, seq_of(i))?;
        if a.show {
            println!("  -> {}", out.describe());
        }
        f.trace("M", i, &what, &out);
    }
    let t1 = Instant::now();
    let malformed_table = std::mem::take(&mut f.table);
    let mut mismatches = 0;
    if a.sequences > 0 || !a.keep {
        mismatches = seq::run(&mut f, a.seed, a.start, a.sequences, a.show, a.keep)?;
    }
    let t2 = Instant::now();
    if let Some(t) = f.trace.as_mut() {
        t.flush().map_err(|e| format!("trace: {e}"))?;
    }
    println!(
        "sent {} messages, {} replies; malformed phase {:.1} s, sequence phase {:.1} s, total {:.1} s",
        f.sent,
        f.replies,
        (t1 - t0).as_secs_f64(),
        (t2 - t1).as_secs_f64(),
        (t2 - t0).as_secs_f64()
    );
    let mut keys: Vec<&String> = malformed_table.keys().chain(f.table.keys()).collect();
    keys.sort();
    keys.dedup();
    let count = |t: &BTreeMap<String, u64>, k: &String| t.get(k).copied().unwrap_or(0);
    keys.sort_by_key(|k| std::cmp::Reverse(count(&malformed_table, k) + count(&f.table, k)));
    println!("{:<20} {:>10} {:>10}", "reply", "malformed", "sequences");
    for k in keys {
        println!(
            "{k:<20} {:>10} {:>10}",
            count(&malformed_table, k),
            count(&f.table, k)
        );
    }
    if f.stalls > 0 || f.strays > 0 {
        println!(
            "anomalies: {} stalled dumps, {} stray replies",
            f.stalls, f.strays
        );
    }
    if mismatches > 0 {
        println!("{mismatches} model mismatches");
        return Ok(3);
    }
    Ok(0)
}

/// The netlink sequence number of message `i` (never 0).
pub fn seq_of(i: u64) -> u32 {
    (i as u32).wrapping_add(1).max(1)
}

fn main() {
    let a = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("fvs-fuzz-genl: {e}\n{USAGE}");
            std::process::exit(2);
        }
    };
    match run(&a) {
        Ok(rc) => std::process::exit(rc),
        Err(e) => {
            eprintln!("fvs-fuzz-genl: FAILED: {e}");
            std::process::exit(1);
        }
    }
}
