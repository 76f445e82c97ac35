//! The C library conversions ipvsadm relies on, reproduced exactly: `strtol`-based number
//! parsing, `inet_aton` (which accepts `10.1`, `0x7f.1`, octal parts and trailing blanks),
//! `atoi`, and name lookups through the C library's NSS (`gethostbyname`, `gethostbyaddr`,
//! `getservbyname`, `getservbyport`) so that `/etc/hosts`, `/etc/services` and DNS behave as
//! they do for ipvsadm.

use std::ffi::{CStr, CString};

use crate::model::{InetAddr, IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP};

fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

/// `strtol(s, &end, base)` for base 10 or 16 (base 0 handled by `inet_aton` separately).
/// Returns (value, bytes consumed, overflowed). Consumed is 0 when no digits were found.
fn strtol(s: &[u8], base: u32) -> (i64, usize, bool) {
    let mut i = 0;
    while i < s.len() && is_c_space(s[i]) {
        i += 1;
    }
    let mut neg = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        neg = s[i] == b'-';
        i += 1;
    }
    if base == 16 && i + 1 < s.len() && s[i] == b'0' && (s[i + 1] | 0x20) == b'x' {
        let digit_after = s.get(i + 2).map(|c| (*c as char).is_ascii_hexdigit());
        if digit_after == Some(true) {
            i += 2;
        }
    }
    let start = i;
    let mut val: i128 = 0;
    let mut overflow = false;
    while i < s.len() {
        let d = match (s[i] as char).to_digit(base) {
            Some(d) => d,
            None => break,
        };
        val = val * base as i128 + d as i128;
        if val > i64::MAX as i128 + 1 {
            overflow = true;
            val = i64::MAX as i128 + 1;
        }
        i += 1;
    }
    if i == start {
        return (0, 0, false);
    }
    let v = if neg { -val } else { val };
    if v > i64::MAX as i128 {
        return (i64::MAX, i, true);
    }
    if v < i64::MIN as i128 {
        return (i64::MIN, i, true);
    }
    (v as i64, i, overflow)
}

/// ipvsadm's `string_to_number()`: a whole-string base-10 `strtol` within `[min, max]`.
pub fn string_to_number(s: &str, min: i64, max: i64) -> Option<i64> {
    let (v, used, overflow) = strtol(s.as_bytes(), 10);
    if used == 0 || used != s.len() || overflow {
        return None;
    }
    if min <= v && v <= max {
        Some(v)
    } else {
        None
    }
}

/// ipvsadm's `parse_fwmark()` acceptance rule: `strtol` to the end, 0 < value <= UINT_MAX.
pub fn parse_fwmark(s: &str) -> Option<u32> {
    let (v, used, overflow) = strtol(s.as_bytes(), 10);
    if used == 0 || used != s.len() || overflow {
        return None;
    }
    let l = v as u64;
    if l == 0 || l > u32::MAX as u64 {
        return None;
    }
    Some(l as u32)
}

/// C `atoi()` (as `(int) strtol(s, NULL, 10)`).
pub fn atoi(s: &str) -> i32 {
    let (v, _, _) = strtol(s.as_bytes(), 10);
    v as i32
}

