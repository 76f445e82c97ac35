//! TCP connection-rate load for `make bench` (qemu-tests/bench/run.sh).
//!
//! ```text
//! fvs-cps server PORT
//!     epoll server: for every connection, read the request, answer "OK\n" and close (the
//!     server sends the first FIN).
//! fvs-cps client DSTS PORT SECS CONC SRC [WARM [NWIN]]
//!     keeps CONC connections in flight to PORT on the comma-separated IPv4 DSTS (round robin):
//!     connect, send one request line, read the answer until EOF, close, start the next one.
//!     Every connection binds SRC to a port of its own, 1024 upwards, never reused within a run
//!     (so no TIME_WAIT entry, in the client, the real servers or the balancer, is met again:
//!     this measures new connections, not reuse). Counts the connections completed (answer
//!     received) within SECS seconds after a WARM-second warm-up, in NWIN equal windows, and
//!     prints one line:
//!       cps=<best window's completions per second> mean=<over SECS> windows=<each window's rate>
//!           done=<n> errors=<n> started=<n> secs=<measured>
//!           ms_p50=<connect-to-EOF time, median> ms_p99=<99th percentile> ms_max=<slowest>
//! ```
//!
//! The same protocol and output as the former Python version, without its per-connection
//! interpreter cost, which bounded the rate the benchmark could measure.

use std::collections::HashMap;
use std::io;
use std::net::Ipv4Addr;
use std::process::exit;
use std::time::{Duration, Instant};

fn die(msg: &str) -> ! {
    eprintln!("fvs-cps: {msg}");
    exit(2)
}

fn last_err() -> io::Error {
    io::Error::last_os_error()
}

/// A file descriptor this program owns; closed on drop.
struct Fd(i32);

impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: the descriptor is owned by this value and closed once.
        unsafe { libc::close(self.0) };
    }
}

fn sockaddr(ip: Ipv4Addr, port: u16) -> libc::sockaddr_in {
    // SAFETY: sockaddr_in is plain data; all-zero is a valid value.
    let mut sa: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    sa.sin_family = libc::AF_INET as libc::sa_family_t;
    sa.sin_port = port.to_be();
    sa.sin_addr.s_addr = u32::from(ip).to_be();
    sa
}

fn tcp_socket() -> io::Result<Fd> {
    // SAFETY: plain socket(2) call; the result is checked.
    let fd = unsafe {
        libc::socket(
            libc::AF_INET,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    };
    if fd < 0 {
        return Err(last_err());
    }
    Ok(Fd(fd))
}

fn bind(fd: &Fd, sa: &libc::sockaddr_in) -> io::Result<()> {
    // SAFETY: `sa` is a valid sockaddr_in of the given length.
    let r = unsafe {
        libc::bind(
            fd.0,
            (sa as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as u32,
        )
    };
    if r < 0 {
        return Err(last_err());
    }
    Ok(())
}

fn setsockopt_int(fd: &Fd, level: i32, opt: i32, v: i32) {
    // SAFETY: `v` is a valid int option value of the given length.
    unsafe { libc::setsockopt(fd.0, level, opt, (&v as *const i32).cast(), 4) };
}

struct Epoll(Fd);

impl Epoll {
    fn new() -> Epoll {
        // SAFETY: plain epoll_create1 call; the result is checked.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            die(&format!("epoll_create1: {}", last_err()));
        }
        Epoll(Fd(fd))
    }

    fn ctl(&self, op: i32, fd: i32, events: u32) {
        let mut ev = libc::epoll_event {
            events,
            u64: fd as u64,
        };
        // SAFETY: `ev` is a valid epoll_event; errors are ignored as in the Python version
        // (a descriptor that went away).
        unsafe { libc::epoll_ctl(self.0 .0, op, fd, &mut ev) };
    }

    /// Ready descriptors and their events, waiting up to `timeout`.
    fn wait(&self, evs: &mut [libc::epoll_event], timeout: Duration) -> usize {
        let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: `evs` is a writable buffer of `evs.len()` events.
        let n = unsafe { libc::epoll_wait(self.0 .0, evs.as_mut_ptr(), evs.len() as i32, ms) };
        n.max(0) as usize
    }
}

fn recv(fd: i32, buf: &mut [u8]) -> isize {
    // SAFETY: `buf` is writable for its length.
    unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) }
}

