//! ipvsadm's `process_options()` / `restore_table()` / listing functions, executed against a
//! [`Backend`]. Output goes to the given writers; the return value is the exit status.

use std::io::{BufRead, BufReader, Read, Write};

use crate::args::{self, fmt, optc, Cmd, CommandEntry, Exit, Parsed};
use crate::client::{ipvs_strerror, Backend, Func, Request, DRAIN_NEEDS_FVS};
use crate::format::{self, Names};
use crate::json;
use crate::model::{Info, Service, ServiceEntry};
use crate::restore;

/// Where a command line leaves the program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Carry on; the value is `process_options()`'s result (0 or -1).
    Continue(i32),
    /// `exit(status)`.
    Exit(i32),
}

/// Converts a C `int` return value of main() into an exit status.
pub fn exit_status(result: i32) -> i32 {
    result & 0xff
}

pub struct Runner<'a> {
    pub backend: &'a mut dyn Backend,
    pub names: &'a dyn Names,
    pub out: &'a mut dyn Write,
    pub err: &'a mut dyn Write,
    pub info: Info,
    /// libipvs' `ipvs_func`: which function last ran, for `ipvs_strerror()`.
    pub last_func: Func,
    /// Whether a `--json` listing (an extension) was asked for: its failures are reported.
    pub json: bool,
}

impl<'a> Runner<'a> {
    pub fn new(
        backend: &'a mut dyn Backend,
        names: &'a dyn Names,
        out: &'a mut dyn Write,
        err: &'a mut dyn Write,
        info: Info,
    ) -> Self {
        Runner {
            backend,
            names,
            out,
            err,
            info,
            last_func: Func::Init,
            json: false,
        }
    }

    fn emit(&mut self, e: &Exit) {
        let _ = self.out.write_all(e.stdout.as_bytes());
        let _ = self.err.write_all(e.stderr.as_bytes());
    }

    fn errmsg(&mut self, errno: i32) {
        let m = ipvs_strerror(self.last_func, errno);
        let _ = writeln!(self.err, "{m}");
    }

    /// `process_options(argc, argv, reading_stdin)`.
    pub fn process(&mut self, argv: &[String], reading_stdin: bool, stdin: &mut dyn Read) -> Flow {
        let ce = match args::parse(argv) {
            Parsed::Exit(e) => {
                self.emit(&e);
                return if e.is_soft() {
                    Flow::Continue(-1)
                } else {
                    Flow::Exit(e.code)
                };
            }
            Parsed::Run(ce) => ce,
        };
        match ce.cmd {
            Cmd::List => self.list(&ce),
            Cmd::Save => self.list_all(ce.format | fmt::RULE),
            Cmd::Restore => {
                if reading_stdin {
                    let program = argv.first().map(String::as_str).unwrap_or("ipvsadm");
                    self.emit(&args::tryhelp(program));
                    return Flow::Exit(255);
                }
                let program = argv.first().cloned().unwrap_or_else(|| "ipvsadm".into());
                self.restore(&program, stdin)
            }
            _ => {
                let req = request_of(&ce).expect("state-changing command");
                if self.refuses(&req) {
                    let _ = writeln!(self.err, "{DRAIN_NEEDS_FVS}");
                    return Flow::Exit(2);
                }
                let r = self.execute_batch(&[req]);
                Flow::Continue(r)
            }
        }
    }

    /// Whether a request must not be sent to this backend: `--drain` only goes to fvs.ko (the
    /// kernel's ip_vs would ignore the unknown attribute and remove the server at once).
    fn refuses(&self, req: &Request) -> bool {
        req.drain().is_some() && !self.backend.is_fvs()
    }

    /// Runs requests in one batch; prints errors in order; returns the last one's result.
    fn execute_batch(&mut self, reqs: &[Request]) -> i32 {
        if reqs.is_empty() {
            return 0;
        }
        let results = self.backend.execute(reqs);
        let mut last = 0;
        for (req, res) in reqs.iter().zip(results) {
            if let Some(f) = req.func() {
                self.last_func = f;
            }
            last = match res {
                Ok(()) => 0,
                Err(e) => {
                    self.errmsg(e);
                    -1
                }
            };
        }
        last
    }

