//! The SIP persistence engine's parse (`ip_vs_pe_sip.c`): the Call-ID of a SIP message, which
//! `--pe sip` services add to their persistence templates so that all datagrams of one call
//! reach one real server. Byte-for-byte the kernel's rules: `ct_sip_get_header` for
//! `SIP_HDR_CALL_ID` ("Call-Id" or compact "i", `callid_len`) and `get_callid`'s checks.

/// `IP_VS_PEDATA_MAXLEN`: longer Call-IDs are not used.
pub const PEDATA_MAXLEN: usize = 255;

fn is_alpha(c: u8) -> bool {
    c.is_ascii_alphabetic()
}

/// `iswordc`: the characters of a SIP "word" (RFC 3261).
fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(c, b'!' | b'"' | b'%' | b'(' ..= b'+' | b':' | b'<' | b'>' | b'?' | b'[' ..= b']')
        || matches!(c, b'_' | b'`' | b'{' | b'}' | b'~' | b'-'..=b'/' | b'\'')
}

fn word_len(d: &[u8], i: usize) -> usize {
    d[i.min(d.len())..]
        .iter()
        .take_while(|&&c| is_word(c))
        .count()
}

/// `callid_len`: word [ "@" word ].
fn callid_len(d: &[u8], i: usize) -> usize {
    let len = word_len(d, i);
    let j = i + len;
    if len == 0 || j >= d.len() || d[j] != b'@' {
        return len;
    }
    let domain = word_len(d, j + 1);
    if domain == 0 {
        return 0;
    }
    len + 1 + domain
}

/// `sip_follow_continuation`: from a line end at `i`, the start of the continuation line's
/// text, if the next line is one.
fn follow_continuation(d: &[u8], mut i: usize) -> Option<usize> {
    i += 1;
    if i >= d.len() {
        return None;
    }
    if d[i - 1] == b'\r' && d[i] == b'\n' {
        i += 1;
        if i >= d.len() {
            return None;
        }
    }
    if d[i] != b' ' && d[i] != b'\t' {
        return None;
    }
    while i < d.len() && (d[i] == b' ' || d[i] == b'\t') {
        i += 1;
    }
    Some(i)
}

/// `sip_skip_whitespace`: spaces, tabs and continuation lines.
fn skip_whitespace(d: &[u8], mut i: usize) -> Option<usize> {
    while i < d.len() {
        let c = d[i];
        if c == b' ' || c == b'\t' {
            i += 1;
            continue;
        }
        if c != b'\r' && c != b'\n' {
            break;
        }
        i = follow_continuation(d, i)?;
        break;
    }
    if i < d.len() {
        Some(i)
    } else {
        None
    }
}

/// `ct_sip_get_header`'s three outcomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Header {
    /// No (further) Call-ID header (0).
    None,
    /// A Call-ID header whose value is empty or malformed (-1); `next` is where the search
    /// goes on (`dataoff += matchoff`).
    Bad { next: usize },
    /// Its value: offset and length (1).
    Found { off: usize, len: usize },
}

/// `ct_sip_get_header(NULL, d, from, len, SIP_HDR_CALL_ID, ...)`.
fn get_header(d: &[u8], from: usize) -> Header {
    let limit = d.len();
    let mut i = from;
    while i < limit {
        // Find the beginning of a line.
        if d[i] != b'\r' && d[i] != b'\n' {
            i += 1;
            continue;
        }
        i += 1;
        if i >= limit {
            break;
        }
        if d[i - 1] == b'\r' && d[i] == b'\n' {
            i += 1;
            if i >= limit {
                break;
            }
        }
        // Continuation lines are skipped (the loop's dptr++ moves past their first byte).
        if d[i] == b' ' || d[i] == b'\t' {
            i += 1;
            continue;
        }
        // The header name; the compact one must not be followed by a letter.
        let rest = &d[i..];
        if rest.len() >= 7 && rest[..7].eq_ignore_ascii_case(b"Call-Id") {
            i += 7;
        } else if rest.len() >= 2 && rest[0].eq_ignore_ascii_case(&b'i') && !is_alpha(rest[1]) {
            i += 1;
        } else {
            i += 1;
            continue;
        }
        let Some(j) = skip_whitespace(d, i) else {
            break;
        };
        if d[j] != b':' || j + 1 >= limit {
            break;
        }
        let Some(j) = skip_whitespace(d, j + 1) else {
            break;
        };
        let len = callid_len(d, j);
        if len == 0 {
            return Header::Bad { next: j };
        }
        return Header::Found { off: j, len };
    }
    Header::None
}

