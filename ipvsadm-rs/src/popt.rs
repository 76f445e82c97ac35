//! A small re-implementation of the parts of libpopt that ipvsadm's command line depends on,
//! including its quirks:
//!
//! * long options need their exact full name (`--tcp` is *not* `--tcp-service`), take their
//!   argument as `--opt=value` or as the next word;
//! * short options cluster (`-Lnc`), an argument-taking short option takes the rest of the
//!   cluster (`-t10.0.0.1:80`, with one leading `=` skipped) or else the next word, whatever it
//!   looks like (`-t -s` takes `-s`);
//! * an optional argument (`-p [timeout]`) is only taken from the next word when that word does
//!   not start with `-`;
//! * `=value` on a flag is an error ("option does not take an argument");
//! * non-option words are collected as leftovers anywhere on the line; `--` ends option parsing.

/// Whether an option takes an argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgKind {
    None,
    Required,
    Optional,
}

/// One row of the option table.
#[derive(Clone, Copy, Debug)]
pub struct OptDef<T: Copy> {
    pub long: &'static str,
    pub short: Option<char>,
    pub arg: ArgKind,
    pub tag: T,
}

/// popt error codes that ipvsadm can produce, with `poptStrerror()` texts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoptError {
    /// POPT_ERROR_NOARG
    NoArg,
    /// POPT_ERROR_BADOPT
    BadOpt,
    /// POPT_ERROR_UNWANTEDARG
    UnwantedArg,
}

impl PoptError {
    pub fn message(self) -> &'static str {
        match self {
            PoptError::NoArg => "missing argument",
            PoptError::BadOpt => "unknown option",
            PoptError::UnwantedArg => "option does not take an argument",
        }
    }
}

/// The result of one `poptGetNextOpt()` call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Next<T> {
    Opt(T, Option<String>),
    End,
    Error(PoptError),
}

/// A popt context over `argv` (argv[0] is the program name and is skipped).
pub struct Context<'a, T: Copy> {
    table: &'a [OptDef<T>],
    argv: &'a [String],
    next: usize,
    /// Remaining characters of a short-option cluster: (argv index, byte offset).
    cluster: Option<(usize, usize)>,
    rest_leftover: bool,
    leftovers: Vec<String>,
    leftover_pos: usize,
}

impl<'a, T: Copy> Context<'a, T> {
    pub fn new(table: &'a [OptDef<T>], argv: &'a [String]) -> Self {
        Context {
            table,
            argv,
            next: 1,
            cluster: None,
            rest_leftover: false,
            leftovers: Vec::new(),
            leftover_pos: 0,
        }
    }

    /// `poptBadOption(con, POPT_BADOPTION_NOALIAS)`: the word being processed.
    pub fn bad_option(&self) -> &str {
        if self.next == 0 {
            return "";
        }
        self.argv
            .get(self.next - 1)
            .map(String::as_str)
            .unwrap_or("")
    }

    /// `poptGetArg()`: the next leftover (non-option) word.
    pub fn get_arg(&mut self) -> Option<String> {
        let r = self.leftovers.get(self.leftover_pos).cloned();
        if r.is_some() {
            self.leftover_pos += 1;
        }
        r
    }

    fn take_next_word(&mut self, kind: ArgKind) -> Result<Option<String>, PoptError> {
        if self.next >= self.argv.len() {
            return match kind {
                ArgKind::Optional => Ok(None),
                _ => Err(PoptError::NoArg),
            };
        }
        let w = &self.argv[self.next];
        if kind == ArgKind::Optional && w.starts_with('-') {
            return Ok(None);
        }
        self.next += 1;
        Ok(Some(w.clone()))
    }