/// glibc `inet_aton()`: returns the address octets in network order.
pub fn inet_aton(s: &str) -> Option<[u8; 4]> {
    let b = s.as_bytes();
    let mut parts: [u32; 4] = [0; 4];
    let mut n = 0usize;
    let mut i = 0usize;
    loop {
        // Each part must start with a digit.
        if i >= b.len() || !b[i].is_ascii_digit() {
            return None;
        }
        let (base, mut j) = if b[i] == b'0' {
            if i + 1 < b.len() && (b[i + 1] | 0x20) == b'x' {
                (16u32, i + 2)
            } else {
                (8u32, i + 1)
            }
        } else {
            (10u32, i)
        };
        let mut val: u64 = 0;
        while j < b.len() {
            let c = b[j] as char;
            let d = match c.to_digit(16) {
                Some(d) if d < base => d,
                _ => break,
            };
            val = val * base as u64 + d as u64;
            if val > u32::MAX as u64 {
                return None;
            }
            j += 1;
        }
        i = j;
        if i < b.len() && b[i] == b'.' {
            if n >= 3 || val > 0xff {
                return None;
            }
            parts[n] = val as u32;
            n += 1;
            i += 1;
            continue;
        }
        parts[n] = val as u32;
        break;
    }
    // Trailing characters are only allowed after a blank.
    if i < b.len() && !(b[i].is_ascii() && is_c_space(b[i])) {
        return None;
    }
    let last = parts[n];
    let val: u32 = match n {
        0 => last,
        1 => {
            if last > 0x00ff_ffff {
                return None;
            }
            (parts[0] << 24) | last
        }
        2 => {
            if last > 0xffff {
                return None;
            }
            (parts[0] << 24) | (parts[1] << 16) | last
        }
        _ => {
            if last > 0xff {
                return None;
            }
            (parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | last
        }
    };
    Some(val.to_be_bytes())
}

/// `inet_pton(AF_INET6, ...)`.
pub fn inet_pton6(s: &str) -> Option<[u8; 16]> {
    let c = CString::new(s).ok()?;
    let mut out = [0u8; 16];
    // SAFETY: `out` is 16 writable bytes, `c` is NUL-terminated.
    let r = unsafe { inet_pton(libc::AF_INET6, c.as_ptr(), out.as_mut_ptr().cast()) };
    (r > 0).then_some(out)
}

/// `inet_pton(AF_INET, ...)` (strict dotted quad).
pub fn inet_pton4(s: &str) -> Option<[u8; 4]> {
    let c = CString::new(s).ok()?;
    let mut out = [0u8; 4];
    // SAFETY: `out` is 4 writable bytes, `c` is NUL-terminated.
    let r = unsafe { inet_pton(libc::AF_INET, c.as_ptr(), out.as_mut_ptr().cast()) };
    (r > 0).then_some(out)
}

#[repr(C)]
struct HostEnt {
    h_name: *mut libc::c_char,
    h_aliases: *mut *mut libc::c_char,
    h_addrtype: libc::c_int,
    h_length: libc::c_int,
    h_addr_list: *mut *mut libc::c_char,
}

#[repr(C)]
struct ServEnt {
    s_name: *mut libc::c_char,
    s_aliases: *mut *mut libc::c_char,
    s_port: libc::c_int,
    s_proto: *mut libc::c_char,
}

extern "C" {
    pub(crate) fn inet_pton(
        af: libc::c_int,
        src: *const libc::c_char,
        dst: *mut libc::c_void,
    ) -> libc::c_int;
    pub(crate) fn inet_ntop(
        af: libc::c_int,
        src: *const libc::c_void,
        dst: *mut libc::c_char,
        size: libc::socklen_t,
    ) -> *const libc::c_char;
    fn gethostbyname(name: *const libc::c_char) -> *mut HostEnt;
    fn gethostbyaddr(
        addr: *const libc::c_void,
        len: libc::socklen_t,
        ty: libc::c_int,
    ) -> *mut HostEnt;
    fn getservbyname(name: *const libc::c_char, proto: *const libc::c_char) -> *mut ServEnt;
    fn getservbyport(port: libc::c_int, proto: *const libc::c_char) -> *mut ServEnt;
}

/// gethostbyname/gethostbyaddr/getservbyname/getservbyport return pointers into one static
/// buffer per function: callers hold this lock from the call until they have copied the result,
/// so concurrent lookups (threads in tests, or any future caller) cannot overwrite it.
static NETDB: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn netdb_lock() -> std::sync::MutexGuard<'static, ()> {
    NETDB.lock().unwrap_or_else(|e| e.into_inner())
}

/// ipvsadm's `host_to_addr()`: `gethostbyname`, IPv4 results only, first address.
pub fn host_to_addr(name: &str) -> Option<[u8; 4]> {
    let c = CString::new(name).ok()?;
    let _netdb = netdb_lock();
    // SAFETY: gethostbyname returns NULL or a pointer to static storage valid until the next
    // call; we copy out of it immediately. The tool is single-threaded.
    unsafe {
        let h = gethostbyname(c.as_ptr());
        if h.is_null() {
            return None;
        }
        let h = &*h;
        if h.h_addrtype != libc::AF_INET || h.h_length != 4 || h.h_addr_list.is_null() {
            return None;
        }
        let first = *h.h_addr_list;
        if first.is_null() {
            return None;
        }
        let mut out = [0u8; 4];
        std::ptr::copy_nonoverlapping(first as *const u8, out.as_mut_ptr(), 4);
        Some(out)
    }
}

/// ipvsadm's `addr_to_host()`: reverse lookup through `gethostbyaddr`.
pub fn addr_to_host(af: u16, addr: &InetAddr) -> Option<String> {
    let len = if af == fvs_uapi::AF_INET6 { 16 } else { 4 };
    let _netdb = netdb_lock();
    // SAFETY: `addr` has at least `len` bytes; the result is copied out immediately.
    unsafe {
        let h = gethostbyaddr(addr.as_ptr().cast(), len, af as libc::c_int);
        if h.is_null() || (*h).h_name.is_null() {
            return None;
        }
        Some(CStr::from_ptr((*h).h_name).to_string_lossy().into_owned())
    }
}

