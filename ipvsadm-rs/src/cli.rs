//! A clap description of ipvsadm's command line, used only to generate shell completions
//! (`--completions bash|zsh|fish|elvish|powershell`) and a man page (`--man`). Parsing itself is
//! done by [`crate::args`], which follows popt's and ipvsadm's rules exactly; clap's parser
//! would accept and reject different command lines.

use clap::{Arg, ArgAction, ArgGroup, Command};

fn flag(long: &'static str, short: Option<char>, help: &'static str) -> Arg {
    let a = Arg::new(long)
        .long(long)
        .help(help)
        .action(ArgAction::SetTrue);
    match short {
        Some(c) => a.short(c),
        None => a,
    }
}

fn value(long: &'static str, short: Option<char>, name: &'static str, help: &'static str) -> Arg {
    let a = Arg::new(long)
        .long(long)
        .value_name(name)
        .help(help)
        .num_args(1);
    match short {
        Some(c) => a.short(c),
        None => a,
    }
}

/// The command-line description.
pub fn command() -> Command {
    Command::new("ipvsadm-rs")
        .version("1.31")
        .about("Linux Virtual Server administration (ipvsadm 1.31 compatible) for fvs.ko and ip_vs")
        .long_about(
            "ipvsadm-rs sets up, maintains and inspects the virtual server table of fvs.ko \
             (generic netlink family \"FVS\") or, when fvs is not loaded, of the kernel's ip_vs \
             (\"IPVS\"). Its command line, output, error messages and exit codes are those of \
             ipvsadm 1.31. Set IPVSADM_RS_FAMILY=FVS or IPVS to force a family.",
        )
        .disable_help_flag(true)
        .disable_version_flag(true)
        .arg(flag("add-service", Some('A'), "Add a virtual service"))
        .arg(flag("edit-service", Some('E'), "Edit a virtual service"))
        .arg(flag(
            "delete-service",
            Some('D'),
            "Delete a virtual service",
        ))
        .arg(flag("clear", Some('C'), "Clear the virtual server table"))
        .arg(flag("restore", Some('R'), "Restore rules from stdin"))
        .arg(flag("save", Some('S'), "Save rules to stdout"))
        .arg(flag(
            "add-server",
            Some('a'),
            "Add a real server to a virtual service",
        ))
        .arg(flag("edit-server", Some('e'), "Edit a real server"))
        .arg(flag("delete-server", Some('d'), "Delete a real server"))
        .arg(flag(
            "list",
            Some('L'),
            "List the virtual server table (also -l)",
        ))
        .arg(flag(
            "zero",
            Some('Z'),
            "Zero counters of a service or all services",
        ))
        .arg(flag(
            "set",
            None,
            "Set connection timeouts: --set tcp tcpfin udp",
        ))
        .arg(
            value(
                "start-daemon",
                None,
                "master|backup",
                "Start the connection sync daemon",
            )
            .value_parser(["master", "backup"]),
        )
        .arg(
            value(
                "stop-daemon",
                None,
                "master|backup",
                "Stop the connection sync daemon",
            )
            .value_parser(["master", "backup"]),
        )
        .arg(flag("help", Some('h'), "Display the help message"))
        .arg(flag("version", Some('v'), "Display the version"))
        .group(ArgGroup::new("command").multiple(false).args([
            "add-service",
            "edit-service",
            "delete-service",
            "clear",
            "restore",
            "save",
            "add-server",
            "edit-server",
            "delete-server",
            "list",
            "zero",
            "set",
            "start-daemon",
            "stop-daemon",
            "help",
            "version",
        ]))
        .arg(value(
            "tcp-service",
            Some('t'),
            "host[:port]",
            "TCP virtual service",
        ))
        .arg(value(
            "udp-service",
            Some('u'),
            "host[:port]",
            "UDP virtual service",
        ))
        .arg(value(
            "sctp-service",
            None,
            "host[:port]",
            "SCTP virtual service",
        ))
        .arg(value(
            "fwmark-service",
            Some('f'),
            "fwmark",
            "Firewall-mark virtual service",
        ))
        .arg(flag("ipv6", Some('6'), "The fwmark service uses IPv6"))
        .arg(
            value(
                "scheduler",
                Some('s'),
                "scheduler",
                "rr|wrr|lc|wlc|lblc|lblcr|dh|sh|sed|nq|fo|ovf|mh (default wlc)",
            )
            .value_parser([
                "rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf",
                "mh",
            ]),
        )
        .arg(value("pe", None, "engine", "Persistence engine (sip)").value_parser(["sip"]))
        .arg(
            Arg::new("persistent")
                .long("persistent")
                .short('p')
                .value_name("timeout")
                .num_args(0..=1)
                .help("Persistent service, optional timeout in seconds (default 360)"),
        )
        .arg(value(
            "netmask",
            Some('M'),
            "netmask",
            "Persistence granularity mask",
        ))
        .arg(value(
            "sched-flags",
            Some('b'),
            "flags",
            "Scheduler flags: flag-1,flag-2,flag-3,sh-fallback,sh-port,mh-fallback,mh-port",
        ))
        .arg(flag("ops", Some('o'), "One-packet scheduling (UDP)"))
        .arg(value(
            "real-server",
            Some('r'),
            "host[:port]",
            "Real server address",
        ))
        .arg(flag("gatewaying", Some('g'), "Direct routing (default)"))
        .arg(flag("ipip", Some('i'), "IP-in-IP tunnelling"))
        .arg(flag("masquerading", Some('m'), "Masquerading (NAT)"))
        .arg(value("tun-type", None, "type", "Tunnel type").value_parser(["ipip", "gue", "gre"]))
        .arg(value(
            "tun-port",
            None,
            "port",
            "Tunnel destination port (gue)",
        ))
        .arg(flag(
            "tun-nocsum",
            None,
            "Tunnel encapsulation without checksum",
        ))
        .arg(flag("tun-csum", None, "Tunnel encapsulation with checksum"))
        .arg(flag(
            "tun-remcsum",
            None,
            "Tunnel encapsulation with remote checksum",
        ))
        .arg(value("weight", Some('w'), "weight", "Real server weight"))
        .arg(value(
            "drain",
            None,
            "seconds",
            "With -d: stop new connections to the real server and remove it when its \
             connections end or after SECONDS (fvs.ko extension)",
        ))
        .arg(value(
            "u-threshold",
            Some('x'),
            "uthreshold",
            "Upper connection threshold",
        ))
        .arg(value(
            "l-threshold",
            Some('y'),
            "lthreshold",
            "Lower connection threshold",
        ))
        .arg(flag("numeric", Some('n'), "Numeric addresses and ports"))
        .arg(flag("connection", Some('c'), "List current connections"))
        .arg(flag("timeout", None, "List timeouts (tcp tcpfin udp)"))
        .arg(flag("daemon", None, "List sync daemon state"))
        .arg(flag("stats", None, "List statistics"))
        .arg(flag("rate", None, "List rates"))
        .arg(flag("thresholds", None, "List thresholds"))
        .arg(flag(
            "persistent-conn",
            None,
            "List persistent connection counters",
        ))
        .arg(flag("tun-info", None, "List tunnel information"))
        .arg(flag("nosort", None, "Do not sort the listing"))
        .arg(flag("sort", None, "No-op, for compatibility"))
        .arg(flag("exact", Some('X'), "Exact numbers in statistics"))
        .arg(flag("json", None, "JSON listing (extension)"))
        .arg(value(
            "mcast-interface",
            None,
            "interface",
            "Multicast interface for sync",
        ))
        .arg(value("syncid", None, "sid", "Sync id (0-255)"))
        .arg(value(
            "sync-maxlen",
            None,
            "length",
            "Maximum sync message length",
        ))
        .arg(value(
            "mcast-group",
            None,
            "address",
            "Sync multicast group",
        ))
        .arg(value("mcast-port", None, "port", "Sync UDP port"))
        .arg(value("mcast-ttl", None, "ttl", "Sync multicast TTL"))
        .arg(
            Arg::new("timeouts")
                .value_name("TCP TCPFIN UDP")
                .num_args(0..=3)
                .help("Timeout values for --set"),
        )
        .arg(
            value(
                "completions",
                None,
                "shell",
                "Print a shell completion script (extension)",
            )
            .value_parser(["bash", "zsh", "fish", "elvish", "powershell"]),
        )
        .arg(flag("man", None, "Print the man page in roff (extension)"))
}

