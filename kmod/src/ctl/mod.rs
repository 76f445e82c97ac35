//! The control path: generic netlink handlers and /proc files.

pub(crate) mod genl;
pub(crate) mod proc;
pub(crate) mod sockopt;