    /// `poptGetNextOpt()`.
    pub fn next_opt(&mut self) -> Next<T> {
        loop {
            if let Some((ai, off)) = self.cluster.take() {
                let word = self.argv[ai].as_str();
                let rest = &word[off..];
                let c = match rest.chars().next() {
                    Some(c) => c,
                    None => continue,
                };
                let def = match self.table.iter().find(|d| d.short == Some(c)) {
                    Some(d) => *d,
                    None => return Next::Error(PoptError::BadOpt),
                };
                let after = &rest[c.len_utf8()..];
                let after_off = off + c.len_utf8();
                match def.arg {
                    ArgKind::None => {
                        if after.starts_with('=') {
                            return Next::Error(PoptError::UnwantedArg);
                        }
                        if !after.is_empty() {
                            self.cluster = Some((ai, after_off));
                        }
                        return Next::Opt(def.tag, None);
                    }
                    kind => {
                        if !after.is_empty() {
                            let a = after.strip_prefix('=').unwrap_or(after);
                            return Next::Opt(def.tag, Some(a.to_string()));
                        }
                        return match self.take_next_word(kind) {
                            Ok(a) => Next::Opt(def.tag, a),
                            Err(e) => Next::Error(e),
                        };
                    }
                }
            }

            if self.next >= self.argv.len() {
                return Next::End;
            }
            let idx = self.next;
            self.next += 1;
            let word = self.argv[idx].as_str();

            if self.rest_leftover || !word.starts_with('-') || word == "-" {
                self.leftovers.push(word.to_string());
                continue;
            }
            if word == "--" {
                self.rest_leftover = true;
                continue;
            }
            if let Some(body) = word.strip_prefix("--") {
                let (name, long_arg) = match body.find('=') {
                    Some(p) => (&body[..p], Some(&body[p + 1..])),
                    None => (body, None),
                };
                let def = match self.table.iter().find(|d| d.long == name) {
                    Some(d) => *d,
                    None => return Next::Error(PoptError::BadOpt),
                };
                return match def.arg {
                    ArgKind::None => {
                        if long_arg.is_some() {
                            Next::Error(PoptError::UnwantedArg)
                        } else {
                            Next::Opt(def.tag, None)
                        }
                    }
                    kind => match long_arg {
                        Some(a) => Next::Opt(def.tag, Some(a.to_string())),
                        None => match self.take_next_word(kind) {
                            Ok(a) => Next::Opt(def.tag, a),
                            Err(e) => Next::Error(e),
                        },
                    },
                };
            }
            // A single-dash word: a cluster of short options.
            self.cluster = Some((idx, 1));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum T {
        L,
        N,
        Tcp,
        P,
    }

    const TABLE: &[OptDef<T>] = &[
        OptDef {
            long: "list",
            short: Some('L'),
            arg: ArgKind::None,
            tag: T::L,
        },
        OptDef {
            long: "numeric",
            short: Some('n'),
            arg: ArgKind::None,
            tag: T::N,
        },
        OptDef {
            long: "tcp-service",
            short: Some('t'),
            arg: ArgKind::Required,
            tag: T::Tcp,
        },
        OptDef {
            long: "persistent",
            short: Some('p'),
            arg: ArgKind::Optional,
            tag: T::P,
        },
    ];

    fn argv(s: &str) -> Vec<String> {
        std::iter::once("ipvsadm")
            .chain(s.split(' '))
            .map(String::from)
            .collect()
    }

    fn all(s: &str) -> Vec<Next<T>> {
        let a = argv(s);
        let mut c = Context::new(TABLE, &a);
        let mut v = Vec::new();
        loop {
            let n = c.next_opt();
            let stop = !matches!(n, Next::Opt(..));
            v.push(n);
            if stop {
                break;
            }
        }
        v
    }

    #[test]
    fn clusters_and_arguments() {
        assert_eq!(
            all("-Ln"),
            vec![Next::Opt(T::L, None), Next::Opt(T::N, None), Next::End]
        );
        assert_eq!(
            all("-Lt1.2.3.4:80"),
            vec![
                Next::Opt(T::L, None),
                Next::Opt(T::Tcp, Some("1.2.3.4:80".into())),
                Next::End
            ]
        );
        assert_eq!(
            all("-t=x"),
            vec![Next::Opt(T::Tcp, Some("x".into())), Next::End]
        );
        assert_eq!(
            all("-t -n"),
            vec![Next::Opt(T::Tcp, Some("-n".into())), Next::End]
        );
        assert_eq!(
            all("-p -n"),
            vec![Next::Opt(T::P, None), Next::Opt(T::N, None), Next::End]
        );
        assert_eq!(
            all("-p 30"),
            vec![Next::Opt(T::P, Some("30".into())), Next::End]
        );
        assert_eq!(
            all("--persistent=5"),
            vec![Next::Opt(T::P, Some("5".into())), Next::End]
        );
        assert_eq!(all("-t"), vec![Next::Error(PoptError::NoArg)]);
        assert_eq!(all("-L=n"), vec![Next::Error(PoptError::UnwantedArg)]);
        assert_eq!(
            all("--numeric=1"),
            vec![Next::Error(PoptError::UnwantedArg)]
        );
        assert_eq!(all("--tcp x"), vec![Next::Error(PoptError::BadOpt)]);
        assert_eq!(
            all("-Lq"),
            vec![Next::Opt(T::L, None), Next::Error(PoptError::BadOpt)]
        );
    }

    #[test]
    fn leftovers_and_bad_option() {
        let a = argv("foo -L -- -n bar");
        let mut c = Context::new(TABLE, &a);
        assert_eq!(c.next_opt(), Next::Opt(T::L, None));
        assert_eq!(c.bad_option(), "-L");
        assert_eq!(c.next_opt(), Next::End);
        assert_eq!(c.get_arg().as_deref(), Some("foo"));
        assert_eq!(c.get_arg().as_deref(), Some("-n"));
        assert_eq!(c.get_arg().as_deref(), Some("bar"));
        assert_eq!(c.get_arg(), None);
    }
}