/// Handles `--completions SHELL` and `--man`; returns the exit status, or `None` if `argv` is
/// not one of these extension invocations. Unlike ipvsadm's own commands, these report a failed
/// write to `out` (status 1); a wrong command line prints the usage (status 2).
pub fn handle_extension(
    argv: &[String],
    out: &mut dyn std::io::Write,
    err: &mut dyn std::io::Write,
) -> Option<i32> {
    let text = match argv.get(1)?.as_str() {
        "--man" => {
            if argv.len() != 2 {
                let _ = writeln!(err, "usage: ipvsadm-rs --man");
                return Some(2);
            }
            let mut text = Vec::new();
            if let Err(e) = clap_mangen::Man::new(command()).render(&mut text) {
                crate::write_error(err, &e);
                return Some(1);
            }
            text
        }
        "--completions" => {
            use clap_complete::Shell;
            let shell = match argv.get(2).map(String::as_str) {
                Some("bash") if argv.len() == 3 => Shell::Bash,
                Some("zsh") if argv.len() == 3 => Shell::Zsh,
                Some("fish") if argv.len() == 3 => Shell::Fish,
                Some("elvish") if argv.len() == 3 => Shell::Elvish,
                Some("powershell") if argv.len() == 3 => Shell::PowerShell,
                _ => {
                    let _ = writeln!(
                        err,
                        "usage: ipvsadm-rs --completions bash|zsh|fish|elvish|powershell"
                    );
                    return Some(2);
                }
            };
            let mut text = Vec::new();
            clap_complete::generate(shell, &mut command(), "ipvsadm-rs", &mut text);
            text
        }
        _ => return None,
    };
    match out.write_all(&text).and_then(|()| out.flush()) {
        Ok(()) => Some(0),
        Err(e) => {
            crate::write_error(err, &e);
            Some(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clap_definition_is_consistent() {
        command().debug_assert();
    }

    #[test]
    fn every_ipvsadm_long_option_is_described() {
        let cmd = command();
        for name in crate::args::long_option_names() {
            assert!(
                cmd.get_arguments().any(|a| a.get_long() == Some(name)),
                "missing --{name}"
            );
        }
    }

    fn argv(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    /// (status, stdout, stderr) of an extension invocation.
    fn ext(args: &[&str]) -> (Option<i32>, String, String) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = handle_extension(&argv(args), &mut out, &mut err);
        (
            code,
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
    }

    /// A writer that fails like /dev/full (optionally only after `room` bytes).
    struct Full {
        room: usize,
    }

    impl std::io::Write for Full {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.room == 0 {
                return Err(std::io::Error::from_raw_os_error(libc::ENOSPC));
            }
            let n = buf.len().min(self.room);
            self.room -= n;
            Ok(n)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn completions_and_man_render() {
        let (code, out, err) = ext(&["x", "--completions", "bash"]);
        assert_eq!((code, err.as_str()), (Some(0), ""));
        assert!(out.contains("--tcp-service"));
        let (code, out, err) = ext(&["x", "--man"]);
        assert_eq!((code, err.as_str()), (Some(0), ""));
        assert!(out.contains(".TH"));
        assert_eq!(ext(&["x", "-L"]), (None, String::new(), String::new()));
        assert_eq!(ext(&["x"]), (None, String::new(), String::new()));
    }

    #[test]
    fn bad_extension_command_lines_print_the_usage() {
        let usage = "usage: ipvsadm-rs --completions bash|zsh|fish|elvish|powershell\n";
        for args in [
            &["x", "--completions"][..],
            &["x", "--completions", "tcsh"],
            &["x", "--completions", "bash", "extra"],
            &["x", "--completions", "zsh", "-L"],
        ] {
            assert_eq!(
                ext(args),
                (Some(2), String::new(), usage.into()),
                "{args:?}"
            );
        }
        assert_eq!(
            ext(&["x", "--man", "extra"]),
            (Some(2), String::new(), "usage: ipvsadm-rs --man\n".into())
        );
    }

    #[test]
    fn failed_writes_are_reported() {
        let msg = format!(
            "ipvsadm-rs: write error: {}\n",
            crate::resolve::strerror(libc::ENOSPC)
        );
        for args in [
            &["x", "--man"][..],
            &["x", "--completions", "zsh"],
            &["x", "--completions", "bash"],
        ] {
            for room in [0, 100] {
                let mut err = Vec::new();
                let code = handle_extension(&argv(args), &mut Full { room }, &mut err);
                assert_eq!(code, Some(1), "{args:?}");
                assert_eq!(String::from_utf8(err).unwrap(), msg, "{args:?}");
            }
        }
        // A failing stderr is ignored, never a panic.
        let code = handle_extension(
            &argv(&["x", "--completions"]),
            &mut Vec::new(),
            &mut Full { room: 0 },
        );
        assert_eq!(code, Some(2));
        let code = handle_extension(
            &argv(&["x", "--man"]),
            &mut Full { room: 0 },
            &mut Full { room: 0 },
        );
        assert_eq!(code, Some(1));
    }
}
