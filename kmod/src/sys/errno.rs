//! Errno values ip_vs returns that the kernel crate's `error::code` does not name.

use super::bindings as b;
use kernel::error::Error;

fn mk(e: u32) -> Error {
    Error::from_errno(-(e as i32))
}

pub(crate) fn eafnosupport() -> Error {
    mk(b::EAFNOSUPPORT)
}

pub(crate) fn enobufs() -> Error {
    mk(b::ENOBUFS)
}