/// `get_callid`: the Call-ID of a SIP message (a UDP payload) as (offset, length), or `None`
/// when it has none usable: absent, longer than `PEDATA_MAXLEN`, or not followed by a line
/// terminator.
pub fn call_id(d: &[u8]) -> Option<(usize, usize)> {
    let mut from = 0;
    let (off, len) = loop {
        match get_header(d, from) {
            Header::Found { off, len } => break (off, len),
            Header::None => return None,
            // The C code adds the match offset (from the data start) to dataoff.
            Header::Bad { next } => from += next,
        }
    };
    if len > PEDATA_MAXLEN || off + len == d.len() {
        return None;
    }
    if d[off + len] != b'\r' && d[off + len] != b'\n' {
        return None;
    }
    Some((off, len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::format;
    use std::vec::Vec;

    fn cid(d: &[u8]) -> Option<&[u8]> {
        call_id(d).map(|(o, l)| &d[o..o + l])
    }

    const INVITE: &[u8] = b"INVITE sip:bob@example.com SIP/2.0\r\n\
        Via: SIP/2.0/UDP 10.0.1.2:5060\r\n\
        From: <sip:alice@example.com>;tag=1\r\n\
        Call-ID: a84b4c76e66710@pc33.example.com\r\n\
        CSeq: 314159 INVITE\r\n\r\n";

    #[test]
    fn finds_call_id() {
        assert_eq!(cid(INVITE), Some(&b"a84b4c76e66710@pc33.example.com"[..]));
    }

    #[test]
    fn compact_form_and_case() {
        assert_eq!(
            cid(b"BYE sip:x SIP/2.0\r\ni: abc123\r\n\r\n"),
            Some(&b"abc123"[..])
        );
        assert_eq!(
            cid(b"BYE sip:x SIP/2.0\r\nCALL-ID:xyz\n\n"),
            Some(&b"xyz"[..])
        );
        // "i" followed by a letter is another header.
        assert_eq!(cid(b"BYE sip:x SIP/2.0\r\nIn-Reply-To: q\r\n\r\n"), None);
    }

    #[test]
    fn not_on_the_first_line() {
        // ct_sip_get_header only looks at lines after a line end.
        assert_eq!(cid(b"Call-ID: first\r\n\r\n"), None);
    }

    #[test]
    fn value_must_end_with_a_line_end() {
        assert_eq!(cid(b"X\r\nCall-ID: abc"), None);
        assert_eq!(cid(b"X\r\nCall-ID: abc;x\r\n"), None);
        assert_eq!(cid(b"X\r\nCall-ID: abc \r\n"), None);
    }

    #[test]
    fn continuation_lines() {
        assert_eq!(
            cid(b"X\r\nCall-ID:\r\n  folded@host\r\n\r\n"),
            Some(&b"folded@host"[..])
        );
        // A continuation line is never a header of its own.
        assert_eq!(cid(b"X\r\nSubject: a\r\n Call-ID: no\r\n\r\n"), None);
    }

    #[test]
    fn empty_value_then_a_good_header() {
        // An empty/malformed Call-ID does not stop the search.
        assert_eq!(
            cid(b"X\r\nCall-ID: @\r\nCall-ID: good\r\n\r\n"),
            Some(&b"good"[..])
        );
        assert_eq!(cid(b"X\r\nCall-ID: a@\r\n\r\n"), None);
    }

    #[test]
    fn length_limit() {
        let long = format!("X\r\nCall-ID: {}\r\n\r\n", "a".repeat(PEDATA_MAXLEN));
        assert_eq!(cid(long.as_bytes()).map(|v| v.len()), Some(PEDATA_MAXLEN));
        let longer = format!("X\r\nCall-ID: {}\r\n\r\n", "a".repeat(PEDATA_MAXLEN + 1));
        assert_eq!(cid(longer.as_bytes()), None);
    }

    proptest! {
        /// Any payload: no panic, and a Call-ID found is inside it, non-empty, made of word
        /// characters (and one '@'), and followed by CR or LF.
        #[test]
        fn never_panics(d in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Some((o, l)) = call_id(&d) {
                prop_assert!(l > 0 && l <= PEDATA_MAXLEN && o + l < d.len());
                prop_assert!(d[o..o + l].iter().all(|&c| is_word(c) || c == b'@'));
                prop_assert!(d[o + l] == b'\r' || d[o + l] == b'\n');
            }
        }

        /// A well-formed message gives back the Call-ID it carries.
        #[test]
        fn round_trip(id in "[A-Za-z0-9.!%*_+`'~-]{1,40}(@[A-Za-z0-9.-]{1,20})?", compact in any::<bool>()) {
            let name = if compact { "i" } else { "Call-ID" };
            let mut m = Vec::from(&b"OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/UDP h\r\n"[..]);
            m.extend_from_slice(format!("{}: {}\r\nCSeq: 1 OPTIONS\r\n\r\n", name, id).as_bytes());
            prop_assert_eq!(cid(&m), Some(id.as_bytes()));
        }
    }
}