fn proto_name(proto: u16) -> Option<&'static CStr> {
    match proto {
        IPPROTO_TCP => Some(c"tcp"),
        IPPROTO_UDP => Some(c"udp"),
        IPPROTO_SCTP => Some(c"sctp"),
        _ => None,
    }
}

/// ipvsadm's `service_to_port()`.
pub fn service_to_port(name: &str, proto: u16) -> Option<u16> {
    let p = proto_name(proto)?;
    let c = CString::new(name).ok()?;
    let _netdb = netdb_lock();
    // SAFETY: static result, copied before the netdb lock is released.
    unsafe {
        let s = getservbyname(c.as_ptr(), p.as_ptr());
        if s.is_null() {
            return None;
        }
        Some(u16::from_be((*s).s_port as u16))
    }
}

/// ipvsadm's `port_to_service()`.
pub fn port_to_service(port: u16, proto: u16) -> Option<String> {
    let p = proto_name(proto)?;
    let _netdb = netdb_lock();
    // SAFETY: static result, copied before the netdb lock is released.
    unsafe {
        let s = getservbyport(port.to_be() as libc::c_int, p.as_ptr());
        if s.is_null() || (*s).s_name.is_null() {
            return None;
        }
        Some(CStr::from_ptr((*s).s_name).to_string_lossy().into_owned())
    }
}

/// `strerror(errno)` from the C library, so unknown errors read exactly as ipvsadm prints them.
pub fn strerror(errno: i32) -> String {
    // SAFETY: strerror returns a valid NUL-terminated string (static or thread-local buffer).
    unsafe {
        CStr::from_ptr(libc::strerror(errno))
            .to_string_lossy()
            .into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_follow_strtol() {
        assert_eq!(string_to_number("65535", 0, 65535), Some(65535));
        assert_eq!(string_to_number("65536", 0, 65535), None);
        assert_eq!(string_to_number(" 7", 0, 10), Some(7));
        assert_eq!(string_to_number("+7", 0, 10), Some(7));
        assert_eq!(string_to_number("-0", 0, 10), Some(0));
        assert_eq!(string_to_number("7 ", 0, 10), None);
        assert_eq!(string_to_number("0x10", 0, 100), None);
        assert_eq!(string_to_number("", 0, 100), None);
        assert_eq!(string_to_number("-", 0, 100), None);
        assert_eq!(string_to_number("99999999999999999999", 0, i64::MAX), None);
        assert_eq!(atoi("64abc"), 64);
        assert_eq!(atoi("x"), 0);
    }

    #[test]
    fn fwmark_range() {
        assert_eq!(parse_fwmark("1"), Some(1));
        assert_eq!(parse_fwmark("4294967295"), Some(u32::MAX));
        assert_eq!(parse_fwmark("4294967296"), None);
        assert_eq!(parse_fwmark("0"), None);
        assert_eq!(parse_fwmark("-1"), None);
        assert_eq!(parse_fwmark("1x"), None);
    }

    #[test]
    fn inet_aton_forms() {
        assert_eq!(inet_aton("10.0.0.1"), Some([10, 0, 0, 1]));
        assert_eq!(inet_aton("10.1"), Some([10, 0, 0, 1]));
        assert_eq!(inet_aton("10.1.2"), Some([10, 1, 0, 2]));
        assert_eq!(inet_aton("167772161"), Some([10, 0, 0, 1]));
        assert_eq!(inet_aton("0x7f.1"), Some([127, 0, 0, 1]));
        assert_eq!(inet_aton("010.0.0.1"), Some([8, 0, 0, 1]));
        assert_eq!(inet_aton("255.255.255.0"), Some([255, 255, 255, 0]));
        assert_eq!(inet_aton("1.2.3.4 trailing"), Some([1, 2, 3, 4]));
        assert_eq!(inet_aton("1.2.3.4x"), None);
        assert_eq!(inet_aton("256.1.1.1"), None);
        assert_eq!(inet_aton("1.2.3.4.5"), None);
        assert_eq!(inet_aton("08.1.1.1"), None);
        assert_eq!(inet_aton(""), None);
        assert_eq!(inet_aton("a.b"), None);
        assert_eq!(inet_aton("1."), None);
    }
}