fn send(fd: i32, data: &[u8]) -> isize {
    // SAFETY: `data` is readable for its length.
    unsafe { libc::send(fd, data.as_ptr().cast(), data.len(), libc::MSG_NOSIGNAL) }
}

fn server(port: u16) -> ! {
    let ls = tcp_socket().unwrap_or_else(|e| die(&format!("socket: {e}")));
    setsockopt_int(&ls, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1);
    bind(&ls, &sockaddr(Ipv4Addr::UNSPECIFIED, port))
        .unwrap_or_else(|e| die(&format!("bind port {port}: {e}")));
    // SAFETY: listen on the bound socket.
    if unsafe { libc::listen(ls.0, 4096) } < 0 {
        die(&format!("listen: {}", last_err()));
    }
    let ep = Epoll::new();
    ep.ctl(libc::EPOLL_CTL_ADD, ls.0, libc::EPOLLIN as u32);
    let mut conns: HashMap<i32, Fd> = HashMap::new();
    let mut evs = vec![libc::epoll_event { events: 0, u64: 0 }; 256];
    let mut buf = [0u8; 256];
    loop {
        let n = ep.wait(&mut evs, Duration::from_secs(1));
        for ev in &evs[..n] {
            let fd = ev.u64 as i32;
            if fd == ls.0 {
                loop {
                    // SAFETY: accept4 on the listening socket; no peer address wanted.
                    let c = unsafe {
                        libc::accept4(
                            ls.0,
                            std::ptr::null_mut(),
                            std::ptr::null_mut(),
                            libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                        )
                    };
                    if c < 0 {
                        break;
                    }
                    ep.ctl(libc::EPOLL_CTL_ADD, c, libc::EPOLLIN as u32);
                    conns.insert(c, Fd(c));
                }
                continue;
            }
            let Some(c) = conns.remove(&fd) else { continue };
            if recv(c.0, &mut buf) > 0 {
                send(c.0, b"OK\n");
            }
            ep.ctl(libc::EPOLL_CTL_DEL, c.0, 0);
            drop(c);
        }
    }
}

struct Ent {
    /// Owned here: closed when the entry is removed.
    _fd: Fd,
    connected: bool,
    answered: bool,
    t0: Instant,
}

struct Client {
    ep: Epoll,
    dsts: Vec<Ipv4Addr>,
    port: u16,
    src: Ipv4Addr,
    next_port: u32,
    n: usize,
    started: u64,
    socks: HashMap<i32, Ent>,
}

impl Client {
    /// Starts one more connection; false when no source port is left or connect failed.
    fn start(&mut self) -> bool {
        while self.next_port <= 65535 {
            let Ok(s) = tcp_socket() else { return false };
            let p = self.next_port as u16;
            self.next_port += 1;
            if bind(&s, &sockaddr(self.src, p)).is_err() {
                continue;
            }
            let dst = self.dsts[self.n % self.dsts.len()];
            self.n += 1;
            let sa = sockaddr(dst, self.port);
            // SAFETY: `sa` is a valid sockaddr_in of the given length.
            let r = unsafe {
                libc::connect(
                    s.0,
                    (&sa as *const libc::sockaddr_in).cast(),
                    std::mem::size_of::<libc::sockaddr_in>() as u32,
                )
            };
            if r < 0 && last_err().raw_os_error() != Some(libc::EINPROGRESS) {
                return false;
            }
            self.ep.ctl(libc::EPOLL_CTL_ADD, s.0, libc::EPOLLOUT as u32);
            self.socks.insert(
                s.0,
                Ent {
                    _fd: s,
                    connected: false,
                    answered: false,
                    t0: Instant::now(),
                },
            );
            self.started += 1;
            return true;
        }
        false
    }
}

fn so_error(fd: i32) -> i32 {
    let mut v: i32 = 0;
    let mut len: libc::socklen_t = 4;
    // SAFETY: `v` is a writable int of length `len`.
    unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ERROR,
            (&mut v as *mut i32).cast(),
            &mut len,
        )
    };
    v
}