    /// `restore_table()`: each line is one ipvsadm command. Consecutive state-changing lines
    /// are sent as one batch; everything else (listings, errors, help) first flushes the batch
    /// so that output and errors appear exactly as with line-by-line processing.
    fn restore(&mut self, program: &str, stdin: &mut dyn Read) -> Flow {
        let mut data = Vec::new();
        let _ = stdin.read_to_end(&mut data);
        let mut reader = restore::Tokenizer::new(&data);
        let mut pending: Vec<Request> = Vec::new();
        let mut result = 0;
        let mut empty = std::io::empty();
        while let Some(words) = reader.next_line(program) {
            if words.len() <= 1 {
                continue;
            }
            if let Parsed::Run(ce) = args::parse(&words) {
                if let Some(req) = request_of(&ce) {
                    // A refused request goes the way of other errors: flush, then process()
                    // reports it and stops.
                    if !self.refuses(&req) {
                        pending.push(req);
                        continue;
                    }
                }
            }
            if !pending.is_empty() {
                // The batch's result is superseded by this line's.
                self.execute_batch(&pending);
                pending.clear();
            }
            match self.process(&words, true, &mut empty) {
                Flow::Continue(r) => result = r,
                Flow::Exit(c) => return Flow::Exit(c),
            }
        }
        if !pending.is_empty() {
            result = self.execute_batch(&pending);
        }
        Flow::Continue(result)
    }

    fn list(&mut self, ce: &CommandEntry) -> Flow {
        if ce.format & fmt::JSON != 0 {
            self.json = true;
        }
        if ce.has(optc::CONNECTION) {
            self.list_conn(ce.format)
        } else if ce.has(optc::SERVICE) {
            self.list_service(&ce.svc, ce.format)
        } else if ce.has(optc::TIMEOUT) {
            self.list_timeout(ce.format)
        } else if ce.has(optc::DAEMON) {
            self.list_daemon(ce.format)
        } else {
            self.list_all(ce.format)
        }
    }

    fn fetch_dests(&mut self, se: &ServiceEntry) -> Result<Vec<crate::model::DestEntry>, Flow> {
        self.last_func = Func::GetDests;
        self.backend.dests(se).map_err(|e| {
            self.errmsg(e);
            Flow::Exit(1)
        })
    }

    /// `list_all()`.
    pub fn list_all(&mut self, format: u32) -> Flow {
        if format & (fmt::RULE | fmt::JSON) == 0 {
            let h = format::version_header(self.info.version, self.info.size);
            let _ = self.out.write_all(h.as_bytes());
        }
        let mut services = match self.backend.services() {
            Ok(s) => s,
            Err(e) => {
                self.errmsg(e);
                return Flow::Exit(1);
            }
        };
        if format & fmt::NOSORT == 0 {
            format::glibc_qsort(&mut services, &format::cmp_services);
        }
        if format & fmt::JSON != 0 {
            let mut all = Vec::new();
            for se in services {
                match self.fetch_dests(&se) {
                    Ok(d) => all.push((se, d)),
                    Err(f) => return f,
                }
            }
            let _ = self
                .out
                .write_all(json::services(Some(&self.info), &all, format).as_bytes());
            return Flow::Continue(0);
        }
        let _ = self.out.write_all(format::title(format).as_bytes());
        for se in &services {
            let d = match self.fetch_dests(se) {
                Ok(d) => d,
                Err(f) => return f,
            };
            let s = format::service_entry(se, &d, format, self.names);
            let _ = self.out.write_all(s.as_bytes());
        }
        Flow::Continue(0)
    }

    /// `list_service()`.
    fn list_service(&mut self, key: &Service, format: u32) -> Flow {
        self.last_func = Func::GetService;
        let se = match self.backend.service(key) {
            Ok(s) => s,
            Err(e) => {
                self.errmsg(e);
                return Flow::Exit(1);
            }
        };
        if format & fmt::JSON != 0 {
            let d = match self.fetch_dests(&se) {
                Ok(d) => d,
                Err(f) => return f,
            };
            let _ = self
                .out
                .write_all(json::services(None, &[(se, d)], format).as_bytes());
            return Flow::Continue(0);
        }
        let _ = self.out.write_all(format::title(format).as_bytes());
        let d = match self.fetch_dests(&se) {
            Ok(d) => d,
            Err(f) => return f,
        };
        let s = format::service_entry(&se, &d, format, self.names);
        let _ = self.out.write_all(s.as_bytes());
        Flow::Continue(0)
    }

