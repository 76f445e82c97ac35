//! ipvsadm-rs: an ipvsadm 1.31-compatible administration tool for fvs.ko and ip_vs.
//!
//! The binary (`main.rs`) is a thin wrapper around [`run`]; the modules are public so that the
//! behaviour can be tested on a host without IPVS.

pub mod app;
pub mod args;
pub mod cli;
pub mod client;
pub mod format;
pub mod json;
pub mod model;
pub mod netlink;
pub mod popt;
pub mod resolve;
pub mod restore;

use std::io::{Read, Write};

use client::{Backend, Flavor, NetlinkClient};

/// `IPVSADM_RS_FAMILY=FVS|IPVS` (any case) forces a generic netlink family; unset or empty
/// leaves the choice to [`NetlinkClient::connect`]. Any other value is an error (the message).
pub fn forced_flavor() -> Result<Option<Flavor>, String> {
    flavor_from(std::env::var_os("IPVSADM_RS_FAMILY").as_deref())
}

/// [`forced_flavor`] for a given value of the variable.
pub fn flavor_from(value: Option<&std::ffi::OsStr>) -> Result<Option<Flavor>, String> {
    let Some(v) = value else { return Ok(None) };
    match v.to_string_lossy().to_ascii_uppercase().as_str() {
        "" => Ok(None),
        "FVS" => Ok(Some(Flavor::Fvs)),
        "IPVS" => Ok(Some(Flavor::Ipvs)),
        _ => Err(format!(
            "ipvsadm-rs: IPVSADM_RS_FAMILY must be FVS or IPVS, not '{}'",
            v.to_string_lossy()
        )),
    }
}

/// libipvs' `ipvs_init()`: find the family and fetch GET_INFO. Without a family the error is
/// the one the legacy sockopt probe gets, as in libipvs.
fn init(forced: Option<Flavor>) -> Result<(NetlinkClient, model::Info), i32> {
    let mut c = match NetlinkClient::connect(forced) {
        Ok(c) => c,
        Err(_) => return Err(client::sockopt_probe_errno()),
    };
    let info = c.info()?;
    Ok((c, info))
}

/// ipvsadm's `modprobe_ipvs()`: `/sbin/modprobe -- ip_vs` (or `fvs` when FVS is forced).
fn modprobe(forced: Option<Flavor>) -> bool {
    let module = if forced == Some(Flavor::Fvs) {
        "fvs"
    } else {
        "ip_vs"
    };
    std::process::Command::new("/sbin/modprobe")
        .args(["--", module])
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// The whole program: returns the exit status.
pub fn run(argv: &[String], stdin: &mut dyn Read, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    if let Some(code) = cli::handle_extension(argv, out, err) {
        return code;
    }
    let forced = match forced_flavor() {
        Ok(f) => f,
        Err(msg) => {
            let _ = writeln!(err, "{msg}");
            return 2;
        }
    };
    let (mut backend, info) = match init(forced) {
        Ok(x) => x,
        Err(e) => {
            let retry = if modprobe(forced) {
                init(forced)
            } else {
                Err(e)
            };
            match retry {
                Ok(x) => x,
                Err(e) => {
                    let _ = writeln!(
                        err,
                        "Can't initialize ipvs: {}\nAre you sure that IP Virtual Server is built in the kernel or as module?",
                        client::ipvs_strerror(client::Func::Init, e)
                    );
                    return 2;
                }
            }
        }
    };
    run_with(&mut backend, info, argv, stdin, out, err)
}

/// Everything after initialisation, against any backend.
pub fn run_with(
    backend: &mut dyn Backend,
    info: model::Info,
    argv: &[String],
    stdin: &mut dyn Read,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    if info.version < 0x010104 {
        let v = info.version;
        let _ = write!(
            err,
            "Warning: IPVS version mismatch: \n  Kernel compiled with IPVS version {}.{}.{}\n  ipvsadm v1.31  requires minimum IPVS version 1.1.4\n\n",
            (v >> 16) & 0xff,
            (v >> 8) & 0xff,
            v & 0xff
        );
    }
    let names = format::SystemNames;
    let mut out = Tracked::new(out);
    let (flow, json) = {
        let mut r = app::Runner::new(backend, &names, &mut out, err, info);
        let flow = if argv.len() <= 1 {
            r.list_all(0)
        } else {
            r.process(argv, false, stdin)
        };
        (flow, r.json)
    };
    let code = match flow {
        app::Flow::Continue(v) => app::exit_status(v),
        app::Flow::Exit(c) => app::exit_status(c),
    };
    // ipvsadm ignores failed writes to stdout (its listings exit 0 into /dev/full); the JSON
    // listings are an extension and report them.
    if json {
        let _ = out.flush();
        if let Some(e) = out.error {
            write_error(err, &e);
            return 1;
        }
    }
    code
}

/// Prints `ipvsadm-rs: write error: <strerror>` (errors of stderr itself are ignored).
pub fn write_error(err: &mut dyn Write, e: &std::io::Error) {
    let what = match e.raw_os_error() {
        Some(n) => resolve::strerror(n),
        None => e.to_string(),
    };
    let _ = writeln!(err, "ipvsadm-rs: write error: {what}");
}

/// A writer that remembers the first error of the one it wraps.
pub struct Tracked<'a> {
    inner: &'a mut dyn Write,
    /// The first failure of a write or flush.
    pub error: Option<std::io::Error>,
}

impl<'a> Tracked<'a> {
    pub fn new(inner: &'a mut dyn Write) -> Self {
        Tracked { inner, error: None }
    }

    fn note<T>(&mut self, r: std::io::Result<T>) -> std::io::Result<T> {
        if let Err(e) = &r {
            if e.kind() != std::io::ErrorKind::Interrupted && self.error.is_none() {
                self.error = Some(match e.raw_os_error() {
                    Some(n) => std::io::Error::from_raw_os_error(n),
                    None => std::io::Error::new(e.kind(), e.to_string()),
                });
            }
        }
        r
    }
}

impl Write for Tracked<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let r = self.inner.write(buf);
        self.note(r)
    }
    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        let r = self.inner.write_all(buf);
        self.note(r)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        let r = self.inner.flush();
        self.note(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn family_variable() {
        assert_eq!(flavor_from(None), Ok(None));
        assert_eq!(flavor_from(Some(OsStr::new(""))), Ok(None));
        assert_eq!(flavor_from(Some(OsStr::new("FVS"))), Ok(Some(Flavor::Fvs)));
        assert_eq!(
            flavor_from(Some(OsStr::new("ipvs"))),
            Ok(Some(Flavor::Ipvs))
        );
        for bad in ["X", "fvs ", "IPVS,FVS", "ip_vs"] {
            assert_eq!(
                flavor_from(Some(OsStr::new(bad))),
                Err(format!(
                    "ipvsadm-rs: IPVSADM_RS_FAMILY must be FVS or IPVS, not '{bad}'"
                ))
            );
        }
    }

    #[test]
    fn tracked_keeps_the_first_error() {
        struct Broken;
        impl Write for Broken {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::Error::from_raw_os_error(libc::EPIPE))
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Err(std::io::Error::from_raw_os_error(libc::EIO))
            }
        }
        let mut b = Broken;
        let mut t = Tracked::new(&mut b);
        assert!(t.write_all(b"x").is_err());
        assert!(t.flush().is_err());
        assert_eq!(t.error.unwrap().raw_os_error(), Some(libc::EPIPE));
        let mut v = Vec::new();
        let mut t = Tracked::new(&mut v);
        write!(t, "ok").unwrap();
        t.flush().unwrap();
        assert!(t.error.is_none());
    }
}
