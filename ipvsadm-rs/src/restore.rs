//! The line reader of `ipvsadm -R` (`config_stream_read()`): words are separated by blanks,
//! a line ends at `\n`, the word `ipvsadm` is dropped, and argv[0] is prepended. Its quirks
//! are kept: a `#` does not start a comment, and a last line that ends in blanks without a
//! newline is dropped.

/// MAX_LINE_LENGTH: longer words are split.
const MAX_WORD: usize = 4096;

pub struct Tokenizer<'a> {
    data: &'a [u8],
    pos: usize,
}

fn is_sep(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

impl<'a> Tokenizer<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Tokenizer { data, pos: 0 }
    }

    /// The next line as argv (argv[0] = `program`), or `None` at the end of input.
    pub fn next_line(&mut self, program: &str) -> Option<Vec<String>> {
        let mut words = vec![program.to_string()];
        let mut ntoken = 0;
        loop {
            if self.pos >= self.data.len() {
                // fscanf() returned EOF.
                return if ntoken == 0 { None } else { Some(words) };
            }
            let c = self.data[self.pos];
            if is_sep(c) {
                // The "%[^ \t\n\r]" conversion failed: skip blanks up to a newline.
                loop {
                    if self.pos >= self.data.len() {
                        return None;
                    }
                    let c = self.data[self.pos];
                    self.pos += 1;
                    match c {
                        b'\n' => return Some(words),
                        b'\t' | b'\r' | b' ' => {}
                        _ => {
                            self.pos -= 1;
                            break;
                        }
                    }
                }
                continue;
            }
            let start = self.pos;
            while self.pos < self.data.len()
                && !is_sep(self.data[self.pos])
                && self.pos - start < MAX_WORD
            {
                self.pos += 1;
            }
            let token = String::from_utf8_lossy(&self.data[start..self.pos]).into_owned();
            if token != "ipvsadm" {
                ntoken += 1;
                words.push(token);
            }
            // "%1[ \t\n\r]": one separator character.
            if self.pos < self.data.len() && is_sep(self.data[self.pos]) {
                let sep = self.data[self.pos];
                self.pos += 1;
                if sep == b'\n' {
                    return Some(words);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(s: &str) -> Vec<Vec<String>> {
        let mut t = Tokenizer::new(s.as_bytes());
        let mut v = Vec::new();
        while let Some(l) = t.next_line("P") {
            v.push(l);
        }
        v
    }

    fn w(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn splits_lines_and_words() {
        assert_eq!(
            lines("-A -t 1.1.1.1:80 -s rr\n\n  ipvsadm -a\t-t x  \r\n-C"),
            vec![
                w(&["P", "-A", "-t", "1.1.1.1:80", "-s", "rr"]),
                w(&["P"]),
                w(&["P", "-a", "-t", "x"]),
                w(&["P", "-C"]),
            ]
        );
    }

    #[test]
    fn quirks() {
        // '#' is an ordinary word.
        assert_eq!(lines("# x\n"), vec![w(&["P", "#", "x"])]);
        // A final line ending in blanks without newline is dropped.
        assert_eq!(lines("-C\n-Z  "), vec![w(&["P", "-C"])]);
        assert_eq!(lines(""), Vec::<Vec<String>>::new());
        assert_eq!(lines("\n"), vec![w(&["P"])]);
    }
}