    fn list_timeout(&mut self, format: u32) -> Flow {
        self.last_func = Func::GetTimeout;
        match self.backend.timeouts() {
            Ok(t) => {
                let s = if format & fmt::JSON != 0 {
                    json::timeouts(&t)
                } else {
                    format::timeouts(&t)
                };
                let _ = self.out.write_all(s.as_bytes());
                Flow::Continue(0)
            }
            // ipvsadm exits silently; the JSON listing (an extension) says why.
            Err(e) => {
                if format & fmt::JSON != 0 {
                    self.errmsg(e);
                }
                Flow::Exit(1)
            }
        }
    }

    fn list_daemon(&mut self, format: u32) -> Flow {
        self.last_func = Func::GetDaemon;
        match self.backend.daemons() {
            Ok(d) => {
                let s = if format & fmt::JSON != 0 {
                    json::daemons(&d)
                } else {
                    format::daemons(&d)
                };
                let _ = self.out.write_all(s.as_bytes());
                Flow::Continue(0)
            }
            // ipvsadm exits silently; the JSON listing (an extension) says why.
            Err(e) => {
                if format & fmt::JSON != 0 {
                    self.errmsg(e);
                }
                Flow::Exit(1)
            }
        }
    }

    /// `list_conn()`.
    fn list_conn(&mut self, format: u32) -> Flow {
        let path = self.backend.flavor().conn_file();
        let f = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(_) => {
                let _ = writeln!(self.err, "cannot open file {path}");
                return Flow::Exit(1);
            }
        };
        let mut r = BufReader::new(f);
        let mut first = Vec::new();
        if r.read_until(b'\n', &mut first).unwrap_or(0) == 0 {
            let _ = writeln!(self.err, "unexpected input from {path}");
            return Flow::Exit(1);
        }
        let mut lines = Vec::new();
        loop {
            let mut l = Vec::new();
            match r.read_until(b'\n', &mut l) {
                Ok(0) | Err(_) => break,
                Ok(_) => lines.push(String::from_utf8_lossy(&l).into_owned()),
            }
        }
        if format & fmt::JSON != 0 {
            let _ = self.out.write_all(json::conns(&lines).as_bytes());
            return Flow::Continue(0);
        }
        let _ = self.out.write_all(format::conn_header(format).as_bytes());
        for l in &lines {
            match format::conn_line(l, format, self.names) {
                Some(s) => {
                    let _ = self.out.write_all(s.as_bytes());
                }
                None => return Flow::Exit(1),
            }
        }
        Flow::Continue(0)
    }
}

/// The request a state-changing command sends, `None` for listings/save/restore.
pub fn request_of(ce: &CommandEntry) -> Option<Request> {
    Some(match ce.cmd {
        Cmd::Add => Request::AddService(ce.svc.clone()),
        Cmd::Edit => Request::EditService(ce.svc.clone()),
        Cmd::Del => Request::DelService(ce.svc.clone()),
        Cmd::Zero => Request::Zero(ce.svc.clone()),
        Cmd::AddDest => Request::AddDest(ce.svc.clone(), ce.dest.clone()),
        Cmd::EditDest => Request::EditDest(ce.svc.clone(), ce.dest.clone()),
        Cmd::DelDest => Request::DelDest(ce.svc.clone(), ce.dest.clone()),
        Cmd::Timeout => Request::SetTimeout(ce.timeout),
        Cmd::StartDaemon => Request::StartDaemon(ce.daemon.clone()),
        Cmd::StopDaemon => Request::StopDaemon(ce.daemon.clone()),
        Cmd::Flush => Request::Flush,
        Cmd::List | Cmd::Save | Cmd::Restore => return None,
    })
}