fn client(args: &[String]) {
    let num = |i: usize, what: &str| -> f64 {
        args.get(i)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| die(&format!("bad {what}")))
    };
    let dsts: Vec<Ipv4Addr> = args[0]
        .split(',')
        .map(|s| {
            s.parse()
                .unwrap_or_else(|_| die(&format!("bad address {s}")))
        })
        .collect();
    let port = num(1, "PORT") as u16;
    let secs = num(2, "SECS");
    let conc = num(3, "CONC") as usize;
    let src: Ipv4Addr = args[4].parse().unwrap_or_else(|_| die("bad SRC"));
    let warm = if args.len() > 5 { num(5, "WARM") } else { 1.0 };
    let nwin = if args.len() > 6 {
        num(6, "NWIN") as usize
    } else {
        1
    }
    .max(1);
    let mut c = Client {
        ep: Epoll::new(),
        dsts,
        port,
        src,
        next_port: 1024,
        n: 0,
        started: 0,
        socks: HashMap::new(),
    };
    let t0 = Instant::now();
    let t_measure = t0 + Duration::from_secs_f64(warm);
    let t_end = t_measure + Duration::from_secs_f64(secs);
    let (mut done, mut errors) = (0u64, 0u64);
    let mut lat: Vec<f64> = Vec::new();
    let mut wins = vec![0u64; nwin];
    let winlen = secs / nwin as f64;
    for _ in 0..conc {
        c.start();
    }
    let mut evs = vec![libc::epoll_event { events: 0, u64: 0 }; 256];
    let mut buf = [0u8; 256];
    while !c.socks.is_empty() {
        let now = Instant::now();
        if now >= t_end {
            break;
        }
        let n =
            c.ep.wait(&mut evs, (t_end - now).min(Duration::from_millis(500)));
        for ev in &evs[..n] {
            let fd = ev.u64 as i32;
            let Some(ent) = c.socks.get_mut(&fd) else {
                continue;
            };
            let mut finished = false;
            if !ent.connected {
                if so_error(fd) != 0 {
                    errors += 1;
                    finished = true;
                } else {
                    ent.connected = true;
                    if send(fd, b"GET\n") < 0 {
                        errors += 1;
                        finished = true;
                    } else {
                        c.ep.ctl(libc::EPOLL_CTL_MOD, fd, libc::EPOLLIN as u32);
                    }
                }
            } else {
                let r = recv(fd, &mut buf);
                if r < 0
                    && matches!(
                        last_err().raw_os_error(),
                        Some(libc::EAGAIN) | Some(libc::EINTR)
                    )
                {
                    continue;
                }
                if r > 0 {
                    ent.answered = true;
                    continue;
                }
                // EOF (or an error): the connection is over.
                if ent.answered && r == 0 {
                    let t = Instant::now();
                    if t >= t_measure && t < t_end {
                        done += 1;
                        let w = ((t - t_measure).as_secs_f64() / winlen) as usize;
                        wins[w.min(nwin - 1)] += 1;
                        lat.push((t - ent.t0).as_secs_f64());
                    }
                } else {
                    errors += 1;
                }
                finished = true;
            }
            if finished {
                c.ep.ctl(libc::EPOLL_CTL_DEL, fd, 0);
                c.socks.remove(&fd);
                c.start();
            }
        }
    }
    let window = (Instant::now()
        .min(t_end)
        .saturating_duration_since(t_measure))
    .as_secs_f64();
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    let pct = |p: f64| -> f64 {
        if lat.is_empty() {
            0.0
        } else {
            1000.0 * lat[((p * lat.len() as f64) as usize).min(lat.len() - 1)]
        }
    };
    let best = wins.iter().copied().max().unwrap_or(0) as f64 / winlen;
    let mean = if window > 0.0 {
        done as f64 / window
    } else {
        0.0
    };
    let w: Vec<String> = wins
        .iter()
        .map(|&x| format!("{:.0}", x as f64 / winlen))
        .collect();
    println!(
        "cps={best:.1} mean={mean:.1} windows={} done={done} errors={errors} started={} secs={window:.2} ms_p50={:.0} ms_p99={:.0} ms_max={:.0}",
        w.join(","),
        c.started,
        pct(0.5),
        pct(0.99),
        pct(1.0)
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("server") if args.len() == 3 => {
            server(args[2].parse().unwrap_or_else(|_| die("bad PORT")))
        }
        Some("client") if (7..=9).contains(&args.len()) => client(&args[2..]),
        _ => {
            die("usage: fvs-cps server PORT | fvs-cps client DSTS PORT SECS CONC SRC [WARM [NWIN]]")
        }
    }
}
